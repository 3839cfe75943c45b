/*
 * limit_reap.c - giving back the concurrency slots of a dead child.
 *
 * Why records and the parent, not leases: a lease (a slot that expires
 * unless refreshed) needs a bound on how long a request may hold a slot,
 * and a refresh from every long request (a download, a WebSocket, a slow
 * upstream) - either a timer per request or a slot wrongly freed under a
 * request still running.  httpd's parent already knows, exactly and at
 * once, when a child has ended: the child_status hook (MPM_CHILD_EXITED,
 * with the pid, for prefork, worker and event).  So each slot taken is
 * written, lock-free, into a record owned by the process, and the parent
 * gives back what an ended process still owned.  A slot then comes back
 * within the MPM's maintenance interval (about a second) of the death,
 * whatever the length of the requests, and never under a live one.
 *
 * The records are one segment from the process pool, like the zones'
 * tables (limit_shm.c): a graceful restart keeps it, so children of the
 * old generation that die later are still reaped.  Its size is fixed at
 * the first start from ServerLimit x ThreadLimit (which httpd does not
 * change on a restart either).
 */
#include <unistd.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "ap_mpm.h"
#include "scoreboard.h"
#include "apr_hash.h"
#include "apr_shm.h"

#include "vip_common.h"
#include "limit_config.h"
#include "limit_holders.h"
#include "limit_reap.h"
#include "limit_shm.h"

APLOG_USE_MODULE(vip_limit);

#define HOLDERS_KEY "vip_limit_holders"
#define UNTRACKED_LOG_INTERVAL (60 * VIP_NS_PER_SEC)

/* Set in the parent's post_config (every generation: the module may have
 * been reloaded), inherited by the children forked after it. */
static vip_limit_holders *holders;
static server_rec *main_server;
/* the process id the records carry: set in child_init */
static apr_uint64_t my_pid;
/* 1 + the first record this thread tries (its scoreboard worker index
 * times PER_THREAD): threads rarely meet on a record */
static __thread apr_uint32_t thread_hint;

static apr_status_t holders_segment(server_rec *s)
{
    apr_pool_t *pp = s->process->pool;
    void *data = NULL;
    apr_shm_t *shm;
    int daemons = 0, threads = 0;
    apr_uint64_t n;
    apr_size_t size;
    apr_status_t rv;

    apr_pool_userdata_get(&data, HOLDERS_KEY, pp);
    if ((shm = data)
        && (holders = vip_limit_holders_attach(apr_shm_baseaddr_get(shm),
                                               apr_shm_size_get(shm)))) {
        return APR_SUCCESS;
    }
    if (ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &daemons) != APR_SUCCESS
        || daemons < 1) {
        daemons = 1;
    }
    if (ap_mpm_query(AP_MPMQ_HARD_LIMIT_THREADS, &threads) != APR_SUCCESS
        || threads < 1) {
        threads = 1;
    }
    n = (apr_uint64_t)daemons * (apr_uint64_t)threads
        * VIP_LIMIT_HOLDERS_PER_THREAD;
    if (n > VIP_LIMIT_HOLDERS_MAX) {
        n = VIP_LIMIT_HOLDERS_MAX;
    }
    size = vip_limit_holders_size((apr_uint32_t)n);
    shm = NULL;
    if ((rv = apr_shm_create(&shm, size, NULL, pp)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, VIPLOGNO(04034)
                     "cannot create %" APR_SIZE_T_FMT " bytes of shared "
                     "memory for the concurrency slot holders; lower "
                     "ServerLimit or ThreadLimit", size);
        return rv;
    }
    holders = vip_limit_holders_init(apr_shm_baseaddr_get(shm), size,
                                     (apr_uint32_t)n);
    apr_pool_userdata_set(shm, HOLDERS_KEY, apr_pool_cleanup_null, pp);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, VIPLOGNO(04032)
                 "%u concurrency slot holder records (ServerLimit %d x "
                 "ThreadLimit %d x %d, %" APR_SIZE_T_FMT " bytes)",
                 vip_limit_holders_records(holders), daemons, threads,
                 VIP_LIMIT_HOLDERS_PER_THREAD, size);
    return APR_SUCCESS;
}

/* ---- the zones' stores: the table, with every slot recorded ------------ */

