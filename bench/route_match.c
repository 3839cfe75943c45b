/*
 * route_match.c - micro-benchmark of mod_vip_route's route table: how long
 * one match takes with 10, 1,000 and 10,000 routes.  It measures and
 * prints, it never asserts (the unit test checks the answers).
 *
 * Build and run from the top of the tree (no httpd needed):
 *
 *   gcc -std=gnu11 -O2 -g $(apr-1-config --includes --cppflags) \
 *       -Imod_vip_route -o /tmp/route_match bench/route_match.c \
 *       mod_vip_route/route_table.c mod_vip_route/route_path.c \
 *       $(apr-1-config --link-ld)
 *   taskset -c 1 /tmp/route_match [rounds [matches-per-round]]
 *
 * Defaults: 9 rounds of 200,000 matches per row; the figure is the median
 * round, in ns per match.  Results of a run are in bench/ROUTE_MATCH.md.
 *
 * The tables are a realistic mix, five routes per service "svcK":
 *   /svcK/v1/items                      exact literal
 *   /svcK/v1/items/{id}                 template
 *   /svcK/v1/items/{id}                 same, header X-Api-Version: 2
 *   /svcK/v1/items/{id}/price           template, GET and HEAD only
 *   /svcK/\*                            prefix, even K (the '\' only for C)
 *   /svcK/v1/items/{id}/history         exact, odd K, so that some paths
 *                                       miss after a deep walk
 * The requests of a row cycle through many services (pseudo-random, so
 * the larger tables really touch more memory) and each row is one kind of
 * request: hits at different depths, a hit that needs its conditions, a
 * hit found by backtracking, and misses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "route_path.h"
#include "route_table.h"

#define NQUERIES 4096

typedef struct {
    const char *name;
    const char *fmt;                    /* %d: the service number */
    const char *method;
    int with_header;                    /* send X-Api-Version: 2 */
    int parity;                         /* services: 0 any, 1 even, 2 odd */
} kind;

static const kind kinds[] = {
    {"hit, literal, depth 3", "/svc%d/v1/items", "GET", 0, 0},
    {"hit, param, depth 4", "/svc%d/v1/items/12345", "GET", 0, 0},
    {"hit, param + header cond", "/svc%d/v1/items/12345", "GET", 1, 0},
    {"hit, param + method, depth 5", "/svc%d/v1/items/12345/price", "GET", 0,
     0},
    {"hit, prefix, depth 2", "/svc%d/health", "GET", 0, 1},
    {"hit, prefix after backtrack", "/svc%d/v1/items/1/price/x/y/z", "GET", 0,
     1},
    {"hit, prefix, method fails", "/svc%d/v1/items/1/price", "POST", 0, 1},
    {"miss, first segment", "/nosuch%d/v1/items", "GET", 0, 0},
    {"miss, after a deep walk", "/svc%d/v1/items/1/price/x/y/z/w/v/u", "HEAD",
     1, 2},
};

static const char *header_of(void *ctx, const char *name)
{
    return ctx && strcasecmp(name, "x-api-version") == 0 ? "2" : NULL;
}

static vip_route *route(apr_pool_t *p, int svc, int i, const char *path,
                        const char *methods, int header)
{
    vip_route *r = apr_pcalloc(p, sizeof(*r));

    r->name = apr_psprintf(p, "svc%d-%d", svc, i);
    r->path = apr_psprintf(p, path, svc);
    r->methods = apr_array_make(p, 2, sizeof(const char *));
    if (methods) {
        APR_ARRAY_PUSH(r->methods, const char *) = methods;
        APR_ARRAY_PUSH(r->methods, const char *) = "HEAD";
    }
    if (header) {
        vip_route_header_cond *h;
        r->headers = apr_array_make(p, 1, sizeof(*h));
        h = apr_array_push(r->headers);
        h->name = "x-api-version";
        h->value = "2";
    }
    return r;
}

