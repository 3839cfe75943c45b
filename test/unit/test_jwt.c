/*
 * test_jwt.c - unit tests of the JWT/JWK engine (auth_jwt.c, auth_jwk.c,
 * vip_json.c, vip_b64.c) against the THREATS.md 2.1 cases.
 *
 * Keys are generated at run time (RSA 2048, EC P-256/P-384, Ed25519, a
 * random HMAC secret), published as JWKS text, and tokens are signed here
 * with EVP_DigestSign (jwt_testkit.h), so every accepted algorithm and
 * every attack is exercised end to end through the public API.  No
 * framework: one line per failed assertion, then "N passed, N failed";
 * non-zero exit on any failure.
 */
#include "jwt_testkit.h"

/* ---- the tests ---------------------------------------------------------- */

static void test_b64(void)
{
    unsigned char *out;
    apr_size_t n, len;
    unsigned char data[16];
    const char *bad[] = { "QQ=", "QQ==", "a+b_", "a/b_", "QU Q", "QUJDR",
                          "QR", "QUJ", "Q\n", "\x80QQQ" };
    const char *good[] = { "", "QQ", "QUI", "QUJD", "_-8" };
    size_t i;

    for (n = 0; n < sizeof(data); n++) {
        data[n] = (unsigned char)(0xF0 ^ (n * 37));
        for (len = 0; len <= n; len++) {
            char *e = vip_b64url_encode(gp, data, len);
            apr_size_t olen;

            if (vip_b64url_decode(gp, e, strlen(e), &out, &olen)
                    != APR_SUCCESS || olen != len
                || memcmp(out, data, len) != 0 || out[olen] != '\0') {
                check(0, "b64 round trip", "length %u", (unsigned)len);
            }
        }
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        check(vip_b64url_decode(gp, bad[i], strlen(bad[i]), &out, &n)
              == APR_EINVAL, "b64 strict", "accepted \"%s\"", bad[i]);
    }
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        check(vip_b64url_decode(gp, good[i], strlen(good[i]), &out, &n)
              == APR_SUCCESS, "b64 canonical", "refused \"%s\"", good[i]);
    }
    check(vip_b64url_decode(gp, "QQ\0Q", 4, &out, &n) == APR_EINVAL,
          "b64 NUL", "accepted an embedded NUL");
}

static void test_json(void)
{
    char deep[100];

    json_case("{\"a\":1}", NULL);
    json_case("{\"a\":[1,{\"b\":\"x:y\"}],\"c\":{}}\n", NULL);
    json_case("123", NULL);
    json_case("true", NULL);
    json_case(" [ ] ", NULL);
    json_case("{\"k\\\"\":\"v\\u00e9\"}", NULL);
    json_case("{\"a\":1,\"a\":2}", "duplicate member");
    json_case("{\"a\":{\"b\":1,\"b\":1}}", "duplicate member");
    json_case("[{\"a\":1},{\"a\":1,\"a\":1}]", "duplicate member");
    json_case("{\"a\\u0000x\":1,\"a\\u0000y\":2}", "duplicate member");
    json_case("{\"a\":1} x", "trailing data");
    json_case(",", "invalid JSON");
    json_case("]", "invalid JSON");
    json_case("{\"a\" 1}", "invalid JSON");
    json_case("{\"a\":1:2}", "invalid JSON");
    json_case("{\"a\":1} {}", "trailing data");
    json_case("{'a':1}", "invalid JSON");
    json_case("{\"a\":NaN}", "invalid JSON");
    json_case("{\"a\":Infinity}", "invalid JSON");
    json_case("{\"a\":1.}", "invalid JSON");
    json_case("{\"a\":01}", "invalid JSON");
    json_case("{\"a\":\"\t\"}", "invalid JSON");
    json_case("{\"a\":\"\\x\"}", "invalid JSON");
    json_case("{\"a\":1,}", "invalid JSON");
    json_case("/*c*/{}", "invalid JSON");
    json_case("{\"a\":\"\xff\"}", "invalid JSON");
    json_case("{\"a\":tru}", "invalid JSON");
    json_case("", "invalid JSON");
    json_case("\"abc", "invalid JSON");
    json_case("\"\\u12G4\"", "invalid JSON");
    json_case("\"\\u12", "invalid JSON");
    json_case("-", "invalid JSON");
    json_case("1e", "invalid JSON");
    json_case("1e+5", NULL);
    json_case("-0.5E-3", NULL);
    memset(deep, '[', 40);
    deep[40] = '\0';
    json_case(deep, "too deep");
    {
        json_object *o;
        const char *err;

        check(vip_json_parse(NULL, "{}\0", 3, 0, &o, &err) != APR_SUCCESS,
              "json NUL", "accepted a NUL byte");
    }
}

static void test_algs_accepted(void)
{
    int a;
    vip_jwt_identity id;
    const char *got;

    for (a = VIP_JWA_HS256; a < VIP_JWA_COUNT; a++) {
        got = run_full(tok(a, good_claims()), 4096, jwks, &pol, &id);
        check(strcmp(got, "ok") == 0, "alg accepted", "%s: %s",
              vip_jwa_name(a), got);
        if (strcmp(got, "ok") == 0) {
            check(strcmp(id.sub, "user-1") == 0
                  && strcmp(id.scopes, "read write") == 0
                  && id.tenant != NULL && strcmp(id.tenant, "tenant-a") == 0
                  && id.has_exp && id.exp == NOW + 600,
                  "identity", "%s", vip_jwa_name(a));
        }
        check(vip_jwa_from_name(vip_jwa_name(a)) == a, "jwa names", "%d", a);
    }
    check(vip_jwa_from_name("none") == VIP_JWA_NONE
          && vip_jwa_from_name("hs256") == VIP_JWA_NONE
          && vip_jwa_from_name(NULL) == VIP_JWA_NONE, "jwa none", "mapped");
    /* No kid: the only key that allows the alg is used. */
    expect("no kid RS256", sign_std("{\"alg\":\"RS256\"}", good_claims(),
                                    VIP_JWA_RS256), "ok");
    expect("no kid HS512", sign_std("{\"alg\":\"HS512\"}", good_claims(),
                                    VIP_JWA_HS512), "ok");
}

