/*
 * route_table.c - the route table of mod_vip_route (see route_table.h for
 * the template syntax and the precedence rules).
 *
 * Templates are compiled into a segment tree: each node holds its literal
 * children in a hash, at most one parameter child (parameters are
 * anonymous in the tree: "/a/{id}" and "/a/{x}" share a node), the routes
 * that end exactly there and the prefix ("*") routes rooted there, each
 * list sorted by (conditions desc, configuration order asc).  A match is
 * a depth-first walk over the request's segments trying literal, then
 * parameter, then prefix, so its cost depends on the path's depth and on
 * the routes sharing one shape, never on the size of the table.  Since
 * the request's segment at each depth is fixed, the walk visits each tree
 * node at most once, even when it backtracks.
 *
 * The table is built at configuration time and only read afterwards:
 * matching writes nothing but the caller's match struct and the parameter
 * values it allocates from the caller's pool, so one table serves every
 * thread.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "route_table.h"

#define MAX_NAME_LEN 32

typedef struct rnode rnode;

/* A route as compiled for the tree. */
typedef struct {
    vip_route *r;
    int nconds;
    int nparams;                        /* named, without the prefix rest */
    int prefix;                         /* ends with "*" */
    const char *names[VIP_ROUTE_MAX_PARAMS];
    int depth[VIP_ROUTE_MAX_PARAMS];    /* segment index of each parameter */
} rentry;

struct rnode {
    apr_hash_t *lit;                    /* segment text -> rnode *; lazy */
    rnode *param;
    apr_array_header_t *exact;          /* rentry *, sorted; lazy */
    apr_array_header_t *prefix;         /* rentry *, sorted; lazy */
};

struct vip_route_table {
    apr_pool_t *p;
    rnode *root;
    apr_hash_t *sigs;                   /* shape + conditions -> rentry * */
    int count;
};

/* A parsed template. */
typedef struct {
    int nsegs;                          /* segments before any "*" */
    int prefix;
    int nparams;
    const char *seg[VIP_ROUTE_MAX_SEGMENTS];    /* NULL for a parameter */
    apr_size_t seglen[VIP_ROUTE_MAX_SEGMENTS];
    const char *names[VIP_ROUTE_MAX_PARAMS];
    int depth[VIP_ROUTE_MAX_PARAMS];
} tmpl;

/* ---- messages ---------------------------------------------------------- */

/* s quoted for an admin's terminal: control and non-ASCII bytes as \xNN. */
static const char *quote(apr_pool_t *p, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    char *out, *o;

    if (!s) {
        return "(none)";
    }
    out = o = apr_palloc(p, strlen(s) * 4 + 3);
    *o++ = '\'';
    for (; *u; u++) {
        if (*u < 0x20 || *u >= 0x7f || *u == '\'' || *u == '\\') {
            o += apr_snprintf(o, 5, "\\x%02x", *u);
        }
        else {
            *o++ = (char)*u;
        }
    }
    *o++ = '\'';
    *o = '\0';
    return out;
}

static apr_status_t fail(apr_pool_t *p, char **err, const vip_route *r,
                         const char *what)
{
    if (err) {
        *err = apr_psprintf(p, "route %s: template %s: %s", quote(p, r->name),
                            quote(p, r->path), what);
    }
    return APR_EINVAL;
}

/* ---- templates --------------------------------------------------------- */

static int valid_name(const char *s, apr_size_t n)
{
    apr_size_t i;

    if (n == 0 || n > MAX_NAME_LEN || apr_isdigit(s[0])) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (!(apr_isalnum(s[i]) || s[i] == '_') || (s[i] & 0x80)) {
            return 0;
        }
    }
    return 1;
}

/*
 * "." and ".." (also with ";params") can never match: the normaliser
 * refuses requests containing them.  Saying so at start-up beats a route
 * that silently never answers.
 */
static int dotty(const char *s, apr_size_t n)
{
    apr_size_t base = 0;

    while (base < n && s[base] != ';') {
        base++;
    }
    return (base == 1 && s[0] == '.') || (base == 2 && s[0] == '.'
                                          && s[1] == '.');
}

