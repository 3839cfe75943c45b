/*
 * auth_apikey.c - verify API keys against the registry's hashes.
 *
 * SHA-256 (not a slow password hash): keys are 256-bit random secrets, so
 * a fast hash loses nothing, and a bcrypt-class hash per request would hand
 * attackers a CPU denial of service.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "vip_crypto.h"
#include "auth_apikey.h"

/* Compared against when the id is unknown; never equal to a real digest
 * in practice, and the result is discarded anyway. */
static const unsigned char dummy_hash[VIP_APIKEY_HASH_LEN] = { 0 };

static int key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

int vip_apikey_split(const char *key, apr_size_t len, apr_size_t *id_len)
{
    apr_size_t i, dot = 0;

    if (len < 3 || len > VIP_APIKEY_MAX_LEN) {
        return 0;
    }
    /* Ids may contain dots; the secret (base64url) never does, so the
     * last dot separates them. */
    for (i = 0; i < len; i++) {
        if (key[i] == '.') {
            dot = i;
        }
        else if (!key_char(key[i])) {
            return 0;
        }
    }
    if (dot == 0 || dot == len - 1 || dot > 64) {
        return 0;
    }
    *id_len = dot;
    return 1;
}

apr_status_t vip_apikey_verify(const vip_registry *reg, const char *key,
                               apr_size_t len, const vip_apikey **out,
                               const char **reason)
{
    unsigned char digest[VIP_APIKEY_HASH_LEN];
    char id[65];
    apr_size_t id_len;
    const vip_apikey *k;
    int same;

    *out = NULL;
    if (!vip_apikey_split(key, len, &id_len)) {
        *reason = VIP_APIKEY_R_MALFORMED;
        return APR_EINVAL;
    }
    memcpy(id, key, id_len);
    id[id_len] = '\0';
    k = vip_registry_apikey(reg, id);

    if (!vip_sha256(key, len, digest)) {
        *reason = VIP_APIKEY_R_MISMATCH;
        return APR_EGENERAL;
    }
    same = CRYPTO_memcmp(digest, k ? k->hash : dummy_hash,
                         VIP_APIKEY_HASH_LEN) == 0;
    if (!k) {
        *reason = VIP_APIKEY_R_UNKNOWN;
        return APR_EACCES;
    }
    if (!same) {
        *reason = VIP_APIKEY_R_MISMATCH;
        return APR_EACCES;
    }
    *out = k;
    return APR_SUCCESS;
}
