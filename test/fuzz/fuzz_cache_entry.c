/*
 * fuzz_cache_entry.c - libFuzzer harness for mod_vip_cache's entry
 * decoder: whatever memcached hands back (corrupt, truncated, foreign,
 * hostile) decodes to an error or to an entry whose every part lies
 * inside the input, whose strings are header-safe, and which encodes back
 * to the same bytes.  The first input byte, when 'F', asks the harness
 * to fix up length and checksum first, so the fuzzer also reaches the
 * parser behind the checksum.
 */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "cache_entry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_str(const char *s)
{
    if (!s || strpbrk(s, "\r\n")) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int initialized;
    apr_pool_t *p;
    vip_cache_entry e;
    const char *why = NULL;
    char *buf;
    int i;

    if (!initialized) {
        apr_initialize();
        initialized = 1;
    }
    apr_pool_create(&p, NULL);
    buf = apr_pmemdup(p, size ? (const char *)data : "", size ? size : 1);
    if (size > VIP_ENTRY_FIXED + 5 && data[0] == 'F') {
        buf++;
        size--;
        memcpy(buf, "VIPC", 4);
        buf[16] = (char)size;
        buf[17] = (char)(size >> 8);
        buf[18] = (char)(size >> 16);
        buf[19] = (char)(size >> 24);
        {
            apr_uint64_t h = vip_xxh64(buf + 16, size - 16);
            for (i = 0; i < 8; i++) {
                buf[8 + i] = (char)(h >> (8 * i));
            }
        }
    }
    if (vip_entry_decode(p, buf, size, &e, &why) == APR_SUCCESS) {
        vip_cache_entry c = e;
        apr_size_t len;
        char *again;
        if (e.body_off + e.body_len != size || e.body_off > size) {
            abort();
        }
        for (i = 0; i < e.headers->nelts; i++) {
            check_str(APR_ARRAY_IDX(e.headers, i, vip_entry_header).name);
            check_str(APR_ARRAY_IDX(e.headers, i, vip_entry_header).value);
        }
        for (i = 0; i < e.vary->nelts; i++) {
            check_str(APR_ARRAY_IDX(e.vary, i, const char *));
        }
        for (i = 0; i < e.tags->nelts; i++) {
            check_str(APR_ARRAY_IDX(e.tags, i, vip_entry_tag).name);
        }
        again = vip_entry_encode(p, &c, buf + e.body_off, e.body_len, &len);
        if (len != size || memcmp(again, buf, size) != 0) {
            abort();
        }
    }
    else if (!why) {
        abort();
    }
    apr_pool_destroy(p);
    return 0;
}