static void test_alg_attacks(void)
{
    const char *pl = good_claims();
    const char *hdrs[] = {
        "{\"alg\":\"none\"}", "{\"alg\":\"None\"}", "{\"alg\":\"nOnE\"}",
        "{\"alg\":\"NONE\",\"kid\":\"rsa1\"}", "{\"alg\":\"\"}",
        "{\"kid\":\"rsa1\"}", "{\"alg\":256}", "{\"alg\":[\"RS256\"]}",
        "{\"alg\":null}", "{\"alg\":\"rs256\",\"kid\":\"rsa1\"}",
        "{\"alg\":\"RS256 \",\"kid\":\"rsa1\"}",
        "{\"alg\":\"HS256\\u0000x\",\"kid\":\"hs1\"}",
        "{\"alg\":\"ES512\"}", "{\"alg\":\"RSA-OAEP\"}",
    };
    size_t i;
    BIO *bio;
    char *pem;
    long pemlen;
    unsigned char *der = NULL;
    int derlen;
    vip_jwks *rsa_only;

    for (i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
        expect(fmt("alg attack %s", hdrs[i]), raw3(hdrs[i], pl, "AAAA"),
               VIP_JWT_R_ALG);
    }
    /* "none" with the empty signature it normally carries. */
    expect("alg none empty sig", raw3("{\"alg\":\"none\"}", pl, ""),
           VIP_JWT_R_MALFORMED);

    /* J2: HS256 keyed with the RSA public key bytes. */
    bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, k_rsa);
    pemlen = BIO_get_mem_data(bio, &pem);
    derlen = i2d_PUBKEY(k_rsa, &der);
    expect("HS256 with RSA PEM as secret, rsa kid",
           sign_with("{\"alg\":\"HS256\",\"kid\":\"rsa1\"}", pl, VIP_JWA_HS256,
                     NULL, (unsigned char *)pem, (size_t)pemlen),
           VIP_JWT_R_ALG);
    expect("HS256 with RSA DER as secret, rsa kid",
           sign_with("{\"alg\":\"HS256\",\"kid\":\"rsa1\"}", pl, VIP_JWA_HS256,
                     NULL, der, (size_t)derlen), VIP_JWT_R_ALG);
    rsa_only = jwks_of(rsa_jwk(k_rsa, "rsa1", ""), NULL);
    expect_full("HS256 with RSA PEM as secret, no kid",
                sign_with("{\"alg\":\"HS256\"}", pl, VIP_JWA_HS256, NULL,
                          (unsigned char *)pem, (size_t)pemlen),
                4096, rsa_only, &pol, VIP_JWT_R_UNKNOWN_KID);
    expect("HS256 with RSA PEM as secret, no kid, oct in set",
           sign_with("{\"alg\":\"HS256\"}", pl, VIP_JWA_HS256, NULL,
                     (unsigned char *)pem, (size_t)pemlen),
           VIP_JWT_R_SIGNATURE);
    BIO_free(bio);
    OPENSSL_free(der);

    /* J3: alg/kty mismatch. */
    expect("RS256 with EC kid",
           sign_with("{\"alg\":\"RS256\",\"kid\":\"ec256\"}", pl,
                     VIP_JWA_RS256, k_rsa, NULL, 0), VIP_JWT_R_ALG);
    expect("ES256 with RSA kid",
           sign_with("{\"alg\":\"ES256\",\"kid\":\"rsa1\"}", pl,
                     VIP_JWA_ES256, k_ec256, NULL, 0), VIP_JWT_R_ALG);
    expect("ES384 with P-256 kid",
           sign_with("{\"alg\":\"ES384\",\"kid\":\"ec256\"}", pl,
                     VIP_JWA_ES384, k_ec384, NULL, 0), VIP_JWT_R_ALG);
    expect("EdDSA with oct kid",
           sign_with("{\"alg\":\"EdDSA\",\"kid\":\"hs1\"}", pl,
                     VIP_JWA_EDDSA, k_ed, NULL, 0), VIP_JWT_R_ALG);

    expect("RS256 with oct kid",
           sign_with("{\"alg\":\"RS256\",\"kid\":\"hs1\"}", pl,
                     VIP_JWA_RS256, k_rsa, NULL, 0), VIP_JWT_R_ALG);
    expect("HS256 with another secret",
           sign_with("{\"alg\":\"HS256\",\"kid\":\"hs1\"}", pl,
                     VIP_JWA_HS256, NULL, (const unsigned char *)
                     "another-secret-of-32-bytes-or-more", 34),
           VIP_JWT_R_SIGNATURE);
    expect("EdDSA by another key",
           sign_with("{\"alg\":\"EdDSA\",\"kid\":\"ed1\"}", pl,
                     VIP_JWA_EDDSA, k_ed2, NULL, 0), VIP_JWT_R_SIGNATURE);
    {
        /* PKCS#1 v1.5 signature presented as PS256, and PSS with a salt
         * other than the hash length: both are other encodings. */
        const char *hdr = "{\"alg\":\"PS256\",\"kid\":\"rsa1\"}";
        char *input = fmt("%s.%s", b64s(hdr), b64s(pl));
        unsigned char sig[512];
        size_t siglen = sizeof(sig);
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        EVP_PKEY_CTX *pc = NULL;

        expect("PKCS1 signature as PS256", fmt("%s.%s", input,
               sign_raw(input, VIP_JWA_RS256, k_rsa, NULL, 0, 0)),
               VIP_JWT_R_SIGNATURE);
        EVP_DigestSignInit(m, &pc, EVP_sha256(), NULL, k_rsa);
        EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING);
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_MAX);
        EVP_DigestSign(m, sig, &siglen, (const unsigned char *)input,
                       strlen(input));
        EVP_MD_CTX_free(m);
        expect("PS256 with maximal salt", fmt("%s.%s", input,
               b64(sig, siglen)), VIP_JWT_R_SIGNATURE);
    }

    /* J5: key-carrying headers are ignored, never trusted. */
    expect("embedded jwk header",
           sign_with(fmt("{\"alg\":\"RS256\",\"jwk\":%s}",
                         rsa_jwk(k_rsa2, "evil", "")), pl, VIP_JWA_RS256,
                     k_rsa2, NULL, 0), VIP_JWT_R_SIGNATURE);
    expect("jku/x5u/x5c headers",
           sign_with("{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"jku\":"
                     "\"http://127.0.0.1:9/k\","
                     "\"x5u\":\"http://127.0.0.1:9/c\","
                     "\"x5c\":[\"MIIB\"]}", pl, VIP_JWA_RS256, k_rsa2, NULL,
                     0), VIP_JWT_R_SIGNATURE);
    expect("jku with valid signature still ok",
           sign_with("{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"jku\":"
                     "\"http://127.0.0.1:9/k\"}", pl, VIP_JWA_RS256, k_rsa,
                     NULL, 0), "ok");
}

