/*
 * vip_headers.c - header-name normalisation and the reserved X-Vip-*
 * namespace, the same for requests (mod_vip_auth strips spoofed identity)
 * and responses (mod_vip_route drops what upstreams send).
 */
#include <string.h>

#include <apr_lib.h>

#include "mod_vip.h"
#include "vip_headers.h"

void vip_header_norm(const char *name, char *out, apr_size_t size)
{
    apr_size_t i;

    for (i = 0; name[i] && i + 1 < size; i++) {
        out[i] = name[i] == '_' ? '-' : (char)apr_tolower(name[i]);
    }
    out[i] = '\0';
}

int vip_header_reserved(const char *name)
{
    char norm[sizeof(VIP_RESERVED_HEADER_PREFIX)];

    vip_header_norm(name, norm, sizeof(norm));
    return strcmp(norm, VIP_RESERVED_HEADER_PREFIX) == 0;
}
