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
#include "ap_mpm.h"
#include "apr_atomic.h"
#include "apr_shm.h"
#include "apr_strings.h"

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
                                           this node last counted itself in */
    volatile apr_uint32_t nodes_seen;   /* nodes=auto: nodes counted in the
                                           last complete period (0: none) */
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

/* nodes=N, or with nodes=auto the nodes that counted themselves in the
 * last complete heartbeat period (1 until one was seen). */
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
static const char *hb_key(char *buf, apr_size_t len, apr_uint64_t period)
{
    apr_snprintf(buf, len, "vip:1:hb:%" APR_UINT64_T_HEX_FMT, period);
    return buf;
}

/* nodes=auto: once per heartbeat period per node (not per child), the
 * first decision counts the node in that period's counter in memcached
 * (`incr`) and reads the previous period's, now complete (`incr` by 0):
 * two round trips a period, none on other requests.  A node counts
 * itself only while it decides something, so the count is of the nodes
 * taking traffic that needs the cluster. */
static void heartbeat(vip_limit_czone *cz, apr_uint64_t wall)
{
    apr_uint64_t period, last, now_count = 0, prev_count = 0;
    apr_uint32_t ttl = 3 * cz->cl->heartbeat_s + 10;
    char key[48];

    if (cz->cl->nodes || !store) {
        return;
    }
    period = wall / ((apr_uint64_t)cz->cl->heartbeat_s * VIP_NS_PER_SEC);
    last = apr_atomic_read64(&shared->hb_period);
    if (last == period
        || apr_atomic_cas64(&shared->hb_period, period, last) != last) {
        return;
    }
    apr_atomic_add64(&shared->calls, 2);
    if (vip_store_incr_by(store, NULL, hb_key(key, sizeof(key), period), 1,
                          ttl, &now_count) != APR_SUCCESS) {
        /* not counted this period: the next decision tries again */
        apr_atomic_cas64(&shared->hb_period, last, period);
        return;
    }
    if (vip_store_incr_by(store, NULL, hb_key(key, sizeof(key), period - 1),
                          0, ttl, &prev_count) != APR_SUCCESS) {
        prev_count = 0;
    }
    /* the previous period is complete; in the first one, what we have */
    if (prev_count < now_count) {
        prev_count = now_count;
    }
    if (prev_count > VIP_LEASE_MAX_NODES) {
        prev_count = VIP_LEASE_MAX_NODES;
    }
    if (apr_atomic_xchg32(&shared->nodes_seen, (apr_uint32_t)prev_count)
        != (apr_uint32_t)prev_count) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, cz->s, VIPLOGNO(04036)
                     "nodes=auto: %" APR_UINT64_T_FMT " node(s) share the "
                     "cluster limits (heartbeat period of %u s)",
                     prev_count, cz->cl->heartbeat_s);
    }
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

    heartbeat(cz, wall);
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
    heartbeat(cz, wall);
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
    rv = vip_store_create(p, &cl->store, threads, &shared->breaker, &store);
    if (rv != APR_SUCCESS) {
        store = NULL;
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, VIPLOGNO(04019)
                     "cannot create the memcached client: the cluster "
                     "zones decide on this node's share in this process");
    }
}