static void test_kid(void)
{
    const char *pl = good_claims();
    char big[300];

    expect("unknown kid", sign_std("{\"alg\":\"RS256\",\"kid\":\"nope\"}", pl,
                                   VIP_JWA_RS256), VIP_JWT_R_UNKNOWN_KID);
    expect("kid traversal",
           sign_std("{\"alg\":\"RS256\",\"kid\":\"../../../dev/null\"}", pl,
                    VIP_JWA_RS256), VIP_JWT_R_UNKNOWN_KID);
    expect("kid sql", sign_std("{\"alg\":\"RS256\",\"kid\":\"' OR 1=1\"}", pl,
                               VIP_JWA_RS256), VIP_JWT_R_UNKNOWN_KID);
    memset(big, 'k', 257);
    big[257] = '\0';
    expect("kid 257 bytes", sign_std(fmt("{\"alg\":\"RS256\",\"kid\":\"%s\"}",
                                         big), pl, VIP_JWA_RS256),
           VIP_JWT_R_MALFORMED);
    expect("kid NUL", sign_std("{\"alg\":\"RS256\",\"kid\":\"rsa1\\u0000x\"}",
                               pl, VIP_JWA_RS256), VIP_JWT_R_MALFORMED);
    expect("kid number", sign_std("{\"alg\":\"RS256\",\"kid\":1}", pl,
                                  VIP_JWA_RS256), VIP_JWT_R_MALFORMED);
    expect("kid object", sign_std("{\"alg\":\"RS256\",\"kid\":{}}", pl,
                                  VIP_JWA_RS256), VIP_JWT_R_MALFORMED);
    expect("kid empty", sign_std("{\"alg\":\"RS256\",\"kid\":\"\"}", pl,
                                 VIP_JWA_RS256), VIP_JWT_R_MALFORMED);
    expect("typ number", sign_std("{\"alg\":\"RS256\",\"kid\":\"rsa1\","
                                  "\"typ\":1}", pl, VIP_JWA_RS256),
           VIP_JWT_R_MALFORMED);
    {
        /* Two keys allow RS256 and the token names neither. */
        vip_jwks *two = jwks_of(fmt("%s,%s", rsa_jwk(k_rsa, "a", ""),
                                    rsa_jwk(k_rsa2, "b", "")), NULL);

        expect_full("no kid, two candidates",
                    sign_std("{\"alg\":\"RS256\"}", pl, VIP_JWA_RS256), 4096,
                    two, &pol, VIP_JWT_R_UNKNOWN_KID);
        expect_full("kid picks second key",
                    sign_with("{\"alg\":\"RS256\",\"kid\":\"b\"}", pl,
                              VIP_JWA_RS256, k_rsa2, NULL, 0), 4096, two,
                    &pol, "ok");
    }
}

static void test_time(void)
{
    vip_jwt_policy p = pol;

    expect("expired", tok(VIP_JWA_HS256, fmt("{" STD ",\"exp\":%lld}",
                                              NOW - 31)), VIP_JWT_R_EXPIRED);
    expect("exp at leeway boundary", tok(VIP_JWA_HS256,
           fmt("{" STD ",\"exp\":%lld}", NOW - 30)), VIP_JWT_R_EXPIRED);
    expect("exp one second inside leeway", tok(VIP_JWA_HS256,
           fmt("{" STD ",\"exp\":%lld}", NOW - 29)), "ok");
    expect("nbf at leeway boundary", tok(VIP_JWA_HS256,
           fmt("{" STD ",\"exp\":%lld,\"nbf\":%lld}", NOW + 600, NOW + 30)),
           "ok");
    expect("nbf beyond leeway", tok(VIP_JWA_HS256,
           fmt("{" STD ",\"exp\":%lld,\"nbf\":%lld}", NOW + 600, NOW + 31)),
           VIP_JWT_R_NOT_YET_VALID);
    expect("iat far future", tok(VIP_JWA_HS256,
           fmt("{" STD ",\"exp\":%lld,\"iat\":%lld}", NOW + 9000, NOW + 3600)),
           VIP_JWT_R_NOT_YET_VALID);
    expect("iat within leeway", tok(VIP_JWA_HS256,
           fmt("{" STD ",\"exp\":%lld,\"iat\":%lld}", NOW + 600, NOW + 30)),
           "ok");
    expect("missing exp, required", tok(VIP_JWA_HS256, "{" STD "}"),
           VIP_JWT_R_NO_EXP);
    p.require_exp = 0;
    expect_full("missing exp, not required", tok(VIP_JWA_HS256, "{" STD "}"),
                4096, jwks, &p, "ok");
    p = pol;
    p.leeway = 0;
    expect_full("leeway 0 at exp", tok(VIP_JWA_HS256,
                fmt("{" STD ",\"exp\":%lld}", NOW)), 4096, jwks, &p,
                VIP_JWT_R_EXPIRED);
    p.leeway = 100000;              /* clamped to 300 */
    expect_full("leeway clamped", tok(VIP_JWA_HS256,
                fmt("{" STD ",\"exp\":%lld}", NOW - 301)), 4096, jwks, &p,
                VIP_JWT_R_EXPIRED);

    /* J8: NumericDate must be an integer in 0..2^53. */
    {
        const char *bad[] = { "\"9999999999\"", "1.7e9", "1e400", "-1",
                              "99999999999999999999", "9007199254740993",
                              "1700000600.0", "true", "null", "[1]" };
        size_t i;

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            expect(fmt("exp %s", bad[i]), tok(VIP_JWA_HS256,
                   fmt("{" STD ",\"exp\":%s}", bad[i])), VIP_JWT_R_CLAIM);
            expect(fmt("nbf %s", bad[i]), tok(VIP_JWA_HS256,
                   fmt("{" STD ",\"exp\":%lld,\"nbf\":%s}", NOW + 60,
                       bad[i])), VIP_JWT_R_CLAIM);
        }
        expect("exp NaN", tok(VIP_JWA_HS256, "{" STD ",\"exp\":NaN}"),
               VIP_JWT_R_MALFORMED);
        expect("exp Infinity", tok(VIP_JWA_HS256,
                                   "{" STD ",\"exp\":Infinity}"),
               VIP_JWT_R_MALFORMED);
        expect("exp 2^53 ok", tok(VIP_JWA_HS256,
                                  "{" STD ",\"exp\":9007199254740992}"), "ok");
    }
}

