/*
 * limit_lease.h - the arithmetic of mod_vip_limit's cluster store: how a
 * limit becomes counters in memcached, how many tokens a node leases with
 * one `incr`, what a lease grants, and the memcached keys.  Pure: no
 * clock, no memcached, no httpd (unit-tested and fuzzed).
 *
 * Rates and quotas share one scheme: fixed windows on the wall clock, one
 * memcached counter per (limit, key, window) whose key holds the window
 * index, and an allowance per window for the whole cluster.
 *   quota   the calendar window of the quota, allowance = the quota
 *   rate    W = burst x T (the time the GCRA bucket takes to refill),
 *           allowance = burst; W below VIP_LEASE_MIN_WINDOW_NS is
 *           multiplied up to it (allowance with it), so a window is never
 *           shorter than 100 ms
 * A node takes k tokens at once (`incr` by k; the counter's value says
 * how many of them are within the allowance) and admits from them
 * locally; every token is counted in memcached before it is used, so the
 * cluster never admits more than the allowance per window, and at most
 * nodes x (k - 1) tokens of a window go unused (leased, not needed).
 *
 * Concurrency: epochs of E seconds (lease=), one counter per (limit, key,
 * epoch).  A node registers the slots it holds in the counters of the
 * current and of the next epoch; slots it stops registering vanish with
 * the epoch, so a crashed node's slots are free again within 2E.
 */
#ifndef VIP_LIMIT_LEASE_H
#define VIP_LIMIT_LEASE_H

#include <apr.h>

#include "limit_gcra.h"
#include "limit_table.h"

#define VIP_LEASE_MIN_WINDOW_NS  (100 * APR_UINT64_C(1000000))
#define VIP_LEASE_MAX_BATCH      1000u
#define VIP_LEASE_MAX_NODES      1024u
#define VIP_LEASE_CID_LEN        16
/* "vip:1:l:" + 32 hex + ':' + kind + 16 hex + NUL */
#define VIP_LEASE_KEY_LEN        (8 + 32 + 1 + 1 + 16 + 1)
/* memcached keeps a window's counter this much longer than the window:
 * nodes whose clocks lag (skew) still find it */
#define VIP_LEASE_TTL_MARGIN_S   10

/* How a limit is counted cluster-wide. */
typedef struct {
    apr_uint64_t window_ns;     /* W */
    apr_uint64_t allowance;     /* per window, whole cluster */
    apr_uint32_t lease;         /* k: tokens per `incr` */
    apr_uint32_t ttl_s;         /* memcached TTL of a window's counter */
} vip_lease_plan;

/* The plan of a rate / a quota with batch k and nodes sharing it: k is
 * batch, at most allowance / (2 x nodes) (a node never takes more than
 * half its share at once), at least 1. */
void vip_lease_plan_rate(vip_lease_plan *lp, const vip_gcra *g,
                         apr_uint32_t batch, apr_uint32_t nodes);
void vip_lease_plan_quota(vip_lease_plan *lp, const vip_quota *q,
                          apr_uint32_t batch, apr_uint32_t nodes);

/* What an `incr` by want answering value v (the counter after it) grants
 * against allowance: tokens within it, and whether the window is now
 * used up (no later lease can get anything). */
apr_uint64_t vip_lease_grant(apr_uint64_t v, apr_uint64_t want,
                             apr_uint64_t allowance, int *exhausted);

/* A node's share of a limit while memcached cannot be used: limit /
 * nodes, at least 1.  For a rate the sustained rate is exactly
 * count / (period x nodes), the burst burst / nodes (at least 1). */
void vip_lease_share_rate(vip_gcra *out, const vip_gcra *g,
                          apr_uint32_t nodes);
apr_uint32_t vip_lease_share(apr_uint32_t limit, apr_uint32_t nodes);

/* The node-local lease word of a rate/quota key: the window index (low
 * 32 bits), "exhausted", and the tokens left (31 bits). */
#define VIP_LEASE_EXHAUSTED  APR_UINT64_C(0x80000000)
#define VIP_LEASE_TOKENS     APR_UINT64_C(0x7fffffff)
static APR_INLINE apr_uint64_t vip_lease_word(apr_uint64_t win, int exh,
                                              apr_uint64_t tokens)
{
    return (win & 0xffffffffu) << 32 | (exh ? VIP_LEASE_EXHAUSTED : 0)
           | (tokens > VIP_LEASE_TOKENS ? VIP_LEASE_TOKENS : tokens);
}

