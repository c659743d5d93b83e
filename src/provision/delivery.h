/* Delivery policy, without I/O: how a SCIM call's outcome is classified, when a failed
 * call is tried again (exponential back-off with jitter, Retry-After honoured), how
 * fast a connection may be called (a token bucket for maxRequestsPerSecond), and when
 * a connection whose calls mostly fail is put in quarantine and taken out again. The
 * engine owns one struct of each per connection and feeds them the clock. */
#ifndef SC_PROVISION_DELIVERY_H
#define SC_PROVISION_DELIVERY_H

#include <stdint.h>

/* Back-off bounds (ms). */
#define DELIVERY_BACKOFF_BASE_MS 500
#define DELIVERY_BACKOFF_MAX_MS 30000
#define DELIVERY_QUARANTINE_MIN_MS 5000  /* a quarantined connection is retried no sooner */
#define DELIVERY_QUARANTINE_MAX_MS 60000 /* and no later than this */
#define DELIVERY_RETRY_AFTER_MAX_MS 300000

enum delivery_class {
    DELIVERY_OK = 0,    /* 2xx */
    DELIVERY_RETRY,     /* no response, 5xx, 429, 408: try again later */
    DELIVERY_AUTH,      /* 401 / 403: credentials; try again later (they may be fixed) */
    DELIVERY_PERMANENT, /* another 4xx: this request will not succeed as it is */
};

/* Classifies an HTTP status (0 = no response). */
enum delivery_class delivery_classify(long status);

/* Returns the delay before attempt number `attempt` (1 = the first retry) with jitter:
 * base * 2^(attempt-1), capped, then scaled by a factor in [0.75, 1.25) drawn from
 * rnd (any 32-bit random value). Quarantined connections wait at least
 * DELIVERY_QUARANTINE_MIN_MS and at most DELIVERY_QUARANTINE_MAX_MS. */
int64_t delivery_backoff_ms(int attempt, int quarantined, uint32_t rnd);

/* Parses a Retry-After value (delay-seconds or an HTTP-date) into a delay in ms from
 * now_ms, capped at DELIVERY_RETRY_AFTER_MAX_MS. Returns -1 when absent or malformed. */
int64_t delivery_retry_after_ms(const char *value, int64_t now_ms);

/* A token bucket: rate tokens per second, burst of max(1, rate) tokens. rate 0 = no
 * limit. */
struct delivery_bucket {
    double rate;
    double tokens;
    int64_t last_ms;
};

/* Initialises b for rate per second (0 = unlimited), full. */
void delivery_bucket_init(struct delivery_bucket *b, double rate, int64_t now_ms);

/* Takes one token: returns 0 when taken, else the ms to wait until one is available
 * (nothing taken). */
int64_t delivery_bucket_take(struct delivery_bucket *b, int64_t now_ms);

/* Connection health over a sliding window of recent calls. */
#define DELIVERY_HEALTH_WINDOW 20
#define DELIVERY_HEALTH_MIN_CALLS 8 /* calls needed before judging */
#define DELIVERY_HEALTH_FAIL_RATIO 0.8

struct delivery_health {
    unsigned char outcome[DELIVERY_HEALTH_WINDOW]; /* 1 = failed */
    int count, next, failures;
    int quarantined;
};

/* Records one call (failed or not). Returns +1 when the connection has just been put
 * in quarantine (at least DELIVERY_HEALTH_MIN_CALLS recorded and the failure share of
 * the window reaches DELIVERY_HEALTH_FAIL_RATIO), -1 when it has just left it (a
 * success while quarantined: the window restarts), 0 otherwise. */
int delivery_health_record(struct delivery_health *h, int failed);

#endif
