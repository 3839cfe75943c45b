/*
 * limit_config.c - mod_vip_limit directives, merge rules and getters.
 *
 *   VipLimitZone name key=ip|ip6/64|tenant|subject|route|tenant+route|
 *                expr:<ap_expr> [entries=N | size=BYTES] [full=open|deny]
 *   VipLimit zone rate=N/unit [burst=N] [quota=N/unit] [concurrency=N]
 *                 [name=id] | VipLimit zone off
 *   VipLimitPlan plan zone <limit...>
 *   VipLimitRoute route zone <limit...>
 *   VipLimitHeaders ietf|ietf+legacy|off
 *   VipLimitDryRun on|off
 *
 * Everything is checked here, while httpd reads its configuration, so
 * `apachectl -t` reports every mistake with the directive's name; the
 * shared memory itself is made in post_config (limit_shm.c).
 */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_strings.h"
#include "apr_lib.h"

#include "vip_common.h"
#include "vip_config.h"
#include "limit_config.h"
#include "limit_lease.h"
#include "limit_rate.h"

extern VIP_MODULE_EXPORT module AP_MODULE_DECLARE_DATA vip_limit_module;

/* The main server's config while the configuration is read: zones are
 * global (one table each for the whole server), virtual hosts name the
 * main server's zones.  Only touched by directive handlers, which run
 * single-threaded. */
static vip_limit_srv_conf *main_conf;

void *vip_limit_create_srv(apr_pool_t *p, server_rec *s)
{
    vip_limit_srv_conf *c = apr_pcalloc(p, sizeof(*c));

    c->rules = apr_array_make(p, 2, sizeof(vip_limit_rule *));
    c->off = apr_array_make(p, 1, sizeof(const char *));
    c->plans = apr_hash_make(p);
    c->routes = apr_hash_make(p);
    c->zones = apr_hash_make(p);
    c->deferred = apr_hash_make(p);
    c->deferred_zones = apr_hash_make(p);
    if (!s->is_virtual) {
        main_conf = c;
    }
    return c;
}

void *vip_limit_create_dir(apr_pool_t *p, char *dir)
{
    vip_limit_dir_conf *c = apr_pcalloc(p, sizeof(*c));

    c->rules = apr_array_make(p, 2, sizeof(vip_limit_rule *));
    c->off = apr_array_make(p, 1, sizeof(const char *));
    c->headers = -1;
    c->dry_run = -1;
    return c;
}

static int zone_off(const apr_array_header_t *off, const vip_limit_zone *z)
{
    int i;

    for (i = 0; i < off->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(off, i, const char *), z->name) == 0) {
            return 1;
        }
    }
    return 0;
}

static const vip_limit_rule *find_rule(const apr_array_header_t *rules,
                                       const char *name)
{
    int i;

    for (i = 0; i < rules->nelts; i++) {
        const vip_limit_rule *r = APR_ARRAY_IDX(rules, i, vip_limit_rule *);
        if (strcmp(r->name, name) == 0) {
            return r;
        }
    }
    return NULL;
}

/* The parent's rules, less those on zones switched off here and those a
 * rule of the same name here replaces, then this level's, in order. */
static apr_array_header_t *overlay(apr_pool_t *p,
                                   apr_array_header_t *base,
                                   const apr_array_header_t *off,
                                   apr_array_header_t *add)
{
    apr_array_header_t *out;
    int i;

    if (!add->nelts && !off->nelts) {
        return base;
    }
    if (!base->nelts && !off->nelts) {
        return add;
    }
    out = apr_array_make(p, base->nelts + add->nelts,
                         sizeof(vip_limit_rule *));
    for (i = 0; i < base->nelts; i++) {
        vip_limit_rule *r = APR_ARRAY_IDX(base, i, vip_limit_rule *);
        if (!zone_off(off, r->zone) && !find_rule(add, r->name)) {
            APR_ARRAY_PUSH(out, vip_limit_rule *) = r;
        }
    }
    for (i = 0; i < add->nelts; i++) {
        APR_ARRAY_PUSH(out, vip_limit_rule *) =
            APR_ARRAY_IDX(add, i, vip_limit_rule *);
    }
    return out;
}

