/* Persistence of group provisioning ("groupsync" component): a rule's group provisioning
 * section (JSON text, validated by provision/groupsync.c), the links between a rule's
 * directory groups and the target's groups (target id, what was last sent, state, last
 * error), and the members each linked target group is recorded to hold (by the target
 * id of the member, with the directory user or group it stands for).
 *
 * The work items of groups travel in the sync outbox (store_sync.h) under the user id
 * "group:<group id>" (GROUPSYNC_ITEM_PREFIX), so they share its leases, renewals,
 * fencing and takeover. */
#ifndef SC_STORE_STORE_GROUPSYNC_H
#define SC_STORE_STORE_GROUPSYNC_H

#include "base/err.h"
#include "store/store.h"
#include "store/store_sync.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define GROUPSYNC_ITEM_PREFIX "group:"

/* Group link states. */
#define GROUPSYNC_STATE_PENDING "PENDING"
#define GROUPSYNC_STATE_SYNCED "SYNCED"
#define GROUPSYNC_STATE_FAILED "FAILED"
#define GROUPSYNC_STATE_BRAKED "BRAKED" /* member removals held by the brake */

/* A group's link for one rule. Strings owned (store_groupsync_link_clear). */
struct store_group_link {
    char rule_id[STORE_SYNC_ID_MAX];
    char group_id[STORE_SYNC_ID_MAX];
    char *name;      /* the directory group's name when last seen, for display */
    char *target_id; /* the target group's id, NULL when not linked */
    char *sent;      /* JSON object of the group attributes last sent, or NULL */
    char state[24];  /* GROUPSYNC_STATE_* */
    char *last_error;
    int64_t members; /* store_groupsync_link_each only: recorded members */
    int64_t updated_at;
};

/* Frees the strings of l (not l) and zeroes it. */
void store_groupsync_link_clear(struct store_group_link *l);

/* The rule's group provisioning section: *out new JSON text. SC_ERR_NOT_FOUND when none. */
enum sc_err store_groupsync_config_get(struct store *st, const char *rule_id, char **out);

/* Inserts or replaces it (json borrowed). */
enum sc_err store_groupsync_config_put(struct store *st, const char *rule_id, const char *json);

/* Reads (rule, group)'s link (strings new). SC_ERR_NOT_FOUND when none. */
enum sc_err store_groupsync_link_get(struct store *st, const char *rule_id, const char *group_id,
                                     struct store_group_link *out);

/* Inserts or replaces a link (values borrowed); updated_at is set to now. */
enum sc_err store_groupsync_link_put(struct store *st, const struct store_group_link *l);

/* Deletes (rule, group)'s link and its recorded members. */
enum sc_err store_groupsync_link_delete(struct store *st, const char *rule_id,
                                        const char *group_id);

/* Calls fn for every link of rule_id in group id order (borrowed during the call; members
 * counted). fn returns non-zero to stop (then SC_ERR_INTERNAL). fn must not use st. */
enum sc_err store_groupsync_link_each(struct store *st, const char *rule_id,
                                      int (*fn)(void *arg, const struct store_group_link *l),
                                      void *arg);

/* Calls fn for every member recorded on (rule, group)'s target group: the member's target
 * id, the directory id it stands for and its kind ("user" or "group"). fn must not use
 * st; non-zero stops (SC_ERR_INTERNAL). */
enum sc_err store_groupsync_members_each(struct store *st, const char *rule_id,
                                         const char *group_id,
                                         int (*fn)(void *arg, const char *target_member_id,
                                                   const char *member_id, const char *kind),
                                         void *arg);

/* Records that (rule, group)'s target group holds target_member_id (standing for
 * member_id of kind; replaces what was recorded for it). */
enum sc_err store_groupsync_member_put(struct store *st, const char *rule_id, const char *group_id,
                                       const char *target_member_id, const char *member_id,
                                       const char *kind);

/* Forgets that (rule, group)'s target group holds target_member_id. */
enum sc_err store_groupsync_member_delete(struct store *st, const char *rule_id,
                                          const char *group_id, const char *target_member_id);

/* Forgets every member recorded for (rule, group). */
enum sc_err store_groupsync_members_clear(struct store *st, const char *rule_id,
                                          const char *group_id);

/* Calls fn with each group of rule_id whose target group is recorded to hold member_id
 * (a directory user or group id). fn must not use st. */
enum sc_err store_groupsync_member_groups(struct store *st, const char *rule_id,
                                          const char *member_id,
                                          int (*fn)(void *arg, const char *group_id), void *arg);

/* The target account of (rule, user) when the rule provisions it now: *found = 1 with
 * the id in target (cap bytes) when the user's link has a target id and a state that
 * keeps the account (not DISABLED, DELETED or OUT_OF_SCOPE), else *found = 0. */
enum sc_err store_groupsync_user_target(struct store *st, const char *rule_id, const char *user_id,
                                        char *target, size_t cap, int *found);

/* A rule's group figures. */
struct store_groupsync_counts {
    int64_t groups;  /* group links (linked or not yet) */
    int64_t synced;  /* in state SYNCED */
    int64_t failed;  /* in state FAILED */
    int64_t braked;  /* in state BRAKED */
    int64_t members; /* memberships recorded on the target */
};
enum sc_err store_groupsync_counts(struct store *st, const char *rule_id,
                                   struct store_groupsync_counts *out);

/* Forgets a rule's group section, links and members (the rule was deleted). */
enum sc_err store_groupsync_forget(struct store *st, const char *rule_id);

#endif
