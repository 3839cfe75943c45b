/*
 * auth_jwk.c - JWK sets (RFC 7517) turned into validated libcrypto keys.
 *
 * This file owns the trust decisions that are made once, when keys are
 * loaded: which key types and curves exist, which algorithms each key may
 * verify, and which keys are too weak or too odd to load at all.  A key
 * set with any bad key is refused as a whole and the error names the key
 * (index and kid) and the reason, so an admin can fix the file; the
 * module decides whether that is a start-up error (local file) or a
 * logged skip (remote set).  Nothing here logs.
 *
 * Keys are built with the OpenSSL 3 provider APIs (OSSL_PARAM_BLD and
 * EVP_PKEY_fromdata, or EVP_PKEY_new_raw_public_key for Ed25519) and
 * released by cleanups on the pool they were loaded into.
 */
#include <stdarg.h>
#include <string.h>

#include <apr_file_io.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

#include "auth_jwk.h"
#include "vip_b64.h"
#include "vip_json.h"

/* Documented limits: a set beyond them is a mistake or an attack. */
#define JWKS_MAX_BYTES     (1024 * 1024)
#define JWKS_MAX_KEYS      100
#define JWK_KID_MAX        256
#define RSA_MIN_BITS       2048
/* Public-key validation runs a primality test on n; cap it so a hostile
 * remote set cannot make loading slow.  8192 covers every real key. */
#define RSA_MAX_BITS       8192
#define RSA_MAX_E_BITS     64
#define OCT_MIN_BYTES      32
#define OCT_MAX_BYTES      1024

#define ALG_BIT(a)         (1u << (a))
#define ALGS_HS            (ALG_BIT(VIP_JWA_HS256) | ALG_BIT(VIP_JWA_HS384) \
                            | ALG_BIT(VIP_JWA_HS512))
#define ALGS_RSA           (ALG_BIT(VIP_JWA_RS256) | ALG_BIT(VIP_JWA_RS384) \
                            | ALG_BIT(VIP_JWA_RS512) | ALG_BIT(VIP_JWA_PS256) \
                            | ALG_BIT(VIP_JWA_PS384) | ALG_BIT(VIP_JWA_PS512))

struct vip_jwks {
    apr_array_header_t *keys;       /* of vip_jwk */
    apr_hash_t *by_kid;             /* kid -> vip_jwk * */
};

static const char *const jwa_names[VIP_JWA_COUNT] = {
    [VIP_JWA_NONE] = "none",
    [VIP_JWA_HS256] = "HS256", [VIP_JWA_HS384] = "HS384",
    [VIP_JWA_HS512] = "HS512",
    [VIP_JWA_RS256] = "RS256", [VIP_JWA_RS384] = "RS384",
    [VIP_JWA_RS512] = "RS512",
    [VIP_JWA_PS256] = "PS256", [VIP_JWA_PS384] = "PS384",
    [VIP_JWA_PS512] = "PS512",
    [VIP_JWA_ES256] = "ES256", [VIP_JWA_ES384] = "ES384",
    [VIP_JWA_EDDSA] = "EdDSA",
};

/* Members that only a private JWK carries (RFC 7518 section 6). */
static const char *const private_members[] = {
    "d", "p", "q", "dp", "dq", "qi", "oth"
};

int vip_jwa_from_name(const char *name)
{
    int a;

    if (name == NULL) {
        return VIP_JWA_NONE;
    }
    for (a = VIP_JWA_NONE + 1; a < VIP_JWA_COUNT; a++) {
        if (strcmp(name, jwa_names[a]) == 0) {
            return a;
        }
    }
    return VIP_JWA_NONE;
}

const char *vip_jwa_name(int alg)
{
    if (alg < 0 || alg >= VIP_JWA_COUNT) {
        return NULL;
    }
    return jwa_names[alg];
}

/* Digest length of an HS algorithm, 0 for the others. */
static apr_size_t hs_hash_len(int alg)
{
    switch (alg) {
    case VIP_JWA_HS256: return 32;
    case VIP_JWA_HS384: return 48;
    case VIP_JWA_HS512: return 64;
    default:            return 0;
    }
}

/* A kid is a lookup key and appears in logs: 1..256 printable ASCII. */
static int kid_ok(const char *s, apr_size_t len)
{
    apr_size_t i;

    if (len < 1 || len > JWK_KID_MAX) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) {
            return 0;
        }
    }
    return 1;
}

