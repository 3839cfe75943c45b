/*
 * auth_authz.c - authz providers for mod_authz_core:
 *   Require vip-tenant <id>...     the caller's tenant is one of these
 *   Require vip-scope <scope>...   the caller holds at least one of these
 *   Require vip-plan <plan>...     the tenant's plan is one of these
 * Each lists alternatives, like Require user/group; combine them with
 * <RequireAll>/<RequireAny>.  The values are parsed and checked when the
 * configuration is read.
 *
 * A denial only leaves a note: whether the request is finally refused
 * depends on the other Require lines, so the 403 problem document and the
 * insufficient_scope challenge are written from insert_error_filter, when
 * httpd actually sends the 403.
 */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mod_auth.h"
#include "ap_provider.h"
#include "apr_strings.h"

#include "mod_vip.h"
#include "vip_config.h"
#include "vip_problem.h"
#include "auth_authn.h"
#include "auth_identity.h"
#include "auth_registry.h"

#define NOTE_DENIED "vip.authz_denied"

typedef struct {
    apr_array_header_t *values;
    const char *joined;
} require_list;

static int valid_scope_token(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') {
            return 0;
        }
    }
    return 1;
}

static const char *parse_list(cmd_parms *cmd, const char *line,
                              const void **parsed, int scopes)
{
    require_list *l = apr_pcalloc(cmd->pool, sizeof(*l));
    const char *w;

    l->values = apr_array_make(cmd->pool, 4, sizeof(const char *));
    while (*line && *(w = ap_getword_conf(cmd->pool, &line))) {
        if (scopes ? !valid_scope_token(w) : !vip_id_valid(w, 1, 64)) {
            return apr_psprintf(cmd->pool, "Require %s: '%s' is not a valid "
                                "%s", cmd->cmd->name ? cmd->cmd->name : "",
                                w, scopes ? "scope" : "tenant or plan id");
        }
        APR_ARRAY_PUSH(l->values, const char *) = w;
        l->joined = l->joined ? apr_pstrcat(cmd->pool, l->joined, " ", w, NULL)
                              : w;
    }
    if (l->values->nelts == 0) {
        return "Require vip-tenant/vip-scope/vip-plan needs at least one value";
    }
    *parsed = l;
    return NULL;
}

static const char *parse_ids(cmd_parms *cmd, const char *line,
                             const void **parsed)
{
    return parse_list(cmd, line, parsed, 0);
}

static const char *parse_scopes(cmd_parms *cmd, const char *line,
                                const void **parsed)
{
    return parse_list(cmd, line, parsed, 1);
}

static int in_list(const require_list *l, const char *v)
{
    int i;

    for (i = 0; i < l->values->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(l->values, i, const char *), v) == 0) {
            return 1;
        }
    }
    return 0;
}

static authz_status decide(request_rec *r, int ok, const char *why)
{
    if (ok) {
        return AUTHZ_GRANTED;
    }
    apr_table_setn(r->notes, NOTE_DENIED, why);
    return AUTHZ_DENIED;
}

static authz_status check_tenant(request_rec *r, const char *line,
                                 const void *parsed)
{
    vip_identity id;

    if (!vip_identity_get(r, &id)) {
        return r->user ? AUTHZ_DENIED : AUTHZ_DENIED_NO_USER;
    }
    return decide(r, in_list(parsed, id.tenant), "tenant");
}

static authz_status check_plan(request_rec *r, const char *line,
                               const void *parsed)
{
    vip_identity id;

    if (!vip_identity_get(r, &id)) {
        return r->user ? AUTHZ_DENIED : AUTHZ_DENIED_NO_USER;
    }
    return decide(r, in_list(parsed, id.plan), "plan");
}

static authz_status check_scope(request_rec *r, const char *line,
                                const void *parsed)
{
    const require_list *l = parsed;
    vip_identity id;
    char *copy, *tok, *last = NULL;

    if (!vip_identity_get(r, &id)) {
        return r->user ? AUTHZ_DENIED : AUTHZ_DENIED_NO_USER;
    }
    copy = apr_pstrdup(r->pool, id.scopes);
    for (tok = apr_strtok(copy, " ", &last); tok;
         tok = apr_strtok(NULL, " ", &last)) {
        if (in_list(l, tok)) {
            return AUTHZ_GRANTED;
        }
    }
    return decide(r, 0, apr_pstrcat(r->pool, "scope:", l->joined, NULL));
}

static const authz_provider tenant_provider = { check_tenant, parse_ids };
static const authz_provider plan_provider = { check_plan, parse_ids };
static const authz_provider scope_provider = { check_scope, parse_scopes };

void vip_auth_register_authz(apr_pool_t *p)
{
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "vip-tenant",
                              AUTHZ_PROVIDER_VERSION, &tenant_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "vip-plan",
                              AUTHZ_PROVIDER_VERSION, &plan_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "vip-scope",
                              AUTHZ_PROVIDER_VERSION, &scope_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
}

static void problem(request_rec *r, const char *slug, const char *title,
                    const char *detail)
{
    /* The 403 document in the 401 slot too: see vip_auth_authz_error. */
    vip_problem_for(r, HTTP_UNAUTHORIZED, HTTP_FORBIDDEN, slug, title, detail);
    vip_problem(r, HTTP_FORBIDDEN, slug, title, detail);
}

void vip_auth_authz_error(request_rec *r)
{
    const char *why = apr_table_get(r->notes, NOTE_DENIED);
    const char *detail;

    if (!why || !r->user
        || (r->status != HTTP_FORBIDDEN && r->status != HTTP_UNAUTHORIZED)) {
        return;
    }
    /* mod_authz_core answers an authenticated caller's denial with 401
     * unless AuthzSendForbiddenOnFailure is on.  For a verified tenant
     * that lacks a scope, plan or tenant, 401 would invite a pointless
     * retry with the same credential: RFC 6750 section 3.1 says 403.
     * ap_send_error_response already holds the old status for choosing
     * the body, so the problem is registered for both codes. */
    if (r->status == HTTP_UNAUTHORIZED) {
        r->status = HTTP_FORBIDDEN;
        r->status_line = NULL;
        apr_table_unset(r->err_headers_out, "WWW-Authenticate");
    }
    if (strncmp(why, "scope:", 6) == 0) {
        /* RFC 6750 section 3.1: say which scope would have been enough. */
        apr_table_setn(r->err_headers_out, "WWW-Authenticate",
                       apr_psprintf(r->pool, "Bearer realm=\"%s\", error="
                                    "\"insufficient_scope\", scope=\"%s\"",
                                    vip_auth_realm(r),
                                    why + 6));
        apr_table_setn(r->notes, VIP_NOTE_AUTH_RESULT, "insufficient_scope");
        detail = apr_psprintf(r->pool, "This resource requires one of the "
                              "scopes: %s", why + 6);
        problem(r, "insufficient-scope", "Insufficient scope", detail);
        return;
    }
    apr_table_setn(r->notes, VIP_NOTE_AUTH_RESULT,
                   apr_pstrcat(r->pool, why, "_not_allowed", NULL));
    problem(r, "forbidden", "Forbidden",
            "The caller's tenant or plan may not use this resource.");
}