static void test_iss_aud(void)
{
    vip_jwt_policy p = pol;
    const char *e = fmt("\"exp\":%lld", NOW + 600);

    expect("wrong iss", tok(VIP_JWA_HS256, fmt("{\"iss\":\"https://evil\","
           "\"aud\":\"api\",\"sub\":\"u\",%s}", e)), VIP_JWT_R_ISSUER);
    expect("missing iss", tok(VIP_JWA_HS256, fmt("{\"aud\":\"api\","
           "\"sub\":\"u\",%s}", e)), VIP_JWT_R_ISSUER);
    expect("iss NUL", tok(VIP_JWA_HS256, fmt("{\"iss\":\"" ISS "\\u0000x\","
           "\"aud\":\"api\",\"sub\":\"u\",%s}", e)), VIP_JWT_R_ISSUER);
    expect("iss array", tok(VIP_JWA_HS256, fmt("{\"iss\":[\"" ISS "\"],"
           "\"aud\":\"api\",\"sub\":\"u\",%s}", e)), VIP_JWT_R_ISSUER);
    expect("wrong aud", tok(VIP_JWA_HS256, fmt("{\"iss\":\"" ISS "\","
           "\"aud\":\"other\",\"sub\":\"u\",%s}", e)), VIP_JWT_R_AUDIENCE);
    expect("missing aud", tok(VIP_JWA_HS256, fmt("{\"iss\":\"" ISS "\","
           "\"sub\":\"u\",%s}", e)), VIP_JWT_R_AUDIENCE);
    expect("aud array with us", tok(VIP_JWA_HS256, fmt("{\"iss\":\"" ISS "\","
           "\"aud\":[\"x\",\"api\"],\"sub\":\"u\",%s}", e)), "ok");
    expect("aud array without us", tok(VIP_JWA_HS256, fmt("{\"iss\":\"" ISS
           "\",\"aud\":[\"x\",\"apix\"],\"sub\":\"u\",%s}", e)),
           VIP_JWT_R_AUDIENCE);
    expect("aud array with non-string", tok(VIP_JWA_HS256, fmt("{\"iss\":\""
           ISS "\",\"aud\":[\"api\",1],\"sub\":\"u\",%s}", e)),
           VIP_JWT_R_AUDIENCE);
    expect("aud prefix", tok(VIP_JWA_HS256, fmt("{\"iss\":\"" ISS "\","
           "\"aud\":\"api\\u0000x\",\"sub\":\"u\",%s}", e)),
           VIP_JWT_R_AUDIENCE);
    p.audience = NULL;
    expect_full("aud not checked", tok(VIP_JWA_HS256, fmt("{\"iss\":\"" ISS
                "\",\"sub\":\"u\",%s}", e)), 4096, jwks, &p, "ok");
}

