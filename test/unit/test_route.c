/*
 * test_route.c - unit tests of mod_vip_route's pure engine: the route
 * table (templates, precedence, conditions, duplicate detection, rewrite
 * targets) and the path normaliser (THREATS 2.7 R1/R2), no httpd needed.
 */
#include <stdio.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <apr_thread_proc.h>

#include "route_path.h"
#include "route_table.h"

#include "unit.h"

static apr_pool_t *pool;

/* ---- helpers ----------------------------------------------------------- */

static apr_array_header_t *list(const char *csv)
{
    apr_array_header_t *a = apr_array_make(pool, 2, sizeof(const char *));
    char *last, *tok, *s = apr_pstrdup(pool, csv);

    for (tok = apr_strtok(s, ",", &last); tok;
         tok = apr_strtok(NULL, ",", &last)) {
        APR_ARRAY_PUSH(a, const char *) = tok;
    }
    return a;
}

/*
 * A route from a compact spec: space-separated "m=GET,HEAD", "h=host",
 * "H=name:value" (repeatable), "t=tenant,..." and "p=plan,...".
 */
static vip_route *route(const char *name, const char *path, const char *spec)
{
    vip_route *r = apr_pcalloc(pool, sizeof(*r));
    char *last, *tok, *s = apr_pstrdup(pool, spec ? spec : "");

    r->name = name;
    r->path = path;
    r->methods = apr_array_make(pool, 1, sizeof(const char *));
    for (tok = apr_strtok(s, " ", &last); tok;
         tok = apr_strtok(NULL, " ", &last)) {
        if (tok[0] == 'm') {
            r->methods = list(tok + 2);
        }
        else if (tok[0] == 'h') {
            r->host = tok + 2;
        }
        else if (tok[0] == 'H') {
            vip_route_header_cond *h;
            char *colon = strchr(tok + 2, ':');
            if (!r->headers) {
                r->headers = apr_array_make(pool, 1, sizeof(*h));
            }
            h = apr_array_push(r->headers);
            *colon = '\0';
            h->name = tok + 2;
            h->value = colon + 1;
        }
        else if (tok[0] == 't') {
            r->tenants = list(tok + 2);
        }
        else if (tok[0] == 'p') {
            r->plans = list(tok + 2);
        }
    }
    return r;
}

/* Add a route; return the error text, NULL on success. */
static const char *add(vip_route_table *t, const char *name, const char *path,
                       const char *spec)
{
    char *err = NULL;

    if (vip_route_table_add(t, route(name, path, spec), &err) == APR_SUCCESS) {
        return NULL;
    }
    return err ? err : "(failed without a message)";
}

static void must_add(vip_route_table *t, const char *name, const char *path,
                     const char *spec)
{
    const char *err = add(t, name, path, spec);

    if (err) {
        printf("  add %s %s: %s\n", name, path, err);
    }
    CHECK(err == NULL, apr_psprintf(pool, "add %s %s", name, path));
}

static const char *header_of(void *ctx, const char *name)
{
    return apr_table_get((apr_table_t *)ctx, name);
}

/* A request from "METHOD /path" plus optional host, tenant, plan and
 * headers ("Name: value|Name: value"). */
static vip_route_req *req(const char *line, const char *host,
                          const char *tenant, const char *plan,
                          const char *headers)
{
    vip_route_req *q = apr_pcalloc(pool, sizeof(*q));
    apr_table_t *h = apr_table_make(pool, 4);
    char *s = apr_pstrdup(pool, line), *sp = strchr(s, ' ');

    *sp = '\0';
    q->method = s;
    q->path = sp + 1;
    q->host = host;
    q->tenant = tenant;
    q->plan = plan;
    if (headers) {
        char *last, *tok, *hs = apr_pstrdup(pool, headers);
        for (tok = apr_strtok(hs, "|", &last); tok;
             tok = apr_strtok(NULL, "|", &last)) {
            char *colon = strchr(tok, ':');
            *colon = '\0';
            apr_table_set(h, tok, colon + 2);
        }
    }
    q->header = header_of;
    q->ctx = h;
    return q;
}

/* The name of the winning route, or "-". */
static const char *win(vip_route_table *t, vip_route_req *q,
                       vip_route_match *m)
{
    vip_route_match dummy;

    if (!m) {
        m = &dummy;
    }
    if (!vip_route_table_match(t, q, pool, m)) {
        return "-";
    }
    return m->route->name;
}

static const char *param(const vip_route_match *m, const char *name)
{
    int i;

    for (i = 0; i < m->nparams; i++) {
        if (strcmp(m->names[i], name) == 0) {
            return m->values[i];
        }
    }
    return NULL;
}

static void expect_win(vip_route_table *t, const char *line,
                       const char *want)
{
    const char *got = win(t, req(line, NULL, NULL, NULL, NULL), NULL);

    if (strcmp(got, want) != 0) {
        printf("  %s: got %s, want %s\n", line, got, want);
    }
    CHECK(strcmp(got, want) == 0, apr_psprintf(pool, "%s -> %s", line, want));
}

