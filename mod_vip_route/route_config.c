/*
 * route_config.c - mod_vip_route directives.
 *
 *   VipRouteService name url... [option=value...]
 *   VipRoute name [METHOD,...] template service [option=value...]
 *   VipRouteScope prefix...
 *
 * A service becomes a mod_proxy balancer, "balancer://vip.<name>", so the
 * transport is mod_proxy_http with its pooled keep-alive connections, and
 * member failover and cool-down are mod_proxy_balancer's, kept in shared
 * memory for all children.  The balancer is declared by feeding httpd's
 * own <Proxy> syntax through the configuration parser right here, so
 * mod_proxy validates every member and option as if the admin had typed
 * it.  Routes whose timeouts or retries differ from their service get a
 * balancer of their own with the same members.  Everything is checked
 * while httpd reads its configuration, so `apachectl -t` reports it.
 */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "util_cfgtree.h"
#include "apr_strings.h"
#include "apr_lib.h"
#include "apr_uri.h"

#include "vip_common.h"
#include "vip_config.h"
#include "route_config.h"
#include "route_proxy.h"

extern VIP_MODULE_EXPORT module AP_MODULE_DECLARE_DATA vip_route_module;

/* The main server's config while the configuration is read, so that a
 * virtual host's routes can name services of the main server.  Only
 * touched by directive handlers, which run single-threaded. */
static vip_route_srv_conf *main_conf;

void *vip_route_create_srv(apr_pool_t *p, server_rec *s)
{
    vip_route_srv_conf *c = apr_pcalloc(p, sizeof(*c));

    c->services = apr_hash_make(p);
    c->names = apr_hash_make(p);
    c->balancers = apr_hash_make(p);
    c->table = vip_route_table_make(p);
    c->scopes = apr_array_make(p, 2, sizeof(const char *));
    c->uses_identity = 0;
    c->nroutes = 0;
    if (!s->is_virtual) {
        main_conf = c;
    }
    return c;
}

void *vip_route_merge_srv(apr_pool_t *p, void *basev, void *addv)
{
    const vip_route_srv_conf *base = basev, *add = addv;
    vip_route_srv_conf *c = apr_pcalloc(p, sizeof(*c));

    /* A virtual host with routes of its own has exactly those; one
     * without any uses the main server's table, scopes included. */
    c->services = apr_hash_overlay(p, add->services, base->services);
    /* Only read while the configuration is parsed, per server. */
    c->names = add->names;
    c->balancers = add->balancers;
    if (add->nroutes > 0) {
        c->table = add->table;
        c->nroutes = add->nroutes;
        c->uses_identity = add->uses_identity;
    }
    else {
        c->table = base->table;
        c->nroutes = base->nroutes;
        c->uses_identity = base->uses_identity;
    }
    c->scopes = add->scopes->nelts ? add->scopes : base->scopes;
    return c;
}

const vip_route_srv_conf *vip_route_srv(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &vip_route_module);
}

static vip_route_srv_conf *srv_conf(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config, &vip_route_module);
}

/* ---- feeding generated <Proxy> sections to the config parser ----------- */

typedef struct {
    apr_array_header_t *lines;
    int next;
} text_src;

static apr_status_t text_getstr(void *buf, apr_size_t size, void *param)
{
    text_src *t = param;
    const char *line;

    if (t->next >= t->lines->nelts) {
        return APR_EOF;
    }
    line = APR_ARRAY_IDX(t->lines, t->next++, const char *);
    apr_cpystrn(buf, line, size);
    return APR_SUCCESS;
}

static apr_status_t text_close(void *param)
{
    return APR_SUCCESS;
}

/* Parse and run lines as if they stood where the directive stands. */
static const char *run_config(cmd_parms *cmd, apr_array_header_t *lines)
{
    cmd_parms parms = *cmd;
    ap_directive_t *tree = NULL;
    text_src src = { lines, 0 };
    const char *err;

    parms.config_file = ap_pcfg_open_custom(cmd->temp_pool, cmd->cmd->name,
                                            &src, NULL, text_getstr,
                                            text_close);
    err = ap_build_config(&parms, cmd->pool, cmd->temp_pool, &tree);
    if (!err) {
        err = ap_walk_config(tree, &parms, cmd->context);
    }
    return err;
}

