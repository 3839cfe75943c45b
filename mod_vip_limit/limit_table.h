/*
 * limit_table.h - the node-local store of mod_vip_limit: a hash table of
 * fixed 32-byte entries in one block of memory that every child process
 * and thread maps (shared memory in httpd, malloc'd memory in the unit
 * tests).  No lock anywhere: entries are claimed and updated with 64-bit
 * compare-and-swap (apr_atomic_cas64).
 *
 * Keys are hashed with SipHash-2-4 under a random 128-bit key chosen when
 * the block is initialised (kept in the block, so it survives a graceful
 * restart with the state); the 64-bit hash is the entry's tag.  A key may
 * live in the PROBE slots after its home slot; an entry never goes back to
 * empty, it is only taken over by another key once expired:
 *   rate         its TAT is in the past (the bucket is whole again)
 *   quota        its window has ended
 *   concurrency  nothing is in flight
 * A key finding PROBE live entries gets VIP_LIMIT_NOSLOT: the caller
 * fails open or closed, never waits, and live state is never evicted, so
 * a flood of new keys cannot reset an established key.
 */
#ifndef VIP_LIMIT_TABLE_H
#define VIP_LIMIT_TABLE_H

#include <apr.h>

#include "limit_gcra.h"

#define VIP_LIMIT_PROBE        16
#define VIP_LIMIT_MIN_ENTRIES  64
#define VIP_LIMIT_MAX_ENTRIES  (16u * 1024 * 1024)

/* Entry kinds: the low two bits of a tag (so a tag is never 0, "empty"). */
#define VIP_LIMIT_KIND_RATE    1
#define VIP_LIMIT_KIND_QUOTA   2
#define VIP_LIMIT_KIND_CONC    3

#define VIP_LIMIT_OK      0
#define VIP_LIMIT_NOSLOT  1     /* PROBE live entries: no room for the key */

typedef struct vip_limit_table vip_limit_table;
typedef struct vip_limit_entry vip_limit_entry;

/* Counters, for logs and tests (approximate under concurrency only in
 * the sense that they are read without a snapshot). */
typedef struct {
    apr_uint32_t entries;
    apr_uint64_t used;          /* entries ever claimed (not empty) */
    apr_uint64_t noslot;        /* requests that found no slot */
    apr_uint64_t reused;        /* expired entries taken over */
} vip_limit_stats;

/* Bytes needed for a table of n entries. */
apr_size_t vip_limit_table_size(apr_uint32_t entries);

/* Largest number of entries that fit in size bytes (0: below minimum). */
apr_uint32_t vip_limit_table_fit(apr_size_t size);

/* Lay out a new, empty table in mem[0..size) (size from
 * vip_limit_table_size).  hashkey: 16 random bytes; wall_offset: wall
 * clock minus monotonic clock, ns, at creation (quota windows are computed
 * from the monotonic clock plus this offset, so they follow the calendar
 * without following later steps of the wall clock). */
vip_limit_table *vip_limit_table_init(void *mem, apr_size_t size,
                                      apr_uint32_t entries,
                                      const unsigned char hashkey[16],
                                      apr_uint64_t wall_offset);

/* The table already in mem (a previous generation's), or NULL when mem
 * does not hold one of exactly this size. */
vip_limit_table *vip_limit_table_attach(void *mem, apr_size_t size);

/* The tag of a key: SipHash-2-4 of data[0..len) with the kind in the low
 * bits.  The caller puts everything that names the counter (limit name,
 * algorithm, key value) into data. */
apr_uint64_t vip_limit_tag(const vip_limit_table *t, const void *data,
                           apr_size_t len, int kind);

/* SipHash-2-4 of data[0..len) under the key (k0, k1). */
apr_uint64_t vip_limit_siphash(apr_uint64_t k0, apr_uint64_t k1,
                               const void *data, apr_size_t len);

/* The entry of tag, found or claimed; NULL when there is no room. */
vip_limit_entry *vip_limit_table_get(vip_limit_table *t, apr_uint64_t tag,
                                     apr_uint64_t now);

