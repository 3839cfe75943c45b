/*
 * test_cache_pure.c - unit tests of mod_vip_cache's pure engines: keys
 * and query canonicalisation (THREATS C3, C15), the entry codec (corrupt,
 * truncated and foreign entries), the Cache-Control parser and the store
 * policy (C5-C14); and a measurement of the entry checksum against
 * SHA-256 on a 20 KB page.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "vip_crypto.h"
#include "cache_entry.h"
#include "cache_key.h"
#include "cache_policy.h"

#include "unit.h"

static apr_pool_t *pool;

static apr_array_header_t *list(const char *csv)
{
    apr_array_header_t *a = apr_array_make(pool, 2, sizeof(const char *));
    char *last, *tok, *s = apr_pstrdup(pool, csv);

    for (tok = apr_strtok(s, ",", &last); tok;
         tok = apr_strtok(NULL, ",", &last)) {
        APR_ARRAY_PUSH(a, const char *) = tok;
    }
    return a;
}

static int streq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* ---- query and key ---------------------------------------------------- */

static void test_query(void)
{
    apr_array_header_t *ign = list("utm_*,fbclid");

    CHECK(streq(vip_cache_query(pool, "b=2&a=1", NULL), "a=1&b=2"), "sorted");
    CHECK(streq(vip_cache_query(pool, "a=2&b=1&a=1", NULL), "a=2&a=1&b=1"),
          "stable: duplicates keep their order");
    CHECK(!streq(vip_cache_query(pool, "a=1&a=2", NULL),
                 vip_cache_query(pool, "a=2&a=1", NULL)),
          "duplicates in another order differ");
    CHECK(streq(vip_cache_query(pool, "a=1;b=2", NULL), "a=1;b=2"),
          "';' is not a separator (parameter cloaking)");
    CHECK(streq(vip_cache_query(pool, "x=a%26b&c=1", NULL), "c=1&x=a%26b"),
          "%26 stays inside its value");
    CHECK(streq(vip_cache_query(pool, "utm_source=x&q=1&fbclid=9&utm_=2", ign),
                "q=1"), "ignored parameters removed (prefix and exact)");
    CHECK(streq(vip_cache_query(pool, "utm_source=x", ign), NULL),
          "only ignored parameters: no query");
    CHECK(streq(vip_cache_query(pool, "fbclidx=1", ign), "fbclidx=1"),
          "exact name is not a prefix");
    CHECK(streq(vip_cache_query(pool, "utm;x=1&q", ign), "q&utm;x=1"),
          "the name ends at '=', not at ';'");
    CHECK(streq(vip_cache_query(pool, "&&a=1&&", NULL), "a=1"),
          "empty pieces dropped");
    CHECK(streq(vip_cache_query(pool, "", NULL), NULL), "empty query");
    CHECK(streq(vip_cache_query(pool, "ab=1&a=2", NULL), "a=2&ab=1"),
          "shorter name first");
}

static const char *hdr_get(void *ctx, const char *name)
{
    apr_table_t *t = ctx;
    return apr_table_get(t, name);
}

