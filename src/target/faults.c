/* Fault injection for resilience tests (`--faults`): a spec of comma-separated items
 *   429=0.1        answer 429 Too Many Requests (with Retry-After) to 10% of requests
 *   500=0.05       answer 500 (any status 400-599 may be given)
 *   timeout=0.01   hang 1% of requests (no answer until `hang` passes, then 503)
 *   latency=5ms    add 5 ms to every request (units ms or s; a bare number is ms)
 *   hang=30s       how long a hung request hangs (default 60s)
 *   retry-after=2  the Retry-After seconds sent with 429 and 503 (default 1)
 * Probabilities are in [0, 1] and add up to at most 1. Parsing is strict: an unknown
 * item, a bad number or a duplicate is refused with a message naming the item. */
#include "target/target_internal.h"
#include "base/buf.h"

#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define FAULT_ITEM_MAX 64

static int parse_prob(const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v) || v < 0.0 || v > 1.0)
        return -1;
    *out = v;
    return 0;
}

/* Parses "5ms", "2s", "250" (ms) into milliseconds within [0, max_ms]. */
static int parse_duration(const char *s, int64_t max_ms, int64_t *out)
{
    char num[32];
    size_t n = strspn(s, "0123456789");
    if (n == 0 || n >= sizeof num)
        return -1;
    memcpy(num, s, n);
    num[n] = '\0';
    int64_t v;
    if (sc_parse_int64(num, 0, max_ms, &v))
        return -1;
    const char *unit = s + n;
    if (*unit == '\0' || strcmp(unit, "ms") == 0)
        ;
    else if (strcmp(unit, "s") == 0)
        v *= 1000;
    else
        return -1;
    if (v > max_ms)
        return -1;
    *out = v;
    return 0;
}

enum sc_err target_faults_parse(const char *spec, struct target_faults *f, struct sc_error *e)
{
    memset(f, 0, sizeof *f);
    f->hang_ms = 60000;
    f->retry_after_s = 1;
    if (!spec || !*spec)
        return SC_OK;
    if (strlen(spec) > 1024)
        return sc_error_set(e, SC_ERR_INVALID, "faults", "--faults is longer than 1024 characters");
    int seen_timeout = 0, seen_latency = 0, seen_hang = 0, seen_retry = 0;
    double total = 0.0;
    const char *p = spec;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[FAULT_ITEM_MAX];
        if (len == 0 || len >= sizeof item)
            return sc_error_set(e, SC_ERR_INVALID, "faults",
                                "--faults has an empty or overlong item near '%.20s'", p);
        memcpy(item, p, len);
        item[len] = '\0';
        char *eq = strchr(item, '=');
        if (!eq || eq == item || !eq[1])
            return sc_error_set(e, SC_ERR_INVALID, "faults",
                                "--faults item '%s' is not KEY=VALUE (e.g. 429=0.1, latency=5ms)",
                                item);
        *eq = '\0';
        const char *key = item, *val = eq + 1;
        if (strspn(key, "0123456789") == strlen(key)) {
            int64_t status;
            double prob;
            if (sc_parse_int64(key, 400, 599, &status))
                return sc_error_set(e, SC_ERR_INVALID, "faults",
                                    "--faults status '%s' must be an HTTP status from 400 to 599",
                                    key);
            if (parse_prob(val, &prob))
                return sc_error_set(e, SC_ERR_INVALID, "faults",
                                    "--faults %s=%s: the probability must be a number from 0 to 1",
                                    key, val);
            for (int i = 0; i < f->nstatuses; i++)
                if (f->statuses[i].status == (int)status)
                    return sc_error_set(e, SC_ERR_INVALID, "faults",
                                        "--faults gives status %s twice", key);
            if (f->nstatuses == TARGET_MAX_FAULT_STATUSES)
                return sc_error_set(e, SC_ERR_INVALID, "faults",
                                    "--faults accepts at most %d statuses",
                                    TARGET_MAX_FAULT_STATUSES);
            f->statuses[f->nstatuses].status = (int)status;
            f->statuses[f->nstatuses].p = prob;
            f->nstatuses++;
            total += prob;
        } else if (strcmp(key, "timeout") == 0) {
            if (seen_timeout++ || parse_prob(val, &f->timeout_p))
                return sc_error_set(e, SC_ERR_INVALID, "faults",
                                    "--faults timeout=%s: give it once, a probability from 0 to 1",
                                    val);
            total += f->timeout_p;
        } else if (strcmp(key, "latency") == 0) {
            if (seen_latency++ || parse_duration(val, 60000, &f->latency_ms))
                return sc_error_set(e, SC_ERR_INVALID, "faults",
                                    "--faults latency=%s: give it once, a duration up to 60s "
                                    "such as 5ms or 1s",
                                    val);
        } else if (strcmp(key, "hang") == 0) {
            if (seen_hang++ || parse_duration(val, 3600000, &f->hang_ms) || f->hang_ms == 0)
                return sc_error_set(e, SC_ERR_INVALID, "faults",
                                    "--faults hang=%s: give it once, a duration from 1ms to 3600s",
                                    val);
        } else if (strcmp(key, "retry-after") == 0) {
            int64_t s;
            if (seen_retry++ || sc_parse_int64(val, 0, 86400, &s))
                return sc_error_set(e, SC_ERR_INVALID, "faults",
                                    "--faults retry-after=%s: give it once, whole seconds "
                                    "from 0 to 86400",
                                    val);
            f->retry_after_s = (int)s;
        } else {
            return sc_error_set(e, SC_ERR_INVALID, "faults",
                                "--faults has an unknown item '%s' (known: a status 400-599, "
                                "timeout, latency, hang, retry-after)",
                                key);
        }
        if (!comma)
            break;
        p = comma + 1;
        if (!*p)
            return sc_error_set(e, SC_ERR_INVALID, "faults", "--faults ends with a comma");
    }
    if (total > 1.0 + 1e-9)
        return sc_error_set(e, SC_ERR_INVALID, "faults",
                            "--faults probabilities add up to %.3f; they must not exceed 1", total);
    f->enabled = f->nstatuses > 0 || f->timeout_p > 0.0 || f->latency_ms > 0;
    return SC_OK;
}

int target_faults_pick(const struct target_faults *f)
{
    if (!f->enabled || (f->nstatuses == 0 && f->timeout_p <= 0.0))
        return 0;
    /* a uniform double in [0, 1) from 53 random bits */
    uint64_t bits;
    randombytes_buf(&bits, sizeof bits);
    double u = (double)(bits >> 11) / 9007199254740992.0;
    double acc = 0.0;
    for (int i = 0; i < f->nstatuses; i++) {
        acc += f->statuses[i].p;
        if (u < acc)
            return f->statuses[i].status;
    }
    acc += f->timeout_p;
    if (u < acc)
        return -1;
    return 0;
}
