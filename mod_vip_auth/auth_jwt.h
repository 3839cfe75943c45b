/*
 * auth_jwt.h - JSON Web Token parsing and verification (RFC 7519/7515).
 *
 * Pure code: no httpd structures, only APR pools, json-c and libcrypto, so
 * unit tests and the libFuzzer harness reach all of it.  Verification is
 * done in three stages so the caller (mod_vip_auth) can pick the trust
 * (issuer, key set, audience) from the unverified "iss" between them:
 *   vip_jwt_parse()        structure, strict base64url, JSON, header rules
 *   vip_jwt_verify_sig()   signature against a configured key set
 *   vip_jwt_check_claims() exp/nbf/iat/iss/aud and the identity claims
 * Every failure returns non-APR_SUCCESS and sets *reason to a short, stable
 * reason code (see VIP_JWT_R_*); reasons never contain token material.
 */
#ifndef VIP_AUTH_JWT_H
#define VIP_AUTH_JWT_H

#include <apr_pools.h>
#include <apr_time.h>
#include <json-c/json.h>

#include "auth_jwk.h"

/* Reason codes (logged and set as the vip.auth_result note). */
#define VIP_JWT_R_MALFORMED     "malformed"       /* segments, base64url, JSON */
#define VIP_JWT_R_TOO_LARGE     "too_large"
#define VIP_JWT_R_DUPLICATE     "duplicate_member"
#define VIP_JWT_R_ALG           "alg_not_allowed" /* none, unknown, not allowed for the key */
#define VIP_JWT_R_CRIT          "crit_unsupported"
#define VIP_JWT_R_UNKNOWN_KID   "unknown_kid"
#define VIP_JWT_R_SIGNATURE     "bad_signature"
#define VIP_JWT_R_EXPIRED       "expired"
#define VIP_JWT_R_NOT_YET_VALID "not_yet_valid"
#define VIP_JWT_R_NO_EXP        "missing_exp"
#define VIP_JWT_R_ISSUER        "wrong_issuer"
#define VIP_JWT_R_AUDIENCE      "wrong_audience"
#define VIP_JWT_R_CLAIM         "bad_claim"       /* wrong type or characters */

/* Hard ceiling of VipAuthTokenMaxSize. */
#define VIP_JWT_MAX_SIZE_LIMIT  8192

typedef struct {
    int alg;                        /* VIP_JWA_* from auth_jwk.h */
    const char *kid;                /* NULL when absent */
    const char *iss;                /* unverified iss claim, NULL when absent */
    json_object *header;            /* owned, released by a cleanup on the pool */
    json_object *claims;            /* owned, likewise */
    const char *signing_input;      /* "<header>.<payload>" as received */
    apr_size_t signing_input_len;
    const unsigned char *sig;       /* decoded signature */
    apr_size_t sig_len;
} vip_jwt;

typedef struct {
    apr_int64_t now;                /* seconds since the epoch */
    int leeway;                     /* seconds, 0..300 */
    int require_exp;                /* reject tokens without exp */
    const char *issuer;             /* expected iss, required */
    const char *audience;           /* expected aud; NULL: aud not checked */
    const char *tenant_claim;       /* claim carrying the tenant id, e.g. "tid" */
} vip_jwt_policy;

typedef struct {
    apr_int64_t exp;                /* 0 when has_exp is 0 */
    int has_exp;
    const char *sub;                /* validated subject */
    const char *scopes;             /* validated scopes, space separated, "" if none */
    const char *tenant;             /* validated tenant claim value, NULL if absent */
} vip_jwt_identity;

/* Parse a compact JWS.  len is the token length; tokens longer than
 * max_len are refused before any decoding. */
apr_status_t vip_jwt_parse(apr_pool_t *p, const char *token, apr_size_t len,
                           apr_size_t max_len, vip_jwt **out,
                           const char **reason);

/* Verify the signature with the key chosen by kid from keys (or the only
 * key allowed for the token's alg when the token has no kid). */
apr_status_t vip_jwt_verify_sig(const vip_jwt *t, const vip_jwks *keys,
                                const char **reason);

/* Check the registered claims against pol and extract the identity. */
apr_status_t vip_jwt_check_claims(apr_pool_t *p, const vip_jwt *t,
                                  const vip_jwt_policy *pol,
                                  vip_jwt_identity *id, const char **reason);

#endif
