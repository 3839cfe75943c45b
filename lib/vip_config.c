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
