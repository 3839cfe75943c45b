/*
 * auth_apikey.h - API key verification.
 *
 * A key is "<key id>.<secret>".  The id is public and selects the
 * registry entry in O(1); the SHA-256 of the whole key is then compared in
 * constant time.  An unknown id still costs one hash and one compare, so
 * response time says nothing about which ids exist.
 */
#ifndef VIP_AUTH_APIKEY_H
#define VIP_AUTH_APIKEY_H

#include "auth_registry.h"

#define VIP_APIKEY_MAX_LEN 256

#define VIP_APIKEY_R_MALFORMED "malformed_key"
#define VIP_APIKEY_R_UNKNOWN   "unknown_key"
#define VIP_APIKEY_R_MISMATCH  "wrong_key"

/* Verify key[0..len).  On success *out is the registry entry. */
apr_status_t vip_apikey_verify(const vip_registry *reg, const char *key,
                               apr_size_t len, const vip_apikey **out,
                               const char **reason);

/* Split "<id>.<secret>" and check both parts' characters; *id_len is the
 * length of the id.  Exposed for tests. */
int vip_apikey_split(const char *key, apr_size_t len, apr_size_t *id_len);

#endif
