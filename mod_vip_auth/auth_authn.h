/*
 * auth_authn.h - check_authn for AuthType Vip (see auth_authn.c).
 */
#ifndef VIP_AUTH_AUTHN_H
#define VIP_AUTH_AUTHN_H

#include "httpd.h"

#include "auth_tcache.h"

/* The check_authn hook body; tc is this process's token cache or NULL. */
int vip_auth_check_authn(request_rec *r, vip_tcache *tc);

/* The AuthName realm, made safe for a quoted-string (default "vip"). */
const char *vip_auth_realm(request_rec *r);

/* Register the vip-tenant, vip-scope and vip-plan authz providers. */
void vip_auth_register_authz(apr_pool_t *p);

/* From insert_error_filter: turn an authz denial into a problem. */
void vip_auth_authz_error(request_rec *r);

#endif
