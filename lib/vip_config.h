/*
 * vip_config.h - value parsers the modules' directive handlers share.
 */
#ifndef VIP_CONFIG_H
#define VIP_CONFIG_H

/* A decimal integer from lo to hi, nothing else in arg; 1 on success. */
int vip_parse_int(const char *arg, long lo, long hi, int *out);

#endif
