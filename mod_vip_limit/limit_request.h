/*
 * limit_request.h - one request against a list of rules: keys, decisions
 * through each zone's store, notes, RateLimit header fields, 429s.
 */
#ifndef VIP_LIMIT_REQUEST_H
#define VIP_LIMIT_REQUEST_H

#include "httpd.h"

#include "limit_config.h"

/* Which rules of a list a phase decides. */
#define VIP_LIMIT_PHASE_EARLY 1     /* keyed by client IP only */
#define VIP_LIMIT_PHASE_LATE  2     /* every other key */
/* The server's IP rules: those no <Location>/<Directory> replaces or turns
 * off are decided in post_read_request, the others in header_parser once
 * the location is known (after the location's own rules). */
#define VIP_LIMIT_PHASE_EARLY_SERVER   3
#define VIP_LIMIT_PHASE_EARLY_DEFERRED 4

/* Decide the rules of rules that belong to phase, skipping those on a
 * zone named in off (may be NULL).  Returns OK when the request may go
 * on, or the status of the problem response prepared (429, or 503 when a
 * full zone is configured full=deny). */
int vip_limit_apply(request_rec *r, const apr_array_header_t *rules,
                    int phase, const apr_array_header_t *off);

#endif
