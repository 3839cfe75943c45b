/*
 * fuzz_registry.c - libFuzzer harness for the tenant registry loader.
 * The input is a registry document; jwks_file references resolve against
 * a directory that does not exist, so only the JSON rules are exercised
 * (JWKS parsing has its own harness, fuzz_jwks.c).
 */
#include <stdint.h>
#include <stddef.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "auth_registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int initialized;
    apr_pool_t *p;
    vip_registry *reg;
    char *err;

    if (!initialized) {
        apr_initialize();
        initialized = 1;
    }
    apr_pool_create(&p, NULL);
    (void)vip_registry_parse(p, (const char *)data, size,
                             "/nonexistent-vip-fuzz", &reg, &err);
    apr_pool_destroy(p);
    return 0;
}