static vip_route_table *build(apr_pool_t *p, int nroutes, int *nsvc)
{
    vip_route_table *t = vip_route_table_make(p);
    int svc, i;
    char *err;

    for (svc = 0, i = 0; i < nroutes; svc++) {
        vip_route *r[5];
        int k;

        r[0] = route(p, svc, 0, "/svc%d/v1/items", NULL, 0);
        r[1] = route(p, svc, 1, "/svc%d/v1/items/{id}", NULL, 0);
        r[2] = route(p, svc, 2, "/svc%d/v1/items/{id}", NULL, 1);
        r[3] = route(p, svc, 3, "/svc%d/v1/items/{id}/price", "GET", 0);
        r[4] = svc % 2 ? route(p, svc, 4, "/svc%d/v1/items/{id}/history",
                               NULL, 0)
                       : route(p, svc, 4, "/svc%d/*", NULL, 0);
        for (k = 0; k < 5 && i < nroutes; k++, i++) {
            if (vip_route_table_add(t, r[k], &err) != APR_SUCCESS) {
                fprintf(stderr, "add: %s\n", err);
                exit(1);
            }
        }
    }
    *nsvc = svc;
    return t;
}

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median ns per match over `rounds` rounds of `iters` matches. */
static double run(const vip_route_table *t, vip_route_req *qs, int rounds,
                  long iters, apr_pool_t *scratch, long *hits)
{
    double *ns = malloc(sizeof(double) * (size_t)rounds), med;
    vip_route_match m;
    int r;

    for (r = 0; r < rounds; r++) {
        double t0 = now_ns();
        long i;

        *hits = 0;
        for (i = 0; i < iters; i++) {
            *hits += vip_route_table_match(t, &qs[i % NQUERIES], scratch, &m);
        }
        ns[r] = (now_ns() - t0) / (double)iters;
        apr_pool_clear(scratch);        /* parameter values, not timed */
    }
    qsort(ns, (size_t)rounds, sizeof(double), cmp_double);
    med = ns[rounds / 2];
    free(ns);
    return med;
}

/*
 * One table of results: every request kind against the three tables.
 * spread: requests name any service of the table (pseudo-random), or only
 * services 0 and 1 (hot caches: what the walk itself costs).
 */
static void report(const char *title, vip_route_table **tables,
                   const int *nsvcs, int spread, int rounds, long iters,
                   apr_pool_t *p, apr_pool_t *scratch)
{
    vip_route_req *qs = apr_pcalloc(p, sizeof(*qs) * NQUERIES);
    unsigned int seed = 12345;
    size_t s, k;
    int i;

    printf("%s\n%-32s %12s %12s %12s\n", title, "request kind", "10 routes",
           "1,000 routes", "10,000 routes");
    for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        double res[3];
        long hits[3];

        for (s = 0; s < 3; s++) {
            int nsvc = spread ? nsvcs[s] : 2;

            for (i = 0; i < NQUERIES; i++) {
                int svc = (int)(rand_r(&seed) % (unsigned int)nsvc);
                if (kinds[k].parity) {
                    svc = (svc & ~1) + (kinds[k].parity == 2);
                    svc = svc < nsvc ? svc : svc - 2;
                }
                qs[i].method = kinds[k].method;
                qs[i].host = "api.example.com";
                qs[i].path = apr_psprintf(p, kinds[k].fmt, svc);
                qs[i].header = header_of;
                qs[i].ctx = kinds[k].with_header ? (void *)1 : NULL;
            }
            res[s] = run(tables[s], qs, rounds, iters, scratch, &hits[s]);
        }
        printf("%-32s %12.1f %12.1f %12.1f%s\n", kinds[k].name, res[0],
               res[1], res[2],
               hits[0] == hits[1] && hits[1] == hits[2] ? "" : "  (hits?)");
    }
    printf("\n");
}

int main(int argc, char **argv)
{
    static const int sizes[] = {10, 1000, 10000};
    int rounds = argc > 1 ? atoi(argv[1]) : 9;
    long iters = argc > 2 ? atol(argv[2]) : 200000;
    apr_pool_t *p, *scratch;
    vip_route_table *tables[3];
    int nsvcs[3], s;

    if (rounds < 1 || iters < 1) {
        fprintf(stderr, "usage: %s [rounds [matches-per-round]]\n", argv[0]);
        return 2;
    }
    apr_initialize();
    apr_pool_create(&p, NULL);
    apr_pool_create(&scratch, p);
    for (s = 0; s < 3; s++) {
        apr_pool_t *tp;
        apr_pool_create(&tp, p);
        tables[s] = build(tp, sizes[s], &nsvcs[s]);
    }

    printf("route match, median of %d rounds x %ld matches, ns per match\n\n",
           rounds, iters);
    report("requests spread over all services of the table:", tables, nsvcs,
           1, rounds, iters, p, scratch);
    report("requests for services 0 and 1 only (hot caches):", tables, nsvcs,
           0, rounds, iters, p, scratch);

    /* The normaliser runs before every match: its cost for comparison. */
    {
        const char *path = "/svc42/v1/items/12345/price";
        apr_size_t len = strlen(path);
        double ns[64], t0;
        char *out;
        const char *why;
        int r;
        long j;

        for (r = 0; r < rounds && r < 64; r++) {
            t0 = now_ns();
            for (j = 0; j < iters; j++) {
                vip_path_normalize(scratch, path, len, &out, &why);
            }
            ns[r] = (now_ns() - t0) / (double)iters;
            apr_pool_clear(scratch);
        }
        qsort(ns, (size_t)r, sizeof(double), cmp_double);
        printf("%-32s %12.1f   (%s)\n", "vip_path_normalize", ns[r / 2],
               path);
    }
    apr_pool_destroy(p);
    apr_terminate();
    return 0;
}
