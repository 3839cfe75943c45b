/*
 * cache_policy.h - what may be stored, and for how long (pure).
 *
 * RFC 9111 for a shared cache, narrowed by THREATS C5-C14: only the
 * statuses 200 203 204 300 301 404 410 (404 for a short time), never a
 * response with Set-Cookie (unless the admin says so), Vary: *,
 * Cache-Control no-store / private / no-cache (also the qualified forms,
 * which a cache that stores whole responses cannot honour partly),
 * Surrogate-Control no-store, or a response to a credentialed request
 * the admin did not declare tenant-cacheable, unless it says public.
 * Freshness: s-maxage, else max-age, else Expires - Date, else the
 * admin's default; then the admin's minimum and maximum.
 */
#ifndef VIP_CACHE_POLICY_H
#define VIP_CACHE_POLICY_H

#include "apr_pools.h"

#define VIP_CC_UNSET (-1L)
#define VIP_CC_MAX   (10L * 365 * 86400)   /* delta-seconds are capped */

typedef struct {
    int no_store, no_cache, private_, public_, must_revalidate;
    long max_age, s_maxage;       /* seconds or VIP_CC_UNSET */
    long swr, sie;                /* stale-while-revalidate / -if-error */
    int malformed;                /* a directive we could not read */
} vip_cc;

void vip_cc_init(vip_cc *cc);

/* Add the directives of one Cache-Control field value (call once per
 * field line).  Unknown directives are ignored, as RFC 9111 asks; a
 * known one with a bad argument sets cc->malformed. */
void vip_cc_parse(const char *value, vip_cc *cc);

/* 1 when a Surrogate-Control value says no-store. */
int vip_surrogate_no_store(const char *value);

typedef struct {
    int status;
    const char *cache_control;    /* all field lines joined by ", " */
    const char *surrogate_control;
    const char *expires;
    const char *date;
    const char *vary;
    int set_cookie;               /* the response sets a cookie */
    int credentials;              /* request carried credentials and is
                                     not keyed by tenant or shared */
    apr_int64_t now;              /* seconds since the epoch */
    /* admin, resolved (no unset values): */
    int default_ttl, min_ttl, max_ttl, ttl_404;
    int store_cookies;
} vip_policy_in;

typedef struct {
    int storable;
    const char *reason;           /* why not, a short token */
    long ttl;                     /* seconds of freshness */
    long swr, sie;                /* stale windows, 0 when none */
} vip_policy_out;

/* The longest an entry lives in memcached, freshness and stale windows
 * together: memcached takes larger expiry times as absolute Unix times. */
#define VIP_POLICY_MAX_LIFETIME 2592000L

void vip_policy_decide(const vip_policy_in *in, vip_policy_out *out);

/* 1 for the statuses a page may be stored with. */
int vip_policy_status_ok(int status);

#endif
