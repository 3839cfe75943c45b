/*
 * fuzz_cache_esi.c - libFuzzer harness for mod_vip_cache's ESI parser and
 * include src policy.
 *
 * Input: byte 0 = number of cuts (low 4 bits) and limits (high bits), then
 * two bytes per cut (a position in the document), the rest the document.
 * The document is parsed whole and then cut into chunks at those
 * positions (each chunk in its own heap copy, wiped after use); the event
 * streams (text runs merged) must be identical, every zero-copy span must
 * lie inside its chunk, and every include src the policy accepts must
 * come back as a clean absolute path (no "//" before the query) that
 * vip_esi_uri_normalize leaves unchanged.  Any broken
 * promise aborts.
 */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "cache_esi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    char *s;
    size_t len, cap;
    int in_text;
    const char *chunk;
    size_t chunk_len;
    apr_pool_t *p;
} sink;

static void put(sink *k, const void *b, size_t n)
{
    if (k->len + n > k->cap) {
        k->cap = (k->len + n) * 2 + 64;
        k->s = realloc(k->s, k->cap);
        if (!k->s) {
            abort();
        }
    }
    memcpy(k->s + k->len, b, n);
    k->len += n;
}

/* Event framing: 0x01 starts an event; 0x01 inside text becomes 01 03. */
static void put_text(sink *k, const char *b, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        put(k, b[i] == 1 ? "\001\003" : b + i, b[i] == 1 ? 2 : 1);
    }
}

static void check_src(apr_pool_t *p, const char *src)
{
    char *out, *again;
    const char *why, *q, *s;
    size_t i, n;

    if (vip_esi_src_resolve(p, src, strlen(src), "/p/q.html", &out, &why)
        != APR_SUCCESS) {
        if (out || !why) {
            abort();
        }
        return;
    }
    n = strlen(out);
    q = strchr(out, '?');
    if (why || out[0] != '/' || n > VIP_ESI_SRC_MAX
        || ((s = strstr(out, "//")) && (!q || s < q))) {
        abort();
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        if (c <= 0x20 || c >= 0x7f || c == '\\' || c == '#') {
            abort();
        }
    }
    if (vip_esi_uri_normalize(p, out, n, &again, &why) != APR_SUCCESS
        || strcmp(out, again) != 0) {
        abort();
    }
}

static apr_status_t record(void *ctx, const vip_esi_event *ev)
{
    sink *k = ctx;
    char hdr[2] = { 1, 0 };

    if (ev->type == VIP_ESI_TEXT) {
        if (ev->len == 0) {
            abort();
        }
        if (ev->in_input && (ev->data < k->chunk
                             || ev->data + ev->len > k->chunk + k->chunk_len)) {
            abort();
        }
        if (!k->in_text) {
            hdr[1] = 'T';
            put(k, hdr, 2);
            put(k, &ev->offset, sizeof(ev->offset));
            k->in_text = 1;
        }
        put_text(k, ev->data, ev->len);
        return APR_SUCCESS;
    }
    k->in_text = 0;
    hdr[1] = ev->type == VIP_ESI_INCLUDE ? 'I' : 'E';
    put(k, hdr, 2);
    put(k, &ev->offset, sizeof(ev->offset));
    if (ev->type == VIP_ESI_INCLUDE) {
        put(k, &ev->index, sizeof(ev->index));
        put(k, &ev->onerror_continue, sizeof(ev->onerror_continue));
        put(k, ev->src, strlen(ev->src) + 1);
        put(k, ev->alt ? ev->alt : "\001", strlen(ev->alt ? ev->alt : "\001")
                                               + 1);
        if (k->p) {
            check_src(k->p, ev->src);
            if (ev->alt) {
                check_src(k->p, ev->alt);
            }
        }
    }
    else {
        put(k, &ev->error, sizeof(ev->error));
    }
    return APR_SUCCESS;
}

static void run(apr_pool_t *p, const char *doc, size_t len,
                const size_t *cuts, int ncuts, const vip_esi_limits *lim,
                sink *k)
{
    vip_esi_parser *ps = vip_esi_parser_create(p, lim, record, k);
    size_t from = 0;
    int i;

    for (i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : len;
        char *c = malloc(to - from + 1);

        if (!c) {
            abort();
        }
        memcpy(c, doc + from, to - from);
        k->chunk = c;
        k->chunk_len = to - from;
        if (vip_esi_parse(ps, c, to - from) != APR_SUCCESS) {
            abort();
        }
        memset(c, 0, to - from);
        free(c);
        k->chunk = NULL;
        from = to;
    }
    if (vip_esi_finish(ps) != APR_SUCCESS) {
        abort();
    }
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int initialized;
    static const size_t tags[4] = { 0, 64, 100, 1024 };
    static const int incs[4] = { 0, 2, -1, 5 };
    apr_pool_t *p;
    vip_esi_limits lim;
    sink one, split;
    size_t cuts[15], len;
    const char *doc;
    int ncuts, i;

    if (!initialized) {
        apr_initialize();
        initialized = 1;
    }
    if (size < 1) {
        return 0;
    }
    ncuts = data[0] & 0x0f;
    if (ncuts == 15 || size < 1 + 2 * (size_t)ncuts) {
        return 0;
    }
    lim.max_tag = tags[(data[0] >> 4) & 3];
    lim.max_includes = incs[(data[0] >> 6) & 3];
    doc = (const char *)data + 1 + 2 * ncuts;
    len = size - 1 - 2 * (size_t)ncuts;
    for (i = 0; i < ncuts; i++) {
        cuts[i] = ((size_t)data[1 + 2 * i] | (size_t)data[2 + 2 * i] << 8)
                  % (len + 1);
    }
    qsort(cuts, (size_t)ncuts, sizeof(cuts[0]), cmp_size);

    apr_pool_create(&p, NULL);
    memset(&one, 0, sizeof(one));
    memset(&split, 0, sizeof(split));
    one.p = p;
    run(p, doc, len, NULL, 0, &lim, &one);
    run(p, doc, len, cuts, ncuts, &lim, &split);
    if (one.len != split.len || (one.len && memcmp(one.s, split.s, one.len))) {
        abort();
    }
    free(one.s);
    free(split.s);
    apr_pool_destroy(p);
    return 0;
}
