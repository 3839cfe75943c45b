/*
 * mod_vip.h - the public contract between the vip modules.
 *
 * The four modules (mod_vip_auth, mod_vip_route, mod_vip_cache,
 * mod_vip_limit) never include each other's private headers.  They talk
 * through the request notes, environment variables and header names
 * listed here, so each one works when loaded alone and any of them can be
 * replaced by another module that honours the same notes.
 *
 * Notes live in r->notes of the request that set them; subrequests and
 * internal redirects copy them from r->main / r->prev.  All notes are also
 * usable in LogFormat as %{vip.tenant}n and friends.
 */
#ifndef MOD_VIP_H
#define MOD_VIP_H

/* ---- notes set by mod_vip_auth (after check_authn) ---------------------
 * Values are restricted to [A-Za-z0-9._-] (tenant, plan, key id) or to
 * visible ASCII without spaces (subject, each scope), so they are safe to
 * put in headers and logs as they are. */
#define VIP_NOTE_TENANT       "vip.tenant"       /* tenant id                      */
#define VIP_NOTE_SUBJECT      "vip.subject"      /* JWT sub, or the API key id     */
#define VIP_NOTE_SCOPES       "vip.scopes"       /* granted scopes, space separated */
#define VIP_NOTE_PLAN         "vip.plan"         /* the tenant's plan              */
#define VIP_NOTE_AUTH_METHOD  "vip.auth_method"  /* "apikey" or "jwt"              */
#define VIP_NOTE_KEY_ID       "vip.key_id"       /* API key id or JWT kid          */
#define VIP_NOTE_AUTH_RESULT  "vip.auth_result"  /* "ok", "cached" (token cache
                                                    hit), "inherited", or the
                                                    failure reason code        */

/* ---- notes set by mod_vip_route (translate_name, or fixups for tables
 * with tenant/plan conditions) ------------------------------------------ */
#define VIP_NOTE_ROUTE        "vip.route"        /* matched route name          */
#define VIP_NOTE_SERVICE      "vip.service"      /* service chosen for it       */
#define VIP_NOTE_ROUTE_RESULT "vip.route_result" /* "routed", "no_route", or a
                                                    path refusal reason        */
#define VIP_NOTE_REQUEST_ID   "vip.request_id"   /* the X-Request-Id in effect  */

/* ---- notes set by mod_vip_cache (handler and its filters) ------------- */
#define VIP_NOTE_CACHE        "vip.cache"        /* "hit", "stale", "miss",
                                                    "stored", "bypass",
                                                    "uncacheable", "error"     */
#define VIP_NOTE_CACHE_KEY    "vip.cache_key"    /* vip:<version>:<hex digest>  */
#define VIP_NOTE_CACHE_TTL    "vip.cache_ttl"    /* seconds of freshness left   */
#define VIP_NOTE_ESI          "vip.esi"          /* ESI page: "includes=N hits=N
                                                    misses=N errors=N"         */

/* ---- notes set by mod_vip_limit (post_read_request for per-IP limits,
 * after check_authn for tenant/plan/route limits) ---------------------- */
#define VIP_NOTE_LIMIT        "vip.limit"        /* "ok", "limited", "dry_run"
                                                    (would have been limited),
                                                    "degraded" (cluster store
                                                    unreachable, local share)  */
#define VIP_NOTE_LIMIT_NAME   "vip.limit_name"   /* the deciding limit's name   */
#define VIP_NOTE_LIMIT_KEY    "vip.limit_key"    /* the key it counted          */
#define VIP_NOTE_LIMIT_REMAINING "vip.limit_remaining" /* quota units left     */

/* ---- environment variables (r->subprocess_env), same values ---------- */
#define VIP_ENV_TENANT        "VIP_TENANT"
#define VIP_ENV_SUBJECT       "VIP_SUBJECT"
#define VIP_ENV_SCOPES        "VIP_SCOPES"
#define VIP_ENV_PLAN          "VIP_PLAN"

/* ---- identity headers forwarded to upstream services -----------------
 * Set by mod_vip_auth in fixups on authenticated requests.  Any request
 * header whose name, lower-cased with '_' mapped to '-', starts with
 * VIP_RESERVED_HEADER_PREFIX is removed from every request before any
 * other module sees it, authenticated or not. */
#define VIP_RESERVED_HEADER_PREFIX "x-vip-"
#define VIP_HDR_TENANT        "X-Vip-Tenant"
#define VIP_HDR_SUBJECT       "X-Vip-Subject"
#define VIP_HDR_SCOPES        "X-Vip-Scopes"
#define VIP_HDR_PLAN          "X-Vip-Plan"

/* Request id: kept when the client's is 8-128 characters of
 * [A-Za-z0-9._-], generated otherwise; sent upstream and back. */
#define VIP_HDR_REQUEST_ID    "X-Request-Id"

/* ---- error responses --------------------------------------------------
 * Every error a vip module generates is an RFC 9457 problem document with
 * Content-Type VIP_PROBLEM_CONTENT_TYPE, Cache-Control: no-store, and a
 * "type" of VIP_PROBLEM_TYPE_BASE followed by a short slug. */
#define VIP_PROBLEM_CONTENT_TYPE "application/problem+json"
#define VIP_PROBLEM_TYPE_BASE    "urn:vip:problem:"

#endif /* MOD_VIP_H */