void *vip_limit_merge_srv(apr_pool_t *p, void *basev, void *addv)
{
    vip_limit_srv_conf *base = basev, *add = addv;
    vip_limit_srv_conf *c = apr_pcalloc(p, sizeof(*c));

    c->rules = overlay(p, base->rules, add->off, add->rules);
    c->off = add->off;
    /* per plan / route: a virtual host's list replaces the main one's */
    c->plans = apr_hash_overlay(p, add->plans, base->plans);
    c->routes = apr_hash_overlay(p, add->routes, base->routes);
    /* main-server locations apply in virtual hosts too: the union */
    c->deferred = apr_hash_overlay(p, add->deferred, base->deferred);
    c->deferred_zones = apr_hash_overlay(p, add->deferred_zones,
                                         base->deferred_zones);
    /* zones are global: the main server's table of them, and the one
     * VipLimitCluster they use */
    c->zones = base->zones;
    c->cluster = base->cluster;
    return c;
}

/* Nothing set at this level (no rules, zones off, headers, dry run). */
static int dir_empty(const vip_limit_dir_conf *d)
{
    return !d->rules->nelts && !d->off->nelts && d->headers == -1
           && d->dry_run == -1;
}

void *vip_limit_merge_dir(apr_pool_t *p, void *basev, void *addv)
{
    vip_limit_dir_conf *base = basev, *add = addv;
    vip_limit_dir_conf *c;

    /* httpd merges per request for <Location>: when one side sets
     * nothing the merge is the other side, shared, not a copy (configs
     * are never written after start-up) */
    if (dir_empty(base)) {
        return add;
    }
    if (dir_empty(add)) {
        return base;
    }
    c = apr_pcalloc(p, sizeof(*c));
    c->rules = overlay(p, base->rules, add->off, add->rules);
    /* accumulated: a zone switched off above stays off for the server's
     * rules below (a nested location may add a rule of its own on it) */
    c->off = !add->off->nelts ? base->off
             : !base->off->nelts ? add->off
             : apr_array_append(p, base->off, add->off);
    c->headers = add->headers != -1 ? add->headers : base->headers;
    c->dry_run = add->dry_run != -1 ? add->dry_run : base->dry_run;
    return c;
}

const vip_limit_srv_conf *vip_limit_srv(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &vip_limit_module);
}

const vip_limit_dir_conf *vip_limit_dir(const request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &vip_limit_module);
}

int vip_limit_headers(const vip_limit_dir_conf *d)
{
    return d->headers == -1 ? VIP_LIMIT_HDR_IETF : d->headers;
}

int vip_limit_deferred(const vip_limit_srv_conf *s, const vip_limit_rule *r)
{
    return apr_hash_get(s->deferred, r->name, APR_HASH_KEY_STRING)
           || apr_hash_get(s->deferred_zones, r->zone->name,
                           APR_HASH_KEY_STRING);
}

int vip_limit_dry_run(const vip_limit_dir_conf *d)
{
    return d->dry_run == 1;
}

static vip_limit_srv_conf *srv_conf(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config, &vip_limit_module);
}

/* ---- VipLimitZone ------------------------------------------------------- */

/* "4096", "64k", "2M": bytes; 0 when not a size. */
static apr_uint64_t parse_size(const char *v)
{
    char *end;
    apr_int64_t n;

    if (!apr_isdigit(*v)) {
        return 0;
    }
    n = apr_strtoi64(v, &end, 10);
    if (n <= 0 || n > (APR_INT64_C(1) << 40)) {
        return 0;
    }
    if (*end == 'k' || *end == 'K') {
        n *= 1024;
        end++;
    }
    else if (*end == 'm' || *end == 'M') {
        n *= 1024 * 1024;
        end++;
    }
    return *end ? 0 : (apr_uint64_t)n;
}