/* Context for one key being loaded, so errors can name it. */
typedef struct {
    apr_pool_t *p;
    json_object *jwk;
    int idx;
    const char *kid;                /* validated, or NULL */
    char **err;
} key_ctx;

static apr_status_t key_fail(key_ctx *k, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static apr_status_t key_fail(key_ctx *k, const char *fmt, ...)
{
    va_list ap;
    char *why;

    va_start(ap, fmt);
    why = apr_pvsprintf(k->p, fmt, ap);
    va_end(ap);
    if (k->kid != NULL) {
        *k->err = apr_psprintf(k->p, "JWKS key %d (kid \"%s\"): %s",
                               k->idx, k->kid, why);
    }
    else {
        *k->err = apr_psprintf(k->p, "JWKS key %d (no kid): %s", k->idx, why);
    }
    return APR_EINVAL;
}

/* Member name as a string without embedded NUL.  1 found, 0 absent,
 * -1 present but not such a string. */
static int get_str(json_object *o, const char *name, const char **s,
                   apr_size_t *len)
{
    int r = vip_json_get_string(o, name, s, len);

    return r == 1 && strlen(*s) != *len ? -1 : r;
}

/* Required base64url member, decoded. */
static apr_status_t get_b64(key_ctx *k, const char *name,
                            unsigned char **out, apr_size_t *outlen)
{
    const char *s;
    apr_size_t len;

    if (get_str(k->jwk, name, &s, &len) != 1) {
        return key_fail(k, "member \"%s\" missing or not a string", name);
    }
    if (vip_b64url_decode(k->p, s, len, out, outlen) != APR_SUCCESS
        || *outlen == 0) {
        return key_fail(k, "member \"%s\" is not canonical base64url", name);
    }
    return APR_SUCCESS;
}

static apr_status_t pkey_cleanup(void *data)
{
    EVP_PKEY_free(data);
    return APR_SUCCESS;
}

static apr_status_t secret_cleanup(void *data)
{
    vip_jwk *key = data;

    OPENSSL_cleanse((void *)key->secret, key->secret_len);
    return APR_SUCCESS;
}

/* EVP_PKEY_fromdata() for a public key described by params. */
static EVP_PKEY *pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pkey = NULL;

    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

/* The provider's own public-key validation: n odd and composite with no
 * small factors for RSA, point in range, on the curve and of the right
 * order for EC. */
static int pkey_public_ok(EVP_PKEY *pkey)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    int ok = ctx != NULL && EVP_PKEY_public_check(ctx) == 1;

    EVP_PKEY_CTX_free(ctx);
    return ok;
}

/* Register the key for release with the pool right away, so later
 * failures cannot leak it. */
static void own_pkey(key_ctx *k, vip_jwk *key, EVP_PKEY *pkey)
{
    key->pkey = pkey;
    apr_pool_cleanup_register(k->p, pkey, pkey_cleanup,
                              apr_pool_cleanup_null);
}

static apr_status_t load_rsa(key_ctx *k, vip_jwk *key)
{
    unsigned char *nb, *eb;
    apr_size_t nlen, elen;
    BIGNUM *n = NULL, *e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    EVP_PKEY *pkey = NULL;
    apr_status_t rv;
    int nbits;

    if ((rv = get_b64(k, "n", &nb, &nlen)) != APR_SUCCESS
        || (rv = get_b64(k, "e", &eb, &elen)) != APR_SUCCESS) {
        return rv;
    }
    n = BN_bin2bn(nb, (int)nlen, NULL);
    e = BN_bin2bn(eb, (int)elen, NULL);
    if (n == NULL || e == NULL) {
        rv = key_fail(k, "out of memory");
        goto done;
    }
    nbits = BN_num_bits(n);
    if (nbits < RSA_MIN_BITS || nbits > RSA_MAX_BITS) {
        rv = key_fail(k, "RSA modulus of %d bits (allowed %d..%d)", nbits,
                      RSA_MIN_BITS, RSA_MAX_BITS);
        goto done;
    }
    if (!BN_is_odd(e) || BN_is_one(e) || BN_num_bits(e) > RSA_MAX_E_BITS) {
        rv = key_fail(k, "RSA exponent must be odd, > 1 and <= %d bits",
                      RSA_MAX_E_BITS);
        goto done;
    }
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n)
        || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e)
        || (pkey = pkey_fromdata("RSA", bld)) == NULL) {
        rv = key_fail(k, "libcrypto refused the RSA key");
        goto done;
    }
    own_pkey(k, key, pkey);
    if (!pkey_public_ok(pkey)) {
        rv = key_fail(k, "RSA public key failed validation");
        goto done;
    }
    key->algs = ALGS_RSA;
    rv = APR_SUCCESS;
