/*
 * cache_esi_filter.c - the ESI output filter (docs/esi.md section 6).
 *
 * Per page: the body is held back and parsed as it streams (the parser in
 * cache_esi.c, buckets set aside so its zero-copy spans stay valid); at
 * EOS every include is resolved (src policy, loop and depth check) and
 * looked up as a GET subrequest, which gives the fragment's cache key
 * exactly as the page cache builds it for that URI (fixups of the
 * fragment's own location, identity inherited from the page); all keys
 * and the generations they need go into ONE memcached multi-get; fresh
 * entries are inserted as they are, the rest run as subrequests whose
 * output a capture filter collects (and the page cache stores).  Nothing
 * is sent before all fragments are in, so a failed include without
 * onerror="continue" can still turn the page into a 502 problem.
 *
 * The page cache's save filter sits before this one (AP_FTYPE_RESOURCE -
 * 1 < AP_FTYPE_RESOURCE), so a page is stored with its markup and
 * assembled again on every hit.
 */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_atomic.h"
#include "apr_hash.h"
#include "apr_lib.h"
#include "apr_strings.h"

#include <json-c/json.h>

#include "mod_vip.h"
#include "vip_common.h"
#include "vip_problem.h"
#include "cache_config.h"
#include "cache_entry.h"
#include "cache_esi.h"
#include "cache_esi_filter.h"
#include "cache_esi_hint.h"
#include "cache_gen.h"
#include "cache_key.h"
#include "cache_request.h"

extern VIP_MODULE_EXPORT module AP_MODULE_DECLARE_DATA vip_cache_module;
APLOG_USE_MODULE(vip_cache);

/* On the page while its fragments are looked up and run: tells the page
 * cache's fixups that the subrequest is a fragment. */
#define NOTE_FETCHING "vip.esi_fetching"
/* On a page that failed: the error hook gives it the problem body. */
#define NOTE_FAILED   "vip.esi_failed"

/* ---- counters and logs --------------------------------------------------- */

static vip_esi_counters *esi_counters(void)
{
    return &vip_cache_counters_get()->esi;
}

static void add(volatile apr_uint64_t *c, apr_uint64_t n)
{
    if (n) {
        apr_atomic_add64(c, n);
    }
}

void vip_esi_status_add(void *json_obj)
{
    json_object *o = json_obj;
    vip_esi_counters *c = esi_counters();

#define ADD(name, f) json_object_object_add(o, "esi_" name, \
        json_object_new_int64((int64_t)apr_atomic_read64(&c->f)))
    ADD("pages", pages);
    ADD("includes", includes);
    ADD("hits", hits);
    ADD("misses", misses);
    ADD("errors", errors);
    ADD("failed_pages", failed_pages);
    ADD("limits", limits);
    ADD("markup_errors", markup_errors);
    ADD("unprocessed", unprocessed);
#undef ADD
}

