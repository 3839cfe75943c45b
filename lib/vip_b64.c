/*
 * vip_b64.c - strict base64url codec (RFC 4648 section 5, unpadded).
 *
 * The signature segment of a JWS is not itself signed, so a lenient
 * decoder lets anyone respell a valid token (padding, '+' and '/',
 * whitespace, flipped unused trailing bits) into a different string that
 * still verifies, defeating token caches, replay lists and logs keyed on
 * the token text.  This file owns the one canonical spelling: anything but
 * [A-Za-z0-9_-], a length of 1 mod 4, or non-zero unused trailing bits is
 * refused.  It decodes directly instead of translating to the standard
 * alphabet for EVP_DecodeBlock, which pads its output with
 * zero bytes and would need the same validation anyway.
 */
#include <apr_strings.h>

#include "vip_b64.h"

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Value of a base64url character, -1 for every other byte (including
 * '=', '+', '/', whitespace and NUL). */
static int b64url_sextet(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '-') {
        return 62;
    }
    if (c == '_') {
        return 63;
    }
    return -1;
}

apr_status_t vip_b64url_decode(apr_pool_t *p, const char *in, apr_size_t len,
                               unsigned char **out, apr_size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    unsigned char *buf;
    apr_size_t i, o = 0, rem;
    apr_uint32_t acc = 0;
    int bits = 0;

    *out = NULL;
    *outlen = 0;
    if (in == NULL && len != 0) {
        return APR_EINVAL;
    }
    rem = len % 4;
    if (rem == 1) {
        /* One character carries only 6 bits: never a whole byte. */
        return APR_EINVAL;
    }
    buf = apr_palloc(p, (len / 4) * 3 + (rem ? rem - 1 : 0) + 1);
    for (i = 0; i < len; i++) {
        int v = b64url_sextet(s[i]);

        if (v < 0) {
            return APR_EINVAL;
        }
        acc = (acc << 6) | (apr_uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* Leftover bits (2 or 4) must be zero, or two spellings would decode
     * to the same bytes. */
    if (acc != 0) {
        return APR_EINVAL;
    }
    buf[o] = '\0';
    *out = buf;
    *outlen = o;
    return APR_SUCCESS;
}

char *vip_b64url_encode(apr_pool_t *p, const unsigned char *in,
                        apr_size_t len)
{
    char *out = apr_palloc(p, (len / 3) * 4 + 4 + 1);
    apr_size_t i, o = 0;

    for (i = 0; i + 2 < len; i += 3) {
        apr_uint32_t v = ((apr_uint32_t)in[i] << 16)
                         | ((apr_uint32_t)in[i + 1] << 8) | in[i + 2];

        out[o++] = b64url_alphabet[(v >> 18) & 63];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
        out[o++] = b64url_alphabet[(v >> 6) & 63];
        out[o++] = b64url_alphabet[v & 63];
    }
    if (len - i == 1) {
        apr_uint32_t v = (apr_uint32_t)in[i] << 16;

        out[o++] = b64url_alphabet[(v >> 18) & 63];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
    }
    else if (len - i == 2) {
        apr_uint32_t v = ((apr_uint32_t)in[i] << 16)
                         | ((apr_uint32_t)in[i + 1] << 8);

        out[o++] = b64url_alphabet[(v >> 18) & 63];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
        out[o++] = b64url_alphabet[(v >> 6) & 63];
    }
    out[o] = '\0';
    return out;
}
