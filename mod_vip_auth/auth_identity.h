/*
 * auth_identity.h - the verified identity of a request: where it is kept
 * (request notes, see include/mod_vip.h), how subrequests and internal
 * redirects inherit it, and the request headers it governs (reserved
 * headers stripped, identity forwarded, credential hidden).
 */
#ifndef VIP_AUTH_IDENTITY_H
#define VIP_AUTH_IDENTITY_H

#include "httpd.h"

#include "auth_config.h"

typedef struct {
    const char *tenant;
    const char *subject;
    const char *scopes;
    const char *plan;
    const char *method;                 /* "apikey" or "jwt" */
    const char *key_id;                 /* may be NULL */
} vip_identity;

/* Record id on r: notes, env, r->user, r->ap_auth_type.  result is the
 * vip.auth_result note ("ok", "cached", "inherited"). */
void vip_identity_set(request_rec *r, const vip_identity *id,
                      const char *result);

/* The identity of r, copied from r->main / r->prev when r has none of its
 * own (httpd skips authn for subrequests and redirects that share the
 * parent's per-dir config).  NULL when the request is anonymous. */
int vip_identity_get(request_rec *r, vip_identity *id);

/* Remove reserved identity headers (X-Vip-* in any spelling, plus the
 * VipAuthStripHeader rules) from r->headers_in, and drop their names from
 * Connection so hop-by-hop processing cannot remove headers we set. */
void vip_strip_reserved(request_rec *r, const apr_array_header_t *rules);

/* Set X-Vip-Tenant/-Subject/-Scopes/-Plan on r->headers_in. */
void vip_forward_identity(request_rec *r, const vip_identity *id);

/* Remove the credential (Bearer/ApiKey Authorization and the key header). */
void vip_hide_credential(request_rec *r, const char *key_header);

#endif
