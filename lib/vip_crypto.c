/*
 * vip_crypto.c - explicitly fetched libcrypto digests (see vip_crypto.h).
 */
#include <openssl/evp.h>

#include "vip_crypto.h"

static EVP_MD *sha256_md;

static apr_status_t release(void *unused)
{
    EVP_MD_free(sha256_md);
    sha256_md = NULL;
    return APR_SUCCESS;
}

apr_status_t vip_crypto_init(apr_pool_t *p)
{
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);

    if (!md) {
        return APR_EGENERAL;
    }
    release(NULL);
    sha256_md = md;
    apr_pool_cleanup_register(p, NULL, release, apr_pool_cleanup_null);
    return APR_SUCCESS;
}

int vip_sha256(const void *data, apr_size_t len, unsigned char *out)
{
    unsigned int n = 0;

    return EVP_Digest(data, len, out, &n,
                      sha256_md ? sha256_md : EVP_sha256(), NULL)
           && n == 32;
}