/* A src for a log line: at most 64 printable bytes, never the markup. */
static const char *loggable(apr_pool_t *p, const char *s)
{
    char *out = apr_palloc(p, 68);
    int i;

    for (i = 0; s && s[i] && i < 64; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    out[i] = '\0';
    if (s && s[i]) {
        strcpy(out + i, "...");
    }
    return out;
}

/* ---- per page ------------------------------------------------------------ */

enum { INC_PENDING = 0, INC_OK, INC_FAILED, INC_EMPTY };

typedef struct {
    const vip_esi_event *ev;
    const char *uri;              /* resolved src (or alt) */
    const char *why;              /* why it failed */
    request_rec *rr;              /* looked up, not yet run */
    vip_cache_view view;
    int has_view;
    int slot;                     /* its entry in the multi-get, or -1 */
    vip_cache_entry e;
    vip_store_value v;
    int state;
    int hit;
    int tried_alt;
    apr_bucket_brigade *body;
} esi_inc;

typedef struct {
    const char *ae;               /* the client's Accept-Encoding */
    int started;
    int too_big, broken;
    apr_size_t size, max_page;
    apr_bucket_brigade *held;     /* the page's buckets, set aside */
    vip_esi_parser *ps;
    vip_esi_doc *doc;
    /* at EOS */
    apr_time_t deadline;
    apr_size_t bytes, max_bytes;
    const char *limit;            /* the first limit hit */
    const char *spent;            /* the time or byte budget is spent */
    const char **chain;           /* the page and its ancestors' URIs */
    int chain_len, depth;         /* ... and the depth cap, once a page */
    int hits, misses, errors;
} esi_ctx;

typedef struct {
    apr_pool_t *pool;             /* the page's pool */
    apr_bucket_brigade *bb;
    apr_size_t len, room;
    int started, failed;
    const char *why;
} capture_ctx;

int vip_esi_fragment_request(const request_rec *r)
{
    return r->main && apr_table_get(r->main->notes, NOTE_FETCHING) != NULL;
}

/* Surrogate-Control names ESI/1.0 in a content directive. */
static int esi_opt_in(apr_pool_t *p, const char *sc)
{
    const char *c;

    for (c = ap_strcasestr(sc, "content="); c;
         c = ap_strcasestr(c + 8, "content=")) {
        const char *v = c + 8, *end;
        if (c != sc && c[-1] != ',' && c[-1] != ' ' && c[-1] != '\t') {
            continue;
        }
        if (*v == '"') {
            v++;
            end = strchr(v, '"');
        }
        else {
            end = v + strcspn(v, ", \t");
        }
        if (end && ap_find_token(p, apr_pstrndup(p, v, (apr_size_t)(end - v)),
                                 "ESI/1.0")) {
            return 1;
        }
    }
    return 0;
}

static int is_html(const char *ct)
{
    return ct && strncasecmp(ct, "text/html", 9) == 0
           && (ct[9] == '\0' || ct[9] == ';' || ct[9] == ' ');
}

static void restore_ae(request_rec *r, const esi_ctx *x)
{
    if (x->ae) {
        apr_table_setn(r->headers_in, "Accept-Encoding", x->ae);
    }
}

/* The first brigade: headers are final.  1 to process the page. */
static int esi_start(ap_filter_t *f, esi_ctx *x)
{
    request_rec *r = f->r;
    const vip_cache_dir_conf *dc = vip_cache_dir(r);
    const char *sc = apr_table_get(r->headers_out, "Surrogate-Control");
    const char *ce = apr_table_get(r->headers_out, "Content-Encoding");
    int opt_in = (sc && esi_opt_in(r->pool, sc))
                 || vip_esi_mode(dc) == VIP_ESI_FORCE;
    vip_esi_limits lim;

    restore_ae(r, x);
    /* We are the surrogate it addresses: the client never sees it (E1). */
    apr_table_unset(r->headers_out, "Surrogate-Control");
    apr_table_unset(r->err_headers_out, "Surrogate-Control");
    if (!opt_in || !is_html(r->content_type)) {
        return 0;
    }
    if (r->status != HTTP_OK || (ce && strcasecmp(ce, "identity") != 0)) {
        /* Never a mixed stream (E8): an encoded page goes out as it is. */
        apr_atomic_inc64(&esi_counters()->unprocessed);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, VIPLOGNO(03505)
                      "ESI page not processed: %s", r->status != HTTP_OK
                      ? apr_psprintf(r->pool, "status %d", r->status)
                      : apr_pstrcat(r->pool, "Content-Encoding ",
                                    loggable(r->pool, ce), NULL));
        return 0;
    }
    /* The assembled page has another length and another validator. */
    apr_table_unset(r->headers_out, "Content-Length");
    apr_table_unset(r->headers_out, "ETag");
    apr_table_unset(r->headers_out, "Accept-Ranges");
    if (r->header_only) {
        return 0;                 /* HEAD: no fragments needed (E7) */
    }
    memset(&lim, 0, sizeof(lim));
    lim.max_includes = vip_esi_includes(dc);
    x->max_page = vip_esi_max_page(dc);
    x->doc = vip_esi_doc_make(r->pool);
    x->ps = vip_esi_parser_create(r->pool, &lim, vip_esi_collect, x->doc);
    x->held = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    return 1;
}

/* ---- the capture filter (on fragment subrequests) ------------------------ */

