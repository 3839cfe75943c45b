/*
 * cache_config.c - mod_vip_cache directives.
 *
 *   VipCacheServers host:port... [connect_timeout=ms] [timeout=ms]
 *                   [retry=s] [dead_retry=s]             server, vhost
 *   VipCache On|Off                                      location
 *   VipCacheDefaultTTL / VipCacheMinTTL / VipCacheMaxTTL /
 *   VipCacheNotFoundTTL seconds                          location
 *   VipCacheShared On|Off, VipCacheStoreCookies On|Off   location
 *   VipCacheIgnoreParams name|prefix*...                 location
 *   VipCacheMaxSize bytes[K|M]                           location
 *   VipCacheCollapse On|Off, VipCacheCollapseWait ms     location
 *
 * Every value is checked here, because `httpd -t` stops before
 * post_config.  A location with VipCache On on a server without
 * VipCacheServers is refused by the module's check_config hook.
 */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "apr_lib.h"
#include "apr_strings.h"

#include "vip_common.h"
#include "vip_config.h"
#include "cache_config.h"
#include "cache_esi_filter.h"

extern VIP_MODULE_EXPORT module AP_MODULE_DECLARE_DATA vip_cache_module;

void *vip_cache_create_srv(apr_pool_t *p, server_rec *s)
{
    vip_cache_srv_conf *c = apr_pcalloc(p, sizeof(*c));

    c->store.connect_ms = VIP_CACHE_CONNECT_MS;
    c->store.io_ms = VIP_CACHE_IO_MS;
    c->store.retry_s = VIP_CACHE_RETRY_S;
    c->store.dead_s = VIP_CACHE_DEAD_S;
    c->store_set = 0;
    return c;
}

void *vip_cache_merge_srv(apr_pool_t *p, void *basev, void *addv)
{
    const vip_cache_srv_conf *base = basev, *add = addv;
    vip_cache_srv_conf *c = apr_pcalloc(p, sizeof(*c));

    /* A virtual host's VipCacheServers replaces the main server's whole
     * line, timeouts included. */
    c->store = add->store_set ? add->store : base->store;
    c->store_set = add->store_set || base->store_set;
    return c;
}

void *vip_cache_create_dir(apr_pool_t *p, char *dir)
{
    vip_cache_dir_conf *c = apr_pcalloc(p, sizeof(*c));

    c->enabled = -1;
    c->default_ttl = c->min_ttl = c->max_ttl = c->ttl_404 = -1;
    c->shared = c->store_cookies = -1;
    c->max_size = 0;
    c->ignore = NULL;
    c->collapse = c->collapse_wait = -1;
    c->esi = c->esi_depth = c->esi_includes = c->esi_timeout_ms = -1;
    c->esi_max_bytes = c->esi_max_page = 0;
    return c;
}

#define MERGE_INT(f) c->f = add->f != -1 ? add->f : base->f

void *vip_cache_merge_dir(apr_pool_t *p, void *basev, void *addv)
{
    const vip_cache_dir_conf *base = basev, *add = addv;
    vip_cache_dir_conf *c = apr_pcalloc(p, sizeof(*c));

    MERGE_INT(enabled);
    MERGE_INT(default_ttl);
    MERGE_INT(min_ttl);
    MERGE_INT(max_ttl);
    MERGE_INT(ttl_404);
    MERGE_INT(shared);
    MERGE_INT(store_cookies);
    MERGE_INT(collapse);
    MERGE_INT(collapse_wait);
    c->max_size = add->max_size ? add->max_size : base->max_size;
    MERGE_INT(esi);
    MERGE_INT(esi_depth);
    MERGE_INT(esi_includes);
    MERGE_INT(esi_timeout_ms);
    c->esi_max_bytes = add->esi_max_bytes ? add->esi_max_bytes
                                          : base->esi_max_bytes;
    c->esi_max_page = add->esi_max_page ? add->esi_max_page
                                        : base->esi_max_page;
    /* Ignored parameters accumulate from outer to inner sections. */
    if (base->ignore && add->ignore) {
        c->ignore = apr_array_append(p, base->ignore, add->ignore);
    }
    else {
        c->ignore = add->ignore ? add->ignore : base->ignore;
    }
    return c;
}

const vip_cache_srv_conf *vip_cache_srv(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &vip_cache_module);
}

const vip_cache_dir_conf *vip_cache_dir(const request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &vip_cache_module);
}

