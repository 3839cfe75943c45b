/*
 * cache_esi_filter.h - the ESI output filter of mod_vip_cache: assembles
 * pages marked Surrogate-Control: content="ESI/1.0" from fragments, each
 * looked up in ONE memcached multi-get per page and fetched as a GET
 * subrequest (routing, auth identity, page cache) only when it misses.
 * docs/esi.md section 6 describes the behaviour; THREATS.md 2.4 the
 * threats it answers.
 */
#ifndef VIP_CACHE_ESI_FILTER_H
#define VIP_CACHE_ESI_FILTER_H

#include "httpd.h"
#include "http_config.h"

#include "cache_config.h"

#define VIP_ESI_FILTER         "VIP_ESI"
#define VIP_ESI_CAPTURE_FILTER "VIP_ESI_CAPTURE"

/* VipCacheESI */
#define VIP_ESI_OFF    0
#define VIP_ESI_ON     1          /* when the upstream opts in */
#define VIP_ESI_FORCE  2          /* every text/html 200 response */

/* Defaults and hard maxima of the per-page limits (THREATS E3, E4). */
#define VIP_ESI_DEPTH_DEFAULT      5
#define VIP_ESI_DEPTH_MAX          10
#define VIP_ESI_INCLUDES_MAX       1000
#define VIP_ESI_BYTES_DEFAULT      (4 * 1024 * 1024)
#define VIP_ESI_BYTES_MAX          (64 * 1024 * 1024)
#define VIP_ESI_PAGE_DEFAULT       (1024 * 1024)
#define VIP_ESI_PAGE_MAX           (64 * 1024 * 1024)
#define VIP_ESI_TIMEOUT_DEFAULT_MS 10000
#define VIP_ESI_TIMEOUT_MAX_MS     300000

/* Shared counters (part of the module's counters in shared memory). */
typedef struct {
    volatile apr_uint64_t pages;         /* pages assembled or failed */
    volatile apr_uint64_t includes;      /* includes met */
    volatile apr_uint64_t hits;          /* fragments from the multi-get */
    volatile apr_uint64_t misses;        /* fragments fetched by subrequest */
    volatile apr_uint64_t errors;        /* fragments that failed */
    volatile apr_uint64_t failed_pages;  /* pages answered 502 */
    volatile apr_uint64_t limits;        /* pages that hit a limit */
    volatile apr_uint64_t markup_errors; /* parser error events */
    volatile apr_uint64_t unprocessed;   /* opted in but encoded / not 200 */
} vip_esi_counters;

/* Directive handlers, in vip_cache_cmds (cmd->info: the field offset in
 * vip_cache_dir_conf). */
const char *vip_esi_cmd_mode(cmd_parms *cmd, void *dc, const char *arg);
const char *vip_esi_cmd_int(cmd_parms *cmd, void *dc, const char *arg);
const char *vip_esi_cmd_size(cmd_parms *cmd, void *dc, const char *arg);

/* The values in effect for a location, defaults applied
 * (cache_esi_conf.c). */
int vip_esi_mode(const vip_cache_dir_conf *c);
int vip_esi_depth(const vip_cache_dir_conf *c);
int vip_esi_includes(const vip_cache_dir_conf *c);
apr_interval_time_t vip_esi_timeout(const vip_cache_dir_conf *c);
apr_size_t vip_esi_max_bytes(const vip_cache_dir_conf *c);
apr_size_t vip_esi_max_page(const vip_cache_dir_conf *c);

/* Register the filters and the hooks (from register_hooks). */
void vip_esi_register(apr_pool_t *p);

/* 1 when r is a fragment subrequest being looked up or run by the ESI
 * filter: the page cache serves and stores such subrequests. */
int vip_esi_fragment_request(const request_rec *r);

/* The counters as members of the status handler's JSON object. */
void vip_esi_status_add(void *json_obj);

#endif