static apr_status_t capture_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    capture_ctx *c = f->ctx;
    request_rec *rr = f->r;

    if (!c->started) {
        const char *ce = apr_table_get(rr->headers_out, "Content-Encoding");
        c->started = 1;
        if (rr->status < 200 || rr->status > 299) {
            c->failed = 1;
            c->why = apr_psprintf(c->pool, "status %d", rr->status);
        }
        else if (ce && strcasecmp(ce, "identity") != 0) {
            c->failed = 1;
            c->why = "content-encoding";
        }
    }
    while (!APR_BRIGADE_EMPTY(bb)) {
        apr_bucket *b = APR_BRIGADE_FIRST(bb);
        const char *data;
        apr_size_t n;

        if (AP_BUCKET_IS_ERROR(b) && !c->failed) {
            c->failed = 1;        /* the upstream broke mid-body */
            c->why = "upstream error";
        }
        if (APR_BUCKET_IS_METADATA(b) || c->failed) {
            apr_bucket_delete(b);
            continue;
        }
        if (apr_bucket_read(b, &data, &n, APR_BLOCK_READ) != APR_SUCCESS
            || apr_bucket_setaside(b, c->pool) != APR_SUCCESS) {
            c->failed = 1;
            c->why = "read error";
            continue;
        }
        if (n > c->room - c->len) {
            c->failed = 1;
            c->why = "bytes";
            continue;
        }
        c->len += n;
        APR_BUCKET_REMOVE(b);
        APR_BRIGADE_INSERT_TAIL(c->bb, b);
    }
    return APR_SUCCESS;
}

/* ---- resolving and looking up --------------------------------------------- */

/* The URIs of r and its ancestors, the page first. */
static const char **chain_of(request_rec *r, int *n)
{
    const request_rec *a;
    const char **chain;
    int k = 0, i;

    for (a = r; a; a = a->main) {
        k++;
    }
    chain = apr_palloc(r->pool, sizeof(char *) * (size_t)k);
    for (a = r, i = k - 1; a; a = a->main, i--) {
        chain[i] = a->main ? a->unparsed_uri
                   : apr_pstrcat(r->pool, a->parsed_uri.path
                                 ? a->parsed_uri.path : "/",
                                 a->parsed_uri.query ? "?" : "",
                                 a->parsed_uri.query, NULL);
    }
    *n = k;
    return chain;
}

static void fail(request_rec *r, esi_inc *in, const char *why)
{
    in->state = INC_FAILED;
    in->why = why;
    if (in->rr) {
        ap_destroy_sub_req(in->rr);
        in->rr = NULL;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, VIPLOGNO(03501)
                  "ESI include %d (%s) failed: %s", in->ev->index,
                  loggable(r->pool, in->tried_alt ? in->ev->alt : in->ev->src),
                  why);
}

/* Resolve src, check the chain, run the lookup phases of the GET
 * subrequest (routing, auth, the page cache's key).  in->rr on success. */
static void lookup(ap_filter_t *f, esi_ctx *x, esi_inc *in, const char *src)
{
    request_rec *r = f->r;
    const vip_cache_dir_conf *dc = vip_cache_dir(r);
    const char *why, **chain;
    char *uri;
    request_rec *rr;
    const request_rec *top;
    int n, depth;

    if (vip_esi_src_resolve(r->pool, src, strlen(src),
                            r->parsed_uri.path ? r->parsed_uri.path : "/",
                            &uri, &why) != APR_SUCCESS) {
        fail(r, in, apr_pstrcat(r->pool, "src refused (", why, ")", NULL));
        return;
    }
    in->uri = uri;
    if (!x->chain) {
        /* Once per page: the chain and the depth cap are the page's. */
        x->chain = chain_of(r, &x->chain_len);
        /* The page's own includes are level 1; the top page's cap holds
         * for every level below it. */
        for (top = r; top->main; top = top->main) {
        }
        x->depth = vip_esi_depth(dc);
        if (vip_esi_depth(vip_cache_dir(top)) < x->depth) {
            x->depth = vip_esi_depth(vip_cache_dir(top));
        }
    }
    chain = x->chain;
    n = x->chain_len;
    depth = x->depth;
    if ((why = vip_esi_chain_check(r->pool, chain, n, uri, depth + 1))) {
        if (strcmp(why, "depth") == 0) {
            /* A limit (E3): the include stays empty, the page goes on. */
            in->state = INC_EMPTY;
            in->why = "depth";
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, VIPLOGNO(03503)
                          "ESI include %d (%s) not fetched: deeper than "
                          "VipCacheESIMaxDepth %d", in->ev->index,
                          loggable(r->pool, uri), depth);
            return;
        }
        fail(r, in, why);
        return;
    }
    apr_table_setn(r->notes, NOTE_FETCHING, "1");
    rr = ap_sub_req_method_uri("GET", uri, r, f->next);
    apr_table_unset(r->notes, NOTE_FETCHING);
    in->rr = rr;
    if (rr->status != HTTP_OK) {
        fail(r, in, apr_psprintf(r->pool, "status %d", rr->status));
        return;
    }
    /* A fresh GET (S3, E7): nothing of the page's body or conditions. */
    apr_table_unset(rr->headers_in, "Content-Length");
    apr_table_unset(rr->headers_in, "Transfer-Encoding");
    apr_table_unset(rr->headers_in, "Content-Type");
    apr_table_unset(rr->headers_in, "Expect");
    apr_table_unset(rr->headers_in, "Upgrade");
    apr_table_unset(rr->headers_in, "Range");
    apr_table_unset(rr->headers_in, "If-Range");
    apr_table_unset(rr->headers_in, "If-Match");
    apr_table_unset(rr->headers_in, "If-None-Match");
    apr_table_unset(rr->headers_in, "If-Modified-Since");
    apr_table_unset(rr->headers_in, "If-Unmodified-Since");
    in->has_view = vip_cache_req_view(rr, &in->view);
}

