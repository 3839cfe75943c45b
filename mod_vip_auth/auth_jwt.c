/*
 * auth_jwt.c - compact JWS parsing, signature verification and claim
 * checks for bearer tokens (RFC 7515, 7518, 7519, 8725).
 *
 * This file owns the per-request decisions about a token, in three
 * stages the module calls in order: structure and header rules
 * (vip_jwt_parse), the signature against configured keys only
 * (vip_jwt_verify_sig), and the registered and identity claims
 * (vip_jwt_check_claims).  Each failure maps to one stable reason code
 * that never carries token bytes.  Header members that point at keys
 * (jku, x5u, x5c, jwk) are ignored: keys come from the configured set
 * alone, and the key, not the token, decides which algorithms may be
 * used.  Nothing here logs or touches httpd.
 */
#include <string.h>

#include <apr_strings.h>
#include <apr_tables.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "auth_jwt.h"
#include "vip_b64.h"
#include "vip_json.h"

#define KID_MAX            256
#define SUB_MAX            256
#define SCOPE_MAX          128
#define SCOPES_MAX         64
#define TENANT_MAX         64
#define NUMERIC_DATE_MAX   (APR_INT64_C(1) << 53)   /* exact in a double */
#define LEEWAY_MAX         300

enum { FAM_NONE, FAM_HS, FAM_RS, FAM_PS, FAM_ES, FAM_ED };

typedef struct {
    int family;
    int hash_bits;                  /* SHA-2 size; 0 for EdDSA */
} jwa_info;

static const jwa_info jwa_table[VIP_JWA_COUNT] = {
    [VIP_JWA_NONE]  = { FAM_NONE, 0 },
    [VIP_JWA_HS256] = { FAM_HS, 256 }, [VIP_JWA_HS384] = { FAM_HS, 384 },
    [VIP_JWA_HS512] = { FAM_HS, 512 },
    [VIP_JWA_RS256] = { FAM_RS, 256 }, [VIP_JWA_RS384] = { FAM_RS, 384 },
    [VIP_JWA_RS512] = { FAM_RS, 512 },
    [VIP_JWA_PS256] = { FAM_PS, 256 }, [VIP_JWA_PS384] = { FAM_PS, 384 },
    [VIP_JWA_PS512] = { FAM_PS, 512 },
    [VIP_JWA_ES256] = { FAM_ES, 256 }, [VIP_JWA_ES384] = { FAM_ES, 384 },
    [VIP_JWA_EDDSA] = { FAM_ED, 0 },
};

static const EVP_MD *sha2(int bits)
{
    switch (bits) {
    case 256: return EVP_sha256();
    case 384: return EVP_sha384();
    case 512: return EVP_sha512();
    default:  return NULL;
    }
}

/* ---- parsing ----------------------------------------------------------- */

static int printable(const char *s, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) {
            return 0;
        }
    }
    return 1;
}