static apr_status_t parse_template(apr_pool_t *p, const vip_route *r,
                                   tmpl *t, char **err)
{
    const char *path = r->path, *s;
    int i, total = 0;

    memset(t, 0, sizeof(*t));
    if (!path || path[0] != '/') {
        return fail(p, err, r, "must start with '/'");
    }
    for (s = path; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            return fail(p, err, r, "contains a control character");
        }
        if (*s == '\\') {
            return fail(p, err, r, "contains '\\' (requests with it are "
                                   "refused, so the route could never match)");
        }
    }
    if (strcmp(path, "/") == 0) {
        return APR_SUCCESS;             /* the root: no segments */
    }
    for (s = path + 1;; ) {
        apr_size_t n = strcspn(s, "/");
        const char *lbrace = memchr(s, '{', n), *rbrace = memchr(s, '}', n);
        const char *star = memchr(s, '*', n);

        total++;
        if (n == 0) {
            return fail(p, err, r, apr_psprintf(p, "segment %d is empty "
                        "(\"//\" or a trailing '/'; only the root \"/\" "
                        "ends with '/')", total));
        }
        if (total > VIP_ROUTE_MAX_SEGMENTS) {
            return fail(p, err, r, apr_psprintf(p, "more than %d segments",
                                                VIP_ROUTE_MAX_SEGMENTS));
        }
        if (star) {
            if (n != 1) {
                return fail(p, err, r, apr_psprintf(p, "'*' inside segment "
                            "%d; it is only allowed as the whole last "
                            "segment (\"/api/*\")", total));
            }
            if (s[1] != '\0') {
                return fail(p, err, r, apr_psprintf(p, "'*' as segment %d "
                            "is not the last segment", total));
            }
            if (t->nparams + 1 > VIP_ROUTE_MAX_PARAMS) {
                return fail(p, err, r, apr_psprintf(p, "more than %d "
                            "parameters (the '*' counts as one)",
                            VIP_ROUTE_MAX_PARAMS));
            }
            t->prefix = 1;
            break;
        }
        if (lbrace || rbrace) {
            if (!(s[0] == '{' && s[n - 1] == '}' && n >= 2
                  && !memchr(s + 1, '{', n - 2)
                  && !memchr(s + 1, '}', n - 2))) {
                return fail(p, err, r, apr_psprintf(p, "'{' or '}' in "
                            "segment %d: a parameter is a whole segment "
                            "\"{name}\"", total));
            }
            if (!valid_name(s + 1, n - 2)) {
                return fail(p, err, r, apr_psprintf(p, "bad parameter name "
                            "%s in segment %d (want [A-Za-z_][A-Za-z0-9_]*, "
                            "at most %d characters)",
                            quote(p, apr_pstrmemdup(p, s + 1, n - 2)), total,
                            MAX_NAME_LEN));
            }
            for (i = 0; i < t->nparams; i++) {
                if (strlen(t->names[i]) == n - 2
                    && memcmp(t->names[i], s + 1, n - 2) == 0) {
                    return fail(p, err, r, apr_psprintf(p, "parameter "
                                "{%s} appears twice", t->names[i]));
                }
            }
            if (t->nparams == VIP_ROUTE_MAX_PARAMS) {
                return fail(p, err, r, apr_psprintf(p, "more than %d "
                            "parameters", VIP_ROUTE_MAX_PARAMS));
            }
            t->names[t->nparams] = apr_pstrmemdup(p, s + 1, n - 2);
            t->depth[t->nparams++] = t->nsegs;
            t->seg[t->nsegs] = NULL;
        }
        else {
            if (dotty(s, n)) {
                return fail(p, err, r, apr_psprintf(p, "segment %d is a "
                            "dot-segment (requests with one are refused, so "
                            "the route could never match)", total));
            }
            t->seg[t->nsegs] = apr_pstrmemdup(p, s, n);
            t->seglen[t->nsegs] = n;
        }
        t->nsegs++;
        if (s[n] == '\0') {
            break;
        }
        s += n + 1;
    }
    return APR_SUCCESS;
}

/* ---- conditions -------------------------------------------------------- */

static int count_conds(const vip_route *r)
{
    return (r->methods && r->methods->nelts > 0) + (r->host != NULL)
           + (r->headers && r->headers->nelts > 0)
           + (r->tenants && r->tenants->nelts > 0)
           + (r->plans && r->plans->nelts > 0);
}

static int valid_token(const char *s)
{
    /* RFC 9110 tchar: what methods and header names are made of. */
    if (!s || !*s) {
        return 0;
    }
    for (; *s; s++) {
        if (!(apr_isalnum(*s) || strchr("!#$%&'*+-.^_`|~", *s))
            || (*s & 0x80)) {
            return 0;
        }
    }
    return 1;
}

