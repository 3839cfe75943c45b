/*
 * limit_holders.c - the records of who holds a concurrency slot (see
 * limit_holders.h for the model).
 *
 * A record is { owner, entry, tag }:
 *   owner  0 free, else the process id that claimed it (CAS 0 -> pid)
 *   entry  the table entry whose slot it holds, 0 once given back
 *   tag    that entry's tag when the slot was taken
 * Order on acquire: claim, tag, entry, then the entry's count goes up.
 * Order on release: exchange entry with 0, count down if it was not 0
 * already, then owner back to 0.  The parent reaping a dead owner does
 * the same exchange, so one of the two gives the slot back, never both.
 *
 * What a death at the worst instant costs: between writing the entry and
 * the count going up, the parent gives back a slot that was never taken
 * (the count only floors at 0), so the key admits one request more until
 * one of its requests ends - never a slot lost for good, which is the
 * failure this exists to prevent.
 */
#include <string.h>

#include <apr_atomic.h>

#include "limit_holders.h"

#define HOLDERS_MAGIC APR_UINT64_C(0x7669706c686c6431)     /* "viplhld1" */

typedef struct {
    volatile apr_uint64_t owner;
    volatile apr_uint64_t entry;
    volatile apr_uint64_t tag;
    apr_uint64_t pad;
} holder;

struct vip_limit_holders {
    apr_uint64_t magic;
    apr_uint64_t size;
    apr_uint32_t records;
    apr_uint32_t reserved;
    volatile apr_uint64_t untracked;
    volatile apr_uint64_t last_log;
    apr_uint64_t pad[3];                /* header: 64 bytes */
    holder r[];
};

static apr_uint32_t clamp(apr_uint32_t n)
{
    return n < VIP_LIMIT_HOLDERS_MIN ? VIP_LIMIT_HOLDERS_MIN
         : n > VIP_LIMIT_HOLDERS_MAX ? VIP_LIMIT_HOLDERS_MAX : n;
}

apr_size_t vip_limit_holders_size(apr_uint32_t records)
{
    return sizeof(vip_limit_holders) + (apr_size_t)clamp(records)
        * sizeof(holder);
}

vip_limit_holders *vip_limit_holders_init(void *mem, apr_size_t size,
                                          apr_uint32_t records)
{
    vip_limit_holders *h = mem;

    records = clamp(records);
    if (!mem || size != vip_limit_holders_size(records)) {
        return NULL;
    }
    memset(mem, 0, size);
    h->size = size;
    h->records = records;
    apr_atomic_set64(&h->magic, HOLDERS_MAGIC);
    return h;
}

vip_limit_holders *vip_limit_holders_attach(void *mem, apr_size_t size)
{
    vip_limit_holders *h = mem;

    if (!mem || size < sizeof(*h) || h->magic != HOLDERS_MAGIC
        || h->size != size || h->records != clamp(h->records)
        || vip_limit_holders_size(h->records) != size) {
        return NULL;
    }
    return h;
}

apr_uint32_t vip_limit_holders_records(const vip_limit_holders *h)
{
    return h->records;
}

static int owns(const vip_limit_holders *h, const void *p)
{
    const char *c = p;

    return c >= (const char *)&h->r[0] && c < (const char *)&h->r[h->records];
}

static holder *claim(vip_limit_holders *h, apr_uint32_t hint,
                     apr_uint64_t owner)
{
    apr_uint32_t n = h->records, i;

    hint %= n;
    for (i = 0; i < VIP_LIMIT_HOLDERS_PROBE && i < n; i++) {
        holder *rec = &h->r[(hint + i) % n];
        if (apr_atomic_read64(&rec->owner) == 0
            && apr_atomic_cas64(&rec->owner, owner, 0) == 0) {
            return rec;
        }
    }
    return NULL;
}

static void unclaim(holder *rec)
{
    apr_atomic_set64(&rec->owner, 0);
}

int vip_limit_holders_acquire(vip_limit_holders *h, vip_limit_table *t,
                              apr_uint64_t tag, apr_uint32_t limit,
                              apr_uint64_t now, apr_uint64_t owner,
                              apr_uint32_t hint, vip_limit_result *res,
                              void **slot, int *untracked)
{
    vip_limit_entry *e = vip_limit_table_get(t, tag, now);
    holder *rec;

    *slot = NULL;
    *untracked = 0;
    if (!e) {
        return VIP_LIMIT_NOSLOT;
    }
    if ((rec = claim(h, hint, owner))) {
        apr_atomic_set64(&rec->tag, tag);
        /* last: the parent acts on a record once its entry is set */
        apr_atomic_set64(&rec->entry, (apr_uint64_t)(apr_uintptr_t)e);
    }
    vip_limit_entry_acquire(e, limit, res);
    if (!res->allowed) {
        if (rec) {
            apr_atomic_xchg64(&rec->entry, 0);
            unclaim(rec);
        }
        return VIP_LIMIT_OK;
    }
    if (!rec) {
        apr_atomic_inc64(&h->untracked);
        *untracked = 1;
        *slot = e;
        return VIP_LIMIT_OK;
    }
    *slot = rec;
    return VIP_LIMIT_OK;
}

void vip_limit_holders_release(vip_limit_holders *h, void *slot)
{
    holder *rec = slot;
    apr_uint64_t e;

    if (!owns(h, slot)) {
        vip_limit_table_release(slot);         /* taken untracked */
        return;
    }
    /* 0: the parent already gave it back (it took this process for
     * dead), so it is not given back twice */
    if ((e = apr_atomic_xchg64(&rec->entry, 0)) != 0) {
        vip_limit_table_release((vip_limit_entry *)(apr_uintptr_t)e);
    }
    unclaim(rec);
}

apr_uint32_t vip_limit_holders_reap(vip_limit_holders *h, apr_uint64_t owner,
                                    vip_limit_entry_ok *ok, void *baton,
                                    apr_uint32_t *stale)
{
    apr_uint32_t i, given = 0;

    *stale = 0;
    for (i = 0; i < h->records; i++) {
        holder *rec = &h->r[i];
        apr_uint64_t e;
        if (apr_atomic_read64(&rec->owner) != owner) {
            continue;
        }
        if ((e = apr_atomic_xchg64(&rec->entry, 0)) != 0) {
            vip_limit_entry *entry = (vip_limit_entry *)(apr_uintptr_t)e;
            if (ok(baton, entry)
                && vip_limit_entry_release_tagged(entry,
                                                  apr_atomic_read64(&rec->tag))) {
                given++;
            }
            else {
                (*stale)++;
            }
        }
        apr_atomic_cas64(&rec->owner, 0, owner);
    }
    return given;
}

apr_uint32_t vip_limit_holders_in_use(const vip_limit_holders *h)
{
    apr_uint32_t i, n = 0;

    for (i = 0; i < h->records; i++) {
        n += apr_atomic_read64((volatile apr_uint64_t *)&h->r[i].owner) != 0;
    }
    return n;
}

apr_uint64_t vip_limit_holders_untracked(const vip_limit_holders *h)
{
    return apr_atomic_read64((volatile apr_uint64_t *)&h->untracked);
}

int vip_limit_holders_should_log(vip_limit_holders *h, apr_uint64_t now,
                                 apr_uint64_t interval_ns)
{
    apr_uint64_t last = apr_atomic_read64(&h->last_log);

    if (last && now - last < interval_ns) {
        return 0;
    }
    return apr_atomic_cas64(&h->last_log, now, last) == last;
}
