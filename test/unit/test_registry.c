/*
 * test_registry.c - unit tests of the tenant registry loader, API key
 * verification and the verified-token cache (no httpd needed).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include <openssl/evp.h>

#include "auth_apikey.h"
#include "auth_registry.h"
#include "auth_tcache.h"

#include "unit.h"

static const char *tmpdir;

static void write_file(apr_pool_t *p, const char *name, const char *text)
{
    FILE *f = fopen(apr_pstrcat(p, tmpdir, "/", name, NULL), "w");
    fputs(text, f);
    fclose(f);
}

static const char *hexsha(apr_pool_t *p, const char *key)
{
    unsigned char d[32];
    unsigned int n;
    char *hex = apr_palloc(p, 65);
    int i;

    EVP_Digest(key, strlen(key), d, &n, EVP_sha256(), NULL);
    for (i = 0; i < 32; i++) {
        sprintf(hex + 2 * i, "%02x", d[i]);
    }
    return hex;
}

/* Parse text as a registry; return the error (NULL on success). */
static const char *load(apr_pool_t *p, const char *text, vip_registry **reg)
{
    char *err = NULL;
    vip_registry *dummy;

    if (vip_registry_parse(p, text, strlen(text), tmpdir, reg ? reg : &dummy,
                           &err) == APR_SUCCESS) {
        return NULL;
    }
    return err ? err : "(no message)";
}

static void expect_error(apr_pool_t *p, const char *text, const char *needle,
                         const char *name)
{
    const char *err = load(p, text, NULL);
    int ok = err && strstr(err, needle);

    if (!ok) {
        printf("  %s: got %s\n", name, err ? err : "success");
    }
    CHECK(ok, name);
}

#define KEY1 "acme-k1.0123456789abcdefghijABCDEFGHIJ_-xyzXYZ0123"
#define KEY2 "acme-ro.zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"

static void test_good(apr_pool_t *p)
{
    vip_registry *reg = NULL;
    const char *text = apr_psprintf(p,
        "{\"version\":1,\"plans\":[\"free\",\"gold\"],"
        "\"issuers\":[{\"issuer\":\"https://auth.test\",\"audience\":\"api\","
        "\"jwks_file\":\"ec.jwks\"}],"
        "\"tenants\":[{\"id\":\"acme\",\"plan\":\"gold\","
        "\"scopes\":[\"orders:read\",\"orders:write\"],"
        "\"api_keys\":[{\"id\":\"acme-k1\",\"sha256\":\"%s\"},"
        "{\"id\":\"acme-ro\",\"sha256\":\"%s\",\"scopes\":[\"orders:read\"]}],"
        "\"jwt\":{\"issuer\":\"https://idp.acme\",\"jwks_file\":\"ec.jwks\"}},"
        "{\"id\":\"ini\",\"plan\":\"free\",\"status\":\"suspended\"}]}",
        hexsha(p, KEY1), hexsha(p, KEY2));
    const char *err = load(p, text, &reg);
    const vip_apikey *k = NULL;
    const char *reason = NULL;
    const vip_trust *t;

    if (err) {
        printf("  good registry: %s\n", err);
    }
    CHECK(err == NULL && reg, "good registry loads");
    if (!reg) {
        return;
    }
    CHECK(reg->ntenants == 2, "two tenants");
    CHECK(vip_registry_tenant(reg, "ini")->suspended, "suspended status");
    CHECK(!vip_registry_tenant(reg, "acme")->suspended, "active by default");
    t = vip_registry_trust(reg, "https://auth.test");
    CHECK(t && !t->tenant && strcmp(t->tenant_claim, "tid") == 0,
          "platform issuer with default tenant claim");
    t = vip_registry_trust(reg, "https://idp.acme");
    CHECK(t && t->tenant && strcmp(t->tenant->id, "acme") == 0
          && t->audience == NULL, "tenant issuer bound to its tenant");

    CHECK(vip_apikey_verify(reg, KEY1, strlen(KEY1), &k, &reason)
          == APR_SUCCESS && k && strcmp(k->tenant->id, "acme") == 0
          && strcmp(k->scopes, "orders:read orders:write") == 0,
          "key accepted with tenant scopes");
    CHECK(vip_apikey_verify(reg, KEY2, strlen(KEY2), &k, &reason)
          == APR_SUCCESS && strcmp(k->scopes, "orders:read") == 0,
          "key with own scopes");
    {
        char bad[] = KEY1;
        bad[sizeof(bad) - 2] ^= 1;      /* last byte of the secret */
        CHECK(vip_apikey_verify(reg, bad, strlen(bad), &k, &reason) != APR_SUCCESS
              && strcmp(reason, VIP_APIKEY_R_MISMATCH) == 0, "wrong last byte");
        strcpy(bad, KEY1);
        bad[8] ^= 1;                    /* first byte of the secret */
        CHECK(vip_apikey_verify(reg, bad, strlen(bad), &k, &reason) != APR_SUCCESS
              && strcmp(reason, VIP_APIKEY_R_MISMATCH) == 0, "wrong first byte");
        strcpy(bad, KEY1);
        bad[0] = 'b';                   /* unknown id */
        CHECK(vip_apikey_verify(reg, bad, strlen(bad), &k, &reason) != APR_SUCCESS
              && strcmp(reason, VIP_APIKEY_R_UNKNOWN) == 0, "unknown id");
    }
    CHECK(vip_apikey_verify(reg, KEY1 " ", strlen(KEY1) + 1, &k, &reason)
          != APR_SUCCESS, "trailing space refused");
    CHECK(vip_apikey_verify(reg, "", 0, &k, &reason) != APR_SUCCESS,
          "empty key refused");
    CHECK(vip_apikey_verify(reg, "acme-k1", 7, &k, &reason) != APR_SUCCESS
          && strcmp(reason, VIP_APIKEY_R_MALFORMED) == 0, "key without secret");
    CHECK(vip_apikey_verify(reg, KEY1, strlen(KEY1) - 1, &k, &reason)
          != APR_SUCCESS, "truncated key refused");
    CHECK(strcmp(vip_tenant_filter_scopes(p, vip_registry_tenant(reg, "acme"),
                 "admin orders:write x orders:read"),
                 "orders:write orders:read") == 0, "scope intersection");
    CHECK(strcmp(vip_tenant_filter_scopes(p, vip_registry_tenant(reg, "acme"),
                 ""), "") == 0, "empty scope intersection");
}

