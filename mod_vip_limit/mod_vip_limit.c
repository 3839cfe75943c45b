/*
 * mod_vip_limit.c - rate limits, calendar quotas and concurrency limits
 * for the vip access layer: the module record and its hooks.  The work is
 * done in:
 *   limit_config.c   VipLimitZone / VipLimit / VipLimitPlan / ... 
 *   limit_request.c  keys, decisions, notes, RateLimit fields, 429s
 *   limit_shm.c      each zone's shared memory across restarts
 *   limit_reap.c     concurrency slots of a dead child come back
 *   limit_holders.c  who holds which slot (pure)
 *   limit_cluster.c  the cluster store: memcached leases, degraded mode
 *   limit_lease.c    lease arithmetic, node-local lease state, keys (pure)
 *   limit_table.c    the lock-free table and the store interface (pure)
 *   limit_gcra.c     GCRA, quota and concurrency arithmetic (pure)
 *   limit_rate.c     the limit spec parser (pure)
 *
 * Three decision points, each as early as its key exists:
 *   post_read_request  server/vhost limits keyed by client IP, before any
 *                      authentication work (floods and brute force are
 *                      shed for the price of one table update)
 *   header_parser      <Location> limits keyed by client IP, still before
 *                      authentication (the location is known by then)
 *   fixups             everything keyed by tenant, subject, route or an
 *                      expression, and plan and route limits: after
 *                      check_authn set vip.tenant / vip.plan and after
 *                      mod_vip_route's fixups set vip.route for tables
 *                      with tenant or plan conditions
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "ap_mpm.h"
#include "apr_strings.h"

#include "mod_vip.h"
#include "vip_common.h"
#include "vip_problem.h"
#include "limit_cluster.h"
#include "limit_config.h"
#include "limit_reap.h"
#include "limit_request.h"
#include "limit_shm.h"

/* Declared first with default visibility: lib/ and this module are built
 * with -fvisibility=hidden and the module record is the one export. */
extern VIP_MODULE_EXPORT module AP_MODULE_DECLARE_DATA vip_limit_module;
APLOG_USE_MODULE(vip_limit);

/* store=cluster needs VipLimitCluster; `httpd -t` runs this hook. */
static int limit_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                              apr_pool_t *ptemp, server_rec *s)
{
    const vip_limit_srv_conf *conf = vip_limit_srv(s);

    if (!conf->zones) {
        return OK;
    }
    return vip_limit_cluster_check(s, conf->zones, conf->cluster);
}