static const char *cmd_zone(cmd_parms *cmd, void *dc, const char *args)
{
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);
    vip_limit_zone *z;
    const char *w;
    apr_uint64_t size = 0;
    int have_entries = 0;

    if (err) {
        return err;
    }
    if (cmd->server->is_virtual || !main_conf) {
        return apr_psprintf(cmd->pool, "%s: zones are shared by the whole "
                            "server: declare them outside <VirtualHost>",
                            cmd->cmd->name);
    }
    z = apr_pcalloc(cmd->pool, sizeof(*z));
    z->entries = VIP_LIMIT_DEFAULT_ENTRIES;
    z->name = ap_getword_conf(cmd->pool, &args);
    if (!vip_id_valid(z->name, 1, 32)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a zone name (1-32 "
                            "characters of [A-Za-z0-9._-])", cmd->cmd->name,
                            z->name);
    }
    if (apr_hash_get(main_conf->zones, z->name, APR_HASH_KEY_STRING)) {
        return apr_psprintf(cmd->pool, "%s: zone '%s' is already declared",
                            cmd->cmd->name, z->name);
    }
    while (*args && *(w = ap_getword_conf(cmd->pool, &args))) {
        if (strncmp(w, "key=", 4) == 0 && !z->key) {
            const char *k = w + 4;
            z->key_text = k;
            if (strcmp(k, "ip") == 0) {
                z->key = VIP_LIMIT_KEY_IP;
            }
            else if (strcmp(k, "ip6/64") == 0) {
                z->key = VIP_LIMIT_KEY_IP64;
            }
            else if (strcmp(k, "tenant") == 0) {
                z->key = VIP_LIMIT_KEY_TENANT;
            }
            else if (strcmp(k, "subject") == 0) {
                z->key = VIP_LIMIT_KEY_SUBJECT;
            }
            else if (strcmp(k, "route") == 0) {
                z->key = VIP_LIMIT_KEY_ROUTE;
            }
            else if (strcmp(k, "tenant+route") == 0) {
                z->key = VIP_LIMIT_KEY_TENANT_ROUTE;
            }
            else if (strncmp(k, "expr:", 5) == 0) {
                const char *experr = NULL;
                z->key = VIP_LIMIT_KEY_EXPR;
                z->expr = ap_expr_parse_cmd(cmd, k + 5,
                                            AP_EXPR_FLAG_STRING_RESULT,
                                            &experr, NULL);
                if (experr || !k[5]) {
                    return apr_psprintf(cmd->pool, "%s %s: cannot parse the "
                                        "key expression '%s': %s",
                                        cmd->cmd->name, z->name, k + 5,
                                        experr ? experr : "it is empty");
                }
            }
            else {
                return apr_psprintf(cmd->pool, "%s %s: unknown key '%s' (ip, "
                                    "ip6/64, tenant, subject, route, "
                                    "tenant+route or expr:<expression>)",
                                    cmd->cmd->name, z->name, k);
            }
        }
        else if (strncmp(w, "entries=", 8) == 0 && !have_entries && !size) {
            int n;
            if (!vip_parse_int(w + 8, VIP_LIMIT_MIN_ENTRIES,
                               VIP_LIMIT_MAX_ENTRIES, &n)) {
                return apr_psprintf(cmd->pool, "%s %s: '%s': entries must be "
                                    "%u-%u", cmd->cmd->name, z->name, w,
                                    VIP_LIMIT_MIN_ENTRIES,
                                    VIP_LIMIT_MAX_ENTRIES);
            }
            z->entries = (apr_uint32_t)n;
            have_entries = 1;
        }
        else if (strncmp(w, "size=", 5) == 0 && !have_entries && !size) {
            apr_size_t min = vip_limit_table_size(VIP_LIMIT_MIN_ENTRIES);
            size = parse_size(w + 5);
            if (!size) {
                return apr_psprintf(cmd->pool, "%s %s: '%s': a size is bytes, "
                                    "or a number with k or M", cmd->cmd->name,
                                    z->name, w);
            }
            if (size < min) {
                return apr_psprintf(cmd->pool, "%s %s: '%s' is below the "
                                    "minimum of %" APR_SIZE_T_FMT " bytes "
                                    "(%u entries of 32 bytes and a 128-byte "
                                    "header)", cmd->cmd->name, z->name, w,
                                    min, VIP_LIMIT_MIN_ENTRIES);
            }
            z->entries = vip_limit_table_fit((apr_size_t)size);
        }
        else if (strcmp(w, "store=local") == 0) {
            z->cluster = 0;
        }
        else if (strcmp(w, "store=cluster") == 0) {
            z->cluster = 1;
        }
        else if (strcmp(w, "full=open") == 0) {
            z->full_deny = 0;
        }
        else if (strcmp(w, "full=deny") == 0) {
            z->full_deny = 1;
        }
        else {
            return apr_psprintf(cmd->pool, "%s %s: bad or repeated option "
                                "'%s' (known: key=, entries= or size=, "
                                "full=open|deny, store=local|cluster)", cmd->cmd->name, z->name, w);
        }
    }
    if (!z->key) {
        return apr_psprintf(cmd->pool, "%s %s: say what to count by with "
                            "key=ip|ip6/64|tenant|subject|route|tenant+route|"
                            "expr:<expression>", cmd->cmd->name, z->name);
    }
    apr_hash_set(main_conf->zones, z->name, APR_HASH_KEY_STRING, z);
    return NULL;
}

