/*
 * fuzz_jwt.c - libFuzzer harness: the input is a bearer token.
 *
 * Drives the whole per-request path of auth_jwt.c: vip_jwt_parse, then
 * vip_jwt_verify_sig against a fixed key set (one RSA, one EC P-256, one
 * oct key; the seed corpus in corpus/jwt/ holds tokens really signed by
 * them), then vip_jwt_check_claims.  The claim checks run even when the
 * signature fails, and inputs holding a NUL byte are a second, JSON-level
 * form (see json_pair_token), because a fuzzer cannot forge signatures
 * and would otherwise rarely reach the claims with mutated JSON.  Each input gets its
 * own pool, destroyed at the end, so LeakSanitizer sees any json-c or
 * libcrypto object whose cleanup was not registered.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "auth_jwt.h"
#include "vip_b64.h"

/* Public halves of the fixture keys; the private halves signed the seed
 * tokens once and are not kept. */
static const char fixture_jwks[] =
    "{\"keys\":["
    "{\"kty\":\"RSA\",\"kid\":\"rsa1\",\"e\":\"AQAB\",\"n\":\""
    "sZWVBpfklvZe4cLNAk45IPReKMFnox3kl94FctnmEspgH9HTqKWDoRZefglWlV4a"
    "SitT53wrr81tV10LZIKnXJgTDEJqwSauIcraEgjK6cUEqhwzX9IVZ0e4j6pl5D-N"
    "7ae0ozXTdtmi--Z61t2NaQRb6OpkFpc9n4msSRFFOz8u8UI3G4XcybYqyuv6fp53"
    "OV9QFhVu30O66Mx1ZdFSsxd22yAJLR-gaRz8SeEB--hsgEKI9jv9a8gSy9eINPnt"
    "ARIxMt45LhPytBnHWH6F2i2Ck4EQIktUP57RUDLbblB6pTBvkKLvUfHYh30h86Uu"
    "Vca8eGXrdm3IFjgW3OQqEw"
    "\"},"
    "{\"kty\":\"EC\",\"kid\":\"ec1\",\"crv\":\"P-256\","
    "\"x\":\"OMwTLr6ga0fkNIhFc_Z7a_DYXD1zckEa6gtvVmA9Nmk\","
    "\"y\":\"BPhLdV9fKe0BmXerhQXwh-OPfVw_C9d1HQt1uUw6ogs\"},"
    "{\"kty\":\"oct\",\"kid\":\"hs1\","
    "\"k\":\"ZnV6ei1maXh0dXJlLXNlY3JldC0wMTIzNDU2Nzg5YWI\"}"
    "]}";

/* Built once per process: libFuzzer gives no init hook without
 * LLVMFuzzerInitialize, and the replay driver calls only the entry. */
static apr_pool_t *root;
static vip_jwks *keys;

static void fixture_init(void)
{
    char *err = NULL;

    apr_initialize();
    /* APR pools may live in mmap()ed memory that LeakSanitizer does not
     * scan, so the fixture keys would look leaked at exit unless the
     * pools are really destroyed. */
    atexit(apr_terminate);
    apr_pool_create(&root, NULL);
    if (vip_jwks_parse(root, fixture_jwks, sizeof(fixture_jwks) - 1, &keys,
                       &err) != APR_SUCCESS) {
        abort();                    /* the fixture itself is broken */
    }
}

/* The three stages, as mod_vip_auth runs them, plus the invariants on
 * what it would forward. */
static void run_token(apr_pool_t *p, const char *tok, size_t len)
{
    vip_jwt *t = NULL;
    vip_jwt_identity id;
    const char *reason = NULL;
    vip_jwt_policy pol = {
        .now = 1700000000, .leeway = 60, .require_exp = 1,
        .issuer = "https://idp.example", .audience = "api",
        .tenant_claim = "tid",
    };

    if (vip_jwt_parse(p, tok, len, 4096, &t, &reason) != APR_SUCCESS) {
        if (reason == NULL || t != NULL) {
            abort();
        }
        return;
    }
    if (t == NULL || reason != NULL) {
        abort();
    }
    if (vip_jwt_verify_sig(t, keys, &reason) != APR_SUCCESS
        && reason == NULL) {
        abort();
    }
    if (vip_jwt_check_claims(p, t, &pol, &id, &reason) == APR_SUCCESS) {
        /* What mod_vip_auth forwards must never hold CR, LF or NUL. */
        if (strlen(id.sub) == 0 || strpbrk(id.sub, "\r\n ")
            || strpbrk(id.scopes, "\r\n")
            || (id.tenant && strpbrk(id.tenant, "\r\n "))) {
            abort();
        }
    }
    else if (reason == NULL) {
        abort();
    }
}

/* Second input form: "<header JSON> NUL <payload JSON>".  A token never
 * holds a NUL, so the forms cannot be confused.  The harness encodes both
 * parts and signs them with the fixture's HS256 key, so mutations of the
 * JSON itself reach the header rules and the claim checks on tokens whose
 * signature verifies, instead of dying in base64url. */
static char *json_pair_token(apr_pool_t *p, const uint8_t *data, size_t size,
                             const uint8_t *nul, size_t *len)
{
    const vip_jwk *k = vip_jwks_find(keys, "hs1");
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t maclen = 0;
    char *input, *tok;

    input = apr_pstrcat(p, vip_b64url_encode(p, data, (size_t)(nul - data)),
                        ".", vip_b64url_encode(p, nul + 1,
                                               size - (size_t)(nul - data)
                                               - 1), NULL);
    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, k->secret,
                  k->secret_len, (const unsigned char *)input, strlen(input),
                  mac, sizeof(mac), &maclen) == NULL) {
        abort();
    }
    tok = apr_pstrcat(p, input, ".", vip_b64url_encode(p, mac, maclen),
                      NULL);
    *len = strlen(tok);
    return tok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    const uint8_t *nul = memchr(data, '\0', size);

    if (root == NULL) {
        fixture_init();
    }
    apr_pool_create(&p, root);
    if (nul != NULL) {
        size_t len;
        char *tok = json_pair_token(p, data, size, nul, &len);

        run_token(p, tok, len);
    }
    else {
        run_token(p, (const char *)data, size);
    }
    apr_pool_destroy(p);
    return 0;
}