static void test_structure(void)
{
    const char *pl = good_claims();
    char *good = tok(VIP_JWA_HS256, pl);
    char *d1 = strchr(good, '.'), *d2 = strrchr(good, '.');
    char *h = apr_pstrmemdup(gp, good, (apr_size_t)(d1 - good));
    char *p = apr_pstrmemdup(gp, d1 + 1, (apr_size_t)(d2 - d1 - 1));
    char *s = apr_pstrdup(gp, d2 + 1);
    char *other = tok(VIP_JWA_HS256, fmt("{" STD ",\"exp\":%lld}", NOW + 9));
    char *bad, *pad;
    static const char alpha[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t slen = strlen(s);

    expect("good HS256", good, "ok");
    expect("spliced signature", fmt("%s.%s.%s", h, p, strrchr(other, '.') + 1),
           VIP_JWT_R_SIGNATURE);
    expect("truncated HMAC", fmt("%s.%s.%.20s", h, p, s), VIP_JWT_R_SIGNATURE);
    expect("payload padding", fmt("%s.%s=.%s", h, p, s), VIP_JWT_R_MALFORMED);
    expect("signature padding", fmt("%s.%s.%s=", h, p, s),
           VIP_JWT_R_MALFORMED);
    bad = apr_pstrdup(gp, p);
    bad[2] = '+';
    expect("plus", fmt("%s.%s.%s", h, bad, s), VIP_JWT_R_MALFORMED);
    bad[2] = '/';
    expect("slash", fmt("%s.%s.%s", h, bad, s), VIP_JWT_R_MALFORMED);
    expect("space", fmt("%s.%.4s %s.%s", h, p, p + 4, s),
           VIP_JWT_R_MALFORMED);
    expect("trailing newline", fmt("%s\n", good), VIP_JWT_R_MALFORMED);
    pad = apr_pstrdup(gp, p);
    while (strlen(pad) % 4 != 1) {
        pad = fmt("%sA", pad);
    }
    expect("len mod 4 == 1", fmt("%s.%s.%s", h, pad, s), VIP_JWT_R_MALFORMED);
    /* 32-byte HMAC: 43 characters, the last carries 2 unused bits. */
    bad = apr_pstrdup(gp, s);
    bad[slen - 1] = alpha[(strchr(alpha, s[slen - 1]) - alpha) | 1];
    expect("non-canonical trailing bits", fmt("%s.%s.%s", h, p, bad),
           VIP_JWT_R_MALFORMED);
    expect("empty header", fmt(".%s.%s", p, s), VIP_JWT_R_MALFORMED);
    expect("empty payload", fmt("%s..%s", h, s), VIP_JWT_R_MALFORMED);
    expect("empty signature HS256", fmt("%s.%s.", h, p), VIP_JWT_R_MALFORMED);
    expect("two segments", fmt("%s.%s", h, p), VIP_JWT_R_MALFORMED);
    expect("four segments", fmt("%s.%s.%s.%s", h, p, s, s),
           VIP_JWT_R_MALFORMED);
    expect("five segments (JWE)", fmt("%s.%s.%s.%s.%s", h, p, s, s, s),
           VIP_JWT_R_MALFORMED);
    expect("empty token", "", VIP_JWT_R_MALFORMED);
    expect("no dots", "abc", VIP_JWT_R_MALFORMED);
    expect("non-JSON payload", fmt("%s.%s.%s", h, b64s("hello"), s),
           VIP_JWT_R_MALFORMED);
    expect("payload array", fmt("%s.%s.%s", h, b64s("[1]"), s),
           VIP_JWT_R_MALFORMED);
    expect("header array", raw3("[\"alg\"]", pl, s), VIP_JWT_R_MALFORMED);
    expect("payload trailing data", tok(VIP_JWA_HS256,
           fmt("%s{}", pl)), VIP_JWT_R_MALFORMED);
    expect("invalid UTF-8 claim", tok(VIP_JWA_HS256,
           fmt("{" STD ",\"exp\":%lld,\"x\":\"\xc3\x28\"}", NOW + 60)),
           VIP_JWT_R_MALFORMED);
    {
        char *big = apr_palloc(gp, 9001);

        memset(big, 'A', 9000);
        big[9000] = '\0';
        expect("oversize 9000", big, VIP_JWT_R_TOO_LARGE);
        big[4097] = '\0';
        expect("over module max 4096", big, VIP_JWT_R_TOO_LARGE);
        check(strcmp(run_full(big, 1000000, jwks, &pol, NULL),
                     VIP_JWT_R_MALFORMED) == 0, "max_len clamped",
              "4097 bytes were not decoded as a token");
        big[4097] = 'A';
        big[8999] = '\0';
        check(strcmp(run_full(big, 1000000, jwks, &pol, NULL),
                     VIP_JWT_R_TOO_LARGE) == 0, "hard size ceiling",
              "8999 bytes accepted for decoding");
    }
}

static void test_duplicates_crit(void)
{
    const char *pl = good_claims();

    expect("duplicate alg", raw3("{\"alg\":\"HS256\",\"alg\":\"none\"}", pl,
                                 "AAAA"), VIP_JWT_R_DUPLICATE);
    expect("duplicate sub", tok(VIP_JWA_HS256, fmt("{" STD ",\"exp\":%lld,"
           "\"sub\":\"admin\"}", NOW + 60)), VIP_JWT_R_DUPLICATE);
    expect("duplicate tenant", tok(VIP_JWA_HS256, fmt("{" STD ",\"exp\":%lld,"
           "\"tid\":\"a\",\"tid\":\"b\"}", NOW + 60)), VIP_JWT_R_DUPLICATE);
    expect("duplicate nested", tok(VIP_JWA_HS256, fmt("{" STD ",\"exp\":%lld,"
           "\"x\":{\"y\":1,\"y\":2}}", NOW + 60)), VIP_JWT_R_DUPLICATE);
    expect("crit [exp]", sign_std("{\"alg\":\"HS256\",\"crit\":[\"exp\"],"
                                  "\"exp\":1}", pl, VIP_JWA_HS256),
           VIP_JWT_R_CRIT);
    expect("crit [x-unknown]", sign_std("{\"alg\":\"HS256\",\"crit\":"
                                        "[\"x-unknown\"]}", pl, VIP_JWA_HS256),
           VIP_JWT_R_CRIT);
    expect("crit []", sign_std("{\"alg\":\"HS256\",\"crit\":[]}", pl,
                               VIP_JWA_HS256), VIP_JWT_R_CRIT);
    expect("crit b64", sign_std("{\"alg\":\"HS256\",\"b64\":false,"
                                "\"crit\":\"b64\"}", pl, VIP_JWA_HS256),
           VIP_JWT_R_CRIT);
}

static void test_identity(void)
{
    vip_jwt_identity id;
    const char *e = fmt("\"iss\":\"" ISS "\",\"aud\":\"api\",\"exp\":%lld",
                        NOW + 600);
    const char *bad_sub[] = { "1", "{}", "[\"u\"]", "true", "null",
                              "\"\"", "\"a\\u0000b\"", "\"a\\r\\nX-Vip: 1\"",
                              "\"a b\"", "\"caf\\u00e9\"" };
    const char *bad_tid[] = { "7", "{}", "[]", "false", "\"\"",
                              "\"tenant-a\\u0000tenant-b\"", "\"a b\"",
                              "\"a/b\"", "\"a@b\"" };
    char longs[300];
    size_t i;
    const char *got;

    for (i = 0; i < sizeof(bad_sub) / sizeof(bad_sub[0]); i++) {
        expect(fmt("sub %s", bad_sub[i]), tok(VIP_JWA_HS256,
               fmt("{%s,\"sub\":%s}", e, bad_sub[i])), VIP_JWT_R_CLAIM);
    }
    expect("sub missing", tok(VIP_JWA_HS256, fmt("{%s}", e)), VIP_JWT_R_CLAIM);
    memset(longs, 'a', 257);
    longs[257] = '\0';
    expect("sub 257", tok(VIP_JWA_HS256, fmt("{%s,\"sub\":\"%s\"}", e,
                                             longs)), VIP_JWT_R_CLAIM);
    longs[256] = '\0';
    expect("sub 256", tok(VIP_JWA_HS256, fmt("{%s,\"sub\":\"%s\"}", e,
                                             longs)), "ok");
    got = run_full(tok(VIP_JWA_HS256, fmt("{%s,\"sub\":\"svc:a.b_c+d|e@x-1\"}",
                                          e)), 4096, jwks, &pol, &id);
    check(strcmp(got, "ok") == 0 && strcmp(id.sub, "svc:a.b_c+d|e@x-1") == 0
          && strcmp(id.scopes, "") == 0 && id.tenant == NULL, "sub chars",
          "%s", got);

    for (i = 0; i < sizeof(bad_tid) / sizeof(bad_tid[0]); i++) {
        expect(fmt("tenant %s", bad_tid[i]), tok(VIP_JWA_HS256,
               fmt("{%s,\"sub\":\"u\",\"tid\":%s}", e, bad_tid[i])),
               VIP_JWT_R_CLAIM);
    }
    memset(longs, 't', 65);
    longs[65] = '\0';
    expect("tenant 65", tok(VIP_JWA_HS256, fmt("{%s,\"sub\":\"u\","
           "\"tid\":\"%s\"}", e, longs)), VIP_JWT_R_CLAIM);
    {
        vip_jwt_policy p = pol;

        p.tenant_claim = NULL;
        expect_full("tenant claim not configured", tok(VIP_JWA_HS256,
                    fmt("{%s,\"sub\":\"u\",\"tid\":7}", e)), 4096, jwks, &p,
                    "ok");
    }

    /* Scopes. */
    got = run_full(tok(VIP_JWA_HS256, fmt("{%s,\"sub\":\"u\",\"scp\":"
                   "[\"orders:read\",\"a.b\"]}", e)), 4096, jwks, &pol, &id);
    check(strcmp(got, "ok") == 0 && strcmp(id.scopes, "orders:read a.b") == 0,
          "scp array", "%s", got);
    got = run_full(tok(VIP_JWA_HS256, fmt("{%s,\"sub\":\"u\",\"scp\":"
                   "\"x  y \"}", e)), 4096, jwks, &pol, &id);
    check(strcmp(got, "ok") == 0 && strcmp(id.scopes, "x y") == 0,
          "scp string", "%s", got);
    got = run_full(tok(VIP_JWA_HS256, fmt("{%s,\"sub\":\"u\",\"scope\":"
                   "\"a b\",\"scp\":[\"c\"]}", e)), 4096, jwks, &pol, &id);
    check(strcmp(got, "ok") == 0 && strcmp(id.scopes, "a b") == 0,
          "scope wins over scp", "%s", got);
    {
        const char *bad[] = {
            "\"scope\":[\"a\"]", "\"scope\":1", "\"scope\":\"a\\\"b\"",
            "\"scope\":\"a\\\\b\"", "\"scope\":\"a\\tb\"",
            "\"scope\":\"a\\u0000b\"", "\"scope\":\"a\\r\\nb\"",
            "\"scp\":[\"a b\"]", "\"scp\":[1]", "\"scp\":[\"\"]",
            "\"scp\":{}", "\"scope\":null",
        };
        char *many = "";
        char *longsc;

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            expect(fmt("scope %s", bad[i]), tok(VIP_JWA_HS256,
                   fmt("{%s,\"sub\":\"u\",%s}", e, bad[i])), VIP_JWT_R_CLAIM);
        }
        for (i = 0; i < 65; i++) {
            many = fmt("%s%ss%u", many, i ? " " : "", (unsigned)i);
        }
        expect("65 scopes", tok(VIP_JWA_HS256, fmt("{%s,\"sub\":\"u\","
               "\"scope\":\"%s\"}", e, many)), VIP_JWT_R_CLAIM);
        *strrchr(many, ' ') = '\0';
        expect("64 scopes", tok(VIP_JWA_HS256, fmt("{%s,\"sub\":\"u\","
               "\"scope\":\"%s\"}", e, many)), "ok");
        longsc = apr_palloc(gp, 130);
        memset(longsc, 's', 129);
        longsc[129] = '\0';
        expect("scope 129 bytes", tok(VIP_JWA_HS256, fmt("{%s,\"sub\":\"u\","
               "\"scope\":\"%s\"}", e, longsc)), VIP_JWT_R_CLAIM);
    }
}