static int streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* ---- precedence -------------------------------------------------------- */

static void test_precedence(void)
{
    vip_route_table *t = vip_route_table_make(pool);
    vip_route_match m;

    must_add(t, "catchall", "/*", NULL);
    must_add(t, "api", "/api/*", NULL);
    must_add(t, "orders-all", "/api/orders/*", NULL);
    must_add(t, "order", "/api/orders/{id}", NULL);
    must_add(t, "export", "/api/orders/export", NULL);
    must_add(t, "orders", "/api/orders", NULL);
    must_add(t, "root", "/", NULL);
    CHECK(vip_route_table_count(t) == 7, "count");

    expect_win(t, "GET /api/orders/export", "export");
    expect_win(t, "GET /api/orders/7", "order");
    expect_win(t, "GET /api/orders/7/items", "orders-all");
    expect_win(t, "GET /api/orders", "orders");
    expect_win(t, "GET /api/orders/", "orders-all");
    expect_win(t, "GET /api/x", "api");
    expect_win(t, "GET /api", "api");
    expect_win(t, "GET /apix", "catchall");
    expect_win(t, "GET /", "root");
    expect_win(t, "GET /other/deep/path", "catchall");
    expect_win(t, "GET relative", "-");

    win(t, req("GET /api/orders/7/items/", NULL, NULL, NULL, NULL), &m);
    CHECK(streq(param(&m, "*"), "7/items/"), "prefix rest keeps a trailing /");
    win(t, req("GET /api/orders", NULL, NULL, NULL, NULL), &m);
    CHECK(m.nparams == 0, "exact route has no params");
    win(t, req("GET /api", NULL, NULL, NULL, NULL), &m);
    CHECK(streq(param(&m, "*"), ""), "prefix itself: rest is empty");
    win(t, req("GET /api/", NULL, NULL, NULL, NULL), &m);
    CHECK(streq(param(&m, "*"), ""), "prefix with slash: rest is empty");
    win(t, req("GET /other/deep", NULL, NULL, NULL, NULL), &m);
    CHECK(streq(param(&m, "*"), "other/deep"), "root prefix rest");

    win(t, req("GET //other//x", NULL, NULL, NULL, NULL), &m);
    CHECK(streq(param(&m, "*"), "other//x"),
          "unnormalised path: the rest still never starts with /");
    expect_win(t, "GET /api/orders-export", "api");

    /* Backtracking over the tree: the literal branch dead-ends. */
    t = vip_route_table_make(pool);
    must_add(t, "abd", "/a/b/d", NULL);
    must_add(t, "axc", "/a/{x}/c", NULL);
    must_add(t, "a", "/a/*", NULL);
    expect_win(t, "GET /a/b/c", "axc");
    expect_win(t, "GET /a/b/d", "abd");
    expect_win(t, "GET /a/b/e", "a");
    expect_win(t, "GET /a/b", "a");
    expect_win(t, "GET /b", "-");

    /* Longer prefix beats shorter; only on a segment boundary. */
    t = vip_route_table_make(pool);
    must_add(t, "short", "/a/*", NULL);
    must_add(t, "long", "/a/b/*", NULL);
    must_add(t, "param", "/a/{x}", NULL);
    expect_win(t, "GET /a/b/c", "long");
    expect_win(t, "GET /a/b", "long");
    expect_win(t, "GET /a/bc", "param");
    expect_win(t, "GET /a/bc/d", "short");

    /* A literal beats a parameter even when the parameter route has
     * more conditions: conditions only order routes of one shape. */
    t = vip_route_table_make(pool);
    must_add(t, "param-get", "/a/{x}", "m=GET h=x.example");
    must_add(t, "literal", "/a/b", NULL);
    CHECK(streq(win(t, req("GET /a/b", "x.example", NULL, NULL, NULL), NULL),
                "literal"), "literal beats a parameter with conditions");

    /* Backtracking when conditions fail. */
    t = vip_route_table_make(pool);
    must_add(t, "post-ab", "/a/b", "m=POST");
    must_add(t, "put-ax", "/a/{x}", "m=PUT");
    must_add(t, "prefix", "/a/*", "m=GET,PUT,POST");
    expect_win(t, "POST /a/b", "post-ab");
    expect_win(t, "PUT /a/b", "put-ax");
    expect_win(t, "GET /a/b", "prefix");
    expect_win(t, "DELETE /a/b", "-");
}

