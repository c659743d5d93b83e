/* The loader: a thread of the engine's with a store connection of its own that reads
 * what a leased job needs (the user, the link), evaluates and maps the user for the
 * rule and plans the first step (engine__job_load), so the engine thread only leases,
 * sends, handles answers and commits. The engine thread pushes the jobs of a lease
 * batch at once; the loader hands back what it took together (the writes of a batch
 * stay together for Bulk requests) and wakes the engine's poll (http_multi_wakeup). It
 * also frees the jobs the engine committed, after each hand-off, and checkpoints the
 * database's write-ahead log (SQLite) on its own connection, so the engine's commits
 * need not (store_sync_tune).
 *
 * Ownership: a job in the loader's queues (or being loaded) belongs to the loader; the
 * engine thread touches it again only after taking it from the done queue. Both queues
 * are guarded by mu. What the loader reads of a job's rule is read-only while the job
 * holds a reference to it (the rule's clears come from the job's own snapshot). Rules
 * whose filter tests group membership load on the engine thread, which holds the
 * directory's group snapshot. */
#include "base/clock.h"
#include "base/log.h"
#include "http/multi.h"
#include "provision/engine_internal.h"
#include "store/store.h"
#include "store/store_copy.h"
#include "store/store_sync.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define LOADER_CHECKPOINT_MS 100 /* the write-ahead log checkpointed after loads at most... */
#define LOADER_IDLE_MS 1000      /* ...and when idle this long */

struct engine_loader {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct store *st;
    struct provision_engine *eng;
    struct job *queued, *queued_tail; /* pushed by the engine thread */
    struct job *done, *done_tail;     /* loaded, for the engine thread */
    struct job *trash;                /* finished and committed: to free */
    int stop;
    int64_t checkpointed_at; /* mono ms */
};

/* Appends the chain head..tail to the queue *h / *t. */
static void queue_append(struct job **h, struct job **t, struct job *head, struct job *tail)
{
    if (*t)
        *engine__job_load_next(*t) = head;
    else
        *h = head;
    *t = tail;
}

static void release_all(struct job *chain)
{
    while (chain) {
        struct job *j = chain;
        chain = *engine__job_load_next(j);
        engine__job_release(j);
    }
}

/* Checkpoints the write-ahead log (SQLite) on the loader's connection when the last was
 * LOADER_CHECKPOINT_MS ago or more, so the engine's commits need not (store_sync_tune). */
static void checkpoint(struct engine_loader *l)
{
    int64_t now = sc_clock_mono_ms();
    if (now - l->checkpointed_at < LOADER_CHECKPOINT_MS)
        return;
    l->checkpointed_at = now;
    if (store_sync_checkpoint(l->st) != SC_OK)
        SC_DEBUG("engine.checkpoint_failed", "(the engine's commits checkpoint instead)");
}

static void *loader_main(void *arg)
{
    struct engine_loader *l = arg;
    pthread_setname_np(pthread_self(), "sc-loader"); /* (top, perf, /proc: its CPU apart) */
    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        if (!l->queued && !l->trash) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += LOADER_IDLE_MS / 1000;
            if (pthread_cond_timedwait(&l->cv, &l->mu, &ts) == ETIMEDOUT) {
                pthread_mutex_unlock(&l->mu);
                checkpoint(l);
                pthread_mutex_lock(&l->mu);
            }
            continue;
        }
        struct job *head = l->queued, *tail = l->queued_tail, *trash = l->trash;
        l->queued = l->queued_tail = l->trash = NULL;
        pthread_mutex_unlock(&l->mu);
        if (head) {
            /* One read transaction for the batch: its reads share one snapshot, taken
             * after the lease that gave the jobs (so it holds every result committed
             * before). */
            int tx = store_begin_snapshot(l->st) == SC_OK;
            for (struct job *j = head; j; j = *engine__job_load_next(j))
                engine__job_load(j, l->st, NULL);
            if (tx)
                store_rollback(l->st);
            pthread_mutex_lock(&l->mu);
            queue_append(&l->done, &l->done_tail, head, tail);
            pthread_mutex_unlock(&l->mu);
            http_multi_wakeup(l->eng->multi);
        }
        release_all(trash); /* after the hand-off: the engine sends first */
        checkpoint(l);
        pthread_mutex_lock(&l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

void engine__loader_start(struct provision_engine *eng, const char *dsn)
{
    struct engine_loader *l = calloc(1, sizeof *l);
    if (!l)
        return;
    struct sc_error e = {0};
    l->eng = eng;
    if (store_open(dsn, &l->st, &e) != SC_OK) {
        SC_WARN("engine.loader_unavailable", "error=\"%s\" (jobs are loaded on the engine thread)",
                e.message);
        free(l);
        return;
    }
    store_sync_tune(l->st);
    pthread_mutex_init(&l->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&l->thread, NULL, loader_main, l) != 0) {
        SC_WARN("engine.loader_unavailable", "error=\"cannot start a thread\" (jobs are loaded "
                                             "on the engine thread)");
        pthread_cond_destroy(&l->cv);
        pthread_mutex_destroy(&l->mu);
        store_close(l->st);
        free(l);
        return;
    }
    eng->loader = l;
}

void engine__loader_stop(struct provision_engine *eng)
{
    struct engine_loader *l = eng->loader;
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thread, NULL);
    release_all(l->trash);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    store_close(l->st);
    free(l);
    eng->loader = NULL;
}

int engine__loader_runs(const struct provision_engine *eng)
{
    return eng->loader != NULL;
}

/* Appends chain to one of the loader's queues (the trash has no tail: NULL) and wakes
 * the loader. */
static void loader_give(struct engine_loader *l, struct job **head, struct job **tail,
                        struct job *chain)
{
    struct job *last = chain;
    while (*engine__job_load_next(last))
        last = *engine__job_load_next(last);
    pthread_mutex_lock(&l->mu);
    if (tail) {
        queue_append(head, tail, chain, last);
    } else {
        *engine__job_load_next(last) = *head;
        *head = chain;
    }
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

void engine__loader_push(struct provision_engine *eng, struct job *chain)
{
    loader_give(eng->loader, &eng->loader->queued, &eng->loader->queued_tail, chain);
}

void engine__loader_trash(struct provision_engine *eng, struct job *chain)
{
    loader_give(eng->loader, &eng->loader->trash, NULL, chain);
}

int engine__loader_drain(struct provision_engine *eng)
{
    struct engine_loader *l = eng->loader;
    if (!l)
        return 0;
    pthread_mutex_lock(&l->mu);
    struct job *list = l->done;
    l->done = l->done_tail = NULL;
    pthread_mutex_unlock(&l->mu);
    int n = 0;
    while (list) {
        struct job *j = list;
        list = *engine__job_load_next(j);
        *engine__job_load_next(j) = NULL;
        engine__job_loaded(j);
        n++;
    }
    return n;
}