/* ---- rules ---------------------------------------------------------------- */

/* "zone word..." into a rule; prefix names the default counter name. */
static const char *make_rule(cmd_parms *cmd, const char *args,
                             const char *prefix, const char *what,
                             vip_limit_rule **out, const char **off_zone)
{
    vip_limit_rule *r = apr_pcalloc(cmd->pool, sizeof(*r));
    vip_limit_spec spec;
    const char *zname = ap_getword_conf(cmd->temp_pool, &args);
    const char *w, *err;
    char *b;
    int kind;

    *out = NULL;
    *off_zone = NULL;
    memset(&spec, 0, sizeof(spec));
    if (!*zname) {
        return apr_psprintf(cmd->pool, "%s%s: name a zone and the limit, e.g. "
                            "%s%s perip rate=10/s burst=20", cmd->cmd->name,
                            what, cmd->cmd->name, what);
    }
    r->zone = main_conf ? apr_hash_get(main_conf->zones, zname,
                                       APR_HASH_KEY_STRING) : NULL;
    if (!r->zone) {
        return apr_psprintf(cmd->pool, "%s%s: unknown zone '%s' (declare it "
                            "with VipLimitZone before the limits using it)",
                            cmd->cmd->name, what, zname);
    }
    if (strcmp(args, "off") == 0 || strcmp(args, "Off") == 0) {
        *off_zone = r->zone->name;
        return NULL;
    }
    while (*args && *(w = ap_getword_conf(cmd->temp_pool, &args))) {
        if ((err = vip_limit_spec_word(cmd->temp_pool, &spec, w))) {
            return apr_psprintf(cmd->pool, "%s%s %s: %s", cmd->cmd->name,
                                what, zname, err);
        }
    }
    if ((err = vip_limit_spec_done(cmd->temp_pool, &spec))) {
        return apr_psprintf(cmd->pool, "%s%s %s: %s", cmd->cmd->name, what,
                            zname, err);
    }
    r->name = spec.name ? apr_pstrdup(cmd->pool, spec.name)
                        : apr_pstrcat(cmd->pool, prefix, r->zone->name, NULL);
    if (spec.rate_count) {
        vip_gcra_init(&r->rate, spec.rate_count, spec.rate_period, spec.burst);
    }
    r->quota.limit = spec.quota_count;
    r->quota.window_s = spec.quota_window;
    r->concurrency = spec.concurrency;
    r->early = r->zone->key == VIP_LIMIT_KEY_IP
               || r->zone->key == VIP_LIMIT_KEY_IP64;
    /* "name\0": every counter of this rule hashes from it */
    r->bucket_len = strlen(r->name) + 1;
    b = apr_palloc(cmd->pool, r->bucket_len);
    memcpy(b, r->name, r->bucket_len);
    r->bucket = b;
    if (r->rate.count) {
        r->id[VIP_LIMIT_KIND_RATE] = apr_pstrcat(cmd->pool, r->name, ".rate",
                                                 NULL);
        r->policy[VIP_LIMIT_KIND_RATE] =
            apr_psprintf(cmd->pool, "\"%s\";q=%u;w=%u",
                         r->id[VIP_LIMIT_KIND_RATE], r->rate.count,
                         r->rate.period_s);
    }
    if (r->quota.limit) {
        r->id[VIP_LIMIT_KIND_QUOTA] = apr_pstrcat(cmd->pool, r->name,
                                                  ".quota", NULL);
        r->policy[VIP_LIMIT_KIND_QUOTA] =
            apr_psprintf(cmd->pool, "\"%s\";q=%u;w=%u",
                         r->id[VIP_LIMIT_KIND_QUOTA], r->quota.limit,
                         r->quota.window_s);
    }
    if (r->concurrency) {
        r->id[VIP_LIMIT_KIND_CONC] = apr_pstrcat(cmd->pool, r->name, ".conc",
                                                 NULL);
        r->policy[VIP_LIMIT_KIND_CONC] =
            apr_psprintf(cmd->pool, "\"%s\";q=%u;qu=\"concurrent-requests\"",
                         r->id[VIP_LIMIT_KIND_CONC], r->concurrency);
    }
    for (kind = 0; kind < 4; kind++) {
        if (r->id[kind]) {
            r->item_head[kind] = apr_pstrcat(cmd->pool, "\"", r->id[kind],
                                             "\";r=", NULL);
            r->item_head_len[kind] = strlen(r->item_head[kind]);
        }
    }
    *out = r;
    return NULL;
}