static void test_ecdsa_forms(void)
{
    const char *hdr = "{\"alg\":\"ES256\",\"kid\":\"ec256\"}";
    const char *pl = good_claims();
    char *input = fmt("%s.%s", b64s(hdr), b64s(pl));
    unsigned char z[96];
    char *good = sign_with(hdr, pl, VIP_JWA_ES256, k_ec256, NULL, 0);
    unsigned char *raw;
    apr_size_t rawlen;

    memset(z, 0, sizeof(z));
    expect("ES256 raw", good, "ok");
    expect("ES256 DER signature", fmt("%s.%s", input,
           sign_raw(input, VIP_JWA_ES256, k_ec256, NULL, 0, 1)),
           VIP_JWT_R_SIGNATURE);
    expect("ES256 r=s=0", fmt("%s.%s", input, b64(z, 64)),
           VIP_JWT_R_SIGNATURE);
    expect("ES256 63 bytes", fmt("%s.%s", input, b64(z, 63)),
           VIP_JWT_R_SIGNATURE);
    expect("ES256 96 bytes", fmt("%s.%s", input, b64(z, 96)),
           VIP_JWT_R_SIGNATURE);
    vip_b64url_decode(gp, strrchr(good, '.') + 1,
                      strlen(strrchr(good, '.') + 1), &raw, &rawlen);
    memset(raw, 0, 32);
    expect("ES256 r=0", fmt("%s.%s", input, b64(raw, rawlen)),
           VIP_JWT_R_SIGNATURE);
    expect("Ed25519 short", fmt("%s.%s", fmt("%s.%s",
           b64s("{\"alg\":\"EdDSA\",\"kid\":\"ed1\"}"), b64s(pl)), b64(z, 63)),
           VIP_JWT_R_SIGNATURE);
}

