/*
 * jwt_testkit.h - key, JWKS and token kit for the JWT engine unit tests.
 *
 * Included by test_jwt.c only (the Makefile builds each test/unit/test_*.c
 * as one program): run-time keys, their JWK text, a test-only JWS signer
 * built on EVP_DigestSign, and the assertion helpers.  Kept apart so the
 * test file holds the cases and nothing else.
 */
#ifndef VIP_JWT_TESTKIT_H
#define VIP_JWT_TESTKIT_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "auth_jwk.h"
#include "auth_jwt.h"
#include "vip_b64.h"
#include "vip_json.h"

#define NOW   1700000000LL
#define ISS   "https://idp.example"
/* Claims every valid token carries; tests add exp, iat and the rest. */
#define STD   "\"iss\":\"" ISS "\",\"aud\":\"api\",\"sub\":\"user-1\""

static int npass, nfail;
static apr_pool_t *gp;              /* whole run */
static EVP_PKEY *k_rsa, *k_rsa2, *k_ec256, *k_ec384, *k_ed, *k_ed2;
static EVP_PKEY *k_rsa1024;
static unsigned char hmac_key[64];
static vip_jwks *jwks;              /* rsa1, ec256, ec384, ed1, hs1 */
static vip_jwt_policy pol;

static void check(int ok, const char *name, const char *fmt, ...)
{
    va_list ap;

    if (ok) {
        npass++;
        return;
    }
    nfail++;
    printf("FAIL: %s: ", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

static char *b64(const void *d, size_t n)
{
    return vip_b64url_encode(gp, d, n);
}

static char *b64s(const char *s)
{
    return b64(s, strlen(s));
}

/* printf into the run pool; C99 vsnprintf rather than apr_pvsprintf,
 * whose formatter does not know "%lld". */
static char *fmt(const char *f, ...)
    __attribute__((format(printf, 1, 2)));

static char *fmt(const char *f, ...)
{
    va_list ap;
    int n;
    char *s;

    va_start(ap, f);
    n = vsnprintf(NULL, 0, f, ap);
    va_end(ap);
    s = apr_palloc(gp, (apr_size_t)n + 1);
    va_start(ap, f);
    vsnprintf(s, (size_t)n + 1, f, ap);
    va_end(ap);
    return s;
}

/* ---- keys and JWKS text ------------------------------------------------- */

static char *bn_param_b64(EVP_PKEY *k, const char *name, int pad)
{
    BIGNUM *bn = NULL;
    unsigned char buf[1100];
    int n;

    if (!EVP_PKEY_get_bn_param(k, name, &bn)) {
        fprintf(stderr, "cannot read %s\n", name);
        exit(2);
    }
    n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
    BN_free(bn);
    return b64(buf, (size_t)n);
}

static char *rsa_jwk(EVP_PKEY *k, const char *kid, const char *extra)
{
    return fmt("{\"kty\":\"RSA\",\"kid\":\"%s\",\"n\":\"%s\",\"e\":\"%s\"%s}",
               kid, bn_param_b64(k, OSSL_PKEY_PARAM_RSA_N, 0),
               bn_param_b64(k, OSSL_PKEY_PARAM_RSA_E, 0), extra);
}

static char *ec_jwk(EVP_PKEY *k, const char *kid, const char *extra)
{
    int bits = EVP_PKEY_get_bits(k);

    return fmt("{\"kty\":\"EC\",\"kid\":\"%s\",\"crv\":\"%s\",\"x\":\"%s\","
               "\"y\":\"%s\"%s}", kid, bits == 256 ? "P-256" : "P-384",
               bn_param_b64(k, OSSL_PKEY_PARAM_EC_PUB_X, bits / 8),
               bn_param_b64(k, OSSL_PKEY_PARAM_EC_PUB_Y, bits / 8), extra);
}

static char *ed_jwk(EVP_PKEY *k, const char *kid)
{
    unsigned char x[32];
    size_t n = sizeof(x);

    EVP_PKEY_get_raw_public_key(k, x, &n);
    return fmt("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"%s\","
               "\"x\":\"%s\"}", kid, b64(x, n));
}

static char *oct_jwk(const unsigned char *s, size_t n, const char *kid,
                     const char *extra)
{
    return fmt("{\"kty\":\"oct\",\"kid\":\"%s\",\"k\":\"%s\"%s}", kid,
               b64(s, n), extra);
}

static vip_jwks *jwks_of(const char *keys, char **err)
{
    vip_jwks *ks = NULL;
    char *e = NULL;
    const char *doc = fmt("{\"keys\":[%s]}", keys);

    if (vip_jwks_parse(gp, doc, strlen(doc), &ks, &e) != APR_SUCCESS) {
        ks = NULL;
    }
    if (err != NULL) {
        *err = e;
    }
    return ks;
}

/* ---- test-only signer ------------------------------------------------- */

static char *sign_raw(const char *input, int alg, EVP_PKEY *k,
                      const unsigned char *sec, size_t seclen, int der_ok)
{
    unsigned char sig[1024];
    size_t siglen = sizeof(sig);
    const char *name = vip_jwa_name(alg);
    const EVP_MD *md = NULL;
    EVP_MD_CTX *mctx;
    EVP_PKEY_CTX *pctx = NULL;

    if (name[2] == '2') {
        md = EVP_sha256();
    }
    else if (name[2] == '3') {
        md = EVP_sha384();
    }
    else if (name[2] == '5') {
        md = EVP_sha512();
    }
    if (name[0] == 'H') {
        EVP_Q_mac(NULL, "HMAC", NULL, EVP_MD_get0_name(md), NULL, sec, seclen,
                  (const unsigned char *)input, strlen(input), sig,
                  sizeof(sig), &siglen);
        return b64(sig, siglen);
    }
    mctx = EVP_MD_CTX_new();
    if (EVP_DigestSignInit(mctx, &pctx, alg == VIP_JWA_EDDSA ? NULL : md,
                           NULL, k) != 1) {
        fprintf(stderr, "sign init failed for %s\n", name);
        exit(2);
    }
    if (name[0] == 'P') {
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md);
    }
    if (EVP_DigestSign(mctx, sig, &siglen, (const unsigned char *)input,
                       strlen(input)) != 1) {
        fprintf(stderr, "sign failed for %s\n", name);
        exit(2);
    }
    EVP_MD_CTX_free(mctx);
    if (name[0] == 'E' && name[1] == 'S' && !der_ok) {
        /* JWS wants raw r||s, libcrypto gives DER. */
        const unsigned char *q = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)siglen);
        int half = alg == VIP_JWA_ES256 ? 32 : 48;
        unsigned char raw[96];

        BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, half);
        BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + half, half);
        ECDSA_SIG_free(es);
        return b64(raw, (size_t)(2 * half));
    }
    return b64(sig, siglen);
}

