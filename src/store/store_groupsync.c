/* The public groupsync functions (store_groupsync.h): each one indirect call through the
 * back-end's table, as store.c does for the other components. */
#include "store/backend.h"

#include <stdlib.h>
#include <string.h>

void store_groupsync_link_clear(struct store_group_link *l)
{
    if (!l)
        return;
    free(l->name);
    free(l->target_id);
    free(l->sent);
    free(l->last_error);
    memset(l, 0, sizeof *l);
}

enum sc_err store_groupsync_config_get(struct store *st, const char *rule_id, char **out)
{
    *out = NULL;
    return st->be->groupsync->config_get(st, rule_id, out);
}

enum sc_err store_groupsync_config_put(struct store *st, const char *rule_id, const char *json)
{
    return st->be->groupsync->config_put(st, rule_id, json);
}

enum sc_err store_groupsync_link_get(struct store *st, const char *rule_id, const char *group_id,
                                     struct store_group_link *out)
{
    return st->be->groupsync->link_get(st, rule_id, group_id, out);
}

enum sc_err store_groupsync_link_put(struct store *st, const struct store_group_link *l)
{
    return st->be->groupsync->link_put(st, l);
}

enum sc_err store_groupsync_link_delete(struct store *st, const char *rule_id, const char *group_id)
{
    return st->be->groupsync->link_delete(st, rule_id, group_id);
}

enum sc_err store_groupsync_link_each(struct store *st, const char *rule_id,
                                      int (*fn)(void *arg, const struct store_group_link *l),
                                      void *arg)
{
    return st->be->groupsync->link_each(st, rule_id, fn, arg);
}

enum sc_err store_groupsync_members_each(struct store *st, const char *rule_id,
                                         const char *group_id,
                                         int (*fn)(void *arg, const char *target_member_id,
                                                   const char *member_id, const char *kind),
                                         void *arg)
{
    return st->be->groupsync->members_each(st, rule_id, group_id, fn, arg);
}

enum sc_err store_groupsync_member_put(struct store *st, const char *rule_id, const char *group_id,
                                       const char *target_member_id, const char *member_id,
                                       const char *kind)
{
    return st->be->groupsync->member_put(st, rule_id, group_id, target_member_id, member_id, kind);
}

enum sc_err store_groupsync_member_delete(struct store *st, const char *rule_id,
                                          const char *group_id, const char *target_member_id)
{
    return st->be->groupsync->member_delete(st, rule_id, group_id, target_member_id);
}

enum sc_err store_groupsync_members_clear(struct store *st, const char *rule_id,
                                          const char *group_id)
{
    return st->be->groupsync->members_clear(st, rule_id, group_id);
}

enum sc_err store_groupsync_member_groups(struct store *st, const char *rule_id,
                                          const char *member_id,
                                          int (*fn)(void *arg, const char *group_id), void *arg)
{
    return st->be->groupsync->member_groups(st, rule_id, member_id, fn, arg);
}

enum sc_err store_groupsync_user_target(struct store *st, const char *rule_id, const char *user_id,
                                        char *target, size_t cap, int *found)
{
    return st->be->groupsync->user_target(st, rule_id, user_id, target, cap, found);
}

enum sc_err store_groupsync_counts(struct store *st, const char *rule_id,
                                   struct store_groupsync_counts *out)
{
    return st->be->groupsync->counts(st, rule_id, out);
}

enum sc_err store_groupsync_forget(struct store *st, const char *rule_id)
{
    return st->be->groupsync->forget(st, rule_id);
}
