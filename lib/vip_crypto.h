/*
 * vip_crypto.h - libcrypto objects fetched once, not per request.
 *
 * With OpenSSL 3, EVP_sha256() makes EVP_Digest fetch the algorithm from
 * the provider store on every call, under the store's lock: on a busy
 * server that lock showed up as contention on the hot path.  The module
 * fetches SHA-256 once per configuration generation instead.
 */
#ifndef VIP_CRYPTO_H
#define VIP_CRYPTO_H

#include <apr_pools.h>

/* Fetch the digests; released by a cleanup on p.  Safe to call again
 * (each configuration generation does). */
apr_status_t vip_crypto_init(apr_pool_t *p);

/* SHA-256 of data[0..len) into out[32]; 1 on success.  Falls back to the
 * implicit fetch when vip_crypto_init has not run (unit tests). */
int vip_sha256(const void *data, apr_size_t len, unsigned char *out);

#endif