static apr_uint64_t owner(void)
{
    return my_pid ? my_pid : (apr_uint64_t)getpid();
}

static int held_rate(void *ctx, const vip_limit_key *k, const vip_gcra *g,
                     apr_uint64_t now, vip_limit_result *res)
{
    return vip_limit_table_rate(ctx, k->tag, g, now, res);
}

static int held_quota(void *ctx, const vip_limit_key *k, const vip_quota *q,
                      apr_uint64_t now, vip_limit_result *res)
{
    return vip_limit_table_quota(ctx, k->tag, q, now, res);
}

static int held_acquire(void *ctx, const vip_limit_key *k, apr_uint32_t limit,
                        apr_uint64_t now, vip_limit_result *res, void **slot)
{
    apr_uint64_t tag = k->tag;
    apr_uint64_t me = owner();
    apr_uint32_t hint = thread_hint ? thread_hint - 1
                                    : (apr_uint32_t)(me * 2654435761u);
    int untracked;
    int rv = vip_limit_holders_acquire(holders, ctx, tag, limit, now, me,
                                       hint, res, slot, &untracked);

    if (untracked && vip_limit_holders_should_log(holders, now,
                                                  UNTRACKED_LOG_INTERVAL)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, main_server,
                     VIPLOGNO(04031) "no free concurrency slot holder "
                     "record near this thread's (%u records; %"
                     APR_UINT64_T_FMT " slots untracked so far): such a "
                     "slot is given back when its request ends, but not if "
                     "its child process dies first",
                     vip_limit_holders_records(holders),
                     vip_limit_holders_untracked(holders));
    }
    return rv;
}

static void held_release(void *ctx, void *slot)
{
    (void)ctx;
    vip_limit_holders_release(holders, slot);
}

apr_status_t vip_limit_reap_setup(server_rec *s, apr_hash_t *zones,
                                  apr_pool_t *pconf)
{
    apr_hash_index_t *hi;
    apr_status_t rv;

    main_server = s;
    if ((rv = holders_segment(s)) != APR_SUCCESS) {
        return rv;
    }
    for (hi = apr_hash_first(pconf, zones); hi; hi = apr_hash_next(hi)) {
        vip_limit_zone *z = apr_hash_this_val(hi);
        if (!z->table) {
            continue;
        }
        z->store.ctx = z->table;
        z->store.rate = held_rate;
        z->store.quota = held_quota;
        z->store.acquire = held_acquire;
        z->store.release = held_release;
    }
    return APR_SUCCESS;
}

void vip_limit_reap_child_init(apr_pool_t *p, server_rec *s)
{
    (void)p;
    (void)s;
    my_pid = (apr_uint64_t)getpid();
}

int vip_limit_reap_create_request(request_rec *r)
{
    worker_score *ws;

    /* a worker thread keeps its scoreboard slot: once per thread */
    if (thread_hint) {
        return DECLINED;
    }
    if (holders && r->connection->sbh
        && (ws = ap_get_scoreboard_worker(r->connection->sbh))) {
        thread_hint = (apr_uint32_t)ws->thread_num
                      * VIP_LIMIT_HOLDERS_PER_THREAD + 1;
    }
    return DECLINED;
}

/* ---- the parent ------------------------------------------------------- */

static int entry_mapped(void *baton, const void *e)
{
    return vip_limit_shm_mapped(baton, e);
}

void vip_limit_reap_child_status(server_rec *s, pid_t pid,
                                 ap_generation_t gen, int slot,
                                 mpm_child_status state)
{
    apr_uint32_t given, stale;

    /* MPM_CHILD_LOST_SLOT: still running, its EXITED comes later */
    if (state != MPM_CHILD_EXITED || !holders || pid <= 0) {
        return;
    }
    given = vip_limit_holders_reap(holders, (apr_uint64_t)pid, entry_mapped,
                                   s, &stale);
    if (given) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, VIPLOGNO(04030)
                     "child pid %" APR_PID_T_FMT " (generation %d, slot %d) "
                     "ended with %u concurrency slot(s) still held: given "
                     "back", pid, gen, slot, given);
    }
    if (stale) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, VIPLOGNO(04033)
                     "child pid %" APR_PID_T_FMT " ended holding %u "
                     "concurrency slot(s) of zones no longer in memory "
                     "(dropped or resized): nothing to give back", pid,
                     stale);
    }
}
