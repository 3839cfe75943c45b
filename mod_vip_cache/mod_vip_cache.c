/*
 * mod_vip_cache.c - page cache for the vip access layer: the module
 * record, its hooks, the per-child memcached stores and the counters.
 * The work is done in:
 *   cache_config.c   directives
 *   cache_request.c  key preparation, lookup handler, save filter
 *   lib/vip_store.c  the memcached store (libmemcached + pool)
 *   cache_key.c, cache_entry.c, cache_policy.c   pure engines
 */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "ap_mpm.h"
#include "apr_atomic.h"
#include "apr_hash.h"
#include "apr_shm.h"
#include "apr_strings.h"

#include <json-c/json.h>

#include "mod_vip.h"
#include "vip_common.h"
#include "vip_crypto.h"
#include "vip_problem.h"
#include "cache_config.h"
#include "cache_gen.h"
#include "cache_esi_filter.h"
#include "cache_esi_hint.h"
#include "cache_request.h"

/* Declared first with default visibility: lib/ and this module are built
 * with -fvisibility=hidden and the module record is the one export. */
extern VIP_MODULE_EXPORT module AP_MODULE_DECLARE_DATA vip_cache_module;
APLOG_USE_MODULE(vip_cache);

/* The counters: shared memory made in post_config (inherited by the
 * children), or this process's own memory when that failed. */
static vip_cache_counters local_counters;
static vip_cache_counters *counters = &local_counters;

/* This child's stores, one per distinct VipCacheServers line, keyed by
 * its server array; built in child_init, read-only afterwards. */
static apr_hash_t *stores;

/* Sections with VipCache On, checked against VipCacheServers. */
static apr_array_header_t *enabled_in;

/* Seconds of the last store warning of this process (rate limit). */
static volatile apr_uint32_t last_warn;

vip_cache_counters *vip_cache_counters_get(void)
{
    return counters;
}

vip_store *vip_cache_store_for(const server_rec *s)
{
    const vip_cache_srv_conf *c = vip_cache_srv(s);

    if (!stores || !c->store_set) {
        return NULL;
    }
    return apr_hash_get(stores, &c->store.servers, sizeof(void *));
}

void vip_cache_store_warn(request_rec *r, const char *what)
{
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(apr_time_now());
    apr_uint32_t last = apr_atomic_read32(&last_warn);

    /* One line per process every 10 s; the counters have the rest. */
    if (now - last >= 10 && apr_atomic_cas32(&last_warn, now, last) == last) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, VIPLOGNO(03001)
                      "memcached %s failed (%s): cache bypassed, requests "
                      "go to the upstream", what, vip_store_last_error());
    }
}

static int cache_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp)
{
    enabled_in = apr_array_make(pconf, 4, sizeof(server_rec *));
    return OK;
}

/* VipCache On needs servers; `httpd -t` runs this hook. */
static int cache_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                              apr_pool_t *ptemp, server_rec *s)
{
    if (enabled_in->nelts) {
        int i;
        for (i = 0; i < enabled_in->nelts; i++) {
            server_rec *es = APR_ARRAY_IDX(enabled_in, i, server_rec *);
            if (!vip_cache_srv(es)->store_set) {
                ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, NULL,
                             VIPLOGNO(03002) "VipCache On is used in %s "
                             "(%s:%d) but no VipCacheServers applies there: "
                             "add VipCacheServers host:port to the server "
                             "or virtual host", es->defn_name
                             ? es->defn_name : "the main server",
                             es->defn_name ? es->defn_name : "",
                             es->defn_line_number);
                return HTTP_INTERNAL_SERVER_ERROR;
            }
        }
    }
    return OK;
}

static int cache_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp, server_rec *s)
{
    apr_shm_t *shm;
    apr_status_t rv;

    if ((rv = vip_crypto_init(pconf)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, VIPLOGNO(03004)
                     "libcrypto has no SHA-256: cache keys cannot be made");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* The first of the two post_config passes only checks. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    /* Anonymous shared memory: inherited by the children, gone with
     * pconf at the next restart (the counters start again from 0). */
    rv = apr_shm_create(&shm, sizeof(vip_cache_counters), NULL, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, VIPLOGNO(03005)
                     "cannot create the cache counters in shared memory; "
                     "each child counts for itself");
        memset(&local_counters, 0, sizeof(local_counters));
        counters = &local_counters;
        return OK;
    }
    counters = apr_shm_baseaddr_get(shm);
    memset(counters, 0, sizeof(*counters));
    return OK;
}