/* ---- the multi-get ------------------------------------------------------- */

typedef struct {
    apr_array_header_t *keys;     /* const char * */
    apr_hash_t *index;            /* key -> slot + 1 */
    vip_store_value *vals;
} mget_set;

static int key_slot(mget_set *m, const char *key)
{
    apr_size_t s = (apr_size_t)apr_hash_get(m->index, key,
                                            APR_HASH_KEY_STRING);

    if (!s) {
        APR_ARRAY_PUSH(m->keys, const char *) = key;
        s = (apr_size_t)m->keys->nelts;
        apr_hash_set(m->index, key, APR_HASH_KEY_STRING, (void *)s);
    }
    return (int)s - 1;
}

static const vip_store_value *value_of(const mget_set *m, const char *key)
{
    apr_size_t s = (apr_size_t)apr_hash_get(m->index, key,
                                            APR_HASH_KEY_STRING);

    return s && m->vals ? &m->vals[s - 1] : NULL;
}

/* The values of m's keys: those the page's own lookup fetched early
 * under exactly the same key string (cache_esi_hint.h), the rest in one
 * multi-get.  When any was missing, the keys are remembered for the next
 * lookup of this page (prefetch: 1). */
static int run_mget(request_rec *r, vip_store *st, mget_set *m, int prefetch)
{
    const char **miss;
    vip_store_value *got;
    int i, nmiss = 0, *at;

    m->vals = apr_pcalloc(r->pool, sizeof(*m->vals)
                          * (size_t)(m->keys->nelts + 1));
    if (!m->keys->nelts) {
        return 1;
    }
    miss = apr_palloc(r->pool, sizeof(char *) * (size_t)m->keys->nelts);
    at = apr_palloc(r->pool, sizeof(int) * (size_t)m->keys->nelts);
    for (i = 0; i < m->keys->nelts; i++) {
        const char *k = APR_ARRAY_IDX(m->keys, i, const char *);
        const vip_store_value *v = prefetch ? vip_cache_prefetched(r, k)
                                            : NULL;
        if (v) {
            m->vals[i] = *v;
        }
        else {
            at[nmiss] = i;
            miss[nmiss++] = k;
        }
    }
    if (!nmiss) {
        return 1;
    }
    if (prefetch) {
        vip_esi_hint_put(vip_cache_page_key(r),
                         (const char *const *)m->keys->elts, m->keys->nelts);
    }
    got = apr_pcalloc(r->pool, sizeof(*got) * (size_t)nmiss);
    if (vip_store_mget(st, r->pool, miss, nmiss, got) == APR_SUCCESS) {
        for (i = 0; i < nmiss; i++) {
            m->vals[at[i]] = got[i];
        }
    }
    else {
        vip_cache_store_warn(r, "ESI lookup");
        m->vals = NULL;
        return 0;
    }
    return 1;
}

static const char *hdr_get(void *ctx, const char *name)
{
    return apr_table_get(((request_rec *)ctx)->headers_in, name);
}

