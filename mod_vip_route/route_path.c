/*
 * route_path.c - the path normaliser mod_vip_route decides on (see
 * route_path.h for the contract and the reason codes).
 *
 * httpd hands us r->uri already percent-decoded with dot-segments
 * resolved.  What is left are the spellings that httpd accepts but that an
 * upstream stack may read differently from us: ";params" that servlet
 * containers strip before resolving "..", backslashes that some stacks
 * treat as '/', overlong UTF-8 dots, and a second round of percent
 * decoding.  Rather than guess how each upstream resolves them, such paths
 * are refused, so the path we route on is the path the upstream sees.
 * The only rewrite is merging runs of '/', which every stack agrees on.
 *
 * One pass over the input, no allocation other than the output: this runs
 * on every routed request.
 */
#include <string.h>

#include <apr_strings.h>

#include "vip_config.h"
#include "route_path.h"

/*
 * Length of the valid UTF-8 sequence at s (n bytes available, s[0] >=
 * 0x80), or 0 when it is invalid: overlong forms (C0 AE is an overlong
 * '.'), surrogates, code points above U+10FFFF, truncated sequences.
 * The ranges are those of RFC 3629, section 4.
 */
static apr_size_t utf8_len(const unsigned char *s, apr_size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    apr_size_t need, i;

    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    }
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0) {
            lo = 0xA0;
        }
        else if (c == 0xED) {
            hi = 0x9F;
        }
    }
    else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0) {
            lo = 0x90;
        }
        else if (c == 0xF4) {
            hi = 0x8F;
        }
    }
    else {
        return 0;
    }
    if (n < need || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (i = 2; i < need; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF) {
            return 0;
        }
    }
    return need;
}

/*
 * Is the segment s[0..n) a dot-segment for some upstream?  The segment is
 * decoded once more (a literal "%2e%2e" here was "%252e%252e" on the wire
 * and becomes ".." for an upstream that decodes again), then split at '/'
 * and '\' (a decoded "%2f" or "%5c"), and each piece is cut at ';'
 * ("..;x" is ".." to a servlet container).  A piece of "." or ".." makes
 * the whole segment one.
 */
static int dot_segment(const unsigned char *s, apr_size_t n)
{
    apr_size_t i = 0;
    int dots = 0, other = 0, in_params = 0;

    while (i <= n) {
        int c;

        if (i == n) {
            c = '/';
            i++;
        }
        else if (s[i] == '%' && i + 2 < n && vip_hexval(s[i + 1]) >= 0
                 && vip_hexval(s[i + 2]) >= 0) {
            c = vip_hexval(s[i + 1]) * 16 + vip_hexval(s[i + 2]);
            i += 3;
        }
        else {
            c = s[i++];
        }
        if (c == '/' || c == '\\') {
            if (!other && (dots == 1 || dots == 2)) {
                return 1;
            }
            dots = other = in_params = 0;
        }
        else if (in_params) {
            continue;
        }
        else if (c == ';') {
            in_params = 1;
        }
        else if (c == '.') {
            dots++;
        }
        else {
            other = 1;
        }
    }
    return 0;
}

apr_status_t vip_path_normalize(apr_pool_t *p, const char *in,
                                apr_size_t len, char **out,
                                const char **reason)
{
    const unsigned char *s = (const unsigned char *)in;
    apr_size_t i, seg, o = 0;
    char *buf;
    const char *why = NULL;
    int maybe_dots = 0;

    *out = NULL;
    if (len > VIP_PATH_MAX) {
        why = "too_long";
        goto refuse;
    }
    if (!in || len == 0 || s[0] != '/') {
        why = "not_absolute";
        goto refuse;
    }
    buf = apr_palloc(p, len + 1);
    seg = 1;                            /* start of the current segment */
    for (i = 0; i <= len; i++) {
        unsigned char c = i < len ? s[i] : '/';

        if (c == '/') {
            /* Only a segment with a '.' or a '%' can be a dot-segment. */
            if (maybe_dots && dot_segment(s + seg, i - seg)) {
                why = "dot_segment";
                goto refuse;
            }
            seg = i + 1;
            maybe_dots = 0;
            /* Merge a run of '/': write one, skip the others. */
            if (i < len && (o == 0 || buf[o - 1] != '/')) {
                buf[o++] = '/';
            }
            continue;
        }
        if (c < 0x20 || c == 0x7f) {
            why = "control_char";
            goto refuse;
        }
        if (c == '\\') {
            why = "backslash";
            goto refuse;
        }
        if (c >= 0x80) {
            apr_size_t n = utf8_len(s + i, len - i);
            if (n == 0) {
                why = "bad_utf8";
                goto refuse;
            }
            memcpy(buf + o, s + i, n);
            o += n;
            i += n - 1;
            continue;
        }
        maybe_dots |= c == '.' || c == '%';
        buf[o++] = (char)c;
    }
    buf[o] = '\0';
    *out = buf;
    if (reason) {
        *reason = NULL;
    }
    return APR_SUCCESS;

refuse:
    if (reason) {
        *reason = why;
    }
    return APR_EINVAL;
}
