/*
 * limit_gcra.h - the arithmetic of mod_vip_limit's three algorithms, on
 * plain integers: no clock, no memory, no httpd.  The table (limit_table.c)
 * keeps one 64-bit state word per key and calls these to compute the next
 * state; the caller supplies "now".
 *
 *   rate (GCRA)   state = theoretical arrival time (TAT), ns of the
 *                 monotonic clock.  A request at now is admitted when
 *                 max(TAT, now) + T - now <= burst * T, and then TAT
 *                 becomes max(TAT, now) + T, where T = period / count.
 *   quota         state = calendar window index (high 32 bits) and the
 *                 count of that window (low 32 bits).
 *   concurrency   state = requests in flight.
 */
#ifndef VIP_LIMIT_GCRA_H
#define VIP_LIMIT_GCRA_H

#include <apr.h>

#define VIP_NS_PER_SEC APR_UINT64_C(1000000000)

/* What every algorithm answers for one request. */
typedef struct {
    int allowed;
    apr_uint64_t remaining;     /* requests still admitted right now,
                                   after this one when it was admitted */
    apr_uint64_t reset_ns;      /* until the allowance is whole again
                                   (rate: bucket empty; quota: window end) */
    apr_uint64_t retry_ns;      /* denied: until a request is admitted */
    int degraded;               /* cluster store: decided on the node's
                                   share alone (memcached unusable); set
                                   by the cluster store only, the caller
                                   zeroes it */
} vip_limit_result;

/* ---- rate: GCRA -------------------------------------------------------- */

typedef struct {
    apr_uint64_t interval;      /* T, ns; rounded up, so never faster */
    apr_uint64_t tolerance;     /* burst * T, ns */
    apr_uint32_t count;         /* the rate as configured: count/period */
    apr_uint32_t period_s;
    apr_uint32_t burst;
} vip_gcra;

/* count > 0 requests per period_s > 0 seconds, burst >= 1 at once. */
void vip_gcra_init(vip_gcra *g, apr_uint32_t count, apr_uint32_t period_s,
                   apr_uint32_t burst);

/* One request at now against state tat.  Returns the state to store:
 * the new TAT when admitted, tat unchanged when not. */
apr_uint64_t vip_gcra_step(const vip_gcra *g, apr_uint64_t tat,
                           apr_uint64_t now, vip_limit_result *res);

/* ---- quota: calendar windows ------------------------------------------ */

typedef struct {
    apr_uint32_t limit;         /* requests per window */
    apr_uint32_t window_s;      /* 60, 3600 or 86400 */
} vip_quota;

/* Index of the window holding wall-clock time wall_ns (ns since the
 * epoch), so windows start on the minute, hour or day (UTC). */
apr_uint64_t vip_quota_window(const vip_quota *q, apr_uint64_t wall_ns);

/* One request at wall_ns against state.  A state from a later window than
 * wall_ns (the wall clock was set back) keeps counting in that window:
 * stepping the clock never hands out a fresh quota early.  Returns the
 * state to store. */
apr_uint64_t vip_quota_step(const vip_quota *q, apr_uint64_t state,
                            apr_uint64_t wall_ns, vip_limit_result *res);

/* Wall-clock ns at which the window of state ends. */
apr_uint64_t vip_quota_state_end(const vip_quota *q, apr_uint64_t state);

/* ---- concurrency ------------------------------------------------------- */

/* Take a slot: state is the number in flight. */
apr_uint64_t vip_conc_step(apr_uint32_t limit, apr_uint64_t state,
                           vip_limit_result *res);

#endif
