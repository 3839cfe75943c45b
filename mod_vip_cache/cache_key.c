/*
 * cache_key.c - cache keys (see cache_key.h).
 */
#include <string.h>

#include "apr_lib.h"
#include "apr_strings.h"

#include "vip_crypto.h"
#include "cache_key.h"

typedef struct {
    const char *s;          /* the piece, "name=value" or "name" */
    apr_size_t nlen;        /* length of the name */
} qpiece;

static int ignored(const char *name, apr_size_t nlen,
                   const apr_array_header_t *ignore)
{
    int i;

    for (i = 0; ignore && i < ignore->nelts; i++) {
        const char *pat = APR_ARRAY_IDX(ignore, i, const char *);
        apr_size_t plen = strlen(pat);
        if (plen && pat[plen - 1] == '*') {
            if (nlen >= plen - 1 && memcmp(name, pat, plen - 1) == 0) {
                return 1;
            }
        }
        else if (plen == nlen && memcmp(name, pat, nlen) == 0) {
            return 1;
        }
    }
    return 0;
}

static int name_cmp(const qpiece *a, const qpiece *b)
{
    apr_size_t n = a->nlen < b->nlen ? a->nlen : b->nlen;
    int c = memcmp(a->s, b->s, n);

    if (c) {
        return c;
    }
    return a->nlen < b->nlen ? -1 : a->nlen > b->nlen;
}

const char *vip_cache_query(apr_pool_t *p, const char *query,
                            const apr_array_header_t *ignore)
{
    apr_array_header_t *pieces;
    qpiece *v;
    char *out, *o;
    const char *s, *amp;
    apr_size_t total = 0;
    int i, j;

    if (!query || !*query) {
        return NULL;
    }
    pieces = apr_array_make(p, 8, sizeof(qpiece));
    for (s = query; ; s = amp + 1) {
        apr_size_t len;
        const char *eq;
        amp = strchr(s, '&');
        len = amp ? (apr_size_t)(amp - s) : strlen(s);
        if (len) {
            qpiece *q;
            eq = memchr(s, '=', len);
            if (!ignored(s, eq ? (apr_size_t)(eq - s) : len, ignore)) {
                q = apr_array_push(pieces);
                q->s = apr_pstrmemdup(p, s, len);
                q->nlen = eq ? (apr_size_t)(eq - s) : len;
                total += len + 1;
            }
        }
        if (!amp) {
            break;
        }
    }
    if (!pieces->nelts) {
        return NULL;
    }
    /* Insertion sort: stable, and queries are short (a long one costs
     * n^2 compares of a few bytes, bounded by httpd's request line). */
    v = (qpiece *)pieces->elts;
    for (i = 1; i < pieces->nelts; i++) {
        qpiece cur = v[i];
        for (j = i; j > 0 && name_cmp(&v[j - 1], &cur) > 0; j--) {
            v[j] = v[j - 1];
        }
        v[j] = cur;
    }
    o = out = apr_palloc(p, total);
    for (i = 0; i < pieces->nelts; i++) {
        apr_size_t len = strlen(v[i].s);
        if (i) {
            *o++ = '&';
        }
        memcpy(o, v[i].s, len);
        o += len;
    }
    *o = '\0';
    return out;
}

/* Appends "<len>:<bytes>\n" (s NULL: "0:\n") at o; returns the end.  At
 * most 21 digits + 2 + len bytes. */
static char *put_field(char *o, apr_size_t len)
{
    char digits[24];
    int d = 0;

    do {
        digits[d++] = (char)('0' + len % 10);
        len /= 10;
    } while (len);
    while (d) {
        *o++ = digits[--d];
    }
    *o++ = ':';
    return o;
}

#define FIELD_ROOM(n) ((n) + 24)

/* One buffer, no intermediate strings: this runs for every cached
 * request and every ESI fragment lookup. */
