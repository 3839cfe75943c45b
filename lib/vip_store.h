/*
 * vip_store.h - the memcached store of mod_vip_cache and of
 * mod_vip_limit's cluster mode: one libmemcachedutil pool per child process, shared by its threads, over a master handle
 * configured for several servers with consistent hashing (ketama), the
 * ASCII protocol, millisecond connect/poll timeouts and dead-server
 * ejection with a retry delay.
 *
 * Every call takes a handle from the pool and gives it back before it
 * returns, so no early return of a caller can leak one.  Failures are
 * results, never errors to the client: APR_NOTFOUND is a miss, anything
 * but APR_SUCCESS / APR_NOTFOUND / APR_EEXIST means "the store is not
 * usable now" and the caller bypasses the cache.  After a timeout the
 * store refuses further calls for a short while (a circuit breaker in
 * memory shared by all children); then ONE call across all children
 * probes (half-open) while the others keep refusing, and the first call
 * that memcached answers closes it.  A blackholed memcached costs one
 * poll timeout per breaker period, not one per request or per thread.
 *
 * Keys are built by the callers (e.g. cache_key.h): printable, no spaces,
 * at most VIP_STORE_MAX_KEY bytes.
 */
#ifndef VIP_STORE_H
#define VIP_STORE_H

#include "apr_pools.h"
#include "apr_buckets.h"

#define VIP_STORE_MAX_KEY 250

/* Settings from VipCacheServers, validated by vip_store_parse_servers. */
typedef struct {
    apr_array_header_t *servers;  /* vip_store_server */
    int connect_ms;               /* connect timeout */
    int io_ms;                    /* poll timeout of each read/write */
    int retry_s;                  /* a failed server rests this long */
    int dead_s;                   /* an ejected server is retried after */
} vip_store_conf;

typedef struct {
    const char *host;
    int port;
} vip_store_server;

typedef struct vip_store vip_store;

/* A value read from memcached.  data is libmemcached's own buffer: it is
 * freed by a cleanup on the pool given to the call, unless handed to
 * vip_store_value_bucket(), which makes it a heap bucket without a copy. */
typedef struct {
    char *data;
    apr_size_t len;
    apr_pool_t *pool;             /* where the cleanup sits */
} vip_store_value;

/* Shared (cross-child) state the store uses: the circuit breaker.  The
 * module puts it in shared memory; unit tests may use plain memory. */
typedef struct {
    volatile apr_uint64_t open_until_ms;  /* store refused until then; 0
                                             when closed, past when
                                             half-open */
    volatile apr_uint64_t probe_until_ms; /* half-open: a probe is out */
    volatile apr_uint32_t timeouts;       /* timeouts seen, total */
    volatile apr_uint32_t unreachable;    /* calls that reached no server
                                             (refused, resting, ejected) */
    volatile apr_uint64_t round_trips;    /* requests sent to memcached */
} vip_store_shared;

/* Parse "host:port ..." words into conf->servers (from p); NULL on
 * success, else a message naming the bad word. */
const char *vip_store_parse_server(apr_pool_t *p, vip_store_conf *conf,
                                   const char *word);

/* Create the store for this child: master handle + pool of up to
 * max_handles clones.  Destroyed by a cleanup on p.  Never connects. */
apr_status_t vip_store_create(apr_pool_t *p, const vip_store_conf *conf,
                              int max_handles, vip_store_shared *shared,
                              vip_store **out);

/* One key.  APR_SUCCESS with *v filled, APR_NOTFOUND, or a failure. */
apr_status_t vip_store_get(vip_store *st, apr_pool_t *p, const char *key,
                           vip_store_value *v);

/* n keys in one round trip (memcached_mget + memcached_fetch_result).
 * vals[i].data is NULL for a key that is absent.  Any server error
 * fails the whole call: an unknown answer is not a miss. */
apr_status_t vip_store_mget(vip_store *st, apr_pool_t *p,
                            const char *const *keys, int n,
                            vip_store_value *vals);

/* Store data under key for ttl seconds (0: no expiry). */
apr_status_t vip_store_set(vip_store *st, apr_pool_t *p, const char *key,
                           const void *data, apr_size_t len, apr_uint32_t ttl);

/* Store only when absent (locks): APR_SUCCESS, APR_EEXIST, or failure. */
apr_status_t vip_store_add(vip_store *st, apr_pool_t *p, const char *key,
                           const void *data, apr_size_t len, apr_uint32_t ttl);

/* Increment a decimal counter by 1, creating it with initial when absent
 * (ASCII protocol: incr, else add, else incr again when another node won
 * the add).  *out receives the new value. */
apr_status_t vip_store_incr(vip_store *st, apr_pool_t *p, const char *key,
                            apr_uint64_t initial, apr_uint32_t ttl,
                            apr_uint64_t *out);

/* Largest delta of vip_store_incr_by / vip_store_decr_by (libmemcached
 * takes a 32-bit offset). */
#define VIP_STORE_MAX_DELTA 0xffffffffu

/* Add delta (0..VIP_STORE_MAX_DELTA) to a decimal counter, creating it
 * with the value delta and ttl seconds when absent (incr, else add, else
 * incr again when another node won the add): one round trip in the steady
 * state, atomic in memcached, so nodes leasing from one counter never
 * race.  *out receives the new value; delta 0 reads it (an absent
 * counter is created at 0).  APR_EINVAL for a bad delta. */
apr_status_t vip_store_incr_by(vip_store *st, apr_pool_t *p, const char *key,
                               apr_uint64_t delta, apr_uint32_t ttl,
                               apr_uint64_t *out);

/* A counter's value as a get or multi-get returned it (decimal, maybe
 * space-padded after an incr): 1 with *out set, 0 when absent or not a
 * counter. */
int vip_store_counter(const vip_store_value *v, apr_uint64_t *out);

/* Subtract delta from a counter (memcached stops at 0): APR_SUCCESS with
 * *out, APR_NOTFOUND when absent, or failure. */
apr_status_t vip_store_decr_by(vip_store *st, apr_pool_t *p, const char *key,
                               apr_uint64_t delta, apr_uint64_t *out);

/* 1 while the circuit breaker refuses calls (a recent timeout, or the
 * only server refused). */
int vip_store_breaker_open(const vip_store *st);

/* Delete key: APR_SUCCESS (also when it was absent) or failure. */
apr_status_t vip_store_delete(vip_store *st, apr_pool_t *p, const char *key);

/* The value's bytes [off, off+len) as a heap bucket owning the buffer
 * (freed with it); the pool cleanup is dropped.  Use once per value. */
apr_bucket *vip_store_value_bucket(vip_store_value *v, apr_size_t off,
                                   apr_size_t len, apr_bucket_alloc_t *list);

/* Readable reason of the last failure of this thread, for logs. */
const char *vip_store_last_error(void);

#endif