static void test_conditions_order(void)
{
    vip_route_table *t = vip_route_table_make(pool);

    /* More conditions first, whatever the configuration order. */
    must_add(t, "none", "/x", NULL);
    must_add(t, "get", "/x", "m=GET");
    must_add(t, "get-host", "/x", "m=GET h=a.example");
    must_add(t, "all5", "/x", "m=GET h=a.example H=x-v:2 t=acme p=gold");
    CHECK(streq(win(t, req("GET /x", "a.example", NULL, NULL, NULL), NULL),
                "get-host"), "2 conditions beat 1 and 0");
    CHECK(streq(win(t, req("GET /x", "b.example", NULL, NULL, NULL), NULL),
                "get"), "1 condition beats 0");
    CHECK(streq(win(t, req("POST /x", "a.example", NULL, NULL, NULL), NULL),
                "none"), "no conditions last");
    CHECK(streq(win(t, req("GET /x", "a.example", "acme", "gold",
                           "X-V: 2"), NULL), "all5"), "5 conditions first");

    /* Same count: configuration order decides. */
    t = vip_route_table_make(pool);
    must_add(t, "ha", "/y", "H=x-a:1");
    must_add(t, "hb", "/y", "H=x-b:1");
    CHECK(streq(win(t, req("GET /y", NULL, NULL, NULL, "X-A: 1|X-B: 1"), NULL),
                "ha"), "config order: first wins");
    t = vip_route_table_make(pool);
    must_add(t, "hb", "/y", "H=x-b:1");
    must_add(t, "ha", "/y", "H=x-a:1");
    CHECK(streq(win(t, req("GET /y", NULL, NULL, NULL, "X-A: 1|X-B: 1"), NULL),
                "hb"), "config order reversed: first wins");
    /* Headers count as one condition, however many are listed. */
    t = vip_route_table_make(pool);
    must_add(t, "one", "/y", "H=x-a:1");
    must_add(t, "two", "/y", "H=x-a:1 H=x-b:1");
    CHECK(streq(win(t, req("GET /y", NULL, NULL, NULL, "X-A: 1|X-B: 1"), NULL),
                "one"), "headers count 1: config order");
    {
        vip_route *r = route("ord", "/z", NULL);
        vip_route_table_add(t, r, NULL);
        CHECK(r->order == 2, "order set by add");
    }
}

static void test_boundaries(void)
{
    vip_route_table *t = vip_route_table_make(pool);

    must_add(t, "order", "/api/order", NULL);
    must_add(t, "order-sub", "/api/order/*", NULL);
    expect_win(t, "GET /api/orders-export", "-");
    expect_win(t, "GET /api/orders", "-");
    expect_win(t, "GET /api/order", "order");
    expect_win(t, "GET /api/order/1", "order-sub");
    expect_win(t, "GET /api/order-export", "-");
    expect_win(t, "GET /API/order", "-");
    expect_win(t, "GET /api", "-");
}

static void test_params(void)
{
    vip_route_table *t = vip_route_table_make(pool);
    vip_route_match m;

    must_add(t, "price", "/products/{id}/price", NULL);
    must_add(t, "abc", "/t/{a}/{b}/{c}", NULL);
    must_add(t, "user-rest", "/u/{id}/*", NULL);
    must_add(t, "utf8", "/caf\xc3\xa9/{x}", NULL);

    CHECK(streq(win(t, req("GET /products/42/price", 0, 0, 0, 0), &m),
                "price") && m.nparams == 1 && streq(m.names[0], "id")
          && streq(m.values[0], "42"), "one param");
    CHECK(streq(win(t, req("GET /t/1/22/333", 0, 0, 0, 0), &m), "abc")
          && m.nparams == 3 && streq(m.names[0], "a")
          && streq(m.values[0], "1") && streq(m.names[1], "b")
          && streq(m.values[1], "22") && streq(m.names[2], "c")
          && streq(m.values[2], "333"), "three params in template order");
    CHECK(streq(win(t, req("GET /u/9/a/b", 0, 0, 0, 0), &m), "user-rest")
          && m.nparams == 2 && streq(m.names[0], "id")
          && streq(m.values[0], "9") && streq(m.names[1], "*")
          && streq(m.values[1], "a/b"), "param then prefix rest");
    CHECK(streq(win(t, req("GET /u/9", 0, 0, 0, 0), &m), "user-rest")
          && streq(param(&m, "*"), ""), "param then empty rest");
    expect_win(t, "GET /products/42", "-");
    expect_win(t, "GET /products/42/price/x", "-");
    expect_win(t, "GET /products//price", "-");
    expect_win(t, "GET /t/1/2", "-");
    expect_win(t, "GET /caf\xc3\xa9/1", "utf8");
    CHECK(streq(win(t, req("GET /products/a%2Fb/price", 0, 0, 0, 0), &m),
                "price") && streq(param(&m, "id"), "a%2Fb"),
          "param value as it is");
}

