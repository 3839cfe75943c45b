/*
 * cache_purge.c - SetHandler vip-cache-purge: purge by URL, by tag, or a
 * whole scope.
 *
 *   POST (or PURGE) <purge location>?url=/path?query    one page
 *   POST ...?tag=product-123                            every page tagged
 *   POST ...?tenant=acme | ?scope=public|shared         a whole scope
 *
 * Who may purge is the admin's ordinary Require on the location (an
 * address, or AuthType Vip with a scope).  A caller authenticated as a
 * tenant purges only within its own tenant (THREATS C16): naming another
 * tenant is a 403, and its tag purges touch only its own tag
 * generations.  Callers without a tenant (an admin by address) name the
 * scope with tenant= or scope= (default public).
 *
 * A URL purge increments the generation of the URL's implicit tag, which
 * every entry of the URL carries whatever route, service or Vary variant
 * answered it, as the page would be keyed on this virtual host and Host;
 * url= is the decoded path and the query with ignored parameters left
 * out.  Tag and scope purges are the same: one increment of a generation
 * (cache_gen.h), seen at once by every node.
 */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "util_script.h"
#include "apr_strings.h"
#include "apr_time.h"

#include "mod_vip.h"
#include "vip_common.h"
#include "vip_config.h"
#include "vip_problem.h"
#include "cache_gen.h"
#include "cache_key.h"
#include "cache_request.h"

APLOG_USE_MODULE(vip_cache);

static int bad(request_rec *r, const char *detail)
{
    return vip_problem(r, HTTP_BAD_REQUEST, "bad-purge", "Bad purge request",
                       detail);
}

/* The generation key of url's implicit tag on this virtual host, or
 * NULL with *why. */
static const char *url_gen_key(request_rec *r, const char *scope, const char *url,
                           const char **why)
{
    char *path = apr_pstrdup(r->pool, url), *q = strchr(path, '?');
    const char *query = NULL;

    if (q) {
        *q++ = '\0';
        query = vip_cache_query(r->pool, q, NULL);
    }
    if (path[0] != '/' || strpbrk(path, "\r\n")
        || !ap_normalize_path(path, AP_NORMALIZE_NOT_ABOVE_ROOT
                                    | AP_NORMALIZE_DECODE_UNRESERVED
                                    | AP_NORMALIZE_MERGE_SLASHES)
        || ap_unescape_url(path) != OK) {
        *why = "url= must be an absolute path (and query) of this site";
        return NULL;
    }
    return vip_gen_key(r->pool, scope,
                       vip_cache_url_tag(r->pool, vip_cache_material(r, scope,
                                                                     path,
                                                                     query)));
}

int vip_cache_purge_handler(request_rec *r)
{
    apr_table_t *args;
    const char *tenant, *mine, *tag, *url, *scope, *why = NULL, *what;
    vip_store *st;
    apr_uint64_t gen = 0;
    apr_status_t rv;

    if (!r->handler || strcmp(r->handler, "vip-cache-purge") != 0) {
        return DECLINED;
    }
    if (r->method_number != M_POST && strcmp(r->method, "PURGE") != 0) {
        apr_table_setn(r->err_headers_out, "Allow", "POST, PURGE");
        return vip_problem(r, HTTP_METHOD_NOT_ALLOWED, "method-not-allowed",
                           "Method not allowed", "Purge with POST or PURGE.");
    }
    ap_args_to_table(r, &args);
    mine = apr_table_get(r->notes, VIP_NOTE_TENANT);
    tenant = apr_table_get(args, "tenant");
    tag = apr_table_get(args, "tag");
    url = apr_table_get(args, "url");
    scope = apr_table_get(args, "scope");
    if (tenant && !vip_id_valid(tenant, 1, 64)) {
        return bad(r, "tenant= is not a tenant id.");
    }
    if (mine) {
        if ((tenant && strcmp(tenant, mine) != 0) || scope) {
            return vip_problem(r, HTTP_FORBIDDEN, "purge-forbidden",
                               "Forbidden", "A tenant purges only its own "
                               "entries.");
        }
        scope = apr_pstrcat(r->pool, "t:", mine, NULL);
    }
    else if (tenant) {
        if (scope) {
            return bad(r, "Name tenant= or scope=, not both.");
        }
        scope = apr_pstrcat(r->pool, "t:", tenant, NULL);
    }
    else if (!scope) {
        scope = "public";
    }
    else if (strcmp(scope, "public") != 0 && strcmp(scope, "shared") != 0) {
        return bad(r, "scope= is public or shared.");
    }
    if (tag && url) {
        return bad(r, "Name url= or tag=, not both.");
    }
    if (tag && !vip_id_valid(tag, 1, 64)) {
        /* no separators, no wildcards: one tag, exactly */
        return bad(r, "tag= is 1-64 characters of [A-Za-z0-9._-].");
    }
    if (!(st = vip_cache_store_for(r->server))) {
        return vip_problem(r, HTTP_SERVICE_UNAVAILABLE, "no-store",
                           "Service unavailable",
                           "No VipCacheServers for this server.");
    }
    if (url) {
        /* Every entry of the URL - whichever route, service or Vary
         * variant - carries the URL's implicit tag. */
        const char *gk = url_gen_key(r, scope, url, &why);
        if (!gk) {
            return bad(r, why);
        }
        rv = vip_store_incr(st, r->pool, gk, (apr_uint64_t)apr_time_now(), 0,
                            &gen);
        what = "url";
    }
    else {
        rv = vip_store_incr(st, r->pool, vip_gen_key(r->pool, scope, tag),
                            (apr_uint64_t)apr_time_now(), 0, &gen);
        what = tag ? "tag" : "scope";
    }
    if (rv != APR_SUCCESS) {
        vip_cache_store_warn(r, "purge");
        apr_table_setn(r->err_headers_out, "Retry-After", "1");
        return vip_problem(r, HTTP_SERVICE_UNAVAILABLE, "store-unavailable",
                           "Service unavailable",
                           "The cache store did not answer; nothing purged.");
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, VIPLOGNO(03010)
                  "purged %s %s in scope %s", what,
                  url ? "(url)" : tag ? tag : "", scope);
    ap_set_content_type(r, "application/json");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!r->header_only) {
        ap_rprintf(r, "{\"purged\":\"%s\",\"scope\":\"%s\"", what, scope);
        if (tag) {
            ap_rprintf(r, ",\"tag\":\"%s\"", tag);
        }
        if (!url) {
            ap_rprintf(r, ",\"generation\":%" APR_UINT64_T_FMT, gen);
        }
        ap_rputs("}\n", r);
    }
    return OK;
}
