/*
 * limit_gcra.c - GCRA, calendar quota and concurrency arithmetic (see
 * limit_gcra.h).  Integer nanoseconds throughout: T is rounded up to the
 * next nanosecond, so a limit is never exceeded, and over a day at any
 * rate the admitted count differs from the exact one by less than one.
 */
#include "limit_gcra.h"

void vip_gcra_init(vip_gcra *g, apr_uint32_t count, apr_uint32_t period_s,
                   apr_uint32_t burst)
{
    apr_uint64_t period_ns = (apr_uint64_t)period_s * VIP_NS_PER_SEC;

    g->count = count;
    g->period_s = period_s;
    g->burst = burst;
    g->interval = (period_ns + count - 1) / count;
    g->tolerance = g->interval * burst;
}

apr_uint64_t vip_gcra_step(const vip_gcra *g, apr_uint64_t tat,
                           apr_uint64_t now, vip_limit_result *res)
{
    apr_uint64_t base = tat > now ? tat : now;
    apr_uint64_t next = base + g->interval;
    apr_uint64_t ahead = next - now;    /* > 0: next > now */

    if (ahead > g->tolerance) {
        res->allowed = 0;
        res->remaining = 0;
        /* the earliest now' with next - now' <= tolerance */
        res->retry_ns = ahead - g->tolerance;
        res->reset_ns = base - now;
        return tat;
    }
    res->allowed = 1;
    res->remaining = (g->tolerance - ahead) / g->interval;
    res->retry_ns = 0;
    res->reset_ns = ahead;
    return next;
}

apr_uint64_t vip_quota_window(const vip_quota *q, apr_uint64_t wall_ns)
{
    return wall_ns / ((apr_uint64_t)q->window_s * VIP_NS_PER_SEC);
}

apr_uint64_t vip_quota_state_end(const vip_quota *q, apr_uint64_t state)
{
    return ((state >> 32) + 1) * (apr_uint64_t)q->window_s * VIP_NS_PER_SEC;
}

apr_uint64_t vip_quota_step(const vip_quota *q, apr_uint64_t state,
                            apr_uint64_t wall_ns, vip_limit_result *res)
{
    apr_uint64_t window = vip_quota_window(q, wall_ns) & 0xffffffffu;
    apr_uint64_t have = state >> 32;
    apr_uint64_t count = state & 0xffffffffu;
    apr_uint64_t end;

    if (window > have) {
        have = window;
        count = 0;
    }
    end = (have + 1) * (apr_uint64_t)q->window_s * VIP_NS_PER_SEC;
    res->reset_ns = end > wall_ns ? end - wall_ns : 0;
    if (count >= q->limit) {
        res->allowed = 0;
        res->remaining = 0;
        res->retry_ns = res->reset_ns;
        return state;
    }
    count++;
    res->allowed = 1;
    res->remaining = q->limit - count;
    res->retry_ns = 0;
    return (have << 32) | count;
}

apr_uint64_t vip_conc_step(apr_uint32_t limit, apr_uint64_t state,
                           vip_limit_result *res)
{
    res->reset_ns = 0;
    res->retry_ns = 0;
    if (state >= limit) {
        res->allowed = 0;
        res->remaining = 0;
        /* unknown: a slot frees when a request ends */
        res->retry_ns = VIP_NS_PER_SEC;
        return state;
    }
    res->allowed = 1;
    res->remaining = limit - state - 1;
    return state + 1;
}
