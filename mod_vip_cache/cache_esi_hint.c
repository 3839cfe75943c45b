/*
 * cache_esi_hint.c - the per-process fragment hint (see cache_esi_hint.h).
 *
 * Direct-mapped slots guarded by a sequence counter each (a seqlock):
 * readers copy a slot and retry-free check that no writer touched it
 * meanwhile (a torn copy is simply no hint); a writer claims the slot
 * with a compare-and-swap from even to odd and gives up when another
 * writer holds it.  No mutex, no thread ever waits: a hint is only a
 * guess of which keys to fetch early, never a decision.
 */
#include <string.h>

#include "apr_strings.h"

#include "cache_entry.h"
#include "cache_esi_hint.h"

#define SLOTS      256
#define SLOT_BYTES 4096          /* ~55 keys of 70 bytes */

typedef struct {
    apr_uint32_t seq;            /* odd while a writer copies */
    apr_uint32_t len;            /* bytes of keys, '\n'-terminated each */
    apr_uint64_t h;              /* hash of the page key, 0: empty */
    char keys[SLOT_BYTES];
} hint_slot;

static hint_slot *slots;

void vip_esi_hint_init(apr_pool_t *p)
{
    slots = apr_pcalloc(p, sizeof(hint_slot) * SLOTS);
}

static apr_uint64_t hash_key(const char *key)
{
    apr_uint64_t h = vip_xxh64(key, strlen(key));
    return h ? h : 1;
}

const char **vip_esi_hint_get(apr_pool_t *p, const char *page_key, int *n)
{
    apr_uint64_t h;
    hint_slot *s;
    apr_uint32_t seq, len;
    char *buf, *c, *end;
    const char **keys;
    int k = 0;

    *n = 0;
    if (!slots || !page_key) {
        return NULL;
    }
    h = hash_key(page_key);
    s = &slots[h % SLOTS];
    seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
    if ((seq & 1) || __atomic_load_n(&s->h, __ATOMIC_RELAXED) != h) {
        return NULL;
    }
    len = __atomic_load_n(&s->len, __ATOMIC_RELAXED);
    if (!len || len > SLOT_BYTES) {
        return NULL;
    }
    buf = apr_palloc(p, len + 1);
    memcpy(buf, s->keys, len);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) != seq) {
        return NULL;              /* a writer came by: no hint this time */
    }
    buf[len] = '\0';
    end = buf + len;
    for (c = buf; c < end; c++) {
        k += *c == '\n';
    }
    keys = apr_palloc(p, sizeof(char *) * (size_t)(k ? k : 1));
    k = 0;
    for (c = buf; c < end; ) {
        char *nl = memchr(c, '\n', (apr_size_t)(end - c));
        if (!nl) {
            break;
        }
        *nl = '\0';
        if (nl > c) {
            keys[k++] = c;
        }
        c = nl + 1;
    }
    *n = k;
    return k ? keys : NULL;
}

void vip_esi_hint_put(const char *page_key, const char *const *keys, int n)
{
    apr_uint64_t h;
    hint_slot *s;
    apr_uint32_t seq, len = 0;
    int i;

    if (!slots || !page_key) {
        return;
    }
    for (i = 0; i < n; i++) {
        len += (apr_uint32_t)strlen(keys[i]) + 1;
        if (len > SLOT_BYTES) {
            return;               /* too many to fetch early: no hint */
        }
    }
    h = hash_key(page_key);
    s = &slots[h % SLOTS];
    seq = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);
    if ((seq & 1) || !__atomic_compare_exchange_n(&s->seq, &seq, seq + 1, 0,
                                                  __ATOMIC_ACQUIRE,
                                                  __ATOMIC_RELAXED)) {
        return;                   /* another writer has it */
    }
    __atomic_thread_fence(__ATOMIC_RELEASE);
    len = 0;
    for (i = 0; i < n; i++) {
        apr_size_t k = strlen(keys[i]);
        memcpy(s->keys + len, keys[i], k);
        len += (apr_uint32_t)k;
        s->keys[len++] = '\n';
    }
    __atomic_store_n(&s->len, len, __ATOMIC_RELAXED);
    __atomic_store_n(&s->h, n ? h : 0, __ATOMIC_RELAXED);
    __atomic_store_n(&s->seq, seq + 2, __ATOMIC_RELEASE);
}
