"""What the benchmark scripts of bench/ share: the machine they ran on, and recording a
section of figures in bench/README.md (replacing the section of the same title)."""
import os
import platform
import re


def machine():
    """ "2 CPUs (nproc), <model name>, <platform>" for the figures' heading."""
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return "%d CPUs (nproc), %s, %s" % (os.cpu_count(), model, platform.platform())


def record(path, title, text):
    """Prints text (which starts with "## <title>") and writes it into the README at path
    in place of the section of that title, or at its end."""
    print(text)
    old = open(path).read() if os.path.exists(path) else "# Benchmarks\n\n"
    m = re.search(r"^## %s\n.*?(?=^## |\Z)" % re.escape(title), old, flags=re.S | re.M)
    new = old[:m.start()] + text + "\n" + old[m.end():] if m else \
        old.rstrip("\n") + "\n\n" + text
    with open(path, "w") as f:
        f.write(new)
    print("recorded in", path)
