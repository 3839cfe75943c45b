/*
 * cache_esi_conf.c - the ESI directives of mod_vip_cache (their fields
 * live in vip_cache_dir_conf, merged by cache_config.c) and the getters
 * that apply the defaults of cache_esi_filter.h.
 */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "apr_lib.h"
#include "apr_strings.h"

#include "vip_config.h"
#include "cache_config.h"
#include "cache_esi.h"
#include "cache_esi_filter.h"

int vip_esi_mode(const vip_cache_dir_conf *c)
{
    return c->esi >= 0 ? c->esi : VIP_ESI_OFF;
}

int vip_esi_depth(const vip_cache_dir_conf *c)
{
    return c->esi_depth > 0 ? c->esi_depth : VIP_ESI_DEPTH_DEFAULT;
}

int vip_esi_includes(const vip_cache_dir_conf *c)
{
    return c->esi_includes > 0 ? c->esi_includes
                               : VIP_ESI_MAX_INCLUDES_DEFAULT;
}

apr_interval_time_t vip_esi_timeout(const vip_cache_dir_conf *c)
{
    return apr_time_from_msec(c->esi_timeout_ms > 0 ? c->esi_timeout_ms
                                                    : VIP_ESI_TIMEOUT_DEFAULT_MS);
}

apr_size_t vip_esi_max_bytes(const vip_cache_dir_conf *c)
{
    return c->esi_max_bytes ? c->esi_max_bytes : VIP_ESI_BYTES_DEFAULT;
}

apr_size_t vip_esi_max_page(const vip_cache_dir_conf *c)
{
    return c->esi_max_page ? c->esi_max_page : VIP_ESI_PAGE_DEFAULT;
}

const char *vip_esi_cmd_mode(cmd_parms *cmd, void *dc, const char *arg)
{
    int *slot = (int *)((char *)dc + (apr_size_t)cmd->info);

    if (strcasecmp(arg, "on") == 0) {
        *slot = VIP_ESI_ON;
    }
    else if (strcasecmp(arg, "off") == 0) {
        *slot = VIP_ESI_OFF;
    }
    else if (strcasecmp(arg, "force") == 0) {
        *slot = VIP_ESI_FORCE;
    }
    else {
        return apr_psprintf(cmd->pool, "%s: '%s' is not On, Off or Force",
                            cmd->cmd->name, arg);
    }
    return NULL;
}

const char *vip_esi_cmd_int(cmd_parms *cmd, void *dc, const char *arg)
{
    vip_cache_dir_conf *c = dc;
    int *slot = (int *)((char *)dc + (apr_size_t)cmd->info);
    long hi = slot == &c->esi_depth ? VIP_ESI_DEPTH_MAX
              : slot == &c->esi_includes ? VIP_ESI_INCLUDES_MAX
              : VIP_ESI_TIMEOUT_MAX_MS;

    if (!vip_parse_int(arg, 1, hi, slot)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a number from 1 to "
                            "%ld", cmd->cmd->name, arg, hi);
    }
    return NULL;
}

const char *vip_esi_cmd_size(cmd_parms *cmd, void *dc, const char *arg)
{
    apr_size_t *slot = (apr_size_t *)((char *)dc + (apr_size_t)cmd->info);
    apr_size_t n = strlen(arg), mult = 1;
    char *num = apr_pstrdup(cmd->temp_pool, arg);
    int v;

    if (n > 1 && apr_toupper(arg[n - 1]) == 'K') {
        mult = 1024;
        num[n - 1] = '\0';
    }
    else if (n > 1 && apr_toupper(arg[n - 1]) == 'M') {
        mult = 1024 * 1024;
        num[n - 1] = '\0';
    }
    if (!vip_parse_int(num, 1, VIP_ESI_PAGE_MAX, &v)
        || (apr_size_t)v * mult > VIP_ESI_PAGE_MAX) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a size from 1 byte "
                            "to 64M (bytes, or with K or M)", cmd->cmd->name,
                            arg);
    }
    *slot = (apr_size_t)v * mult;
    return NULL;
}