done:
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return rv;
}

static apr_status_t load_ec(key_ctx *k, vip_jwk *key)
{
    const char *crv, *group;
    apr_size_t crvlen, xlen, ylen, clen;
    unsigned char *x, *y, *pt;
    OSSL_PARAM_BLD *bld;
    EVP_PKEY *pkey = NULL;
    apr_status_t rv;
    int alg;

    if (get_str(k->jwk, "crv", &crv, &crvlen) != 1) {
        return key_fail(k, "EC key without a \"crv\" string");
    }
    if (strcmp(crv, "P-256") == 0) {
        group = "prime256v1";
        clen = 32;
        alg = VIP_JWA_ES256;
    }
    else if (strcmp(crv, "P-384") == 0) {
        group = "secp384r1";
        clen = 48;
        alg = VIP_JWA_ES384;
    }
    else {
        return key_fail(k, "unsupported EC curve (use P-256 or P-384)");
    }
    if ((rv = get_b64(k, "x", &x, &xlen)) != APR_SUCCESS
        || (rv = get_b64(k, "y", &y, &ylen)) != APR_SUCCESS) {
        return rv;
    }
    /* RFC 7518 6.2.1.2: coordinates are the full field size. */
    if (xlen != clen || ylen != clen) {
        return key_fail(k, "EC coordinates must be %u bytes each",
                        (unsigned)clen);
    }
    pt = apr_palloc(k->p, 1 + 2 * clen);
    pt[0] = 0x04;                   /* uncompressed point */
    memcpy(pt + 1, x, clen);
    memcpy(pt + 1 + clen, y, clen);
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL
        || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                            group, 0)
        || !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                             pt, 1 + 2 * clen)
        || (pkey = pkey_fromdata("EC", bld)) == NULL) {
        OSSL_PARAM_BLD_free(bld);
        return key_fail(k, "EC point is not on the curve");
    }
    OSSL_PARAM_BLD_free(bld);
    own_pkey(k, key, pkey);
    if (!pkey_public_ok(pkey)) {
        return key_fail(k, "EC point is not on the curve");
    }
    key->algs = ALG_BIT(alg);
    return APR_SUCCESS;
}

static apr_status_t load_okp(key_ctx *k, vip_jwk *key)
{
    const char *crv;
    apr_size_t crvlen, xlen;
    unsigned char *x;
    EVP_PKEY *pkey;
    apr_status_t rv;

    if (get_str(k->jwk, "crv", &crv, &crvlen) != 1) {
        return key_fail(k, "OKP key without a \"crv\" string");
    }
    if (strcmp(crv, "Ed25519") != 0) {
        return key_fail(k, "unsupported OKP curve (use Ed25519)");
    }
    if ((rv = get_b64(k, "x", &x, &xlen)) != APR_SUCCESS) {
        return rv;
    }
    if (xlen != 32) {
        return key_fail(k, "Ed25519 public key must be 32 bytes");
    }
    pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, xlen);
    if (pkey == NULL) {
        return key_fail(k, "libcrypto refused the Ed25519 key");
    }
    own_pkey(k, key, pkey);
    key->algs = ALG_BIT(VIP_JWA_EDDSA);
    return APR_SUCCESS;
}

static apr_status_t load_oct(key_ctx *k, vip_jwk *key)
{
    unsigned char *s;
    apr_size_t len;
    apr_status_t rv;
    int a;

    if ((rv = get_b64(k, "k", &s, &len)) != APR_SUCCESS) {
        return rv;
    }
    key->secret = s;
    key->secret_len = len;
    apr_pool_cleanup_register(k->p, key, secret_cleanup,
                              apr_pool_cleanup_null);
    if (len < OCT_MIN_BYTES || len > OCT_MAX_BYTES) {
        return key_fail(k, "oct secret of %u bytes (allowed %d..%d)",
                        (unsigned)len, OCT_MIN_BYTES, OCT_MAX_BYTES);
    }
    /* RFC 7518 3.2: the HMAC key must be at least the hash size. */
    key->algs = 0;
    for (a = VIP_JWA_HS256; a <= VIP_JWA_HS512; a++) {
        if (hs_hash_len(a) <= len) {
            key->algs |= ALG_BIT(a);
        }
    }
    return APR_SUCCESS;
}

