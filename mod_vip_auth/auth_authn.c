/*
 * auth_authn.c - the check_authn step of AuthType Vip: find the one
 * credential of the request, verify it (API key or JWT, through the
 * verified-token cache), map it to a tenant and record the identity.
 *
 * Failures become 401 problem documents with RFC 6750 style challenges;
 * a suspended tenant gets 403.  The reason is logged at info level with
 * tenant, key id or kid, never the secret; it is also the
 * vip.auth_result note, so the access log shows every decision.
 */
#include <string.h>

#include <openssl/evp.h>

#include "httpd.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_strings.h"

#include "mod_vip.h"
#include "vip_common.h"
#include "vip_crypto.h"
#include "vip_problem.h"
#include "auth_apikey.h"
#include "auth_authn.h"
#include "auth_identity.h"
#include "auth_jwt.h"
#include "auth_tcache.h"

APLOG_USE_MODULE(vip_auth);

typedef enum { CRED_NONE, CRED_TOKEN, CRED_KEY } cred_kind;

const char *vip_auth_realm(request_rec *r)
{
    const char *name = ap_auth_name(r);
    char *q, *o, *clean;

    if (!name || !*name) {
        return "vip";
    }
    /* The realm is a quoted-string: drop what would end it early. */
    clean = q = o = apr_pstrdup(r->pool, name);
    for (; *q; q++) {
        if (*q != '"' && *q != '\\' && (unsigned char)*q >= 0x20) {
            *o++ = *q;
        }
    }
    *o = '\0';
    return clean;
}

static void challenge(request_rec *r, int methods, const char *error)
{
    const char *rl = vip_auth_realm(r);

    if (methods & VIP_METHOD_JWT) {
        apr_table_addn(r->err_headers_out, "WWW-Authenticate",
                       error ? apr_psprintf(r->pool, "Bearer realm=\"%s\", "
                                            "error=\"%s\"", rl, error)
                             : apr_psprintf(r->pool, "Bearer realm=\"%s\"", rl));
    }
    if (methods & VIP_METHOD_APIKEY) {
        apr_table_addn(r->err_headers_out, "WWW-Authenticate",
                       apr_psprintf(r->pool, "ApiKey realm=\"%s\"", rl));
    }
}

static int deny(request_rec *r, int methods, const char *error,
                const char *reason, const char *slug, const char *title,
                const char *detail)
{
    apr_table_setn(r->notes, VIP_NOTE_AUTH_RESULT, reason);
    challenge(r, methods, error);
    return vip_problem(r, HTTP_UNAUTHORIZED, slug, title, detail);
}

/* Short, printable excerpt of an attacker-controlled value for the log. */
static const char *loggable(request_rec *r, const char *s)
{
    char *o;
    apr_size_t i;

    if (!s) {
        return "-";
    }
    o = apr_pstrndup(r->pool, s, 64);
    for (i = 0; o[i]; i++) {
        if ((unsigned char)o[i] < 0x21 || (unsigned char)o[i] > 0x7e) {
            o[i] = '?';
        }
    }
    return o;
}

static int suspended(request_rec *r, const vip_tenant *t)
{
    apr_table_setn(r->notes, VIP_NOTE_TENANT, t->id);
    apr_table_setn(r->notes, VIP_NOTE_AUTH_RESULT, "tenant_suspended");
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, VIPLOGNO(01011)
                  "tenant %s is suspended; request refused", t->id);
    return vip_problem(r, HTTP_FORBIDDEN, "tenant-suspended",
                       "Tenant suspended",
                       "The tenant's access to the platform is suspended.");
}