int vip_cache_enabled(const vip_cache_dir_conf *c)
{
    return c->enabled == 1;
}

int vip_cache_default_ttl(const vip_cache_dir_conf *c)
{
    return c->default_ttl >= 0 ? c->default_ttl : VIP_CACHE_DEFAULT_TTL;
}

int vip_cache_min_ttl(const vip_cache_dir_conf *c)
{
    return c->min_ttl >= 0 ? c->min_ttl : 0;
}

int vip_cache_max_ttl(const vip_cache_dir_conf *c)
{
    return c->max_ttl;
}

int vip_cache_ttl_404(const vip_cache_dir_conf *c)
{
    return c->ttl_404 >= 0 ? c->ttl_404 : VIP_CACHE_DEFAULT_404_TTL;
}

int vip_cache_shared(const vip_cache_dir_conf *c)
{
    return c->shared == VIP_CACHE_SCOPE_SHARED;
}

int vip_cache_per_subject(const vip_cache_dir_conf *c)
{
    return c->shared == VIP_CACHE_SCOPE_SUBJECT;
}

int vip_cache_store_cookies(const vip_cache_dir_conf *c)
{
    return c->store_cookies == 1;
}

apr_size_t vip_cache_max_size(const vip_cache_dir_conf *c)
{
    return c->max_size ? c->max_size : VIP_CACHE_DEFAULT_MAX_SIZE;
}

int vip_cache_collapse_on(const vip_cache_dir_conf *c)
{
    return c->collapse != 0;
}

int vip_cache_collapse_wait(const vip_cache_dir_conf *c)
{
    return c->collapse_wait >= 0 ? c->collapse_wait : VIP_CACHE_COLLAPSE_WAIT;
}

/* ---- directives -------------------------------------------------------- */

static const char *cmd_servers(cmd_parms *cmd, void *dc, const char *args)
{
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);
    vip_cache_srv_conf *conf = ap_get_module_config(cmd->server->module_config,
                                                    &vip_cache_module);
    vip_store_conf st = conf->store;
    const char *w;

    if (err) {
        return err;
    }
    if (conf->store_set) {
        return apr_psprintf(cmd->pool, "%s: given twice for this server; "
                            "list every server on one line", cmd->cmd->name);
    }
    st.servers = NULL;
    while (*args && *(w = ap_getword_conf(cmd->pool, &args))) {
        const char *eq = strchr(w, '=');
        if (eq && !strchr(w, ':')) {
            apr_size_t n = (apr_size_t)(eq - w);
            int *slot = NULL, lo = 1, hi = 60000;
            if (n == 15 && strncmp(w, "connect_timeout", n) == 0) {
                slot = &st.connect_ms;
            }
            else if (n == 7 && strncmp(w, "timeout", n) == 0) {
                slot = &st.io_ms;
            }
            else if (n == 5 && strncmp(w, "retry", n) == 0) {
                slot = &st.retry_s, lo = 0, hi = 3600;
            }
            else if (n == 10 && strncmp(w, "dead_retry", n) == 0) {
                slot = &st.dead_s, lo = 0, hi = 3600;
            }
            if (!slot || !vip_parse_int(eq + 1, lo, hi, slot)) {
                return apr_psprintf(cmd->pool, "%s: bad option '%s' (known: "
                                    "connect_timeout=ms and timeout=ms "
                                    "1-60000, retry=s and dead_retry=s "
                                    "0-3600)", cmd->cmd->name, w);
            }
            continue;
        }
        if ((err = vip_store_parse_server(cmd->pool, &st, w))) {
            return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err);
        }
    }
    if (!st.servers) {
        return apr_psprintf(cmd->pool, "%s: name at least one memcached "
                            "server as host:port", cmd->cmd->name);
    }
    conf->store = st;
    conf->store_set = 1;
    return NULL;
}

static const char *cmd_flag(cmd_parms *cmd, void *dc, int on)
{
    vip_cache_dir_conf *c = dc;
    int *slot = (int *)((char *)c + (apr_size_t)cmd->info);

    *slot = on ? 1 : 0;
    if (on && slot == &c->enabled) {
        return vip_cache_note_enabled(cmd);
    }
    return NULL;
}