static void test_key(void)
{
    vip_cache_key_in in = { "GET", "http", "localhost|localhost", 80,
                            "/a/b", "a=1", "public" };
    vip_cache_key_in x;
    char *m = vip_cache_key_material(pool, &in), *k = vip_cache_key_hash(pool, m);
    apr_array_header_t *names = apr_array_make(pool, 2, sizeof(const char *));
    apr_table_t *h1 = apr_table_make(pool, 2), *h2 = apr_table_make(pool, 2);
    int i, ok = 1;

    CHECK(k && strlen(k) == VIP_CACHE_KEY_LEN
          && strncmp(k, "vip:1:", 6) == 0, "key shape vip:1:<64 hex>");
    for (i = 6; k && k[i]; i++) {
        ok &= (k[i] >= '0' && k[i] <= '9') || (k[i] >= 'a' && k[i] <= 'f');
    }
    CHECK(ok, "key is hex only (C15)");
    x = in;
    x.method = "HEAD";
    CHECK(streq(vip_cache_key_hash(pool, vip_cache_key_material(pool, &x)), k),
          "HEAD uses GET's key");
    x = in;
    x.scope = "t:acme";
    CHECK(!streq(vip_cache_key_hash(pool, vip_cache_key_material(pool, &x)), k),
          "tenant scope changes the key");
    x = in;
    x.path = "/a/b\r\nset x 0 0 1";
    m = vip_cache_key_hash(pool, vip_cache_key_material(pool, &x));
    CHECK(m && !strpbrk(m, " \r\n") && strlen(m) == VIP_CACHE_KEY_LEN,
          "CR/LF/space in the path never reach the key");
    /* length prefixes: moving bytes between fields changes the key */
    x = in;
    x.path = "/a";
    x.query = "b\n1:a=1";
    CHECK(!streq(vip_cache_key_hash(pool, vip_cache_key_material(pool, &x)), k),
          "fields cannot pose as each other");
    x = in;
    x.query = NULL;
    {
        vip_cache_key_in y = in;
        y.query = "";
        CHECK(!streq(vip_cache_key_material(pool, &x),
                     vip_cache_key_material(pool, &y)),
              "no query differs from an empty one");
    }

    /* The byte format is what entries already in memcached are keyed by:
     * the one-buffer builder writes exactly the documented material. */
    CHECK(streq(vip_cache_key_material(pool, &in),
                "vip-cache-1\n3:GET\n4:http\n19:localhost|localhost\n80\n"
                "4:/a/b\n3:a=1\n6:public\n"), "material bytes (with query)");
    x = in;
    x.method = NULL;
    x.query = NULL;
    x.port = 0;
    x.host = "";
    x.path = "/0123456789";
    CHECK(streq(vip_cache_key_material(pool, &x),
                "vip-cache-1\n0:\n4:http\n0:\n0\n11:/0123456789\n-\n"
                "6:public\n"), "material bytes (no method, query, port)");
    CHECK(vip_cache_vary_names(pool, "Accept-Encoding, accept-language,"
                               "ACCEPT-ENCODING", names) == 2
          && streq(APR_ARRAY_IDX(names, 0, const char *), "accept-encoding")
          && streq(APR_ARRAY_IDX(names, 1, const char *), "accept-language"),
          "Vary names lower-cased, sorted, unique");
    CHECK(vip_cache_vary_names(pool, "Accept, *",
                               apr_array_make(pool, 1, sizeof(char *))) < 0,
          "Vary * refused");
    CHECK(vip_cache_vary_names(pool, "Bad Name",
                               apr_array_make(pool, 1, sizeof(char *))) < 0,
          "Vary with a space inside a name refused");
    apr_table_set(h1, "Accept-Language", "fr");
    apr_table_set(h2, "Accept-Language", "de");
    m = vip_cache_key_material(pool, &in);
    CHECK(!streq(vip_cache_key_vary(pool, m, names, hdr_get, h1),
                 vip_cache_key_vary(pool, m, names, hdr_get, h2)),
          "Vary values make different keys");
    apr_table_set(h2, "Accept-Language", "fr");
    CHECK(streq(vip_cache_key_vary(pool, m, names, hdr_get, h1),
                vip_cache_key_vary(pool, m, names, hdr_get, h2)),
          "same Vary values, same key");
    apr_table_set(h2, "Accept-Encoding", "");
    CHECK(!streq(vip_cache_key_vary(pool, m, names, hdr_get, h1),
                 vip_cache_key_vary(pool, m, names, hdr_get, h2)),
          "an absent header differs from an empty one");
}

/* ---- entry codec -------------------------------------------------------- */

static vip_cache_entry sample(void)
{
    vip_cache_entry e;
    vip_entry_header *h;
    vip_entry_tag *t;

    memset(&e, 0, sizeof(e));
    e.kind = VIP_ENTRY_PAGE;
    e.status = 200;
    e.stored_at = 1700000000;
    e.fresh_until = 1700000600;
    e.stale_until = 1700000660;
    e.error_until = 1700086400;
    e.tenant_gen = 42;
    e.vary = list("accept-encoding");
    e.tags = apr_array_make(pool, 1, sizeof(vip_entry_tag));
    t = apr_array_push(e.tags);
    t->name = "product-1";
    t->gen = 7;
    e.headers = apr_array_make(pool, 2, sizeof(vip_entry_header));
    h = apr_array_push(e.headers);
    h->name = "Content-Type";
    h->value = "text/html";
    h = apr_array_push(e.headers);
    h->name = "ETag";
    h->value = "\"x\"";
    return e;
}

