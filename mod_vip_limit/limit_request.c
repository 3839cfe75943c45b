/*
 * limit_request.c - a request against mod_vip_limit's rules.
 *
 * For each rule: the key (client IP, tenant, route, ... or an ap_expr
 * value), then rate, concurrency and quota in that order through the
 * zone's store.  The first refusal answers 429 (unless dry-run); every
 * decision made so far is announced in RateLimit-Policy / RateLimit
 * (draft-ietf-httpapi-ratelimit-headers) on the response, allowed or not,
 * through err_headers_out so that the fields survive mod_proxy replacing
 * headers_out and reach error responses.  A counter (a rule's name) is
 * charged at most once per request: the first rule reaching it decides.
 */
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_strings.h"

#include "mod_vip.h"
#include "vip_common.h"
#include "vip_problem.h"
#include "limit_lease.h"
#include "limit_request.h"
#include "limit_shm.h"

extern VIP_MODULE_EXPORT module AP_MODULE_DECLARE_DATA vip_limit_module;
APLOG_USE_MODULE(vip_limit);

#define FULL_LOG_INTERVAL (60 * VIP_NS_PER_SEC)
#define KEY_TEXT_MAX 64

/* One decision, as the header fields and notes show it. */
typedef struct {
    const vip_limit_rule *rule; /* its id, RateLimit-Policy item and limit
                                   by kind */
    int kind;
    apr_uint64_t r;             /* remaining */
    apr_uint64_t t;             /* seconds until whole again */
    const char *key;            /* key text for the notes */
    const char *r_text;         /* r, formatted for the header and notes */
} policy;

static const char *policy_id(const policy *p)
{
    return p->rule->id[p->kind];
}

/* Units per window (or slots): the RateLimit-Limit of the legacy fields. */
static apr_uint64_t policy_limit(const policy *p)
{
    return p->kind == VIP_LIMIT_KIND_RATE ? p->rule->rate.count
           : p->kind == VIP_LIMIT_KIND_QUOTA ? p->rule->quota.limit
           : p->rule->concurrency;
}

/* Most requests meet one or two rules: the arrays start inside the
 * context (apr_array_push moves them to the pool when they grow). */
#define CTX_INLINE 4

typedef struct {
    apr_array_header_t *policies;
    apr_array_header_t *charged;    /* const char *: rule names */
    apr_array_header_t policies_hdr, charged_hdr;
    policy policies_inline[CTX_INLINE];
    const char *charged_inline[CTX_INLINE];
    int dry_refused;
    int degraded;                   /* a decision on a node's share */
    int noted;                      /* the vip.limit* notes are set */
    int fielded;                    /* the RateLimit fields are set */
} req_ctx;

typedef struct {
    const vip_limit_store *store;
    void *slot;
} held_slot;

static apr_array_header_t *inline_array(apr_array_header_t *a,
                                        apr_pool_t *p, void *elts,
                                        int elt_size)
{
    a->pool = p;
    a->elt_size = elt_size;
    a->nelts = 0;
    a->nalloc = CTX_INLINE;
    a->elts = elts;
    return a;
}

static req_ctx *get_ctx(request_rec *r)
{
    req_ctx *ctx = ap_get_module_config(r->request_config, &vip_limit_module);

    if (!ctx) {
        ctx = apr_palloc(r->pool, sizeof(*ctx));
        ctx->dry_refused = ctx->degraded = ctx->noted = ctx->fielded = 0;
        ctx->policies = inline_array(&ctx->policies_hdr, r->pool,
                                     ctx->policies_inline, sizeof(policy));
        ctx->charged = inline_array(&ctx->charged_hdr, r->pool,
                                    ctx->charged_inline, sizeof(const char *));
        ap_set_module_config(r->request_config, &vip_limit_module, ctx);
    }
    return ctx;
}

static apr_uint64_t ceil_s(apr_uint64_t ns)
{
    return (ns + VIP_NS_PER_SEC - 1) / VIP_NS_PER_SEC;
}

/* ---- keys ---------------------------------------------------------------- */

/* Printable, at most KEY_TEXT_MAX bytes: expression values are the
 * client's, and notes end up in logs. */
static const char *safe_text(apr_pool_t *p, const char *s, apr_size_t len)
{
    char *out;
    apr_size_t i, n = len > KEY_TEXT_MAX ? KEY_TEXT_MAX : len;

    out = apr_palloc(p, n + 1);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c > 0x20 && c < 0x7f && c != '"' && c != '\\') ? (char)c
                                                                  : '_';
    }
    out[n] = '\0';
    return out;
}

