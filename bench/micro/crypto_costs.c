/*
 * bench/micro/crypto_costs.c - what the libcrypto and json-c call patterns
 * used by mod_vip_auth cost, against cheaper patterns, on one core.
 * Evidence for the findings in bench/results/auth-2026-11-25.md; not part of
 * bench/run.
 *
 *   cc -O2 -I/usr/include/json-c -o /tmp/crypto_costs bench/micro/crypto_costs.c -ljson-c -lcrypto
 *   openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out /tmp/rsa.pem
 *   openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out /tmp/ec.pem
 *   taskset -c 0 /tmp/crypto_costs /tmp/rsa.pem /tmp/ec.pem
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

static double now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static EVP_PKEY *load(const char *path)
{
    FILE *f = fopen(path, "r");
    EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;

    if (f) {
        fclose(f);
    }
    if (!k) {
        fprintf(stderr, "cannot read %s\n", path);
    }
    return k;
}

/* Verify n times the way auth_jwt.c verify_pkey() does: a new context and
 * EVP_DigestVerifyInit (with implicit fetches) per token. */
static double verify_per_call(EVP_PKEY *k, const EVP_MD *md, int rsa,
                              const unsigned char *sig, size_t sl,
                              const unsigned char *msg, size_t ml, int n)
{
    double t = now();
    int i, ok = 0;

    for (i = 0; i < n; i++) {
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        EVP_PKEY_CTX *p = NULL;

        EVP_DigestVerifyInit(m, &p, md, NULL, k);
        if (rsa) {
            EVP_PKEY_CTX_set_rsa_padding(p, RSA_PKCS1_PADDING);
        }
        ok += EVP_DigestVerify(m, sig, sl, msg, ml) == 1;
        EVP_MD_CTX_free(m);
    }
    if (ok != n) {
        fprintf(stderr, "verify failed\n");
    }
    return (now() - t) / n * 1e6;
}

int main(int argc, char **argv)
{
    unsigned char buf[576], out[EVP_MAX_MD_SIZE], sig[512];
    unsigned int ol;
    size_t sl;
    const char *claims = "{\"iss\":\"https://auth.bench.test\",\"aud\":\"vip-api\","
        "\"sub\":\"user-1\",\"tid\":\"acme\",\"scope\":\"orders:read\","
        "\"exp\":1795599925,\"iat\":1795596325,\"jti\":\"bench-0\"}";
    int i, n = 200000, m = 20000, cl = (int)strlen(claims);
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA2-256", NULL);
    EVP_MD_CTX *c = EVP_MD_CTX_new(), *s, *tmpl;
    EVP_PKEY *rsa, *ec;
    EVP_PKEY_CTX *pp = NULL;
    json_tokener *tk;
    double t;

    if (argc != 3 || !(rsa = load(argv[1])) || !(ec = load(argv[2]))) {
        fprintf(stderr, "usage: %s rsa.pem ec.pem\n", argv[0]);
        return 2;
    }
    memset(buf, 'a', sizeof(buf));

    /* SHA-256 of a 576-byte RS256 token (token cache key, API key hash). */
    t = now();
    for (i = 0; i < n; i++) {
        EVP_Digest(buf, sizeof(buf), out, &ol, EVP_sha256(), NULL);
    }
    printf("SHA-256 576 B, EVP_Digest(EVP_sha256()) as the module: %6.2f us\n", (now() - t) / n * 1e6);
    t = now();
    for (i = 0; i < n; i++) {
        EVP_Digest(buf, sizeof(buf), out, &ol, md, NULL);
    }
    printf("SHA-256 576 B, EVP_Digest(md fetched once):            %6.2f us\n", (now() - t) / n * 1e6);
    t = now();
    for (i = 0; i < n; i++) {
        EVP_DigestInit_ex(c, md, NULL);
        EVP_DigestUpdate(c, buf, sizeof(buf));
        EVP_DigestFinal_ex(c, out, &ol);
    }
    printf("SHA-256 576 B, reused EVP_MD_CTX + fetched md:         %6.2f us\n", (now() - t) / n * 1e6);

    /* RS256 */
    s = EVP_MD_CTX_new();
    sl = sizeof(sig);
    EVP_DigestSignInit(s, NULL, EVP_sha256(), NULL, rsa);
    EVP_DigestSign(s, sig, &sl, buf, 300);
    printf("RS256 verify, new ctx + DigestVerifyInit per token:     %6.2f us\n",
           verify_per_call(rsa, EVP_sha256(), 1, sig, sl, buf, 300, m));
    printf("RS256 verify, same with md fetched once:                %6.2f us\n",
           verify_per_call(rsa, md, 1, sig, sl, buf, 300, m));
    tmpl = EVP_MD_CTX_new();
    EVP_DigestVerifyInit(tmpl, &pp, md, NULL, rsa);
    EVP_PKEY_CTX_set_rsa_padding(pp, RSA_PKCS1_PADDING);
    t = now();
    for (i = 0; i < m; i++) {
        EVP_MD_CTX *v = EVP_MD_CTX_new();

        EVP_MD_CTX_copy_ex(v, tmpl);
        EVP_DigestVerify(v, sig, sl, buf, 300);
        EVP_MD_CTX_free(v);
    }
    printf("RS256 verify, copy of a per-key prepared context:       %6.2f us\n", (now() - t) / m * 1e6);

    /* ES256 */
    EVP_MD_CTX_reset(s);
    sl = sizeof(sig);
    EVP_DigestSignInit(s, NULL, EVP_sha256(), NULL, ec);
    EVP_DigestSign(s, sig, &sl, buf, 300);
    printf("ES256 verify (P-256), new ctx + DigestVerifyInit:       %6.2f us\n",
           verify_per_call(ec, EVP_sha256(), 0, sig, sl, buf, 300, m / 4));

    /* json-c: a tokener per segment (as vip_json_parse) or one reused. */
    t = now();
    for (i = 0; i < n; i++) {
        json_tokener *k = json_tokener_new_ex(32);

        json_object_put(json_tokener_parse_ex(k, claims, cl));
        json_tokener_free(k);
    }
    printf("json-c parse of the claims, new tokener each:           %6.2f us\n", (now() - t) / n * 1e6);
    tk = json_tokener_new_ex(32);
    t = now();
    for (i = 0; i < n; i++) {
        json_tokener_reset(tk);
        json_object_put(json_tokener_parse_ex(tk, claims, cl));
    }
    printf("json-c parse of the claims, reused tokener:             %6.2f us\n", (now() - t) / n * 1e6);
    return 0;
}
