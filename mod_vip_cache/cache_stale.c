/*
 * cache_stale.c - request collapsing and stale serving.
 *
 * Collapsing: when a page must be fetched (a miss, or an expired entry),
 * the request first takes a lock with memcached `add`
 * ("vip:1:lock:<digest>", VIP_CACHE_LOCK_TTL seconds), so one request
 * across the cluster goes to the upstream.  The others serve the expired
 * entry while it is within stale-while-revalidate, or else poll for the
 * page every 25 ms up to VipCacheCollapseWait and serve it when it
 * appears, or until the lock goes away without a page (the response was
 * not storable); after that they go to the upstream themselves.  The
 * lock is deleted as soon as the response is stored or found not
 * storable, else when its request ends (a pool cleanup: every path,
 * errors included), and expires on its own if the process dies.  The request
 * that holds it refreshes in the foreground: httpd has no background
 * request to revalidate with, so stale-while-revalidate means "the
 * others get the stale page meanwhile".
 *
 * stale-if-error: an expired entry within its stale-if-error window is
 * kept by the lookup; when mod_proxy fails (502/503/504 without an
 * upstream answer) or the upstream answers 5xx, the response becomes the
 * stale page (Cache-Status fwd=stale with the failed status).
 */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"
#include "apr_strings.h"
#include "apr_time.h"
#include "apr_atomic.h"

#include "mod_vip.h"
#include "vip_common.h"
#include "vip_headers.h"
#include "vip_problem.h"
#include "cache_config.h"
#include "cache_request.h"

extern VIP_MODULE_EXPORT module AP_MODULE_DECLARE_DATA vip_cache_module;
APLOG_USE_MODULE(vip_cache);

typedef struct {
    vip_store *st;
    apr_pool_t *p;
    const char *key;
} lock_hold;

static apr_status_t unlock(void *data)
{
    lock_hold *h = data;

    vip_store_delete(h->st, h->p, h->key);
    return APR_SUCCESS;
}

void vip_cache_unlock(request_rec *r, cache_req *q)
{
    if (q->lock) {
        apr_pool_cleanup_run(r->pool, q->lock, unlock);
        q->lock = NULL;
    }
}

int vip_cache_collapse(request_rec *r, vip_store *st, cache_req *q,
                       apr_int64_t now)
{
    const vip_cache_dir_conf *dc = vip_cache_dir(r);
    const char *lock = apr_pstrcat(r->pool, "vip:1:lock:", q->key + 6, NULL);
    apr_interval_time_t waited = 0, wait;
    apr_status_t rv;

    if (!vip_cache_collapse_on(dc) || r->header_only) {
        return DECLINED;
    }
    rv = vip_store_add(st, r->pool, lock, "1", 1, VIP_CACHE_LOCK_TTL);
    /* (the lock is released when the request ends, or as soon as its
     * fate is known: stored, or not storable) */
    if (rv == APR_SUCCESS) {
        lock_hold *h = apr_palloc(r->pool, sizeof(*h));
        h->st = st;
        h->p = r->pool;
        h->key = lock;
        q->lock = h;
        apr_pool_cleanup_register(r->pool, h, unlock, apr_pool_cleanup_null);
        return DECLINED;
    }
    if (rv != APR_EEXIST) {
        return DECLINED;          /* the store failed: just fetch */
    }
    /* Another request is fetching. */
    if (q->has_stale && now < q->stale.stale_until) {
        return vip_cache_serve(r, &q->stale, &q->stale_v, q->stale_key, now,
                   apr_psprintf(r->pool, "vip; hit; ttl=%" APR_INT64_T_FMT
                                "; detail=stale-while-revalidate",
                                q->stale.fresh_until - now));
    }
    wait = (apr_interval_time_t)vip_cache_collapse_wait(dc) * 1000;
    while (waited < wait) {
        const char *keys[2];
        vip_store_value vals[2];
        vip_cache_entry e;
        const char *key;
        apr_int64_t t;
        apr_sleep(25000);
        waited += 25000;
        /* the page, and whether its fetcher is still at work */
        keys[0] = q->key;
        keys[1] = lock;
        if (vip_store_mget(st, r->pool, keys, 2, vals) != APR_SUCCESS) {
            break;
        }
        if (!vals[0].data) {
            if (!vals[1].data) {
                break;            /* it gave up: nothing to wait for */
            }
            continue;
        }
        /* the page just read, not a second get of it */
        rv = vip_cache_page_of(r, st, q, &e, &vals[0], &key);
        t = (apr_int64_t)apr_time_sec(apr_time_now());
        /* Only a page stored since the purges it must respect: the
         * generation checks of the lookup, tags included. */
        if (rv == APR_SUCCESS && t < e.fresh_until
            && vip_cache_entry_current(r, st, q, key, &e)) {
            return vip_cache_serve(r, &e, &vals[0], key, t,
                       apr_psprintf(r->pool, "vip; hit; ttl=%" APR_INT64_T_FMT
                                    "; detail=collapsed", e.fresh_until - t));
        }
        if (rv != APR_SUCCESS && rv != APR_NOTFOUND) {
            break;
        }
        if (!vals[1].data) {
            break;
        }
    }
    return DECLINED;
}

