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
#include "apr_hash.h"
#include "util_filter.h"

#include "cache_entry.h"
#include "vip_store.h"
#include "cache_esi_filter.h"

#define VIP_CACHE_SAVE_FILTER "VIP_CACHE_SAVE"

typedef struct save_ctx save_ctx;

/* Per request, from fixups to the filters. */
typedef struct {
    const char *material;         /* key material without Vary */
    const char *url_tag;          /* the implicit tag of every entry of
                                     this URL in this scope (all routes,
                                     services and Vary variants): a URL
                                     purge bumps its generation */
    const char *url_gen_key;      /* that tag's generation key */
    apr_uint64_t url_gen;         /* its value at lookup ... */
    int url_gen_known;            /* ... when memcached had one */
    const char *key;              /* primary key */
    const char *scope;            /* "public", "shared", "t:<tenant>" */
    const char *gen_key;          /* the scope's generation key */
    apr_uint64_t scope_gen;       /* its value at lookup ... */
    int scope_gen_known;          /* ... when memcached had one */
    int credentials;              /* credentials without a tenant scope */
    int lookup_done;
    /* stale serving (cache_stale.c) */
    int has_stale;                /* an expired entry within a stale window */
    vip_cache_entry stale;
    vip_store_value stale_v;
    const char *stale_key;
    int stale_started;            /* the stale filter replaced the head */
    void *lock;                   /* the collapse lock this request holds */
    apr_hash_t *prefetch;         /* key -> vip_store_value, fetched with
                                   * the page for its ESI fragments */
    /* the lookup's multi-get (entry and generations), kept for the store:
     * the tag generations it read predate the upstream's answer */
    const char *const *lookup_keys;
    const vip_store_value *lookup_vals;
    int lookup_n;
} cache_req;

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

/* The implicit tag of a URL (material from vip_cache_material):
 * "~u" and 16 hex digits, outside the Surrogate-Key alphabet. */
const char *vip_cache_url_tag(apr_pool_t *p, const char *material);

/* The key material of GET path?query (decoded, normalised path; the
 * canonical query) in scope on r's virtual host and Host: the URL, before
 * the route/service field fixups appends. */
char *vip_cache_material(request_rec *r, const char *scope, const char *path,
                         const char *query);

/* Answer r from entry e (the page under key): status, headers, Age,
 * Cache-Status (the given value, or "vip; hit; ttl=N"), body. */
int vip_cache_serve(request_rec *r, vip_cache_entry *e, vip_store_value *v,
                    const char *key, apr_int64_t now, const char *status);

/* The stored response headers of e into r (Content-Type as the type). */
void vip_cache_restore_headers(request_rec *r, const vip_cache_entry *e);

/* The page an entry read under q's primary key leads to (following a
 * Vary entry: one more get), decoded into e; v holds its bytes. */
apr_status_t vip_cache_page_of(request_rec *r, vip_store *st, cache_req *q,
                               vip_cache_entry *e, vip_store_value *v,
                               const char **key);

/* cache_stale.c: an expired entry or a miss that others may be fetching.
 * Returns DECLINED to go to the upstream (holding the lock when it got
 * it), or the handler's result when r was answered (stale, or the page
 * another request stored while this one waited). */
int vip_cache_collapse(request_rec *r, vip_store *st, cache_req *q,
                       apr_int64_t now);

/* Release q's collapse lock now (no-op when it holds none). */
void vip_cache_unlock(request_rec *r, cache_req *q);

/* stale-if-error: from insert_error_filter (mod_proxy failed) and from
 * the save filter (the upstream answered 5xx).  1 when r will be
 * answered with q's stale entry. */
int vip_cache_stale_on_error(request_rec *r, cache_req *q, int status);
void vip_cache_insert_error_filter(request_rec *r);
apr_status_t vip_cache_stale_filter(ap_filter_t *f, apr_bucket_brigade *bb);
/* The stale filter's work for q, also called by the save filter. */
apr_status_t vip_cache_stale_pass(ap_filter_t *f, cache_req *q,
                                  apr_bucket_brigade *bb);
#define VIP_CACHE_STALE_FILTER "VIP_CACHE_STALE"

/* 1 when entry e (under key) is not purged: its scope's generation is the
 * one the lookup read and every tag's is current (one multi-get). */
int vip_cache_entry_current(request_rec *r, vip_store *st, cache_req *q,
                            const char *key, const vip_cache_entry *e);

int vip_cache_fixups(request_rec *r);
int vip_cache_purge_handler(request_rec *r);
int vip_cache_handler(request_rec *r);
apr_status_t vip_cache_save_filter(ap_filter_t *f, apr_bucket_brigade *bb);

/* The keys fixups prepared for r (a GET the handler has not looked up
 * yet): the ESI filter looks fragments up with them.  0 when r does not
 * use the cache. */
typedef struct {
    const char *material, *key, *scope, *gen_key, *url_gen_key;
} vip_cache_view;
int vip_cache_req_view(const request_rec *r, vip_cache_view *v);

/* The primary key r was looked up with (NULL when it was not), and a
 * value the lookup fetched early for r's ESI fragments under exactly
 * key (NULL when none): the ESI filter's side of cache_esi_hint.h. */
const char *vip_cache_page_key(const request_rec *r);
const vip_store_value *vip_cache_prefetched(const request_rec *r,
                                            const char *key);

#endif
