/*
 * route_proxy.h - what mod_vip_route adds to mod_proxy's handling of a
 * routed request (see route_proxy.c): the per-attempt deadline, retries
 * on another member under the route's budget, the request body kept for
 * them, and the refusal of responses that are not HTTP/1.x.
 */
#ifndef VIP_ROUTE_PROXY_H
#define VIP_ROUTE_PROXY_H

#include "httpd.h"

#include "route_config.h"

/* Request notes of this module (module-local, for LogFormat). */
#define NOTE_RETRIES       "vip.route.retries"    /* attempts after the
                                                     first, when any */
#define NOTE_RETRY_DENIED  "vip.route.retry_denied" /* why a retry was not
                                                       made: method, budget,
                                                       body, members */
#define NOTE_UPSTREAM_RA   "vip.route.upstream_retry_after"

/* State of one routed request, in its request_config. */
typedef struct {
    const vip_route_target *target;
    apr_interval_time_t timeout;        /* per attempt; 0: none */
    apr_time_t deadline;                /* of the attempt under way */
    int late;                           /* routed in fixups */
    const char *member;                 /* of the attempt under way */
    int attempts;                       /* scheme handler runs so far */
    int retries;
    int in_scheme;                      /* inside mod_proxy_http */
    int expired;                        /* this attempt ran out of time */
    int bad_status;                     /* the response's first line was
                                           not an HTTP/1.x status line */
    int status_seen;
    int upstream_status;                /* a retry_on status the member
                                           answered (not relayed) */
    /* the request body, kept so that another attempt can send it again */
    char *body;
    apr_size_t body_len, body_cap, replay_off;
    int body_state;
} vip_route_ctx;

/* Remember that r was routed by route t (late: in fixups). */
void vip_route_ctx_set(request_rec *r, const vip_route_target *t, int late);
vip_route_ctx *vip_route_ctx_get(const request_rec *r);

/* Register the mod_proxy hooks and the filters; 0 when mod_proxy was not
 * loaded before this module (no hooks then). */
int vip_route_proxy_register(apr_pool_t *p);

/* 1 when the mod_proxy hooks are in place. */
int vip_route_proxy_ready(void);

/* A new retry budget for a route, at configuration time: its index. */
int vip_route_budget_new(void);
/* pre_config: forget the budgets of an earlier configuration. */
void vip_route_budget_reset(void);
/* post_config: the shared memory of the budgets (anonymous, inherited by
 * the children). */
int vip_route_budget_init(apr_pool_t *pconf, server_rec *s);

#endif