/* The <Proxy> section of a balancer: the service's members with the
 * service's options, and for a route (t) its timeouts, attempts and retry
 * policy.  Statuses a route retries are held back from the client
 * (ProxyErrorOverride) so that another member can still answer, and put
 * the member to rest like failonstatus; so does a timeout with
 * failontimeout. */
static const char *define_balancer(cmd_parms *cmd, const vip_service *svc,
                                   const char *balancer,
                                   const vip_route_target *t)
{
    apr_pool_t *tp = cmd->temp_pool;
    apr_array_header_t *lines = apr_array_make(tp, 8, sizeof(const char *));
    int timeout = t ? t->timeout : 0;
    int connect_timeout = t ? t->connect_timeout : 0;
    int retries = t ? t->retries : -1;
    const char *statuses = t && t->has_retry_on && t->retry_on.nstatuses
                           ? vip_retry_on_list(tp, &t->retry_on, ',') : NULL;
    const char *member_opts = apr_psprintf(tp,
        "retry=%d keepalive=On%s%s %s", svc->retry,
        timeout ? apr_psprintf(tp, " timeout=%d", timeout) : "",
        connect_timeout ? apr_psprintf(tp, " connectiontimeout=%dms",
                                       connect_timeout) : "",
        svc->options);
    const char *err;
    int i;

    APR_ARRAY_PUSH(lines, const char *) =
        apr_psprintf(tp, "<Proxy \"%s\">", balancer);
    for (i = 0; i < svc->members->nelts; i++) {
        APR_ARRAY_PUSH(lines, const char *) = apr_psprintf(tp,
            "BalancerMember \"%s\" %s",
            APR_ARRAY_IDX(svc->members, i, const char *), member_opts);
    }
    /* forcerecovery Off: when every member rests, answer 503 at once
     * instead of making each client wait on a connect to a dead member. */
    APR_ARRAY_PUSH(lines, const char *) = apr_psprintf(tp,
        "ProxySet lbmethod=byrequests forcerecovery=Off%s%s%s",
        retries >= 0 ? apr_psprintf(tp, " maxattempts=%d", retries) : "",
        statuses ? apr_pstrcat(tp, " failonstatus=", statuses, NULL) : "",
        t && t->has_retry_on && t->retry_on.timeout ? " failontimeout=On"
                                                    : "");
    if (statuses) {
        APR_ARRAY_PUSH(lines, const char *) = apr_pstrcat(tp,
            "ProxyErrorOverride On ",
            vip_retry_on_list(tp, &t->retry_on, ' '), NULL);
    }
    APR_ARRAY_PUSH(lines, const char *) = "</Proxy>";
    err = run_config(cmd, lines);
    if (err) {
        return apr_psprintf(cmd->pool, "%s %s: %s", cmd->cmd->name, svc->name,
                            err);
    }
    return NULL;
}

int vip_route_retry_budget(const vip_route_target *t)
{
    return t->retry_budget < 0 ? VIP_ROUTE_DEFAULT_BUDGET : t->retry_budget;
}

int vip_route_retry_keyed(const vip_route_target *t)
{
    return t->retry_keyed > 0;
}

/* ---- helpers -------------------------------------------------------- */

static int valid_name(const char *s)
{
    return vip_id_valid(s, 1, 64);
}

/* "name=value" -> name, value; NULL when the word has no '='. */
static const char *split_option(apr_pool_t *p, const char *word,
                                const char **value)
{
    const char *eq = strchr(word, '=');

    if (!eq || eq == word) {
        return NULL;
    }
    *value = eq + 1;
    return apr_pstrndup(p, word, (apr_size_t)(eq - word));
}

static const vip_service *find_service(cmd_parms *cmd, const char *name)
{
    const vip_service *svc = apr_hash_get(srv_conf(cmd)->services, name,
                                          APR_HASH_KEY_STRING);

    if (!svc && cmd->server->is_virtual && main_conf) {
        svc = apr_hash_get(main_conf->services, name, APR_HASH_KEY_STRING);
    }
    return svc;
}

/* ---- VipRouteService -------------------------------------------------- */