static void test_conditions(void)
{
    vip_route_table *t = vip_route_table_make(pool);

    must_add(t, "get", "/m", "m=GET,HEAD");
    must_add(t, "host", "/h", "h=api.example.com");
    must_add(t, "hdr", "/x", "H=x-api-version:2 H=x-beta:yes");
    must_add(t, "tenant", "/t", "t=acme,globex");
    must_add(t, "plan", "/p", "p=gold");

    CHECK(streq(win(t, req("GET /m", 0, 0, 0, 0), NULL), "get"), "method GET");
    CHECK(streq(win(t, req("HEAD /m", 0, 0, 0, 0), NULL), "get"),
          "method HEAD");
    CHECK(streq(win(t, req("get /m", 0, 0, 0, 0), NULL), "-"),
          "method is case-sensitive");
    CHECK(streq(win(t, req("POST /m", 0, 0, 0, 0), NULL), "-"), "method POST");

    CHECK(streq(win(t, req("GET /h", "api.example.com", 0, 0, 0), NULL),
                "host"), "host");
    CHECK(streq(win(t, req("GET /h", "API.Example.COM", 0, 0, 0), NULL),
                "host"), "host case-insensitive");
    CHECK(streq(win(t, req("GET /h", "api.example.co", 0, 0, 0), NULL), "-"),
          "other host");
    CHECK(streq(win(t, req("GET /h", NULL, 0, 0, 0), NULL), "-"), "no host");

    CHECK(streq(win(t, req("GET /x", 0, 0, 0,
                           "X-Api-Version: 2|X-Beta: yes"), NULL), "hdr"),
          "headers all present");
    CHECK(streq(win(t, req("GET /x", 0, 0, 0, "X-Api-Version: 2"), NULL),
                "-"), "one header missing");
    CHECK(streq(win(t, req("GET /x", 0, 0, 0, "X-Api-Version: 2|X-Beta: YES"),
                    NULL), "-"), "header value is exact");
    CHECK(streq(win(t, req("GET /x", 0, 0, 0, "x-api-version: 2|x-beta: yes"),
                    NULL), "hdr"), "header names case-insensitive");
    CHECK(streq(win(t, req("GET /x", 0, 0, 0, "X-Api-Version: 2 |X-Beta: yes"),
                    NULL), "-"), "header value with a space differs");

    CHECK(streq(win(t, req("GET /t", 0, "globex", "free", 0), NULL), "tenant"),
          "tenant in list");
    CHECK(streq(win(t, req("GET /t", 0, "initech", "gold", 0), NULL), "-"),
          "tenant not in list");
    CHECK(streq(win(t, req("GET /t", 0, NULL, NULL, 0), NULL), "-"),
          "anonymous never matches a tenant route");
    CHECK(streq(win(t, req("GET /p", 0, "acme", "gold", 0), NULL), "plan"),
          "plan in list");
    CHECK(streq(win(t, req("GET /p", 0, "acme", "free", 0), NULL), "-"),
          "plan not in list");
    CHECK(streq(win(t, req("GET /p", 0, NULL, "gold", 0), NULL), "-"),
          "anonymous never matches a plan route");
    CHECK(streq(win(t, req("GET /p", 0, "acme", NULL, 0), NULL), "-"),
          "tenant without plan");
    {
        vip_route_req *q = req("GET /x", 0, 0, 0, 0);
        q->header = NULL;
        CHECK(streq(win(t, q, NULL), "-"), "no header callback");
    }
}

static void expect_dup(vip_route_table *t, const char *name, const char *path,
                       const char *spec, const char *other)
{
    const char *err = add(t, name, path, spec);
    int ok = err && strstr(err, apr_psprintf(pool, "'%s'", name))
             && strstr(err, apr_psprintf(pool, "'%s'", other))
             && strstr(err, "never match");

    if (!ok) {
        printf("  dup %s %s: %s\n", name, path, err ? err : "accepted");
    }
    CHECK(ok, apr_psprintf(pool, "duplicate %s of %s", name, other));
}

static void test_duplicates(void)
{
    vip_route_table *t = vip_route_table_make(pool);
    int n;

    must_add(t, "a", "/a/{id}", NULL);
    n = vip_route_table_count(t);
    expect_dup(t, "a2", "/a/{id}", NULL, "a");
    expect_dup(t, "a3", "/a/{other}", NULL, "a");
    CHECK(vip_route_table_count(t) == n, "failed add not counted");
    must_add(t, "a-prefix", "/a/{id}/*", NULL);
    must_add(t, "a-lit", "/a/b", NULL);
    must_add(t, "a-get", "/a/{id}", "m=GET,HEAD");
    expect_dup(t, "a-get2", "/a/{x}", "m=HEAD,GET,GET", "a-get");
    must_add(t, "a-get-post", "/a/{id}", "m=GET,POST");
    must_add(t, "h", "/h", "h=api.example.com H=x-a:1 H=x-b:2 t=t1,t2 p=p1");
    expect_dup(t, "h2", "/h", "h=API.example.com H=X-B:2 H=x-a:1 t=t2,t1 p=p1",
               "h");
    must_add(t, "h3", "/h", "h=api.example.com H=x-a:1 H=x-b:3 t=t1,t2 p=p1");
    must_add(t, "h4", "/h", "h=api.example.com H=x-a:1 H=x-b:2 t=t1 p=p1");
    /* Values are length-prefixed in the signature: no separator games. */
    must_add(t, "s1", "/s", "H=x-a:1,2");
    must_add(t, "s2", "/s", "t=1,2");
    must_add(t, "root", "/", NULL);
    must_add(t, "all", "/*", NULL);
    expect_dup(t, "root2", "/", NULL, "root");
    expect_dup(t, "all2", "/*", NULL, "all");
}

/* ---- template errors --------------------------------------------------- */