/* The 4 bytes of an IPv4 client, or NULL.  At a dual-stack Listen (as
 * Debian's "Listen 80") IPv4 clients arrive as ::ffff:a.b.c.d, the same
 * client as a.b.c.d (THREATS L2). */
static const unsigned char *ipv4_of(const apr_sockaddr_t *sa)
{
    if (sa->family == APR_INET) {
        return (const unsigned char *)&sa->sa.sin.sin_addr;
    }
#if APR_HAVE_IPV6
    if (sa->family == APR_INET6
        && IN6_IS_ADDR_V4MAPPED(&sa->sa.sin6.sin6_addr)) {
        return (const unsigned char *)&sa->sa.sin6.sin6_addr + 12;
    }
#endif
    return NULL;
}

/* An IPv6 client (its /128, or its /64 with per64), or no socket
 * address: the text address itself. */
static int ip_key_v6(request_rec *r, int per64, const char **bin,
                     apr_size_t *len, const char **text)
{
#if APR_HAVE_IPV6
    apr_sockaddr_t *sa = r->useragent_addr;

    if (sa && sa->family == APR_INET6) {
        const unsigned char *a = (const unsigned char *)&sa->sa.sin6.sin6_addr;
        unsigned char *b = apr_palloc(r->pool, 17);

        *bin = (const char *)b;
        b[0] = '6';
        if (per64) {
            unsigned char net[16];
            char buf[64];
            memcpy(b + 1, a, 8);
            *len = 9;
            memset(net, 0, sizeof(net));
            memcpy(net, a, 8);
            if (inet_ntop(AF_INET6, net, buf, sizeof(buf))) {
                *text = apr_pstrcat(r->pool, buf, "/64", NULL);
            }
        }
        else {
            memcpy(b + 1, a, 16);
            *len = 17;
        }
        return 1;
    }
#endif
    if (r->useragent_ip) {
        *bin = r->useragent_ip;
        *len = strlen(r->useragent_ip);
        return 1;
    }
    return 0;
}

static int ip_key(request_rec *r, int per64, const char **bin,
                  apr_size_t *len, const char **text)
{
    apr_sockaddr_t *sa = r->useragent_addr;
    const unsigned char *v4 = sa ? ipv4_of(sa) : NULL;
    unsigned char *b;

    *text = r->useragent_ip;
    if (!v4) {
        return ip_key_v6(r, per64, bin, len, text);
    }
    b = apr_palloc(r->pool, 5);
    b[0] = '4';
    memcpy(b + 1, v4, 4);
    *len = 5;
    *bin = (const char *)b;
    /* APR writes a mapped address as a.b.c.d, but mod_remoteip may have
     * kept the header's text: then APR's writing of the address */
    if (!*text || strchr(*text, ':')) {
        char buf[64];
        if (apr_sockaddr_ip_getbuf(buf, sizeof(buf), sa) == APR_SUCCESS) {
            *text = apr_pstrdup(r->pool, buf);
        }
    }
    return 1;
}

/* The key of zone z for r: 0 when the request has none (no tenant on an
 * anonymous request, an expression that gave ""), and the rule then does
 * not apply. */
static int zone_key(request_rec *r, const vip_limit_zone *z, const char **bin,
                    apr_size_t *len, const char **text)
{
    const char *v = NULL, *v2;

    switch (z->key) {
    case VIP_LIMIT_KEY_IP:
    case VIP_LIMIT_KEY_IP64:
        return ip_key(r, z->key == VIP_LIMIT_KEY_IP64, bin, len, text);
    case VIP_LIMIT_KEY_TENANT:
        v = apr_table_get(r->notes, VIP_NOTE_TENANT);
        break;
    case VIP_LIMIT_KEY_SUBJECT:
        v = apr_table_get(r->notes, VIP_NOTE_SUBJECT);
        break;
    case VIP_LIMIT_KEY_ROUTE:
        v = apr_table_get(r->notes, VIP_NOTE_ROUTE);
        break;
    case VIP_LIMIT_KEY_TENANT_ROUTE:
        v = apr_table_get(r->notes, VIP_NOTE_TENANT);
        v2 = apr_table_get(r->notes, VIP_NOTE_ROUTE);
        if (!v || !v2 || !*v || !*v2) {
            return 0;
        }
        /* both are ids of [A-Za-z0-9._-]: '/' cannot be ambiguous */
        v = apr_pstrcat(r->pool, v, "/", v2, NULL);
        break;
    case VIP_LIMIT_KEY_EXPR: {
        const char *err = NULL;
        v = ap_expr_str_exec(r, z->expr, &err);
        if (err) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, VIPLOGNO(04014)
                          "zone %s: the key expression failed (%s); the "
                          "limits of this zone do not apply to the request",
                          z->name, err);
            return 0;
        }
        if (v && *v) {
            *bin = v;
            *len = strlen(v);
            *text = safe_text(r->pool, v, *len);
            return 1;
        }
        return 0;
    }
    default:
        return 0;
    }
    if (!v || !*v) {
        return 0;
    }
    *bin = v;
    *len = strlen(v);
    *text = v;
    return 1;
}