static const char *cmd_service(cmd_parms *cmd, void *dc, const char *args)
{
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);
    vip_route_srv_conf *conf = srv_conf(cmd);
    vip_service *svc;
    const char *w, *v, *opt, *health = NULL;
    int health_interval = 5;

    if (err) {
        return err;
    }
    if (!ap_find_linked_module("mod_proxy_balancer.c")
        || !ap_find_linked_module("mod_proxy_http.c")
        || !vip_route_proxy_ready()) {
        return apr_psprintf(cmd->pool, "%s needs mod_proxy, mod_proxy_http, "
                            "mod_proxy_balancer and mod_lbmethod_byrequests "
                            "loaded first, mod_proxy before mod_vip_route "
                            "itself (Debian: a2enmod proxy_http "
                            "proxy_balancer lbmethod_byrequests)",
                            cmd->cmd->name);
    }
    svc = apr_pcalloc(cmd->pool, sizeof(*svc));
    svc->members = apr_array_make(cmd->pool, 2, sizeof(const char *));
    svc->options = "";
    svc->retry = VIP_ROUTE_DEFAULT_RETRY;
    svc->name = ap_getword_conf(cmd->pool, &args);
    if (!valid_name(svc->name)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a service name (1-64 "
                            "characters of [A-Za-z0-9._-])", cmd->cmd->name,
                            svc->name);
    }
    if (apr_hash_get(conf->services, svc->name, APR_HASH_KEY_STRING)) {
        return apr_psprintf(cmd->pool, "%s: service '%s' is already declared",
                            cmd->cmd->name, svc->name);
    }
    while (*args && *(w = ap_getword_conf(cmd->pool, &args))) {
        apr_uri_t u;
        if ((opt = split_option(cmd->pool, w, &v)) && !strstr(w, "://")) {
            int n;
            if (strcmp(opt, "retry") == 0 && vip_parse_int(v, 0, 3600, &n)) {
                svc->retry = n;
            }
            else if (strcmp(opt, "max") == 0 && vip_parse_int(v, 1, 100000, &n)) {
                svc->options = apr_psprintf(cmd->pool, "%s max=%d",
                                            svc->options, n);
            }
            else if (strcmp(opt, "health") == 0 && *v == '/'
                     && !strpbrk(v, " \t\"'\\")) {
                health = v;
            }
            else if (strcmp(opt, "health_interval") == 0
                     && vip_parse_int(v, 1, 3600, &n)) {
                health_interval = n;
            }
            else {
                return apr_psprintf(cmd->pool, "%s %s: bad option '%s' (known: "
                                    "retry=seconds, max=connections, "
                                    "health=/path, health_interval=seconds)",
                                    cmd->cmd->name, svc->name, w);
            }
            continue;
        }
        if (apr_uri_parse(cmd->temp_pool, w, &u) != APR_SUCCESS || !u.scheme
            || (strcasecmp(u.scheme, "http") != 0
                && strcasecmp(u.scheme, "https") != 0)
            || !u.hostname || !*u.hostname || u.user || u.query
            || u.fragment) {
            return apr_psprintf(cmd->pool, "%s %s: '%s' is not a member URL "
                                "(http://host:port[/path] or https://...)",
                                cmd->cmd->name, svc->name, w);
        }
        APR_ARRAY_PUSH(svc->members, const char *) = apr_pstrdup(cmd->pool, w);
    }
    if (svc->members->nelts == 0) {
        return apr_psprintf(cmd->pool, "%s %s: name at least one member URL",
                            cmd->cmd->name, svc->name);
    }
    if (health) {
        /* Active checks take a member out before a client meets its
         * failure; mod_proxy_hcheck does them, so it must be there. */
        if (!ap_find_linked_module("mod_proxy_hcheck.c")) {
            return apr_psprintf(cmd->pool, "%s %s: health= needs "
                                "mod_proxy_hcheck loaded first (Debian: "
                                "a2enmod proxy_hcheck)", cmd->cmd->name,
                                svc->name);
        }
        svc->options = apr_psprintf(cmd->pool, "%s hcmethod=GET hcuri=%s "
                                    "hcinterval=%d hcpasses=1 hcfails=2",
                                    svc->options, health, health_interval);
    }
    svc->balancer = apr_pstrcat(cmd->pool, "balancer://vip.", svc->name, NULL);
    if ((err = define_balancer(cmd, svc, svc->balancer, NULL))) {
        return err;
    }
    apr_hash_set(conf->services, svc->name, APR_HASH_KEY_STRING, svc);
    return NULL;
}