/* The decisions.  now: monotonic ns.  Each returns VIP_LIMIT_OK with res
 * filled, or VIP_LIMIT_NOSLOT (res untouched). */
int vip_limit_table_rate(vip_limit_table *t, apr_uint64_t tag,
                         const vip_gcra *g, apr_uint64_t now,
                         vip_limit_result *res);
int vip_limit_table_quota(vip_limit_table *t, apr_uint64_t tag,
                          const vip_quota *q, apr_uint64_t now,
                          vip_limit_result *res);
/* On VIP_LIMIT_OK with res->allowed, *slot must later be given to
 * vip_limit_table_release exactly once. */
int vip_limit_table_acquire(vip_limit_table *t, apr_uint64_t tag,
                            apr_uint32_t limit, apr_uint64_t now,
                            vip_limit_result *res, vip_limit_entry **slot);
void vip_limit_table_release(vip_limit_entry *slot);

/* The two halves of vip_limit_table_acquire, for a caller that records
 * who holds the slot in between (limit_holders.c): the entry's CAS
 * update; and a release that happens only while the entry still has
 * tag, returning 1 when it gave a slot back. */
void vip_limit_entry_acquire(vip_limit_entry *e, apr_uint32_t limit,
                             vip_limit_result *res);
int vip_limit_entry_release_tagged(vip_limit_entry *slot, apr_uint64_t tag);

/* 1 when p is the address of one of t's entries. */
int vip_limit_table_contains(const vip_limit_table *t, const void *p);

/* Requests in flight on tag (0 when absent); for tests. */
apr_uint64_t vip_limit_table_inflight(vip_limit_table *t, apr_uint64_t tag);

apr_uint64_t vip_limit_table_wall(const vip_limit_table *t, apr_uint64_t now);
void vip_limit_table_stats(const vip_limit_table *t, vip_limit_stats *st);

/* Once per interval_ns across all processes: 1 for the caller that should
 * log "table full" now (a CAS on a timestamp in the table). */
int vip_limit_table_should_log(vip_limit_table *t, apr_uint64_t now,
                               apr_uint64_t interval_ns);

/* The words of an entry, for the cluster leases (limit_lease.c), which
 * keep their own state in entries of the zone's table: STATE (whose
 * meaning the kind in the tag gives, for expiry), AUX (for a quota-kind
 * entry: monotonic ns its window ends) and EXTRA. */
#define VIP_LIMIT_W_STATE 0
#define VIP_LIMIT_W_AUX   1
#define VIP_LIMIT_W_EXTRA 2
apr_uint64_t vip_limit_entry_read(vip_limit_entry *e, int w);
/* 1 when the word was cmp and is now with. */
int vip_limit_entry_cas(vip_limit_entry *e, int w, apr_uint64_t with,
                        apr_uint64_t cmp);
/* Raise the word to v (never lowers it). */
void vip_limit_entry_raise(vip_limit_entry *e, int w, apr_uint64_t v);

/* ---- the store interface --------------------------------------------
 * Every decision goes through a store, so a cluster-wide store (memcached
 * with local pre-admission) can stand in front of the local table without
 * the request code changing.  vip_limit_table_store fills one that works
 * on the table alone. */

/* What a store decides on: the node-local tag, and for cluster zones the
 * cluster-wide id of the same counter (limit_lease.h; NULL otherwise). */
typedef struct {
    apr_uint64_t tag;
    const unsigned char *cid;       /* 16 bytes */
} vip_limit_key;

typedef struct vip_limit_store vip_limit_store;
struct vip_limit_store {
    void *ctx;
    int (*rate)(void *ctx, const vip_limit_key *k, const vip_gcra *g,
                apr_uint64_t now, vip_limit_result *res);
    int (*quota)(void *ctx, const vip_limit_key *k, const vip_quota *q,
                 apr_uint64_t now, vip_limit_result *res);
    int (*acquire)(void *ctx, const vip_limit_key *k, apr_uint32_t limit,
                   apr_uint64_t now, vip_limit_result *res, void **slot);
    void (*release)(void *ctx, void *slot);
};

void vip_limit_table_store(vip_limit_table *t, vip_limit_store *s);

#endif