static void test_errors(apr_pool_t *p)
{
    const char *h = hexsha(p, KEY1);

    expect_error(p, "{", "not valid JSON", "invalid JSON");
    expect_error(p, "[]", "must be a JSON object", "not an object");
    expect_error(p, "{\"plans\":[\"a\"],\"tenants\":[],\"x\":1}",
                 "unknown field 'x'", "unknown top-level field");
    expect_error(p, "{\"tenants\":[]}", "'plans'", "no plans");
    expect_error(p, "{\"plans\":[\"a\",\"a\"],\"tenants\":[]}",
                 "listed twice", "duplicate plan");
    expect_error(p, "{\"plans\":[\"a\"],\"tenants\":[{\"id\":\"t\"}]}",
                 "tenant 't': missing field 'plan'", "tenant without plan");
    expect_error(p, "{\"plans\":[\"a\"],\"tenants\":[{\"id\":\"t\",\"plan\":\"b\"}]}",
                 "unknown plan 'b'", "unknown plan");
    expect_error(p, "{\"plans\":[\"a\"],\"tenants\":[{\"id\":\"t\",\"plan\":\"a\"},"
                 "{\"id\":\"t\",\"plan\":\"a\"}]}", "duplicate tenant id",
                 "duplicate tenant");
    expect_error(p, "{\"plans\":[\"a\"],\"tenants\":[{\"id\":\"t t\",\"plan\":\"a\"}]}",
                 "[A-Za-z0-9._-]", "bad tenant id");
    expect_error(p, "{\"plans\":[\"a\"],\"tenants\":[{\"id\":\"t\",\"plan\":\"a\","
                 "\"status\":\"paused\"}]}", "'status'", "bad status");
    expect_error(p, "{\"plans\":[\"a\"],\"tenants\":[{\"id\":\"t\",\"plan\":\"a\","
                 "\"stauts\":\"suspended\"}]}", "unknown field 'stauts'",
                 "typo in a field name");
    expect_error(p, apr_psprintf(p, "{\"plans\":[\"a\"],\"tenants\":[{\"id\":\"t\","
                 "\"plan\":\"a\",\"api_keys\":[{\"id\":\"k\",\"sha256\":\"%.62s\"}]}]}",
                 h), "64 lowercase hex", "hash of wrong length");
    expect_error(p, "{\"plans\":[\"a\"],\"tenants\":[{\"id\":\"t\",\"plan\":\"a\","
                 "\"api_keys\":[{\"id\":\"k\",\"sha256\":\"ZZ23456789abcdef0123456789"
                 "abcdef0123456789abcdef0123456789abcdef\"}]}]}", "hex",
                 "hash not hex");
    expect_error(p, apr_psprintf(p, "{\"plans\":[\"a\"],\"tenants\":["
                 "{\"id\":\"t\",\"plan\":\"a\",\"api_keys\":[{\"id\":\"k1\",\"sha256\":\"%s\"}]},"
                 "{\"id\":\"u\",\"plan\":\"a\",\"api_keys\":[{\"id\":\"k2\",\"sha256\":\"%s\"}]}]}",
                 h, h), "same key hash", "duplicate key hash");
    expect_error(p, apr_psprintf(p, "{\"plans\":[\"a\"],\"tenants\":["
                 "{\"id\":\"t\",\"plan\":\"a\",\"api_keys\":[{\"id\":\"k1\",\"sha256\":\"%s\"},"
                 "{\"id\":\"k1\",\"sha256\":\"%s\"}]}]}", h, hexsha(p, KEY2)),
                 "already used", "duplicate key id");
    expect_error(p, apr_psprintf(p, "{\"plans\":[\"a\"],\"tenants\":[{\"id\":\"t\","
                 "\"plan\":\"a\",\"scopes\":[\"r\"],\"api_keys\":[{\"id\":\"k\","
                 "\"sha256\":\"%s\",\"scopes\":[\"w\"]}]}]}", h),
                 "not one of the tenant's scopes", "key scope outside tenant");
    expect_error(p, "{\"plans\":[\"a\"],\"tenants\":[{\"id\":\"t\",\"plan\":\"a\","
                 "\"scopes\":[\"a b\"]}]}", "scope token", "scope with space");
    expect_error(p, "{\"plans\":[\"a\"],\"tenants\":[],\"issuers\":[{\"issuer\":"
                 "\"i\",\"jwks_file\":\"missing.jwks\"}]}", "jwks_file",
                 "missing JWKS file");
    expect_error(p, "{\"plans\":[\"a\"],\"tenants\":[],\"issuers\":[{\"issuer\":"
                 "\"i\",\"jwks_file\":\"ec.jwks\"},{\"issuer\":\"i\",\"jwks_file\":"
                 "\"ec.jwks\"}]}", "already declared", "duplicate issuer");
    expect_error(p, "{\"plans\":[\"a\"],\"tenants\":[],\"issuers\":[{\"issuer\":"
                 "\"i\",\"jwks_file\":\"rsa1024.jwks\"}]}", "jwks_file",
                 "weak key in JWKS");
    expect_error(p, "{\"plans\":[\"a\"],\"plans\":[\"b\"],\"tenants\":[]}",
                 "not valid JSON", "duplicate member");
    expect_error(p, "{\"plans\":[\"a\"],\"tenants\":[{\"id\":\"t\",\"plan\":\"a\","
                 "\"name\":\"x\\u0000y\"}]}", "non-empty string", "NUL in a string");
}

