/*
 * cache_entry.c - entry codec and checksum (see cache_entry.h).
 *
 * The checksum is XXH64, written here from its public specification
 * because Debian ships no libxxhash header.  It only has to catch
 * corruption and truncation (whoever can write to memcached can write a
 * valid entry anyway), and it must be cheap on the hit path: SHA-256 of
 * a 20 KB page costs ~10 us, a third of the budget; XXH64 ~2 us (see
 * test/unit/test_cache_entry.c, which measures both).
 */
#include <string.h>

#include "apr_strings.h"

#include "cache_entry.h"

/* ---- XXH64 -------------------------------------------------------------- */

#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL
#define P3 0x165667B19E3779F9ULL
#define P4 0x85EBCA77C2B2AE63ULL
#define P5 0x27D4EB2F165667C5ULL

static apr_uint64_t rotl(apr_uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

/* Little-endian loads as one move each: the checksum reads every byte
 * of every hit, and the byte-by-byte form was not inlined. */
static inline apr_uint64_t rd64(const unsigned char *p)
{
    apr_uint64_t v;

    memcpy(&v, p, sizeof(v));
#if APR_IS_BIGENDIAN
    v = __builtin_bswap64(v);
#endif
    return v;
}

static apr_uint32_t rd32(const unsigned char *p)
{
    return (apr_uint32_t)p[0] | (apr_uint32_t)p[1] << 8
        | (apr_uint32_t)p[2] << 16 | (apr_uint32_t)p[3] << 24;
}

static apr_uint64_t round64(apr_uint64_t acc, apr_uint64_t in)
{
    acc += in * P2;
    acc = rotl(acc, 31);
    return acc * P1;
}

static apr_uint64_t merge64(apr_uint64_t acc, apr_uint64_t v)
{
    acc ^= round64(0, v);
    return acc * P1 + P4;
}

apr_uint64_t vip_xxh64(const void *data, apr_size_t len)
{
    const unsigned char *p = data, *end = p + len;
    apr_uint64_t h;

    if (len >= 32) {
        const unsigned char *limit = end - 32;
        apr_uint64_t v1 = P1 + P2, v2 = P2, v3 = 0, v4 = 0 - P1;
        do {
            v1 = round64(v1, rd64(p));
            v2 = round64(v2, rd64(p + 8));
            v3 = round64(v3, rd64(p + 16));
            v4 = round64(v4, rd64(p + 24));
            p += 32;
        } while (p <= limit);
        h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18);
        h = merge64(h, v1);
        h = merge64(h, v2);
        h = merge64(h, v3);
        h = merge64(h, v4);
    }
    else {
        h = P5;
    }
    h += (apr_uint64_t)len;
    while (p + 8 <= end) {
        h ^= round64(0, rd64(p));
        h = rotl(h, 27) * P1 + P4;
        p += 8;
    }
    if (p + 4 <= end) {
        h ^= (apr_uint64_t)rd32(p) * P1;
        h = rotl(h, 23) * P2 + P3;
        p += 4;
    }
    while (p < end) {
        h ^= (apr_uint64_t)(*p) * P5;
        h = rotl(h, 11) * P1;
        p++;
    }
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    h ^= h >> 32;
    return h;
}

/* ---- writing ------------------------------------------------------------ */