/* ---- responses ----------------------------------------------------------- */

/* Counts (remaining, seconds, limits) stay far below 2^63: APR's
 * apr_off_t_toa formats them without apr_psprintf's general formatter,
 * which was most of the module's cost per request. */
static const char *u64_text(apr_pool_t *pool, apr_uint64_t v)
{
    return apr_off_t_toa(pool, (apr_off_t)v);
}

/* One RateLimit item, '"id";r=R;t=T' (no t= for concurrency): the
 * start was made at start-up, the lengths are known, so one allocation
 * and copies make it. */
static const char *current_item(apr_pool_t *pool, const policy *p)
{
    const char *head = p->rule->item_head[p->kind];
    apr_size_t hl = p->rule->item_head_len[p->kind];
    apr_size_t rl = strlen(p->r_text), tl = 0;
    const char *t = NULL;
    char *out, *o;

    if (p->kind != VIP_LIMIT_KIND_CONC) {
        t = u64_text(pool, p->t);
        tl = strlen(t);
    }
    o = out = apr_palloc(pool, hl + rl + (t ? 3 + tl : 0) + 1);
    memcpy(o, head, hl);
    o += hl;
    memcpy(o, p->r_text, rl);
    o += rl;
    if (t) {
        memcpy(o, ";t=", 3);
        memcpy(o + 3, t, tl);
        o += 3 + tl;
    }
    *o = '\0';
    return out;
}

static void set_headers(request_rec *r, req_ctx *ctx, int mode)
{
    const policy *p = (const policy *)ctx->policies->elts;
    const policy *tight = NULL;
    const char *pol = NULL, *cur = NULL;
    void (*field)(apr_table_t *, const char *, const char *);
    int i;

    if (mode == VIP_LIMIT_HDR_OFF || !ctx->policies->nelts) {
        return;
    }
    for (i = 0; i < ctx->policies->nelts; i++) {
        const char *now = current_item(r->pool, &p[i]);
        /* the policy items were made at start-up */
        const char *item = p[i].rule->policy[p[i].kind];
        pol = pol ? apr_pstrcat(r->pool, pol, ", ", item, NULL) : item;
        cur = cur ? apr_pstrcat(r->pool, cur, ", ", now, NULL) : now;
        if (!tight || p[i].r < tight->r
            || (p[i].r == tight->r && p[i].t > tight->t)) {
            tight = &p[i];
        }
    }
    /* The first time, add (as for the notes): this assumes nothing else
     * put these fields into err_headers_out before (a "Header always
     * early set RateLimit" would now appear twice). */
    field = ctx->fielded ? apr_table_setn : apr_table_addn;
    ctx->fielded = 1;
    field(r->err_headers_out, "RateLimit-Policy", pol);
    field(r->err_headers_out, "RateLimit", cur);
    if (mode == VIP_LIMIT_HDR_LEGACY) {
        field(r->err_headers_out, "RateLimit-Limit",
              u64_text(r->pool, policy_limit(tight)));
        field(r->err_headers_out, "RateLimit-Remaining", tight->r_text);
        field(r->err_headers_out, "RateLimit-Reset",
              u64_text(r->pool, tight->t));
    }
}

/* The notes name the deciding policy: the refusing one, else the one
 * with the fewest requests left. */
