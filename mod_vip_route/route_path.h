/*
 * route_path.h - the path normaliser mod_vip_route decides on.
 *
 * httpd has already percent-decoded r->uri and removed dot-segments; this
 * is the second, stricter line that makes the routed path and the path an
 * upstream's own normaliser would see the same, or refuses the request:
 *   - must start with '/'; NUL, control bytes (< 0x20, 0x7f) refused
 *   - '\' refused (some upstream stacks read it as '/')
 *   - a segment that is "." or ".." (also "..;x", ".;x": servlet
 *     containers strip ";params" before resolving dot-segments) refused
 *   - invalid or overlong UTF-8 (e.g. C0 AE, an overlong '.') refused
 *   - runs of '/' merged into one
 * It decodes nothing (the input is already decoded).
 */
#ifndef VIP_ROUTE_PATH_H
#define VIP_ROUTE_PATH_H

#include <apr_pools.h>

#define VIP_PATH_MAX 8192

/* Normalise in[0..len) into *out (from p).  Returns APR_SUCCESS, or
 * APR_EINVAL with *reason a short stable code ("not_absolute",
 * "control_char", "backslash", "dot_segment", "bad_utf8", "too_long"). */
apr_status_t vip_path_normalize(apr_pool_t *p, const char *in,
                                apr_size_t len, char **out,
                                const char **reason);

#endif