int vip_cache_stale_on_error(request_rec *r, cache_req *q, int status)
{
    apr_int64_t now = (apr_int64_t)apr_time_sec(apr_time_now());

    if (!q || !q->has_stale || now >= q->stale.error_until) {
        return 0;
    }
    apr_table_setn(r->notes, "vip.cache_failed_status",
                   apr_itoa(r->pool, status));
    return 1;
}

/* mod_proxy failed: before mod_vip_route makes a problem of it, the
 * request becomes the stale page (status changed here, so the error
 * filters of other modules see no error). */
void vip_cache_insert_error_filter(request_rec *r)
{
    cache_req *q = ap_get_module_config(r->request_config, &vip_cache_module);

    if (q && r->status >= 500 && !q->stale_started
        && vip_cache_stale_on_error(r, q, r->status)) {
        r->status = q->stale.status;
        r->status_line = NULL;
        ap_add_output_filter(VIP_CACHE_STALE_FILTER, q, r, r->connection);
        return;
    }
    vip_problem_insert_filter(r);
}

apr_status_t vip_cache_stale_pass(ap_filter_t *f, cache_req *q,
                                  apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    apr_bucket *b, *next;
    int eos = 0;

    if (!q->stale_started) {
        const vip_cache_entry *e = &q->stale;
        const char *id = apr_table_get(r->headers_out, VIP_HDR_REQUEST_ID);
        const char *failed = apr_table_get(r->notes, "vip.cache_failed_status");
        apr_int64_t now = (apr_int64_t)apr_time_sec(apr_time_now());

        q->stale_started = 1;
        r->status = e->status;
        r->status_line = NULL;
        apr_table_clear(r->headers_out);
        apr_table_unset(r->err_headers_out, "Retry-After");
        apr_table_unset(r->err_headers_out, "Cache-Control");
        apr_table_unset(r->err_headers_out, "Content-Type");
        if (id) {
            apr_table_setn(r->headers_out, VIP_HDR_REQUEST_ID, id);
        }
        vip_cache_restore_headers(r, e);
        apr_table_setn(r->headers_out, "Age",
                       apr_psprintf(r->pool, "%" APR_INT64_T_FMT,
                                    now > e->stored_at ? now - e->stored_at : 0));
        apr_table_setn(r->err_headers_out, "Cache-Status",
                       apr_psprintf(r->pool, "vip; fwd=stale; fwd-status=%s; "
                                    "detail=stale-if-error",
                                    failed ? failed : "502"));
        apr_table_setn(r->notes, VIP_NOTE_CACHE, "stale");
        apr_table_setn(r->notes, VIP_NOTE_CACHE_KEY, q->stale_key);
        apr_table_unset(r->headers_out, "Content-Length");
        if (e->status != HTTP_NO_CONTENT) {
            ap_set_content_length(r, (apr_off_t)e->body_len);
        }
        apr_atomic_inc64(&vip_cache_counters_get()->stale);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, VIPLOGNO(03011)
                      "upstream failed (%s): stale page served",
                      failed ? failed : "?");
        /* the failed answer's bytes go nowhere; the page takes their place */
        for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = next) {
            next = APR_BUCKET_NEXT(b);
            if (!APR_BUCKET_IS_EOS(b)) {
                apr_bucket_delete(b);
            }
        }
        if (e->body_len && !r->header_only && q->stale_v.data) {
            APR_BRIGADE_INSERT_HEAD(bb, vip_store_value_bucket(&q->stale_v,
                e->body_off, e->body_len, r->connection->bucket_alloc));
        }
    }
    else {
        for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = next) {
            next = APR_BUCKET_NEXT(b);
            if (!APR_BUCKET_IS_EOS(b) && !APR_BUCKET_IS_FLUSH(b)) {
                apr_bucket_delete(b);
            }
        }
    }
    for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);
         b = APR_BUCKET_NEXT(b)) {
        eos |= APR_BUCKET_IS_EOS(b);
    }
    if (eos) {
        ap_remove_output_filter(f);
    }
    return ap_pass_brigade(f->next, bb);
}

apr_status_t vip_cache_stale_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    return vip_cache_stale_pass(f, f->ctx, bb);
}
