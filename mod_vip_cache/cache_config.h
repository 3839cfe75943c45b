/*
 * cache_config.h - mod_vip_cache configuration: the memcached servers of
 * each server (VipCacheServers), the cache policy of each location, and
 * the getters that apply the defaults.
 */
#ifndef VIP_CACHE_CONFIG_H
#define VIP_CACHE_CONFIG_H

#include "httpd.h"
#include "http_config.h"

#include "vip_store.h"

#define VIP_CACHE_DEFAULT_TTL      300
#define VIP_CACHE_DEFAULT_404_TTL  60
#define VIP_CACHE_MAX_TTL_LIMIT    (365 * 86400)
/* memcached's default item size is 1 MB; the entry head and memcached's
 * own item header must fit too. */
#define VIP_CACHE_DEFAULT_MAX_SIZE (1024 * 1024 - 8192)
#define VIP_CACHE_MAX_SIZE_LIMIT   (128 * 1024 * 1024)
#define VIP_CACHE_COLLAPSE_WAIT    1000
#define VIP_CACHE_COLLAPSE_MAX     10000
#define VIP_CACHE_LOCK_TTL         5     /* seconds a collapse lock lives */
#define VIP_CACHE_CONNECT_MS       50
#define VIP_CACHE_IO_MS            100
#define VIP_CACHE_RETRY_S          2
#define VIP_CACHE_DEAD_S           10

typedef struct {
    vip_store_conf store;         /* servers NULL: none declared here */
    int store_set;
} vip_cache_srv_conf;

typedef struct {
    int enabled;                  /* -1 unset, 0, 1 */
    int default_ttl;              /* seconds, -1 unset */
    int min_ttl;
    int max_ttl;
    int ttl_404;
    int shared;                   /* VIP_CACHE_SCOPE_*, -1 unset
                                     (VipCacheScope, VipCacheShared) */
    int store_cookies;            /* -1 unset */
    apr_size_t max_size;          /* bytes, 0 unset */
    apr_array_header_t *ignore;   /* query parameter names; appended */
    int collapse;                 /* -1 unset, 0, 1 */
    int collapse_wait;            /* milliseconds, -1 unset */
    int esi;                      /* VIP_ESI_*, -1 unset (cache_esi_filter) */
    int esi_depth;                /* -1 unset */
    int esi_includes;             /* -1 unset */
    int esi_timeout_ms;           /* -1 unset */
    apr_size_t esi_max_bytes;     /* 0 unset */
    apr_size_t esi_max_page;      /* 0 unset */
} vip_cache_dir_conf;

extern const command_rec vip_cache_cmds[];

void *vip_cache_create_srv(apr_pool_t *p, server_rec *s);
void *vip_cache_merge_srv(apr_pool_t *p, void *base, void *add);
void *vip_cache_create_dir(apr_pool_t *p, char *dir);
void *vip_cache_merge_dir(apr_pool_t *p, void *base, void *add);

const vip_cache_srv_conf *vip_cache_srv(const server_rec *s);
const vip_cache_dir_conf *vip_cache_dir(const request_rec *r);

/* VipCache On was given in cmd->server (mod_vip_cache.c checks that
 * VipCacheServers applies there). */
const char *vip_cache_note_enabled(cmd_parms *cmd);

/* Getters: the value in effect, defaults applied. */
int vip_cache_enabled(const vip_cache_dir_conf *c);
int vip_cache_default_ttl(const vip_cache_dir_conf *c);
int vip_cache_min_ttl(const vip_cache_dir_conf *c);
int vip_cache_max_ttl(const vip_cache_dir_conf *c);   /* -1: none */
int vip_cache_ttl_404(const vip_cache_dir_conf *c);
/* Who receives a page stored for an authenticated caller: its tenant
 * (default), the same subject of its tenant, or every caller. */
#define VIP_CACHE_SCOPE_TENANT  0
#define VIP_CACHE_SCOPE_SHARED  1
#define VIP_CACHE_SCOPE_SUBJECT 2
int vip_cache_shared(const vip_cache_dir_conf *c);
int vip_cache_per_subject(const vip_cache_dir_conf *c);
int vip_cache_store_cookies(const vip_cache_dir_conf *c);
apr_size_t vip_cache_max_size(const vip_cache_dir_conf *c);
int vip_cache_collapse_on(const vip_cache_dir_conf *c);
int vip_cache_collapse_wait(const vip_cache_dir_conf *c);

#endif
