/* Delivery policy (see delivery.h): classification, back-off, Retry-After, token
 * bucket, quarantine. Pure functions of their inputs. */
#include "provision/delivery.h"
#include "base/buf.h"

#include <ctype.h>
#include <string.h>
#include <time.h>

enum delivery_class delivery_classify(long status)
{
    if (status >= 200 && status < 300)
        return DELIVERY_OK;
    if (status == 0 || status == 408 || status == 429 || status >= 500)
        return DELIVERY_RETRY;
    if (status == 401 || status == 403)
        return DELIVERY_AUTH;
    return DELIVERY_PERMANENT;
}

int64_t delivery_backoff_ms(int attempt, int quarantined, uint32_t rnd)
{
    if (attempt < 1)
        attempt = 1;
    int64_t d = DELIVERY_BACKOFF_BASE_MS;
    for (int i = 1; i < attempt && d < DELIVERY_BACKOFF_MAX_MS; i++)
        d *= 2;
    if (d > DELIVERY_BACKOFF_MAX_MS)
        d = DELIVERY_BACKOFF_MAX_MS;
    /* jitter: a factor in [0.75, 1.25) */
    double f = 0.75 + 0.5 * ((double)rnd / 4294967296.0);
    d = (int64_t)((double)d * f);
    if (quarantined) {
        if (d < DELIVERY_QUARANTINE_MIN_MS)
            d = DELIVERY_QUARANTINE_MIN_MS;
        if (d > DELIVERY_QUARANTINE_MAX_MS)
            d = DELIVERY_QUARANTINE_MAX_MS;
    }
    return d;
}

static int month_index(const char *m)
{
    static const char *const names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (int i = 0; i < 12; i++)
        if (sc_strncaseeq(m, names[i], 3))
            return i;
    return -1;
}

int64_t delivery_retry_after_ms(const char *value, int64_t now_ms)
{
    if (!value)
        return -1;
    while (*value == ' ')
        value++;
    if (!*value)
        return -1;
    int64_t ms;
    if (isdigit((unsigned char)*value)) {
        int64_t s;
        if (sc_parse_int64(value, 0, 86400 * 365, &s))
            return -1;
        ms = s * 1000;
    } else {
        /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
        const char *p = strchr(value, ',');
        if (!p)
            return -1;
        p++;
        int day, year, hh, mm, ss;
        char mon[4] = {0};
        if (strlen(p) < 21)
            return -1;
        char buf[32];
        sc_strlcpy(buf, p, sizeof buf);
        /* " 06 Nov 1994 08:49:37 GMT" */
        if (buf[0] != ' ' || buf[3] != ' ' || buf[7] != ' ' || buf[12] != ' ' || buf[15] != ':' ||
            buf[18] != ':')
            return -1;
        day = (buf[1] - '0') * 10 + (buf[2] - '0');
        memcpy(mon, buf + 4, 3);
        year =
            (buf[8] - '0') * 1000 + (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
        hh = (buf[13] - '0') * 10 + (buf[14] - '0');
        mm = (buf[16] - '0') * 10 + (buf[17] - '0');
        ss = (buf[19] - '0') * 10 + (buf[20] - '0');
        int mi = month_index(mon);
        if (mi < 0 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 || year < 1970)
            return -1;
        struct tm tm = {0};
        tm.tm_year = year - 1900;
        tm.tm_mon = mi;
        tm.tm_mday = day;
        tm.tm_hour = hh;
        tm.tm_min = mm;
        tm.tm_sec = ss;
        time_t t = timegm(&tm);
        ms = (int64_t)t * 1000 - now_ms;
        if (ms < 0)
            ms = 0;
    }
    if (ms > DELIVERY_RETRY_AFTER_MAX_MS)
        ms = DELIVERY_RETRY_AFTER_MAX_MS;
    return ms;
}

void delivery_bucket_init(struct delivery_bucket *b, double rate, int64_t now_ms)
{
    b->rate = rate > 0 ? rate : 0;
    b->tokens = rate > 1 ? rate : 1;
    b->last_ms = now_ms;
}

int64_t delivery_bucket_take(struct delivery_bucket *b, int64_t now_ms)
{
    if (b->rate <= 0)
        return 0;
    double burst = b->rate > 1 ? b->rate : 1;
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * b->rate / 1000.0;
        if (b->tokens > burst)
            b->tokens = burst;
        b->last_ms = now_ms;
    }
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return 0;
    }
    int64_t wait = (int64_t)((1.0 - b->tokens) * 1000.0 / b->rate) + 1;
    return wait > 0 ? wait : 1;
}

int delivery_health_record(struct delivery_health *h, int failed)
{
    failed = failed ? 1 : 0;
    if (h->quarantined && !failed) {
        memset(h, 0, sizeof *h);
        h->outcome[0] = 0;
        h->count = 1;
        h->next = 1;
        return -1;
    }
    if (h->count == DELIVERY_HEALTH_WINDOW)
        h->failures -= h->outcome[h->next];
    else
        h->count++;
    h->outcome[h->next] = (unsigned char)failed;
    h->failures += failed;
    h->next = (h->next + 1) % DELIVERY_HEALTH_WINDOW;
    if (!h->quarantined && h->count >= DELIVERY_HEALTH_MIN_CALLS &&
        (double)h->failures >= DELIVERY_HEALTH_FAIL_RATIO * (double)h->count) {
        h->quarantined = 1;
        return 1;
    }
    return 0;
}