static void test_nesting(void)
{
    char *deep = apr_palloc(gp, 10001);

    memset(deep, '[', 10000);
    deep[10000] = '\0';
    expect("10000 [ payload", raw3("{\"alg\":\"HS256\"}", deep, "AAAA"),
           VIP_JWT_R_TOO_LARGE);
    deep[3000] = '\0';
    expect("3000 [ payload", raw3("{\"alg\":\"HS256\"}", deep, "AAAA"),
           VIP_JWT_R_MALFORMED);
    expect("3000 [ header", fmt("%s.%s.AAAA", b64s(deep), b64s("{}")),
           VIP_JWT_R_MALFORMED);
}

static void test_jwks(void)
{
    const char *y;
    char *ecbad, *err = NULL, *path;
    unsigned char small[16];
    vip_jwks *ks;
    const vip_jwk *k;
    FILE *f;
    int n;
    char *ec = ec_jwk(k_ec256, "e", "");

    memset(small, 7, sizeof(small));
    jwks_reject("RSA 1024", rsa_jwk(k_rsa1024, "r1024", ""), "1024 bits");
    /* Flip one bit of y: the point leaves the curve. */
    y = strstr(ec, "\"y\":\"") + 5;
    ecbad = apr_pstrdup(gp, ec);
    ecbad[y - ec] = ecbad[y - ec] == 'A' ? 'B' : 'A';
    jwks_reject("EC point off curve", ecbad, "not on the curve");
    jwks_reject("use enc", rsa_jwk(k_rsa, "r", ",\"use\":\"enc\""), "use");
    jwks_reject("duplicate kid", fmt("%s,%s", rsa_jwk(k_rsa, "same", ""),
                                     rsa_jwk(k_rsa2, "same", "")),
                "key 1 (kid \"same\"): duplicate kid");
    jwks_reject("oct 16 bytes", oct_jwk(small, 16, "o", ""), "16 bytes");
    jwks_reject("RSA with ES256", rsa_jwk(k_rsa, "r", ",\"alg\":\"ES256\""),
                "does not fit");
    jwks_reject("oct with RS256", oct_jwk(hmac_key, 64, "o",
                                          ",\"alg\":\"RS256\""),
                "does not fit");
    jwks_reject("P-256 with ES384", ec_jwk(k_ec256, "e",
                                           ",\"alg\":\"ES384\""),
                "does not fit");
    jwks_reject("HS512 with 32-byte secret", oct_jwk(hmac_key, 32, "o",
                ",\"alg\":\"HS512\""), "shorter than the hash");
    jwks_reject("alg none", rsa_jwk(k_rsa, "r", ",\"alg\":\"none\""),
                "unsupported \"alg\"");
    jwks_reject("unknown kty", "{\"kty\":\"DSA\",\"kid\":\"d\"}", "kty");
    jwks_reject("missing kty", "{\"kid\":\"d\"}", "kty");
    jwks_reject("P-521", "{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"AA\","
                "\"y\":\"AA\"}", "curve");
    jwks_reject("X25519", "{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"AA\"}",
                "curve");
    jwks_reject("RSA private d", rsa_jwk(k_rsa, "r", ",\"d\":\"AQAB\""),
                "private key member \"d\"");
    jwks_reject("EC private d", ec_jwk(k_ec256, "e", ",\"d\":\"AQAB\""),
                "private key member");
    jwks_reject("kid control char", oct_jwk(hmac_key, 64, "a\\nb", ""),
                "kid");
    jwks_reject("key_ops sign only", rsa_jwk(k_rsa, "r",
                ",\"key_ops\":[\"sign\"]"), "key_ops");
    jwks_reject("n padded base64", "{\"kty\":\"RSA\",\"n\":\"AQ==\","
                "\"e\":\"AQAB\"}", "base64url");
    jwks_reject("second key bad", fmt("%s,%s", rsa_jwk(k_rsa, "ok", ""),
                                      oct_jwk(small, 16, "short", "")),
                "key 1 (kid \"short\")");
    jwks_reject("empty keys", "", "1..100 keys");
    jwks_reject("RSA even e", fmt("{\"kty\":\"RSA\",\"n\":\"%s\","
                                  "\"e\":\"Ag\"}", bn_param_b64(k_rsa,
                                  OSSL_PKEY_PARAM_RSA_N, 0)), "exponent");
    jwks_reject("RSA e=1", fmt("{\"kty\":\"RSA\",\"n\":\"%s\","
                               "\"e\":\"AQ\"}", bn_param_b64(k_rsa,
                               OSSL_PKEY_PARAM_RSA_N, 0)), "exponent");
    jwks_reject("RSA without n", "{\"kty\":\"RSA\",\"e\":\"AQAB\"}",
                "\"n\" missing");
    jwks_reject("EC short x", "{\"kty\":\"EC\",\"crv\":\"P-256\","
                "\"x\":\"AQAB\",\"y\":\"AQAB\"}", "32 bytes");
    jwks_reject("EC crv number", "{\"kty\":\"EC\",\"crv\":256}", "crv");
    jwks_reject("Ed25519 short x", "{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
                "\"x\":\"AQAB\"}", "32 bytes");
    jwks_reject("key_ops string", rsa_jwk(k_rsa, "r",
                                          ",\"key_ops\":\"verify\""),
                "key_ops");
    jwks_reject("alg number", rsa_jwk(k_rsa, "r", ",\"alg\":256"),
                "\"alg\" must be a string");
    jwks_reject("key not object", "[]", "not a JSON object");

    check(vip_jwks_parse(gp, "{\"keys\":{}}", 11, &ks, &err) != APR_SUCCESS
          && ks == NULL, "jwks keys object", "accepted");
    check(vip_jwks_parse(gp, "{\"keys\":[]", 10, &ks, &err) != APR_SUCCESS,
          "jwks not JSON", "accepted");

    ks = jwks_of(fmt("%s,%s", rsa_jwk(k_rsa, "r", ",\"use\":\"sig\","
                                      "\"alg\":\"PS256\",\"key_ops\":"
                                      "[\"verify\"]"),
                     oct_jwk(hmac_key, 48, "o", "")), &err);
    check(ks != NULL && vip_jwks_count(ks) == 2, "jwks accepted", "%s",
          err ? err : "");
    if (ks != NULL) {
        k = vip_jwks_find(ks, "r");
        check(k != NULL && k->algs == (1u << VIP_JWA_PS256)
              && strcmp(k->kty, "RSA") == 0 && k->pkey != NULL,
              "jwk alg narrows", "algs %x", k ? k->algs : 0);
        k = vip_jwks_find(ks, "o");
        check(k != NULL && k->algs == ((1u << VIP_JWA_HS256)
                                       | (1u << VIP_JWA_HS384))
              && k->secret_len == 48, "oct algs by length", "algs %x",
              k ? k->algs : 0);
        check(vip_jwks_find(ks, "x") == NULL && vip_jwks_find(ks, NULL) == NULL
              && vip_jwks_get(ks, 2) == NULL && vip_jwks_get(ks, 0) != NULL,
              "jwks lookups", "wrong");
        expect_full("RS256 refused by PS256-only key",
                    sign_with("{\"alg\":\"RS256\",\"kid\":\"r\"}",
                              good_claims(), VIP_JWA_RS256, k_rsa, NULL, 0),
                    4096, ks, &pol, VIP_JWT_R_ALG);
        expect_full("HS512 refused by 48-byte secret",
                    sign_with("{\"alg\":\"HS512\",\"kid\":\"o\"}",
                              good_claims(), VIP_JWA_HS512, NULL, hmac_key,
                              48), 4096, ks, &pol, VIP_JWT_R_ALG);
        expect_full("HS384 with 48-byte secret",
                    sign_with("{\"alg\":\"HS384\",\"kid\":\"o\"}",
                              good_claims(), VIP_JWA_HS384, NULL, hmac_key,
                              48), 4096, ks, &pol, "ok");
    }

    path = fmt("/tmp/test_jwt_%ld.json", (long)getpid());
    f = fopen(path, "w");
    fprintf(f, "{\"keys\":[%s]}\n", ed_jwk(k_ed, "ed"));
    fclose(f);
    check(vip_jwks_load_file(gp, path, &ks, &err) == APR_SUCCESS
          && vip_jwks_count(ks) == 1, "jwks file", "%s", err ? err : "");
    f = fopen(path, "w");
    for (n = 0; n < 1100; n++) {
        fprintf(f, "%01023d\n", 0);
    }
    fclose(f);
    check(vip_jwks_load_file(gp, path, &ks, &err) != APR_SUCCESS
          && err != NULL && strstr(err, "larger than") != NULL,
          "jwks file over 1 MiB", "%s", err ? err : "(none)");
    {
        char *huge = apr_pcalloc(gp, 1024 * 1024 + 2);

        check(vip_jwks_parse(gp, huge, 1024 * 1024 + 1, &ks, &err)
              != APR_SUCCESS && strstr(err, "larger than") != NULL,
              "jwks text over 1 MiB", "%s", err ? err : "(none)");
    }
    unlink(path);
    check(vip_jwks_load_file(gp, path, &ks, &err) != APR_SUCCESS
          && err != NULL && strstr(err, path) != NULL, "jwks missing file",
          "%s", err ? err : "(none)");
}

