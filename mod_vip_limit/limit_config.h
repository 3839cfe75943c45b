/*
 * limit_config.h - mod_vip_limit configuration: zones (a key and a table
 * in shared memory), rules (what a VipLimit, VipLimitPlan or VipLimitRoute
 * line limits), and the getters the hooks read them with.
 *
 * Where rules live and how they merge:
 *   VipLimit in the server or a virtual host    srv_conf.rules
 *   VipLimit in <Location>/<Directory>          dir_conf.rules
 *   VipLimitPlan plan ...                       srv_conf.plans[plan]
 *   VipLimitRoute route ...                     srv_conf.routes[route]
 * A rule list inherits its parent's rules; a rule of the same name
 * replaces the parent's, "VipLimit zone off" drops the parent's rules on
 * that zone.  Plan and route lists replace the parent's per plan / route.
 */
#ifndef VIP_LIMIT_CONFIG_H
#define VIP_LIMIT_CONFIG_H

#include "httpd.h"
#include "http_config.h"
#include "ap_expr.h"

#include "apr_hash.h"

#include "limit_gcra.h"
#include "limit_table.h"
#include "vip_store.h"

#define VIP_LIMIT_DEFAULT_ENTRIES 8192

/* VipLimitCluster defaults. */
#define VIP_LIMIT_CLUSTER_CONNECT_MS 50
#define VIP_LIMIT_CLUSTER_IO_MS      100
#define VIP_LIMIT_CLUSTER_RETRY_S    2
#define VIP_LIMIT_CLUSTER_DEAD_S     10
#define VIP_LIMIT_CLUSTER_BATCH      10
#define VIP_LIMIT_CLUSTER_LEASE_S    10
#define VIP_LIMIT_CLUSTER_HEARTBEAT_S 10

/* What a zone counts by. */
enum {
    VIP_LIMIT_KEY_IP = 1,       /* client IP, IPv4-mapped IPv6 folded */
    VIP_LIMIT_KEY_IP64,         /* the same, IPv6 per /64 */
    VIP_LIMIT_KEY_TENANT,
    VIP_LIMIT_KEY_SUBJECT,
    VIP_LIMIT_KEY_ROUTE,
    VIP_LIMIT_KEY_TENANT_ROUTE,
    VIP_LIMIT_KEY_EXPR
};

/* RateLimit header fields sent. */
enum {
    VIP_LIMIT_HDR_OFF = 0,
    VIP_LIMIT_HDR_IETF,
    VIP_LIMIT_HDR_LEGACY        /* IETF fields and RateLimit-Limit/... */
};

/* VipLimitCluster: the memcached cluster the store=cluster zones share. */
typedef struct {
    vip_store_conf store;
    apr_uint32_t nodes;         /* httpd nodes sharing each limit; 0 with
                                   nodes=auto (learned, limit_cluster.c) */
    apr_uint32_t heartbeat_s;   /* nodes=auto: the period a node counts
                                   itself in */
    apr_uint32_t batch;         /* tokens a node leases per `incr` (max) */
    apr_uint32_t lease_s;       /* concurrency lease epoch, seconds */
} vip_limit_cluster_conf;

typedef struct vip_limit_czone vip_limit_czone;

typedef struct {
    const char *name;
    int key;                    /* VIP_LIMIT_KEY_* */
    const char *key_text;       /* as configured, for messages */
    ap_expr_info_t *expr;       /* VIP_LIMIT_KEY_EXPR */
    apr_uint32_t entries;
    int full_deny;              /* full of live entries: 503, else open */
    int cluster;                /* store=cluster */
    vip_limit_table *table;     /* set in post_config */
    vip_limit_store store;      /* every decision goes through this */
    vip_limit_czone *czone;     /* store=cluster: set in post_config */
} vip_limit_zone;

typedef struct {
    vip_limit_zone *zone;
    const char *name;           /* counter name: name= or a default */
    const char *bucket;         /* "name\0": prefix of every tag's input */
    apr_size_t bucket_len;
    vip_gcra rate;              /* rate.count 0: no rate */
    vip_quota quota;            /* quota.limit 0: no quota */
    apr_uint32_t concurrency;   /* 0: none */
    int early;                  /* keyed by client IP: decided before
                                   authentication */
    /* by VIP_LIMIT_KIND_*, made once at start-up so that a request only
     * formats what changes (remaining, reset) */
    const char *id[4];          /* "<name>.rate|quota|conc" */
    const char *policy[4];      /* its RateLimit-Policy item */
    const char *item_head[4];   /* '"<id>";r=': its RateLimit item's start */
    apr_size_t item_head_len[4];
} vip_limit_rule;

typedef struct {
    apr_array_header_t *rules;  /* vip_limit_rule *, in order */
    apr_array_header_t *off;    /* const char *: zones "off" at this level */
    apr_hash_t *plans;          /* plan -> apr_array_header_t of rules */
    apr_hash_t *routes;         /* route -> apr_array_header_t of rules */
    apr_hash_t *deferred;       /* names of IP rules some <Location> /
                                   <Directory> replaces (decided in
                                   header_parser, not post_read_request) */
    apr_hash_t *deferred_zones; /* zones some <Location>/<Directory> turns
                                   off: their IP rules wait likewise */
    apr_hash_t *zones;          /* name -> vip_limit_zone (the main
                                   server's; zones are global) */
    vip_limit_cluster_conf *cluster;    /* the main server's, or NULL */
} vip_limit_srv_conf;

typedef struct {
    apr_array_header_t *rules;  /* vip_limit_rule *, in order */
    apr_array_header_t *off;    /* const char *: zones "off" here */
    int headers;                /* -1 unset, else VIP_LIMIT_HDR_* */
    int dry_run;                /* -1 unset */
} vip_limit_dir_conf;

extern const command_rec vip_limit_cmds[];

void *vip_limit_create_srv(apr_pool_t *p, server_rec *s);
void *vip_limit_merge_srv(apr_pool_t *p, void *base, void *add);
void *vip_limit_create_dir(apr_pool_t *p, char *dir);
void *vip_limit_merge_dir(apr_pool_t *p, void *base, void *add);

const vip_limit_srv_conf *vip_limit_srv(const server_rec *s);
const vip_limit_dir_conf *vip_limit_dir(const request_rec *r);

/* Getters applying the defaults. */
int vip_limit_headers(const vip_limit_dir_conf *d);     /* IETF */
int vip_limit_dry_run(const vip_limit_dir_conf *d);
/* 1 when a server IP rule waits for the location (see deferred). */
int vip_limit_deferred(const vip_limit_srv_conf *s, const vip_limit_rule *r);     /* off */

#endif
