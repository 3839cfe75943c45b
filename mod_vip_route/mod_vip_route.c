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
 * response never reach the client (nor trigger anything here). */
static apr_status_t response_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    const apr_array_header_t *arr = apr_table_elts(r->headers_out);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    int i;

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

static void route_insert_error_filter(request_rec *r)
{
    if (apr_table_get(r->notes, VIP_NOTE_ROUTE)) {
        const char *retry = apr_table_get(r->notes, NOTE_RETRY_AFTER);

        switch (r->status) {
        case HTTP_BAD_GATEWAY:
            /* mod_proxy_http answers a read timeout with 502 and a note;
             * to the client it is the service taking too long: 504.  The
             * body was chosen by the old status, so fill both slots. */
            if (apr_table_get(r->notes, "proxy_timedout")) {
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
            apr_table_setn(r->err_headers_out, "Retry-After",
                           retry ? retry : "1");
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
    vip_problem_insert_filter(r);
}

static void vip_route_register_hooks(apr_pool_t *p)
{
    static const char *const after_rewrite[] = { "mod_rewrite.c", NULL };
    static const char *const before_proxy[] = { "mod_proxy.c", NULL };

    vip_problem_register("VIP_ROUTE_PROBLEM");
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
