/*
 * mod_vip_auth.c - tenant authentication for the vip access layer: the
 * module record and its hooks.  The work is done in:
 *   auth_config.c    directives, merging, getters
 *   auth_registry.c  the tenant registry (tenants, plans, keys, issuers)
 *   auth_authn.c     check_authn: API keys and JWTs -> identity
 *   auth_authz.c     Require vip-tenant / vip-scope / vip-plan
 *   auth_identity.c  identity notes and headers
 *   auth_jwt.c, auth_jwk.c, auth_apikey.c, auth_tcache.c  pure engines
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mod_auth.h"

#include "mod_vip.h"
#include "vip_common.h"
#include "vip_crypto.h"
#include "vip_problem.h"
#include "auth_authn.h"
#include "auth_config.h"
#include "auth_identity.h"
#include "auth_tcache.h"

/* Declared first with default visibility: lib/ and this module are built
 * with -fvisibility=hidden and the module record is the one export. */
extern VIP_MODULE_EXPORT module AP_MODULE_DECLARE_DATA vip_auth_module;
APLOG_USE_MODULE(vip_auth);

/* This process's verified-token cache, made in child_init. */
static vip_tcache *token_cache;

static void vip_auth_child_init(apr_pool_t *pchild, server_rec *s)
{
    int n = vip_auth_tcache_entries(s);
    apr_status_t rv;

    token_cache = NULL;
    if (n > 0) {
        rv = vip_tcache_create(pchild, n, &token_cache);
        if (rv != APR_SUCCESS) {
            token_cache = NULL;
            ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, VIPLOGNO(01002)
                         "cannot create the verified-token cache (%d "
                         "entries); every token will be verified in full", n);
        }
    }
}

static int vip_auth_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                                apr_pool_t *ptemp, server_rec *s)
{
    apr_status_t rv = vip_crypto_init(pconf);

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, VIPLOGNO(01003)
                     "libcrypto has no SHA-256");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

/* Spoofed identity headers go before any other module can read them. */
static int vip_auth_post_read_request(request_rec *r)
{
    vip_strip_reserved(r, vip_auth_srv(r->server)->strip);
    return DECLINED;
}

static int vip_auth_authn(request_rec *r)
{
    /* One cache per process, sized by the main server; a virtual host
     * with VipAuthTokenCache 0 verifies every token in full. */
    return vip_auth_check_authn(r, vip_auth_tcache_entries(r->server) > 0
                                   ? token_cache : NULL);
}

static int vip_auth_fixups(request_rec *r)
{
    const vip_auth_dir_conf *d = vip_auth_dir(r);
    vip_identity id;

    /* post_read_request already stripped the client's X-Vip-*; only a
     * subrequest or redirect can hold more: the headers of a parent whose
     * identity it inherits here. */
    if (!vip_identity_get(r, &id)) {
        return DECLINED;
    }
    if (vip_auth_forward_identity(d)) {
        vip_forward_identity(r, &id);
    }
    else {
        /* A subrequest may carry the identity headers its parent set. */
        vip_strip_reserved(r, vip_auth_srv(r->server)->strip);
    }
    if (vip_auth_hide_credential(d)) {
        vip_hide_credential(r, vip_auth_key_header(d));
    }
    return DECLINED;
}

/* mod_authz_core calls ap_note_auth_failure for authenticated callers it
 * refuses; our challenges are written with the problem, so only claim the
 * AuthType (httpd logs AH00571 for an AuthType nobody claims). */
static int vip_auth_note_auth_failure(request_rec *r, const char *type)
{
    return ap_cstr_casecmp(type, VIP_AUTH_TYPE) == 0 ? OK : DECLINED;
}

static void vip_auth_insert_error_filter(request_rec *r)
{
    vip_auth_authz_error(r);
    vip_problem_insert_filter(r);
}

static void vip_auth_register_hooks(apr_pool_t *p)
{
    vip_problem_register("VIP_AUTH_PROBLEM");
    vip_auth_register_authz(p);
    /* Before fork: children inherit the fetched digest. */
    ap_hook_post_config(vip_auth_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(vip_auth_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    /* FIRST: mod_remoteip, mod_setenvif and mod_vip_limit read request
     * headers in post_read_request; none may see a spoofed X-Vip-*. */
    ap_hook_post_read_request(vip_auth_post_read_request, NULL, NULL,
                              APR_HOOK_FIRST);
    /* Per-conf: runs only where AuthType Vip is configured; MIDDLE puts it
     * before mod_authn_core's catch-all for unhandled AuthTypes. */
    ap_hook_check_authn(vip_auth_authn, NULL, NULL, APR_HOOK_MIDDLE,
                        AP_AUTH_INTERNAL_PER_CONF);
    /* REALLY_LAST: after mod_rewrite and mod_headers fixups, so ours are
     * the identity headers mod_proxy sends upstream. */
    ap_hook_fixups(vip_auth_fixups, NULL, NULL, APR_HOOK_REALLY_LAST);
    ap_hook_note_auth_failure(vip_auth_note_auth_failure, NULL, NULL,
                              APR_HOOK_MIDDLE);
    ap_hook_insert_error_filter(vip_auth_insert_error_filter, NULL, NULL,
                                APR_HOOK_MIDDLE);
}

module AP_MODULE_DECLARE_DATA vip_auth_module = {
    STANDARD20_MODULE_STUFF,
    vip_auth_create_dir,
    vip_auth_merge_dir,
    vip_auth_create_srv,
    vip_auth_merge_srv,
    vip_auth_cmds,
    vip_auth_register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    AP_MODULE_FLAG_ALWAYS_MERGE
#endif
};
