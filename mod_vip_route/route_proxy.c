/*
 * route_proxy.c - mod_vip_route inside mod_proxy's handling of a routed
 * request.  mod_proxy (modules/proxy/mod_proxy.c, proxy_handler) runs the
 * scheme handler in a loop that moves to another balancer member only when
 * the handler returns 503 (a refused connect) and the member is then
 * unusable; failonstatus and failontimeout are applied after that loop, in
 * mod_proxy_balancer's post_request, so they only take the member out for
 * later requests.  So:
 *
 *   - a scheme handler of ours runs before mod_proxy_http's and calls it
 *     (proxy_run_scheme_handler, guarded against itself) once per attempt.
 *     When the member answered a retry_on status (not relayed: the route's
 *     balancer has ProxyErrorOverride for exactly those) or timed out, and
 *     the method, the body, the attempts left, another usable member and
 *     the route's retry budget allow it, it answers 503 for mod_proxy's
 *     loop: the member rests (its cool-down, like failonstatus) and the
 *     balancer picks another.  Otherwise the outcome stands.
 *   - the deadline: mod_proxy_http builds a request_rec for the response
 *     on the backend connection and runs the create_req hook on it; we put
 *     an input filter there that bounds every read by the time left of the
 *     attempt (socket timeout = min(worker timeout, time left)) and says
 *     APR_TIMEUP after it, so mod_proxy_http's own timeout path answers
 *     (proxy_timedout note; 504 here) and closes that connection.  The same
 *     filter checks the first line of the response: mod_proxy_http relays
 *     anything that is not "HTTP/x.y nnn" as an HTTP/0.9 body with 200;
 *     route_response_filter turns that into a 502.
 *   - the request body is kept (up to VIP_ROUTE_BODY_KEEP bytes) while
 *     mod_proxy_http reads it, so a second attempt sends it again instead
 *     of the nothing left in the client connection.
 */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"
#include "mod_proxy.h"
#include "apr_atomic.h"
#include "apr_lib.h"
#include "apr_optional_hooks.h"
#include "apr_shm.h"
#include "apr_strings.h"

#include "vip_common.h"
#include "route_budget.h"
#include "route_config.h"
#include "route_proxy.h"

/* mod_proxy's hook registrar and runner, weak: mod_vip_route loads
 * without mod_proxy (VipRouteService then says what to load), and
 * resolves them when mod_proxy was loaded first.  create_req is an
 * optional hook (APR_OPTIONAL_HOOK): no symbol needed. */
#pragma weak proxy_hook_scheme_handler
#pragma weak proxy_run_scheme_handler

extern VIP_MODULE_EXPORT module AP_MODULE_DECLARE_DATA vip_route_module;
APLOG_USE_MODULE(vip_route);

#define BACKEND_FILTER "VIP_ROUTE_BACKEND"
#define BODY_FILTER    "VIP_ROUTE_BODY"

/* Request bodies up to this size can be sent again to another member. */
#define VIP_ROUTE_BODY_KEEP (64 * 1024)

enum { BODY_NONE, BODY_RECORDING, BODY_COMPLETE, BODY_TOO_BIG };

static ap_filter_rec_t *backend_filter_handle;
static ap_filter_rec_t *body_filter_handle;
static int hooks_ready;

/* ---- per-request state ------------------------------------------------ */

void vip_route_ctx_set(request_rec *r, const vip_route_target *t, int late)
{
    vip_route_ctx *ctx = apr_pcalloc(r->pool, sizeof(*ctx));

    ctx->target = t;
    ctx->late = late;
    ctx->timeout = apr_time_from_sec(t->timeout);
    ap_set_module_config(r->request_config, &vip_route_module, ctx);
}

vip_route_ctx *vip_route_ctx_get(const request_rec *r)
{
    return ap_get_module_config(r->request_config, &vip_route_module);
}

/* ---- retry budgets in shared memory ----------------------------------- */

static int nbudgets;
static vip_budget *budgets;

int vip_route_budget_new(void)
{
    return nbudgets++;
}

void vip_route_budget_reset(void)
{
    nbudgets = 0;
    budgets = NULL;
}

