/*
 * fuzz_cache_cc.c - libFuzzer harness for mod_vip_cache's header parsers:
 * Cache-Control (and Surrogate-Control), Vary names and the query
 * canonicaliser, over one untrusted string.  Besides crashes it checks
 * their promises: parsed delta-seconds are within 0..VIP_CC_MAX, Vary
 * names are lower-case tokens other than "*" (a token such as "*+" is a
 * name) in strictly increasing order, and the
 * canonical query is a fixed point (canonicalising it again changes
 * nothing) no longer than the input.
 */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "cache_key.h"
#include "cache_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_delta(long v)
{
    if (v != VIP_CC_UNSET && (v < 0 || v > VIP_CC_MAX)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int initialized;
    apr_pool_t *p;
    apr_array_header_t *names, *ign;
    const char *q, *q2;
    char *s;
    vip_cc cc;
    int i;

    if (!initialized) {
        apr_initialize();
        initialized = 1;
    }
    apr_pool_create(&p, NULL);
    s = apr_pstrmemdup(p, (const char *)data, size);

    vip_cc_init(&cc);
    vip_cc_parse(s, &cc);
    check_delta(cc.max_age);
    check_delta(cc.s_maxage);
    check_delta(cc.swr);
    check_delta(cc.sie);
    (void)vip_surrogate_no_store(s);

    names = apr_array_make(p, 2, sizeof(const char *));
    if (vip_cache_vary_names(p, s, names) >= 0) {
        for (i = 0; i < names->nelts; i++) {
            const char *n = APR_ARRAY_IDX(names, i, const char *);
            if (!*n || strcmp(n, "*") == 0 || strpbrk(n, " ,\tABCDEFGHIJKLMNOPQRSTUVWXYZ")
                || (i && strcmp(APR_ARRAY_IDX(names, i - 1, const char *), n) >= 0)) {
                abort();
            }
        }
    }

    ign = apr_array_make(p, 2, sizeof(const char *));
    APR_ARRAY_PUSH(ign, const char *) = "utm_*";
    APR_ARRAY_PUSH(ign, const char *) = "x";
    q = vip_cache_query(p, s, ign);
    if (q) {
        q2 = vip_cache_query(p, q, ign);
        if (!q2 || strcmp(q, q2) != 0 || strlen(q) > strlen(s)) {
            abort();
        }
    }
    apr_pool_destroy(p);
    return 0;
}