/* ---- VipRoute -------------------------------------------------------- */

/* A rewrite segment such as "..{*}" turns into a dot-segment whenever the
 * prefix rest is empty.  Named parameters always hold one non-empty,
 * non-dot segment, so only a segment of literal dots and {*} can. */
static int target_can_dot(apr_pool_t *p, const char *target)
{
    char *copy = apr_pstrdup(p, target), *seg, *last = NULL;

    for (seg = apr_strtok(copy, "/", &last); seg;
         seg = apr_strtok(NULL, "/", &last)) {
        char *rest = seg, *star;
        apr_size_t dots = 0;
        while ((star = strstr(rest, "{*}"))) {
            memmove(star, star + 3, strlen(star + 3) + 1);
            rest = star;
        }
        dots = strspn(seg, ".");
        if (seg[dots] == '\0' && (dots == 1 || dots == 2)) {
            return 1;
        }
    }
    return 0;
}

static apr_array_header_t *comma_list(apr_pool_t *p, const char *v,
                                      int ids_only)
{
    apr_array_header_t *a = apr_array_make(p, 2, sizeof(const char *));
    char *copy = apr_pstrdup(p, v), *tok, *last = NULL;

    for (tok = apr_strtok(copy, ",", &last); tok;
         tok = apr_strtok(NULL, ",", &last)) {
        if (ids_only && !valid_name(tok)) {
            return NULL;
        }
        APR_ARRAY_PUSH(a, const char *) = tok;
    }
    return a->nelts ? a : NULL;
}

static int is_method_list(const char *w)
{
    for (; *w; w++) {
        if (!apr_isupper(*w) && *w != ',') {
            return 0;
        }
    }
    return 1;
}

/* The balancer a route uses for svc: the service's own, or one with the
 * route's timeouts and retries. */
static const char *route_balancer(cmd_parms *cmd, const vip_route *r,
                                  const vip_route_target *t,
                                  const vip_service *svc, const char **err)
{
    vip_route_srv_conf *conf = srv_conf(cmd);
    const char *name;

    *err = NULL;
    if (!t->timeout && !t->connect_timeout && t->retries < 0
        && !t->has_retry_on) {
        return svc->balancer;
    }
    /* "~" cannot occur in service or route names, so these never meet a
     * service's own "vip.<name>" or another route's balancer.  mod_proxy
     * applies a <Proxy> section to every URL it prefixes: "vip~<route>~"
     * is only ever a prefix of this route's own balancers, which carry
     * the same per-directory settings. */
    name = apr_psprintf(cmd->pool, "balancer://vip~%s~%s", r->name, svc->name);
    if (!apr_hash_get(conf->balancers, name, APR_HASH_KEY_STRING)) {
        *err = define_balancer(cmd, svc, name, t);
        apr_hash_set(conf->balancers, name, APR_HASH_KEY_STRING, name);
    }
    return name;
}

static const char *route_error(cmd_parms *cmd, const vip_route *r,
                               const char *fmt, const char *arg)
{
    return apr_pstrcat(cmd->pool, cmd->cmd->name, " ", r->name ? r->name : "",
                       ": ", apr_psprintf(cmd->pool, fmt, arg), NULL);
}

typedef struct {
    const char *service;                /* name */
    int weight;
} pending_split;

