/*
 * cache_esi_src.c - the ESI include src policy (THREATS E2): an include's
 * src as written becomes the URI of a same-site subrequest, or is refused
 * with a reason; the same URI layer normalises request URIs, and the
 * chain check stops loops and deep nesting (E3).  Pure code (APR only);
 * docs/esi.md sections 4 and 5 give the rules, cache_esi.h the API.
 */
#include <string.h>

#include <apr_strings.h>

#include "vip_config.h"
#include "cache_esi.h"

static int is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9');
}

static int is_unreserved(unsigned char c)
{
    return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* RFC 3986 characters a URI may carry literally (fragment '#' aside). */
static int is_uri_char(unsigned char c)
{
    return is_unreserved(c) || (c && strchr("!$&'()*+,;=:@/?%", c));
}

/*
 * Copy src into d, refusing every byte that has no place in a URI.  With
 * markup (an attribute value), "&amp;" - the one entity a correct page
 * needs in a URL - is decoded and every other entity refused; a '&' that
 * does not start an entity is an ordinary '&'.
 */
static const char *decode_src(const char *src, apr_size_t len, int markup,
                              char *d, apr_size_t *dlen)
{
    apr_size_t i, k, o = 0;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];

        if (c < 0x20 || c == 0x7f) {
            return "control_char";
        }
        if (c == ' ') {
            return "space";
        }
        if (c == '\\') {
            return "backslash";
        }
        if (c == '#') {
            return "fragment";
        }
        if (c == '&' && markup) {
            for (k = i + 1; k < len && (is_alnum((unsigned char)src[k])
                                        || src[k] == '#'); k++) {
            }
            if (k < len && k > i + 1 && src[k] == ';') {
                if (k - i - 1 != 3 || memcmp(src + i + 1, "amp", 3) != 0) {
                    return "entity";
                }
                i = k;
            }
        }
        else if (c >= 0x80 || !is_uri_char(c)) {
            return "bad_char";
        }
        d[o++] = (char)c;
    }
    *dlen = o;
    return NULL;
}

/*
 * Append s[0..n) to out (at *o) with its percent escapes checked and put
 * in RFC 3986 normal form: unreserved characters decoded, others upper
 * case.  in_path: an escaped '/' or '%' is refused too (the first would
 * split differently after decoding, the second is double encoding).
 */
static const char *norm_escapes(const char *s, apr_size_t n, char *out,
                                apr_size_t *o, int in_path)
{
    static const char hex[] = "0123456789ABCDEF";
    apr_size_t i;

    for (i = 0; i < n; i++) {
        int hi, lo, v;

        if (s[i] != '%') {
            out[(*o)++] = s[i];
            continue;
        }
        if (i + 2 >= n) {
            return "bad_escape";
        }
        hi = vip_hexval((unsigned char)s[i + 1]);
        lo = vip_hexval((unsigned char)s[i + 2]);
        if (hi < 0 || lo < 0) {
            return "bad_escape";
        }
        v = hi * 16 + lo;
        if (v < 0x20 || v == 0x7f) {
            return "encoded_control";
        }
        if (in_path && v == '/') {
            return "encoded_slash";
        }
        if (in_path && v == '%') {
            return "double_encoding";
        }
        if (in_path && v == '\\') {
            return "backslash";
        }
        if (is_unreserved((unsigned char)v)) {
            out[(*o)++] = (char)v;
        }
        else {
            out[(*o)++] = '%';
            out[(*o)++] = hex[hi];
            out[(*o)++] = hex[lo];
        }
        i += 2;
    }
    return NULL;
}

/* A segment that is "." or "..", also with ";params" after it (servlet
 * containers strip those before resolving dot-segments). */
