/*
 * test_route_budget.c - unit tests of mod_vip_route's retry policy:
 * retry_on= parsing and the shared retry budget (sliding window of
 * one-second slots, atomics only), including threads deciding at once.
 */
#include <stdio.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "route_budget.h"

#include "unit.h"

static apr_pool_t *pool;

static void test_parse(void)
{
    vip_retry_on on;
    const char *err;

    err = vip_retry_on_parse(pool, "502,503,504,timeout", &on);
    CHECK(err == NULL, "parse 502,503,504,timeout");
    CHECK(on.timeout && on.nstatuses == 3, "three statuses and timeout");
    CHECK(vip_retry_on_status(&on, 503) && !vip_retry_on_status(&on, 500),
          "503 in, 500 out");
    CHECK(!vip_retry_on_status(&on, 404) && !vip_retry_on_status(&on, 600)
          && !vip_retry_on_status(&on, -1), "out of range statuses");
    CHECK(strcmp(vip_retry_on_list(pool, &on, ','), "502,503,504") == 0,
          "list with commas");
    CHECK(strcmp(vip_retry_on_list(pool, &on, ' '), "502 503 504") == 0,
          "list with spaces");
    err = vip_retry_on_parse(pool, "timeout", &on);
    CHECK(!err && on.timeout && on.nstatuses == 0
          && *vip_retry_on_list(pool, &on, ',') == '\0', "timeout only");
    err = vip_retry_on_parse(pool, "500,599", &on);
    CHECK(!err && vip_retry_on_status(&on, 500) && vip_retry_on_status(&on, 599),
          "bounds 500 and 599");
    CHECK(vip_retry_on_parse(pool, "", &on) != NULL, "empty refused");
    CHECK(vip_retry_on_parse(pool, "404", &on) != NULL, "404 refused");
    CHECK(vip_retry_on_parse(pool, "600", &on) != NULL, "600 refused");
    CHECK(vip_retry_on_parse(pool, "5x3", &on) != NULL, "5x3 refused");
    CHECK(vip_retry_on_parse(pool, "5030", &on) != NULL, "5030 refused");
    CHECK(vip_retry_on_parse(pool, "503,503", &on) != NULL, "twice refused");
    CHECK(vip_retry_on_parse(pool, "timeout,timeout", &on) != NULL,
          "timeout twice refused");
    CHECK(vip_retry_on_parse(pool, "503,", &on) != NULL, "trailing comma");
    CHECK(vip_retry_on_parse(pool, ",503", &on) != NULL, "leading comma");
    CHECK(vip_retry_on_parse(pool, "502,,503", &on) != NULL, "empty item");
    CHECK(vip_retry_on_parse(pool, "Timeout", &on) != NULL, "case matters");
}

static void test_budget(void)
{
    vip_budget b;
    apr_uint32_t t = 1700000000, req, ret;
    int i, granted = 0;

    memset(&b, 0, sizeof(b));
    /* no request yet: nothing to retry */
    CHECK(!vip_budget_try_retry(&b, t, 20), "empty window: no retry");
    /* 20%: one retry per 5 requests */
    for (i = 1; i <= 50; i++) {
        vip_budget_request(&b, t);
        granted += vip_budget_try_retry(&b, t, 20);
    }
    CHECK(granted == 10, apr_psprintf(pool, "20%% of 50 is 10 (got %d)",
                                      granted));
    vip_budget_totals(&b, t, &req, &ret);
    CHECK(req == 50 && ret == 10, "totals 50/10");
    /* the window slides: 9 s later still counted, 10 s later gone */
    vip_budget_totals(&b, t + 9, &req, &ret);
    CHECK(req == 50 && ret == 10, "9 s later: still in the window");
    vip_budget_totals(&b, t + 10, &req, &ret);
    CHECK(req == 0 && ret == 0, "10 s later: out of the window");
    /* a slot reused a window later starts from zero */
    vip_budget_request(&b, t + 10);
    vip_budget_totals(&b, t + 10, &req, &ret);
    CHECK(req == 1 && ret == 0, "reused slot starts empty");
    CHECK(!vip_budget_try_retry(&b, t + 10, 20), "1 request, 20%: no retry");
    CHECK(vip_budget_try_retry(&b, t + 10, 100), "1 request, 100%: one retry");
    CHECK(!vip_budget_try_retry(&b, t + 10, 100), "100%: not a second one");
    /* spread over seconds */
    memset(&b, 0, sizeof(b));
    granted = 0;
    for (i = 0; i < 100; i++) {
        vip_budget_request(&b, t + (apr_uint32_t)(i / 10));
        granted += vip_budget_try_retry(&b, t + (apr_uint32_t)(i / 10), 10);
    }
    CHECK(granted == 10, apr_psprintf(pool, "10%% of 100 over 10 s (got %d)",
                                      granted));
    /* a clock step back: future slots are not counted */
    vip_budget_totals(&b, t - 5, &req, &ret);
    CHECK(req == 0, "slots of the future are ignored");
}

#define THREADS 4
#define PER_THREAD 2500
static vip_budget shared;
static apr_uint32_t shared_t = 1800000000;
static volatile apr_uint32_t shared_granted;

static void *APR_THREAD_FUNC worker(apr_thread_t *th, void *data)
{
    int i;

    for (i = 0; i < PER_THREAD; i++) {
        vip_budget_request(&shared, shared_t);
        if (vip_budget_try_retry(&shared, shared_t, 20)) {
            __atomic_add_fetch(&shared_granted, 1, __ATOMIC_SEQ_CST);
        }
    }
    apr_thread_exit(th, APR_SUCCESS);
    return NULL;
}

static void test_threads(void)
{
    apr_thread_t *th[THREADS];
    apr_status_t rv;
    apr_uint32_t req, ret;
    int i;

    memset(&shared, 0, sizeof(shared));
    for (i = 0; i < THREADS; i++) {
        apr_thread_create(&th[i], NULL, worker, NULL, pool);
    }
    for (i = 0; i < THREADS; i++) {
        apr_thread_join(&rv, th[i]);
    }
    vip_budget_totals(&shared, shared_t, &req, &ret);
    CHECK(req == THREADS * PER_THREAD, "threads: every request counted");
    CHECK(ret == shared_granted, "threads: every retry granted is counted");
    /* at most one overshoot per thread deciding at the same instant */
    CHECK(ret <= THREADS * PER_THREAD / 5 + THREADS,
          apr_psprintf(pool, "threads: 20%% holds (%u of %u)", ret, req));
    CHECK(ret >= THREADS * PER_THREAD / 5 - THREADS,
          apr_psprintf(pool, "threads: the budget is used (%u)", ret));
}

int main(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
    test_parse();
    test_budget();
    test_threads();
    printf("%d passed, %d failed\n", passed, failed);
    apr_pool_destroy(pool);
    apr_terminate();
    return failed ? 1 : 0;
}