static const char *add_rule(cmd_parms *cmd, apr_array_header_t *rules,
                            vip_limit_rule *r)
{
    if (find_rule(rules, r->name)) {
        return apr_psprintf(cmd->pool, "%s: a limit named '%s' is already "
                            "set here (put rate=, quota= and concurrency= on "
                            "one line, or give name=)", cmd->cmd->name,
                            r->name);
    }
    APR_ARRAY_PUSH(rules, vip_limit_rule *) = r;
    return NULL;
}

static const char *cmd_limit(cmd_parms *cmd, void *dcv, const char *args)
{
    vip_limit_dir_conf *dc = dcv;
    vip_limit_rule *r;
    const char *off, *err = make_rule(cmd, args, "", "", &r, &off);
    apr_array_header_t *rules, *offs;

    if (err) {
        return err;
    }
    if (cmd->path) {
        rules = dc->rules;
        offs = dc->off;
        /* The server's IP rule of that name (or on that zone) must wait
         * for the location to be known. */
        if (off) {
            apr_hash_set(srv_conf(cmd)->deferred_zones, off,
                         APR_HASH_KEY_STRING, "");
        }
        else if (r->early) {
            apr_hash_set(srv_conf(cmd)->deferred, r->name,
                         APR_HASH_KEY_STRING, "");
        }
    }
    else {
        rules = srv_conf(cmd)->rules;
        offs = srv_conf(cmd)->off;
    }
    if (off) {
        APR_ARRAY_PUSH(offs, const char *) = off;
        return NULL;
    }
    return add_rule(cmd, rules, r);
}

static const char *cmd_keyed(cmd_parms *cmd, const char *args, apr_hash_t *h,
                             const char *kind)
{
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);
    const char *id, *off;
    apr_array_header_t *rules;
    vip_limit_rule *r;

    if (err) {
        return err;
    }
    id = ap_getword_conf(cmd->pool, &args);
    if (!vip_id_valid(id, 1, 64)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a %s name (1-64 "
                            "characters of [A-Za-z0-9._-])", cmd->cmd->name,
                            id, kind);
    }
    err = make_rule(cmd, args, apr_pstrcat(cmd->temp_pool, id, ".", NULL),
                    apr_pstrcat(cmd->temp_pool, " ", id, NULL), &r, &off);
    if (err) {
        return err;
    }
    if (off) {
        return apr_psprintf(cmd->pool, "%s %s: 'off' is for VipLimit; leave "
                            "the line out instead", cmd->cmd->name, id);
    }
    rules = apr_hash_get(h, id, APR_HASH_KEY_STRING);
    if (!rules) {
        rules = apr_array_make(cmd->pool, 2, sizeof(vip_limit_rule *));
        apr_hash_set(h, id, APR_HASH_KEY_STRING, rules);
    }
    return add_rule(cmd, rules, r);
}