static void expect_bad(const char *path, const char *needle)
{
    vip_route_table *t = vip_route_table_make(pool);
    const char *err = add(t, "bad", path, NULL);
    int ok = err && strstr(err, needle)
             && (!path || strstr(err, "template '"));

    if (!ok) {
        printf("  template %s: got %s\n", path ? path : "(null)",
               err ? err : "accepted");
    }
    CHECK(ok, apr_psprintf(pool, "bad template: %s", needle));
    CHECK(vip_route_table_count(t) == 0, "bad template not counted");
}

static void test_template_errors(void)
{
    vip_route_table *t = vip_route_table_make(pool);
    char deep[VIP_ROUTE_MAX_SEGMENTS * 2 + 8], many[512];
    const char *err;
    int i;

    expect_bad(NULL, "must start with '/'");
    expect_bad("", "must start with '/'");
    expect_bad("api/orders", "must start with '/'");
    expect_bad("/a//b", "segment 2 is empty");
    expect_bad("/a/", "segment 2 is empty");
    expect_bad("//", "segment 1 is empty");
    expect_bad("/{1x}", "bad parameter name '1x'");
    expect_bad("/{}", "bad parameter name ''");
    expect_bad("/{a-b}", "bad parameter name 'a-b'");
    expect_bad("/{abcdefghijabcdefghijabcdefghijabc}", "bad parameter name");
    expect_bad("/{a}/{a}", "{a} appears twice");
    expect_bad("/a{b}", "'{' or '}' in segment 1");
    expect_bad("/{a}b", "'{' or '}' in segment 1");
    expect_bad("/x/{a", "'{' or '}' in segment 2");
    expect_bad("/x/a}", "'{' or '}' in segment 2");
    expect_bad("/{{a}}", "'{' or '}'");
    expect_bad("/*/a", "is not the last segment");
    expect_bad("/a*", "'*' inside segment 1");
    expect_bad("/a/**", "'*' inside segment 2");
    expect_bad("/a/./b", "segment 2 is a dot-segment");
    expect_bad("/a/..", "dot-segment");
    expect_bad("/..;x/b", "dot-segment");
    expect_bad("/a\x01", "control character");
    expect_bad("/a\x7f", "control character");
    expect_bad("/a\\b", "contains '\\'");
    expect_bad("/a b\x1b", "'/a b\\x1b'");  /* quoted safely */

    for (i = 0, deep[0] = '\0'; i < VIP_ROUTE_MAX_SEGMENTS; i++) {
        strcat(deep, "/a");
    }
    must_add(t, "deep64", deep, NULL);
    strcat(deep, "/a");
    expect_bad(deep, "more than 64 segments");

    for (i = 0, many[0] = '\0'; i < VIP_ROUTE_MAX_PARAMS; i++) {
        sprintf(many + strlen(many), "/{p%d}", i);
    }
    must_add(t, "params16", many, NULL);
    expect_bad(apr_pstrcat(pool, many, "/*", NULL), "the '*' counts as one");
    expect_bad(apr_pstrcat(pool, many, "/{p16}", NULL),
               "more than 16 parameters");
    must_add(t, "name32", "/{abcdefghijabcdefghijabcdefghij_1}", NULL);

    /* Route names and conditions are checked too. */
    err = add(t, "bad name", "/ok", NULL);
    CHECK(err && strstr(err, "route name 'bad name'"), "bad route name");
    CHECK(add(t, NULL, "/ok", NULL) != NULL, "NULL route name");
    err = add(t, "m", "/ok", "m=GE(T");
    CHECK(err && strstr(err, "bad method"), "bad method");
    err = add(t, "hh", "/ok", "H=:1");
    CHECK(err && strstr(err, "bad header condition"), "empty header name");
    {
        vip_route *r = route("host", "/ok", NULL);
        char *e = NULL;
        r->host = "";
        CHECK(vip_route_table_add(t, r, &e) != APR_SUCCESS && e
              && strstr(e, "empty host"), "empty host");
    }
}

/* ---- rewrite targets --------------------------------------------------- */

static void expect_target_bad(const char *path, const char *target,
                              const char *needle)
{
    char *err = NULL;
    apr_status_t rv = vip_route_check_target(pool, route("r", path, NULL),
                                             target, &err);
    int ok = rv != APR_SUCCESS && err && strstr(err, needle);

    if (!ok) {
        printf("  target %s for %s: got %s\n", target ? target : "(null)",
               path, err ? err : "accepted");
    }
    CHECK(ok, apr_psprintf(pool, "bad target: %s", needle));
}

static const char *expand(const char *path, const char *target,
                          const char *reqpath)
{
    vip_route_table *t = vip_route_table_make(pool);
    vip_route_match m;
    char *err = NULL;
    vip_route *r = route("r", path, NULL);

    if (vip_route_table_add(t, r, &err) != APR_SUCCESS
        || vip_route_check_target(pool, r, target, &err) != APR_SUCCESS) {
        return err;
    }
    if (!vip_route_table_match(t, req(apr_pstrcat(pool, "GET ", reqpath, NULL),
                                      0, 0, 0, 0), pool, &m)) {
        return "(no match)";
    }
    return vip_route_expand(pool, target, &m);
}

