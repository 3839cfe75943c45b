/*
 * fuzz_jwks.c - libFuzzer harness: the input is a JWKS document.
 *
 * Drives vip_jwks_parse (and through it vip_json_parse, the base64url
 * decoder and every key builder), then walks the result.  Remote key sets
 * are attacker-reachable when the IdP or the path to it is compromised,
 * so this parser gets the same treatment as the token parser.  Each input
 * gets its own pool so LeakSanitizer sees a key whose cleanup was not
 * registered.
 */
#include <stdint.h>
#include <stdlib.h>

#include <apr_general.h>

#include "auth_jwk.h"

static apr_pool_t *root;            /* built once per process */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    vip_jwks *ks = NULL;
    char *err = NULL;
    int i, n;

    if (root == NULL) {
        apr_initialize();
        atexit(apr_terminate);      /* so LeakSanitizer sees pools freed */
        apr_pool_create(&root, NULL);
    }
    apr_pool_create(&p, root);
    if (vip_jwks_parse(p, (const char *)data, size, &ks, &err)
        == APR_SUCCESS) {
        n = vip_jwks_count(ks);
        if (ks == NULL || n < 1 || err != NULL) {
            abort();
        }
        for (i = 0; i < n; i++) {
            const vip_jwk *k = vip_jwks_get(ks, i);

            /* A loaded key always allows something, and exactly the
             * material its kty needs is present. */
            if (k == NULL || k->algs == 0 || (k->algs & 1u)
                || (k->pkey == NULL) == (k->secret == NULL)
                || (k->kid && vip_jwks_find(ks, k->kid) != k)) {
                abort();
            }
        }
    }
    else if (err == NULL || ks != NULL) {
        abort();
    }
    apr_pool_destroy(p);
    return 0;
}