static void set_notes(request_rec *r, req_ctx *ctx, const policy *by,
                      const char *result)
{
    const policy *p = (const policy *)ctx->policies->elts;
    void (*note)(apr_table_t *, const char *, const char *);
    int i;

    if (!by) {
        for (i = 0; i < ctx->policies->nelts; i++) {
            if (!by || p[i].r < by->r) {
                by = &p[i];
            }
        }
    }
    if (!by) {
        return;
    }
    /* The first time, add: the vip.* notes share apr_table's key
     * checksum, so every setn would compare against all of them. */
    note = ctx->noted ? apr_table_setn : apr_table_addn;
    ctx->noted = 1;
    note(r->notes, VIP_NOTE_LIMIT, result);
    note(r->notes, VIP_NOTE_LIMIT_NAME, policy_id(by));
    note(r->notes, VIP_NOTE_LIMIT_KEY, by->key);
    note(r->notes, VIP_NOTE_LIMIT_REMAINING, by->r_text);
}

static VIP_COLD int refuse(request_rec *r, const policy *p,
                           apr_uint64_t retry_ns)
{
    static const char *const slugs[] = {
        NULL, "rate-limited", "quota-exceeded", "too-many-concurrent-requests"
    };
    apr_uint64_t retry = ceil_s(retry_ns);

    if (retry < 1) {
        retry = 1;
    }
    apr_table_setn(r->err_headers_out, "Retry-After",
                   apr_psprintf(r->pool, "%" APR_UINT64_T_FMT, retry));
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, VIPLOGNO(04011)
                  "request refused by limit %s (key %s), retry after %"
                  APR_UINT64_T_FMT " s", policy_id(p), p->key, retry);
    return vip_problem(r, HTTP_TOO_MANY_REQUESTS, slugs[p->kind],
                       "Too many requests",
                       apr_psprintf(r->pool, "Limit %s is exhausted; retry "
                                    "after %" APR_UINT64_T_FMT " s.",
                                    policy_id(p), retry));
}

static VIP_COLD int table_full(request_rec *r, const vip_limit_zone *z,
                               apr_uint64_t now)
{
    if (vip_limit_table_should_log(z->table, now, FULL_LOG_INTERVAL)) {
        vip_limit_stats st;
        vip_limit_table_stats(z->table, &st);
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, VIPLOGNO(04010)
                      "zone %s is full of live entries (%u): new keys are "
                      "%s (%" APR_UINT64_T_FMT " so far); raise entries=",
                      z->name, st.entries,
                      z->full_deny ? "refused with 503" : "not limited",
                      st.noslot);
    }
    if (!z->full_deny) {
        return OK;
    }
    apr_table_setn(r->err_headers_out, "Retry-After", "1");
    return vip_problem(r, HTTP_SERVICE_UNAVAILABLE, "limit-unavailable",
                       "Service unavailable",
                       "The server cannot take requests from new clients "
                       "right now.");
}

static apr_status_t release_slot(void *data)
{
    held_slot *h = data;

    h->store->release(h->store->ctx, h->slot);
    return APR_SUCCESS;
}

/* ---- deciding ------------------------------------------------------------ */

static int charged(const req_ctx *ctx, const char *name)
{
    int i;

    for (i = 0; i < ctx->charged->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(ctx->charged, i, const char *), name) == 0) {
            return 1;
        }
    }
    return 0;
}

static int zone_is_off(const apr_array_header_t *off, const vip_limit_zone *z)
{
    int i;

    for (i = 0; off && i < off->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(off, i, const char *), z->name) == 0) {
            return 1;
        }
    }
    return 0;
}