static int limit_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp, server_rec *s)
{
    const vip_limit_srv_conf *conf = vip_limit_srv(s);

    /* The first of the two post_config passes at start-up only checks;
     * the segments are made once, in the pass that serves. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    if (!conf->zones || !apr_hash_count(conf->zones)) {
        return OK;
    }
    if (vip_limit_shm_setup(s, conf->zones) != APR_SUCCESS
        || vip_limit_reap_setup(s, conf->zones, pconf) != APR_SUCCESS
        /* after the reaper: cluster zones put their own store in front */
        || vip_limit_cluster_setup(s, pconf, conf->zones, conf->cluster)
           != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

static void limit_child_init(apr_pool_t *p, server_rec *s)
{
    vip_limit_cluster_child_init(p, s, vip_limit_srv(s)->cluster);
}

/* Internal redirects and subrequests belong to a request already
 * counted. */
static int initial(const request_rec *r)
{
    return !r->main && !r->prev;
}

static int limit_post_read(request_rec *r)
{
    const vip_limit_srv_conf *sc = vip_limit_srv(r->server);

    if (!initial(r) || !sc->rules->nelts) {
        return DECLINED;
    }
    return vip_limit_apply(r, sc->rules, VIP_LIMIT_PHASE_EARLY_SERVER, NULL);
}

static int limit_header_parser(request_rec *r)
{
    const vip_limit_srv_conf *sc = vip_limit_srv(r->server);
    const vip_limit_dir_conf *dc = vip_limit_dir(r);
    int rv;

    if (!initial(r)) {
        return DECLINED;
    }
    /* the location's rules first: a same-named server rule is then
     * already charged, so the location's replaces it */
    if ((rv = vip_limit_apply(r, dc->rules, VIP_LIMIT_PHASE_EARLY, NULL)) != OK
        || (!apr_hash_count(sc->deferred)
            && !apr_hash_count(sc->deferred_zones))) {
        return rv;
    }
    return vip_limit_apply(r, sc->rules, VIP_LIMIT_PHASE_EARLY_DEFERRED,
                           dc->off);
}

static int limit_fixups(request_rec *r)
{
    const vip_limit_srv_conf *sc = vip_limit_srv(r->server);
    const vip_limit_dir_conf *dc = vip_limit_dir(r);
    const char *plan, *route;
    int rv;

    if (!initial(r)) {
        return DECLINED;
    }
    /* the most specific first: a counter is charged once per request */
    if ((rv = vip_limit_apply(r, dc->rules, VIP_LIMIT_PHASE_LATE, NULL)) != OK
        || (rv = vip_limit_apply(r, sc->rules, VIP_LIMIT_PHASE_LATE, dc->off))
           != OK) {
        return rv;
    }
    /* only when there are such limits: notes share apr_table's key
     * checksum ("vip."), so each lookup compares against every vip note */
    if (apr_hash_count(sc->routes)
        && (route = apr_table_get(r->notes, VIP_NOTE_ROUTE))
        && (rv = vip_limit_apply(r, apr_hash_get(sc->routes, route,
                                                 APR_HASH_KEY_STRING),
                                 VIP_LIMIT_PHASE_LATE, NULL)) != OK) {
        return rv;
    }
    if (apr_hash_count(sc->plans)
        && (plan = apr_table_get(r->notes, VIP_NOTE_PLAN))
        && (rv = vip_limit_apply(r, apr_hash_get(sc->plans, plan,
                                                 APR_HASH_KEY_STRING),
                                 VIP_LIMIT_PHASE_LATE, NULL)) != OK) {
        return rv;
    }
    return DECLINED;
}

static void limit_insert_error_filter(request_rec *r)
{
    vip_problem_insert_filter(r);
}

static void vip_limit_register_hooks(apr_pool_t *p)
{
    static const char *const after_remoteip[] = { "mod_remoteip.c", NULL };
    static const char *const after_route[] = { "mod_vip_route.c", NULL };

    vip_problem_register("VIP_LIMIT_PROBLEM");
    ap_hook_check_config(limit_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(limit_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* libmemcached handles are made after fork, never shared */
    ap_hook_child_init(limit_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    /* After mod_remoteip (also FIRST) replaced useragent_ip with the
     * client behind a trusted proxy: never a raw X-Forwarded-For. */
    ap_hook_post_read_request(limit_post_read, after_remoteip, NULL,
                              APR_HOOK_FIRST);
    /* Runs after the location walk and before check_access/check_authn:
     * per-location IP limits still shed load before authentication. */
    ap_hook_header_parser(limit_header_parser, NULL, NULL, APR_HOOK_FIRST);
    /* After check_authn (fixups always are) and after mod_vip_route's
     * fixups, which route tables with tenant/plan conditions (FIRST);
     * before mod_proxy's fixup and the handler, so a refusal never
     * touches the upstream. */
    ap_hook_fixups(limit_fixups, after_route, NULL, APR_HOOK_FIRST);
    ap_hook_insert_error_filter(limit_insert_error_filter, NULL, NULL,
                                APR_HOOK_MIDDLE);
    /* Concurrency slots of a dead child: each child notes its pid, each
     * request where its thread's holder records are, and the parent gives
     * back what an exited child still held (limit_reap.c). */
    ap_hook_child_init(vip_limit_reap_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_create_request(vip_limit_reap_create_request, NULL, NULL,
                           APR_HOOK_MIDDLE);
    ap_hook_child_status(vip_limit_reap_child_status, NULL, NULL,
                         APR_HOOK_MIDDLE);
}

module AP_MODULE_DECLARE_DATA vip_limit_module = {
    STANDARD20_MODULE_STUFF,
    vip_limit_create_dir,
    vip_limit_merge_dir,
    vip_limit_create_srv,
    vip_limit_merge_srv,
    vip_limit_cmds,
    vip_limit_register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    AP_MODULE_FLAG_ALWAYS_MERGE
#endif
};