static int by_key(request_rec *r, const vip_registry *reg, const char *key)
{
    const vip_apikey *k;
    const char *reason = NULL;
    vip_identity id;

    if (vip_apikey_verify(reg, key, strlen(key), &k, &reason) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, VIPLOGNO(01012)
                      "API key rejected: %s", reason);
        return deny(r, VIP_METHOD_APIKEY, NULL, reason, "invalid-api-key",
                    "Invalid API key", NULL);
    }
    if (k->tenant->suspended) {
        return suspended(r, k->tenant);
    }
    id.tenant = k->tenant->id;
    id.subject = k->id;
    id.scopes = k->scopes;
    id.plan = k->tenant->plan;
    id.method = "apikey";
    id.key_id = k->id;
    vip_identity_set(r, &id, "ok");
    return OK;
}

static int token_denied(request_rec *r, const char *reason, const char *kid,
                        const char *iss)
{
    const char *detail = NULL;

    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, VIPLOGNO(01013)
                  "bearer token rejected: %s (iss %s, kid %s)", reason,
                  loggable(r, iss), loggable(r, kid));
    if (strcmp(reason, VIP_JWT_R_EXPIRED) == 0) {
        detail = "The access token expired.";
    }
    return deny(r, VIP_METHOD_JWT, "invalid_token", reason, "invalid-token",
                "Invalid bearer token", detail);
}

static int by_token(request_rec *r, const vip_auth_dir_conf *d,
                    const vip_registry *reg, vip_tcache *tc, const char *tok)
{
    apr_size_t len = strlen(tok);
    apr_int64_t now = apr_time_sec(r->request_time);
    unsigned char hash[VIP_TCACHE_HASH_LEN];
    int hashed = 0;
    const char *reason = NULL;
    const vip_tenant *tenant;
    const vip_trust *trust;
    vip_jwt_policy pol;
    vip_jwt_identity jid;
    vip_tcache_entry ce;
    vip_identity id;
    vip_jwt *t;
    int cached = 0;

    if (len > (apr_size_t)vip_auth_token_max(d)) {
        return token_denied(r, VIP_JWT_R_TOO_LARGE, NULL, NULL);
    }
    if (tc && (hashed = vip_sha256(tok, len, hash))
        && vip_tcache_get(tc, hash, &ce) && ce.owner == reg) {
        /* Verified before; only time and per-location rules can differ. */
        if (ce.has_exp ? now >= ce.exp + vip_auth_leeway(d)
                       : vip_auth_require_exp(d)) {
            return token_denied(r, ce.has_exp ? VIP_JWT_R_EXPIRED
                                              : VIP_JWT_R_NO_EXP, ce.kid, NULL);
        }
        tenant = ce.tenant;
        id.subject = apr_pstrdup(r->pool, ce.sub);
        id.scopes = apr_pstrdup(r->pool, ce.scopes);
        id.key_id = *ce.kid ? apr_pstrdup(r->pool, ce.kid) : NULL;
        cached = 1;
        goto identified;
    }

    if (vip_jwt_parse(r->pool, tok, len, (apr_size_t)vip_auth_token_max(d),
                      &t, &reason) != APR_SUCCESS) {
        return token_denied(r, reason, NULL, NULL);
    }
    if (!t->iss || !(trust = vip_registry_trust(reg, t->iss))) {
        return token_denied(r, VIP_JWT_R_ISSUER, t->kid, t->iss);
    }
    if (vip_jwt_verify_sig(t, trust->keys, &reason) != APR_SUCCESS) {
        return token_denied(r, reason, t->kid, t->iss);
    }
    pol.now = now;
    pol.leeway = vip_auth_leeway(d);
    pol.require_exp = vip_auth_require_exp(d);
    pol.issuer = trust->issuer;
    pol.audience = trust->audience;
    pol.tenant_claim = trust->tenant_claim;
    if (vip_jwt_check_claims(r->pool, t, &pol, &jid, &reason) != APR_SUCCESS) {
        return token_denied(r, reason, t->kid, t->iss);
    }
    if (trust->tenant) {
        /* A tenant's own issuer speaks only for that tenant. */
        if (jid.tenant && strcmp(jid.tenant, trust->tenant->id) != 0) {
            return token_denied(r, "tenant_mismatch", t->kid, t->iss);
        }
        tenant = trust->tenant;
    }
    else if (!jid.tenant) {
        return token_denied(r, "missing_tenant", t->kid, t->iss);
    }
    else if (!(tenant = vip_registry_tenant(reg, jid.tenant))) {
        return token_denied(r, "unknown_tenant", t->kid, t->iss);
    }
    id.subject = jid.sub;
    id.scopes = vip_tenant_filter_scopes(r->pool, tenant, jid.scopes);
    id.key_id = t->kid;
    if (tc && hashed) {
        vip_tcache_put(tc, hash, reg, tenant, jid.exp, jid.has_exp,
                       id.subject, id.scopes, id.key_id);
    }

identified:
    if (tenant->suspended) {
        return suspended(r, tenant);
    }
    id.tenant = tenant->id;
    id.plan = tenant->plan;
    id.method = "jwt";
    vip_identity_set(r, &id, cached ? "cached" : "ok");
    return OK;
}