/* Decode one segment and parse it as a JSON object. */
static apr_status_t segment_json(apr_pool_t *p, const char *seg,
                                 apr_size_t len, json_object **out,
                                 const char **reason)
{
    unsigned char *raw;
    apr_size_t rawlen;
    const char *jerr;

    if (vip_b64url_decode(p, seg, len, &raw, &rawlen) != APR_SUCCESS) {
        *reason = VIP_JWT_R_MALFORMED;
        return APR_EINVAL;
    }
    if (vip_json_parse(p, (const char *)raw, rawlen, VIP_JSON_MAX_DEPTH, out,
                       &jerr) != APR_SUCCESS) {
        /* Duplicates get their own reason: they are an attack signature
         * ({"alg":"HS256","alg":"none"}), not a broken client. */
        *reason = strcmp(jerr, "duplicate member") == 0
                  ? VIP_JWT_R_DUPLICATE : VIP_JWT_R_MALFORMED;
        return APR_EINVAL;
    }
    if (!json_object_is_type(*out, json_type_object)) {
        *reason = VIP_JWT_R_MALFORMED;
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

static apr_status_t header_rules(vip_jwt *t, const char **reason)
{
    const char *s;
    apr_size_t len;
    int r;

    /* The alg string must match a JWA name exactly: "none" in any case,
     * unknown names, and non-strings all land here. */
    r = vip_json_get_string(t->header, "alg", &s, &len);
    if (r != 1 || strlen(s) != len
        || (t->alg = vip_jwa_from_name(s)) == VIP_JWA_NONE) {
        *reason = VIP_JWT_R_ALG;
        return APR_EINVAL;
    }
    /* We implement no extension, so any "crit", even an empty or
     * malformed one, means the token expects something we would skip. */
    if (json_object_object_get_ex(t->header, "crit", NULL)) {
        *reason = VIP_JWT_R_CRIT;
        return APR_EINVAL;
    }
    r = vip_json_get_string(t->header, "kid", &s, &len);
    if (r < 0 || (r == 1 && (len < 1 || len > KID_MAX
                             || !printable(s, len)))) {
        *reason = VIP_JWT_R_MALFORMED;
        return APR_EINVAL;
    }
    t->kid = r == 1 ? s : NULL;
    if (vip_json_get_string(t->header, "typ", &s, &len) < 0) {
        *reason = VIP_JWT_R_MALFORMED;
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

apr_status_t vip_jwt_parse(apr_pool_t *p, const char *token, apr_size_t len,
                           apr_size_t max_len, vip_jwt **out,
                           const char **reason)
{
    const char *d1, *d2, *sig_seg;
    apr_size_t hlen, plen, slen;
    unsigned char *sig;
    vip_jwt *t;
    const char *iss;
    apr_size_t isslen;

    *out = NULL;
    *reason = VIP_JWT_R_MALFORMED;
    if (max_len == 0 || max_len > VIP_JWT_MAX_SIZE_LIMIT) {
        max_len = VIP_JWT_MAX_SIZE_LIMIT;
    }
    /* Before anything is decoded: size alone bounds all later work. */
    if (len > max_len) {
        *reason = VIP_JWT_R_TOO_LARGE;
        return APR_EINVAL;
    }
    if (token == NULL || len == 0) {
        return APR_EINVAL;
    }
    d1 = memchr(token, '.', len);
    d2 = d1 ? memchr(d1 + 1, '.', len - (apr_size_t)(d1 + 1 - token)) : NULL;
    if (d2 == NULL
        || memchr(d2 + 1, '.', len - (apr_size_t)(d2 + 1 - token)) != NULL) {
        return APR_EINVAL;          /* not 3 segments (5 is JWE) */
    }
    sig_seg = d2 + 1;
    hlen = (apr_size_t)(d1 - token);
    plen = (apr_size_t)(d2 - d1 - 1);
    slen = len - (apr_size_t)(sig_seg - token);
    if (hlen == 0 || plen == 0 || slen == 0) {
        return APR_EINVAL;
    }
    t = apr_pcalloc(p, sizeof(*t));
    if (vip_b64url_decode(p, sig_seg, slen, &sig, &t->sig_len)
        != APR_SUCCESS) {
        return APR_EINVAL;
    }
    t->sig = sig;
    if (segment_json(p, token, hlen, &t->header, reason) != APR_SUCCESS
        || header_rules(t, reason) != APR_SUCCESS
        || segment_json(p, d1 + 1, plen, &t->claims, reason)
           != APR_SUCCESS) {
        return APR_EINVAL;
    }
    /* Copied: the signature is checked later, and the caller's buffer
     * (a header value) need not outlive this call. */
    t->signing_input_len = (apr_size_t)(d2 - token);
    t->signing_input = apr_pstrmemdup(p, token, t->signing_input_len);
    if (vip_json_get_string(t->claims, "iss", &iss, &isslen) == 1
        && strlen(iss) == isslen) {
        t->iss = iss;
    }
    *out = t;
    *reason = NULL;
    return APR_SUCCESS;
}

/* ---- signature --------------------------------------------------------- */

/* JWS carries ECDSA signatures as raw r||s of the curve size; libcrypto
 * wants DER.  A DER signature, a wrong length, or r or s of zero (the
 * "psychic signature" family, CVE-2022-21449) is refused here rather than
 * trusted to the backend. */
static int ecdsa_raw_to_der(const unsigned char *sig, apr_size_t sig_len,
                            apr_size_t half, unsigned char **der, int *derlen)
{
    BIGNUM *r, *s;
    ECDSA_SIG *es;

    if (sig_len != 2 * half) {
        return 0;
    }
    r = BN_bin2bn(sig, (int)half, NULL);
    s = BN_bin2bn(sig + half, (int)half, NULL);
    es = ECDSA_SIG_new();
    if (r == NULL || s == NULL || es == NULL || BN_is_zero(r)
        || BN_is_zero(s) || !ECDSA_SIG_set0(es, r, s)) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);
        return 0;
    }
    *der = NULL;
    *derlen = i2d_ECDSA_SIG(es, der);
    ECDSA_SIG_free(es);             /* also frees r and s */
    return *derlen > 0;
}

static int verify_hmac(const vip_jwt *t, const vip_jwk *k, int bits)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t maclen = 0;
    const char *md = bits == 256 ? "SHA256" : bits == 384 ? "SHA384"
                                                          : "SHA512";

    if (k->secret == NULL || k->secret_len == 0) {
        return 0;
    }
    if (EVP_Q_mac(NULL, "HMAC", NULL, md, NULL, k->secret, k->secret_len,
                  (const unsigned char *)t->signing_input,
                  t->signing_input_len, mac, sizeof(mac), &maclen) == NULL) {
        return 0;
    }
    /* A truncated MAC is a forgery aid, so the length must be exact; the
     * compare is constant time. */
    return t->sig_len == maclen
           && CRYPTO_memcmp(mac, t->sig, maclen) == 0;
}

static int verify_pkey(const vip_jwt *t, const vip_jwk *k,
                       const jwa_info *ji)
{
    EVP_MD_CTX *mctx;
    EVP_PKEY_CTX *pctx = NULL;
    const EVP_MD *md = NULL;
    const unsigned char *sig = t->sig;
    unsigned char *der = NULL;
    size_t sig_len = t->sig_len;
    int ok = 0, derlen;

    if (k->pkey == NULL) {
        return 0;
    }
    /* The algs bitmask already ties alg to kty; checking the key object
     * again keeps a hand-built vip_jwk from crossing families. */
    switch (ji->family) {
    case FAM_RS:
    case FAM_PS:
        if (!EVP_PKEY_is_a(k->pkey, "RSA")) {
            return 0;
        }
        md = sha2(ji->hash_bits);
        break;
    case FAM_ES:
        if (!EVP_PKEY_is_a(k->pkey, "EC")
            || EVP_PKEY_get_bits(k->pkey) != ji->hash_bits) {
            return 0;
        }
        if (!ecdsa_raw_to_der(t->sig, t->sig_len,
                              (apr_size_t)ji->hash_bits / 8, &der, &derlen)) {
            return 0;
        }
        sig = der;
        sig_len = (size_t)derlen;
        md = sha2(ji->hash_bits);
        break;
    case FAM_ED:
        if (!EVP_PKEY_is_a(k->pkey, "ED25519") || t->sig_len != 64) {
            return 0;
        }
        break;                      /* Ed25519 hashes internally: no md */
    default:
        return 0;
    }
    mctx = EVP_MD_CTX_new();
    if (mctx != NULL
        && EVP_DigestVerifyInit(mctx, &pctx, md, NULL, k->pkey) == 1) {
        int setup = 1;

        if (ji->family == FAM_RS) {
            setup = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0;
        }
        else if (ji->family == FAM_PS) {
            /* RFC 7518 3.5: salt length = hash length, MGF1 with the same
             * hash; accepting any salt length would be a second encoding. */
            setup = EVP_PKEY_CTX_set_rsa_padding(pctx,
                                                 RSA_PKCS1_PSS_PADDING) > 0
                    && EVP_PKEY_CTX_set_rsa_pss_saltlen(
                           pctx, RSA_PSS_SALTLEN_DIGEST) > 0
                    && EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) > 0;
        }
        ok = setup
             && EVP_DigestVerify(mctx, sig, sig_len,
                                 (const unsigned char *)t->signing_input,
                                 t->signing_input_len) == 1;
    }
    EVP_MD_CTX_free(mctx);
    OPENSSL_free(der);
    return ok;
}