static const char *cmd_route(cmd_parms *cmd, void *dc, const char *args)
{
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);
    vip_route_srv_conf *conf = srv_conf(cmd);
    vip_route *r;
    vip_route_target *t;
    const char *w, *v, *opt, *svcname;
    apr_array_header_t *splits, *pins;
    const char *hdr_svc = NULL;
    int i, total = 0;

    if (err) {
        return err;
    }
    r = apr_pcalloc(cmd->pool, sizeof(*r));
    t = apr_pcalloc(cmd->pool, sizeof(*t));
    t->retries = -1;
    t->retry_budget = -1;
    t->retry_keyed = -1;
    t->budget_slot = -1;
    r->target = t;
    r->methods = apr_array_make(cmd->pool, 1, sizeof(const char *));
    splits = apr_array_make(cmd->temp_pool, 2, sizeof(pending_split));
    pins = apr_array_make(cmd->temp_pool, 2, sizeof(const char *));

    r->name = ap_getword_conf(cmd->pool, &args);
    t->route_name = r->name;
    if (!valid_name(r->name)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a route name (1-64 "
                            "characters of [A-Za-z0-9._-])", cmd->cmd->name,
                            r->name);
    }
    w = ap_getword_conf(cmd->pool, &args);
    if (apr_hash_get(conf->names, r->name, APR_HASH_KEY_STRING)) {
        return apr_psprintf(cmd->pool, "%s %s: a route of this name is "
                            "already declared", cmd->cmd->name, r->name);
    }
    if (*w && is_method_list(w)) {
        r->methods = comma_list(cmd->pool, w, 0);
        if (!r->methods) {
            return route_error(cmd, r, "bad method list '%s'", w);
        }
        for (i = 0; i < r->methods->nelts; i++) {
            if (strcmp(APR_ARRAY_IDX(r->methods, i, const char *),
                       "CONNECT") == 0) {
                return route_error(cmd, r, "%s", "CONNECT cannot be routed "
                                   "(it names a host, not a path)");
            }
        }
        w = ap_getword_conf(cmd->pool, &args);
    }
    r->path = w;
    svcname = ap_getword_conf(cmd->pool, &args);
    if (!*r->path || !*svcname) {
        return apr_psprintf(cmd->pool, "%s %s: usage: VipRoute name "
                            "[METHOD,...] /path/template service "
                            "[option=value...]", cmd->cmd->name, r->name);
    }
    if (!(t->main.service = find_service(cmd, svcname))) {
        return route_error(cmd, r, "unknown service '%s' (declare it with "
                           "VipRouteService before the routes using it)",
                           svcname);
    }

    while (*args && *(w = ap_getword_conf(cmd->pool, &args))) {
        int n;
        if (!(opt = split_option(cmd->pool, w, &v))) {
            return route_error(cmd, r, "'%s' is not an option=value", w);
        }
        if (strcmp(opt, "host") == 0 && *v) {
            r->host = apr_pstrdup(cmd->pool, v);
            ap_str_tolower((char *)r->host);
        }
        else if (strcmp(opt, "header") == 0) {
            const char *colon = strchr(v, ':');
            vip_route_header_cond *h;
            if (!colon || colon == v || !colon[1]) {
                return route_error(cmd, r, "header=%s: use header=Name:value", v);
            }
            if (!r->headers) {
                r->headers = apr_array_make(cmd->pool, 1, sizeof(*h));
            }
            h = apr_array_push(r->headers);
            h->name = apr_pstrndup(cmd->pool, v, (apr_size_t)(colon - v));
            ap_str_tolower((char *)h->name);
            h->value = colon + 1;
        }
        else if (strcmp(opt, "tenant") == 0 || strcmp(opt, "plan") == 0) {
            apr_array_header_t *l = comma_list(cmd->pool, v, 1);
            if (!l) {
                return route_error(cmd, r, "'%s': list ids of [A-Za-z0-9._-] "
                                   "separated by commas", w);
            }
            *(opt[0] == 't' ? &r->tenants : &r->plans) = l;
            conf->uses_identity = 1;
        }
        else if (strcmp(opt, "rewrite") == 0 && *v == '/') {
            t->rewrite = v;
        }
        else if (strcmp(opt, "strip") == 0 && *v == '/') {
            t->strip = v;
        }
        else if (strcmp(opt, "timeout") == 0
                 && vip_parse_int(v, 1, VIP_ROUTE_MAX_TIMEOUT, &n)) {
            t->timeout = n;
        }
        else if (strcmp(opt, "connect_timeout") == 0
                 && vip_parse_int(v, 1, 60000, &n)) {
            t->connect_timeout = n;
        }
        else if (strcmp(opt, "retries") == 0
                 && vip_parse_int(v, 0, VIP_ROUTE_MAX_RETRIES, &n)) {
            t->retries = n;
        }
        else if (strcmp(opt, "retry_on") == 0) {
            const char *why = vip_retry_on_parse(cmd->pool, v, &t->retry_on);
            if (why) {
                return route_error(cmd, r, "%s", apr_psprintf(cmd->pool,
                                   "retry_on=%s: %s (use retry_on=502,503,"
                                   "504,timeout: statuses 500-599 and/or "
                                   "timeout)", v, why));
            }
            t->has_retry_on = 1;
        }
        else if (strcmp(opt, "retry_budget") == 0) {
            char *pct = apr_pstrdup(cmd->temp_pool, v);
            apr_size_t len = strlen(pct);
            if (len && pct[len - 1] == '%') {
                pct[len - 1] = '\0';
            }
            if (!vip_parse_int(pct, 1, 100, &n)) {
                return route_error(cmd, r, "retry_budget=%s: use retry_budget"
                                   "=percent with percent 1-100 (retries "
                                   "per 100 requests of the route)", v);
            }
            t->retry_budget = n;
        }
        else if (strcmp(opt, "retry_idempotency_key") == 0) {
            if (strcasecmp(v, "on") == 0) {
                t->retry_keyed = 1;
            }
            else if (strcasecmp(v, "off") == 0) {
                t->retry_keyed = 0;
            }
            else {
                return route_error(cmd, r, "retry_idempotency_key=%s: use on "
                                   "or off", v);
            }
        }
        else if (strcmp(opt, "split") == 0) {
            const char *colon = strrchr(v, ':');
            pending_split *ps = apr_array_push(splits);
            if (!colon || colon == v
                || !vip_parse_int(colon + 1, 1, 100, &ps->weight)) {
                return route_error(cmd, r, "split=%s: use split=service:percent "
                                   "with percent 1-100", v);
            }
            ps->service = apr_pstrndup(cmd->pool, v, (apr_size_t)(colon - v));
            total += ps->weight;
        }
        else if (strcmp(opt, "split_header") == 0) {
            char *copy = apr_pstrdup(cmd->pool, v), *c1, *c2;
            if (!(c1 = strchr(copy, ':')) || !(c2 = strrchr(copy, ':'))
                || c1 == c2 || c1 == copy || c1 + 1 == c2 || !c2[1]) {
                return route_error(cmd, r, "split_header=%s: use split_header="
                                   "Name:value:service", v);
            }
            *c1 = *c2 = '\0';
            t->split_header = copy;
            t->split_header_value = c1 + 1;
            hdr_svc = c2 + 1;
        }
        else if (strcmp(opt, "pin") == 0) {
            APR_ARRAY_PUSH(pins, const char *) = v;
            conf->uses_identity = 1;
        }
        else {
            return route_error(cmd, r, "bad option '%s' (known: host, header, "
                               "tenant, plan, rewrite, strip, timeout, "
                               "connect_timeout, retries, retry_on, "
                               "retry_budget, retry_idempotency_key, split, "
                               "split_header, pin)", w);
        }
    }
    if (t->rewrite && t->strip) {
        return route_error(cmd, r, "%s", "use rewrite= or strip=, not both");
    }
    if (!t->has_retry_on && (t->retry_budget >= 0 || t->retry_keyed >= 0)) {
        return route_error(cmd, r, "%s", "retry_budget= and "
                           "retry_idempotency_key= need retry_on= (what to "
                           "retry)");
    }
    if (t->has_retry_on && t->retries == 0) {
        return route_error(cmd, r, "%s", "retry_on= with retries=0 never "
                           "retries: drop one of them");
    }
    if (t->strip) {
        /* Whole leading segments of the template, parameters included:
         * the request path then loses that many segments. */
        apr_size_t n;
        const char *c;
        char *s = apr_pstrdup(cmd->pool, t->strip);
        n = strlen(s);
        while (n > 1 && s[n - 1] == '/') {
            s[--n] = '\0';
        }
        if (strchr(s, '*') || strncmp(r->path, s, n) != 0
            || (r->path[n] != '/' && r->path[n] != '\0')) {
            return route_error(cmd, r, "strip=%s is not a prefix of the "
                               "template in whole segments", t->strip);
        }
        t->strip = s;
        for (c = s; *c; c++) {
            t->strip_segments += *c == '/';
        }
    }
    if (total > 100) {
        return route_error(cmd, r, "splits add up to %s%% (at most 100)",
                           apr_itoa(cmd->pool, total));
    }

    r->order = conf->nroutes;
    if (vip_route_table_add(conf->table, r, (char **)&err) != APR_SUCCESS) {
        return route_error(cmd, r, "%s", err);
    }
    if (t->rewrite
        && vip_route_check_target(cmd->pool, r, t->rewrite, (char **)&err)
           != APR_SUCCESS) {
        return route_error(cmd, r, "rewrite: %s", err);
    }
    if (t->rewrite && target_can_dot(cmd->temp_pool, t->rewrite)) {
        return route_error(cmd, r, "rewrite=%s: a segment becomes '.' or "
                           "'..' when its parameters are empty", t->rewrite);
    }

    /* Balancers last: everything above is checked first. */
    t->main.weight = 100;
    t->main.balancer = route_balancer(cmd, r, t, t->main.service, &err);
    if (err) {
        return err;
    }
    if (splits->nelts) {
        t->splits = apr_array_make(cmd->pool, splits->nelts, sizeof(vip_split));
    }
    for (i = 0; i < splits->nelts; i++) {
        const pending_split *ps = &APR_ARRAY_IDX(splits, i, pending_split);
        vip_split *sp = apr_array_push(t->splits);
        if (!(sp->service = find_service(cmd, ps->service))) {
            return route_error(cmd, r, "split: unknown service '%s'",
                               ps->service);
        }
        sp->weight = ps->weight;
        sp->balancer = route_balancer(cmd, r, t, sp->service, &err);
        if (err) {
            return err;
        }
    }
    if (hdr_svc) {
        vip_split *hs = apr_pcalloc(cmd->pool, sizeof(*hs));
        if (!(hs->service = find_service(cmd, hdr_svc))) {
            return route_error(cmd, r, "split_header: unknown service '%s'",
                               hdr_svc);
        }
        hs->balancer = route_balancer(cmd, r, t, hs->service, &err);
        if (err) {
            return err;
        }
        t->header_split = hs;
    }
    for (i = 0; i < pins->nelts; i++) {
        const char *pv = APR_ARRAY_IDX(pins, i, const char *);
        const char *colon = strchr(pv, ':');
        const char *tenant;
        vip_split *ps = apr_pcalloc(cmd->pool, sizeof(*ps));
        if (!colon || colon == pv || !colon[1]) {
            return route_error(cmd, r, "pin=%s: use pin=tenant:service", pv);
        }
        tenant = apr_pstrndup(cmd->pool, pv, (apr_size_t)(colon - pv));
        if (!valid_name(tenant) || !(ps->service = find_service(cmd, colon + 1))) {
            return route_error(cmd, r, "pin=%s: unknown service or bad tenant "
                               "id", pv);
        }
        ps->balancer = route_balancer(cmd, r, t, ps->service, &err);
        if (err) {
            return err;
        }
        if (!t->pins) {
            t->pins = apr_hash_make(cmd->pool);
        }
        apr_hash_set(t->pins, tenant, APR_HASH_KEY_STRING, ps);
    }
    if (t->has_retry_on) {
        t->budget_slot = vip_route_budget_new();
    }
    apr_hash_set(conf->names, r->name, APR_HASH_KEY_STRING, r->name);
    conf->nroutes++;
    return NULL;
}

static const char *cmd_scope(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);

    if (err) {
        return err;
    }
    if (*arg != '/') {
        return apr_psprintf(cmd->pool, "%s: '%s' must be a path prefix "
                            "starting with /", cmd->cmd->name, arg);
    }
    APR_ARRAY_PUSH(srv_conf(cmd)->scopes, const char *) = arg;
    return NULL;
}

const command_rec vip_route_cmds[] = {
    AP_INIT_RAW_ARGS("VipRouteService", cmd_service, NULL, RSRC_CONF,
                     "name url... [retry=seconds] [max=connections] "
                     "[health=/path] [health_interval=seconds]: an upstream "
                     "service and its members"),
    AP_INIT_RAW_ARGS("VipRoute", cmd_route, NULL, RSRC_CONF,
                     "name [METHOD,...] /path/{param}/* service [option=value"
                     "...]: a route"),
    AP_INIT_ITERATE("VipRouteScope", cmd_scope, NULL, RSRC_CONF,
                    "path prefixes owned by the route table: an unmatched "
                    "path below them is a 404 problem"),
    { NULL }
};
