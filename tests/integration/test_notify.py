"""serve speaks systemd's readiness protocol (Type=notify): with NOTIFY_SOCKET set, it
sends READY=1 once it answers requests (/healthz answers at once, with no retry, when
READY=1 has arrived) and STOPPING=1 when SIGTERM comes, then exits 0. The test holds
the datagram socket systemd would. A build without libsystemd never notifies: skipped."""
import os
import socket
import subprocess
import tempfile
import unittest

from harness import BIN, Serve, http


def linked_with_libsystemd():
    r = subprocess.run(["ldd", BIN], capture_output=True, text=True)
    return "libsystemd" in r.stdout


@unittest.skipUnless(linked_with_libsystemd(), "scimitar was built without libsystemd "
                     "(pkg-config found no libsystemd-dev): it does not notify")
class NotifyTest(unittest.TestCase):
    def test_ready_and_stopping(self):
        tmp = tempfile.TemporaryDirectory(prefix="scimitar-notify-")
        self.addCleanup(tmp.cleanup)
        path = os.path.join(tmp.name, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind(path)
        sock.settimeout(60)
        srv = Serve(env={"NOTIFY_SOCKET": path})  # its args; started here, not by start()
        self.addCleanup(srv.__exit__, None, None, None)
        srv.log = open(srv.log_path, "ab")
        srv.proc = subprocess.Popen([BIN] + srv.args, stdout=srv.log, stderr=srv.log,
                                    stdin=subprocess.DEVNULL, env=srv.env, cwd=srv.tmp.name)
        try:
            msg = sock.recv(4096).decode()
        except socket.timeout:
            self.fail("no READY=1 from serve:\n" + srv.output())
        self.assertEqual(msg.split("\n"), ["READY=1"], msg)
        status, body, _ = http("GET", srv.base + "/healthz")
        self.assertEqual(status, 200, body)
        srv.proc.terminate()
        self.assertEqual(sock.recv(4096).decode().split("\n"), ["STOPPING=1"])
        self.assertEqual(srv.proc.wait(timeout=60), 0, srv.output())


if __name__ == "__main__":
    unittest.main()