/* A fresh entry with current generations, servable as it is. */
static int usable(request_rec *r, esi_inc *in, const mget_set *m,
                  apr_int64_t now)
{
    const vip_cache_entry *e = &in->e;
    const vip_store_value *g = value_of(m, in->view.gen_key);
    apr_uint64_t gen;
    int i;

    if (e->kind != VIP_ENTRY_PAGE || e->status != HTTP_OK
        || now >= e->fresh_until || !g || !vip_store_counter(g, &gen)
        || gen != e->tenant_gen) {
        return 0;
    }
    for (i = 0; i < e->tags->nelts; i++) {
        const vip_entry_tag *t = &APR_ARRAY_IDX(e->tags, i, vip_entry_tag);
        g = value_of(m, vip_gen_key(r->pool, in->view.scope, t->name));
        if (!g || !vip_store_counter(g, &gen) || gen != t->gen) {
            return 0;             /* unknown or purged: the handler decides */
        }
    }
    for (i = 0; i < e->headers->nelts; i++) {
        const vip_entry_header *h = &APR_ARRAY_IDX(e->headers, i,
                                                   vip_entry_header);
        /* A nested ESI fragment is assembled by its own subrequest; an
         * encoded one would mix encodings (E8). */
        if ((strcasecmp(h->name, "Surrogate-Control") == 0
             && vip_esi_mode(vip_cache_dir(in->rr)) != VIP_ESI_OFF)
            || (strcasecmp(h->name, "Content-Encoding") == 0
                && strcasecmp(h->value, "identity") != 0)) {
            return 0;
        }
    }
    return 1;
}

static int decode_value(request_rec *r, const vip_store_value *v,
                        vip_cache_entry *e)
{
    const char *why;

    if (!v || !v->data) {
        return 0;
    }
    if (vip_entry_decode(r->pool, v->data, v->len, e, &why) != APR_SUCCESS) {
        apr_atomic_inc64(&vip_cache_counters_get()->corrupt);
        return 0;
    }
    return 1;
}

/* One multi-get for every looked-up fragment's entry, its scope's
 * generation and the tag generations the hint knows; a second one only
 * for entries that vary on request headers.  Hits become INC_OK. */
static void fetch_cached(request_rec *r, esi_inc *incs, int n, esi_ctx *x)
{
    vip_store *st = vip_cache_store_for(r->server);
    apr_int64_t now = (apr_int64_t)apr_time_sec(r->request_time);
    mget_set m, m2;
    int i, j, nvary = 0;

    if (!st) {
        return;
    }
    m.keys = apr_array_make(r->pool, n * 2 + 1, sizeof(const char *));
    m.index = apr_hash_make(r->pool);
    for (i = 0; i < n; i++) {
        apr_array_header_t *tags;
        if (!incs[i].rr || !incs[i].has_view) {
            continue;
        }
        incs[i].slot = key_slot(&m, incs[i].view.key);
        key_slot(&m, incs[i].view.gen_key);
        key_slot(&m, incs[i].view.url_gen_key);
        tags = vip_gen_hint_get(r->pool, incs[i].view.key);
        for (j = 0; tags && j < tags->nelts; j++) {
            key_slot(&m, vip_gen_key(r->pool, incs[i].view.scope,
                                     APR_ARRAY_IDX(tags, j, const char *)));
        }
    }
    if (!m.keys->nelts || !run_mget(r, st, &m, 1)) {
        return;
    }
    m2.keys = apr_array_make(r->pool, 4, sizeof(const char *));
    m2.index = apr_hash_make(r->pool);
    for (i = 0; i < n; i++) {
        esi_inc *in = &incs[i];
        if (!in->rr || !in->has_view
            || !decode_value(r, &m.vals[in->slot], &in->e)) {
            in->slot = -1;
            continue;
        }
        in->v = m.vals[in->slot];
        if (in->e.kind == VIP_ENTRY_VARY) {
            const char *k = vip_cache_key_hash(r->pool,
                vip_cache_key_vary(r->pool, in->view.material, in->e.vary,
                                   hdr_get, in->rr));
            in->slot = k ? key_slot(&m2, k) : -1;
            nvary += k != NULL;
            in->e.kind = 0;       /* resolved by the second multi-get */
        }
        else {
            in->slot = -2;        /* found in the first */
        }
    }
    if (nvary && run_mget(r, st, &m2, 0)) {
        for (i = 0; i < n; i++) {
            esi_inc *in = &incs[i];
            if (in->slot >= 0 && decode_value(r, &m2.vals[in->slot], &in->e)) {
                in->v = m2.vals[in->slot];
                in->slot = -2;
            }
        }
    }
    for (i = 0; i < n; i++) {
        esi_inc *in = &incs[i];
        if (in->slot == -2 && usable(r, in, &m, now)) {
            in->body = apr_brigade_create(r->pool, r->connection->bucket_alloc);
            if (in->e.body_len) {
                /* The value lives as long as the page's pool. */
                APR_BRIGADE_INSERT_TAIL(in->body, apr_bucket_transient_create(
                    in->v.data + in->e.body_off, in->e.body_len,
                    r->connection->bucket_alloc));
            }
            x->bytes += in->e.body_len;
            in->state = INC_OK;
            in->hit = 1;
            ap_destroy_sub_req(in->rr);
            in->rr = NULL;
            x->hits++;
            apr_atomic_inc64(&vip_cache_counters_get()->hits);
        }
    }
}

