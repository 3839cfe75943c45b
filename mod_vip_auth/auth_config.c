/*
 * auth_config.c - mod_vip_auth directives, config structs and merging.
 *
 * Every directive validates its value when httpd reads it, so `apachectl
 * -t` reports a bad value with the directive's name; the registry and its
 * JWKS files are loaded (and so fully checked) here too.
 */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "apr_strings.h"
#include "apr_lib.h"

#include "vip_common.h"
#include "vip_config.h"
#include "auth_config.h"

extern VIP_MODULE_EXPORT module AP_MODULE_DECLARE_DATA vip_auth_module;

/* ---- create / merge ----------------------------------------------------- */

void *vip_auth_create_srv(apr_pool_t *p, server_rec *s)
{
    vip_auth_srv_conf *c = apr_pcalloc(p, sizeof(*c));

    c->registry = NULL;
    c->tcache_entries = -1;
    c->strip = apr_array_make(p, 4, sizeof(vip_strip_rule));
    return c;
}

void *vip_auth_merge_srv(apr_pool_t *p, void *basev, void *addv)
{
    const vip_auth_srv_conf *base = basev, *add = addv;
    vip_auth_srv_conf *c = apr_pcalloc(p, sizeof(*c));

    c->registry = add->registry ? add->registry : base->registry;
    c->tcache_entries = add->tcache_entries != -1 ? add->tcache_entries
                                                  : base->tcache_entries;
    /* Strip rules only ever add protection: a vhost extends the list. */
    c->strip = apr_array_append(p, base->strip, add->strip);
    return c;
}

void *vip_auth_create_dir(apr_pool_t *p, char *dir)
{
    vip_auth_dir_conf *c = apr_pcalloc(p, sizeof(*c));

    c->methods = 0;
    c->key_header = NULL;
    c->leeway = -1;
    c->require_exp = -1;
    c->token_max = -1;
    c->hide_credential = -1;
    c->forward_identity = -1;
    return c;
}

#define MERGE_INT(f) c->f = add->f != -1 ? add->f : base->f

void *vip_auth_merge_dir(apr_pool_t *p, void *basev, void *addv)
{
    const vip_auth_dir_conf *base = basev, *add = addv;
    vip_auth_dir_conf *c = apr_pcalloc(p, sizeof(*c));

    c->methods = add->methods ? add->methods : base->methods;
    c->key_header = add->key_header ? add->key_header : base->key_header;
    MERGE_INT(leeway);
    MERGE_INT(require_exp);
    MERGE_INT(token_max);
    MERGE_INT(hide_credential);
    MERGE_INT(forward_identity);
    return c;
}

/* ---- getters ------------------------------------------------------------ */

const vip_auth_srv_conf *vip_auth_srv(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &vip_auth_module);
}

const vip_auth_dir_conf *vip_auth_dir(const request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &vip_auth_module);
}

const vip_registry *vip_auth_registry(const server_rec *s)
{
    return vip_auth_srv(s)->registry;
}

int vip_auth_tcache_entries(const server_rec *s)
{
    int n = vip_auth_srv(s)->tcache_entries;
    return n == -1 ? VIP_AUTH_DEFAULT_TCACHE : n;
}

int vip_auth_methods(const vip_auth_dir_conf *d)
{
    return d->methods ? d->methods : (VIP_METHOD_APIKEY | VIP_METHOD_JWT);
}

const char *vip_auth_key_header(const vip_auth_dir_conf *d)
{
    return d->key_header ? d->key_header : VIP_AUTH_DEFAULT_KEY_HEADER;
}

int vip_auth_leeway(const vip_auth_dir_conf *d)
{
    return d->leeway == -1 ? VIP_AUTH_DEFAULT_LEEWAY : d->leeway;
}

int vip_auth_require_exp(const vip_auth_dir_conf *d)
{
    return d->require_exp == -1 ? 1 : d->require_exp;
}

int vip_auth_token_max(const vip_auth_dir_conf *d)
{
    return d->token_max == -1 ? VIP_AUTH_DEFAULT_TOKEN_MAX : d->token_max;
}

int vip_auth_hide_credential(const vip_auth_dir_conf *d)
{
    return d->hide_credential == -1 ? 1 : d->hide_credential;
}

int vip_auth_forward_identity(const vip_auth_dir_conf *d)
{
    return d->forward_identity == -1 ? 1 : d->forward_identity;
}

/* ---- directive handlers ------------------------------------------------- */

static int header_token(const char *s)
{
    /* RFC 9110 token characters. */
    if (!*s) {
        return 0;
    }
    for (; *s; s++) {
        if (!apr_isalnum(*s) && !strchr("!#$%&'*+-.^_`|~", *s)) {
            return 0;
        }
    }
    return 1;
}

static vip_auth_srv_conf *srv_conf(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config, &vip_auth_module);
}

static const char *set_registry(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    const char *path;
    char *why = NULL;
    vip_registry *reg;

    if (err) {
        return err;
    }
    path = ap_server_root_relative(cmd->pool, arg);
    if (!path) {
        return apr_pstrcat(cmd->pool, cmd->cmd->name, ": invalid path '",
                           arg, "'", NULL);
    }
    if (vip_registry_load(cmd->pool, path, &reg, &why) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s %s: %s", cmd->cmd->name, path,
                            why ? why : "cannot be loaded");
    }
    srv_conf(cmd)->registry = reg;
    return NULL;
}