int vip_route_budget_init(apr_pool_t *pconf, server_rec *s)
{
    apr_shm_t *shm;
    apr_status_t rv;
    apr_size_t size = (apr_size_t)nbudgets * sizeof(vip_budget);

    if (!nbudgets) {
        return OK;
    }
    /* Anonymous: created in the parent before the children are forked,
     * so every child maps the same counters; a restart starts them anew
     * (the segment goes with pconf). */
    rv = apr_shm_create(&shm, size, NULL, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, VIPLOGNO(02020)
                     "cannot create the shared memory of %d retry budgets "
                     "(%" APR_SIZE_T_FMT " bytes)", nbudgets, size);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    budgets = apr_shm_baseaddr_get(shm);
    memset(budgets, 0, size);
    return OK;
}

static vip_budget *budget_of(const vip_route_target *t)
{
    if (!budgets || t->budget_slot < 0 || t->budget_slot >= nbudgets) {
        return NULL;
    }
    return &budgets[t->budget_slot];
}

static apr_uint32_t now_sec(void)
{
    return (apr_uint32_t)apr_time_sec(apr_time_now());
}

/* ---- the request body, kept for another attempt ----------------------- */

static void keep(vip_route_ctx *ctx, apr_pool_t *p, const char *data,
                 apr_size_t len)
{
    if (ctx->body_len + len > VIP_ROUTE_BODY_KEEP) {
        ctx->body_state = BODY_TOO_BIG;
        return;
    }
    if (ctx->body_len + len > ctx->body_cap) {
        apr_size_t cap = ctx->body_cap ? ctx->body_cap : 4096;
        char *grown;
        while (cap < ctx->body_len + len) {
            cap *= 2;
        }
        grown = apr_palloc(p, cap);
        if (ctx->body_len) {
            memcpy(grown, ctx->body, ctx->body_len);
        }
        ctx->body = grown;
        ctx->body_cap = cap;
    }
    memcpy(ctx->body + ctx->body_len, data, len);
    ctx->body_len += len;
}

/* First attempt: pass the body through and keep a copy.  Later attempts:
 * give the kept bytes again, then whatever the client has not sent yet. */
static apr_status_t body_filter(ap_filter_t *f, apr_bucket_brigade *bb,
                                ap_input_mode_t mode, apr_read_type_e block,
                                apr_off_t readbytes)
{
    vip_route_ctx *ctx = f->ctx;
    apr_bucket *e;
    apr_status_t rv;

    if (mode != AP_MODE_READBYTES && mode != AP_MODE_SPECULATIVE) {
        return ap_get_brigade(f->next, bb, mode, block, readbytes);
    }
    if (ctx->attempts > 1 && ctx->replay_off < ctx->body_len) {
        apr_size_t n = ctx->body_len - ctx->replay_off;
        if (readbytes > 0 && (apr_size_t)readbytes < n) {
            n = (apr_size_t)readbytes;
        }
        e = apr_bucket_pool_create(ctx->body + ctx->replay_off, n,
                                   f->r->pool, f->c->bucket_alloc);
        APR_BRIGADE_INSERT_TAIL(bb, e);
        if (mode == AP_MODE_READBYTES) {
            ctx->replay_off += n;
        }
        if (ctx->body_state == BODY_COMPLETE
            && ctx->replay_off == ctx->body_len) {
            APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(
                                            f->c->bucket_alloc));
        }
        return APR_SUCCESS;
    }
    if (ctx->attempts > 1 && ctx->body_state == BODY_COMPLETE) {
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(f->c->bucket_alloc));
        return APR_SUCCESS;
    }
    rv = ap_get_brigade(f->next, bb, mode, block, readbytes);
    if (rv != APR_SUCCESS || mode != AP_MODE_READBYTES
        || ctx->body_state != BODY_RECORDING) {
        return rv;
    }
    for (e = APR_BRIGADE_FIRST(bb); e != APR_BRIGADE_SENTINEL(bb)
         && ctx->body_state == BODY_RECORDING; e = APR_BUCKET_NEXT(e)) {
        const char *data;
        apr_size_t len;
        if (APR_BUCKET_IS_EOS(e)) {
            ctx->body_state = BODY_COMPLETE;
            break;
        }
        if (APR_BUCKET_IS_METADATA(e)) {
            continue;
        }
        if (apr_bucket_read(e, &data, &len, APR_BLOCK_READ) != APR_SUCCESS) {
            ctx->body_state = BODY_TOO_BIG;
            break;
        }
        keep(ctx, f->r->pool, data, len);
    }
    if (ctx->attempts > 1) {
        /* What the client sends now is new to every attempt after this
         * one, which continues where the kept bytes end. */
        ctx->replay_off = ctx->body_len;
    }
    return rv;
}

