/*
 * fuzz_limit_spec.c - libFuzzer harness for mod_vip_limit's limit spec
 * parser (the words after the zone name of VipLimit, VipLimitPlan and
 * VipLimitRoute).  The input is split on spaces into words, as httpd's
 * config reader would.  Besides crashes it checks what the module relies
 * on, aborting when broken: an accepted spec limits something, every
 * number is within its documented range, a burst exists exactly when a
 * rate does, and the GCRA built from it has T >= 1 ns and no overflow in
 * burst * T.
 */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "limit_gcra.h"
#include "limit_rate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int initialized;
    apr_pool_t *p;
    vip_limit_spec s;
    const char *err = NULL;
    char *text, *w, *last;

    if (!initialized) {
        apr_initialize();
        initialized = 1;
    }
    if (size > 4096) {
        return 0;
    }
    apr_pool_create(&p, NULL);
    text = apr_pstrmemdup(p, (const char *)data, size);
    if (strlen(text) != size) {
        apr_pool_destroy(p);        /* httpd never passes a NUL in a word */
        return 0;
    }
    memset(&s, 0, sizeof(s));
    for (w = apr_strtok(text, " ", &last); w && !err;
         w = apr_strtok(NULL, " ", &last)) {
        err = vip_limit_spec_word(p, &s, w);
        if (err && !*err) {
            abort();
        }
    }
    if (!err && !(err = vip_limit_spec_done(p, &s))) {
        if (!s.rate_count && !s.quota_count && !s.concurrency) {
            abort();
        }
        if (s.rate_count) {
            vip_gcra g;
            if (s.rate_count > VIP_LIMIT_MAX_COUNT || !s.rate_period
                || s.rate_period > VIP_LIMIT_MAX_PERIOD || !s.burst
                || s.burst > VIP_LIMIT_MAX_BURST) {
                abort();
            }
            vip_gcra_init(&g, s.rate_count, s.rate_period, s.burst);
            if (g.interval < 1 || g.tolerance / s.burst != g.interval) {
                abort();
            }
        }
        else if (s.burst) {
            abort();
        }
        if (s.quota_count && s.quota_window != 60 && s.quota_window != 3600
            && s.quota_window != 86400) {
            abort();
        }
        if (s.concurrency > VIP_LIMIT_MAX_CONC) {
            abort();
        }
    }
    apr_pool_destroy(p);
    return 0;
}
