/*
 * cache_esi_hint.h - the per-process fragment hint: for a page (by its
 * primary cache key), the memcached keys its ESI fragments were looked up
 * with last time (entries and generations).  The page's own lookup
 * fetches them in the same multi-get as the page, so a cached page of
 * cached fragments costs one round trip.
 *
 * Only a guess of what to fetch early: the ESI filter still looks every
 * fragment up as a subrequest (routing, auth, the fragment location's own
 * key) and uses an early value only for a key string equal to one that
 * lookup produced, so a stale or colliding hint costs bytes, never a
 * wrong fragment.
 */
#ifndef VIP_CACHE_ESI_HINT_H
#define VIP_CACHE_ESI_HINT_H

#include "apr_pools.h"

/* Made in child_init. */
void vip_esi_hint_init(apr_pool_t *p);

/* The keys remembered for page_key (strings from p), *n of them; NULL
 * when none (or a writer was busy with the slot). */
const char **vip_esi_hint_get(apr_pool_t *p, const char *page_key, int *n);

/* Remember keys[0..n) for page_key (n 0: forget); skipped when they do not
 * fit a slot or another thread is writing it. */
void vip_esi_hint_put(const char *page_key, const char *const *keys, int n);

#endif
