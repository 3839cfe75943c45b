/*
 * vip_config.h - value parsers the modules' directive handlers share.
 */
#ifndef VIP_CONFIG_H
#define VIP_CONFIG_H

#include <apr.h>

/* A decimal integer from lo to hi, nothing else in arg; 1 on success. */
int vip_parse_int(const char *arg, long lo, long hi, int *out);

/* 1 when s is min..max bytes of [A-Za-z0-9._-]: the alphabet of every id
 * vip puts in headers, notes and logs (tenants, plans, keys, services,
 * routes, request ids). */
int vip_id_valid(const char *s, apr_size_t min, apr_size_t max);

/* The value of a hex digit (either case), or -1. */
int vip_hexval(unsigned char c);

#endif