static const char *cmd_plan(cmd_parms *cmd, void *dc, const char *args)
{
    return cmd_keyed(cmd, args, srv_conf(cmd)->plans, "plan");
}

static const char *cmd_route(cmd_parms *cmd, void *dc, const char *args)
{
    return cmd_keyed(cmd, args, srv_conf(cmd)->routes, "route");
}

/* ---- VipLimitCluster ------------------------------------------------------ */

static const char *cmd_cluster(cmd_parms *cmd, void *dc, const char *args)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    vip_limit_cluster_conf *cl;
    const char *w;
    int auto_nodes = 0, heartbeat = 0;

    if (err) {
        return err;
    }
    if (!main_conf) {
        return apr_psprintf(cmd->pool, "%s: no server configuration",
                            cmd->cmd->name);
    }
    if (main_conf->cluster) {
        return apr_psprintf(cmd->pool, "%s: given twice; list every "
                            "memcached server on one line", cmd->cmd->name);
    }
    cl = apr_pcalloc(cmd->pool, sizeof(*cl));
    cl->store.connect_ms = VIP_LIMIT_CLUSTER_CONNECT_MS;
    cl->store.io_ms = VIP_LIMIT_CLUSTER_IO_MS;
    cl->store.retry_s = VIP_LIMIT_CLUSTER_RETRY_S;
    cl->store.dead_s = VIP_LIMIT_CLUSTER_DEAD_S;
    cl->batch = VIP_LIMIT_CLUSTER_BATCH;
    cl->lease_s = VIP_LIMIT_CLUSTER_LEASE_S;
    cl->heartbeat_s = VIP_LIMIT_CLUSTER_HEARTBEAT_S;
    while (*args && *(w = ap_getword_conf(cmd->pool, &args))) {
        const char *eq = strchr(w, '=');
        if (strcmp(w, "nodes=auto") == 0) {
            auto_nodes = 1;
            continue;
        }
        if (eq && !strchr(w, ':')) {
            apr_size_t n = (apr_size_t)(eq - w);
            int v, *slot = NULL, lo = 1, hi = 60000;
            apr_uint32_t *uslot = NULL;
#define OPT(name) (n == sizeof(name) - 1 && strncmp(w, name, n) == 0)
            if (OPT("connect_timeout")) {
                slot = &cl->store.connect_ms;
            }
            else if (OPT("timeout")) {
                slot = &cl->store.io_ms;
            }
            else if (OPT("retry")) {
                slot = &cl->store.retry_s, lo = 1, hi = 3600;
            }
            else if (OPT("dead_retry")) {
                slot = &cl->store.dead_s, lo = 0, hi = 3600;
            }
            else if (OPT("nodes")) {
                uslot = &cl->nodes, lo = 1, hi = VIP_LEASE_MAX_NODES;
            }
            else if (OPT("batch")) {
                uslot = &cl->batch, lo = 1, hi = VIP_LEASE_MAX_BATCH;
            }
            else if (OPT("lease")) {
                uslot = &cl->lease_s, lo = 1, hi = 3600;
            }
            else if (OPT("heartbeat")) {
                uslot = &cl->heartbeat_s, lo = 1, hi = 3600;
                heartbeat = 1;
            }
#undef OPT
            if ((!slot && !uslot) || !vip_parse_int(eq + 1, lo, hi, &v)) {
                return apr_psprintf(cmd->pool, "%s: bad option '%s' (known: "
                                    "nodes=1-%u or nodes=auto, heartbeat=s "
                                    "1-3600, batch=1-%u, lease=s 1-3600, "
                                    "connect_timeout=ms and timeout=ms "
                                    "1-60000, retry=s 1-3600, dead_retry=s "
                                    "0-3600)", cmd->cmd->name, w,
                                    VIP_LEASE_MAX_NODES, VIP_LEASE_MAX_BATCH);
            }
            if (slot) {
                *slot = v;
            }
            else {
                *uslot = (apr_uint32_t)v;
            }
            continue;
        }
        if ((err = vip_store_parse_server(cmd->pool, &cl->store, w))) {
            return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err);
        }
    }
    if (!cl->store.servers) {
        return apr_psprintf(cmd->pool, "%s: name at least one memcached "
                            "server as host:port", cmd->cmd->name);
    }
    if (auto_nodes && cl->nodes) {
        return apr_psprintf(cmd->pool, "%s: nodes=%u and nodes=auto: say "
                            "one", cmd->cmd->name, cl->nodes);
    }
    if (!cl->nodes && !auto_nodes) {
        return apr_psprintf(cmd->pool, "%s: say how many httpd nodes share "
                            "the limits with nodes=N, or nodes=auto to count "
                            "them through memcached (each node enforces "
                            "limit / N on its own while memcached is down)",
                            cmd->cmd->name);
    }
    if (heartbeat && !auto_nodes) {
        return apr_psprintf(cmd->pool, "%s: heartbeat= only applies with "
                            "nodes=auto", cmd->cmd->name);
    }
    if (cl->store.io_ms > cl->store.retry_s * 1000) {
        return apr_psprintf(cmd->pool, "%s: timeout=%d ms is longer than "
                            "retry=%d s: the breaker would close before a "
                            "call could time out", cmd->cmd->name,
                            cl->store.io_ms, cl->store.retry_s);
    }
    main_conf->cluster = cl;
    return NULL;
}