/* One algorithm of rule for key; OK, or the status to answer with. */
static int decide(request_rec *r, req_ctx *ctx, const vip_limit_rule *rule,
                  int kind, const char *key, apr_size_t keylen,
                  const char *keytext, apr_uint64_t now, int dry)
{
    const vip_limit_zone *z = rule->zone;
    const vip_limit_store *st = &z->store;
    apr_size_t n = rule->bucket_len + 1 + keylen;
    char *buf = apr_palloc(r->pool, n);
    vip_limit_result res;
    vip_limit_key k;
    unsigned char cid[VIP_LEASE_CID_LEN];
    policy *p;
    void *slot = NULL;
    int rv;

    memcpy(buf, rule->bucket, rule->bucket_len);
    buf[rule->bucket_len] = (char)('0' + kind);
    memcpy(buf + rule->bucket_len + 1, key, keylen);
    k.tag = vip_limit_tag(z->table, buf, n, kind);
    k.cid = NULL;
    if (z->czone) {
        /* the same counter on every node: a fixed-key hash of the same
         * bytes (the key value never reaches memcached as such) */
        vip_lease_cid(buf, n, cid);
        k.cid = cid;
    }
    res.degraded = 0;

    if (kind == VIP_LIMIT_KIND_RATE) {
        rv = st->rate(st->ctx, &k, &rule->rate, now, &res);
    }
    else if (kind == VIP_LIMIT_KIND_QUOTA) {
        rv = st->quota(st->ctx, &k, &rule->quota, now, &res);
    }
    else {
        rv = st->acquire(st->ctx, &k, rule->concurrency, now, &res, &slot);
    }
    if (res.degraded) {
        ctx->degraded = 1;
    }
    if (rv == VIP_LIMIT_NOSLOT) {
        return table_full(r, z, now);
    }
    if (slot) {
        held_slot *h = apr_palloc(r->pool, sizeof(*h));
        h->store = st;
        h->slot = slot;
        /* the request pool goes on every path: success, error, client
         * abort, upstream timeout */
        apr_pool_cleanup_register(r->pool, h, release_slot,
                                  apr_pool_cleanup_null);
    }
    p = apr_array_push(ctx->policies);
    p->kind = kind;
    p->rule = rule;
    p->key = keytext;
    p->r = res.remaining;
    p->r_text = u64_text(r->pool, p->r);
    p->t = kind == VIP_LIMIT_KIND_CONC ? 0 : ceil_s(res.reset_ns);
    if (res.allowed) {
        return OK;
    }
    if (dry) {
        ctx->dry_refused = 1;
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, VIPLOGNO(04012)
                      "dry run: limit %s would have refused the request "
                      "(key %s)", policy_id(p), p->key);
        set_notes(r, ctx, p, "dry_run");
        return OK;
    }
    set_notes(r, ctx, p, "limited");
    return refuse(r, p, res.retry_ns);
}

int vip_limit_apply(request_rec *r, const apr_array_header_t *rules,
                    int phase, const apr_array_header_t *off)
{
    const vip_limit_dir_conf *dc = NULL;
    int dry = 0;
    req_ctx *ctx = NULL;
    apr_uint64_t now = 0;
    int i, rv = OK;

    for (i = 0; rules && i < rules->nelts && rv == OK; i++) {
        const vip_limit_rule *rule = APR_ARRAY_IDX(rules, i, vip_limit_rule *);
        const char *key, *text;
        apr_size_t keylen;

        if ((phase != VIP_LIMIT_PHASE_LATE) != !!rule->early
            || !rule->zone->table || zone_is_off(off, rule->zone)) {
            continue;
        }
        if ((phase == VIP_LIMIT_PHASE_EARLY_SERVER
             || phase == VIP_LIMIT_PHASE_EARLY_DEFERRED)
            && (phase == VIP_LIMIT_PHASE_EARLY_DEFERRED)
               != vip_limit_deferred(vip_limit_srv(r->server), rule)) {
            continue;
        }
        if (!ctx) {
            /* only once a rule applies: most calls apply none */
            ctx = get_ctx(r);
            now = vip_limit_now();
            dc = vip_limit_dir(r);
            dry = vip_limit_dry_run(dc);
        }
        if (charged(ctx, rule->name)
            || !zone_key(r, rule->zone, &key, &keylen, &text)) {
            continue;
        }
        APR_ARRAY_PUSH(ctx->charged, const char *) = rule->name;
        if (rule->rate.count) {
            rv = decide(r, ctx, rule, VIP_LIMIT_KIND_RATE, key, keylen, text,
                        now, dry);
        }
        if (rv == OK && rule->concurrency) {
            rv = decide(r, ctx, rule, VIP_LIMIT_KIND_CONC, key, keylen, text,
                        now, dry);
        }
        if (rv == OK && rule->quota.limit) {
            rv = decide(r, ctx, rule, VIP_LIMIT_KIND_QUOTA, key, keylen, text,
                        now, dry);
        }
    }
    if (ctx && ctx->policies->nelts) {
        if (rv == OK && !ctx->dry_refused) {
            set_notes(r, ctx, NULL, ctx->degraded ? "degraded" : "ok");
        }
        set_headers(r, ctx, vip_limit_headers(dc));
    }
    return rv;
}