/* ---- the backend connection: deadline and status line ----------------- */

static int valid_status_line(const char *s, apr_size_t n)
{
    return n >= 12 && memcmp(s, "HTTP/1.", 7) == 0 && apr_isdigit(s[7])
           && s[8] == ' ' && apr_isdigit(s[9]) && apr_isdigit(s[10])
           && apr_isdigit(s[11])
           && (n == 12 || s[12] == ' ' || s[12] == '\r' || s[12] == '\n');
}

/* Warnings about members, at most one per WARN_EVERY seconds and
 * process; the rest at info level. */
#define WARN_EVERY 10
static apr_uint32_t last_warning;

static int warn_level(void)
{
    apr_uint32_t now = now_sec(), prev = apr_atomic_read32(&last_warning);

    if (now - prev >= WARN_EVERY
        && apr_atomic_cas32(&last_warning, now, prev) == prev) {
        return APLOG_WARNING;
    }
    return APLOG_INFO;
}

static void check_first_line(ap_filter_t *f, vip_route_ctx *ctx,
                             apr_bucket_brigade *bb)
{
    char line[16];
    apr_size_t n = sizeof(line);

    if (apr_brigade_flatten(bb, line, &n) != APR_SUCCESS || n == 0) {
        return;
    }
    /* mod_proxy_http skips one stray empty line before the status. */
    if (line[0] == '\n' || (n >= 2 && line[0] == '\r' && line[1] == '\n')) {
        return;
    }
    ctx->status_seen = 1;
    if (!valid_status_line(line, n)) {
        ctx->bad_status = 1;
        ap_log_rerror(APLOG_MARK, warn_level(), 0, f->r, VIPLOGNO(02022)
                      "route %s: member %s answered with no HTTP/1.x status "
                      "line; the client gets 502",
                      ctx->target->route_name, ctx->member);
    }
}

static apr_status_t backend_filter(ap_filter_t *f, apr_bucket_brigade *bb,
                                   ap_input_mode_t mode,
                                   apr_read_type_e block, apr_off_t readbytes)
{
    vip_route_ctx *ctx = f->ctx;
    apr_socket_t *sock = NULL;
    apr_interval_time_t old = 0;
    int bounded = 0;
    apr_status_t rv;

    if (ctx->deadline) {
        apr_interval_time_t left = ctx->deadline - apr_time_now();
        if (left <= 0) {
            ctx->expired = 1;
            return APR_TIMEUP;
        }
        if (block == APR_BLOCK_READ && (sock = ap_get_conn_socket(f->c))
            && apr_socket_timeout_get(sock, &old) == APR_SUCCESS
            && (old < 0 || old > left)) {
            apr_socket_timeout_set(sock, left);
            bounded = 1;
        }
    }
    rv = ap_get_brigade(f->next, bb, mode, block, readbytes);
    if (bounded) {
        /* The connection may serve other requests with its own timeout. */
        apr_socket_timeout_set(sock, old);
        if (APR_STATUS_IS_TIMEUP(rv)) {
            ctx->expired = 1;
        }
    }
    if (rv == APR_SUCCESS && mode == AP_MODE_GETLINE && !ctx->status_seen) {
        check_first_line(f, ctx, bb);
    }
    return rv;
}

/* create_req: pr is the request_rec mod_proxy_http reads the response
 * with, on the backend connection; the filter lives in pr's pool, so a
 * reused connection does not collect them. */
static int route_create_req(request_rec *r, request_rec *pr)
{
    vip_route_ctx *ctx = vip_route_ctx_get(r);

    if (ctx && ctx->in_scheme) {
        ap_add_input_filter_handle(backend_filter_handle, ctx, pr,
                                   pr->connection);
    }
    return OK;
}