static const char *cmd_scope(cmd_parms *cmd, void *dc, const char *arg)
{
    vip_cache_dir_conf *c = dc;

    if (strcasecmp(arg, "tenant") == 0) {
        c->shared = VIP_CACHE_SCOPE_TENANT;
    }
    else if (strcasecmp(arg, "subject") == 0) {
        c->shared = VIP_CACHE_SCOPE_SUBJECT;
    }
    else if (strcasecmp(arg, "shared") == 0) {
        c->shared = VIP_CACHE_SCOPE_SHARED;
    }
    else {
        return apr_psprintf(cmd->pool, "%s: '%s' is not tenant, subject or "
                            "shared (who may receive a page stored for an "
                            "authenticated caller)", cmd->cmd->name, arg);
    }
    return NULL;
}

static const char *cmd_ttl(cmd_parms *cmd, void *dc, const char *arg)
{
    vip_cache_dir_conf *c = dc;
    int *slot = (int *)((char *)c + (apr_size_t)cmd->info);
    int v;

    if (!vip_parse_int(arg, 0, VIP_CACHE_MAX_TTL_LIMIT, &v)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a number of seconds "
                            "from 0 to %d", cmd->cmd->name, arg,
                            VIP_CACHE_MAX_TTL_LIMIT);
    }
    *slot = v;
    if (c->min_ttl >= 0 && c->max_ttl >= 0 && c->min_ttl > c->max_ttl) {
        return apr_psprintf(cmd->pool, "%s: VipCacheMinTTL (%d) is above "
                            "VipCacheMaxTTL (%d) in the same section",
                            cmd->cmd->name, c->min_ttl, c->max_ttl);
    }
    return NULL;
}

static const char *cmd_ignore(cmd_parms *cmd, void *dc, const char *arg)
{
    vip_cache_dir_conf *c = dc;
    apr_size_t n = strlen(arg);
    const char *name = arg;

    if (n && arg[n - 1] == '*') {
        name = apr_pstrndup(cmd->temp_pool, arg, n - 1);
    }
    if (!vip_id_valid(name, 1, 128)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a parameter name "
                            "([A-Za-z0-9._-], optionally ending in * for a "
                            "prefix)", cmd->cmd->name, arg);
    }
    if (!c->ignore) {
        c->ignore = apr_array_make(cmd->pool, 4, sizeof(const char *));
    }
    APR_ARRAY_PUSH(c->ignore, const char *) = arg;
    return NULL;
}

static const char *cmd_max_size(cmd_parms *cmd, void *dc, const char *arg)
{
    vip_cache_dir_conf *c = dc;
    apr_size_t n = strlen(arg), mult = 1;
    char *num = apr_pstrdup(cmd->temp_pool, arg);
    int v;

    if (n > 1 && (arg[n - 1] == 'K' || arg[n - 1] == 'k')) {
        mult = 1024;
        num[n - 1] = '\0';
    }
    else if (n > 1 && (arg[n - 1] == 'M' || arg[n - 1] == 'm')) {
        mult = 1024 * 1024;
        num[n - 1] = '\0';
    }
    if (!vip_parse_int(num, 1, VIP_CACHE_MAX_SIZE_LIMIT, &v)
        || (apr_size_t)v * mult > VIP_CACHE_MAX_SIZE_LIMIT) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a size from 1 byte "
                            "to 128M (bytes, or with K or M)", cmd->cmd->name,
                            arg);
    }
    c->max_size = (apr_size_t)v * mult;
    return NULL;
}

static const char *cmd_wait(cmd_parms *cmd, void *dc, const char *arg)
{
    vip_cache_dir_conf *c = dc;

    if (!vip_parse_int(arg, 0, VIP_CACHE_COLLAPSE_MAX, &c->collapse_wait)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a number of "
                            "milliseconds from 0 to %d", cmd->cmd->name, arg,
                            VIP_CACHE_COLLAPSE_MAX);
    }
    return NULL;
}

#define DIR_OFF(f) (void *)APR_OFFSETOF(vip_cache_dir_conf, f)

