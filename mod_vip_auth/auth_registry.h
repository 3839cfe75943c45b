/*
 * auth_registry.h - the tenant registry: tenants, plans, API keys and the
 * JWT issuers the platform trusts.
 *
 * Loaded from a JSON file when the configuration is read (so `httpd -t`
 * and every graceful restart validate it) and immutable afterwards: the
 * request path only does hash lookups, whose cost does not depend on the
 * number of tenants.  The format is documented in docs/registry.md.
 */
#ifndef VIP_AUTH_REGISTRY_H
#define VIP_AUTH_REGISTRY_H

#include <apr_pools.h>
#include <apr_hash.h>

#include "auth_jwk.h"

#define VIP_APIKEY_HASH_LEN 32          /* SHA-256 */
#define VIP_REGISTRY_MAX_SIZE (16 * 1024 * 1024)

typedef struct vip_tenant {
    const char *id;
    const char *plan;
    int suspended;
    apr_hash_t *scope_set;              /* scope -> scope */
    const char *scopes;                 /* the same, space separated */
} vip_tenant;

typedef struct vip_apikey {
    const char *id;                     /* public part of the key */
    unsigned char hash[VIP_APIKEY_HASH_LEN];
    const vip_tenant *tenant;
    const char *scopes;                 /* key scopes, or the tenant's */
} vip_apikey;

typedef struct vip_trust {
    const char *issuer;
    const char *audience;               /* NULL: aud not checked */
    const char *tenant_claim;           /* claim naming the tenant */
    const vip_tenant *tenant;           /* set for a tenant's own issuer */
    vip_jwks *keys;
} vip_trust;

typedef struct vip_registry {
    const char *path;
    apr_hash_t *plans;                  /* plan -> plan */
    apr_hash_t *tenants;                /* id -> vip_tenant */
    apr_hash_t *apikeys;                /* key id -> vip_apikey */
    apr_hash_t *issuers;                /* iss -> vip_trust */
    int ntenants;
} vip_registry;

/* Parse a registry document.  jwks_file paths are resolved against
 * base_dir.  On error *err names the tenant/issuer, the field and the
 * problem. */
apr_status_t vip_registry_parse(apr_pool_t *p, const char *buf,
                                apr_size_t len, const char *base_dir,
                                vip_registry **out, char **err);

/* Read and parse the registry file at path. */
apr_status_t vip_registry_load(apr_pool_t *p, const char *path,
                               vip_registry **out, char **err);

const vip_tenant *vip_registry_tenant(const vip_registry *reg, const char *id);
const vip_apikey *vip_registry_apikey(const vip_registry *reg, const char *id);
const vip_trust *vip_registry_trust(const vip_registry *reg, const char *iss);

/* The scopes of the space-separated list that the tenant is allowed,
 * space separated, in their original order ("" when none). */
const char *vip_tenant_filter_scopes(apr_pool_t *p, const vip_tenant *t,
                                     const char *scopes);

#endif
