/*
 * vip_headers.h - header-name rules the modules share.
 */
#ifndef VIP_HEADERS_H
#define VIP_HEADERS_H

#include <apr.h>

/* Header names compare as upstream stacks often read them: lower case,
 * with '_' taken as '-' (CGI, PHP, Django and many proxies map both to the
 * same variable).  Writes at most size-1 bytes and a NUL. */
void vip_header_norm(const char *name, char *out, apr_size_t size);

/* 1 when name, normalised, starts with the reserved "x-vip-" prefix. */
int vip_header_reserved(const char *name);

#endif
