/*
 * cache_gen.h - purge generations.
 *
 * Purging a tenant, or a tag within a scope, is one memcached increment
 * of a generation number; no key is enumerated, nothing is broadcast.
 * Every entry records the generations of its scope and of its tags at
 * store time, and a lookup that finds any of them changed - or missing:
 * an evicted generation counts as changed - treats the entry as a miss.
 *
 * Keys: "vip:1:gen:<scope>" and "vip:1:gen:<scope>:tag:<tag>", where the
 * scope is "public", "shared" or "t:<tenant>" and tags, like tenant ids,
 * are 1-64 characters of [A-Za-z0-9._-] (checked before use).  A new
 * generation starts at the current time in microseconds, so one that was
 * evicted and created again never equals an old value.
 *
 * One round trip on the hit path: the scope's generation is fetched in
 * the same multi-get as the entry, and so are the generations of the
 * entry's tags once this process has seen the entry (a per-process hint
 * maps entry keys to their tags).  The first sight of a tagged entry in
 * a process costs a second multi-get.
 */
#ifndef VIP_CACHE_GEN_H
#define VIP_CACHE_GEN_H

#include "apr_pools.h"
#include "apr_tables.h"

#include "vip_store.h"

#define VIP_GEN_MAX_TAGS 32

/* The generation key of scope, or of tag within scope (tag NULL). */
const char *vip_gen_key(apr_pool_t *p, const char *scope, const char *tag);

/* The current generations of keys[0..n), creating absent ones (add,
 * then read back when another node won).  One multi-get, plus one add
 * per absent key. */
apr_status_t vip_gen_current(vip_store *st, apr_pool_t *p,
                             const char *const *keys, int n,
                             apr_uint64_t *gens);

/* Surrogate-Key: space-separated tags into tags (const char *); -1 when
 * a tag is not 1-64 of [A-Za-z0-9._-] or there are more than
 * VIP_GEN_MAX_TAGS, else the count. */
int vip_gen_parse_tags(apr_pool_t *p, const char *value,
                       apr_array_header_t *tags);

/* The per-process hint: made in child_init. */
apr_status_t vip_gen_hint_init(apr_pool_t *p);

/* The tags remembered for entry_key (const char *, from p), or NULL. */
apr_array_header_t *vip_gen_hint_get(apr_pool_t *p, const char *entry_key);

/* Remember the tags of entry_key (none: forget it). */
void vip_gen_hint_put(const char *entry_key, const apr_array_header_t *tags);

#endif
