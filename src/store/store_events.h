/* Change events: the transactional outbox between the directory (and configuration)
 * writers and the provisioning engine. Every write to the directory appends an event in
 * the same transaction, so the engine can never miss a change, even across a crash.
 * Events are numbered by a strictly increasing sequence; consumers keep their own
 * cursor (the last sequence they have fully handled). */
#ifndef SC_STORE_EVENTS_H
#define SC_STORE_EVENTS_H

#include "base/err.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

/* Kinds used so far (free text in the store; these are the ones the engine knows):
 *   user.created user.updated user.deleted         object = user id
 *   group.created group.updated group.deleted      object = group id
 *   group.members                                  object = group id
 *   population.updated population.deleted          object = population id
 *   connection.changed                             object = connection id
 *   rule.changed rule.resync                       object = rule id */
struct store_event {
    int64_t seq;
    char kind[32];
    char object_id[64];
    char *detail;       /* JSON text or NULL (owned by the array) */
    int64_t created_at; /* ms since the epoch */
};

/* Appends an event. Call inside the transaction that makes the change it records.
 * detail may be NULL. Errors: SC_ERR_DB. */
enum sc_err store_event_append(struct store *st, const char *kind, const char *object_id,
                               const char *detail);

/* Reads up to limit events with seq > after, in order. *out is a new array of *n
 * events (free with store_events_free), possibly empty (*out NULL, *n 0). */
enum sc_err store_events_after(struct store *st, int64_t after, size_t limit,
                               struct store_event **out, size_t *n);

/* Frees an array from store_events_after. NULL is a no-op. */
void store_events_free(struct store_event *ev, size_t n);

/* The highest sequence written so far (0 when none). */
enum sc_err store_events_last_seq(struct store *st, int64_t *seq);

/* Deletes events with seq <= upto (after every consumer has passed them). */
enum sc_err store_events_prune(struct store *st, int64_t upto);

#endif