/* Token with header text hdr and payload text pl, signed as alg with the
 * given key material. */
static char *sign_with(const char *hdr, const char *pl, int alg, EVP_PKEY *k,
                       const unsigned char *sec, size_t seclen)
{
    char *input = fmt("%s.%s", b64s(hdr), b64s(pl));

    return fmt("%s.%s", input, sign_raw(input, alg, k, sec, seclen, 0));
}

/* The right key of the standard set for alg. */
static char *sign_std(const char *hdr, const char *pl, int alg)
{
    EVP_PKEY *k = NULL;

    switch (alg) {
    case VIP_JWA_ES256: k = k_ec256; break;
    case VIP_JWA_ES384: k = k_ec384; break;
    case VIP_JWA_EDDSA: k = k_ed; break;
    default:            k = k_rsa; break;
    }
    return sign_with(hdr, pl, alg, k, hmac_key, sizeof(hmac_key));
}

static const char *std_kid(int alg)
{
    switch (alg) {
    case VIP_JWA_ES256: return "ec256";
    case VIP_JWA_ES384: return "ec384";
    case VIP_JWA_EDDSA: return "ed1";
    case VIP_JWA_HS256: case VIP_JWA_HS384: case VIP_JWA_HS512: return "hs1";
    default:            return "rsa1";
    }
}

