/*
 * limit_cluster.c - the cluster store of mod_vip_limit (see
 * limit_cluster.h; the arithmetic is in limit_lease.c).
 *
 * A decision first tries the node's leased tokens in the zone's table
 * (no memcached at all); only when they are gone does it `incr` the
 * window's counter by k (one round trip, atomic in memcached, so nodes
 * never race on a read-modify-write).  When memcached fails (refused,
 * timed out, or the breaker shared by all children is open after a
 * timeout) the decision is made on the node's local table against
 * limit / nodes, noted "degraded", counted, and logged once every
 * WARN_INTERVAL_S per node; the next call that succeeds returns the node
 * to cluster mode and says so once.  No request waits longer than one
 * poll timeout (timeout=), and only until the breaker opens.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_main.h"
#include "ap_mpm.h"
#include "apr_atomic.h"
#include "apr_shm.h"
#include "apr_strings.h"
#include "mod_watchdog.h"

#include "vip_common.h"
#include "vip_config.h"
#include "vip_store.h"
#include "limit_cluster.h"
#include "limit_lease.h"

APLOG_USE_MODULE(vip_limit);

#define WARN_INTERVAL_S 10

/* Shared by every child of the node (shared memory from post_config). */
typedef struct {
    vip_store_shared breaker;
    volatile apr_uint64_t cluster;      /* decisions in cluster mode */
    volatile apr_uint64_t calls;        /* memcached calls made */
    volatile apr_uint64_t degraded;     /* decisions on the node's share */
    volatile apr_uint32_t last_warn;    /* s, of the last VIP04015 */
    volatile apr_uint32_t down;         /* 1 while degraded */
    volatile apr_uint64_t hb_period;    /* nodes=auto: the heartbeat period
                                           the node last counted itself in */
    volatile apr_uint32_t nodes_seen;   /* nodes=auto: the nodes counted by
                                           the heartbeat (0: none yet) */
} cluster_shared;

struct vip_limit_czone {
    vip_limit_zone *zone;
    const vip_limit_cluster_conf *cl;
    server_rec *s;
};

static cluster_shared local_shared;
static cluster_shared *shared = &local_shared;
/* This child's client, made in child_init; NULL before (and when it
 * could not be made: every decision is then degraded). */
static vip_store *store;

/* Lease entries live in the zone's table under tags of their own. */
static apr_uint64_t lease_tag(apr_uint64_t tag, int kind)
{
    apr_uint64_t x = (tag ^ APR_UINT64_C(0x9e3779b97f4a7c15))
                     * APR_UINT64_C(0xff51afd7ed558ccd);

    x ^= x >> 29;
    return (x & ~APR_UINT64_C(3)) | (apr_uint64_t)kind;
}

/* Test hook (THREATS L7): VIP_LIMIT_TEST_CLOCK_SKEW_MS in httpd's
 * environment moves this node's wall clock, as a skewed node's would be;
 * read in child_init and logged (VIP04035).  0 otherwise. */
static apr_int64_t skew_ns;

static apr_uint64_t wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (apr_uint64_t)ts.tv_sec * VIP_NS_PER_SEC + (apr_uint64_t)ts.tv_nsec
           + (apr_uint64_t)skew_ns;
}

/* ---- how many nodes ---------------------------------------------------- */

/* nodes=N, or with nodes=auto the nodes the heartbeat counted (1 until
 * it counted any). */
static apr_uint32_t node_count(const vip_limit_czone *cz)
{
    apr_uint32_t n;

    if (cz->cl->nodes) {
        return cz->cl->nodes;
    }
    n = apr_atomic_read32(&shared->nodes_seen);
    return n ? n : 1;
}

/* The counter of the nodes of heartbeat period `period`. */
static const char *hb_key(apr_pool_t *p, apr_uint64_t period)
{
    return apr_psprintf(p, "vip:1:hb:%" APR_UINT64_T_HEX_FMT, period);
}

