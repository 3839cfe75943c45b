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

/* Member name of object o as a string of known length: 1 found, 0 absent,
 * -1 of another type.  The length comes from json-c, so a "\u0000"
 * inside the value is visible to the caller instead of silently cutting
 * the string short. */
int vip_json_get_string(json_object *o, const char *name, const char **s,
                        apr_size_t *len);

#endif
