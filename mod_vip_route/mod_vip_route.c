/*
 * mod_vip_route.c - service routing for the vip access layer: the module
 * record and its hooks.  The work is done in:
 *   route_config.c   VipRouteService / VipRoute / VipRouteScope
 *   route_request.c  path normalisation, matching, balancer choice
 *   route_table.c    the route table (pure)
 *   route_path.c     the path normaliser (pure)
 * The transport is mod_proxy_http through balancers the configuration
 * declares, so pooled connections, failover and member cool-down are
 * mod_proxy_balancer's.
 */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"
#include "apr_strings.h"

#include "mod_vip.h"
#include "vip_common.h"
#include "vip_headers.h"
#include "vip_problem.h"
#include "route_config.h"
#include "route_request.h"
#include "route_proxy.h"

/* Declared first with default visibility: lib/ and this module are built
 * with -fvisibility=hidden and the module record is the one export. */
extern VIP_MODULE_EXPORT module AP_MODULE_DECLARE_DATA vip_route_module;
APLOG_USE_MODULE(vip_route);

#define RESPONSE_FILTER "VIP_ROUTE_RESPONSE"

static int no_route(request_rec *r)
{
    return vip_problem(r, HTTP_NOT_FOUND, "no-route", "No route",
                       "No service answers this method and path.");
}

static int route_translate(request_rec *r)
{
    const vip_route_srv_conf *conf = vip_route_srv(r->server);
    int rv;

    if (!conf->nroutes || r->proxyreq) {
        return DECLINED;
    }
    if (!r->main && !r->prev) {
        vip_route_request_id(r);
    }
    /* Tables with tenant or plan conditions route after authentication. */
    if (conf->uses_identity) {
        return DECLINED;
    }
    rv = vip_route_request(r, conf, 0);
    /* "No route" waits for fixups: a caller that fails authentication
     * there gets its 401 and learns nothing about the route table. */
    return rv == HTTP_NOT_FOUND ? DECLINED : rv;
}

static int route_fixups(request_rec *r)
{
    const vip_route_srv_conf *conf = vip_route_srv(r->server);
    int rv;

    const char *result = apr_table_get(r->notes, VIP_NOTE_ROUTE_RESULT);

    if (!conf->nroutes) {
        return DECLINED;
    }
    if (result && strcmp(result, "no_route") == 0) {
        return no_route(r);
    }
    if (!conf->uses_identity
        || (r->proxyreq && !apr_table_get(r->notes, VIP_NOTE_ROUTE))) {
        return DECLINED;
    }
    rv = vip_route_request(r, conf, 1);
    if (rv == HTTP_NOT_FOUND) {
        return no_route(r);
    }
    return rv == OK ? DECLINED : rv;
}

/* Upstreams cannot speak for the access layer: reserved headers in a
 * response never reach the client (nor trigger anything here).  A member
 * that answered without an HTTP/1.x status line (mod_proxy_http relays
 * that as an HTTP/0.9 body with 200) gets the client a 502 instead: an
 * error bucket makes the HTTP header filter answer with ap_die, before
 * any byte of it went out; the rest of it is dropped. */
static apr_status_t response_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    const apr_array_header_t *arr = apr_table_elts(r->headers_out);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    vip_route_ctx *ctx = vip_route_ctx_get(r);
    int i;

    if (f->ctx) {
        apr_brigade_cleanup(bb);
        return AP_FILTER_ERROR;
    }
    if (ctx && ctx->bad_status && r->status == HTTP_OK) {
        apr_brigade_cleanup(bb);
        APR_BRIGADE_INSERT_TAIL(bb, ap_bucket_error_create(HTTP_BAD_GATEWAY,
                                    NULL, r->pool, f->c->bucket_alloc));
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(f->c->bucket_alloc));
        f->ctx = f;
        ap_pass_brigade(f->next, bb);
        return AP_FILTER_ERROR;
    }

    /* Collected first: apr_table_unset compacts the array. */
    for (i = arr->nelts - 1; i >= 0; i--) {
        if (e[i].key && vip_header_reserved(e[i].key)) {
            apr_table_unset(r->headers_out, e[i].key);
        }
    }
    /* The id in effect is in err_headers_out; an upstream's own would
     * make a second, different one. */
    apr_table_unset(r->headers_out, VIP_HDR_REQUEST_ID);
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

static void route_insert_filter(request_rec *r)
{
    if (apr_table_get(r->notes, VIP_NOTE_ROUTE)) {
        ap_add_output_filter(RESPONSE_FILTER, NULL, r, r->connection);
    }
}

/* The problem for a 5xx of a routed request.  A member's own 5xx reaches
 * here only when the route retries that status (its body was held back)
 * and no retry was made or none succeeded. */