/* ---- running misses ------------------------------------------------------ */

/* The time and byte budgets; the first one spent is the page's limit. */
static int over_limit(request_rec *r, esi_ctx *x)
{
    if (!x->spent && apr_time_now() > x->deadline) {
        x->spent = "time";
    }
    if (!x->spent && x->bytes >= x->max_bytes) {
        x->spent = "bytes";
    }
    if (x->spent && !x->limit) {
        x->limit = x->spent;
    }
    return x->spent != NULL;
}

static void run(ap_filter_t *f, esi_ctx *x, esi_inc *in)
{
    request_rec *r = f->r, *rr = in->rr;
    capture_ctx *c;
    int rv;

    if (over_limit(r, x)) {
        in->state = INC_EMPTY;
        in->why = x->spent;
        ap_destroy_sub_req(rr);
        in->rr = NULL;
        return;
    }
    c = apr_pcalloc(r->pool, sizeof(*c));
    c->pool = r->pool;
    c->bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    c->room = x->max_bytes - x->bytes;
    ap_add_output_filter(VIP_ESI_CAPTURE_FILTER, c, rr, r->connection);
    apr_table_setn(r->notes, NOTE_FETCHING, "1");
    rv = ap_run_sub_req(rr);
    apr_table_unset(r->notes, NOTE_FETCHING);
    x->misses++;
    if (c->failed && c->why && strcmp(c->why, "bytes") == 0) {
        x->bytes = x->max_bytes;
        over_limit(r, x);
        in->state = INC_EMPTY;
        in->why = x->spent;
        ap_destroy_sub_req(rr);
        in->rr = NULL;
        return;
    }
    if (rv != OK || rr->status < 200 || rr->status > 299 || c->failed) {
        fail(r, in, c->why ? c->why : apr_psprintf(r->pool, "status %d",
                                                    rv != OK ? rv
                                                    : rr->status));
        return;
    }
    x->bytes += c->len;
    in->body = c->bb;
    in->state = INC_OK;
    ap_destroy_sub_req(rr);
    in->rr = NULL;
}

/* ---- the page ------------------------------------------------------------ */

static apr_status_t fail_page(ap_filter_t *f, esi_ctx *x, const char *why)
{
    request_rec *r = f->r;
    apr_bucket_brigade *bb = apr_brigade_create(r->pool,
                                                r->connection->bucket_alloc);

    apr_atomic_inc64(&esi_counters()->failed_pages);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, VIPLOGNO(03502)
                  "ESI page failed (%s): answered 502", why);
    apr_table_setn(r->notes, NOTE_FAILED, why);
    apr_brigade_cleanup(x->held);
    APR_BRIGADE_INSERT_TAIL(bb, ap_bucket_error_create(HTTP_BAD_GATEWAY, NULL,
                            r->pool, bb->bucket_alloc));
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(bb->bucket_alloc));
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

static void set_note(request_rec *r, int includes, const esi_ctx *x)
{
    apr_table_setn(r->notes, VIP_NOTE_ESI,
                   apr_psprintf(r->pool, "includes=%d hits=%d misses=%d "
                                "errors=%d", includes, x->hits, x->misses,
                                x->errors));
}

