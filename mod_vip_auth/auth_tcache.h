/*
 * auth_tcache.h - the verified-token cache.
 *
 * A JWT that verified once costs no signature check again until it
 * expires.  Keyed by the SHA-256 of the whole token; fixed size,
 * direct-mapped (a new token simply replaces the slot's old one), shared
 * by the threads of one child process.  Slots are guarded by striped
 * thread mutexes held only for a memcpy, so threads rarely meet and never
 * wait on I/O.  Identities whose strings do not fit a slot are not cached.
 */
#ifndef VIP_AUTH_TCACHE_H
#define VIP_AUTH_TCACHE_H

#include <apr_pools.h>

#define VIP_TCACHE_HASH_LEN 32
#define VIP_TCACHE_MAX_ENTRIES (1 << 20)

typedef struct {
    const void *owner;                  /* the registry that verified it */
    const void *tenant;                 /* vip_tenant of that registry */
    apr_int64_t exp;                    /* 0 when the token has no exp */
    int has_exp;
    char sub[128];
    char scopes[512];
    char kid[64];
} vip_tcache_entry;

typedef struct vip_tcache vip_tcache;

/* entries > 0; memory comes from p (the child pool). */
apr_status_t vip_tcache_create(apr_pool_t *p, int entries, vip_tcache **out);

/* Copy the entry for hash into *e; 1 on a hit. */
int vip_tcache_get(vip_tcache *c, const unsigned char *hash,
                   vip_tcache_entry *e);

/* Store e for hash; returns 0 when the strings do not fit. */
int vip_tcache_put(vip_tcache *c, const unsigned char *hash,
                   const void *owner, const void *tenant, apr_int64_t exp, int has_exp,
                   const char *sub, const char *scopes, const char *kid);

#endif