static int is_dot_segment(const char *s, apr_size_t n)
{
    const char *semi = memchr(s, ';', n);

    if (semi) {
        n = (apr_size_t)(semi - s);
    }
    return (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.');
}

static apr_status_t resolve(apr_pool_t *p, const char *src, apr_size_t len,
                            const char *parent_path, int markup, char **out,
                            const char **reason)
{
    char *d, *path, *res;
    const char *q, *err, *seg;
    apr_size_t dlen, plen, qlen, o = 0, i;

    *out = NULL;
    *reason = NULL;
    if (len == 0) {
        *reason = "empty";
        return APR_EINVAL;
    }
    if (len > VIP_ESI_SRC_MAX) {
        *reason = "too_long";
        return APR_EINVAL;
    }
    d = apr_palloc(p, len + 1);
    if ((err = decode_src(src, len, markup, d, &dlen))) {
        *reason = err;
        return APR_EINVAL;
    }
    q = memchr(d, '?', dlen);
    plen = q ? (apr_size_t)(q - d) : dlen;
    qlen = q ? dlen - plen - 1 : 0;
    if (plen == 0) {
        *reason = "empty";
        return APR_EINVAL;
    }
    if (plen >= 2 && d[0] == '/' && d[1] == '/') {
        *reason = "network_path";
        return APR_EINVAL;
    }
    if (d[0] == '/') {
        path = apr_pstrmemdup(p, d, plen);
    }
    else {
        /* Relative: a ':' in the first segment makes it a scheme (RFC
         * 3986 4.2); refused also when percent-encoded. */
        const char *slash = memchr(d, '/', plen);
        apr_size_t flen = slash ? (apr_size_t)(slash - d) : plen;
        const char *dir_end;

        for (i = 0; i < flen; i++) {
            if (d[i] == ':' || (d[i] == '%' && i + 2 < flen
                                && d[i + 1] == '3'
                                && (d[i + 2] == 'A' || d[i + 2] == 'a'))) {
                *reason = "scheme";
                return APR_EINVAL;
            }
        }
        if (!parent_path || parent_path[0] != '/') {
            *reason = "no_parent";
            return APR_EINVAL;
        }
        dir_end = strrchr(parent_path, '/');
        path = apr_pstrcat(p, apr_pstrmemdup(p, parent_path,
                                             (apr_size_t)(dir_end
                                                          - parent_path) + 1),
                           apr_pstrmemdup(p, d, plen), NULL);
        plen = strlen(path);
    }
    if (plen + qlen + 1 > VIP_ESI_SRC_MAX) {
        *reason = "too_long";
        return APR_EINVAL;
    }

    /* Segment by segment: merge runs of '/', normalise escapes, refuse
     * dot-segments (after decoding, so "%2e%2e" is caught). */
    res = apr_palloc(p, plen + qlen + 2);
    for (seg = path; seg < path + plen;) {
        const char *end = memchr(seg, '/', (apr_size_t)(path + plen - seg));
        apr_size_t start;

        if (!end) {
            end = path + plen;
        }
        if (seg == path) {
            res[o++] = '/';     /* path[0] == '/': an empty first segment */
        }
        else if (end > seg) {
            start = o;
            if ((err = norm_escapes(seg, (apr_size_t)(end - seg), res, &o,
                                    1))) {
                *reason = err;
                return APR_EINVAL;
            }
            if (is_dot_segment(res + start, o - start)) {
                *reason = "dot_segment";
                return APR_EINVAL;
            }
            if (end < path + plen) {
                res[o++] = '/';
            }
        }
        seg = end + 1;
    }
    if (qlen) {
        res[o++] = '?';
        if ((err = norm_escapes(q + 1, qlen, res, &o, 0))) {
            *reason = err;
            return APR_EINVAL;
        }
    }
    res[o] = '\0';
    *out = res;
    return APR_SUCCESS;
}

apr_status_t vip_esi_src_resolve(apr_pool_t *p, const char *src,
                                 apr_size_t len, const char *parent_path,
                                 char **out, const char **reason)
{
    return resolve(p, src, len, parent_path, 1, out, reason);
}

apr_status_t vip_esi_uri_normalize(apr_pool_t *p, const char *uri,
                                   apr_size_t len, char **out,
                                   const char **reason)
{
    return resolve(p, uri, len, NULL, 0, out, reason);
}

const char *vip_esi_chain_check(apr_pool_t *p, const char *const *chain,
                                int n, const char *uri, int max_depth)
{
    char *norm;
    const char *why;
    int i;

    if (n >= max_depth) {
        return "depth";
    }
    if (vip_esi_uri_normalize(p, uri, strlen(uri), &norm, &why)
        == APR_SUCCESS) {
        uri = norm;
    }
    for (i = 0; i < n; i++) {
        const char *a = chain[i];

        if (vip_esi_uri_normalize(p, a, strlen(a), &norm, &why)
            == APR_SUCCESS) {
            a = norm;
        }
        if (strcmp(a, uri) == 0) {
            return "loop";
        }
    }
    return NULL;
}
