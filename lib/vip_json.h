/*
 * vip_json.h - strict JSON parsing on top of json-c.
 *
 * json-c keeps the last of duplicate object members; a signed token or a
 * registry with duplicates is ambiguous, so they are refused here.  The
 * input must be exactly one JSON value (trailing bytes refused), nesting
 * is capped, and embedded NUL bytes are refused.
 */
#ifndef VIP_JSON_H
#define VIP_JSON_H

#include <apr_pools.h>
#include <json-c/json.h>

#define VIP_JSON_MAX_DEPTH 32

/* Parse buf[0..len).  On success *out is owned by the caller unless
 * pool is non-NULL, in which case a cleanup on pool releases it.
 * On failure returns APR_EGENERAL and *err (from pool, or static when pool
 * is NULL) says why: "invalid JSON", "too deep", "duplicate member",
 * "trailing data". */
apr_status_t vip_json_parse(apr_pool_t *pool, const char *buf,
                            apr_size_t len, int max_depth,
                            json_object **out, const char **err);

#endif