char *vip_cache_key_material(apr_pool_t *p, const vip_cache_key_in *in)
{
    static const char magic[] = "vip-cache-1\n";
    const char *method = in->method;
    const char *f[5];
    apr_size_t fl[5], total = sizeof(magic) + 24 + 1;
    char *out, *o;
    int i;

    if (method && strcmp(method, "HEAD") == 0) {
        method = "GET";
    }
    f[0] = method;
    f[1] = in->scheme;
    f[2] = in->host;
    f[3] = in->path;
    f[4] = in->scope;
    for (i = 0; i < 5; i++) {
        fl[i] = f[i] ? strlen(f[i]) : 0;
        total += FIELD_ROOM(fl[i]);
    }
    total += in->query ? FIELD_ROOM(strlen(in->query)) : 2;
    o = out = apr_palloc(p, total);
    memcpy(o, magic, sizeof(magic) - 1);
    o += sizeof(magic) - 1;
    for (i = 0; i < 5; i++) {
        if (i == 3) {
            /* the port between host and path */
            o += apr_snprintf(o, 24, "%d\n", in->port);
        }
        o = put_field(o, fl[i]);
        memcpy(o, f[i] ? f[i] : "", fl[i]);
        o += fl[i];
        *o++ = '\n';
        if (i == 3) {
            if (in->query) {
                apr_size_t ql = strlen(in->query);
                o = put_field(o, ql);
                memcpy(o, in->query, ql);
                o += ql;
                *o++ = '\n';
            }
            else {
                *o++ = '-';
                *o++ = '\n';
            }
        }
    }
    *o = '\0';
    return out;
}

/* "<len>:<bytes>\n" */
static char *field(apr_pool_t *p, const char *s)
{
    return apr_psprintf(p, "%" APR_SIZE_T_FMT ":%s\n", s ? strlen(s) : 0,
                        s ? s : "");
}

char *vip_cache_key_append(apr_pool_t *p, const char *material,
                           const char *value)
{
    return apr_pstrcat(p, material, field(p, value ? value : ""), NULL);
}

char *vip_cache_key_vary(apr_pool_t *p, const char *material,
                         const apr_array_header_t *names,
                         const char *(*get)(void *ctx, const char *name),
                         void *ctx)
{
    char *m = apr_pstrcat(p, material, "vary\n", NULL);
    int i;

    for (i = 0; i < names->nelts; i++) {
        const char *n = APR_ARRAY_IDX(names, i, const char *);
        const char *v = get(ctx, n);
        m = apr_pstrcat(p, m, field(p, n), v ? field(p, v) : "-\n", NULL);
    }
    return m;
}

char *vip_cache_key_hash(apr_pool_t *p, const char *material)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char d[32];
    char *out = apr_palloc(p, VIP_CACHE_KEY_LEN + 1);
    int i;

    if (!vip_sha256(material, strlen(material), d)) {
        return NULL;
    }
    memcpy(out, VIP_CACHE_KEY_PREFIX, 6);
    for (i = 0; i < 32; i++) {
        out[6 + 2 * i] = hex[d[i] >> 4];
        out[7 + 2 * i] = hex[d[i] & 15];
    }
    out[VIP_CACHE_KEY_LEN] = '\0';
    return out;
}

static int is_tchar(int c)
{
    return apr_isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

int vip_cache_vary_names(apr_pool_t *p, const char *vary,
                         apr_array_header_t *names)
{
    const char *s = vary;

    while (s && *s) {
        const char *start;
        char *name;
        int i, j;
        while (*s == ' ' || *s == '\t' || *s == ',') {
            s++;
        }
        if (!*s) {
            break;
        }
        start = s;
        while (*s && *s != ',' && *s != ' ' && *s != '\t') {
            s++;
        }
        name = apr_pstrmemdup(p, start, (apr_size_t)(s - start));
        if (strcmp(name, "*") == 0) {
            return -1;
        }
        for (i = 0; name[i]; i++) {
            if (!is_tchar((unsigned char)name[i])) {
                return -1;
            }
            name[i] = (char)apr_tolower(name[i]);
        }
        /* sorted insert, unique */
        for (i = 0; i < names->nelts; i++) {
            int c = strcmp(APR_ARRAY_IDX(names, i, const char *), name);
            if (c == 0) {
                break;
            }
            if (c > 0) {
                APR_ARRAY_PUSH(names, const char *) = NULL;
                for (j = names->nelts - 1; j > i; j--) {
                    APR_ARRAY_IDX(names, j, const char *) =
                        APR_ARRAY_IDX(names, j - 1, const char *);
                }
                APR_ARRAY_IDX(names, i, const char *) = name;
                break;
            }
        }
        if (i == names->nelts) {
            APR_ARRAY_PUSH(names, const char *) = name;
        }
        while (*s == ' ' || *s == '\t') {
            s++;
        }
        if (*s && *s != ',') {
            return -1;
        }
    }
    return names->nelts;
}
