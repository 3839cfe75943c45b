/*
 * cache_request.h - the page cache's request path: key preparation in
 * fixups, the lookup handler that answers hits, and the save filter that
 * stores misses.  Shared state (the per-child stores, the counters in
 * shared memory) is owned by mod_vip_cache.c and reached through the
 * functions declared here.
 */
#ifndef VIP_CACHE_REQUEST_H
#define VIP_CACHE_REQUEST_H

#include "httpd.h"
#include "util_filter.h"

#include "cache_store.h"
#include "cache_esi_filter.h"

#define VIP_CACHE_SAVE_FILTER "VIP_CACHE_SAVE"

/* Counters for the status handler: in shared memory, updated with
 * atomics, reset when httpd restarts. */
typedef struct {
    vip_store_shared breaker;
    volatile apr_uint64_t hits, misses, stores, stale, store_errors,
                          bypasses, uncacheable, corrupt;
    vip_esi_counters esi;
} vip_cache_counters;

vip_cache_counters *vip_cache_counters_get(void);

/* The store of s's VipCacheServers in this child, or NULL. */
vip_store *vip_cache_store_for(const server_rec *s);

/* A rate-limited warning that the store failed (VIP03001). */
void vip_cache_store_warn(request_rec *r, const char *what);

/* The key material of GET path?query (decoded, normalised path; the
 * canonical query) in scope on r's virtual host and Host. */
char *vip_cache_material(request_rec *r, const char *scope, const char *path,
                         const char *query);

int vip_cache_fixups(request_rec *r);
int vip_cache_purge_handler(request_rec *r);
int vip_cache_handler(request_rec *r);
apr_status_t vip_cache_save_filter(ap_filter_t *f, apr_bucket_brigade *bb);

/* The keys fixups prepared for r (a GET the handler has not looked up
 * yet): the ESI filter looks fragments up with them.  0 when r does not
 * use the cache. */
typedef struct {
    const char *material, *key, *scope, *gen_key;
} vip_cache_view;
int vip_cache_req_view(const request_rec *r, vip_cache_view *v);

#endif