/* ---- retries ---------------------------------------------------------- */

static int method_retryable(request_rec *r, const vip_route_target *t)
{
    const char *key;

    switch (r->method_number) {
    case M_GET:                         /* HEAD too */
    case M_PUT:
    case M_DELETE:
    case M_OPTIONS:
        return 1;
    default:
        break;
    }
    key = apr_table_get(r->headers_in, "Idempotency-Key");
    return vip_route_retry_keyed(t) && key && *key;
}

/* Can the balancer give another member than w right now?  Members in
 * error whose cool-down is over count: the balancer retries them. */
static int other_member(proxy_worker *w)
{
    proxy_balancer *b = w->balancer;
    apr_time_t now = apr_time_now();
    int i;

    if (!b || !b->workers) {
        return 0;
    }
    for (i = 0; i < b->workers->nelts; i++) {
        proxy_worker *o = APR_ARRAY_IDX(b->workers, i, proxy_worker *);
        unsigned int st = o->s->status;
        if (o == w || o->s == w->s) {
            continue;
        }
        if (!(st & PROXY_WORKER_NOT_USABLE_BITMAP)) {
            return 1;
        }
        if ((st & PROXY_WORKER_NOT_USABLE_BITMAP) == PROXY_WORKER_IN_ERROR
            && now > o->s->error_time + o->s->retry) {
            return 1;
        }
    }
    return 0;
}

static int attempts_left(proxy_worker *w, int attempts)
{
    proxy_balancer *b = w->balancer;
    int max;

    if (!b) {
        return 0;
    }
    /* mod_proxy's loop: max_attempts when set, else one less than the
     * members (mod_proxy_balancer's default). */
    max = b->s->max_attempts_set ? b->s->max_attempts : b->workers->nelts - 1;
    return attempts <= max;
}

static int deny(request_rec *r, const char *why, int rv)
{
    apr_table_setn(r->notes, NOTE_RETRY_DENIED, why);
    return rv;
}

/* The outcome of one attempt: rv as it is, or 503 to have mod_proxy's
 * loop try another member. */
static int after_attempt(request_rec *r, vip_route_ctx *ctx,
                         proxy_worker *worker, int rv)
{
    const vip_route_target *t = ctx->target;
    const char *what;
    int timed_out = 0;
    vip_budget *b;

    if (ctx->expired) {
        /* Also when the time ran out inside the header section, where
         * mod_proxy_http sets no note: failontimeout and the 504 read it. */
        apr_table_setn(r->notes, "proxy_timedout", "1");
    }
    if (rv == HTTP_BAD_GATEWAY && apr_table_get(r->notes, "proxy_timedout")) {
        timed_out = 1;
    }
    else if (apr_table_get(r->notes, "proxy-error-override")
             && ap_is_HTTP_SERVER_ERROR(rv)) {
        ctx->upstream_status = rv;
        /* Its Retry-After, for the problem the client gets instead. */
        what = apr_table_get(r->headers_out, "Retry-After");
        if (what) {
            apr_table_setn(r->notes, NOTE_UPSTREAM_RA, what);
        }
    }
    if (!t->has_retry_on || !(timed_out ? t->retry_on.timeout
                              : ctx->upstream_status == rv
                                && vip_retry_on_status(&t->retry_on, rv))) {
        return rv;
    }
    if (!method_retryable(r, t)) {
        return deny(r, "method", rv);
    }
    if (ctx->body_state == BODY_TOO_BIG || ctx->body_state == BODY_RECORDING) {
        return deny(r, "body", rv);
    }
    if (!attempts_left(worker, ctx->attempts) || !other_member(worker)) {
        return deny(r, "members", rv);
    }
    b = budget_of(t);
    if (!b || !vip_budget_try_retry(b, now_sec(), vip_route_retry_budget(t))) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, VIPLOGNO(02024)
                      "route %s: retry budget (%d%%) spent, not retrying",
                      t->route_name, vip_route_retry_budget(t));
        return deny(r, "budget", rv);
    }
    what = timed_out ? "a timeout" : apr_psprintf(r->pool, "status %d", rv);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, VIPLOGNO(02023)
                  "route %s: %s from member %s, trying another member",
                  t->route_name, what, worker->s->name_ex);
    apr_table_unset(r->notes, "proxy_timedout");
    apr_table_unset(r->notes, "proxy-error-override");
    apr_table_unset(r->notes, NOTE_UPSTREAM_RA);
    apr_table_unset(r->notes, NOTE_RETRY_DENIED);
    ctx->upstream_status = 0;
    ctx->retries++;
    apr_table_setn(r->notes, NOTE_RETRIES, apr_itoa(r->pool, ctx->retries));
    return HTTP_SERVICE_UNAVAILABLE;
}