static void test_entry(void)
{
    vip_cache_entry e = sample(), d;
    const char *why = NULL, *body = "<html>hello</html>";
    apr_size_t len, i;
    char *buf = vip_entry_encode(pool, &e, body, strlen(body), &len);
    char *copy;
    int all = 1;

    CHECK(vip_entry_decode(pool, buf, len, &d, &why) == APR_SUCCESS,
          "round trip decodes");
    CHECK(d.kind == VIP_ENTRY_PAGE && d.status == 200
          && d.stored_at == e.stored_at && d.fresh_until == e.fresh_until
          && d.stale_until == e.stale_until && d.error_until == e.error_until
          && d.tenant_gen == 42, "fixed fields survive");
    CHECK(d.vary->nelts == 1 && streq(APR_ARRAY_IDX(d.vary, 0, const char *),
                                      "accept-encoding"), "Vary names survive");
    CHECK(d.tags->nelts == 1
          && streq(APR_ARRAY_IDX(d.tags, 0, vip_entry_tag).name, "product-1")
          && APR_ARRAY_IDX(d.tags, 0, vip_entry_tag).gen == 7, "tags survive");
    CHECK(d.headers->nelts == 2
          && streq(APR_ARRAY_IDX(d.headers, 1, vip_entry_header).value, "\"x\""),
          "headers survive");
    CHECK(d.body_len == strlen(body)
          && memcmp(buf + d.body_off, body, d.body_len) == 0, "body survives");

    for (i = 0; i < len; i++) {
        all &= vip_entry_decode(pool, buf, i, &d, &why) != APR_SUCCESS;
    }
    CHECK(all, "every truncation is refused");
    all = 1;
    copy = apr_pmemdup(pool, buf, len);
    for (i = 0; i < len; i++) {
        copy[i] ^= 0x20;
        all &= vip_entry_decode(pool, copy, len, &d, &why) != APR_SUCCESS;
        copy[i] ^= 0x20;
    }
    CHECK(all, "every flipped byte is refused");
    CHECK(vip_entry_decode(pool, "garbage", 7, &d, &why) != APR_SUCCESS
          && why, "garbage refused with a reason");
    copy[4] = 2;
    CHECK(vip_entry_decode(pool, copy, len, &d, &why) != APR_SUCCESS
          && strstr(why, "version"), "other format version refused");
    {
        vip_entry_header *h = apr_array_push(e.headers);
        h->name = "X-Evil";
        h->value = "a\r\nSet-Cookie: x=1";
        buf = vip_entry_encode(pool, &e, body, strlen(body), &len);
        CHECK(vip_entry_decode(pool, buf, len, &d, &why) != APR_SUCCESS,
              "a header value with CR/LF is refused even with a good checksum");
    }
    {
        vip_cache_entry v;
        memset(&v, 0, sizeof(v));
        v.kind = VIP_ENTRY_VARY;
        v.status = 200;
        v.vary = list("accept-language,cookie");
        buf = vip_entry_encode(pool, &v, NULL, 0, &len);
        CHECK(vip_entry_decode(pool, buf, len, &d, &why) == APR_SUCCESS
              && d.kind == VIP_ENTRY_VARY && d.vary->nelts == 2
              && d.body_len == 0, "vary entry round trip");
    }
    /* XXH64 reference values (xxhash's own test vectors) */
    CHECK(vip_xxh64("", 0) == 0xEF46DB3751D8E999ULL, "xxh64 of empty");
    CHECK(vip_xxh64("a", 1) == 0xD24EC4F1A98C6E5BULL, "xxh64 of 'a'");
    CHECK(vip_xxh64("abc", 3) == 0x44BC2CF5AD770999ULL, "xxh64 of 'abc'");
}

