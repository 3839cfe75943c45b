/*
 * route_request.h - routing one request (see route_request.c).
 */
#ifndef VIP_ROUTE_REQUEST_H
#define VIP_ROUTE_REQUEST_H

#include "httpd.h"

#include "route_config.h"

/* Seconds a client should wait when every member of the chosen service
 * rests (the members' cool-down). */
#define NOTE_RETRY_AFTER "vip.route.retry_after"

/* Match r against conf's table and hand it to mod_proxy.  OK when routed,
 * DECLINED when no route matches outside the scopes, HTTP_NOT_FOUND (no
 * problem prepared yet: the caller decides when to answer) when none
 * matches inside one, or 400 with a problem prepared.  with_identity:
 * use the tenant and plan notes of mod_vip_auth. */
int vip_route_request(request_rec *r, const vip_route_srv_conf *conf,
                      int with_identity);

/* Keep a valid client X-Request-Id or make one; note it, send it upstream
 * and back to the client. */
void vip_route_request_id(request_rec *r);

#endif
