/*
 * cache_key.h - the cache key of a page (pure: no httpd).
 *
 * The key material lists, each field length-prefixed so no value can
 * pose as another: the schema, the method (HEAD uses GET's entry), the
 * scheme, the canonical virtual host and port, the path as httpd decoded
 * and normalised it, the canonical query, the scope (a tenant, "public",
 * or "shared" where the admin opted in), and the values of the request
 * headers named by the stored response's Vary.  The memcached key is
 * "vip:1:" and the hex SHA-256 of that material: raw request bytes never
 * reach the memcached protocol (THREATS C15).
 */
#ifndef VIP_CACHE_KEY_H
#define VIP_CACHE_KEY_H

#include "apr_pools.h"
#include "apr_tables.h"

#define VIP_CACHE_KEY_PREFIX "vip:1:"
#define VIP_CACHE_KEY_LEN    (6 + 64)

typedef struct {
    const char *method;     /* request method; HEAD is keyed as GET */
    const char *scheme;     /* "http" / "https" */
    const char *host;       /* canonical virtual host name */
    int port;               /* local port */
    const char *path;       /* decoded, normalised path */
    const char *query;      /* canonical query (vip_cache_query), or NULL */
    const char *scope;      /* "public", "shared" or "t:<tenant>" */
} vip_cache_key_in;

/* The query split on '&' only (';' is data, not a separator), empty
 * pieces dropped, pieces whose name matches one of ignore removed
 * (exact names, or prefixes written "utm_*"), and the rest sorted
 * stably by name: duplicates keep their order.  NULL when nothing is
 * left. */
const char *vip_cache_query(apr_pool_t *p, const char *query,
                            const apr_array_header_t *ignore);

/* The key material of in (without Vary). */
char *vip_cache_key_material(apr_pool_t *p, const vip_cache_key_in *in);

/* material + one more length-prefixed field (value NULL: empty): the
 * route and service a page came from, so responses of different
 * upstreams for one URL (splits, header routes, pins) never share an
 * entry. */
char *vip_cache_key_append(apr_pool_t *p, const char *material,
                           const char *value);

/* material + the request's values of the Vary names (lower-case, sorted
 * and unique: vip_cache_vary_names), absent headers distinct from empty
 * ones.  get(ctx, name) returns the request header's value or NULL. */
char *vip_cache_key_vary(apr_pool_t *p, const char *material,
                         const apr_array_header_t *names,
                         const char *(*get)(void *ctx, const char *name),
                         void *ctx);

/* "vip:1:<hex sha-256 of material>". */
char *vip_cache_key_hash(apr_pool_t *p, const char *material);

/* The header names of a Vary value, lower-cased, sorted, without
 * duplicates, appended to names (const char *).  Returns -1 for "*" or
 * a name that is not an HTTP token, else the number of names. */
int vip_cache_vary_names(apr_pool_t *p, const char *vary,
                         apr_array_header_t *names);

#endif
