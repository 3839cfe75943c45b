/*
 * route_config.h - mod_vip_route configuration: services, routes, the
 * route table of each server, and the getters the hooks read them with.
 *
 * Services and routes are server-level (main server or virtual host): a
 * virtual host that declares no route uses the main server's table.
 */
#ifndef VIP_ROUTE_CONFIG_H
#define VIP_ROUTE_CONFIG_H

#include "httpd.h"
#include "http_config.h"

#include "apr_hash.h"

#include "route_budget.h"
#include "route_table.h"

#define VIP_ROUTE_DEFAULT_RETRY      5   /* seconds a failed member rests */
#define VIP_ROUTE_MAX_RETRIES        5
#define VIP_ROUTE_MAX_TIMEOUT        3600
#define VIP_ROUTE_DEFAULT_BUDGET     20  /* retries, percent of requests */

/* A named upstream service: a mod_proxy balancer vip generates. */
typedef struct {
    const char *name;
    const char *balancer;               /* "balancer://vip.<name>" */
    apr_array_header_t *members;        /* const char *: member URLs */
    const char *options;                /* BalancerMember options text */
    int retry;                          /* member cool-down, seconds */
} vip_service;

/* One weighted alternative of a route's traffic. */
typedef struct {
    const vip_service *service;
    const char *balancer;               /* the service's or a per-route one */
    int weight;                         /* percent of requests, 1..100 */
} vip_split;

/* What a matched route does: the vip_route.target of route_table.h. */
typedef struct {
    vip_split main;                     /* the route's service */
    const char *rewrite;                /* target template, or NULL */
    const char *strip;                  /* leading template segments to
                                           strip, or NULL */
    int strip_segments;                 /* how many segments that is */
    apr_array_header_t *splits;         /* vip_split: weighted canaries */
    const char *split_header;           /* header selecting header_split */
    const char *split_header_value;
    vip_split *header_split;
    apr_hash_t *pins;                   /* tenant -> vip_split */
    int timeout;                        /* seconds; 0: service default */
    int connect_timeout;                /* milliseconds; 0: default */
    int retries;                        /* extra members tried; -1: default */
    const char *route_name;             /* for logs */
    vip_retry_on retry_on;              /* statuses and timeouts retried */
    int has_retry_on;
    int retry_budget;                   /* percent; -1: default */
    int retry_keyed;                    /* retry other methods with an
                                           Idempotency-Key; -1: default */
    int budget_slot;                    /* shared budget index; -1: none */
} vip_route_target;

/* The route's retry budget in percent of its requests. */
int vip_route_retry_budget(const vip_route_target *t);
/* 1 when requests with an Idempotency-Key are retried whatever the
 * method. */
int vip_route_retry_keyed(const vip_route_target *t);

typedef struct {
    apr_hash_t *services;               /* name -> vip_service */
    apr_hash_t *names;                  /* route names in use */
    apr_hash_t *balancers;              /* per-route balancers declared */
    vip_route_table *table;
    apr_array_header_t *scopes;         /* const char *: path prefixes where
                                           an unmatched path is a 404 */
    int uses_identity;                  /* some route has tenant/plan
                                           conditions or pins */
    int nroutes;
} vip_route_srv_conf;

extern const command_rec vip_route_cmds[];

void *vip_route_create_srv(apr_pool_t *p, server_rec *s);
void *vip_route_merge_srv(apr_pool_t *p, void *base, void *add);

const vip_route_srv_conf *vip_route_srv(const server_rec *s);

#endif