static int route_scheme_handler(request_rec *r, proxy_worker *worker,
                                proxy_server_conf *conf, char *url,
                                const char *proxyhost, apr_port_t proxyport)
{
    vip_route_ctx *ctx = vip_route_ctx_get(r);
    int rv;

    if (!ctx || ctx->in_scheme || !worker) {
        return DECLINED;
    }
    if (++ctx->attempts == 1) {
        /* Routed in fixups: mod_proxy's walk of its <Proxy> sections has
         * run before the balancer was chosen; merge the route balancer's
         * section (its ProxyErrorOverride) as that walk would have. */
        if (ctx->late && worker->section_config) {
            r->per_dir_config = ap_merge_per_dir_configs(r->pool,
                                    r->per_dir_config, worker->section_config);
        }
        if (ctx->target->has_retry_on && budget_of(ctx->target)) {
            vip_budget_request(budget_of(ctx->target), now_sec());
        }
        if (ap_request_has_body(r) && !r->main) {
            ctx->body_state = BODY_RECORDING;
            ap_add_input_filter_handle(body_filter_handle, ctx, r,
                                       r->connection);
        }
    }
    else {
        if (ctx->body_state == BODY_TOO_BIG) {
            /* The bytes a member already took are gone: another member
             * would get a truncated body. */
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, VIPLOGNO(02025)
                          "route %s: request body over %d bytes cannot be "
                          "sent to another member", ctx->target->route_name,
                          VIP_ROUTE_BODY_KEEP);
            return HTTP_BAD_GATEWAY;
        }
        ctx->replay_off = 0;
    }
    ctx->member = worker->s->name_ex;
    ctx->expired = 0;
    ctx->bad_status = 0;
    ctx->status_seen = 0;
    ctx->deadline = ctx->timeout ? apr_time_now() + ctx->timeout : 0;

    ctx->in_scheme = 1;
    rv = proxy_run_scheme_handler(r, worker, conf, url, proxyhost, proxyport);
    ctx->in_scheme = 0;
    return rv == DECLINED ? rv : after_attempt(r, ctx, worker, rv);
}

/* ---- registration ----------------------------------------------------- */

int vip_route_proxy_register(apr_pool_t *p)
{
    static const char *const before_http[] = { "mod_proxy_http.c", NULL };

    /* A protocol filter of the response's request_rec, added before
     * mod_proxy_http adds HTTP_IN (also AP_FTYPE_PROTOCOL, so it goes
     * below this one): it sees every read of the status line, the
     * headers and the body.  A type between protocol and connection
     * would leave pr->input_filters pointing past HTTP_IN when that is
     * added (util_filter.c, add_any_filter_handle). */
    backend_filter_handle = ap_register_input_filter(BACKEND_FILTER,
        backend_filter, NULL, AP_FTYPE_PROTOCOL);
    /* First of the request's input filters: mod_proxy_http reads the
     * body through it. */
    body_filter_handle = ap_register_input_filter(BODY_FILTER, body_filter,
                                                  NULL, AP_FTYPE_RESOURCE);
    if (!proxy_hook_scheme_handler || !proxy_run_scheme_handler) {
        return 0;
    }
    /* Before mod_proxy_http (also APR_HOOK_FIRST), which it then calls. */
    proxy_hook_scheme_handler(route_scheme_handler, NULL, before_http,
                              APR_HOOK_FIRST);
    APR_OPTIONAL_HOOK(proxy, create_req, route_create_req, NULL, NULL,
                      APR_HOOK_MIDDLE);
    hooks_ready = 1;
    return 1;
}

int vip_route_proxy_ready(void)
{
    return hooks_ready;
}