static void expect_expand(const char *path, const char *target,
                          const char *reqpath, const char *want)
{
    const char *got = expand(path, target, reqpath);

    if (!streq(got, want)) {
        printf("  expand %s with %s (%s): got %s, want %s\n", target, reqpath,
               path, got, want);
    }
    CHECK(streq(got, want), apr_psprintf(pool, "expand %s %s", target,
                                         reqpath));
}

static void test_targets(void)
{
    char *err = NULL;

    CHECK(vip_route_check_target(pool, route("r", "/products/{id}/price", 0),
                                 "/v2/items/{id}/cost", &err) == APR_SUCCESS
          && err == NULL, "good target");
    expect_target_bad("/products/{id}", "/v2/{nope}",
                      "{nope} is not a parameter of template '/products/{id}'");
    expect_target_bad("/products/{id}", "/v2/{*}", "does not end with");
    expect_target_bad("/products/{id}", "v2/{id}", "must start with '/'");
    expect_target_bad("/products/{id}", NULL, "must start with '/'");
    expect_target_bad("/products/{id}", "/v2/{id", "'{' without '}'");
    expect_target_bad("/products/{id}", "/v2/id}", "'}' without '{'");
    expect_target_bad("/products/{id}", "/v2/{1a}", "bad placeholder '{1a}'");
    expect_target_bad("/products/{id}", "/v2/{}", "bad placeholder");
    expect_target_bad("/products/{id}", "/v2/../{id}", "dot-segment");
    expect_target_bad("/products/{id}", "/v2/{id}/.", "dot-segment");
    expect_target_bad("/products/{id}", "/v2/\x01", "control character");
    expect_target_bad("/a//b", "/v2", "segment 2 is empty");

    expect_expand("/products/{id}/price", "/v2/items/{id}/cost",
                  "/products/42/price", "/v2/items/42/cost");
    expect_expand("/files/{name}", "/f/{name}.json", "/files/a", "/f/a.json");
    expect_expand("/api/orders/*", "/v2/{*}", "/api/orders/7/x", "/v2/7/x");
    expect_expand("/api/orders/*", "/v2/{*}", "/api/orders", "/v2");
    expect_expand("/api/orders/*", "/v2/{*}", "/api/orders/", "/v2");
    expect_expand("/api/orders/*", "/v2/{*}", "/api/orders/7/", "/v2/7/");
    expect_expand("/api/orders/*", "/{*}", "/api/orders", "/");
    expect_expand("/api/orders/*", "/{*}", "/api/orders/a", "/a");
    expect_expand("/api/orders/*", "/v2/{*}/tail", "/api/orders", "/v2/tail");
    expect_expand("/api/orders/*", "/v2/{*}/tail", "/api/orders/x",
                  "/v2/x/tail");
    expect_expand("/api/orders/*", "/v2/x{*}", "/api/orders", "/v2/x");
    expect_expand("/api/orders/*", "/static", "/api/orders/1", "/static");
    expect_expand("/u/{id}/*", "/users/{id}/{*}", "/u/5/a/b", "/users/5/a/b");
    expect_expand("/u/{id}/*", "/users/{id}/{*}", "/u/5", "/users/5");
    expect_expand("/*", "/{*}", "/", "/");
    expect_expand("/*", "/old/{*}", "/x/y", "/old/x/y");
    expect_expand("/", "/home", "/", "/home");
}

/* ---- the normaliser ---------------------------------------------------- */

static void expect_norm(const char *in, apr_size_t len, const char *want)
{
    char *out = NULL, *again = NULL;
    const char *reason = NULL;
    apr_status_t rv = vip_path_normalize(pool, in, len, &out, &reason);
    int ok = rv == APR_SUCCESS && streq(out, want);

    if (!ok) {
        printf("  normalize %s: got %s (%s), want %s\n", in,
               out ? out : "NULL", reason ? reason : "-", want);
    }
    CHECK(ok, apr_psprintf(pool, "normalize %s", want));
    if (ok) {
        rv = vip_path_normalize(pool, out, strlen(out), &again, &reason);
        CHECK(rv == APR_SUCCESS && streq(again, out),
              apr_psprintf(pool, "idempotent %s", out));
    }
}

static void expect_refused(const char *in, apr_size_t len, const char *why,
                           const char *name)
{
    char *out = (char *)"unset";
    const char *reason = NULL;
    apr_status_t rv = vip_path_normalize(pool, in, len, &out, &reason);
    int ok = rv == APR_EINVAL && streq(reason, why) && out == NULL;

    if (!ok) {
        printf("  %s: got rv %d, %s, out %s; want %s\n", name, rv,
               reason ? reason : "-", out ? out : "NULL", why);
    }
    CHECK(ok, apr_psprintf(pool, "refused %s: %s", name, why));
}

#define NORM(s, want) expect_norm(s, sizeof(s) - 1, want)
#define REFUSED(s, why) expect_refused(s, sizeof(s) - 1, why, #s)