/* nodes=auto: a watchdog thread of one child per node (mod_watchdog's
 * singleton, compiled into httpd) counts the node once per heartbeat
 * period in that period's counter in memcached (`incr`) and reads the
 * two periods before (one multi-get): N is the most nodes counted in any
 * of the three.  From a watchdog, so that a node counts whether or not it
 * takes traffic and requests never pay these round trips; two complete
 * periods, so that a node whose watchdog step fell just past a period is
 * still counted.  A node that stops is counted two periods more: the
 * others' shares are the smaller for that while. */
static void heartbeat_step(const vip_limit_cluster_conf *cl, apr_pool_t *p)
{
    server_rec *s = ap_server_conf;
    apr_uint64_t period, n = 0;
    apr_uint32_t ttl = 4 * cl->heartbeat_s + 10;
    const char *keys[2];
    vip_store_value vals[2];
    int i;

    if (!store || vip_store_breaker_open(store)) {
        return;
    }
    period = wall_ns() / ((apr_uint64_t)cl->heartbeat_s * VIP_NS_PER_SEC);
    if (period == apr_atomic_read64(&shared->hb_period)) {
        return;
    }
    apr_atomic_add64(&shared->calls, 2);
    if (vip_store_incr_by(store, p, hb_key(p, period), 1, ttl, &n)
        != APR_SUCCESS) {
        return;                   /* not counted: the next step tries again */
    }
    apr_atomic_set64(&shared->hb_period, period);
    keys[0] = hb_key(p, period - 1);
    keys[1] = hb_key(p, period - 2);
    if (vip_store_mget(store, p, keys, 2, vals) == APR_SUCCESS) {
        for (i = 0; i < 2; i++) {
            apr_uint64_t c;
            if (vip_store_counter(&vals[i], &c) && c > n) {
                n = c;
            }
        }
    }
    if (n > VIP_LEASE_MAX_NODES) {
        n = VIP_LEASE_MAX_NODES;
    }
    if (apr_atomic_xchg32(&shared->nodes_seen, (apr_uint32_t)n)
        != (apr_uint32_t)n) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, VIPLOGNO(04036)
                     "nodes=auto: %" APR_UINT64_T_FMT " node(s) share the "
                     "cluster limits (heartbeat period of %u s)",
                     n, cl->heartbeat_s);
    }
}

/* The watchdog thread is not stopped when the child ends (mod_watchdog
 * ends it with the process): a child pool cleanup closes the heartbeat,
 * waiting for a step in flight, before the client is destroyed.
 * 0: idle, 1: a step is using the client, 2: closed. */
static volatile apr_uint32_t hb_state;

static apr_status_t heartbeat_close(void *data)
{
    int i;

    (void)data;
    /* a step is bounded by the client's timeouts: wait up to 2 s */
    for (i = 0; i < 2000 && apr_atomic_cas32(&hb_state, 2, 0) == 1; i++) {
        apr_sleep(1000);
    }
    apr_atomic_set32(&hb_state, 2);
    return APR_SUCCESS;
}

static apr_status_t heartbeat(int state, void *data, apr_pool_t *p)
{
    if (state == AP_WATCHDOG_STATE_RUNNING
        && apr_atomic_cas32(&hb_state, 1, 0) == 0) {
        heartbeat_step(data, p);
        apr_atomic_cas32(&hb_state, 0, 1);
    }
    return APR_SUCCESS;
}

/* post_config: the heartbeat's watchdog step, twice a heartbeat period
 * (at most every second). */
static apr_status_t heartbeat_register(server_rec *s, apr_pool_t *pconf,
                                       const vip_limit_cluster_conf *cl)
{
    APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) *get_instance;
    APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *register_callback;
    apr_interval_time_t every = apr_time_from_msec(500);
    ap_watchdog_t *wd;
    apr_status_t rv;

    get_instance = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    register_callback = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    if (!get_instance || !register_callback) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, VIPLOGNO(04037)
                     "VipLimitCluster nodes=auto needs mod_watchdog "
                     "(compiled into Debian's httpd; else LoadModule "
                     "watchdog_module) for its heartbeat");
        return APR_ENOTIMPL;
    }
    if (cl->heartbeat_s >= 2) {
        every = apr_time_from_sec(1);
    }
    if ((rv = get_instance(&wd, AP_WATCHDOG_SINGLETON, 0, 1, pconf))
            != APR_SUCCESS
        || (rv = register_callback(wd, every, cl, heartbeat)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, VIPLOGNO(04038)
                     "VipLimitCluster nodes=auto: cannot register the "
                     "heartbeat with mod_watchdog");
        return rv;
    }
    return APR_SUCCESS;
}