/* Signed token with a standard header for alg and kid. */
static char *tok(int alg, const char *pl)
{
    return sign_std(fmt("{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"JWT\"}",
                        vip_jwa_name(alg), std_kid(alg)), pl, alg);
}

static const char *good_claims(void)
{
    return fmt("{" STD ",\"exp\":%lld,\"iat\":%lld,\"scope\":\"read write\","
               "\"tid\":\"tenant-a\"}", NOW + 600, NOW - 10);
}

/* Unsigned token from raw segment texts (for structure attacks). */
static char *raw3(const char *hdr, const char *pl, const char *sig_b64)
{
    return fmt("%s.%s.%s", b64s(hdr), b64s(pl), sig_b64);
}

/* ---- running tokens ----------------------------------------------------- */

static const char *run_full(const char *t, apr_size_t max_len,
                            const vip_jwks *ks, const vip_jwt_policy *p,
                            vip_jwt_identity *id)
{
    vip_jwt *jwt;
    const char *reason = NULL;
    vip_jwt_identity scratch;

    if (id == NULL) {
        id = &scratch;
    }
    if (vip_jwt_parse(gp, t, strlen(t), max_len, &jwt, &reason)
            != APR_SUCCESS
        || vip_jwt_verify_sig(jwt, ks, &reason) != APR_SUCCESS
        || vip_jwt_check_claims(gp, jwt, p, id, &reason) != APR_SUCCESS) {
        return reason != NULL ? reason : "(null reason)";
    }
    return "ok";
}

/* Reasons are a closed set of constants: never token material. */
static int known_reason(const char *r)
{
    static const char *const all[] = {
        "ok", VIP_JWT_R_MALFORMED, VIP_JWT_R_TOO_LARGE, VIP_JWT_R_DUPLICATE,
        VIP_JWT_R_ALG, VIP_JWT_R_CRIT, VIP_JWT_R_UNKNOWN_KID,
        VIP_JWT_R_SIGNATURE, VIP_JWT_R_EXPIRED, VIP_JWT_R_NOT_YET_VALID,
        VIP_JWT_R_NO_EXP, VIP_JWT_R_ISSUER, VIP_JWT_R_AUDIENCE,
        VIP_JWT_R_CLAIM,
    };
    size_t i;

    for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (strcmp(r, all[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static void expect_full(const char *name, const char *t, apr_size_t max_len,
                        const vip_jwks *ks, const vip_jwt_policy *p,
                        const char *want)
{
    const char *got = run_full(t, max_len, ks, p, NULL);

    check(strcmp(got, want) == 0, name, "want %s, got %s", want, got);
    check(known_reason(got), name, "unknown reason %s", got);
}

static void expect(const char *name, const char *t, const char *want)
{
    expect_full(name, t, 4096, jwks, &pol, want);
}

static void json_case(const char *text, const char *want_err)
{
    json_object *o = NULL;
    const char *err = NULL;
    apr_status_t rv = vip_json_parse(gp, text, strlen(text), 0, &o, &err);

    if (want_err == NULL) {
        check(rv == APR_SUCCESS, "json accepts", "%s: %s", text,
              err ? err : "?");
    }
    else {
        check(rv != APR_SUCCESS && err != NULL && strcmp(err, want_err) == 0,
              "json refuses", "%s: want %s, got %s", text, want_err,
              rv == APR_SUCCESS ? "success" : err);
    }
}

static void jwks_reject(const char *name, const char *keys, const char *needle)
{
    char *err = NULL;
    vip_jwks *ks = jwks_of(keys, &err);

    check(ks == NULL && err != NULL && strstr(err, needle) != NULL,
          fmt("jwks rejects %s", name), "err: %s", err ? err : "(none)");
}

#endif