static double ns_per(void (*fn)(const char *, apr_size_t), const char *d,
                     apr_size_t n, int reps)
{
    struct timespec a, b;
    int i;

    clock_gettime(CLOCK_MONOTONIC, &a);
    for (i = 0; i < reps; i++) {
        fn(d, n);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    return ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / reps;
}

static volatile apr_uint64_t sink;
static void run_xxh(const char *d, apr_size_t n) { sink += vip_xxh64(d, n); }
static void run_sha(const char *d, apr_size_t n)
{
    unsigned char out[32];
    vip_sha256(d, n, out);
    sink += out[0];
}

static void measure(void)
{
    apr_size_t n = 20 * 1024, i;
    char *d = apr_palloc(pool, n);
    double x, s;

    for (i = 0; i < n; i++) {
        d[i] = (char)(i * 31);
    }
    x = ns_per(run_xxh, d, n, 2000);
    s = ns_per(run_sha, d, n, 500);
    /* A figure, not an assertion: under the sanitizers XXH64 is
     * instrumented and libcrypto is not. */
    printf("# checksum of 20 KB: XXH64 %.2f us, SHA-256 %.2f us\n",
           x / 1000, s / 1000);
}

/* ---- policy ------------------------------------------------------------ */

static vip_policy_in pin(int status, const char *cc)
{
    vip_policy_in in;

    memset(&in, 0, sizeof(in));
    in.status = status;
    in.cache_control = cc;
    in.now = 1700000000;
    in.default_ttl = 300;
    in.min_ttl = 0;
    in.max_ttl = -1;
    in.ttl_404 = 60;
    return in;
}

static void test_policy(void)
{
    vip_cc cc;
    vip_policy_in in;
    vip_policy_out out;
    static const int ok_status[] = { 200, 203, 204, 300, 301, 404, 410 };
    static const int no_status[] = { 201, 206, 302, 304, 400, 401, 403, 500,
                                     502, 503 };
    unsigned i;
    int all = 1;

    vip_cc_init(&cc);
    vip_cc_parse("public, max-age=600, s-maxage=60, stale-while-revalidate=30,"
                 " stale-if-error=86400", &cc);
    CHECK(cc.public_ && cc.max_age == 600 && cc.s_maxage == 60 && cc.swr == 30
          && cc.sie == 86400 && !cc.malformed, "full Cache-Control parsed");
    vip_cc_init(&cc);
    vip_cc_parse("no-cache=\"Set-Cookie, X-A\", MAX-AGE=5", &cc);
    CHECK(cc.no_cache && cc.max_age == 5 && !cc.malformed,
          "quoted argument with a comma; names case-insensitive");
    vip_cc_init(&cc);
    vip_cc_parse("max-age=abc", &cc);
    CHECK(cc.malformed, "bad delta-seconds is malformed");
    vip_cc_init(&cc);
    vip_cc_parse("max-age=99999999999999999999", &cc);
    CHECK(cc.max_age == VIP_CC_MAX, "huge max-age capped");
    vip_cc_init(&cc);
    vip_cc_parse("max-age=60, max-age=10", &cc);
    CHECK(cc.max_age == 10, "repeated directive: the smaller wins");
    vip_cc_init(&cc);
    vip_cc_parse("private=\"unterminated", &cc);
    CHECK(cc.malformed, "unterminated quote is malformed");

    for (i = 0; i < sizeof(ok_status) / sizeof(int); i++) {
        in = pin(ok_status[i], "max-age=100");
        vip_policy_decide(&in, &out);
        all &= out.storable;
    }
    CHECK(all, "200 203 204 300 301 404 410 storable");
    all = 1;
    for (i = 0; i < sizeof(no_status) / sizeof(int); i++) {
        in = pin(no_status[i], "max-age=100");
        vip_policy_decide(&in, &out);
        all &= !out.storable && streq(out.reason, "status");
    }
    CHECK(all, "206, 3xx redirects other than 301, 4xx, 5xx not stored (C11, C12)");

    in = pin(404, "max-age=600");
    vip_policy_decide(&in, &out);
    CHECK(out.storable && out.ttl == 60, "404 short TTL");

    in = pin(200, "s-maxage=50, max-age=600");
    vip_policy_decide(&in, &out);
    CHECK(out.ttl == 50, "s-maxage wins over max-age");
    in = pin(200, NULL);
    vip_policy_decide(&in, &out);
    CHECK(out.storable && out.ttl == 300, "default TTL when none named");
    in = pin(200, "max-age=5");
    in.min_ttl = 30;
    vip_policy_decide(&in, &out);
    CHECK(out.ttl == 30, "min TTL override");
    in = pin(200, "max-age=5000");
    in.max_ttl = 100;
    vip_policy_decide(&in, &out);
    CHECK(out.ttl == 100, "max TTL override");
    in = pin(200, "max-age=0");
    vip_policy_decide(&in, &out);
    CHECK(!out.storable, "max-age=0 not stored");

    in = pin(200, NULL);
    in.expires = "Tue, 14 Nov 2023 22:23:20 GMT";   /* now + 600 */
    in.date = "Tue, 14 Nov 2023 22:13:20 GMT";      /* now */
    vip_policy_decide(&in, &out);
    CHECK(out.storable && out.ttl == 600, "Expires - Date");
    in.expires = "0";
    vip_policy_decide(&in, &out);
    CHECK(!out.storable, "invalid Expires means expired");
    in.expires = "Fri, 01 Jan 2100 00:00:00 GMT";
    vip_policy_decide(&in, &out);
    CHECK(out.storable && out.ttl == VIP_POLICY_MAX_LIFETIME,
          "far-future Expires capped at memcached's relative expiry limit");
    in = pin(200, "max-age=31536000, stale-if-error=86400");
    vip_policy_decide(&in, &out);
    CHECK(out.storable && out.ttl == VIP_POLICY_MAX_LIFETIME && out.sie == 0,
          "a year of max-age: 30 days, stale window within them (memcached"
          " takes longer expiries as Unix times)");
    in = pin(200, "max-age=600, stale-while-revalidate=99999999");
    vip_policy_decide(&in, &out);
    CHECK(out.ttl == 600 && out.swr == VIP_POLICY_MAX_LIFETIME - 600,
          "a huge stale window is cut to the lifetime limit");

    {
        static const char *const refuse[] = { "no-store", "private",
            "no-cache", "private=\"X-A\"", "max-age=x", NULL };
        all = 1;
        for (i = 0; refuse[i]; i++) {
            in = pin(200, refuse[i]);
            vip_policy_decide(&in, &out);
            all &= !out.storable;
        }
        CHECK(all, "no-store / private / no-cache / malformed not stored (C8)");
    }
    in = pin(200, "max-age=60");
    in.surrogate_control = "no-store";
    vip_policy_decide(&in, &out);
    CHECK(!out.storable, "Surrogate-Control: no-store");
    in = pin(200, "max-age=60");
    in.vary = "Accept-Encoding, *";
    vip_policy_decide(&in, &out);
    CHECK(!out.storable && streq(out.reason, "vary-star"), "Vary: * (C5)");
    in = pin(200, "max-age=60");
    in.set_cookie = 1;
    vip_policy_decide(&in, &out);
    CHECK(!out.storable && streq(out.reason, "set-cookie"), "Set-Cookie (C6)");
    in.store_cookies = 1;
    vip_policy_decide(&in, &out);
    CHECK(out.storable, "Set-Cookie stored when configured");
    in = pin(200, "max-age=60");
    in.credentials = 1;
    vip_policy_decide(&in, &out);
    CHECK(!out.storable && streq(out.reason, "authorization"),
          "credentials without tenant scope (C7)");
    in.cache_control = "public, max-age=60";
    vip_policy_decide(&in, &out);
    CHECK(out.storable, "credentials + public is storable");
    in = pin(200, "max-age=60, stale-while-revalidate=10, stale-if-error=99");
    vip_policy_decide(&in, &out);
    CHECK(out.swr == 10 && out.sie == 99, "stale windows returned");
}

int main(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
    test_query();
    test_key();
    test_entry();
    test_policy();
    measure();
    printf("%d passed, %d failed\n", passed, failed);
    apr_pool_destroy(pool);
    apr_terminate();
    return failed ? 1 : 0;
}
