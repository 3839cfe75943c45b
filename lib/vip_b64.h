/*
 * vip_b64.h - strict base64url (RFC 4648 section 5, no padding), as JWS
 * requires: only [A-Za-z0-9_-], no '=', no whitespace, length mod 4 != 1,
 * and the unused trailing bits of the last character must be zero so that
 * every byte string has exactly one encoding.
 */
#ifndef VIP_B64_H
#define VIP_B64_H

#include <apr_pools.h>

/* Decode in[0..len) into a NUL-terminated buffer from p.
 * Returns APR_SUCCESS, or APR_EINVAL for any non-canonical input. */
apr_status_t vip_b64url_decode(apr_pool_t *p, const char *in, apr_size_t len,
                               unsigned char **out, apr_size_t *outlen);

/* Encode without padding; result from p, NUL-terminated. */
char *vip_b64url_encode(apr_pool_t *p, const unsigned char *in,
                        apr_size_t len);

#endif
