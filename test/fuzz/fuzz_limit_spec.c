/*
 * fuzz_limit_spec.c - libFuzzer harness for mod_vip_limit's limit spec
 * parser (the words after the zone name of VipLimit, VipLimitPlan and
 * VipLimitRoute).  The input is split on spaces into words, as httpd's
 * config reader would.  Besides crashes it checks what the module relies
 * on, aborting when broken: an accepted spec limits something, every
 * number is within its documented range, a burst exists exactly when a
 * rate does, and the GCRA built from it has T >= 1 ns and no overflow in
 * burst * T.  Each accepted rate and quota also goes through the cluster
 * store's plans (limit_lease.c) with node and batch counts taken from the
 * input: windows of at least 100 ms, a lease of 1..batch tokens and at
 * most half a node's share, a TTL past the window, a degraded share never
 * above the limit, and grants never beyond what was asked or allowed.
 */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "limit_gcra.h"
#include "limit_lease.h"
#include "limit_rate.h"

static void check_plan(const vip_lease_plan *lp, apr_uint32_t batch,
                       apr_uint32_t nodes, apr_uint64_t v)
{
    apr_uint64_t cap = lp->allowance / (2 * (apr_uint64_t)nodes);
    apr_uint64_t got;
    int exh;

    if (!lp->allowance || lp->lease < 1 || lp->lease > batch
        || (cap >= 1 && lp->lease > cap)
        || (apr_uint64_t)lp->ttl_s * VIP_NS_PER_SEC < lp->window_ns) {
        abort();
    }
    got = vip_lease_grant(v, lp->lease, lp->allowance, &exh);
    if (got > lp->lease || (v <= lp->allowance && v >= lp->lease
                            && got != lp->lease)
        || (v >= lp->lease && v - lp->lease >= lp->allowance && got)
        || exh != (v >= lp->allowance)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int initialized;
    apr_pool_t *p;
    vip_limit_spec s;
    const char *err = NULL;
    char *text, *w, *last;
    vip_lease_plan lp;
    vip_gcra share;
    apr_uint32_t nodes = 1 + (size ? data[0] % VIP_LEASE_MAX_NODES : 0);
    apr_uint32_t batch = 1 + (size > 1 ? (data[1] * 7u) % VIP_LEASE_MAX_BATCH
                                       : 0);
    apr_uint64_t v = size > 2 ? (apr_uint64_t)data[2] * data[size - 1] : 0;

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
            vip_lease_plan_rate(&lp, &g, batch, nodes);
            if (lp.window_ns < VIP_LEASE_MIN_WINDOW_NS
                || lp.allowance < s.burst) {
                abort();
            }
            check_plan(&lp, batch, nodes, v);
            vip_lease_share_rate(&share, &g, nodes);
            if (share.interval < g.interval || share.burst > g.burst
                || share.burst < 1) {
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
        if (s.quota_count) {
            vip_quota q = {s.quota_count, s.quota_window};
            vip_lease_plan_quota(&lp, &q, batch, nodes);
            check_plan(&lp, batch, nodes, v);
            if (vip_lease_share(q.limit, nodes) > q.limit) {
                abort();
            }
        }
        if (s.concurrency > VIP_LIMIT_MAX_CONC) {
            abort();
        }
    }
    apr_pool_destroy(p);
    return 0;
}