static void test_normalize(void)
{
    char *big = apr_palloc(pool, VIP_PATH_MAX + 2);

    NORM("/", "/");
    NORM("/a/b", "/a/b");
    NORM("/a/b/", "/a/b/");
    NORM("//a///b//", "/a/b/");
    NORM("//", "/");
    NORM("/caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x98\x80",
         "/caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x98\x80");
    NORM("/a/.../b", "/a/.../b");
    NORM("/a/.hidden/..b/b..", "/a/.hidden/..b/b..");
    NORM("/a;x/b;y=1", "/a;x/b;y=1");
    NORM("/a/;x/b", "/a/;x/b");
    NORM("/a/%2e%2ex/b", "/a/%2e%2ex/b");
    NORM("/a/%zz/%2", "/a/%zz/%2");
    NORM("/api/orders%3fx", "/api/orders%3fx");

    /* THREATS R1, as the path looks after httpd decoded it. */
    REFUSED("", "not_absolute");
    REFUSED("a/b", "not_absolute");
    REFUSED("http://evil.example/", "not_absolute");
    REFUSED("/api/orders/../admin", "dot_segment");  /* if httpd had not */
    REFUSED("/api/orders/..", "dot_segment");
    REFUSED("/api/./orders", "dot_segment");
    REFUSED("/.", "dot_segment");
    REFUSED("/api/orders/..;/admin", "dot_segment");
    REFUSED("/api/orders/..;jsessionid=1/admin", "dot_segment");
    REFUSED("/api/orders/.;x/admin", "dot_segment");
    REFUSED("/api/orders/%2e%2e/admin", "dot_segment");  /* was %252e%252e */
    REFUSED("/api/orders/%2E%2E/admin", "dot_segment");
    REFUSED("/api/orders/.%2e/admin", "dot_segment");
    REFUSED("/api/orders/%2e/admin", "dot_segment");
    REFUSED("/api/orders/..%2f/admin", "dot_segment");  /* NoDecode slashes */
    REFUSED("/api/orders/..%2Fadmin", "dot_segment");
    REFUSED("/api/orders/..%5cadmin", "dot_segment");
    REFUSED("/api/orders/..%3b/admin", "dot_segment");
    REFUSED("/api/orders/x%2f..%2fadmin", "dot_segment");
    REFUSED("/api/orders/..\\admin", "backslash");
    REFUSED("/api\\admin", "backslash");
    REFUSED("/api/orders/\xc0\xae\xc0\xae/admin", "bad_utf8");
    REFUSED("/api/\xc0\xaf", "bad_utf8");
    REFUSED("/api/\xe0\x80\xae", "bad_utf8");
    REFUSED("/api/\xf0\x80\x80\xae", "bad_utf8");
    REFUSED("/api/\xed\xa0\x80", "bad_utf8");      /* surrogate */
    REFUSED("/api/\xf4\x90\x80\x80", "bad_utf8");  /* above U+10FFFF */
    REFUSED("/api/\xc3", "bad_utf8");              /* truncated */
    REFUSED("/api/\xe2\x82", "bad_utf8");
    REFUSED("/api/\x80", "bad_utf8");
    REFUSED("/api/\xff", "bad_utf8");
    REFUSED("/api/orders\0/admin", "control_char");  /* %00 */
    REFUSED("/api/\x01", "control_char");
    REFUSED("/api/a\r\nX-Injected: 1", "control_char");
    REFUSED("/api/\t", "control_char");
    REFUSED("/api/\x7f", "control_char");

    memset(big, 'a', VIP_PATH_MAX + 1);
    big[0] = '/';
    expect_refused(big, VIP_PATH_MAX + 1, "too_long", "8193 bytes");
    big[VIP_PATH_MAX] = '\0';
    expect_norm(big, VIP_PATH_MAX, big);
    {
        char *out;
        const char *reason = NULL;
        CHECK(vip_path_normalize(pool, "/a/b", 2, &out, &reason)
              == APR_SUCCESS && streq(out, "/a"), "length, not NUL, ends");
        CHECK(vip_path_normalize(pool, NULL, 0, &out, NULL) == APR_EINVAL,
              "NULL input, NULL reason pointer");
    }
}

/* ---- scale ------------------------------------------------------------- */

