/*
 * auth_identity.c - identity notes, inheritance and identity headers.
 */
#include <string.h>

#include "httpd.h"
#include "http_core.h"
#include "apr_strings.h"
#include "apr_lib.h"

#include "mod_vip.h"
#include "vip_headers.h"
#include "auth_identity.h"

void vip_identity_set(request_rec *r, const vip_identity *id,
                      const char *result)
{
    apr_table_setn(r->notes, VIP_NOTE_TENANT, id->tenant);
    apr_table_setn(r->notes, VIP_NOTE_SUBJECT, id->subject);
    apr_table_setn(r->notes, VIP_NOTE_SCOPES, id->scopes);
    apr_table_setn(r->notes, VIP_NOTE_PLAN, id->plan);
    apr_table_setn(r->notes, VIP_NOTE_AUTH_METHOD, id->method);
    if (id->key_id) {
        apr_table_setn(r->notes, VIP_NOTE_KEY_ID, id->key_id);
    }
    apr_table_setn(r->notes, VIP_NOTE_AUTH_RESULT, result);
    apr_table_setn(r->subprocess_env, VIP_ENV_TENANT, id->tenant);
    apr_table_setn(r->subprocess_env, VIP_ENV_SUBJECT, id->subject);
    apr_table_setn(r->subprocess_env, VIP_ENV_SCOPES, id->scopes);
    apr_table_setn(r->subprocess_env, VIP_ENV_PLAN, id->plan);
    r->user = (char *)id->subject;
    r->ap_auth_type = VIP_AUTH_TYPE;
}

static int read_notes(const request_rec *r, vip_identity *id)
{
    id->tenant = apr_table_get(r->notes, VIP_NOTE_TENANT);
    id->method = apr_table_get(r->notes, VIP_NOTE_AUTH_METHOD);
    if (!id->tenant || !id->method) {
        return 0;
    }
    id->subject = apr_table_get(r->notes, VIP_NOTE_SUBJECT);
    id->scopes = apr_table_get(r->notes, VIP_NOTE_SCOPES);
    id->plan = apr_table_get(r->notes, VIP_NOTE_PLAN);
    id->key_id = apr_table_get(r->notes, VIP_NOTE_KEY_ID);
    return id->subject && id->scopes && id->plan;
}

int vip_identity_get(request_rec *r, vip_identity *id)
{
    const request_rec *src;

    if (read_notes(r, id)) {
        return 1;
    }
    /* A suspended tenant's request carries the tenant note for the log
     * but no method; it never counts as an identity. */
    for (src = r->main ? r->main : r->prev; src;
         src = src->main ? src->main : src->prev) {
        if (read_notes(src, id)) {
            vip_identity_set(r, id, "inherited");
            return 1;
        }
    }
    return 0;
}

static int reserved(const char *name, const apr_array_header_t *rules)
{
    char norm[128];
    int k;

    /* Normalised once for the reserved prefix and every rule (this runs
     * on each request header); long names still compare by prefix after
     * truncation. */
    vip_header_norm(name, norm, sizeof(norm));
    if (strncmp(norm, VIP_RESERVED_HEADER_PREFIX,
                sizeof(VIP_RESERVED_HEADER_PREFIX) - 1) == 0) {
        return 1;
    }
    for (k = 0; rules && k < rules->nelts; k++) {
        const vip_strip_rule *rule = &APR_ARRAY_IDX(rules, k, vip_strip_rule);
        if (rule->prefix ? strncmp(norm, rule->name, rule->len) == 0
                         : strcmp(norm, rule->name) == 0) {
            return 1;
        }
    }
    return 0;
}

static void scrub_connection(request_rec *r, const apr_array_header_t *rules)
{
    const char *conn = apr_table_get(r->headers_in, "Connection");
    char *copy, *tok, *last = NULL, *kept = NULL;
    int dropped = 0;

    if (!conn) {
        return;
    }
    copy = apr_pstrdup(r->pool, conn);
    for (tok = apr_strtok(copy, ", \t", &last); tok;
         tok = apr_strtok(NULL, ", \t", &last)) {
        if (reserved(tok, rules)) {
            dropped = 1;
            continue;
        }
        kept = kept ? apr_pstrcat(r->pool, kept, ", ", tok, NULL) : tok;
    }
    if (!dropped) {
        return;
    }
    if (kept) {
        apr_table_setn(r->headers_in, "Connection", kept);
    }
    else {
        apr_table_unset(r->headers_in, "Connection");
    }
}

void vip_strip_reserved(request_rec *r, const apr_array_header_t *rules)
{
    const apr_array_header_t *arr = apr_table_elts(r->headers_in);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    const char **doomed = NULL;
    int i, n = 0;

    for (i = 0; i < arr->nelts; i++) {
        if (e[i].key && reserved(e[i].key, rules)) {
            if (!doomed) {
                doomed = apr_palloc(r->pool, sizeof(*doomed) * arr->nelts);
            }
            doomed[n++] = e[i].key;
        }
    }
    /* Unset after the walk: apr_table_unset compacts the array. */
    for (i = 0; i < n; i++) {
        apr_table_unset(r->headers_in, doomed[i]);
    }
    scrub_connection(r, rules);
}

void vip_forward_identity(request_rec *r, const vip_identity *id)
{
    apr_table_setn(r->headers_in, VIP_HDR_TENANT, id->tenant);
    apr_table_setn(r->headers_in, VIP_HDR_SUBJECT, id->subject);
    apr_table_setn(r->headers_in, VIP_HDR_SCOPES, id->scopes);
    apr_table_setn(r->headers_in, VIP_HDR_PLAN, id->plan);
}

void vip_hide_credential(request_rec *r, const char *key_header)
{
    const char *authz = apr_table_get(r->headers_in, "Authorization");

    if (authz && (ap_cstr_casecmpn(authz, "Bearer ", 7) == 0
                  || ap_cstr_casecmpn(authz, "ApiKey ", 7) == 0)) {
        apr_table_unset(r->headers_in, "Authorization");
    }
    apr_table_unset(r->headers_in, key_header);
}
