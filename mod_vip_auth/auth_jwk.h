/*
 * auth_jwk.h - JSON Web Keys (RFC 7517/7518) as libcrypto keys.
 *
 * A key fixes its algorithm family: a token's "alg" may only select among
 * the algorithms the key allows (JWK "alg" when present, else the family
 * of its kty/crv), which rules out HS/RS confusion and "none" by
 * construction.  Keys are validated on load: RSA moduli of at least 2048
 * bits, EC points on the named curve, oct secrets of at least 32 bytes
 * (and at least the hash length), no "use":"enc", no duplicate kid.
 */
#ifndef VIP_AUTH_JWK_H
#define VIP_AUTH_JWK_H

#include <apr_pools.h>
#include <openssl/evp.h>

/* Algorithms (JWA names in vip_jwa_name()).  VIP_JWA_NONE is never
 * accepted; it exists so 0 means "no algorithm". */
enum {
    VIP_JWA_NONE = 0,
    VIP_JWA_HS256, VIP_JWA_HS384, VIP_JWA_HS512,
    VIP_JWA_RS256, VIP_JWA_RS384, VIP_JWA_RS512,
    VIP_JWA_PS256, VIP_JWA_PS384, VIP_JWA_PS512,
    VIP_JWA_ES256, VIP_JWA_ES384,
    VIP_JWA_EDDSA,
    VIP_JWA_COUNT
};

typedef struct vip_jwk {
    const char *kid;                /* NULL when the JWK has none */
    const char *kty;                /* "RSA", "EC", "OKP", "oct" */
    unsigned int algs;              /* bit (1u << VIP_JWA_x) per allowed alg */
    EVP_PKEY *pkey;                 /* RSA/EC/OKP; freed by a pool cleanup */
    const unsigned char *secret;    /* oct */
    apr_size_t secret_len;
} vip_jwk;

typedef struct vip_jwks vip_jwks;

/* Exact, case-sensitive JWA name to VIP_JWA_*; VIP_JWA_NONE for "none",
 * unknown or differently cased names. */
int vip_jwa_from_name(const char *name);
const char *vip_jwa_name(int alg);

/* Parse a JWKS document ({"keys":[...]}).  Any invalid key is an error
 * (*err says which key and why, allocated from p). */
apr_status_t vip_jwks_parse(apr_pool_t *p, const char *buf, apr_size_t len,
                            vip_jwks **out, char **err);

/* Read and parse a JWKS file (size capped at 1 MiB). */
apr_status_t vip_jwks_load_file(apr_pool_t *p, const char *path,
                                vip_jwks **out, char **err);

int vip_jwks_count(const vip_jwks *ks);
const vip_jwk *vip_jwks_get(const vip_jwks *ks, int i);
/* Key by kid, NULL when unknown. */
const vip_jwk *vip_jwks_find(const vip_jwks *ks, const char *kid);

#endif