/* Window (or epoch) a of a lease word compared with b, modulo 2^32: < 0
 * when a is older. */
static APR_INLINE int vip_lease_cmp(apr_uint64_t a, apr_uint64_t b)
{
    return (apr_int32_t)(apr_uint32_t)((a & 0xffffffffu) - (b & 0xffffffffu));
}

/* The cluster-wide id of a counter: 128 bits of SipHash-2-4 of
 * data[0..len) under fixed keys (every node must find the same counter,
 * so no per-node random key; memcached hashes keys itself, so nothing
 * is gained by a secret here).  Raw request bytes never reach a key. */
void vip_lease_cid(const void *data, apr_size_t len,
                   unsigned char cid[VIP_LEASE_CID_LEN]);

/* "vip:1:l:<32 hex of cid>:<kind><hex of index>" into buf (at least
 * VIP_LEASE_KEY_LEN bytes); kind is 'r' (rate), 'q' (quota) or 'c'
 * (concurrency epoch).  Returns the length. */
apr_size_t vip_lease_key(char *buf, const unsigned char *cid, char kind,
                         apr_uint64_t index);

/* ---- node-local lease state in the zone's table ------------------------
 * Rate/quota: one entry (quota kind, so it is free once its window has
 * ended): STATE the lease word, AUX the monotonic end of its window,
 * EXTRA the counter's last value this node saw (for "remaining").
 * Shared by every child and thread of the node, so all of them draw on
 * the node's leased tokens. */

#define VIP_LEASE_TAKEN   0     /* admitted from the node's tokens */
#define VIP_LEASE_DENIED  1     /* the window is used up: refused */
#define VIP_LEASE_NEED    2     /* no tokens: lease from memcached */

typedef struct {
    apr_uint64_t win;           /* window (or epoch) to count in */
    apr_uint64_t want;          /* tokens/slots to ask for */
    /* concurrency only */
    apr_uint64_t base;          /* slots already registered for win */
    apr_uint64_t ext;           /* registration carried to the next epoch */
    apr_uint64_t old_aux;
    int need_ext;
} vip_lease_view;

/* Take a token for a request at wall (ns since the epoch) / now
 * (monotonic ns).  The window is the wall clock's, unless this node
 * already counts in a later one (its clock went back): windows never go
 * back.  TAKEN/DENIED fill res; NEED fills v for the `incr`. */
int vip_lease_take(vip_limit_entry *e, const vip_lease_plan *lp,
                   apr_uint64_t wall, apr_uint64_t now, vip_lease_view *v,
                   vip_limit_result *res);

/* After `incr` by v->want answered value: the grant goes to the node's
 * tokens (one of them to this request when any); fills res. */
void vip_lease_merge(vip_limit_entry *e, const vip_lease_plan *lp,
                     const vip_lease_view *v, apr_uint64_t value,
                     apr_uint64_t wall, apr_uint64_t now,
                     vip_limit_result *res);

/* Concurrency: one entry (concurrency kind: free when nothing is in
 * flight): STATE requests in flight on this node, AUX the epoch of the
 * node's last registration (high 32 bits) and the slots it holds in that
 * epoch's counter (low 32 bits), EXTRA the slots it holds in the next
 * epoch's counter.
 *
 * TAKEN: a slot of the node's registration (STATE raised; release with
 * vip_limit_table_release).  NEED: v says what to register: v->want more
 * slots in epoch v->win's counter (0: none, only the extension), then
 * vip_lease_conc_next() in the next epoch's. */
int vip_lease_conc_take(vip_limit_entry *e, apr_uint64_t epoch,
                        apr_uint32_t k, vip_lease_view *v);

/* After the registration: granted of v->want were within the limit.
 * Admits the request when the node's registration has room (STATE
 * raised: release it) and fills res. */
void vip_lease_conc_merge(vip_limit_entry *e, const vip_lease_view *v,
                          apr_uint64_t granted,
                          vip_limit_result *res);

/* What the next epoch's counter must gain after granted: the whole new
 * registration when it is extended, else the grant. */
apr_uint64_t vip_lease_conc_next(const vip_lease_view *v,
                                 apr_uint64_t granted);

#endif