const command_rec vip_cache_cmds[] = {
    AP_INIT_RAW_ARGS("VipCacheServers", cmd_servers, NULL, RSRC_CONF,
                     "host:port... [connect_timeout=ms] [timeout=ms] "
                     "[retry=s] [dead_retry=s]: the memcached cluster"),
    AP_INIT_FLAG("VipCache", cmd_flag, DIR_OFF(enabled), RSRC_CONF | ACCESS_CONF,
                 "On to cache the responses of this location"),
    AP_INIT_TAKE1("VipCacheDefaultTTL", cmd_ttl, DIR_OFF(default_ttl),
                  RSRC_CONF | ACCESS_CONF,
                  "seconds of freshness when the response names none"),
    AP_INIT_TAKE1("VipCacheMinTTL", cmd_ttl, DIR_OFF(min_ttl),
                  RSRC_CONF | ACCESS_CONF, "seconds: the least freshness"),
    AP_INIT_TAKE1("VipCacheMaxTTL", cmd_ttl, DIR_OFF(max_ttl),
                  RSRC_CONF | ACCESS_CONF, "seconds: the most freshness"),
    AP_INIT_TAKE1("VipCacheNotFoundTTL", cmd_ttl, DIR_OFF(ttl_404),
                  RSRC_CONF | ACCESS_CONF,
                  "seconds: the most freshness of a 404 (default 60)"),
    AP_INIT_FLAG("VipCacheShared", cmd_flag, DIR_OFF(shared),
                 RSRC_CONF | ACCESS_CONF,
                 "On to share authenticated pages across tenants "
                 "(VipCacheScope shared)"),
    AP_INIT_TAKE1("VipCacheScope", cmd_scope, NULL, RSRC_CONF | ACCESS_CONF,
                  "tenant (default), subject or shared: who may receive a "
                  "page stored for an authenticated caller"),
    AP_INIT_FLAG("VipCacheStoreCookies", cmd_flag, DIR_OFF(store_cookies),
                 RSRC_CONF | ACCESS_CONF,
                 "On to store responses that set cookies (cookies included)"),
    AP_INIT_ITERATE("VipCacheIgnoreParams", cmd_ignore, NULL,
                    RSRC_CONF | ACCESS_CONF,
                    "query parameters left out of the key and the upstream "
                    "request (name, or prefix*)"),
    AP_INIT_FLAG("VipCacheCollapse", cmd_flag, DIR_OFF(collapse),
                 RSRC_CONF | ACCESS_CONF,
                 "Off to let every miss go to the upstream (default On: one "
                 "request across the cluster fetches, others serve stale or "
                 "wait)"),
    AP_INIT_TAKE1("VipCacheCollapseWait", cmd_wait, NULL, RSRC_CONF | ACCESS_CONF,
                  "milliseconds a miss waits for another request's fetch "
                  "(default 1000)"),
    AP_INIT_TAKE1("VipCacheMaxSize", cmd_max_size, NULL, RSRC_CONF | ACCESS_CONF,
                  "largest body stored, bytes[K|M] (default 1M - 8K)"),
    AP_INIT_TAKE1("VipCacheESI", vip_esi_cmd_mode, DIR_OFF(esi),
                  RSRC_CONF | ACCESS_CONF,
                  "On: assemble ESI pages whose upstream sends Surrogate-"
                  "Control: content=\"ESI/1.0\"; Force: every text/html page; "
                  "Off (default)"),
    AP_INIT_TAKE1("VipCacheESIMaxDepth", vip_esi_cmd_int, DIR_OFF(esi_depth),
                  RSRC_CONF | ACCESS_CONF,
                  "deepest level of nested includes, 1-10 (default 5)"),
    AP_INIT_TAKE1("VipCacheESIMaxIncludes", vip_esi_cmd_int,
                  DIR_OFF(esi_includes), RSRC_CONF | ACCESS_CONF,
                  "includes per page, 1-1000 (default 64)"),
    AP_INIT_TAKE1("VipCacheESITimeout", vip_esi_cmd_int,
                  DIR_OFF(esi_timeout_ms), RSRC_CONF | ACCESS_CONF,
                  "milliseconds for all fragments of a page, 1-300000 "
                  "(default 10000)"),
    AP_INIT_TAKE1("VipCacheESIMaxBytes", vip_esi_cmd_size,
                  DIR_OFF(esi_max_bytes), RSRC_CONF | ACCESS_CONF,
                  "fragment bytes per page, bytes[K|M] up to 64M (default 4M)"),
    AP_INIT_TAKE1("VipCacheESIMaxPageSize", vip_esi_cmd_size,
                  DIR_OFF(esi_max_page), RSRC_CONF | ACCESS_CONF,
                  "largest ESI page held for assembly, bytes[K|M] up to 64M "
                  "(default 1M)"),
    { NULL }
};
