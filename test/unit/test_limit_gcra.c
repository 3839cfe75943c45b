/*
 * test_limit_gcra.c - unit tests of mod_vip_limit's arithmetic and spec
 * parser: GCRA admitted counts equal burst + floor(D/T) exactly, the
 * Retry-After it reports is the exact earliest admission, calendar quota
 * windows (including a wall clock set back), concurrency counting, and
 * every rejection of the spec parser.
 */
#include <stdio.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "limit_gcra.h"
#include "limit_rate.h"

#include "unit.h"

static apr_pool_t *pool;

#define MS (VIP_NS_PER_SEC / 1000)

/* A client sending as fast as it can (one try every step ns) for d ns,
 * both ends included; the admitted count. */
static apr_uint64_t saturate(const vip_gcra *g, apr_uint64_t t0,
                             apr_uint64_t d, apr_uint64_t step)
{
    apr_uint64_t tat = 0, now, admitted = 0;
    vip_limit_result res;

    for (now = t0; now <= t0 + d; now += step) {
        /* everything due at this instant goes through */
        for (;;) {
            tat = vip_gcra_step(g, tat, now, &res);
            if (!res.allowed) {
                break;
            }
            admitted++;
        }
    }
    return admitted;
}

static void test_gcra_counts(void)
{
    static const struct {
        apr_uint32_t count, period, burst;
        apr_uint64_t d_ms;
    } cases[] = {
        {10, 1, 5, 3000}, {10, 1, 1, 3000}, {10, 1, 10, 1000},
        {7, 1, 3, 5000}, {100, 10, 20, 25000}, {1, 60, 1, 600000},
        {3, 1, 1, 999}, {1000, 1, 50, 2000}, {13, 1, 13, 4321},
    };
    apr_size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        vip_gcra g;
        apr_uint64_t d = cases[i].d_ms * MS, want, got;
        char name[128];
        vip_gcra_init(&g, cases[i].count, cases[i].period, cases[i].burst);
        want = cases[i].burst + d / g.interval;
        got = saturate(&g, 5 * VIP_NS_PER_SEC, d, MS / 4);
        snprintf(name, sizeof(name), "gcra %u/%us burst %u over %llu ms: "
                 "admitted %llu == burst + floor(D/T) = %llu",
                 cases[i].count, cases[i].period, cases[i].burst,
                 (unsigned long long)cases[i].d_ms, (unsigned long long)got,
                 (unsigned long long)want);
        CHECK(got == want, name);
    }
}

static void test_gcra_retry_after(void)
{
    vip_gcra g;
    vip_limit_result res;
    apr_uint64_t tat = 0, now = 1000 * VIP_NS_PER_SEC, t2;
    int i;

    vip_gcra_init(&g, 10, 1, 5);
    CHECK(g.interval == 100 * MS, "10/s: T = 100 ms");
    CHECK(g.tolerance == 500 * MS, "burst 5: tolerance 500 ms");
    tat = vip_gcra_step(&g, tat, now, &res);
    CHECK(res.allowed && res.remaining == 4, "first request: admitted, 4 left");
    CHECK(res.reset_ns == 100 * MS, "first request: whole again in 100 ms");
    for (i = 0; i < 4; i++) {
        tat = vip_gcra_step(&g, tat, now, &res);
    }
    CHECK(res.allowed && res.remaining == 0, "fifth request: admitted, none left");
    CHECK(vip_gcra_step(&g, tat, now, &res) == tat && !res.allowed,
          "sixth request: refused, state unchanged");
    CHECK(res.retry_ns == 100 * MS, "sixth: retry after exactly 100 ms");
    CHECK(res.reset_ns == 500 * MS, "sixth: whole again in 500 ms");
    t2 = now + res.retry_ns - 1;
    vip_gcra_step(&g, tat, t2, &res);
    CHECK(!res.allowed, "1 ns before Retry-After: still refused");
    vip_gcra_step(&g, tat, t2 + 1, &res);
    CHECK(res.allowed, "at Retry-After: admitted");
    /* an idle key is a full bucket, however old its TAT */
    vip_gcra_step(&g, tat, now + 3600 * VIP_NS_PER_SEC, &res);
    CHECK(res.allowed && res.remaining == 4, "an hour later: full burst again");

    /* T rounds up: 3/s never admits a 4th request within a second */
    vip_gcra_init(&g, 3, 1, 1);
    CHECK(g.interval == 333333334, "3/s: T rounds up to 333333334 ns");
}

