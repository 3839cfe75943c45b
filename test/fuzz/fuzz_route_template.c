/*
 * fuzz_route_template.c - libFuzzer harness for mod_vip_route's template
 * parser, route table and rewrite targets.
 *
 * The input is split on '\n' into up to MAX_LINES lines.  Each line is
 * added to one table as a route template (every third route also gets a
 * method and a header condition, so conditions and backtracking are
 * exercised); then each line is matched as a request path, as is a
 * concrete path derived from it ("{name}" -> "v", "*" -> "x/y"), and used
 * as a rewrite target of the winning route.  Aborts when a promise
 * breaks: a route without conditions must make its derived path match,
 * and no parameter may be empty or hold a '/' (only the prefix rest may).
 */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "route_table.h"

#define MAX_LINES 20

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *header_of(void *ctx, const char *name)
{
    (void)ctx;
    return strcmp(name, "x-v") == 0 ? "2" : NULL;
}

/* A path the template itself must match: "{id}" -> "v", "*" -> "x/y". */
static char *concrete(apr_pool_t *p, const char *tmpl)
{
    char *out = apr_palloc(p, strlen(tmpl) * 3 + 1), *o = out;
    const char *s;

    for (s = tmpl; *s; s++) {
        const char *close;
        if (*s == '{' && (close = strchr(s, '}'))) {
            *o++ = 'v';
            s = close;
        }
        else if (*s == '*') {
            memcpy(o, "x/y", 3);
            o += 3;
        }
        else {
            *o++ = *s;
        }
    }
    *o = '\0';
    return out;
}

static void check_match(const vip_route_match *m)
{
    int i;

    if (m->nparams < 0 || m->nparams > VIP_ROUTE_MAX_PARAMS) {
        abort();
    }
    for (i = 0; i < m->nparams; i++) {
        if (strcmp(m->names[i], "*") == 0) {
            if (i != m->nparams - 1 || m->values[i][0] == '/') {
                abort();
            }
        }
        else if (!m->values[i][0] || strchr(m->values[i], '/')) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int initialized;
    apr_pool_t *p;
    vip_route_table *t;
    char *text, *line, *last;
    const char *lines[MAX_LINES];
    int added[MAX_LINES];
    int n = 0, i;

    if (!initialized) {
        apr_initialize();
        initialized = 1;
    }
    apr_pool_create(&p, NULL);
    t = vip_route_table_make(p);
    text = apr_pstrmemdup(p, (const char *)data, size);
    for (line = apr_strtok(text, "\n", &last); line && n < MAX_LINES;
         line = apr_strtok(NULL, "\n", &last)) {
        vip_route *r = apr_pcalloc(p, sizeof(*r));
        char *err = NULL;

        r->name = apr_psprintf(p, "r%d", n);
        r->path = line;
        r->methods = apr_array_make(p, 1, sizeof(const char *));
        if (n % 3 == 2) {
            vip_route_header_cond *h;
            APR_ARRAY_PUSH(r->methods, const char *) = "GET";
            r->headers = apr_array_make(p, 1, sizeof(*h));
            h = apr_array_push(r->headers);
            h->name = "x-v";
            h->value = n % 2 ? "2" : "3";
        }
        if (vip_route_table_add(t, r, &err) != APR_SUCCESS) {
            if (!err) {
                abort();                /* a refusal must say why */
            }
            added[n] = 0;
        }
        else {
            added[n] = n % 3 != 2;      /* matchable without conditions */
        }
        lines[n++] = line;
    }
    for (i = 0; i < n; i++) {
        vip_route_req q;
        vip_route_match m;
        int k;

        memset(&q, 0, sizeof(q));
        q.method = i % 2 ? "GET" : "POST";
        q.host = "h.example";
        q.header = header_of;
        for (k = 0; k < 2; k++) {
            int hit;

            q.path = k ? concrete(p, lines[i]) : lines[i];
            hit = vip_route_table_match(t, &q, p, &m);
            if (k == 1 && added[i] && !hit) {
                abort();
            }
            if (hit) {
                char *err = NULL;
                check_match(&m);
                if (vip_route_check_target(p, m.route, lines[i], &err)
                    == APR_SUCCESS) {
                    const char *x = vip_route_expand(p, lines[i], &m);
                    if (!x || x[0] != '/') {
                        abort();
                    }
                }
                else if (!err) {
                    abort();
                }
            }
        }
    }
    apr_pool_destroy(p);
    return 0;
}
