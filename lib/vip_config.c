/*
 * vip_config.c - value parsers for directive handlers (see vip_config.h).
 */
#include <apr_strings.h>

#include "vip_config.h"

int vip_parse_int(const char *arg, long lo, long hi, int *out)
{
    char *end;
    apr_int64_t v;

    if (!*arg) {
        return 0;
    }
    v = apr_strtoi64(arg, &end, 10);
    if (*end || v < lo || v > hi) {
        return 0;
    }
    *out = (int)v;
    return 1;
}

int vip_id_valid(const char *s, apr_size_t min, apr_size_t max)
{
    apr_size_t n = 0;

    if (!s) {
        return 0;
    }
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) {
            return 0;
        }
    }
    return n >= min && n <= max;
}

int vip_hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}
