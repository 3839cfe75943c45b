/*
 * cache_request.c - the page cache on the request path.
 *
 *   fixups   (after authentication, before mod_proxy canonicalises the
 *            upstream URL): decide whether the request may use the cache,
 *            canonicalise the query (the upstream receives the same
 *            string the key is made of), strip unkeyed headers that could
 *            change an upstream response (THREATS C1), build the key
 *            material.
 *   handler  (before mod_proxy's): one memcached round trip for the
 *            entry; a fresh hit is answered here, anything else falls
 *            through to the upstream with the save filter added.
 *   save     the response is copied as it streams (never held back) and
 *            stored at EOS when the policy allows it and it arrived whole.
 */
#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_atomic.h"
#include "apr_hash.h"
#include "apr_strings.h"

#include "mod_vip.h"
#include "vip_common.h"
#include "vip_headers.h"
#include "cache_config.h"
#include "cache_entry.h"
#include "cache_esi_filter.h"
#include "cache_esi_hint.h"
#include "cache_gen.h"
#include "cache_key.h"
#include "cache_policy.h"
#include "cache_request.h"

extern VIP_MODULE_EXPORT module AP_MODULE_DECLARE_DATA vip_cache_module;
APLOG_USE_MODULE(vip_cache);



/* The save filter's state. */
struct save_ctx {
    cache_req *q;
    int started;
    char *buf;                    /* head + body so far (malloc) */
    apr_size_t head_len, len, cap, max;
    apr_off_t content_length;     /* announced, or -1 */
    const char *key;              /* the page's key */
    char *stub;                   /* the Vary entry, or NULL */
    apr_size_t stub_len;
    apr_uint32_t exptime;
    long ttl;
    int broken;
    int stale_mode;               /* replacing a failed answer */
    vip_cache_entry e;            /* re-encoded at EOS with generations */
    apr_array_header_t *tags;     /* Surrogate-Key tags */
};

/* Request headers that reach the upstream unkeyed and are known to
 * change what frameworks generate (links, scheme, routing, method). */
static const char *const unkeyed[] = {
    "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Scheme",
    "X-Forwarded-Port", "X-Forwarded-Prefix", "X-Forwarded-Server",
    "X-Forwarded-Ssl", "Forwarded", "X-Original-URL", "X-Rewrite-URL",
    "X-Original-Host", "X-Host", "X-HTTP-Method-Override", "X-HTTP-Method",
    "X-Method-Override", NULL
};