/* "use", "key_ops", private members and "alg" apply to every kty. */
static apr_status_t check_common(key_ctx *k, vip_jwk *key, int asymmetric)
{
    json_object *ops;
    const char *s;
    apr_size_t len, i;
    int r;

    r = get_str(k->jwk, "use", &s, &len);
    if (r < 0 || (r == 1 && strcmp(s, "sig") != 0)) {
        return key_fail(k, "\"use\" must be \"sig\" (key is not for "
                        "signatures)");
    }
    if (json_object_object_get_ex(k->jwk, "key_ops", &ops)) {
        int verify = 0;

        if (!json_object_is_type(ops, json_type_array)) {
            return key_fail(k, "\"key_ops\" must be an array");
        }
        for (i = 0; i < json_object_array_length(ops); i++) {
            json_object *op = json_object_array_get_idx(ops, i);

            if (!json_object_is_type(op, json_type_string)) {
                return key_fail(k, "\"key_ops\" must hold strings");
            }
            if (strcmp(json_object_get_string(op), "verify") == 0) {
                verify = 1;
            }
        }
        if (!verify) {
            return key_fail(k, "\"key_ops\" does not include \"verify\"");
        }
    }
    if (asymmetric) {
        for (i = 0; i < sizeof(private_members) / sizeof(private_members[0]);
             i++) {
            if (json_object_object_get_ex(k->jwk, private_members[i], NULL)) {
                return key_fail(k, "private key member \"%s\" in a public "
                                "key set (publish the public key only)",
                                private_members[i]);
            }
        }
    }
    r = get_str(k->jwk, "alg", &s, &len);
    if (r < 0) {
        return key_fail(k, "\"alg\" must be a string");
    }
    if (r == 1) {
        int alg = vip_jwa_from_name(s);

        if (alg == VIP_JWA_NONE) {
            return key_fail(k, "unsupported \"alg\"");
        }
        if (!(key->algs & ALG_BIT(alg))) {
            return key_fail(k, "\"alg\" %s does not fit this %s key%s",
                            jwa_names[alg], key->kty,
                            hs_hash_len(alg) ? " (secret shorter than the "
                            "hash)" : "");
        }
        key->algs = ALG_BIT(alg);
    }
    return APR_SUCCESS;
}

