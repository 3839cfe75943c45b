/*
 * limit_table.c - the lock-free shared-memory table of mod_vip_limit (see
 * limit_table.h for the model).
 *
 * Races and what they cost, all bounded and none blocking:
 *  - two processes claiming a slot for the same new key: claims go to the
 *    first empty slot of the key's probe window; empty slots never come
 *    back, so both aim at the same slot and the loser of the CAS finds the
 *    winner's tag on its next pass.
 *  - a key taking over an expired entry while another process that read
 *    the old tag is about to update it: that one update lands on the new
 *    key (one request counted for the wrong key, once).  Expired entries
 *    are only taken over when the window has no empty slot.
 *  - a state update is a CAS loop on one word: decisions on one key are
 *    exactly sequential, whatever the number of processes and threads.
 */
#include <string.h>

#include <apr_atomic.h>

#include "limit_table.h"

#define TABLE_MAGIC   APR_UINT64_C(0x7669706c696d3031)     /* "viplim01" */
#define CLAIM_PASSES  8

struct vip_limit_entry {
    volatile apr_uint64_t tag;          /* 0: never used */
    volatile apr_uint64_t state;        /* the algorithm's word */
    volatile apr_uint64_t aux;          /* quota: monotonic ns the window
                                           ends; cluster leases: see
                                           limit_lease.c */
    volatile apr_uint64_t extra;        /* cluster leases only */
};

struct vip_limit_table {
    apr_uint64_t magic;
    apr_uint64_t size;
    apr_uint32_t entries;
    apr_uint32_t reserved;
    apr_uint64_t k0, k1;                /* SipHash key */
    apr_uint64_t wall_offset;
    volatile apr_uint64_t used;
    volatile apr_uint64_t noslot;
    volatile apr_uint64_t reused;
    volatile apr_uint64_t last_log;
    apr_uint64_t pad[6];                /* header: 128 bytes */
    vip_limit_entry e[];
};

/* ---- SipHash-2-4 (Aumasson and Bernstein), 64-bit output ---------------- */

#define ROTL(x, b) (apr_uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do { \
    v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
    v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
    v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
    v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
} while (0)

static apr_uint64_t load64le(const unsigned char *p)
{
    return (apr_uint64_t)p[0] | (apr_uint64_t)p[1] << 8
        | (apr_uint64_t)p[2] << 16 | (apr_uint64_t)p[3] << 24
        | (apr_uint64_t)p[4] << 32 | (apr_uint64_t)p[5] << 40
        | (apr_uint64_t)p[6] << 48 | (apr_uint64_t)p[7] << 56;
}