apr_status_t vip_jwt_verify_sig(const vip_jwt *t, const vip_jwks *keys,
                                const char **reason)
{
    const vip_jwk *k = NULL;
    const jwa_info *ji;
    unsigned int bit;
    int ok;

    *reason = VIP_JWT_R_ALG;
    if (t == NULL || t->alg <= VIP_JWA_NONE || t->alg >= VIP_JWA_COUNT) {
        return APR_EINVAL;
    }
    ji = &jwa_table[t->alg];
    bit = 1u << t->alg;
    if (t->kid != NULL) {
        k = vip_jwks_find(keys, t->kid);
    }
    else {
        /* Without a kid the token may only pick a key when exactly one
         * key allows its alg; guessing among several would let the token
         * choose the key. */
        int i, n = vip_jwks_count(keys), matches = 0;

        for (i = 0; i < n; i++) {
            const vip_jwk *c = vip_jwks_get(keys, i);

            if (c->algs & bit) {
                k = c;
                matches++;
            }
        }
        if (matches != 1) {
            k = NULL;
        }
    }
    if (k == NULL) {
        *reason = VIP_JWT_R_UNKNOWN_KID;
        return APR_EINVAL;
    }
    if (!(k->algs & bit)) {
        *reason = VIP_JWT_R_ALG;
        return APR_EINVAL;
    }
    if (ji->family == FAM_HS) {
        ok = verify_hmac(t, k, ji->hash_bits);
    }
    else {
        ok = verify_pkey(t, k, ji);
    }
    /* A failed verify leaves entries on the thread's OpenSSL error queue,
     * which would surface in an unrelated later call. */
    ERR_clear_error();
    if (!ok) {
        *reason = VIP_JWT_R_SIGNATURE;
        return APR_EINVAL;
    }
    *reason = NULL;
    return APR_SUCCESS;
}