/* ---- mode changes ----------------------------------------------------- */

static void went_down(vip_limit_czone *cz)
{
    apr_uint32_t now = (apr_uint32_t)(wall_ns() / VIP_NS_PER_SEC);
    apr_uint32_t last = apr_atomic_read32(&shared->last_warn);

    apr_atomic_set32(&shared->down, 1);
    if (now - last >= WARN_INTERVAL_S
        && apr_atomic_cas32(&shared->last_warn, now, last) == last) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, cz->s, VIPLOGNO(04015)
                     "zone %s: memcached cannot be used (%s): limits are "
                     "enforced on this node's share (limit / %u nodes) "
                     "until it answers again; %" APR_UINT64_T_FMT
                     " degraded decisions so far", cz->zone->name,
                     vip_store_last_error(), node_count(cz),
                     apr_atomic_read64(&shared->degraded));
    }
}

static void came_back(vip_limit_czone *cz)
{
    if (apr_atomic_read32(&shared->down)
        && apr_atomic_cas32(&shared->down, 0, 1) == 1) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, cz->s, VIPLOGNO(04016)
                     "zone %s: memcached answers again: cluster mode "
                     "resumed after %" APR_UINT64_T_FMT " degraded "
                     "decisions", cz->zone->name,
                     apr_atomic_read64(&shared->degraded));
    }
}

static apr_status_t incr(vip_limit_czone *cz, const unsigned char *cid,
                         char kind, apr_uint64_t index, apr_uint64_t delta,
                         apr_uint32_t ttl, apr_uint64_t *value)
{
    char key[VIP_LEASE_KEY_LEN];
    apr_status_t rv;

    if (!store) {
        return APR_EGENERAL;
    }
    vip_lease_key(key, cid, kind, index);
    apr_atomic_inc64(&shared->calls);
    rv = vip_store_incr_by(store, NULL, key, delta, ttl, value);
    if (rv == APR_SUCCESS) {
        came_back(cz);
    }
    return rv;
}

/* ---- rates and quotas -------------------------------------------------- */

static int degraded_rate(vip_limit_czone *cz, const vip_limit_key *k,
                         const vip_gcra *g, const vip_quota *q,
                         apr_uint64_t now, vip_limit_result *res)
{
    int rv;

    went_down(cz);
    apr_atomic_inc64(&shared->degraded);
    if (g) {
        vip_gcra share;
        vip_lease_share_rate(&share, g, node_count(cz));
        rv = vip_limit_table_rate(cz->zone->table, k->tag, &share, now, res);
    }
    else {
        vip_quota share = *q;
        share.limit = vip_lease_share(q->limit, node_count(cz));
        rv = vip_limit_table_quota(cz->zone->table, k->tag, &share, now, res);
    }
    res->degraded = 1;
    return rv;
}

static int windowed(vip_limit_czone *cz, const vip_limit_key *k,
                    const vip_gcra *g, const vip_quota *q, apr_uint64_t now,
                    vip_limit_result *res)
{
    vip_lease_plan lp;
    vip_lease_view v;
    vip_limit_entry *e;
    apr_uint64_t wall = wall_ns(), value;
    char kind = g ? 'r' : 'q';

    if (g) {
        vip_lease_plan_rate(&lp, g, cz->cl->batch, node_count(cz));
    }
    else {
        vip_lease_plan_quota(&lp, q, cz->cl->batch, node_count(cz));
    }
    e = vip_limit_table_get(cz->zone->table,
                            lease_tag(k->tag, VIP_LIMIT_KIND_QUOTA), now);
    if (!e) {
        return VIP_LIMIT_NOSLOT;
    }
    switch (vip_lease_take(e, &lp, wall, now, &v, res)) {
    case VIP_LEASE_TAKEN:
    case VIP_LEASE_DENIED:
        apr_atomic_inc64(&shared->cluster);
        return VIP_LIMIT_OK;
    default:
        break;
    }
    if (vip_store_breaker_open(store)
        || incr(cz, k->cid, kind, v.win, v.want, lp.ttl_s, &value)
           != APR_SUCCESS) {
        return degraded_rate(cz, k, g, q, now, res);
    }
    vip_lease_merge(e, &lp, &v, value, wall, now, res);
    apr_atomic_inc64(&shared->cluster);
    return VIP_LIMIT_OK;
}