static void wr16(unsigned char *p, apr_uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void wr32(unsigned char *p, apr_uint32_t v)
{
    wr16(p, v & 0xffff);
    wr16(p + 2, v >> 16);
}

static void wr64(unsigned char *p, apr_uint64_t v)
{
    wr32(p, (apr_uint32_t)v);
    wr32(p + 4, (apr_uint32_t)(v >> 32));
}

static int nelts(const apr_array_header_t *a)
{
    return a ? a->nelts : 0;
}

char *vip_entry_encode_head(apr_pool_t *p, const vip_cache_entry *e,
                            apr_size_t *len)
{
    apr_size_t n = VIP_ENTRY_FIXED + 4;
    unsigned char *buf, *o;
    int i;

    for (i = 0; i < nelts(e->vary); i++) {
        n += 2 + strlen(APR_ARRAY_IDX(e->vary, i, const char *));
    }
    for (i = 0; i < nelts(e->tags); i++) {
        n += 2 + strlen(APR_ARRAY_IDX(e->tags, i, vip_entry_tag).name) + 8;
    }
    for (i = 0; i < nelts(e->headers); i++) {
        const vip_entry_header *h = &APR_ARRAY_IDX(e->headers, i,
                                                   vip_entry_header);
        n += 2 + strlen(h->name) + 4 + strlen(h->value);
    }
    o = buf = apr_pcalloc(p, n);
    memcpy(o, "VIPC", 4);
    o[4] = VIP_ENTRY_VERSION;
    o[5] = (unsigned char)e->kind;
    wr16(o + 20, (apr_uint32_t)e->status);
    wr16(o + 22, (apr_uint32_t)nelts(e->headers));
    wr64(o + 24, (apr_uint64_t)e->stored_at);
    wr64(o + 32, (apr_uint64_t)e->fresh_until);
    wr64(o + 40, (apr_uint64_t)e->stale_until);
    wr64(o + 48, (apr_uint64_t)e->error_until);
    wr64(o + 56, e->tenant_gen);
    wr16(o + 64, (apr_uint32_t)nelts(e->vary));
    wr16(o + 66, (apr_uint32_t)nelts(e->tags));
    o += VIP_ENTRY_FIXED;
    for (i = 0; i < nelts(e->vary); i++) {
        const char *s = APR_ARRAY_IDX(e->vary, i, const char *);
        apr_size_t l = strlen(s);
        wr16(o, (apr_uint32_t)l);
        memcpy(o + 2, s, l);
        o += 2 + l;
    }
    for (i = 0; i < nelts(e->tags); i++) {
        const vip_entry_tag *t = &APR_ARRAY_IDX(e->tags, i, vip_entry_tag);
        apr_size_t l = strlen(t->name);
        wr16(o, (apr_uint32_t)l);
        memcpy(o + 2, t->name, l);
        wr64(o + 2 + l, t->gen);
        o += 2 + l + 8;
    }
    for (i = 0; i < nelts(e->headers); i++) {
        const vip_entry_header *h = &APR_ARRAY_IDX(e->headers, i,
                                                   vip_entry_header);
        apr_size_t nl = strlen(h->name), vl = strlen(h->value);
        wr16(o, (apr_uint32_t)nl);
        memcpy(o + 2, h->name, nl);
        wr32(o + 2 + nl, (apr_uint32_t)vl);
        memcpy(o + 6 + nl, h->value, vl);
        o += 6 + nl + vl;
    }
    /* body length: vip_entry_finish */
    *len = n;
    return (char *)buf;
}

void vip_entry_finish(char *buf, apr_size_t head_len, apr_size_t total)
{
    unsigned char *b = (unsigned char *)buf;

    wr32(b + 16, (apr_uint32_t)total);
    wr32(b + head_len - 4, (apr_uint32_t)(total - head_len));
    wr64(b + 8, vip_xxh64(b + 16, total - 16));
}

char *vip_entry_encode(apr_pool_t *p, const vip_cache_entry *e,
                       const char *body, apr_size_t body_len,
                       apr_size_t *len)
{
    apr_size_t hl;
    char *head = vip_entry_encode_head(p, e, &hl);
    char *buf = apr_palloc(p, hl + body_len + 1);

    memcpy(buf, head, hl);
    if (body_len) {
        memcpy(buf + hl, body, body_len);
    }
    vip_entry_finish(buf, hl, hl + body_len);
    *len = hl + body_len;
    return buf;
}

/* ---- reading ------------------------------------------------------------ */

typedef struct {
    const unsigned char *p, *end;
} reader;

static int take(reader *r, apr_size_t n, const unsigned char **out)
{
    if ((apr_size_t)(r->end - r->p) < n) {
        return 0;
    }
    *out = r->p;
    r->p += n;
    return 1;
}

/* A string of n bytes with no NUL, CR or LF (header-safe), into p. */
static const char *str(apr_pool_t *p, reader *r, apr_size_t n)
{
    const unsigned char *s;

    if (!take(r, n, &s) || memchr(s, '\0', n) || memchr(s, '\r', n)
        || memchr(s, '\n', n)) {
        return NULL;
    }
    return apr_pstrmemdup(p, (const char *)s, n);
}

#define FAIL(reason) do { *why = reason; return APR_EINVAL; } while (0)

apr_status_t vip_entry_decode(apr_pool_t *p, const char *buf, apr_size_t len,
                              vip_cache_entry *e, const char **why)
{
    const unsigned char *b = (const unsigned char *)buf, *s;
    reader r;
    int nh, nv, nt, i;

    memset(e, 0, sizeof(*e));
    if (len < VIP_ENTRY_FIXED + 4 || memcmp(b, "VIPC", 4) != 0) {
        FAIL("not a vip cache entry");
    }
    if (b[4] != VIP_ENTRY_VERSION) {
        FAIL("unknown entry version");
    }
    if ((b[5] != VIP_ENTRY_PAGE && b[5] != VIP_ENTRY_VARY) || b[6] || b[7]) {
        FAIL("unknown entry kind");
    }
    if (rd32(b + 16) != len) {
        FAIL("entry length mismatch (truncated?)");
    }
    if (rd64(b + 8) != vip_xxh64(b + 16, len - 16)) {
        FAIL("entry checksum mismatch");
    }
    e->kind = b[5];
    e->status = (int)(b[20] | b[21] << 8);
    nh = b[22] | b[23] << 8;
    e->stored_at = (apr_int64_t)rd64(b + 24);
    e->fresh_until = (apr_int64_t)rd64(b + 32);
    e->stale_until = (apr_int64_t)rd64(b + 40);
    e->error_until = (apr_int64_t)rd64(b + 48);
    e->tenant_gen = rd64(b + 56);
    nv = b[64] | b[65] << 8;
    nt = b[66] | b[67] << 8;
    if (rd32(b + 68) != 0) {
        FAIL("reserved bytes set");
    }
    if (e->status < 100 || e->status > 599) {
        FAIL("bad status");
    }
    if (nh > VIP_ENTRY_MAX_ITEMS || nv > VIP_ENTRY_MAX_ITEMS
        || nt > VIP_ENTRY_MAX_ITEMS) {
        FAIL("too many items");
    }
    r.p = b + VIP_ENTRY_FIXED;
    r.end = b + len;
    e->vary = apr_array_make(p, nv ? nv : 1, sizeof(const char *));
    e->tags = apr_array_make(p, nt ? nt : 1, sizeof(vip_entry_tag));
    e->headers = apr_array_make(p, nh ? nh : 1, sizeof(vip_entry_header));
    for (i = 0; i < nv; i++) {
        const char *name;
        if (!take(&r, 2, &s) || !(name = str(p, &r, (apr_size_t)(s[0] | s[1] << 8)))
            || !*name) {
            FAIL("bad Vary name");
        }
        APR_ARRAY_PUSH(e->vary, const char *) = name;
    }
    for (i = 0; i < nt; i++) {
        vip_entry_tag *t = apr_array_push(e->tags);
        if (!take(&r, 2, &s) || !(t->name = str(p, &r, (apr_size_t)(s[0] | s[1] << 8)))
            || !*t->name || !take(&r, 8, &s)) {
            FAIL("bad tag");
        }
        t->gen = rd64(s);
    }
    for (i = 0; i < nh; i++) {
        vip_entry_header *h = apr_array_push(e->headers);
        if (!take(&r, 2, &s) || !(h->name = str(p, &r, (apr_size_t)(s[0] | s[1] << 8)))
            || !*h->name || strpbrk(h->name, " \t:") || !take(&r, 4, &s)
            || !(h->value = str(p, &r, rd32(s)))) {
            FAIL("bad header");
        }
    }
    if (!take(&r, 4, &s)) {
        FAIL("no body length");
    }
    e->body_len = rd32(s);
    e->body_off = (apr_size_t)(r.p - b);
    if ((apr_size_t)(r.end - r.p) != e->body_len) {
        FAIL("body length mismatch");
    }
    return APR_SUCCESS;
}