static void upstream_problem(request_rec *r, const vip_route_ctx *ctx)
{
    const char *retry = apr_table_get(r->notes, NOTE_RETRY_AFTER);
    const char *own_retry = apr_table_get(r->notes, NOTE_UPSTREAM_RA);
    int timed_out = apr_table_get(r->notes, "proxy_timedout")
                    || (ctx && ctx->expired);

    if (ctx && ctx->upstream_status && ctx->upstream_status == r->status) {
        if (own_retry) {
            apr_table_setn(r->err_headers_out, "Retry-After", own_retry);
        }
        vip_problem(r, r->status, r->status == HTTP_SERVICE_UNAVAILABLE
                    ? "service-unavailable" : r->status == HTTP_GATEWAY_TIME_OUT
                    ? "gateway-timeout" : "bad-gateway",
                    r->status == HTTP_SERVICE_UNAVAILABLE
                    ? "Service unavailable" : r->status == HTTP_GATEWAY_TIME_OUT
                    ? "Gateway timeout" : "Bad gateway",
                    apr_psprintf(r->pool, "The service answered %d.",
                                 r->status));
        return;
    }
    switch (r->status) {
    case HTTP_BAD_GATEWAY:
        /* mod_proxy_http answers a read timeout with 502 and a note (and
         * the route's deadline sets it too); to the client it is the
         * service taking too long: 504.  The body was chosen by the old
         * status, so fill both slots. */
        if (timed_out) {
            r->status = HTTP_GATEWAY_TIME_OUT;
            r->status_line = NULL;
            vip_problem_for(r, HTTP_BAD_GATEWAY, HTTP_GATEWAY_TIME_OUT,
                            "gateway-timeout", "Gateway timeout",
                            "The service did not answer in time.");
            vip_problem(r, HTTP_GATEWAY_TIME_OUT, "gateway-timeout",
                        "Gateway timeout",
                        "The service did not answer in time.");
            break;
        }
        vip_problem(r, r->status, "bad-gateway", "Bad gateway",
                    "The service gave an invalid response.");
        break;
    case HTTP_SERVICE_UNAVAILABLE:
        apr_table_setn(r->err_headers_out, "Retry-After", retry ? retry : "1");
        vip_problem(r, r->status, "service-unavailable",
                    "Service unavailable",
                    "No member of the service is available.");
        break;
    case HTTP_GATEWAY_TIME_OUT:
        vip_problem(r, r->status, "gateway-timeout", "Gateway timeout",
                    "The service did not answer in time.");
        break;
    default:
        break;
    }
}

static void route_insert_error_filter(request_rec *r)
{
    if (apr_table_get(r->notes, VIP_NOTE_ROUTE)) {
        upstream_problem(r, vip_route_ctx_get(r));
    }
    vip_problem_insert_filter(r);
}

static int route_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp)
{
    vip_route_budget_reset();
    return OK;
}

static int route_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp, server_rec *s)
{
    /* The first of the two runs at start-up only tries the config. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    return vip_route_budget_init(pconf, s);
}

static void vip_route_register_hooks(apr_pool_t *p)
{
    static const char *const after_rewrite[] = { "mod_rewrite.c", NULL };
    static const char *const before_proxy[] = { "mod_proxy.c", NULL };

    vip_problem_register("VIP_ROUTE_PROBLEM");
    /* mod_proxy's hooks (scheme handler before mod_proxy_http's, create_req)
     * and the filters of route_proxy.c; needs mod_proxy loaded first. */
    vip_route_proxy_register(p);
    ap_hook_pre_config(route_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(route_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_register_output_filter(RESPONSE_FILTER, response_filter, NULL,
                              AP_FTYPE_CONTENT_SET);
    /* After mod_rewrite (an admin's rewrite still applies first), before
     * mod_proxy's ProxyPass, like mod_rewrite's own [P] hand-off. */
    ap_hook_translate_name(route_translate, after_rewrite, before_proxy,
                           APR_HOOK_FIRST);
    /* Tenant/plan routes: after check_authn set the identity notes, and
     * before mod_proxy's fixup canonicalises r->filename. */
    ap_hook_fixups(route_fixups, NULL, before_proxy, APR_HOOK_FIRST);
    ap_hook_insert_filter(route_insert_filter, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_insert_error_filter(route_insert_error_filter, NULL, NULL,
                                APR_HOOK_MIDDLE);
}

module AP_MODULE_DECLARE_DATA vip_route_module = {
    STANDARD20_MODULE_STUFF,
    NULL,
    NULL,
    vip_route_create_srv,
    vip_route_merge_srv,
    vip_route_cmds,
    vip_route_register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    AP_MODULE_FLAG_ALWAYS_MERGE
#endif
};
