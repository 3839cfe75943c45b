/*
 * fuzz_route_path.c - libFuzzer harness for mod_vip_route's path
 * normaliser.  The input is the (already decoded) path.  Besides crashes it
 * checks the normaliser's promises, aborting on a broken one: an accepted
 * path starts with '/', has no "//" and is no longer than the input, and
 * normalising it again gives it back unchanged (idempotence: the path we
 * route on is a fixed point, so no second pass can move it elsewhere).
 */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "route_path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int initialized;
    apr_pool_t *p;
    char *out = NULL, *again = NULL;
    const char *reason = NULL;
    apr_size_t n;

    if (!initialized) {
        apr_initialize();
        initialized = 1;
    }
    apr_pool_create(&p, NULL);
    if (vip_path_normalize(p, (const char *)data, size, &out, &reason)
        == APR_SUCCESS) {
        n = strlen(out);
        if (out[0] != '/' || strstr(out, "//") || n > size || reason) {
            abort();
        }
        if (vip_path_normalize(p, out, n, &again, &reason) != APR_SUCCESS
            || strcmp(out, again) != 0) {
            abort();
        }
    }
    else if (!reason || out) {
        abort();
    }
    apr_pool_destroy(p);
    return 0;
}