static int cluster_rate(void *ctx, const vip_limit_key *k, const vip_gcra *g,
                        apr_uint64_t now, vip_limit_result *res)
{
    return windowed(ctx, k, g, NULL, now, res);
}

static int cluster_quota(void *ctx, const vip_limit_key *k,
                         const vip_quota *q, apr_uint64_t now,
                         vip_limit_result *res)
{
    return windowed(ctx, k, NULL, q, now, res);
}

/* ---- concurrency --------------------------------------------------------- */

static int degraded_acquire(vip_limit_czone *cz, const vip_limit_key *k,
                            apr_uint32_t limit, apr_uint64_t now,
                            vip_limit_result *res, void **slot)
{
    vip_limit_entry *e = NULL;
    int rv;

    went_down(cz);
    apr_atomic_inc64(&shared->degraded);
    rv = vip_limit_table_acquire(cz->zone->table, k->tag,
                                 vip_lease_share(limit, node_count(cz)), now,
                                 res, &e);
    *slot = e;
    res->degraded = 1;
    return rv;
}

static int cluster_acquire(void *ctx, const vip_limit_key *k,
                           apr_uint32_t limit, apr_uint64_t now,
                           vip_limit_result *res, void **slot)
{
    vip_limit_czone *cz = ctx;
    apr_uint64_t epoch_ns = (apr_uint64_t)cz->cl->lease_s * VIP_NS_PER_SEC;
    apr_uint32_t ttl = 2 * cz->cl->lease_s + VIP_LEASE_TTL_MARGIN_S;
    apr_uint32_t kk = cz->cl->batch, nodes;
    apr_uint64_t wall = wall_ns(), value, granted = 0, next;
    vip_lease_view v;
    vip_limit_entry *e;
    int exh;

    *slot = NULL;
    nodes = node_count(cz);
    if (kk > limit / (2 * nodes)) {
        kk = limit / (2 * nodes);
    }
    if (!kk) {
        kk = 1;
    }
    e = vip_limit_table_get(cz->zone->table,
                            lease_tag(k->tag, VIP_LIMIT_KIND_CONC), now);
    if (!e) {
        return VIP_LIMIT_NOSLOT;
    }
    if (vip_lease_conc_take(e, wall / epoch_ns, kk, &v)
        == VIP_LEASE_TAKEN) {
        apr_atomic_inc64(&shared->cluster);
        res->allowed = 1;
        res->remaining = 0;
        res->reset_ns = res->retry_ns = 0;
        *slot = e;
        return VIP_LIMIT_OK;
    }
    if (vip_store_breaker_open(store)) {
        return degraded_acquire(cz, k, limit, now, res, slot);
    }
    if (v.want) {
        if (incr(cz, k->cid, 'c', v.win, v.want, ttl, &value)
            != APR_SUCCESS) {
            return degraded_acquire(cz, k, limit, now, res, slot);
        }
        granted = vip_lease_grant(value, v.want, limit, &exh);
        if (granted < v.want) {
            /* give back what is over the limit at once, or the counter
             * would refuse everyone until the epoch ends */
            char key[VIP_LEASE_KEY_LEN];
            vip_lease_key(key, k->cid, 'c', v.win);
            apr_atomic_inc64(&shared->calls);
            vip_store_decr_by(store, NULL, key, v.want - granted, &value);
        }
    }
    next = vip_lease_conc_next(&v, granted);
    if (next && incr(cz, k->cid, 'c', v.win + 1, next, ttl, &value)
                != APR_SUCCESS) {
        /* counted in this epoch; the next one learns of these slots when
         * this node registers again */
        went_down(cz);
    }
    vip_lease_conc_merge(e, &v, granted, res);
    apr_atomic_inc64(&shared->cluster);
    if (res->allowed) {
        *slot = e;
    }
    return VIP_LIMIT_OK;
}