static const char *set_tcache(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);

    if (err) {
        return err;
    }
    if (!vip_parse_int(arg, 0, 1 << 20, &srv_conf(cmd)->tcache_entries)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a number of entries "
                            "between 0 (off) and %d", cmd->cmd->name, arg,
                            1 << 20);
    }
    return NULL;
}

static const char *add_strip(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    vip_strip_rule *rule;
    char *name, *c;
    apr_size_t n;

    if (err) {
        return err;
    }
    name = apr_pstrdup(cmd->pool, arg);
    n = strlen(name);
    rule = apr_array_push(srv_conf(cmd)->strip);
    rule->prefix = n > 1 && name[n - 1] == '*';
    if (rule->prefix) {
        name[--n] = '\0';
    }
    if (!header_token(name)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a header name (or a "
                            "prefix ending in '*')", cmd->cmd->name, arg);
    }
    for (c = name; *c; c++) {
        *c = *c == '_' ? '-' : apr_tolower(*c);
    }
    rule->name = name;
    rule->len = n;
    return NULL;
}

static const char *set_methods(cmd_parms *cmd, void *dcv, const char *arg)
{
    vip_auth_dir_conf *d = dcv;

    if (strcasecmp(arg, "apikey") == 0) {
        d->methods |= VIP_METHOD_APIKEY;
    }
    else if (strcasecmp(arg, "jwt") == 0) {
        d->methods |= VIP_METHOD_JWT;
    }
    else {
        return apr_psprintf(cmd->pool, "%s: unknown method '%s' (use apikey "
                            "and/or jwt)", cmd->cmd->name, arg);
    }
    return NULL;
}

static const char *set_key_header(cmd_parms *cmd, void *dcv, const char *arg)
{
    vip_auth_dir_conf *d = dcv;

    if (!header_token(arg) || strcasecmp(arg, "Authorization") == 0
        || strncasecmp(arg, "X-Vip-", 6) == 0) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not usable as the API key "
                            "header (a header name other than Authorization "
                            "and X-Vip-*)", cmd->cmd->name, arg);
    }
    d->key_header = arg;
    return NULL;
}

static const char *set_leeway(cmd_parms *cmd, void *dcv, const char *arg)
{
    vip_auth_dir_conf *d = dcv;

    if (!vip_parse_int(arg, 0, VIP_AUTH_MAX_LEEWAY, &d->leeway)) {
        return apr_psprintf(cmd->pool, "%s: '%s' must be a number of seconds "
                            "from 0 to %d", cmd->cmd->name, arg,
                            VIP_AUTH_MAX_LEEWAY);
    }
    return NULL;
}

static const char *set_token_max(cmd_parms *cmd, void *dcv, const char *arg)
{
    vip_auth_dir_conf *d = dcv;

    if (!vip_parse_int(arg, VIP_AUTH_MIN_TOKEN_MAX, 8192, &d->token_max)) {
        return apr_psprintf(cmd->pool, "%s: '%s' must be a size in bytes from "
                            "%d to %d", cmd->cmd->name, arg,
                            VIP_AUTH_MIN_TOKEN_MAX, 8192);
    }
    return NULL;
}

static const char *set_dir_flag(cmd_parms *cmd, void *dcv, int on)
{
    int *field = (int *)((char *)dcv + (apr_size_t)cmd->info);

    *field = on ? 1 : 0;
    return NULL;
}

const command_rec vip_auth_cmds[] = {
    AP_INIT_TAKE1("VipAuthRegistry", set_registry, NULL, RSRC_CONF,
                  "The tenant registry (JSON): tenants, plans, API key "
                  "hashes and trusted JWT issuers"),
    AP_INIT_TAKE1("VipAuthTokenCache", set_tcache, NULL, RSRC_CONF,
                  "Entries of the per-process verified-token cache (0 = off, "
                  "default 4096)"),
    AP_INIT_ITERATE("VipAuthStripHeader", add_strip, NULL, RSRC_CONF,
                    "Request headers (or prefixes ending in *) removed from "
                    "every request, besides X-Vip-*"),
    AP_INIT_ITERATE("VipAuthMethods", set_methods, NULL, OR_AUTHCFG,
                    "Accepted credentials: apikey and/or jwt (default both)"),
    AP_INIT_TAKE1("VipAuthApiKeyHeader", set_key_header, NULL, OR_AUTHCFG,
                  "Request header carrying the API key (default X-Api-Key)"),
    AP_INIT_TAKE1("VipAuthLeeway", set_leeway, NULL, OR_AUTHCFG,
                  "Clock skew tolerated on exp/nbf/iat, seconds (default 30, "
                  "max 300)"),
    AP_INIT_FLAG("VipAuthRequireExp", set_dir_flag,
                 (void *)APR_OFFSETOF(vip_auth_dir_conf, require_exp),
                 OR_AUTHCFG, "Reject tokens without exp (default On)"),
    AP_INIT_TAKE1("VipAuthTokenMaxSize", set_token_max, NULL, OR_AUTHCFG,
                  "Largest accepted token in bytes (default 4096, max 8192)"),
    AP_INIT_FLAG("VipAuthHideCredential", set_dir_flag,
                 (void *)APR_OFFSETOF(vip_auth_dir_conf, hide_credential),
                 OR_AUTHCFG, "Remove the credential before the request goes "
                 "upstream (default On)"),
    AP_INIT_FLAG("VipAuthForwardIdentity", set_dir_flag,
                 (void *)APR_OFFSETOF(vip_auth_dir_conf, forward_identity),
                 OR_AUTHCFG, "Send X-Vip-Tenant/-Subject/-Scopes/-Plan "
                 "upstream (default On)"),
    { NULL }
};