static int is_unkeyed(const char *name)
{
    int i;

    /* all of them are X-... or Forwarded */
    if (!name || !(((name[0] == 'X' || name[0] == 'x') && name[1] == '-')
                   || name[0] == 'F' || name[0] == 'f')) {
        return 0;
    }
    for (i = 0; unkeyed[i]; i++) {
        if (strcasecmp(name, unkeyed[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Drop the unkeyed headers from t: one pass over t to see whether it
 * holds any, instead of fifteen unsets each scanning the table. */
static void strip_unkeyed(apr_table_t *t)
{
    const apr_array_header_t *arr = apr_table_elts(t);
    const apr_table_entry_t *te = (const apr_table_entry_t *)arr->elts;
    int i;

    for (i = 0; i < arr->nelts && !is_unkeyed(te[i].key); i++) {
    }
    if (i == arr->nelts) {
        return;
    }
    for (i = 0; unkeyed[i]; i++) {
        apr_table_unset(t, unkeyed[i]);
    }
}

/* Response headers never stored: hop-by-hop, recomputed, or ours. */
static int skip_header(const char *name)
{
    static const char *const skip[] = {
        "Connection", "Keep-Alive", "Transfer-Encoding", "TE", "Trailer",
        "Upgrade", "Proxy-Authenticate", "Proxy-Connection", "Content-Length",
        "Content-Type", "Age", "Cache-Status", "Date", "Surrogate-Key", NULL
    };
    int i;

    for (i = 0; skip[i]; i++) {
        if (strcasecmp(name, skip[i]) == 0) {
            return 1;
        }
    }
    return vip_header_reserved(name);
}

/* Surrogate-* fields address us, the surrogate: clients never see them.
 * Surrogate-Control stays for the ESI filter where ESI is on (it reads
 * and removes it); the stored entry keeps what it needs either way. */
static void surrogate_strip(request_rec *r)
{
    apr_table_unset(r->headers_out, "Surrogate-Key");
    apr_table_unset(r->err_headers_out, "Surrogate-Key");
    if (vip_esi_mode(vip_cache_dir(r)) == VIP_ESI_OFF) {
        apr_table_unset(r->headers_out, "Surrogate-Control");
        apr_table_unset(r->err_headers_out, "Surrogate-Control");
    }
}

static void count(volatile apr_uint64_t *c)
{
    apr_atomic_inc64(c);
}

static void set_status(request_rec *r, const char *value)
{
    apr_table_setn(r->err_headers_out, "Cache-Status", value);
}

static void bypass(request_rec *r, const char *detail)
{
    apr_table_setn(r->notes, VIP_NOTE_CACHE, "bypass");
    set_status(r, apr_pstrcat(r->pool, "vip; fwd=bypass; detail=", detail,
                              NULL));
    count(&vip_cache_counters_get()->bypasses);
}

/* ---- fixups -------------------------------------------------------------- */

char *vip_cache_material(request_rec *r, const char *scope, const char *path,
                         const char *query)
{
    vip_cache_key_in in;

    in.method = "GET";
    in.scheme = ap_http_scheme(r);
    /* The virtual host's canonical name and port (nodes behind one load
     * balancer share them, so they share entries), and the Host as
     * httpd normalised it: mod_proxy forwards that as X-Forwarded-Host,
     * so it can change a response. */
    in.host = apr_pstrcat(r->pool, r->server->server_hostname, "|",
                          r->hostname ? r->hostname : "", NULL);
    in.port = r->server->port ? r->server->port
              : r->connection->local_addr ? r->connection->local_addr->port
              : 0;
    in.path = path;
    in.query = query;
    in.scope = scope;
    return vip_cache_key_material(r->pool, &in);
}

const char *vip_cache_url_tag(apr_pool_t *p, const char *material)
{
    /* 64 bits name the URL among its scope's.  A non-cryptographic hash
     * is enough here (the entry key stays SHA-256): two URLs sharing a
     * tag only share a purge generation, so a collision can over-purge
     * but never serve one URL's page for another. */
    return apr_psprintf(p, "~u%016" APR_UINT64_T_HEX_FMT,
                        vip_xxh64(material, strlen(material)));
}

int vip_cache_fixups(request_rec *r)
{
    const vip_cache_dir_conf *dc = vip_cache_dir(r);
    cache_req *q;
    vip_cache_key_in in;
    const char *tenant, *route, *service;

    if (!vip_cache_enabled(dc) || r->prev
        || (r->main && !vip_esi_fragment_request(r))) {
        return DECLINED;
    }
    /* Whatever happens next, the upstream never sees these. */
    strip_unkeyed(r->headers_in);
    if (r->method_number != M_GET) {
        bypass(r, "method");
        return DECLINED;
    }
    q = apr_pcalloc(r->pool, sizeof(*q));
    memset(&in, 0, sizeof(in));
    tenant = apr_table_get(r->notes, VIP_NOTE_TENANT);
    if (vip_cache_shared(dc)) {
        in.scope = "shared";
    }
    else if (tenant) {
        in.scope = apr_pstrcat(r->pool, "t:", tenant, NULL);
    }
    else {
        in.scope = "public";
        /* A request that may be personal (a user, credentials, cookies)
         * is stored for everyone only when the response says it may be
         * (public, s-maxage: RFC 9111 3.5); it may still be answered
         * from a public entry. */
        q->credentials = r->user != NULL
            || apr_table_get(r->headers_in, "Authorization") != NULL
            || apr_table_get(r->headers_in, "X-Api-Key") != NULL
            || apr_table_get(r->headers_in, "Cookie") != NULL;
    }
    /* The upstream gets exactly the query the key holds. */
    in.query = vip_cache_query(r->pool, r->args, dc->ignore);
    r->args = (char *)in.query;
    q->scope = in.scope;
    q->gen_key = vip_gen_key(r->pool, in.scope, NULL);
    q->material = vip_cache_material(r, in.scope, r->uri, in.query);
    q->url_tag = vip_cache_url_tag(r->pool, q->material);
    q->url_gen_key = q->url_tag ? vip_gen_key(r->pool, in.scope, q->url_tag)
                                : NULL;
    /* One URL can be answered by different upstreams (canary splits,
     * header routes, tenant pins, plan routes): each route and service
     * keeps its own entry.  Runs after mod_vip_route's fixups, where
     * routes with identity conditions are chosen. */
    route = apr_table_get(r->notes, VIP_NOTE_ROUTE);
    service = apr_table_get(r->notes, VIP_NOTE_SERVICE);
    q->material = vip_cache_key_append(r->pool, q->material,
                      route || service
                      ? apr_pstrcat(r->pool, route ? route : "", "|",
                                    service ? service : "", NULL)
                      : NULL);
    if (tenant && vip_cache_per_subject(dc)) {
        /* One entry per caller within the tenant (THREATS C7); the scope
         * stays the tenant's, so a tenant purge reaches them all. */
        const char *sub = apr_table_get(r->notes, VIP_NOTE_SUBJECT);
        q->material = vip_cache_key_append(r->pool, q->material,
                                           apr_pstrcat(r->pool, "sub:",
                                                       sub ? sub : "", NULL));
    }
    q->key = q->url_gen_key ? vip_cache_key_hash(r->pool, q->material) : NULL;
    if (!q->key) {
        bypass(r, "key");
        return DECLINED;
    }
    ap_set_module_config(r->request_config, &vip_cache_module, q);
    return DECLINED;
}

/* ---- the hit ------------------------------------------------------------- */

static const char *req_header(void *ctx, const char *name)
{
    return apr_table_get(((request_rec *)ctx)->headers_in, name);
}

int vip_cache_serve(request_rec *r, vip_cache_entry *e, vip_store_value *v,
                    const char *key, apr_int64_t now, const char *status)
{
    apr_bucket_brigade *bb;
    apr_int64_t left = e->fresh_until - now;
    const char *ttl;
    int cond;

    r->status = e->status;
    r->status_line = NULL;
    vip_cache_restore_headers(r, e);
    surrogate_strip(r);
    /* apr_off_t_toa, not apr_psprintf: this runs on every hit */
    ttl = apr_off_t_toa(r->pool, (apr_off_t)left);
    apr_table_setn(r->headers_out, "Age",
                   apr_off_t_toa(r->pool, now > e->stored_at
                                          ? (apr_off_t)(now - e->stored_at)
                                          : 0));
    set_status(r, status ? status
                         : apr_pstrcat(r->pool, "vip; hit; ttl=", ttl, NULL));
    apr_table_setn(r->notes, VIP_NOTE_CACHE, left >= 0 ? "hit" : "stale");
    apr_table_setn(r->notes, VIP_NOTE_CACHE_KEY, key);
    apr_table_setn(r->notes, VIP_NOTE_CACHE_TTL, ttl);
    count(left >= 0 ? &vip_cache_counters_get()->hits
                    : &vip_cache_counters_get()->stale);
    if (e->status == HTTP_OK && (cond = ap_meets_conditions(r)) != OK) {
        return cond;
    }
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    if (e->status != HTTP_NO_CONTENT) {
        ap_set_content_length(r, (apr_off_t)e->body_len);
    }
    if (e->body_len && !r->header_only) {
        APR_BRIGADE_INSERT_TAIL(bb, vip_store_value_bucket(v, e->body_off,
                                e->body_len, r->connection->bucket_alloc));
    }
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(bb->bucket_alloc));
    return ap_pass_brigade_fchk(r, bb, NULL);
}

/* Decode v; a bad entry is a miss (counted, logged at info). */
static int decode(request_rec *r, vip_store_value *v, vip_cache_entry *e)
{
    const char *why;

    if (vip_entry_decode(r->pool, v->data, v->len, e, &why) != APR_SUCCESS) {
        count(&vip_cache_counters_get()->corrupt);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, VIPLOGNO(03003)
                      "cache entry unusable (%s): treated as a miss", why);
        return 0;
    }
    return 1;
}

void vip_cache_restore_headers(request_rec *r, const vip_cache_entry *e)
{
    int i;

    for (i = 0; i < e->headers->nelts; i++) {
        const vip_entry_header *h = &APR_ARRAY_IDX(e->headers, i,
                                                   vip_entry_header);
        /* httpd keeps the content type apart from headers_out */
        if (strcasecmp(h->name, "Content-Type") == 0) {
            ap_set_content_type(r, h->value);
        }
        else {
            apr_table_addn(r->headers_out, h->name, h->value);
        }
    }
}

/* e decoded from v, a Vary entry: the page it leads to, into e and v. */
static apr_status_t follow_vary(request_rec *r, vip_store *st, cache_req *q,
                                vip_cache_entry *e, vip_store_value *v,
                                const char **key)
{
    apr_status_t rv;

    /* The names the resource varies on make the page's key. */
    *key = vip_cache_key_hash(r->pool,
               vip_cache_key_vary(r->pool, q->material, e->vary,
                                  req_header, r));
    rv = *key ? vip_store_get(st, r->pool, *key, v) : APR_EGENERAL;
    if (rv == APR_SUCCESS && !(decode(r, v, e) && e->kind == VIP_ENTRY_PAGE)) {
        rv = APR_NOTFOUND;
    }
    return rv;
}

apr_status_t vip_cache_page_of(request_rec *r, vip_store *st, cache_req *q,
                               vip_cache_entry *e, vip_store_value *v,
                               const char **key)
{
    *key = q->key;
    if (!v->data || !decode(r, v, e)) {
        return APR_NOTFOUND;
    }
    return e->kind == VIP_ENTRY_VARY ? follow_vary(r, st, q, e, v, key)
                                     : APR_SUCCESS;
}

/* The generation fetched for key, from the multi-get's answers. */
static int gen_of(const char *const *keys, const vip_store_value *vals, int n,
                  const char *key, apr_uint64_t *gen)
{
    int i;

    for (i = 0; i < n; i++) {
        if (strcmp(keys[i], key) == 0) {
            return vip_store_counter(&vals[i], gen);
        }
    }
    return -1;                    /* not asked */
}

/* 1 when every tag of e still has the generation it was stored with.
 * Tags the first multi-get did not ask for (the hint did not know the
 * entry) cost one more round trip; the hint learns them. */
static int tags_current(request_rec *r, vip_store *st, cache_req *q,
                        const char *key, const vip_cache_entry *e,
                        const char *const *keys, const vip_store_value *vals,
                        int n, apr_status_t *rv)
{
    const char **missing = apr_palloc(r->pool, sizeof(char *)
                                      * (size_t)(e->tags->nelts + 1));
    apr_uint64_t *want = apr_palloc(r->pool, sizeof(apr_uint64_t)
                                    * (size_t)(e->tags->nelts + 1));
    apr_array_header_t *names = apr_array_make(r->pool, e->tags->nelts,
                                               sizeof(const char *));
    int i, nm = 0, ok = 1;

    *rv = APR_SUCCESS;
    for (i = 0; i < e->tags->nelts; i++) {
        const vip_entry_tag *t = &APR_ARRAY_IDX(e->tags, i, vip_entry_tag);
        const char *gk = vip_gen_key(r->pool, q->scope, t->name);
        apr_uint64_t g;
        int got = gen_of(keys, vals, n, gk, &g);
        APR_ARRAY_PUSH(names, const char *) = t->name;
        if (got < 0) {
            missing[nm] = gk;
            want[nm++] = t->gen;
        }
        else if (!got || g != t->gen) {
            ok = 0;
        }
    }
    if (nm && ok) {
        vip_store_value *v = apr_pcalloc(r->pool, sizeof(*v) * (size_t)nm);
        *rv = vip_store_mget(st, r->pool, missing, nm, v);
        if (*rv != APR_SUCCESS) {
            return 0;
        }
        for (i = 0; i < nm; i++) {
            apr_uint64_t g;
            if (!vip_store_counter(&v[i], &g) || g != want[i]) {
                ok = 0;
            }
        }
    }
    if (nm) {
        vip_gen_hint_put(key, names);
    }
    return ok;
}

int vip_cache_entry_current(request_rec *r, vip_store *st, cache_req *q,
                            const char *key, const vip_cache_entry *e)
{
    int nt = e->tags->nelts, n = 0, i;
    const char **keys = apr_palloc(r->pool, sizeof(char *) * (size_t)(nt + 1));
    vip_store_value *vals;
    apr_uint64_t g;

    (void)key;
    /* The scope's generation as the lookup read it; when memcached had
     * none then (restarted empty), as it is now: the fetcher created it.
     * Read in the same multi-get as the tags' generations. */
    if (q->scope_gen_known) {
        if (e->tenant_gen != q->scope_gen) {
            return 0;
        }
    }
    else {
        keys[n++] = q->gen_key;
    }
    for (i = 0; i < nt; i++) {
        keys[n++] = vip_gen_key(r->pool, q->scope,
                                APR_ARRAY_IDX(e->tags, i, vip_entry_tag).name);
    }
    if (!n) {
        return 1;
    }
    vals = apr_palloc(r->pool, sizeof(*vals) * (size_t)n);
    if (vip_store_mget(st, r->pool, keys, n, vals) != APR_SUCCESS) {
        return 0;
    }
    n = 0;
    if (!q->scope_gen_known
        && (!vip_store_counter(&vals[n++], &g) || g != e->tenant_gen)) {
        return 0;
    }
    for (i = 0; i < nt; i++) {
        if (!vip_store_counter(&vals[n++], &g)
            || g != APR_ARRAY_IDX(e->tags, i, vip_entry_tag).gen) {
            return 0;
        }
    }
    return 1;
}

int vip_cache_handler(request_rec *r)
{
    cache_req *q = ap_get_module_config(r->request_config, &vip_cache_module);
    vip_store *st;
    vip_store_value *vals, v;
    vip_cache_entry e;
    apr_array_header_t *hinted;
    const char **keys;
    const char *fwd = "uri-miss", *key;
    apr_int64_t now = (apr_int64_t)apr_time_sec(r->request_time);
    const char **frag;
    apr_status_t rv;
    int n = 3, i, nfirst, nfrag = 0;

    if (!q || q->lookup_done) {
        return DECLINED;
    }
    q->lookup_done = 1;
    if (!(st = vip_cache_store_for(r->server))) {
        bypass(r, "no-store");
        return DECLINED;
    }
    /* One multi-get: the entry, its scope's generation, its URL's, and
     * the generations of the tags this process has seen on it. */
    hinted = vip_gen_hint_get(r->pool, q->key);
    /* An ESI page: the keys its fragments were looked up with last time
     * ride along (cache_esi_hint.h), for the ESI filter to find. */
    frag = !r->header_only && vip_esi_mode(vip_cache_dir(r)) != VIP_ESI_OFF
           ? vip_esi_hint_get(r->pool, q->key, &nfrag) : NULL;
    keys = apr_palloc(r->pool, sizeof(char *)
                      * (size_t)(3 + (hinted ? hinted->nelts : 0) + nfrag));
    keys[0] = q->key;
    keys[1] = q->gen_key;
    keys[2] = q->url_gen_key;
    for (i = 0; hinted && i < hinted->nelts; i++) {
        const char *tag = APR_ARRAY_IDX(hinted, i, const char *);
        if (tag[0] != '~') {      /* the URL's is asked for already */
            keys[n++] = vip_gen_key(r->pool, q->scope, tag);
        }
    }
    nfirst = n;
    for (i = 0; i < nfrag; i++) {
        keys[n++] = frag[i];
    }
    vals = apr_palloc(r->pool, sizeof(*vals) * (size_t)n);
    rv = vip_store_mget(st, r->pool, keys, n, vals);
    if (rv == APR_SUCCESS && nfrag) {
        q->prefetch = apr_hash_make(r->pool);
        for (i = nfirst; i < n; i++) {
            apr_hash_set(q->prefetch, keys[i], APR_HASH_KEY_STRING, &vals[i]);
        }
    }
    n = nfirst;
    if (rv == APR_SUCCESS) {
        q->lookup_keys = keys;
        q->lookup_vals = vals;
        q->lookup_n = nfirst;
        q->scope_gen_known = vip_store_counter(&vals[1], &q->scope_gen);
        q->url_gen_known = vip_store_counter(&vals[2], &q->url_gen);
        v = vals[0];
        rv = v.data ? APR_SUCCESS : APR_NOTFOUND;
    }
    key = q->key;
    if (rv == APR_SUCCESS && decode(r, &v, &e)) {
        if (e.kind == VIP_ENTRY_VARY) {
            fwd = "vary-miss";
            rv = follow_vary(r, st, q, &e, &v, &key);
        }
        if (rv == APR_SUCCESS) {
            fwd = "miss";
            /* Purged (or its generation evicted): a miss. */
            if (q->scope_gen_known && e.tenant_gen == q->scope_gen
                && (!e.tags->nelts
                    || tags_current(r, st, q, key, &e, keys, vals, n, &rv))) {
                if (now < e.fresh_until) {
                    return vip_cache_serve(r, &e, &v, key, now, NULL);
                }
                fwd = "stale";
                if (now < e.stale_until || now < e.error_until) {
                    /* kept for stale-while-revalidate / -if-error */
                    q->has_stale = 1;
                    q->stale = e;
                    q->stale_v = v;
                    q->stale_key = key;
                }
            }
        }
    }
    else if (rv == APR_SUCCESS) {
        fwd = "miss";
    }
    if (rv != APR_SUCCESS && rv != APR_NOTFOUND) {
        vip_cache_store_warn(r, "lookup");
        apr_table_setn(r->notes, VIP_NOTE_CACHE, "error");
        set_status(r, "vip; fwd=bypass; detail=store-unavailable");
        count(&vip_cache_counters_get()->bypasses);
        return DECLINED;
    }
    /* One request across the cluster fetches; the others serve stale or
     * wait a little for its entry. */
    if ((i = vip_cache_collapse(r, st, q, now)) != DECLINED) {
        return i;
    }
    count(&vip_cache_counters_get()->misses);
    apr_table_setn(r->notes, VIP_NOTE_CACHE, "miss");
    apr_table_setn(r->notes, VIP_NOTE_CACHE_KEY, q->key);
    set_status(r, apr_pstrcat(r->pool, "vip; fwd=", fwd, NULL));
    /* HEAD reads GET's entry but never creates one (THREATS C12). */
    if (!r->header_only) {
        save_ctx *s = apr_pcalloc(r->pool, sizeof(*s));
        if (!q->url_gen_known || !q->scope_gen_known) {
            /* Generations are read (created when absent) before the
             * upstream is asked, so a purge while it answers is not
             * undone by its answer. */
            const char *gk[2];
            apr_uint64_t g[2];
            int ng = 0;
            if (!q->scope_gen_known) {
                gk[ng++] = q->gen_key;
            }
            if (!q->url_gen_known) {
                gk[ng++] = q->url_gen_key;
            }
            if (vip_gen_current(st, r->pool, gk, ng, g) == APR_SUCCESS) {
                ng = 0;
                if (!q->scope_gen_known) {
                    q->scope_gen = g[ng++];
                    q->scope_gen_known = 1;
                }
                if (!q->url_gen_known) {
                    q->url_gen = g[ng];
                    q->url_gen_known = 1;
                }
            }
        }
        s->q = q;
        ap_add_output_filter(VIP_CACHE_SAVE_FILTER, s, r, r->connection);
    }
    return DECLINED;
}

/* ---- the save filter ----------------------------------------------------- */


static apr_status_t buf_cleanup(void *data)
{
    save_ctx *s = data;

    free(s->buf);
    s->buf = NULL;
    return APR_SUCCESS;
}

static int grow(save_ctx *s, apr_size_t want)
{
    char *nb;
    apr_size_t cap = s->cap ? s->cap : 16384;

    while (cap < want) {
        cap *= 2;
    }
    if (cap == s->cap) {
        return 1;
    }
    if (!(nb = realloc(s->buf, cap))) {
        return 0;
    }
    s->buf = nb;
    s->cap = cap;
    return 1;
}

static void uncacheable(request_rec *r, const char *fwd_status,
                        const char *reason)
{
    apr_table_setn(r->notes, VIP_NOTE_CACHE, "uncacheable");
    set_status(r, apr_pstrcat(r->pool, fwd_status, "; detail=", reason, NULL));
    count(&vip_cache_counters_get()->uncacheable);
}

/* First call: headers are final for this filter.  Decide, and build the
 * entry's head; NULL when the response is not to be stored. */
static int save_start(ap_filter_t *f, save_ctx *s)
{
    request_rec *r = f->r;
    const vip_cache_dir_conf *dc = vip_cache_dir(r);
    cache_req *q = s->q;
    const char *fwd = apr_table_get(r->err_headers_out, "Cache-Status");
    vip_policy_in in;
    vip_policy_out out;
    vip_cache_entry e;
    apr_array_header_t *names;
    const apr_array_header_t *arr;
    const apr_table_entry_t *te;
    const char *cl;
    char *head;
    int i;

    fwd = fwd ? fwd : "vip; fwd=miss";
    memset(&in, 0, sizeof(in));
    in.status = r->status;
    in.cache_control = apr_table_getm(r->pool, r->headers_out, "Cache-Control");
    in.surrogate_control = apr_table_get(r->headers_out, "Surrogate-Control");
    in.expires = apr_table_get(r->headers_out, "Expires");
    in.date = apr_table_get(r->headers_out, "Date");
    in.vary = apr_table_getm(r->pool, r->headers_out, "Vary");
    in.set_cookie = apr_table_get(r->headers_out, "Set-Cookie")
                    || apr_table_get(r->err_headers_out, "Set-Cookie");
    in.credentials = q->credentials;
    in.now = (apr_int64_t)apr_time_sec(r->request_time);
    in.default_ttl = vip_cache_default_ttl(dc);
    in.min_ttl = vip_cache_min_ttl(dc);
    in.max_ttl = vip_cache_max_ttl(dc);
    in.ttl_404 = vip_cache_ttl_404(dc);
    in.store_cookies = vip_cache_store_cookies(dc);
    vip_policy_decide(&in, &out);
    if (!out.storable) {
        uncacheable(r, fwd, out.reason);
        return 0;
    }
    if (apr_table_get(r->headers_out, "Content-Range")) {
        uncacheable(r, fwd, "partial");
        return 0;
    }
    s->max = vip_cache_max_size(dc);
    s->content_length = -1;
    if ((cl = apr_table_get(r->headers_out, "Content-Length"))) {
        char *end;
        if (apr_strtoff(&s->content_length, cl, &end, 10) != APR_SUCCESS
            || *end || s->content_length < 0) {
            uncacheable(r, fwd, "bad-content-length");
            return 0;
        }
        if ((apr_size_t)s->content_length > s->max) {
            uncacheable(r, fwd, "too-big");
            return 0;
        }
    }

    memset(&e, 0, sizeof(e));
    e.kind = VIP_ENTRY_PAGE;
    e.status = r->status;
    e.stored_at = in.now;
    e.fresh_until = in.now + out.ttl;
    e.stale_until = e.fresh_until + out.swr;
    e.error_until = e.fresh_until + out.sie;
    names = apr_array_make(r->pool, 2, sizeof(const char *));
    if (in.vary && vip_cache_vary_names(r->pool, in.vary, names) < 0) {
        uncacheable(r, fwd, "bad-vary");
        return 0;
    }
    e.vary = names;
    /* Tags for purging; the client never sees them. */
    s->tags = apr_array_make(r->pool, 4, sizeof(const char *));
    if ((cl = apr_table_getm(r->pool, r->headers_out, "Surrogate-Key"))
        && vip_gen_parse_tags(r->pool, cl, s->tags) < 0) {
        uncacheable(r, fwd, "bad-surrogate-key");
        return 0;
    }
    apr_table_unset(r->headers_out, "Surrogate-Key");
    e.tags = apr_array_make(r->pool, s->tags->nelts + 1, sizeof(vip_entry_tag));
    for (i = 0; i < s->tags->nelts; i++) {
        vip_entry_tag *t = apr_array_push(e.tags);
        t->name = APR_ARRAY_IDX(s->tags, i, const char *);
        t->gen = 0;               /* known at EOS */
    }
    {
        /* Every entry carries its URL's implicit tag: a URL purge is one
         * increment that reaches every route, service and Vary variant. */
        vip_entry_tag *t = apr_array_push(e.tags);
        t->name = q->url_tag;
        t->gen = 0;
    }
    e.headers = apr_array_make(r->pool, 16, sizeof(vip_entry_header));
    arr = apr_table_elts(r->headers_out);
    te = (const apr_table_entry_t *)arr->elts;
    for (i = 0; i < arr->nelts; i++) {
        vip_entry_header *h;
        if (!te[i].key || skip_header(te[i].key)) {
            continue;
        }
        h = apr_array_push(e.headers);
        h->name = te[i].key;
        h->value = te[i].val;
    }
    if (r->content_type) {
        /* httpd keeps it apart from headers_out; so does the hit. */
        vip_entry_header *h = apr_array_push(e.headers);
        h->name = "Content-Type";
        h->value = r->content_type;
    }
    s->ttl = out.ttl;
    s->exptime = (apr_uint32_t)(out.ttl + (out.swr > out.sie ? out.swr
                                                             : out.sie));
    s->key = q->key;
    if (names->nelts) {
        vip_cache_entry stub;
        memset(&stub, 0, sizeof(stub));
        stub.kind = VIP_ENTRY_VARY;
        stub.status = r->status;
        stub.stored_at = e.stored_at;
        stub.fresh_until = e.fresh_until;
        stub.stale_until = e.stale_until;
        stub.error_until = e.error_until;
        stub.vary = names;
        s->stub = vip_entry_encode(r->pool, &stub, NULL, 0, &s->stub_len);
        s->key = vip_cache_key_hash(r->pool,
                     vip_cache_key_vary(r->pool, q->material, names,
                                        req_header, r));
        if (!s->key) {
            uncacheable(r, fwd, "key");
            return 0;
        }
    }
    s->e = e;
    head = vip_entry_encode_head(r->pool, &e, &s->head_len);
    if (!grow(s, s->head_len + (s->content_length > 0
                                ? (apr_size_t)s->content_length : 0))) {
        free(s->buf);
        uncacheable(r, fwd, "memory");
        return 0;
    }
    apr_pool_cleanup_register(r->pool, s, buf_cleanup, apr_pool_cleanup_null);
    memcpy(s->buf, head, s->head_len);
    s->len = s->head_len;
    set_status(r, apr_pstrcat(r->pool, fwd, "; stored", NULL));
    return 1;
}

/* Write the current generations of the scope and the tags into the
 * entry's head (same length: only 8-byte values change). */
static apr_status_t stamp_generations(request_rec *r, vip_store *st,
                                      save_ctx *s)
{
    cache_req *q = s->q;
    int n = 0, i, nt = s->e.tags->nelts;
    const char **keys = apr_palloc(r->pool, sizeof(char *) * (size_t)(nt + 1));
    apr_uint64_t *gens = apr_palloc(r->pool, sizeof(apr_uint64_t)
                                    * (size_t)(nt + 1));
    int *at = apr_palloc(r->pool, sizeof(int) * (size_t)(nt + 1));
    apr_size_t hl;
    char *head;
    apr_status_t rv;

    if (!q->scope_gen_known) {
        keys[n++] = q->gen_key;
    }
    /* The generations as the lookup read them, before the upstream was
     * asked: a purge while it answered leaves this entry stale at once.
     * That covers the scope, the URL and the tags the lookup knew from
     * this process's hint; a tag first seen in this answer is read now. */
    for (i = 0; i < nt; i++) {
        vip_entry_tag *t = &APR_ARRAY_IDX(s->e.tags, i, vip_entry_tag);
        const char *gk;
        at[i] = -1;
        if (q->url_gen_known && strcmp(t->name, q->url_tag) == 0) {
            t->gen = q->url_gen;
            continue;
        }
        gk = vip_gen_key(r->pool, q->scope, t->name);
        if (gen_of(q->lookup_keys, q->lookup_vals, q->lookup_n, gk,
                   &t->gen) == 1) {
            continue;
        }
        at[i] = n;
        keys[n++] = gk;
    }
    if (n && (rv = vip_gen_current(st, r->pool, keys, n, gens)) != APR_SUCCESS) {
        return rv;
    }
    s->e.tenant_gen = q->scope_gen_known ? q->scope_gen : gens[0];
    for (i = 0; i < nt; i++) {
        if (at[i] >= 0) {
            APR_ARRAY_IDX(s->e.tags, i, vip_entry_tag).gen = gens[at[i]];
        }
    }
    head = vip_entry_encode_head(r->pool, &s->e, &hl);
    if (hl != s->head_len) {
        return APR_EGENERAL;
    }
    memcpy(s->buf, head, hl);
    if (nt) {
        vip_gen_hint_put(s->key, s->tags);
    }
    return APR_SUCCESS;
}

static void save_end(request_rec *r, save_ctx *s)
{
    vip_store *st = vip_cache_store_for(r->server);
    apr_size_t body = s->len - s->head_len;
    apr_status_t rv;

    /* The client saw "stored" with the headers; the note tells the end. */
    if (s->broken || r->connection->aborted
        || (s->content_length >= 0 && (apr_off_t)body != s->content_length)) {
        apr_table_setn(r->notes, VIP_NOTE_CACHE, "uncacheable");
        count(&vip_cache_counters_get()->uncacheable);
        return;
    }
    if ((rv = stamp_generations(r, st, s)) != APR_SUCCESS) {
        vip_cache_store_warn(r, "generation read");
        apr_table_setn(r->notes, VIP_NOTE_CACHE, "error");
        count(&vip_cache_counters_get()->store_errors);
        return;
    }
    vip_entry_finish(s->buf, s->head_len, s->len);
    rv = vip_store_set(st, r->pool, s->key, s->buf, s->len, s->exptime);
    if (rv == APR_SUCCESS && s->stub) {
        rv = vip_store_set(st, r->pool, s->q->key, s->stub, s->stub_len,
                           s->exptime);
    }
    if (rv != APR_SUCCESS) {
        vip_cache_store_warn(r, "store");
        apr_table_setn(r->notes, VIP_NOTE_CACHE, "error");
        count(&vip_cache_counters_get()->store_errors);
        return;
    }
    vip_cache_unlock(r, s->q);
    count(&vip_cache_counters_get()->stores);
    apr_table_setn(r->notes, VIP_NOTE_CACHE, "stored");
    apr_table_setn(r->notes, VIP_NOTE_CACHE_KEY, s->key);
    apr_table_setn(r->notes, VIP_NOTE_CACHE_TTL,
                   apr_psprintf(r->pool, "%ld", s->ttl));
}

apr_status_t vip_cache_save_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    save_ctx *s;
    apr_bucket *b;
    apr_status_t rv;
    int eos = 0;

    s = f->ctx;
    if (s->stale_mode) {
        return vip_cache_stale_pass(f, s->q, bb);
    }
    if (!s->started) {
        /* The first call sees the final status and headers. */
        s->started = 1;
        if (r->status >= 500 && vip_cache_stale_on_error(r, s->q, r->status)) {
            /* The upstream failed: its answer is replaced by the stale
             * entry, and nothing is stored. */
            s->stale_mode = 1;
            return vip_cache_stale_pass(f, s->q, bb);
        }
        if (!save_start(f, s)) {
            surrogate_strip(r);
            vip_cache_unlock(r, s->q);
            ap_remove_output_filter(f);
            return ap_pass_brigade(f->next, bb);
        }
        surrogate_strip(r);
    }
    for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);
         b = APR_BUCKET_NEXT(b)) {
        const char *data;
        apr_size_t n;
        if (APR_BUCKET_IS_EOS(b)) {
            eos = 1;
            break;
        }
        if (AP_BUCKET_IS_ERROR(b)) {
            /* mod_proxy's sign of an upstream that broke mid-body */
            s->broken = 1;
            continue;
        }
        if (APR_BUCKET_IS_METADATA(b) || s->broken) {
            continue;
        }
        if (apr_bucket_read(b, &data, &n, APR_BLOCK_READ) != APR_SUCCESS) {
            s->broken = 1;
            continue;
        }
        if (s->len - s->head_len + n > s->max) {
            apr_table_setn(r->notes, VIP_NOTE_CACHE, "uncacheable");
            s->broken = 1;
            continue;
        }
        if (!grow(s, s->len + n)) {
            s->broken = 1;
            continue;
        }
        memcpy(s->buf + s->len, data, n);
        s->len += n;
    }
    rv = ap_pass_brigade(f->next, bb);
    if (eos || s->broken) {
        /* After the response went on: the client never waits for it. */
        save_end(r, s);
        ap_remove_output_filter(f);
    }
    return rv;
}

/* ---- for the ESI filter -------------------------------------------------- */

int vip_cache_req_view(const request_rec *r, vip_cache_view *v)
{
    const cache_req *q = ap_get_module_config(r->request_config,
                                              &vip_cache_module);

    if (!q || q->lookup_done) {
        return 0;
    }
    v->material = q->material;
    v->key = q->key;
    v->scope = q->scope;
    v->gen_key = q->gen_key;
    v->url_gen_key = q->url_gen_key;
    return 1;
}

const char *vip_cache_page_key(const request_rec *r)
{
    const cache_req *q = ap_get_module_config(r->request_config,
                                              &vip_cache_module);

    return q && q->lookup_done ? q->key : NULL;
}

const vip_store_value *vip_cache_prefetched(const request_rec *r,
                                            const char *key)
{
    const cache_req *q = ap_get_module_config(r->request_config,
                                              &vip_cache_module);

    return q && q->prefetch ? apr_hash_get(q->prefetch, key,
                                           APR_HASH_KEY_STRING) : NULL;
}
