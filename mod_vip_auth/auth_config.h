/*
 * auth_config.h - mod_vip_auth configuration: structs, merge rules,
 * directives and the getters the rest of the module reads them through.
 *
 * Unset is a sentinel (-1 or NULL); defaults are applied by the getters, so
 * a merge can tell "unset" from "set to the default".
 */
#ifndef VIP_AUTH_CONFIG_H
#define VIP_AUTH_CONFIG_H

#include "httpd.h"
#include "http_config.h"

#include "auth_registry.h"

#define VIP_AUTH_TYPE            "Vip"

#define VIP_METHOD_APIKEY        0x1
#define VIP_METHOD_JWT           0x2

#define VIP_AUTH_DEFAULT_LEEWAY      30
#define VIP_AUTH_MAX_LEEWAY          300
#define VIP_AUTH_DEFAULT_TOKEN_MAX   4096
#define VIP_AUTH_MIN_TOKEN_MAX       256
#define VIP_AUTH_DEFAULT_TCACHE      4096
#define VIP_AUTH_DEFAULT_KEY_HEADER  "X-Api-Key"

typedef struct {
    const char *name;                   /* lower case, '_' mapped to '-' */
    apr_size_t len;
    int prefix;                         /* matches every name starting so */
} vip_strip_rule;

typedef struct {
    vip_registry *registry;             /* NULL: unset */
    int tcache_entries;                 /* -1: unset */
    apr_array_header_t *strip;          /* vip_strip_rule; merge appends */
} vip_auth_srv_conf;

typedef struct {
    int methods;                        /* VIP_METHOD_* bits; 0: unset */
    const char *key_header;             /* NULL: unset */
    int leeway;                         /* -1: unset */
    int require_exp;                    /* -1: unset */
    int token_max;                      /* -1: unset */
    int hide_credential;                /* -1: unset */
    int forward_identity;               /* -1: unset */
} vip_auth_dir_conf;

extern const command_rec vip_auth_cmds[];

void *vip_auth_create_srv(apr_pool_t *p, server_rec *s);
void *vip_auth_merge_srv(apr_pool_t *p, void *base, void *add);
void *vip_auth_create_dir(apr_pool_t *p, char *dir);
void *vip_auth_merge_dir(apr_pool_t *p, void *base, void *add);

/* Getters: defaults applied. */
const vip_auth_srv_conf *vip_auth_srv(const server_rec *s);
const vip_auth_dir_conf *vip_auth_dir(const request_rec *r);
const vip_registry *vip_auth_registry(const server_rec *s);
int vip_auth_tcache_entries(const server_rec *s);
int vip_auth_methods(const vip_auth_dir_conf *d);
const char *vip_auth_key_header(const vip_auth_dir_conf *d);
int vip_auth_leeway(const vip_auth_dir_conf *d);
int vip_auth_require_exp(const vip_auth_dir_conf *d);
int vip_auth_token_max(const vip_auth_dir_conf *d);
int vip_auth_hide_credential(const vip_auth_dir_conf *d);
int vip_auth_forward_identity(const vip_auth_dir_conf *d);

#endif