static apr_status_t esi_assemble(ap_filter_t *f, esi_ctx *x)
{
    request_rec *r = f->r;
    const vip_cache_dir_conf *dc = vip_cache_dir(r);
    apr_array_header_t *evs;
    apr_bucket_brigade *out;
    esi_inc *incs;
    const char *page_error = NULL;
    int i, n = 0, k, too_many = 0, over = 0;
    apr_size_t total;
    apr_status_t rv;

    vip_esi_finish(x->ps);
    apr_atomic_inc64(&esi_counters()->pages);
    if (x->too_big || x->broken) {
        return fail_page(f, x, x->too_big ? "page larger than "
                         "VipCacheESIMaxPageSize" : "upstream body broken");
    }
    evs = x->doc->events;
    incs = apr_pcalloc(r->pool, sizeof(*incs) * (size_t)(x->doc->includes + 1));
    for (i = 0; i < evs->nelts; i++) {
        const vip_esi_event *ev = &APR_ARRAY_IDX(evs, i, vip_esi_event);
        if (ev->type == VIP_ESI_INCLUDE && n < x->doc->includes) {
            incs[n].ev = ev;
            incs[n++].slot = -1;
        }
        else if (ev->type == VIP_ESI_ERROR
                 && ev->error == VIP_ESI_E_TOO_MANY_INCLUDES) {
            too_many++;
        }
    }
    add(&esi_counters()->includes, (apr_uint64_t)(n + too_many));
    add(&esi_counters()->markup_errors, (apr_uint64_t)x->doc->errors);
    if (x->doc->errors) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, VIPLOGNO(03504)
                      "ESI page has %d markup error(s) (%d include(s) "
                      "beyond VipCacheESIMaxIncludes %d, dropped)",
                      x->doc->errors, too_many, vip_esi_includes(dc));
    }
    if (too_many) {
        x->limit = "includes";
    }
    x->deadline = apr_time_now() + vip_esi_timeout(dc);
    x->max_bytes = vip_esi_max_bytes(dc);

    /* Fragments ask for identity too, like the page (E8). */
    apr_table_unset(r->headers_in, "Accept-Encoding");
    for (i = 0; i < n; i++) {
        lookup(f, x, &incs[i], incs[i].ev->src);
    }
    fetch_cached(r, incs, n, x);
    for (i = 0; i < n; i++) {
        if (incs[i].rr) {
            run(f, x, &incs[i]);
        }
    }
    /* alt: once, for what failed (not for what a limit emptied). */
    for (i = 0; i < n; i++) {
        esi_inc *in = &incs[i];
        if (in->state == INC_FAILED && in->ev->alt && !over_limit(r, x)) {
            in->tried_alt = 1;
            in->state = INC_PENDING;
            lookup(f, x, in, in->ev->alt);
            if (in->rr) {
                run(f, x, in);
            }
        }
    }
    restore_ae(r, x);
    /* The byte budget in document order, hits and fetches alike. */
    total = 0;
    for (i = 0; i < n; i++) {
        esi_inc *in = &incs[i];
        apr_off_t len = 0;
        if (in->state != INC_OK || !in->body) {
            continue;
        }
        apr_brigade_length(in->body, 0, &len);
        if (over || (apr_size_t)len > x->max_bytes - total) {
            over = 1;
            in->state = INC_EMPTY;
            in->why = "bytes";
            apr_brigade_cleanup(in->body);
            continue;
        }
        total += (apr_size_t)len;
    }
    for (i = 0; i < n; i++) {
        if (incs[i].state == INC_FAILED) {
            x->errors++;
            if (!incs[i].ev->onerror_continue && !page_error) {
                page_error = apr_psprintf(r->pool, "include %d: %s", i,
                                          incs[i].why);
            }
        }
        else if (incs[i].state == INC_EMPTY && !x->limit) {
            x->limit = incs[i].why;
        }
    }
    add(&esi_counters()->hits, (apr_uint64_t)x->hits);
    add(&esi_counters()->misses, (apr_uint64_t)x->misses);
    add(&esi_counters()->errors, (apr_uint64_t)x->errors);
    set_note(r, n + too_many, x);
    if (x->limit) {
        apr_atomic_inc64(&esi_counters()->limits);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, VIPLOGNO(03503)
                      "ESI page reached its %s limit: remaining includes "
                      "left empty", x->limit);
    }
    if (page_error) {
        return fail_page(f, x, page_error);
    }
    out = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    for (i = 0, k = 0; i < evs->nelts; i++) {
        const vip_esi_event *ev = &APR_ARRAY_IDX(evs, i, vip_esi_event);
        if (ev->type == VIP_ESI_TEXT && ev->len) {
            /* The held buckets (or the doc's pool) keep the bytes until
             * the pass below returns; later filters copy what they keep. */
            APR_BRIGADE_INSERT_TAIL(out, apr_bucket_transient_create(
                ev->data, ev->len, out->bucket_alloc));
        }
        else if (ev->type == VIP_ESI_INCLUDE && k < n) {
            esi_inc *in = &incs[k++];
            if (in->state == INC_OK && in->body) {
                APR_BRIGADE_CONCAT(out, in->body);
            }
        }
    }
    APR_BRIGADE_INSERT_TAIL(out, apr_bucket_eos_create(out->bucket_alloc));
    ap_remove_output_filter(f);
    rv = ap_pass_brigade(f->next, out);
    apr_brigade_cleanup(x->held);
    return rv;
}