static const char *cmd_headers(cmd_parms *cmd, void *dcv, const char *arg)
{
    vip_limit_dir_conf *dc = dcv;

    if (strcasecmp(arg, "ietf") == 0) {
        dc->headers = VIP_LIMIT_HDR_IETF;
    }
    else if (strcasecmp(arg, "ietf+legacy") == 0) {
        dc->headers = VIP_LIMIT_HDR_LEGACY;
    }
    else if (strcasecmp(arg, "off") == 0) {
        dc->headers = VIP_LIMIT_HDR_OFF;
    }
    else {
        return apr_psprintf(cmd->pool, "%s: '%s' is not ietf, ietf+legacy or "
                            "off", cmd->cmd->name, arg);
    }
    return NULL;
}

static const char *cmd_dry_run(cmd_parms *cmd, void *dcv, int on)
{
    ((vip_limit_dir_conf *)dcv)->dry_run = on ? 1 : 0;
    return NULL;
}

const command_rec vip_limit_cmds[] = {
    AP_INIT_RAW_ARGS("VipLimitZone", cmd_zone, NULL, RSRC_CONF,
                     "name key=ip|ip6/64|tenant|subject|route|tenant+route|"
                     "expr:<expression> [entries=N|size=bytes] "
                     "[full=open|deny] [store=local|cluster]: a table of "
                     "counters in shared memory (and memcached)"),
    AP_INIT_RAW_ARGS("VipLimitCluster", cmd_cluster, NULL, RSRC_CONF,
                     "host:port... nodes=N|auto [heartbeat=s] [batch=k] "
                     "[lease=s] "
                     "[connect_timeout=ms] [timeout=ms] [retry=s] "
                     "[dead_retry=s]: the memcached cluster of the "
                     "store=cluster zones"),
    AP_INIT_RAW_ARGS("VipLimit", cmd_limit, NULL, RSRC_CONF | ACCESS_CONF,
                     "zone [rate=N/unit [burst=N]] [quota=N/min|hour|day] "
                     "[concurrency=N] [name=id], or zone off"),
    AP_INIT_RAW_ARGS("VipLimitPlan", cmd_plan, NULL, RSRC_CONF,
                     "plan zone <limits as for VipLimit>: limits for the "
                     "tenants on a plan"),
    AP_INIT_RAW_ARGS("VipLimitRoute", cmd_route, NULL, RSRC_CONF,
                     "route zone <limits as for VipLimit>: limits for the "
                     "requests of a mod_vip_route route"),
    AP_INIT_TAKE1("VipLimitHeaders", cmd_headers, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "ietf (default), ietf+legacy or off: RateLimit header "
                  "fields on responses"),
    AP_INIT_FLAG("VipLimitDryRun", cmd_dry_run, NULL, RSRC_CONF | ACCESS_CONF,
                 "On: decide and log, never refuse"),
    { NULL }
};
