/*
 * route_table.h - the route table of mod_vip_route: path templates with
 * parameters in a segment tree, matched in time independent of the number
 * of routes.
 *
 * Pure code (APR only): the httpd layer builds the table from directives
 * at configuration time and asks it for the route of a request view.
 *
 * Template syntax (docs/routing.md; "\*" below is a plain "*", escaped
 * because a slash-star cannot appear inside a C comment):
 *   /products/{id}/price   literal segments and {name} parameters, each
 *                          parameter matching exactly one non-empty segment
 *   /api/orders/\*         a prefix: matches /api/orders and everything
 *                          below it on a segment boundary (never
 *                          /api/orders-export); the rest is the parameter "*"
 *   /                      the root only;  /\*  everything
 * Names are [A-Za-z_][A-Za-z0-9_]{0,31}; a name appears once per template.
 *
 * Precedence, deterministic: walking the request path segment by segment,
 * a literal segment beats a parameter, a parameter beats a prefix "*", and
 * a longer prefix beats a shorter one.  Among routes with the same template
 * shape, the one with more conditions (method, host, headers, tenants,
 * plans, each counting 1) is tried first, then configuration order.  The
 * first route whose conditions all hold wins; when none at the most
 * specific shape holds, less specific shapes are tried (backtracking).
 */
#ifndef VIP_ROUTE_TABLE_H
#define VIP_ROUTE_TABLE_H

#include <apr_pools.h>
#include <apr_tables.h>

#define VIP_ROUTE_MAX_PARAMS   16
#define VIP_ROUTE_MAX_SEGMENTS 64

typedef struct {
    const char *name;                   /* lower-case header name */
    const char *value;                  /* exact value required */
} vip_route_header_cond;

typedef struct vip_route {
    const char *name;                   /* route id, [A-Za-z0-9._-] */
    const char *path;                   /* template */
    apr_array_header_t *methods;        /* const char *; empty: any */
    const char *host;                   /* lower case, no port; NULL: any */
    apr_array_header_t *headers;        /* vip_route_header_cond; may be NULL */
    apr_array_header_t *tenants;        /* const char *; NULL/empty: any */
    apr_array_header_t *plans;          /* const char *; NULL/empty: any */
    void *target;                       /* the caller's: service, rewrite... */
    int order;                          /* set by vip_route_table_add */
} vip_route;

/* What the table needs to know of a request. */
typedef struct {
    const char *method;
    const char *host;                   /* lower case, no port; may be NULL */
    const char *path;                   /* normalised (vip_path_normalize) */
    const char *tenant;                 /* NULL when anonymous */
    const char *plan;
    /* Request header lookup (case-insensitive name); NULL when absent. */
    const char *(*header)(void *ctx, const char *name);
    void *ctx;
} vip_route_req;

typedef struct {
    const vip_route *route;
    int nparams;
    const char *names[VIP_ROUTE_MAX_PARAMS];
    const char *values[VIP_ROUTE_MAX_PARAMS]; /* "*" holds the prefix rest,
                                                 without leading '/', maybe "" */
} vip_route_match;

typedef struct vip_route_table vip_route_table;

vip_route_table *vip_route_table_make(apr_pool_t *p);

/* Add a route (the struct is kept, not copied).  Fails, with *err naming
 * the problem, on a bad template and on a route with the same template
 * shape and the same conditions as an earlier one (it could never match). */
apr_status_t vip_route_table_add(vip_route_table *t, vip_route *r,
                                 char **err);

int vip_route_table_count(const vip_route_table *t);

/* The winning route for req, or 0 when none matches.  Parameter values are
 * allocated from p. */
int vip_route_table_match(const vip_route_table *t, const vip_route_req *req,
                          apr_pool_t *p, vip_route_match *m);

/* Check a rewrite target such as "/v2/items/{id}/{*}" against the route's
 * template: every {name} must be a parameter of that template. */
apr_status_t vip_route_check_target(apr_pool_t *p, const vip_route *r,
                                    const char *target, char **err);

/* Expand a checked rewrite target with the match's parameters (values are
 * inserted as they are: the caller re-encodes the resulting path). */
const char *vip_route_expand(apr_pool_t *p, const char *target,
                             const vip_route_match *m);

#endif