static void cluster_release(void *ctx, void *slot)
{
    vip_limit_table_release(slot);
}

/* ---- life cycle ---------------------------------------------------------- */

int vip_limit_cluster_check(server_rec *s, apr_hash_t *zones,
                            const vip_limit_cluster_conf *cl)
{
    apr_hash_index_t *hi;

    for (hi = apr_hash_first(NULL, zones); hi; hi = apr_hash_next(hi)) {
        const vip_limit_zone *z = apr_hash_this_val(hi);
        if (z->cluster && !cl) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, NULL,
                         VIPLOGNO(04017) "VipLimitZone %s: store=cluster "
                         "needs VipLimitCluster host:port... nodes=N in the "
                         "main server", z->name);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return OK;
}

apr_status_t vip_limit_cluster_setup(server_rec *s, apr_pool_t *pconf,
                                     apr_hash_t *zones,
                                     const vip_limit_cluster_conf *cl)
{
    apr_hash_index_t *hi;
    apr_shm_t *shm;
    apr_status_t rv;

    if (!cl) {
        return APR_SUCCESS;
    }
    /* Anonymous, from pconf: inherited by the children, made again at
     * each restart (the breaker and counters start afresh; the leases
     * live in the zones' tables, which survive). */
    rv = apr_shm_create(&shm, sizeof(cluster_shared), NULL, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, VIPLOGNO(04018)
                     "cannot create the cluster store's shared memory");
        return rv;
    }
    shared = apr_shm_baseaddr_get(shm);
    memset(shared, 0, sizeof(*shared));
    if (!cl->nodes && (rv = heartbeat_register(s, pconf, cl)) != APR_SUCCESS) {
        return rv;
    }
    for (hi = apr_hash_first(NULL, zones); hi; hi = apr_hash_next(hi)) {
        vip_limit_zone *z = apr_hash_this_val(hi);
        vip_limit_czone *cz;
        if (!z->cluster || !z->table) {
            continue;
        }
        cz = apr_pcalloc(pconf, sizeof(*cz));
        cz->zone = z;
        cz->cl = cl;
        cz->s = s;
        z->czone = cz;
        z->store.ctx = cz;
        z->store.rate = cluster_rate;
        z->store.quota = cluster_quota;
        z->store.acquire = cluster_acquire;
        z->store.release = cluster_release;
    }
    return APR_SUCCESS;
}

void vip_limit_cluster_child_init(apr_pool_t *p, server_rec *s,
                                  const vip_limit_cluster_conf *cl)
{
    int threads = 1, skew_ms = 0;
    const char *skew;
    apr_status_t rv;

    if (!cl) {
        return;
    }
    if ((skew = getenv("VIP_LIMIT_TEST_CLOCK_SKEW_MS"))
        && vip_parse_int(skew, -3600000, 3600000, &skew_ms)) {
        skew_ns = (apr_int64_t)skew_ms * 1000000;
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, VIPLOGNO(04035)
                     "test hook: cluster windows use a wall clock %d ms "
                     "off (VIP_LIMIT_TEST_CLOCK_SKEW_MS)", skew_ms);
    }
    /* one handle per thread that may decide at once (as mod_vip_cache) */
    if (ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads) != APR_SUCCESS
        || threads < 1) {
        threads = 1;
    }
    /* and one for the nodes=auto heartbeat's watchdog thread */
    rv = vip_store_create(p, &cl->store, threads + !cl->nodes,
                          &shared->breaker, &store);
    if (rv == APR_SUCCESS && !cl->nodes) {
        /* registered after the client's own cleanup: runs before it */
        apr_pool_cleanup_register(p, NULL, heartbeat_close,
                                  apr_pool_cleanup_null);
    }
    if (rv != APR_SUCCESS) {
        store = NULL;
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, VIPLOGNO(04019)
                     "cannot create the memcached client: the cluster "
                     "zones decide on this node's share in this process");
    }
}
