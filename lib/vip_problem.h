/*
 * vip_problem.h - RFC 9457 problem details, the one way a vip module
 * answers with an error.
 *
 * A hook calls vip_problem() and returns its result.  The body becomes the
 * request's custom response for that status, so httpd's own error path
 * (ap_die) sends it: request bodies are discarded or the connection closed
 * exactly as for any other error.  httpd forces text/html on custom
 * responses, so the module's insert_error_filter hook calls
 * vip_problem_insert_filter(), which adds a tiny filter restoring the
 * problem+json media type.
 */
#ifndef VIP_PROBLEM_H
#define VIP_PROBLEM_H

#include "httpd.h"

/* Call once from register_hooks with a filter name unique to the module
 * (each module carries its own copy of lib/). */
void vip_problem_register(const char *filter_name);

/* Prepare a problem response for r and return status.  slug completes the
 * "type" URN (urn:vip:problem:<slug>); title is a short summary; detail
 * may be NULL and never carries secrets or internals.  Sets
 * Cache-Control: no-store. */
int vip_problem(request_rec *r, int status, const char *slug,
                const char *title, const char *detail);

/* The same, registered as the custom response of status code slot while
 * the document says status: for a hook that changes r->status from
 * insert_error_filter, after httpd chose the body by the old status. */
int vip_problem_for(request_rec *r, int slot, int status, const char *slug,
                    const char *title, const char *detail);

/* From the module's insert_error_filter hook: when the error being sent
 * is the problem this module prepared, add the media-type filter. */
void vip_problem_insert_filter(request_rec *r);

/* The problem JSON text itself, from p. */
const char *vip_problem_json(apr_pool_t *p, int status, const char *slug,
                             const char *title, const char *detail);

#endif