static apr_status_t load_key(key_ctx *k, vip_jwk *key)
{
    const char *kty, *kid;
    apr_size_t len;
    apr_status_t rv;
    int r;

    memset(key, 0, sizeof(*key));
    if (!json_object_is_type(k->jwk, json_type_object)) {
        return key_fail(k, "not a JSON object");
    }
    r = get_str(k->jwk, "kid", &kid, &len);
    if (r < 0 || (r == 1 && !kid_ok(kid, len))) {
        return key_fail(k, "\"kid\" must be 1..%d printable ASCII characters",
                        JWK_KID_MAX);
    }
    if (r == 1) {
        key->kid = k->kid = apr_pstrmemdup(k->p, kid, len);
    }
    if (get_str(k->jwk, "kty", &kty, &len) != 1) {
        return key_fail(k, "missing or invalid \"kty\"");
    }
    if (strcmp(kty, "RSA") == 0) {
        key->kty = "RSA";
        rv = load_rsa(k, key);
    }
    else if (strcmp(kty, "EC") == 0) {
        key->kty = "EC";
        rv = load_ec(k, key);
    }
    else if (strcmp(kty, "OKP") == 0) {
        key->kty = "OKP";
        rv = load_okp(k, key);
    }
    else if (strcmp(kty, "oct") == 0) {
        key->kty = "oct";
        rv = load_oct(k, key);
    }
    else {
        return key_fail(k, "unsupported \"kty\" (use RSA, EC, OKP or oct)");
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return check_common(k, key, key->pkey != NULL);
}

apr_status_t vip_jwks_parse(apr_pool_t *p, const char *buf, apr_size_t len,
                            vip_jwks **out, char **err)
{
    json_object *root = NULL, *keys;
    const char *jerr;
    vip_jwks *ks;
    apr_status_t rv = APR_EINVAL;
    size_t i, n;

    *out = NULL;
    *err = NULL;
    if (len > JWKS_MAX_BYTES) {
        *err = apr_psprintf(p, "JWKS larger than %d bytes", JWKS_MAX_BYTES);
        return APR_EINVAL;
    }
    /* Parsed without a pool: the tree is scratch, dropped before return,
     * so a long-lived config pool does not keep it. */
    if (vip_json_parse(NULL, buf, len, VIP_JSON_MAX_DEPTH, &root, &jerr)
        != APR_SUCCESS) {
        *err = apr_psprintf(p, "JWKS is not valid JSON (%s)", jerr);
        return APR_EINVAL;
    }
    if (!json_object_is_type(root, json_type_object)
        || !json_object_object_get_ex(root, "keys", &keys)
        || !json_object_is_type(keys, json_type_array)) {
        *err = apr_pstrdup(p, "JWKS must be an object with a \"keys\" array");
        goto done;
    }
    n = json_object_array_length(keys);
    if (n == 0 || n > JWKS_MAX_KEYS) {
        *err = apr_psprintf(p, "JWKS must hold 1..%d keys, not %u",
                            JWKS_MAX_KEYS, (unsigned)n);
        goto done;
    }
    ks = apr_pcalloc(p, sizeof(*ks));
    /* Sized exactly, so apr_array_push never moves the elements that the
     * kid hash and the secret cleanups point to. */
    ks->keys = apr_array_make(p, (int)n, sizeof(vip_jwk));
    ks->by_kid = apr_hash_make(p);
    for (i = 0; i < n; i++) {
        key_ctx k = { p, json_object_array_get_idx(keys, i), (int)i, NULL,
                      err };
        vip_jwk *key = apr_array_push(ks->keys);

        if ((rv = load_key(&k, key)) != APR_SUCCESS) {
            goto done;
        }
        if (key->kid != NULL) {
            if (apr_hash_get(ks->by_kid, key->kid, APR_HASH_KEY_STRING)) {
                rv = key_fail(&k, "duplicate kid");
                goto done;
            }
            apr_hash_set(ks->by_kid, key->kid, APR_HASH_KEY_STRING, key);
        }
    }
    *out = ks;
    rv = APR_SUCCESS;
done:
    json_object_put(root);
    ERR_clear_error();
    return rv;
}

apr_status_t vip_jwks_load_file(apr_pool_t *p, const char *path,
                                vip_jwks **out, char **err)
{
    apr_pool_t *tmp;
    apr_file_t *f;
    apr_size_t cap = JWKS_MAX_BYTES + 1, got = 0;
    char *buf;
    apr_status_t rv;
    char ebuf[120];

    *out = NULL;
    *err = NULL;
    /* The read buffer is scratch: keep a megabyte out of the (usually
     * long-lived) pool the keys go to. */
    if ((rv = apr_pool_create(&tmp, p)) != APR_SUCCESS) {
        *err = apr_pstrdup(p, "out of memory");
        return rv;
    }
    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY,
                       APR_OS_DEFAULT, tmp);
    if (rv != APR_SUCCESS) {
        *err = apr_psprintf(p, "cannot open JWKS file %s: %s", path,
                            apr_strerror(rv, ebuf, sizeof(ebuf)));
        goto done;
    }
    /* Read one byte more than the cap to tell "exactly the cap" from
     * "larger", without trusting a size from stat for pipes or /proc. */
    buf = apr_palloc(tmp, cap);
    while (got < cap) {
        apr_size_t n = cap - got;

        rv = apr_file_read(f, buf + got, &n);
        got += n;
        if (rv == APR_EOF) {
            break;
        }
        if (rv != APR_SUCCESS) {
            *err = apr_psprintf(p, "cannot read JWKS file %s: %s", path,
                                apr_strerror(rv, ebuf, sizeof(ebuf)));
            goto done;
        }
    }
    if (got > JWKS_MAX_BYTES) {
        *err = apr_psprintf(p, "JWKS file %s is larger than %d bytes", path,
                            JWKS_MAX_BYTES);
        rv = APR_EINVAL;
        goto done;
    }
    /* Parse errors name the key, not the file: callers already say which
     * file they were loading. */
    rv = vip_jwks_parse(p, buf, got, out, err);
done:
    apr_pool_destroy(tmp);          /* also closes f */
    return rv;
}

int vip_jwks_count(const vip_jwks *ks)
{
    return ks != NULL ? ks->keys->nelts : 0;
}

const vip_jwk *vip_jwks_get(const vip_jwks *ks, int i)
{
    if (ks == NULL || i < 0 || i >= ks->keys->nelts) {
        return NULL;
    }
    return &APR_ARRAY_IDX(ks->keys, i, vip_jwk);
}

const vip_jwk *vip_jwks_find(const vip_jwks *ks, const char *kid)
{
    if (ks == NULL || kid == NULL) {
        return NULL;
    }
    return apr_hash_get(ks->by_kid, kid, APR_HASH_KEY_STRING);
}