static apr_status_t check_conds(apr_pool_t *p, const vip_route *r,
                               char **err)
{
    const char *bad = NULL;
    int i;

    if (!r->name || !*r->name || strspn(r->name, "abcdefghijklmnopqrstuvwxyz"
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != strlen(r->name)) {
        if (err) {
            *err = apr_psprintf(p, "route name %s (template %s): want "
                                "letters, digits, '.', '_' or '-'",
                                quote(p, r->name), quote(p, r->path));
        }
        return APR_EINVAL;
    }
    for (i = 0; r->methods && i < r->methods->nelts && !bad; i++) {
        const char *m = APR_ARRAY_IDX(r->methods, i, const char *);
        if (!valid_token(m)) {
            bad = apr_psprintf(p, "bad method %s", quote(p, m));
        }
    }
    if (!bad && r->host && !*r->host) {
        bad = "empty host condition";
    }
    for (i = 0; r->headers && i < r->headers->nelts && !bad; i++) {
        const vip_route_header_cond *h =
            &APR_ARRAY_IDX(r->headers, i, vip_route_header_cond);
        if (!valid_token(h->name) || !h->value) {
            bad = apr_psprintf(p, "bad header condition %s", quote(p, h->name));
        }
    }
    for (i = 0; r->tenants && i < r->tenants->nelts && !bad; i++) {
        if (!APR_ARRAY_IDX(r->tenants, i, const char *)) {
            bad = "NULL tenant";
        }
    }
    for (i = 0; r->plans && i < r->plans->nelts && !bad; i++) {
        if (!APR_ARRAY_IDX(r->plans, i, const char *)) {
            bad = "NULL plan";
        }
    }
    if (bad) {
        if (err) {
            *err = apr_psprintf(p, "route %s: %s", quote(p, r->name), bad);
        }
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

static int in_list(const apr_array_header_t *a, const char *s)
{
    int i;

    for (i = 0; i < a->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(a, i, const char *), s) == 0) {
            return 1;
        }
    }
    return 0;
}

static int conds_hold(const vip_route *r, const vip_route_req *q)
{
    int i;

    if (r->methods && r->methods->nelts > 0
        && (!q->method || !in_list(r->methods, q->method))) {
        return 0;
    }
    if (r->host && (!q->host || strcasecmp(r->host, q->host) != 0)) {
        return 0;
    }
    for (i = 0; r->headers && i < r->headers->nelts; i++) {
        const vip_route_header_cond *h =
            &APR_ARRAY_IDX(r->headers, i, vip_route_header_cond);
        const char *v = q->header ? q->header(q->ctx, h->name) : NULL;
        if (!v || strcmp(v, h->value) != 0) {
            return 0;
        }
    }
    /* Anonymous requests carry no tenant: a plan alone does not count. */
    if (r->tenants && r->tenants->nelts > 0
        && (!q->tenant || !in_list(r->tenants, q->tenant))) {
        return 0;
    }
    if (r->plans && r->plans->nelts > 0
        && (!q->tenant || !q->plan || !in_list(r->plans, q->plan))) {
        return 0;
    }
    return 1;
}

/* ---- duplicate detection ----------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Append a sorted, de-duplicated, length-prefixed rendering of a set. */
static const char *add_set(apr_pool_t *p, const char *sig, char tag,
                           const char **v, int n)
{
    int i;

    qsort(v, (size_t)n, sizeof(*v), cmp_str);
    sig = apr_psprintf(p, "%s%c", sig, tag);
    for (i = 0; i < n; i++) {
        if (i == 0 || strcmp(v[i], v[i - 1]) != 0) {
            sig = apr_psprintf(p, "%s%" APR_SIZE_T_FMT ":%s", sig,
                               strlen(v[i]), v[i]);
        }
    }
    return sig;
}

static const char **strings(apr_pool_t *p, const apr_array_header_t *a,
                            int *n)
{
    const char **v;
    int i;

    *n = a ? a->nelts : 0;
    v = apr_palloc(p, sizeof(*v) * (size_t)(*n + 1));
    for (i = 0; i < *n; i++) {
        v[i] = APR_ARRAY_IDX(a, i, const char *);
    }
    return v;
}

static const char *lower(apr_pool_t *p, const char *s)
{
    char *l = apr_pstrdup(p, s), *c;

    for (c = l; *c; c++) {
        *c = (char)apr_tolower(*c);
    }
    return l;
}

/*
 * A key equal for two routes exactly when they have the same shape (the
 * same literals, parameters in the same places whatever their names, the
 * same prefix-ness) and the same condition sets (order and repetition in
 * a list do not matter; host and header names compare case-insensitively).
 * Every string is length-prefixed, so no value can fake a separator.
 */
static const char *signature(apr_pool_t *p, const vip_route *r,
                             const tmpl *t)
{
    const char *sig = "";
    const char **v;
    int i, n;

    for (i = 0; i < t->nsegs; i++) {
        sig = t->seg[i] ? apr_psprintf(p, "%sL%" APR_SIZE_T_FMT ":%s", sig,
                                       t->seglen[i], t->seg[i])
                        : apr_pstrcat(p, sig, "P", NULL);
    }
    sig = apr_pstrcat(p, sig, t->prefix ? "*|" : "$|", NULL);
    v = strings(p, r->methods, &n);
    sig = add_set(p, sig, 'M', v, n);
    if (r->host) {
        const char *h = lower(p, r->host);
        sig = apr_psprintf(p, "%sH%" APR_SIZE_T_FMT ":%s", sig, strlen(h), h);
    }
    n = r->headers ? r->headers->nelts : 0;
    v = apr_palloc(p, sizeof(*v) * (size_t)(n + 1));
    for (i = 0; i < n; i++) {
        const vip_route_header_cond *h =
            &APR_ARRAY_IDX(r->headers, i, vip_route_header_cond);
        const char *name = lower(p, h->name);
        v[i] = apr_psprintf(p, "%" APR_SIZE_T_FMT ":%s=%s", strlen(name),
                            name, h->value);
    }
    sig = add_set(p, sig, 'X', v, n);
    v = strings(p, r->tenants, &n);
    sig = add_set(p, sig, 'T', v, n);
    v = strings(p, r->plans, &n);
    return add_set(p, sig, 'Q', v, n);
}

/* ---- building ---------------------------------------------------------- */

vip_route_table *vip_route_table_make(apr_pool_t *p)
{
    vip_route_table *t = apr_pcalloc(p, sizeof(*t));

    t->p = p;
    t->root = apr_pcalloc(p, sizeof(rnode));
    t->sigs = apr_hash_make(p);
    return t;
}

/* Insert keeping (conditions desc, order asc); order only grows. */
static void insert_sorted(apr_pool_t *p, apr_array_header_t **list,
                          rentry *e)
{
    rentry **v;
    int i;

    if (!*list) {
        *list = apr_array_make(p, 2, sizeof(rentry *));
    }
    apr_array_push(*list);
    v = (rentry **)(*list)->elts;
    for (i = (*list)->nelts - 1; i > 0 && v[i - 1]->nconds < e->nconds; i--) {
        v[i] = v[i - 1];
    }
    v[i] = e;
}

apr_status_t vip_route_table_add(vip_route_table *t, vip_route *r,
                                 char **err)
{
    apr_pool_t *p = t->p, *tmp;
    tmpl tp;
    rentry *e, *dup;
    rnode *n = t->root;
    const char *sig;
    int i;

    if (err) {
        *err = NULL;
    }
    if (check_conds(p, r, err) != APR_SUCCESS
        || parse_template(p, r, &tp, err) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    /* The signature is built piecewise: do it in a scratch pool so the
     * garbage does not sit between the tree nodes matching walks over. */
    apr_pool_create(&tmp, p);
    sig = signature(tmp, r, &tp);
    dup = apr_hash_get(t->sigs, sig, APR_HASH_KEY_STRING);
    sig = dup ? NULL : apr_pstrdup(p, sig);
    apr_pool_destroy(tmp);
    if (dup) {
        if (err) {
            *err = apr_psprintf(p, "route %s (template %s) has the same path "
                                "shape and the same conditions as route %s "
                                "(template %s), so it could never match",
                                quote(p, r->name), quote(p, r->path),
                                quote(p, dup->r->name),
                                quote(p, dup->r->path));
        }
        return APR_EINVAL;
    }

    e = apr_pcalloc(p, sizeof(*e));
    e->r = r;
    e->nconds = count_conds(r);
    e->prefix = tp.prefix;
    e->nparams = tp.nparams;
    for (i = 0; i < tp.nparams; i++) {
        e->names[i] = tp.names[i];
        e->depth[i] = tp.depth[i];
    }
    for (i = 0; i < tp.nsegs; i++) {
        rnode *c;

        if (!tp.seg[i]) {
            if (!n->param) {
                n->param = apr_pcalloc(p, sizeof(rnode));
            }
            n = n->param;
            continue;
        }
        if (!n->lit) {
            n->lit = apr_hash_make(p);
        }
        c = apr_hash_get(n->lit, tp.seg[i], (apr_ssize_t)tp.seglen[i]);
        if (!c) {
            c = apr_pcalloc(p, sizeof(rnode));
            apr_hash_set(n->lit, tp.seg[i], (apr_ssize_t)tp.seglen[i], c);
        }
        n = c;
    }
    r->order = t->count++;
    insert_sorted(p, tp.prefix ? &n->prefix : &n->exact, e);
    apr_hash_set(t->sigs, sig, APR_HASH_KEY_STRING, e);
    return APR_SUCCESS;
}

int vip_route_table_count(const vip_route_table *t)
{
    return t->count;
}

/* ---- matching ---------------------------------------------------------- */

typedef struct {
    const vip_route_req *q;
    const char *seg[VIP_ROUTE_MAX_SEGMENTS];    /* the request's segments */
    apr_size_t len[VIP_ROUTE_MAX_SEGMENTS];     /* along the current walk */
    const rentry *win;
    const char *rest;                   /* prefix rest of the winner */
} walker;

static const rentry *pick(const walker *w, const apr_array_header_t *list)
{
    int i;

    for (i = 0; list && i < list->nelts; i++) {
        const rentry *e = APR_ARRAY_IDX(list, i, const rentry *);
        if (conds_hold(e->r, w->q)) {
            return e;
        }
    }
    return NULL;
}

/*
 * At node n after `depth` segments; pos points at the '/' before the next
 * segment or at the end of the path.  An empty segment (a trailing '/')
 * matches no literal or parameter: it can only be part of a prefix rest,
 * so "/api/orders/" is matched by the prefix "/api/orders" + "/\*", not by
 * the exact "/api/orders".
 */
static int walk(walker *w, const rnode *n, const char *pos, int depth)
{
    const char *seg;
    apr_size_t len;

    if (*pos == '\0') {
        if ((w->win = pick(w, n->exact))) {
            w->rest = NULL;
            return 1;
        }
        if ((w->win = pick(w, n->prefix))) {
            w->rest = pos;
            return 1;
        }
        return 0;
    }
    seg = pos + 1;
    len = strcspn(seg, "/");
    if (len > 0 && depth < VIP_ROUTE_MAX_SEGMENTS) {
        const rnode *c;

        w->seg[depth] = seg;
        w->len[depth] = len;
        if (n->lit && (c = apr_hash_get(n->lit, seg, (apr_ssize_t)len))
            && walk(w, c, seg + len, depth + 1)) {
            return 1;
        }
        if (n->param && walk(w, n->param, seg + len, depth + 1)) {
            return 1;
        }
    }
    if ((w->win = pick(w, n->prefix))) {
        /* Only an unnormalised path has "//"; the rest never starts
         * with '/', or "/v2/{*}" would expand to "/v2//...". */
        while (*seg == '/') {
            seg++;
        }
        w->rest = seg;
        return 1;
    }
    return 0;
}

int vip_route_table_match(const vip_route_table *t, const vip_route_req *req,
                          apr_pool_t *p, vip_route_match *m)
{
    walker w;
    const char *start;
    int i;

    m->route = NULL;
    m->nparams = 0;
    if (!t || !req->path || req->path[0] != '/') {
        return 0;
    }
    w.q = req;
    w.win = NULL;
    w.rest = NULL;
    /* "/" is the root itself, not the root followed by an empty segment. */
    start = req->path[1] == '\0' ? req->path + 1 : req->path;
    if (!walk(&w, t->root, start, 0)) {
        return 0;
    }
    m->route = w.win->r;
    for (i = 0; i < w.win->nparams; i++) {
        int d = w.win->depth[i];
        m->names[i] = w.win->names[i];
        m->values[i] = apr_pstrmemdup(p, w.seg[d], w.len[d]);
    }
    if (w.win->prefix) {
        m->names[i] = "*";
        m->values[i++] = apr_pstrdup(p, w.rest);
    }
    m->nparams = i;
    return 1;
}

/* ---- rewrite targets --------------------------------------------------- */

apr_status_t vip_route_check_target(apr_pool_t *p, const vip_route *r,
                                    const char *target, char **err)
{
    tmpl tp;
    const char *s, *segstart;
    int i;

#define TARGET_FAIL(what)                                                   \
    do {                                                                    \
        if (err) {                                                          \
            *err = apr_psprintf(p, "route %s: target %s: %s",               \
                                quote(p, r->name), quote(p, target), what); \
        }                                                                   \
        return APR_EINVAL;                                                  \
    } while (0)

    if (err) {
        *err = NULL;
    }
    if (parse_template(p, r, &tp, err) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    if (!target || target[0] != '/') {
        TARGET_FAIL("must start with '/'");
    }
    for (s = segstart = target; *s; s++) {
        const char *close;
        apr_size_t n;

        if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '\\') {
            TARGET_FAIL("contains a control character or '\\'");
        }
        if (*s == '}') {
            TARGET_FAIL("'}' without '{'");
        }
        if (*s == '/') {
            /* An upstream would resolve a literal "." or "..": refuse. */
            if (s > segstart
                && dotty(segstart + 1, (apr_size_t)(s - segstart - 1))) {
                TARGET_FAIL("contains a dot-segment");
            }
            segstart = s;
            continue;
        }
        if (*s != '{') {
            continue;
        }
        if (!(close = strchr(s + 1, '}'))) {
            TARGET_FAIL("'{' without '}'");
        }
        n = (apr_size_t)(close - s - 1);
        if (n == 1 && s[1] == '*') {
            if (!tp.prefix) {
                TARGET_FAIL("uses {*} but the route's template does not end "
                            "with \"/*\"");
            }
        }
        else if (!valid_name(s + 1, n)) {
            TARGET_FAIL(apr_psprintf(p, "bad placeholder %s",
                                     quote(p, apr_pstrmemdup(p, s, n + 2))));
        }
        else {
            for (i = 0; i < tp.nparams; i++) {
                if (strlen(tp.names[i]) == n
                    && memcmp(tp.names[i], s + 1, n) == 0) {
                    break;
                }
            }
            if (i == tp.nparams) {
                TARGET_FAIL(apr_psprintf(p, "{%s} is not a parameter of "
                            "template %s", apr_pstrmemdup(p, s + 1, n),
                            quote(p, r->path)));
            }
        }
        s = close;
    }
    if (s > segstart && dotty(segstart + 1, (apr_size_t)(s - segstart - 1))) {
        TARGET_FAIL("contains a dot-segment");
    }
    return APR_SUCCESS;
#undef TARGET_FAIL
}

/*
 * Measure (out == NULL) or write the expansion of target.  When writing,
 * "{*}" with an empty rest right after a '/' also drops that '/' (unless it
 * is the leading one), so "/v2/{*}" gives "/v2" for the prefix itself,
 * never "/v2/" or "/v2//".  Measuring ignores that rule: it may only
 * overestimate, never underestimate, what writing needs.
 */
static apr_size_t expand_into(char *out, const char *target,
                              const vip_route_match *m)
{
    apr_size_t o = 0;
    const char *s;
    int i;

    for (s = target; *s; s++) {
        const char *close, *v = NULL;
        apr_size_t n, vl;

        if (*s != '{' || !(close = strchr(s + 1, '}'))) {
            if (out) {
                out[o] = *s;
            }
            o++;
            continue;
        }
        n = (apr_size_t)(close - s - 1);
        for (i = 0; i < m->nparams; i++) {
            if (strlen(m->names[i]) == n
                && memcmp(m->names[i], s + 1, n) == 0) {
                v = m->values[i];
                break;
            }
        }
        s = close;
        vl = v ? strlen(v) : 0;
        if (out && vl == 0 && n == 1 && close[-1] == '*' && o > 1
            && out[o - 1] == '/') {
            o--;
            continue;
        }
        if (out && vl) {
            memcpy(out + o, v, vl);
        }
        o += vl;
    }
    return o;
}

const char *vip_route_expand(apr_pool_t *p, const char *target,
                             const vip_route_match *m)
{
    char *out = apr_palloc(p, expand_into(NULL, target, m) + 1);

    out[expand_into(out, target, m)] = '\0';
    return out;
}
