/* Time: wall clock in milliseconds since the epoch, a monotonic clock for timeouts
 * and latency, and ISO-8601 formatting and parsing (UTC, millisecond precision). */
#ifndef SC_BASE_CLOCK_H
#define SC_BASE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Wall-clock milliseconds since 1970-01-01T00:00:00Z. */
int64_t sc_clock_now_ms(void);

/* Monotonic milliseconds (for intervals only). */
int64_t sc_clock_mono_ms(void);

/* Monotonic nanoseconds (for latency measurements). */
int64_t sc_clock_mono_ns(void);

/* Writes ms as "2026-11-29T10:00:00.123Z" into out (n >= 25). Returns out. */
const char *sc_clock_format_iso8601(int64_t ms, char *out, size_t n);

/* Parses an RFC 3339 date-time ("2026-11-29T10:00:00Z", fractional seconds and
 * +hh:mm offsets allowed) into ms. Returns 0 on success, -1 when malformed. */
int sc_clock_parse_iso8601(const char *s, int64_t *ms);

/* Sleeps for ms milliseconds (restarting on signals). */
void sc_clock_sleep_ms(int64_t ms);

#endif
