/*
 * test_apikey_ct.c - the API key check compares in constant time.
 *
 * Linked with -Wl,--wrap=CRYPTO_memcmp (see Makefile.in): every call of
 * OpenSSL's constant-time compare from vip_apikey_verify lands in the
 * wrapper below, which counts it.  The test asserts that each outcome -
 * valid key, wrong secret (first or last byte), unknown key id - makes
 * exactly one full-length constant-time compare, and that no early exit
 * skips it.  (t/auth/014_timing_smoke.t only smoke-tests the timing.)
 */
#include <stdio.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <openssl/evp.h>

#include "auth_apikey.h"
#include "auth_registry.h"

int __real_CRYPTO_memcmp(const void *a, const void *b, size_t len);
int __wrap_CRYPTO_memcmp(const void *a, const void *b, size_t len);

static int calls;
static size_t last_len;

int __wrap_CRYPTO_memcmp(const void *a, const void *b, size_t len)
{
    calls++;
    last_len = len;
    return __real_CRYPTO_memcmp(a, b, len);
}

#include "unit.h"

#define KEY "ct-k1.0123456789abcdefghijABCDEFGHIJ_-xyzXYZ0123"

static void one(const vip_registry *reg, const char *key, int expect_ok,
                const char *name)
{
    const vip_apikey *k = NULL;
    const char *reason = NULL;
    char what[160];
    apr_status_t rv;

    calls = 0;
    last_len = 0;
    rv = vip_apikey_verify(reg, key, strlen(key), &k, &reason);
    CHECK((rv == APR_SUCCESS) == expect_ok, name);
    snprintf(what, sizeof(what), "%s: exactly one constant-time compare",
             name);
    CHECK(calls == 1, what);
    snprintf(what, sizeof(what), "%s: over the whole digest", name);
    CHECK(last_len == VIP_APIKEY_HASH_LEN, what);
}

int main(void)
{
    apr_pool_t *p;
    vip_registry *reg = NULL;
    unsigned char d[32];
    unsigned int n;
    char hex[65], *err = NULL, bad[sizeof(KEY)];
    const char *text;
    int i;

    apr_initialize();
    apr_pool_create(&p, NULL);
    EVP_Digest(KEY, strlen(KEY), d, &n, EVP_sha256(), NULL);
    for (i = 0; i < 32; i++) {
        sprintf(hex + 2 * i, "%02x", d[i]);
    }
    text = apr_psprintf(p, "{\"plans\":[\"a\"],\"tenants\":[{\"id\":\"t\","
                        "\"plan\":\"a\",\"api_keys\":[{\"id\":\"ct-k1\","
                        "\"sha256\":\"%s\"}]}]}", hex);
    CHECK(vip_registry_parse(p, text, strlen(text), "/", &reg, &err)
          == APR_SUCCESS, "registry");
    if (reg) {
        one(reg, KEY, 1, "valid key");
        strcpy(bad, KEY);
        bad[6] ^= 1;
        one(reg, bad, 0, "wrong first secret byte");
        strcpy(bad, KEY);
        bad[sizeof(bad) - 2] ^= 1;
        one(reg, bad, 0, "wrong last secret byte");
        strcpy(bad, KEY);
        bad[0] = 'x';
        one(reg, bad, 0, "unknown key id");
    }
    printf("%d passed, %d failed\n", passed, failed);
    apr_pool_destroy(p);
    apr_terminate();
    return failed ? 1 : 0;
}
