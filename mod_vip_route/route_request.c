/*
 * route_request.c - route one request: normalise its path, match the
 * route table, choose the balancer (tenant pin, header split, weighted
 * canary, else the route's service), build the upstream URL and hand the
 * request to mod_proxy the way mod_rewrite's [P] flag does.
 */
#include <string.h>

#include "httpd.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_strings.h"
#include "apr_lib.h"

#include "mod_vip.h"
#include "vip_common.h"
#include "vip_config.h"
#include "vip_problem.h"
#include "route_config.h"
#include "route_path.h"
#include "route_proxy.h"
#include "route_request.h"

APLOG_USE_MODULE(vip_route);

static const char *header_of(void *ctx, const char *name)
{
    return apr_table_get(((request_rec *)ctx)->headers_in, name);
}

static const char *lower_host(request_rec *r)
{
    char *h;

    if (!r->hostname) {
        return NULL;
    }
    h = apr_pstrdup(r->pool, r->hostname);
    ap_str_tolower(h);
    return h;
}

static int in_scope(const vip_route_srv_conf *conf, const char *path)
{
    int i;

    for (i = 0; i < conf->scopes->nelts; i++) {
        const char *s = APR_ARRAY_IDX(conf->scopes, i, const char *);
        if (strncmp(path, s, strlen(s)) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The service and balancer for this request among the route's
 * alternatives: tenant pin, then header split, then weighted canaries. */
static const vip_split *choose(request_rec *r, const vip_route_target *t,
                               const char *tenant)
{
    int i, pick, acc = 0;

    if (t->pins && tenant) {
        const vip_split *s = apr_hash_get(t->pins, tenant, APR_HASH_KEY_STRING);
        if (s) {
            return s;
        }
    }
    if (t->header_split) {
        const char *v = apr_table_get(r->headers_in, t->split_header);
        if (v && strcmp(v, t->split_header_value) == 0) {
            return t->header_split;
        }
    }
    if (t->splits && t->splits->nelts) {
        pick = (int)ap_random_pick(0, 99);
        for (i = 0; i < t->splits->nelts; i++) {
            const vip_split *s = &APR_ARRAY_IDX(t->splits, i, vip_split);
            acc += s->weight;
            if (pick < acc) {
                return s;
            }
        }
    }
    return &t->main;
}

int vip_route_request(request_rec *r, const vip_route_srv_conf *conf,
                      int with_identity)
{
    vip_route_req q;
    vip_route_match m;
    const vip_route_target *t;
    const char *reason = NULL, *path;
    const vip_split *to;
    char *norm;

    /* CONNECT names a host, not a path: never a route's business. */
    if (r->method_number == M_CONNECT) {
        return DECLINED;
    }
    if (vip_path_normalize(r->pool, r->uri, strlen(r->uri), &norm, &reason)
        != APR_SUCCESS) {
        apr_table_setn(r->notes, VIP_NOTE_ROUTE_RESULT, reason);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, VIPLOGNO(02010)
                      "path refused before routing: %s", reason);
        return vip_problem(r, HTTP_BAD_REQUEST, "bad-path", "Bad request path",
                           NULL);
    }
    q.method = r->method;
    q.host = lower_host(r);
    q.path = norm;
    q.tenant = with_identity ? apr_table_get(r->notes, VIP_NOTE_TENANT) : NULL;
    q.plan = with_identity ? apr_table_get(r->notes, VIP_NOTE_PLAN) : NULL;
    q.header = header_of;
    q.ctx = r;
    if (!vip_route_table_match(conf->table, &q, r->pool, &m)) {
        if (in_scope(conf, norm)) {
            apr_table_setn(r->notes, VIP_NOTE_ROUTE_RESULT, "no_route");
            return HTTP_NOT_FOUND;
        }
        return DECLINED;
    }
    t = m.route->target;
    if (t->rewrite) {
        /* Parameters may be empty or odd: what goes upstream obeys the
         * same rules as what came in. */
        const char *x = vip_route_expand(r->pool, t->rewrite, &m);
        if (vip_path_normalize(r->pool, x, strlen(x), &norm, &reason)
            != APR_SUCCESS) {
            apr_table_setn(r->notes, VIP_NOTE_ROUTE_RESULT, reason);
            return vip_problem(r, HTTP_BAD_REQUEST, "bad-path",
                               "Bad request path", NULL);
        }
        path = norm;
    }
    else if (t->strip) {
        /* The route matched, so the path has at least the strip's
         * segments (a prefix route's rest may be empty). */
        int k = t->strip_segments;
        path = norm;
        while (k > 0 && *path == '/') {
            const char *next = strchr(path + 1, '/');
            path = next ? next : path + strlen(path);
            k--;
        }
        if (*path != '/') {
            path = apr_pstrcat(r->pool, "/", path, NULL);
        }
    }
    else {
        path = norm;
    }
    to = choose(r, t, q.tenant);

    /* The path is the decoded, normalised one we matched on: mod_proxy's
     * canonicalisation encodes it for the wire (as for ProxyPass, which
     * also hands it r->uri), so the upstream's view is identical to ours.
     * The query string stays in r->args, where mod_proxy takes it from. */
    r->filename = apr_pstrcat(r->pool, "proxy:", to->balancer, path, NULL);
    r->handler = "proxy-server";
    r->proxyreq = PROXYREQ_REVERSE;
    apr_table_setn(r->notes, VIP_NOTE_ROUTE, m.route->name);
    apr_table_setn(r->notes, VIP_NOTE_SERVICE, to->service->name);
    apr_table_setn(r->notes, NOTE_RETRY_AFTER,
                   apr_itoa(r->pool, to->service->retry ? to->service->retry
                                                        : 1));
    apr_table_setn(r->notes, VIP_NOTE_ROUTE_RESULT, "routed");
    vip_route_ctx_set(r, t, with_identity);
    return OK;
}

/* ---- request id --------------------------------------------------------- */

void vip_route_request_id(request_rec *r)
{
    const char *id = apr_table_get(r->headers_in, VIP_HDR_REQUEST_ID);
    unsigned char raw[12];
    static const char hex[] = "0123456789abcdef";
    char *out;
    int i;

    if (!id || !vip_id_valid(id, 8, 128)) {
        if (apr_generate_random_bytes(raw, sizeof(raw)) != APR_SUCCESS) {
            /* Uniqueness, not secrecy, is what an id needs. */
            apr_uint64_t t = (apr_uint64_t)r->request_time;
            memcpy(raw, &t, 8);
            memcpy(raw + 8, &r->connection->id, 4);
        }
        out = apr_palloc(r->pool, 2 * sizeof(raw) + 1);
        for (i = 0; i < (int)sizeof(raw); i++) {
            out[2 * i] = hex[raw[i] >> 4];
            out[2 * i + 1] = hex[raw[i] & 15];
        }
        out[2 * sizeof(raw)] = '\0';
        id = out;
        apr_table_setn(r->headers_in, VIP_HDR_REQUEST_ID, id);
    }
    apr_table_setn(r->notes, VIP_NOTE_REQUEST_ID, id);
    apr_table_setn(r->err_headers_out, VIP_HDR_REQUEST_ID, id);
}