static apr_uint64_t siphash24(apr_uint64_t k0, apr_uint64_t k1,
                              const unsigned char *in, apr_size_t len)
{
    apr_uint64_t v0 = k0 ^ APR_UINT64_C(0x736f6d6570736575);
    apr_uint64_t v1 = k1 ^ APR_UINT64_C(0x646f72616e646f6d);
    apr_uint64_t v2 = k0 ^ APR_UINT64_C(0x6c7967656e657261);
    apr_uint64_t v3 = k1 ^ APR_UINT64_C(0x7465646279746573);
    apr_uint64_t b = (apr_uint64_t)len << 56, m;
    const unsigned char *end = in + (len & ~(apr_size_t)7);
    apr_size_t left = len & 7, i;

    for (; in != end; in += 8) {
        m = load64le(in);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    for (i = 0; i < left; i++) {
        b |= (apr_uint64_t)in[i] << (8 * i);
    }
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- layout ----------------------------------------------------------- */

apr_size_t vip_limit_table_size(apr_uint32_t entries)
{
    return sizeof(vip_limit_table) + (apr_size_t)entries
        * sizeof(vip_limit_entry);
}

apr_uint32_t vip_limit_table_fit(apr_size_t size)
{
    apr_size_t n;

    if (size < vip_limit_table_size(VIP_LIMIT_MIN_ENTRIES)) {
        return 0;
    }
    n = (size - sizeof(vip_limit_table)) / sizeof(vip_limit_entry);
    return n > VIP_LIMIT_MAX_ENTRIES ? VIP_LIMIT_MAX_ENTRIES : (apr_uint32_t)n;
}

vip_limit_table *vip_limit_table_init(void *mem, apr_size_t size,
                                      apr_uint32_t entries,
                                      const unsigned char hashkey[16],
                                      apr_uint64_t wall_offset)
{
    vip_limit_table *t = mem;

    if (entries < VIP_LIMIT_MIN_ENTRIES || entries > VIP_LIMIT_MAX_ENTRIES
        || size != vip_limit_table_size(entries)) {
        return NULL;
    }
    memset(mem, 0, size);
    t->size = size;
    t->entries = entries;
    t->k0 = load64le(hashkey);
    t->k1 = load64le(hashkey + 8);
    t->wall_offset = wall_offset;
    /* last: attach trusts a block only once it is complete */
    apr_atomic_set64(&t->magic, TABLE_MAGIC);
    return t;
}

vip_limit_table *vip_limit_table_attach(void *mem, apr_size_t size)
{
    vip_limit_table *t = mem;

    if (!mem || size < sizeof(*t) || t->magic != TABLE_MAGIC
        || t->size != size || vip_limit_table_size(t->entries) != size) {
        return NULL;
    }
    return t;
}

apr_uint64_t vip_limit_siphash(apr_uint64_t k0, apr_uint64_t k1,
                               const void *data, apr_size_t len)
{
    return siphash24(k0, k1, data, len);
}

apr_uint64_t vip_limit_tag(const vip_limit_table *t, const void *data,
                           apr_size_t len, int kind)
{
    return (siphash24(t->k0, t->k1, data, len) & ~APR_UINT64_C(3))
        | (apr_uint64_t)kind;
}

apr_uint64_t vip_limit_table_wall(const vip_limit_table *t, apr_uint64_t now)
{
    return now + t->wall_offset;
}

void vip_limit_table_stats(const vip_limit_table *t, vip_limit_stats *st)
{
    st->entries = t->entries;
    st->used = t->used;
    st->noslot = t->noslot;
    st->reused = t->reused;
}

int vip_limit_table_should_log(vip_limit_table *t, apr_uint64_t now,
                               apr_uint64_t interval_ns)
{
    apr_uint64_t last = apr_atomic_read64(&t->last_log);

    if (last && now - last < interval_ns) {
        return 0;
    }
    return apr_atomic_cas64(&t->last_log, now, last) == last;
}

/* ---- find or claim ---------------------------------------------------- */

static int expired(const vip_limit_entry *e, apr_uint64_t tag,
                   apr_uint64_t now)
{
    apr_uint64_t state = apr_atomic_read64((volatile apr_uint64_t *)&e->state);
    apr_uint64_t aux;

    switch (tag & 3) {
    case VIP_LIMIT_KIND_RATE:
        return state <= now;
    case VIP_LIMIT_KIND_QUOTA:
        /* 0: claimed, its first count not stored yet */
        aux = apr_atomic_read64((volatile apr_uint64_t *)&e->aux);
        return aux && aux <= now;
    default:
        return state == 0;
    }
}

vip_limit_entry *vip_limit_table_get(vip_limit_table *t, apr_uint64_t tag,
                                     apr_uint64_t now)
{
    apr_uint64_t n = t->entries;
    apr_uint64_t home = ((tag >> 32) * n) >> 32;
    int pass;

    for (pass = 0; pass < CLAIM_PASSES; pass++) {
        vip_limit_entry *empty = NULL, *stale = NULL;
        apr_uint64_t stale_tag = 0;
        apr_uint64_t i;

        for (i = 0; i < VIP_LIMIT_PROBE && i < n; i++) {
            vip_limit_entry *e = &t->e[(home + i) % n];
            apr_uint64_t et = apr_atomic_read64(&e->tag);
            if (et == tag) {
                return e;
            }
            if (et == 0) {
                /* nothing after the first empty slot: claims fill the
                 * window from the front and slots never empty again */
                empty = e;
                break;
            }
            if (!stale && expired(e, et, now)) {
                stale = e;
                stale_tag = et;
            }
        }
        if (empty) {
            if (apr_atomic_cas64(&empty->tag, tag, 0) == 0) {
                apr_atomic_inc64(&t->used);
                return empty;
            }
            continue;
        }
        if (!stale) {
            apr_atomic_inc64(&t->noslot);
            return NULL;
        }
        if (apr_atomic_cas64(&stale->tag, tag, stale_tag) == stale_tag) {
            apr_atomic_set64(&stale->aux, 0);
            apr_atomic_set64(&stale->extra, 0);
            apr_atomic_set64(&stale->state, 0);
            apr_atomic_inc64(&t->reused);
            return stale;
        }
    }
    apr_atomic_inc64(&t->noslot);
    return NULL;
}

/* ---- decisions ---------------------------------------------------------- */

int vip_limit_table_rate(vip_limit_table *t, apr_uint64_t tag,
                         const vip_gcra *g, apr_uint64_t now,
                         vip_limit_result *res)
{
    vip_limit_entry *e = vip_limit_table_get(t, tag, now);
    apr_uint64_t old, next;

    if (!e) {
        return VIP_LIMIT_NOSLOT;
    }
    do {
        old = apr_atomic_read64(&e->state);
        next = vip_gcra_step(g, old, now, res);
    } while (res->allowed && apr_atomic_cas64(&e->state, next, old) != old);
    return VIP_LIMIT_OK;
}

int vip_limit_table_quota(vip_limit_table *t, apr_uint64_t tag,
                          const vip_quota *q, apr_uint64_t now,
                          vip_limit_result *res)
{
    vip_limit_entry *e = vip_limit_table_get(t, tag, now);
    apr_uint64_t wall = now + t->wall_offset;
    apr_uint64_t old, next, end, aux;

    if (!e) {
        return VIP_LIMIT_NOSLOT;
    }
    do {
        old = apr_atomic_read64(&e->state);
        next = vip_quota_step(q, old, wall, res);
    } while (res->allowed && apr_atomic_cas64(&e->state, next, old) != old);
    /* the entry is free once its window is over: raise aux to that end
     * (only ever raised, so a slow writer cannot shorten it) */
    end = vip_quota_state_end(q, next) - t->wall_offset;
    while ((aux = apr_atomic_read64(&e->aux)) < end
           && apr_atomic_cas64(&e->aux, end, aux) != aux) {
    }
    return VIP_LIMIT_OK;
}

void vip_limit_entry_acquire(vip_limit_entry *e, apr_uint32_t limit,
                             vip_limit_result *res)
{
    apr_uint64_t old, next;

    do {
        old = apr_atomic_read64(&e->state);
        next = vip_conc_step(limit, old, res);
    } while (res->allowed && apr_atomic_cas64(&e->state, next, old) != old);
}

int vip_limit_table_acquire(vip_limit_table *t, apr_uint64_t tag,
                            apr_uint32_t limit, apr_uint64_t now,
                            vip_limit_result *res, vip_limit_entry **slot)
{
    vip_limit_entry *e = vip_limit_table_get(t, tag, now);

    *slot = NULL;
    if (!e) {
        return VIP_LIMIT_NOSLOT;
    }
    vip_limit_entry_acquire(e, limit, res);
    if (res->allowed) {
        *slot = e;
    }
    return VIP_LIMIT_OK;
}

void vip_limit_table_release(vip_limit_entry *slot)
{
    apr_uint64_t old;

    do {
        old = apr_atomic_read64(&slot->state);
        if (old == 0) {
            return;
        }
    } while (apr_atomic_cas64(&slot->state, old - 1, old) != old);
}

int vip_limit_entry_release_tagged(vip_limit_entry *slot, apr_uint64_t tag)
{
    apr_uint64_t old;

    /* a concurrency entry with a request in flight is never taken over,
     * so a tag that differs means the slot is not this entry's any more
     * (or the memory is another table's now) */
    do {
        if (apr_atomic_read64(&slot->tag) != tag) {
            return 0;
        }
        old = apr_atomic_read64(&slot->state);
        if (old == 0) {
            return 0;
        }
    } while (apr_atomic_cas64(&slot->state, old - 1, old) != old);
    return 1;
}

int vip_limit_table_contains(const vip_limit_table *t, const void *p)
{
    const char *first = (const char *)&t->e[0];
    const char *c = p;

    return c >= first && c < (const char *)&t->e[t->entries]
        && (apr_size_t)(c - first) % sizeof(vip_limit_entry) == 0;
}

apr_uint64_t vip_limit_table_inflight(vip_limit_table *t, apr_uint64_t tag)
{
    apr_uint64_t n = t->entries;
    apr_uint64_t home = ((tag >> 32) * n) >> 32;
    apr_uint64_t i;

    for (i = 0; i < VIP_LIMIT_PROBE && i < n; i++) {
        vip_limit_entry *e = &t->e[(home + i) % n];
        if (apr_atomic_read64(&e->tag) == tag) {
            return apr_atomic_read64(&e->state);
        }
    }
    return 0;
}

/* ---- raw words, for the cluster leases (limit_lease.c) ------------------ */

static volatile apr_uint64_t *word(vip_limit_entry *e, int w)
{
    return w == VIP_LIMIT_W_STATE ? &e->state
           : w == VIP_LIMIT_W_AUX ? &e->aux : &e->extra;
}

apr_uint64_t vip_limit_entry_read(vip_limit_entry *e, int w)
{
    return apr_atomic_read64(word(e, w));
}

int vip_limit_entry_cas(vip_limit_entry *e, int w, apr_uint64_t with,
                        apr_uint64_t cmp)
{
    return apr_atomic_cas64(word(e, w), with, cmp) == cmp;
}

void vip_limit_entry_raise(vip_limit_entry *e, int w, apr_uint64_t v)
{
    apr_uint64_t old;

    while ((old = apr_atomic_read64(word(e, w))) < v
           && apr_atomic_cas64(word(e, w), v, old) != old) {
    }
}

/* ---- the local store ---------------------------------------------------- */

static int store_rate(void *ctx, const vip_limit_key *k, const vip_gcra *g,
                      apr_uint64_t now, vip_limit_result *res)
{
    return vip_limit_table_rate(ctx, k->tag, g, now, res);
}

static int store_quota(void *ctx, const vip_limit_key *k, const vip_quota *q,
                       apr_uint64_t now, vip_limit_result *res)
{
    return vip_limit_table_quota(ctx, k->tag, q, now, res);
}

static int store_acquire(void *ctx, const vip_limit_key *k,
                         apr_uint32_t limit, apr_uint64_t now,
                         vip_limit_result *res, void **slot)
{
    vip_limit_entry *e;
    int rv = vip_limit_table_acquire(ctx, k->tag, limit, now, res, &e);

    *slot = e;
    return rv;
}

static void store_release(void *ctx, void *slot)
{
    (void)ctx;
    vip_limit_table_release(slot);
}

void vip_limit_table_store(vip_limit_table *t, vip_limit_store *s)
{
    s->ctx = t;
    s->rate = store_rate;
    s->quota = store_quota;
    s->acquire = store_acquire;
    s->release = store_release;
}