static void cache_child_init(apr_pool_t *p, server_rec *s)
{
    int threads = 1;

    /* Each handle serves one thread at a time: as many as the MPM runs
     * threads per child (mod_socache_memcache sizes its pool alike). */
    if (ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads) != APR_SUCCESS
        || threads < 1) {
        threads = 1;
    }
    stores = apr_hash_make(p);
    vip_esi_hint_init(p);
    if (vip_gen_hint_init(p) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, VIPLOGNO(03007)
                     "cannot create the tag hint: tagged entries cost a "
                     "second memcached round trip");
    }
    for (; s; s = s->next) {
        const vip_cache_srv_conf *c = vip_cache_srv(s);
        vip_store *st;
        apr_status_t rv;
        if (!c->store_set
            || apr_hash_get(stores, &c->store.servers, sizeof(void *))) {
            continue;
        }
        rv = vip_store_create(p, &c->store, threads, &counters->breaker, &st);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, VIPLOGNO(03006)
                         "cannot create the memcached client: the cache is "
                         "bypassed in this process");
            continue;
        }
        /* The key is the address of the conf's array field, stable for
         * the life of the configuration. */
        apr_hash_set(stores, &c->store.servers, sizeof(void *), st);
    }
}

/* SetHandler vip-cache-status: the counters as JSON. */
static int status_handler(request_rec *r)
{
    json_object *o;
    vip_cache_counters *c = counters;

    if (!r->handler || strcmp(r->handler, "vip-cache-status") != 0) {
        return DECLINED;
    }
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    o = json_object_new_object();
#define ADD(name, f) json_object_object_add(o, name, \
        json_object_new_int64((int64_t)apr_atomic_read64(&c->f)))
    ADD("hits", hits);
    ADD("misses", misses);
    ADD("stores", stores);
    ADD("stale", stale);
    ADD("store_errors", store_errors);
    ADD("bypasses", bypasses);
    ADD("uncacheable", uncacheable);
    ADD("corrupt", corrupt);
    ADD("memcached_round_trips", breaker.round_trips);
#undef ADD
    vip_esi_status_add(o);
    json_object_object_add(o, "memcached_timeouts",
        json_object_new_int64(apr_atomic_read32(&c->breaker.timeouts)));
    json_object_object_add(o, "memcached_unreachable",
        json_object_new_int64(apr_atomic_read32(&c->breaker.unreachable)));
    ap_set_content_type(r, "application/json");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!r->header_only) {
        ap_rputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), r);
        ap_rputs("\n", r);
    }
    json_object_put(o);
    return OK;
}

const char *vip_cache_note_enabled(cmd_parms *cmd)
{
    if (enabled_in) {
        APR_ARRAY_PUSH(enabled_in, server_rec *) = cmd->server;
    }
    return NULL;
}

static void vip_cache_register_hooks(apr_pool_t *p)
{
    static const char *const before_proxy[] = { "mod_proxy.c", NULL };
    static const char *const before_route[] = { "mod_vip_route.c", NULL };
    static const char *const after_route[] = { "mod_vip_route.c", NULL };

    ap_hook_pre_config(cache_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(cache_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(cache_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(cache_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    /* Fixups run after check_authn/check_authz, so the tenant is known;
     * before mod_proxy's fixup, which copies r->args into the upstream
     * URL, so the upstream gets the canonical query the key holds; after
     * mod_vip_route's, which picks routes with tenant/plan conditions
     * there: the route and service are part of the key. */
    ap_hook_fixups(vip_cache_fixups, after_route, before_proxy, APR_HOOK_FIRST);
    /* The lookup is a handler, never a quick_handler: quick handlers run
     * before authentication, and no client may get a cached page without
     * passing it.  Before mod_proxy's handler (also APR_HOOK_FIRST),
     * which would otherwise take every proxied request. */
    ap_hook_handler(vip_cache_handler, NULL, before_proxy, APR_HOOK_FIRST);
    ap_hook_handler(status_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(vip_cache_purge_handler, NULL, NULL, APR_HOOK_MIDDLE);
    vip_problem_register("VIP_CACHE_PROBLEM");
    /* Before mod_vip_route's: a failure answered from a stale page is no
     * longer an error by the time route makes its problem documents. */
    ap_hook_insert_error_filter(vip_cache_insert_error_filter, NULL,
                                before_route, APR_HOOK_FIRST);
    ap_register_output_filter(VIP_CACHE_STALE_FILTER, vip_cache_stale_filter,
                              NULL, AP_FTYPE_RESOURCE - 1);
    /* Just above the resource filters: the save filter sees the body as
     * the upstream sent it, before any later content filter (ESI, SSI,
     * compression) rewrites it, so a page is stored with its markup. */
    ap_register_output_filter(VIP_CACHE_SAVE_FILTER, vip_cache_save_filter,
                              NULL, AP_FTYPE_RESOURCE - 1);
    vip_esi_register(p);
}

module AP_MODULE_DECLARE_DATA vip_cache_module = {
    STANDARD20_MODULE_STUFF,
    vip_cache_create_dir,
    vip_cache_merge_dir,
    vip_cache_create_srv,
    vip_cache_merge_srv,
    vip_cache_cmds,
    vip_cache_register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    AP_MODULE_FLAG_ALWAYS_MERGE
#endif
};