static void test_tcache(apr_pool_t *p)
{
    vip_tcache *c = NULL;
    vip_tcache_entry e;
    unsigned char h1[32], h2[32];
    char longsub[200];
    int owner, tenant;

    memset(h1, 1, sizeof(h1));
    memset(h2, 1, sizeof(h2));
    h2[31] = 2;                          /* same slot, different token */
    CHECK(vip_tcache_create(p, 0, &c) != APR_SUCCESS, "zero entries refused");
    CHECK(vip_tcache_create(p, 16, &c) == APR_SUCCESS, "cache created");
    CHECK(!vip_tcache_get(c, h1, &e), "empty cache misses");
    CHECK(vip_tcache_put(c, h1, &owner, &tenant, 1000, 1, "alice", "a b", "k1"),
          "put");
    CHECK(vip_tcache_get(c, h1, &e) && e.owner == &owner && e.tenant == &tenant
          && e.exp == 1000 && strcmp(e.sub, "alice") == 0
          && strcmp(e.scopes, "a b") == 0 && strcmp(e.kid, "k1") == 0, "hit");
    CHECK(!vip_tcache_get(c, h2, &e), "colliding slot, other token misses");
    CHECK(vip_tcache_put(c, h2, &owner, &tenant, 0, 0, "bob", "", NULL),
          "replace slot");
    CHECK(!vip_tcache_get(c, h1, &e), "replaced token misses");
    memset(longsub, 'x', sizeof(longsub) - 1);
    longsub[sizeof(longsub) - 1] = '\0';
    CHECK(!vip_tcache_put(c, h1, &owner, &tenant, 0, 0, longsub, "", NULL),
          "oversized subject not cached");
}

int main(void)
{
    apr_pool_t *p;
    char dir[] = "/tmp/vip-unit-XXXXXX";

    apr_initialize();
    apr_pool_create(&p, NULL);
    tmpdir = mkdtemp(dir);
    write_file(p, "ec.jwks", "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
               "\"kid\":\"ec1\",\"x\":\"Evmg5FtyZ_mxLvpEZXuI_ic9MDdX7nC-GHbMVphfYQ8\","
               "\"y\":\"MWVgqnumr7CcKHI1W0SBeT-L5rs47y2g62Cm4AkU4B8\"}]}");
    /* A 1024-bit modulus (128 bytes of 0xc1..) is refused at load. */
    {
        unsigned char n[128];
        memset(n, 0xc1, sizeof(n));
        n[127] |= 1;
        write_file(p, "rsa1024.jwks", apr_psprintf(p, "{\"keys\":[{\"kty\":\"RSA\","
                   "\"kid\":\"r\",\"e\":\"AQAB\",\"n\":\"%s\"}]}",
                   "wcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHB"
                   "wcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHB"
                   "wcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcE"));
    }
    test_good(p);
    test_errors(p);
    test_tcache(p);
    unlink(apr_pstrcat(p, tmpdir, "/ec.jwks", NULL));
    unlink(apr_pstrcat(p, tmpdir, "/rsa1024.jwks", NULL));
    rmdir(tmpdir);
    printf("%d passed, %d failed\n", passed, failed);
    apr_pool_destroy(p);
    apr_terminate();
    return failed ? 1 : 0;
}