/* Split "scheme SP credentials"; returns the credentials or NULL. */
static const char *scheme_value(const char *h, const char *scheme)
{
    apr_size_t n = strlen(scheme);

    if (ap_cstr_casecmpn(h, scheme, n) != 0 || h[n] != ' ') {
        return NULL;
    }
    h += n;
    while (*h == ' ') {
        h++;
    }
    return h;
}

int vip_auth_check_authn(request_rec *r, vip_tcache *tc)
{
    const char *type = ap_auth_type(r);
    const vip_auth_dir_conf *d;
    const vip_registry *reg;
    const char *authz, *keyh, *token = NULL, *key = NULL;
    vip_identity id;
    int methods, n = 0;

    if (!type || ap_cstr_casecmp(type, VIP_AUTH_TYPE) != 0) {
        return DECLINED;
    }
    if (vip_identity_get(r, &id)) {
        return OK;
    }
    d = vip_auth_dir(r);
    methods = vip_auth_methods(d);
    reg = vip_auth_registry(r->server);
    if (!reg) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, VIPLOGNO(01001)
                      "AuthType Vip is used for %s but this server has no "
                      "VipAuthRegistry", r->uri);
        return vip_problem(r, HTTP_INTERNAL_SERVER_ERROR, "internal",
                           "Internal error", NULL);
    }

    authz = apr_table_get(r->headers_in, "Authorization");
    if (authz) {
        if ((token = scheme_value(authz, "Bearer"))) {
            n++;
        }
        else if ((key = scheme_value(authz, "ApiKey"))) {
            n++;
        }
    }
    keyh = apr_table_get(r->headers_in, vip_auth_key_header(d));
    if (keyh) {
        key = keyh;
        n++;
    }

    if (n == 0) {
        apr_table_setn(r->notes, VIP_NOTE_AUTH_RESULT, "no_credential");
        challenge(r, methods, NULL);
        return vip_problem(r, HTTP_UNAUTHORIZED, "credentials-missing",
                           "Authentication required", NULL);
    }
    if (n > 1) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, VIPLOGNO(01014)
                      "request carries more than one credential; refused");
        return deny(r, methods, "invalid_request", "ambiguous_credentials",
                    "ambiguous-credentials", "More than one credential",
                    "Send exactly one API key or bearer token.");
    }
    if (token) {
        if (!(methods & VIP_METHOD_JWT)) {
            return deny(r, methods, NULL, "method_not_allowed",
                        "unsupported-credential", "Credential type not "
                        "accepted here", NULL);
        }
        return by_token(r, d, reg, tc, token);
    }
    if (!(methods & VIP_METHOD_APIKEY)) {
        return deny(r, methods, NULL, "method_not_allowed",
                    "unsupported-credential", "Credential type not accepted "
                    "here", NULL);
    }
    return by_key(r, reg, key);
}
