/*
 * vip_problem.c - build and send RFC 9457 application/problem+json errors.
 *
 * json-c writes the document so titles and details are always escaped.
 * The note VIP_NOTE_PROBLEM records "<filter>:<status>" so that only the
 * module that prepared a problem, and only for that status, retypes the
 * error body (a later, different error keeps httpd's own page).
 */
#include <json-c/json.h>

#include "httpd.h"
#include "http_protocol.h"
#include "http_request.h"
#include "http_core.h"
#include "util_filter.h"
#include "apr_strings.h"

#include "mod_vip.h"
#include "vip_problem.h"

#define VIP_NOTE_PROBLEM "vip.problem"

static const char *problem_filter_name;

const char *vip_problem_json(apr_pool_t *p, int status, const char *slug,
                             const char *title, const char *detail)
{
    json_object *o = json_object_new_object();
    const char *text;

    json_object_object_add(o, "type", json_object_new_string(
        apr_pstrcat(p, VIP_PROBLEM_TYPE_BASE, slug, NULL)));
    json_object_object_add(o, "title", json_object_new_string(title));
    json_object_object_add(o, "status", json_object_new_int(status));
    if (detail) {
        json_object_object_add(o, "detail", json_object_new_string(detail));
    }
    text = apr_pstrdup(p, json_object_to_json_string_ext(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return text;
}

int vip_problem(request_rec *r, int status, const char *slug,
                const char *title, const char *detail)
{
    return vip_problem_for(r, status, status, slug, title, detail);
}

int vip_problem_for(request_rec *r, int slot, int status, const char *slug,
                    const char *title, const char *detail)
{
    const char *body = vip_problem_json(r->pool, status, slug, title, detail);

    /* ap_send_error_response swaps err_headers_out in as the response
     * headers, so everything an error carries must be set there. */
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    ap_custom_response(r, slot, apr_pstrcat(r->pool, body, "\n", NULL));
    apr_table_setn(r->notes, VIP_NOTE_PROBLEM,
                   apr_psprintf(r->pool, "%s:%d", problem_filter_name, status));
    return status;
}

static apr_status_t problem_type_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    ap_set_content_type(f->r, VIP_PROBLEM_CONTENT_TYPE);
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

void vip_problem_insert_filter(request_rec *r)
{
    const char *note = apr_table_get(r->notes, VIP_NOTE_PROBLEM);
    apr_size_t n = strlen(problem_filter_name);

    if (note && strncmp(note, problem_filter_name, n) == 0 && note[n] == ':'
        && atoi(note + n + 1) == r->status) {
        ap_add_output_filter(problem_filter_name, NULL, r, r->connection);
    }
}

void vip_problem_register(const char *filter_name)
{
    problem_filter_name = filter_name;
    /* RESOURCE type: runs before the HTTP header filter writes the
     * Content-Type that httpd set to text/html for the custom response. */
    ap_register_output_filter(filter_name, problem_type_filter, NULL,
                              AP_FTYPE_RESOURCE);
}
