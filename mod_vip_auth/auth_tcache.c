/*
 * auth_tcache.c - per-process verified-token cache (see auth_tcache.h).
 */
#include <string.h>

#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include "auth_tcache.h"

#define STRIPES 64

typedef struct {
    unsigned char hash[VIP_TCACHE_HASH_LEN];
    int used;
    vip_tcache_entry e;
} slot;

struct vip_tcache {
    unsigned int nslots;
    slot *slots;
#if APR_HAS_THREADS
    apr_thread_mutex_t *locks[STRIPES];
#endif
};

apr_status_t vip_tcache_create(apr_pool_t *p, int entries, vip_tcache **out)
{
    vip_tcache *c = apr_pcalloc(p, sizeof(*c));
    int i;

    if (entries <= 0 || entries > VIP_TCACHE_MAX_ENTRIES) {
        return APR_EINVAL;
    }
    c->nslots = (unsigned int)entries;
    /* Large and zeroed: pages become resident only as slots are used. */
    c->slots = apr_pcalloc(p, sizeof(slot) * c->nslots);
#if APR_HAS_THREADS
    for (i = 0; i < STRIPES; i++) {
        apr_status_t rv = apr_thread_mutex_create(&c->locks[i],
                                                  APR_THREAD_MUTEX_DEFAULT, p);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
#else
    (void)i;
#endif
    *out = c;
    return APR_SUCCESS;
}

static unsigned int slot_of(const vip_tcache *c, const unsigned char *h)
{
    /* The key is a cryptographic digest: its bytes are already uniform. */
    unsigned int v = (unsigned int)h[0] | (unsigned int)h[1] << 8
                     | (unsigned int)h[2] << 16 | (unsigned int)h[3] << 24;
    return v % c->nslots;
}

#if APR_HAS_THREADS
#define LOCK(c, i)   apr_thread_mutex_lock((c)->locks[(i) % STRIPES])
#define UNLOCK(c, i) apr_thread_mutex_unlock((c)->locks[(i) % STRIPES])
#else
#define LOCK(c, i)
#define UNLOCK(c, i)
#endif

int vip_tcache_get(vip_tcache *c, const unsigned char *hash,
                   vip_tcache_entry *e)
{
    unsigned int i = slot_of(c, hash);
    int hit = 0;

    LOCK(c, i);
    if (c->slots[i].used
        && memcmp(c->slots[i].hash, hash, VIP_TCACHE_HASH_LEN) == 0) {
        *e = c->slots[i].e;
        hit = 1;
    }
    UNLOCK(c, i);
    return hit;
}

int vip_tcache_put(vip_tcache *c, const unsigned char *hash,
                   const void *owner, const void *tenant, apr_int64_t exp, int has_exp,
                   const char *sub, const char *scopes, const char *kid)
{
    vip_tcache_entry e;
    unsigned int i;

    if (strlen(sub) >= sizeof(e.sub) || strlen(scopes) >= sizeof(e.scopes)
        || (kid && strlen(kid) >= sizeof(e.kid))) {
        return 0;
    }
    /* Fill outside the lock; the critical section is one struct copy. */
    memset(&e, 0, sizeof(e));
    e.owner = owner;
    e.tenant = tenant;
    e.exp = exp;
    e.has_exp = has_exp;
    apr_cpystrn(e.sub, sub, sizeof(e.sub));
    apr_cpystrn(e.scopes, scopes, sizeof(e.scopes));
    apr_cpystrn(e.kid, kid ? kid : "", sizeof(e.kid));

    i = slot_of(c, hash);
    LOCK(c, i);
    memcpy(c->slots[i].hash, hash, VIP_TCACHE_HASH_LEN);
    c->slots[i].e = e;
    c->slots[i].used = 1;
    UNLOCK(c, i);
    return 1;
}