static apr_status_t esi_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    esi_ctx *x = f->ctx;
    int eos = 0;

    if (!x->started) {
        x->started = 1;
        if (!esi_start(f, x)) {
            ap_remove_output_filter(f);
            return ap_pass_brigade(f->next, bb);
        }
    }
    while (!APR_BRIGADE_EMPTY(bb)) {
        apr_bucket *b = APR_BRIGADE_FIRST(bb);
        const char *data;
        apr_size_t len;

        if (APR_BUCKET_IS_EOS(b)) {
            eos = 1;
            break;
        }
        if (AP_BUCKET_IS_ERROR(b)) {
            x->broken = 1;        /* the upstream broke mid-body */
        }
        if (APR_BUCKET_IS_METADATA(b) || x->broken || x->too_big) {
            apr_bucket_delete(b);
            continue;
        }
        /* Read (a file bucket splits), set aside (a transient one is
         * copied), read again: the span is now stable until the held
         * brigade is cleaned up. */
        if (apr_bucket_read(b, &data, &len, APR_BLOCK_READ) != APR_SUCCESS
            || apr_bucket_setaside(b, r->pool) != APR_SUCCESS
            || apr_bucket_read(b, &data, &len, APR_BLOCK_READ) != APR_SUCCESS) {
            x->broken = 1;
            continue;
        }
        if (len > x->max_page - x->size) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, VIPLOGNO(03506)
                          "ESI page larger than %" APR_SIZE_T_FMT " bytes "
                          "(VipCacheESIMaxPageSize)", x->max_page);
            x->too_big = 1;
            apr_brigade_cleanup(x->held);
            continue;
        }
        x->size += len;
        APR_BUCKET_REMOVE(b);
        APR_BRIGADE_INSERT_TAIL(x->held, b);
        if (vip_esi_parse(x->ps, data, len) != APR_SUCCESS) {
            x->broken = 1;
        }
    }
    if (!eos) {
        return APR_SUCCESS;
    }
    apr_brigade_cleanup(bb);
    return esi_assemble(f, x);
}

/* ---- hooks --------------------------------------------------------------- */

static void esi_insert_filter(request_rec *r)
{
    const vip_cache_dir_conf *dc = vip_cache_dir(r);
    esi_ctx *x;

    if (vip_esi_mode(dc) == VIP_ESI_OFF) {
        return;
    }
    x = apr_pcalloc(r->pool, sizeof(*x));
    /* Ask the upstream for identity (E8); the client's value is back in
     * place before any later filter (compression) looks at it. */
    x->ae = apr_table_get(r->headers_in, "Accept-Encoding");
    apr_table_unset(r->headers_in, "Accept-Encoding");
    /* The template's validators say nothing about the assembled page:
     * no 304 for it, from the upstream or from the page cache. */
    apr_table_unset(r->headers_in, "If-None-Match");
    apr_table_unset(r->headers_in, "If-Modified-Since");
    apr_table_unset(r->headers_in, "If-Range");
    ap_add_output_filter(VIP_ESI_FILTER, x, r, r->connection);
}

/* After mod_vip_route's hook, which would call any 502 of a routed page
 * a bad gateway: a failed fragment says so. */
static void esi_insert_error_filter(request_rec *r)
{
    const char *why = apr_table_get(r->notes, NOTE_FAILED);

    if (why && r->status == HTTP_BAD_GATEWAY) {
        vip_problem(r, HTTP_BAD_GATEWAY, "fragment-failed",
                    "Fragment failed",
                    "An included fragment of this page could not be "
                    "fetched.");
        vip_problem_insert_filter(r);
    }
}

void vip_esi_register(apr_pool_t *p)
{
    static const char *const after_route[] = { "mod_vip_route.c", NULL };

    ap_hook_insert_filter(esi_insert_filter, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_insert_error_filter(esi_insert_error_filter, after_route, NULL,
                                APR_HOOK_LAST);
    /* After the page cache's save filter (AP_FTYPE_RESOURCE - 1): the
     * entry keeps the markup.  Before compression (CONTENT_SET). */
    ap_register_output_filter(VIP_ESI_FILTER, esi_filter, NULL,
                              AP_FTYPE_RESOURCE);
    /* Right after the subrequest's own ESI filter, before any encoding
     * filter a location might add. */
    ap_register_output_filter(VIP_ESI_CAPTURE_FILTER, capture_filter, NULL,
                              AP_FTYPE_RESOURCE + 1);
}
