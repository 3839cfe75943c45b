/*
 * route_budget.h - the retry policy of a route, as pure code (APR only):
 * parsing `retry_on=` and the retry budget, a sliding window of request
 * and retry counts in memory that all child processes share, updated with
 * atomics only (no lock).
 */
#ifndef VIP_ROUTE_BUDGET_H
#define VIP_ROUTE_BUDGET_H

#include <apr.h>
#include <apr_pools.h>

/* The window: VIP_BUDGET_SLOTS slots of one second each. */
#define VIP_BUDGET_SLOTS 10

/* What a route retries on: upstream statuses 500-599 and/or a timeout. */
typedef struct {
    apr_uint32_t status_bits[4];        /* bit (s - 500) per status */
    int timeout;
    int nstatuses;
} vip_retry_on;

/* Parse "502,503,504,timeout" into *on.  NULL on success, else a message
 * (allocated from p) naming the bad item. */
const char *vip_retry_on_parse(apr_pool_t *p, const char *spec,
                               vip_retry_on *on);

/* 1 when status is one of on's. */
int vip_retry_on_status(const vip_retry_on *on, int status);

/* The statuses of on as "502 503", for generated configuration. */
const char *vip_retry_on_list(apr_pool_t *p, const vip_retry_on *on,
                              char sep);

/* One slot of the window.  All fields change with apr_atomic_*32 only. */
typedef struct {
    volatile apr_uint32_t second;       /* the second this slot counts */
    volatile apr_uint32_t requests;
    volatile apr_uint32_t retries;
} vip_budget_slot;

/* A route's budget, in shared memory: zeroed memory is an empty window. */
typedef struct {
    vip_budget_slot slot[VIP_BUDGET_SLOTS];
} vip_budget;

/* Count one request of the route at time now (seconds). */
void vip_budget_request(vip_budget *b, apr_uint32_t now);

/* May the route retry once more at time now?  Yes while the retries of
 * the window, this one included, stay within percent of its requests;
 * a yes is counted.  Concurrent callers may overshoot by the number of
 * decisions taken at the same instant (no lock), never more. */
int vip_budget_try_retry(vip_budget *b, apr_uint32_t now, int percent);

/* The window's totals at time now (for tests and logs). */
void vip_budget_totals(vip_budget *b, apr_uint32_t now,
                       apr_uint32_t *requests, apr_uint32_t *retries);

#endif