static void test_quota(void)
{
    vip_quota q = {3, 60};
    vip_limit_result res;
    apr_uint64_t base = (apr_uint64_t)1700000040 * VIP_NS_PER_SEC; /* a minute start */
    apr_uint64_t st = 0, wall = base + 5 * VIP_NS_PER_SEC;
    int i, ok = 0;

    CHECK(vip_quota_window(&q, base) == 1700000040 / 60, "window index: minutes since the epoch");
    for (i = 0; i < 5; i++) {
        st = vip_quota_step(&q, st, wall, &res);
        ok += res.allowed;
    }
    CHECK(ok == 3, "quota 3/min: 3 of 5 admitted");
    CHECK(!res.allowed && res.remaining == 0, "quota: the 4th and 5th refused");
    CHECK(res.reset_ns == 55 * VIP_NS_PER_SEC, "quota: resets at the end of the minute (55 s)");
    CHECK(res.retry_ns == res.reset_ns, "quota: Retry-After is the window end");
    CHECK(vip_quota_state_end(&q, st) == base + 60 * VIP_NS_PER_SEC, "state end: next minute");
    /* next window: fresh */
    st = vip_quota_step(&q, st, base + 60 * VIP_NS_PER_SEC, &res);
    CHECK(res.allowed && res.remaining == 2, "next minute: admitted, 2 left");
    /* wall clock set back a minute: the count stays in the later window */
    st = vip_quota_step(&q, st, base + 30 * VIP_NS_PER_SEC, &res);
    CHECK(res.allowed && res.remaining == 1, "clock set back: counts on in the later window");
    st = vip_quota_step(&q, st, base + 31 * VIP_NS_PER_SEC, &res);
    st = vip_quota_step(&q, st, base + 32 * VIP_NS_PER_SEC, &res);
    CHECK(!res.allowed, "clock set back: no fresh quota");

    {
        vip_quota d = {1000, 86400};
        apr_uint64_t w = (apr_uint64_t)1700006400 * VIP_NS_PER_SEC; /* 00:00 UTC */
        CHECK(vip_quota_window(&d, w) == vip_quota_window(&d, w + 86399 * VIP_NS_PER_SEC),
              "day window: all of a UTC day");
        CHECK(vip_quota_window(&d, w - 1) + 1 == vip_quota_window(&d, w), "day window: starts at 00:00 UTC");
    }
}

static void test_conc(void)
{
    vip_limit_result res;
    apr_uint64_t st = 0;

    st = vip_conc_step(2, st, &res);
    CHECK(res.allowed && res.remaining == 1 && st == 1, "conc 2: first in");
    st = vip_conc_step(2, st, &res);
    CHECK(res.allowed && res.remaining == 0 && st == 2, "conc 2: second in");
    st = vip_conc_step(2, st, &res);
    CHECK(!res.allowed && st == 2, "conc 2: third refused");
}

static const char *spec(const char *words, vip_limit_spec *s)
{
    char *copy = apr_pstrdup(pool, words), *last, *w;
    const char *err;

    memset(s, 0, sizeof(*s));
    for (w = apr_strtok(copy, " ", &last); w; w = apr_strtok(NULL, " ", &last)) {
        if ((err = vip_limit_spec_word(pool, s, w))) {
            return err;
        }
    }
    return vip_limit_spec_done(pool, s);
}

static void test_spec(void)
{
    vip_limit_spec s;
    static const struct {
        const char *words, *err;
    } bad[] = {
        {"rate=0/s", "count must be"},
        {"rate=10", "COUNT/UNIT"},
        {"rate=10/fortnight", "unknown unit 'fortnight'"},
        {"rate=10/", "unknown unit"},
        {"rate=-1/s", "count must be"},
        {"rate=1000000001/s", "count must be"},
        {"rate=10/0s", "period must be"},
        {"rate=10/2d", "longer than a day"},
        {"rate=10/s rate=5/s", "given twice"},
        {"rate=10/s burst=0", "burst must be"},
        {"rate=10/s burst=x", "burst must be"},
        {"burst=5", "belongs to a rate"},
        {"quota=100/s", "unknown unit 's'"},
        {"quota=100/5min", "unknown unit '5min'"},
        {"quota=0/hour", "count must be"},
        {"concurrency=0", "concurrency must be"},
        {"concurrency=1000001", "concurrency must be"},
        {"name=a/b rate=1/s", "name is"},
        {"colour=blue", "not one of"},
        {"rate", "not one of"},
        {"=5", "not one of"},
        {"name=x", "nothing to limit"},
    };
    apr_size_t i;

    CHECK(!spec("rate=10/s", &s) && s.rate_count == 10 && s.rate_period == 1
          && s.burst == 10, "rate=10/s: burst defaults to 10");
    CHECK(!spec("rate=100/10s burst=3", &s) && s.rate_period == 10 && s.burst == 3,
          "rate=100/10s burst=3");
    CHECK(!spec("rate=5/min", &s) && s.rate_period == 60, "rate=5/min");
    CHECK(!spec("quota=1000/hour", &s) && s.quota_count == 1000 && s.quota_window == 3600,
          "quota=1000/hour");
    CHECK(!spec("quota=7/day concurrency=20 name=gold.api", &s) && s.quota_window == 86400
          && s.concurrency == 20 && strcmp(s.name, "gold.api") == 0,
          "quota, concurrency and name on one line");
    CHECK(!spec("quota=1/min", &s) && s.quota_window == 60, "quota=1/min");
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *err = spec(bad[i].words, &s);
        char name[160];
        snprintf(name, sizeof(name), "'%s' refused: %s (got: %s)", bad[i].words,
                 bad[i].err, err ? err : "accepted");
        CHECK(err && strstr(err, bad[i].err), name);
    }
}

int main(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
    test_gcra_counts();
    test_gcra_retry_after();
    test_quota();
    test_conc();
    test_spec();
    printf("test_limit_gcra: %d passed, %d failed\n", passed, failed);
    apr_pool_destroy(pool);
    apr_terminate();
    return failed ? 1 : 0;
}