int main(void)
{
    char *err = NULL;

    apr_initialize();
    apr_pool_create(&gp, NULL);
    k_rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    k_rsa2 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    k_rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    k_ec256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    k_ec384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    k_ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    k_ed2 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!k_rsa || !k_rsa2 || !k_rsa1024 || !k_ec256 || !k_ec384 || !k_ed
        || !k_ed2
        || RAND_bytes(hmac_key, sizeof(hmac_key)) != 1) {
        fprintf(stderr, "key generation failed\n");
        return 2;
    }
    jwks = jwks_of(fmt("%s,%s,%s,%s,%s", rsa_jwk(k_rsa, "rsa1", ""),
                       ec_jwk(k_ec256, "ec256", ""),
                       ec_jwk(k_ec384, "ec384", ""), ed_jwk(k_ed, "ed1"),
                       oct_jwk(hmac_key, sizeof(hmac_key), "hs1", "")), &err);
    if (jwks == NULL) {
        fprintf(stderr, "standard JWKS refused: %s\n", err);
        return 2;
    }
    pol.now = NOW;
    pol.leeway = 30;
    pol.require_exp = 1;
    pol.issuer = ISS;
    pol.audience = "api";
    pol.tenant_claim = "tid";

    test_b64();
    test_json();
    test_algs_accepted();
    test_alg_attacks();
    test_kid();
    test_time();
    test_iss_aud();
    test_structure();
    test_duplicates_crit();
    test_identity();
    test_ecdsa_forms();
    test_nesting();
    test_jwks();

    EVP_PKEY_free(k_rsa);
    EVP_PKEY_free(k_rsa2);
    EVP_PKEY_free(k_rsa1024);
    EVP_PKEY_free(k_ec256);
    EVP_PKEY_free(k_ec384);
    EVP_PKEY_free(k_ed);
    EVP_PKEY_free(k_ed2);
    apr_pool_destroy(gp);
    apr_terminate();
    printf("%d passed, %d failed\n", npass, nfail);
    return nfail ? 1 : 0;
}