/* ---- claims ------------------------------------------------------------ */

/* RFC 7519 NumericDate, restricted to JSON integers in 0..2^53.  json-c
 * makes floats, 1e400 and NaN doubles and huge integers uint64, so the
 * type test comes first and no double is ever converted.  1 found, 0
 * absent, -1 invalid. */
static int numeric_date(json_object *claims, const char *name,
                        apr_int64_t *v)
{
    json_object *o;
    int64_t i;

    if (!json_object_object_get_ex(claims, name, &o)) {
        return 0;
    }
    if (!json_object_is_type(o, json_type_int)) {
        return -1;
    }
    /* Values above INT64_MAX come back clamped to INT64_MAX. */
    i = json_object_get_int64(o);
    if (i < 0 || i > NUMERIC_DATE_MAX) {
        return -1;
    }
    *v = i;
    return 1;
}

static int sub_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9') || (c && strchr("._@:+|-", c));
}

static int tenant_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* RFC 6749 3.3 scope-token: %x21 / %x23-5B / %x5D-7E. */
static int scope_char(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e && c != '"' && c != '\\';
}

static int all_chars(const char *s, apr_size_t len, int (*ok)(unsigned char))
{
    apr_size_t i;

    for (i = 0; i < len; i++) {
        if (!ok((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

static int str_equals(const char *s, apr_size_t len, const char *want)
{
    return len == strlen(want) && memcmp(s, want, len) == 0;
}

/* Add the space-separated scope tokens of s to out. */
static int add_scope_string(apr_pool_t *p, const char *s, apr_size_t len,
                            apr_array_header_t *out)
{
    apr_size_t i = 0;

    while (i < len) {
        apr_size_t start;

        if (s[i] == ' ') {
            i++;
            continue;
        }
        start = i;
        while (i < len && s[i] != ' ') {
            if (!scope_char((unsigned char)s[i])) {
                return 0;
            }
            i++;
        }
        if (i - start > SCOPE_MAX || out->nelts >= SCOPES_MAX) {
            return 0;
        }
        APR_ARRAY_PUSH(out, char *) = apr_pstrmemdup(p, s + start, i - start);
    }
    return 1;
}

/* One scp array element is one scope, never several. */
static int add_scope_array(apr_pool_t *p, json_object *arr,
                           apr_array_header_t *out)
{
    apr_size_t i, n = json_object_array_length(arr);

    for (i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(arr, i);
        const char *s;
        apr_size_t len;

        if (!json_object_is_type(e, json_type_string)) {
            return 0;
        }
        s = json_object_get_string(e);
        len = (apr_size_t)json_object_get_string_len(e);
        if (len < 1 || len > SCOPE_MAX || out->nelts >= SCOPES_MAX
            || !all_chars(s, len, scope_char)) {
            return 0;
        }
        APR_ARRAY_PUSH(out, char *) = apr_pstrmemdup(p, s, len);
    }
    return 1;
}

/* "scope" (RFC 8693: a space-separated string) wins over "scp" (an array
 * of strings or one string, as several IdPs issue it). */
static int extract_scopes(apr_pool_t *p, json_object *claims,
                          const char **scopes)
{
    apr_array_header_t *out = apr_array_make(p, 8, sizeof(char *));
    json_object *v;
    int ok = 1;

    if (json_object_object_get_ex(claims, "scope", &v)) {
        ok = json_object_is_type(v, json_type_string)
             && add_scope_string(p, json_object_get_string(v),
                                 (apr_size_t)json_object_get_string_len(v),
                                 out);
    }
    else if (json_object_object_get_ex(claims, "scp", &v)) {
        if (json_object_is_type(v, json_type_string)) {
            ok = add_scope_string(p, json_object_get_string(v),
                                  (apr_size_t)json_object_get_string_len(v),
                                  out);
        }
        else {
            ok = json_object_is_type(v, json_type_array)
                 && add_scope_array(p, v, out);
        }
    }
    if (ok) {
        *scopes = apr_array_pstrcat(p, out, ' ');
    }
    return ok;
}

static int audience_ok(json_object *claims, const char *want)
{
    json_object *v;
    apr_size_t i, n;

    if (!json_object_object_get_ex(claims, "aud", &v)) {
        return 0;
    }
    if (json_object_is_type(v, json_type_string)) {
        return str_equals(json_object_get_string(v),
                          (apr_size_t)json_object_get_string_len(v), want);
    }
    if (!json_object_is_type(v, json_type_array)) {
        return 0;
    }
    n = json_object_array_length(v);
    for (i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(v, i);

        /* A malformed element makes the whole claim suspect. */
        if (!json_object_is_type(e, json_type_string)) {
            return 0;
        }
    }
    for (i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(v, i);

        if (str_equals(json_object_get_string(e),
                       (apr_size_t)json_object_get_string_len(e), want)) {
            return 1;
        }
    }
    return 0;
}

static apr_status_t claim_fail(const char **reason, const char *why)
{
    *reason = why;
    return APR_EINVAL;
}

apr_status_t vip_jwt_check_claims(apr_pool_t *p, const vip_jwt *t,
                                  const vip_jwt_policy *pol,
                                  vip_jwt_identity *id, const char **reason)
{
    json_object *c;
    apr_int64_t exp = 0, nbf = 0, iat = 0;
    int has_exp, has_nbf, has_iat, leeway, r;
    const char *s;
    apr_size_t len;

    memset(id, 0, sizeof(*id));
    *reason = NULL;
    if (t == NULL || pol == NULL || t->claims == NULL) {
        return claim_fail(reason, VIP_JWT_R_MALFORMED);
    }
    c = t->claims;
    leeway = pol->leeway < 0 ? 0
             : pol->leeway > LEEWAY_MAX ? LEEWAY_MAX : pol->leeway;

    has_exp = numeric_date(c, "exp", &exp);
    has_nbf = numeric_date(c, "nbf", &nbf);
    has_iat = numeric_date(c, "iat", &iat);
    if (has_exp < 0 || has_nbf < 0 || has_iat < 0) {
        return claim_fail(reason, VIP_JWT_R_CLAIM);
    }
    if (!has_exp && pol->require_exp) {
        return claim_fail(reason, VIP_JWT_R_NO_EXP);
    }
    /* Valid while now < exp + leeway.  The dates are <= 2^53 and leeway
     * <= 300, so the arithmetic stays on the date side and cannot
     * overflow whatever now is. */
    if (has_exp && pol->now >= exp + leeway) {
        return claim_fail(reason, VIP_JWT_R_EXPIRED);
    }
    if ((has_nbf && nbf - leeway > pol->now)
        || (has_iat && iat - leeway > pol->now)) {
        return claim_fail(reason, VIP_JWT_R_NOT_YET_VALID);
    }

    if (pol->issuer == NULL || vip_json_get_string(c, "iss", &s, &len) != 1
        || !str_equals(s, len, pol->issuer)) {
        return claim_fail(reason, VIP_JWT_R_ISSUER);
    }
    if (pol->audience != NULL && !audience_ok(c, pol->audience)) {
        return claim_fail(reason, VIP_JWT_R_AUDIENCE);
    }

    /* Identity values end up in headers and logs, so only the documented
     * shapes pass; a NUL counts as a bad character, never a terminator. */
    if (vip_json_get_string(c, "sub", &s, &len) != 1 || len < 1 || len > SUB_MAX
        || !all_chars(s, len, sub_char)) {
        return claim_fail(reason, VIP_JWT_R_CLAIM);
    }
    id->sub = apr_pstrmemdup(p, s, len);
    if (!extract_scopes(p, c, &id->scopes)) {
        return claim_fail(reason, VIP_JWT_R_CLAIM);
    }
    if (pol->tenant_claim != NULL) {
        r = vip_json_get_string(c, pol->tenant_claim, &s, &len);
        if (r < 0 || (r == 1 && (len < 1 || len > TENANT_MAX
                                 || !all_chars(s, len, tenant_char)))) {
            return claim_fail(reason, VIP_JWT_R_CLAIM);
        }
        id->tenant = r == 1 ? apr_pstrmemdup(p, s, len) : NULL;
    }
    id->exp = has_exp ? exp : 0;
    id->has_exp = has_exp;
    return APR_SUCCESS;
}