static void test_many_routes(void)
{
    vip_route_table *t = vip_route_table_make(pool);
    vip_route_match m;
    int i, bad = 0, added = 0;
    char *err;

    /* 10,000 routes: per service an exact path, a template and a prefix,
     * some of them with conditions. */
    for (i = 0; i < 2500; i++) {
        const char *svc = apr_psprintf(pool, "svc%d", i);
        vip_route *r[4];
        int k;

        r[0] = route(apr_psprintf(pool, "%s-list", svc),
                     apr_psprintf(pool, "/%s/items", svc), NULL);
        r[1] = route(apr_psprintf(pool, "%s-item", svc),
                     apr_psprintf(pool, "/%s/items/{id}", svc),
                     i % 2 ? "m=GET" : NULL);
        r[2] = route(apr_psprintf(pool, "%s-all", svc),
                     apr_psprintf(pool, "/%s/*", svc), NULL);
        r[3] = route(apr_psprintf(pool, "%s-v2", svc),
                     apr_psprintf(pool, "/%s/items/{id}", svc),
                     "H=x-api-version:2");
        for (k = 0; k < 4; k++) {
            if (vip_route_table_add(t, r[k], &err) == APR_SUCCESS) {
                added++;
            }
        }
    }
    CHECK(added == 10000 && vip_route_table_count(t) == 10000,
          "10,000 routes added");
    for (i = 0; i < 2500; i++) {
        const char *svc = apr_psprintf(pool, "svc%d", i);

        if (!vip_route_table_match(t, req(apr_psprintf(pool, "GET /%s/items",
                                                       svc), 0, 0, 0, 0),
                                   pool, &m)
            || strcmp(m.route->name, apr_psprintf(pool, "%s-list", svc))) {
            bad++;
        }
        if (!vip_route_table_match(t, req(apr_psprintf(pool,
                "POST /%s/items/%d", svc, i), 0, 0, 0, 0), pool, &m)
            || strcmp(m.route->name, apr_psprintf(pool, i % 2 ? "%s-all"
                                                  : "%s-item", svc))) {
            bad++;
        }
        if (!vip_route_table_match(t, req(apr_psprintf(pool,
                "GET /%s/items/%d", svc, i), 0, 0, 0, "X-Api-Version: 2"),
                pool, &m)
            /* Odd: "GET" and the header are one condition each, so the
             * earlier route wins. */
            || strcmp(m.route->name, apr_psprintf(pool, i % 2 ? "%s-item"
                                                  : "%s-v2", svc))
            || !streq(param(&m, "id"), apr_psprintf(pool, "%d", i))) {
            bad++;
        }
        if (!vip_route_table_match(t, req(apr_psprintf(pool,
                "GET /%s/other/x", svc), 0, 0, 0, 0), pool, &m)
            || strcmp(m.route->name, apr_psprintf(pool, "%s-all", svc))
            || !streq(param(&m, "*"), "other/x")) {
            bad++;
        }
    }
    if (bad) {
        printf("  %d wrong matches among 10,000 routes\n", bad);
    }
    CHECK(bad == 0, "10,000 routes: every match right");
    expect_win(t, "GET /svc2500/items", "-");
    expect_win(t, "GET /svc1x/items", "-");
}

/* ---- concurrent readers ------------------------------------------------ */

#if APR_HAS_THREADS
typedef struct {
    const vip_route_table *t;
    int seed, bad;
} reader;

static void *APR_THREAD_FUNC read_table(apr_thread_t *th, void *data)
{
    reader *rd = data;
    apr_pool_t *p;
    int i;

    apr_pool_create(&p, NULL);          /* a pool per thread, as per request */
    for (i = 0; i < 20000; i++) {
        int svc = (rd->seed * 7919 + i * 104729) % 1000;
        char path[64], want[32], id[16];
        vip_route_req q;
        vip_route_match m;

        memset(&q, 0, sizeof(q));
        snprintf(path, sizeof(path), "/s%d/items/%d", svc, i);
        snprintf(want, sizeof(want), "s%d", svc);
        snprintf(id, sizeof(id), "%d", i);
        q.method = "GET";
        q.path = path;
        if (!vip_route_table_match(rd->t, &q, p, &m)
            || strcmp(m.route->name, want) != 0 || m.nparams != 1
            || strcmp(m.values[0], id) != 0) {
            rd->bad++;
        }
        if (i % 1000 == 999) {
            apr_pool_clear(p);
        }
    }
    apr_pool_destroy(p);
    apr_thread_exit(th, APR_SUCCESS);
    return NULL;
}

static void test_threads(void)
{
    vip_route_table *t = vip_route_table_make(pool);
    apr_thread_t *th[4];
    reader rd[4];
    int i, bad = 0;

    for (i = 0; i < 1000; i++) {
        vip_route_table_add(t, route(apr_psprintf(pool, "s%d", i),
                                     apr_psprintf(pool, "/s%d/items/{id}", i),
                                     NULL), NULL);
    }
    for (i = 0; i < 4; i++) {
        rd[i].t = t;
        rd[i].seed = i;
        rd[i].bad = 0;
        apr_thread_create(&th[i], NULL, read_table, &rd[i], pool);
    }
    for (i = 0; i < 4; i++) {
        apr_status_t rv;
        apr_thread_join(&rv, th[i]);
        bad += rd[i].bad;
    }
    CHECK(bad == 0, "4 threads matching one table concurrently");
}
#else
static void test_threads(void)
{
}
#endif

int main(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);

    test_precedence();
    test_conditions_order();
    test_boundaries();
    test_params();
    test_conditions();
    test_duplicates();
    test_template_errors();
    test_targets();
    test_normalize();
    test_many_routes();
    test_threads();

    printf("%d passed, %d failed\n", passed, failed);
    apr_pool_destroy(pool);
    apr_terminate();
    return failed ? 1 : 0;
}
