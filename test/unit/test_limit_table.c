/*
 * test_limit_table.c - unit tests of mod_vip_limit's shared-memory table
 * over malloc'd memory: layout and re-attach (graceful restart), tags,
 * the bounded probe, reuse of expired entries, a flood of new keys that
 * cannot evict live ones (THREATS L4/L5), concurrency slots, and threads
 * hammering one key with CAS: admitted == theory exactly (L6).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_atomic.h>
#include <apr_general.h>
#include <apr_pools.h>
#include <apr_thread_proc.h>

#include "limit_table.h"

#include "unit.h"

static apr_pool_t *pool;
static const unsigned char KEY[16] = "0123456789abcdef";
#define SEC VIP_NS_PER_SEC
#define T0 (1000 * SEC)

static vip_limit_table *make(apr_uint32_t entries, void **memp)
{
    apr_size_t size = vip_limit_table_size(entries);
    void *mem = malloc(size);

    *memp = mem;
    return vip_limit_table_init(mem, size, entries, KEY, 1700000000 * SEC);
}

static apr_uint64_t tag_of(vip_limit_table *t, const char *s, int kind)
{
    return vip_limit_tag(t, s, strlen(s), kind);
}

static void test_layout(void)
{
    void *mem;
    vip_limit_table *t = make(64, &mem), *t2;
    apr_size_t size = vip_limit_table_size(64);
    vip_limit_result res;
    vip_gcra g;
    apr_uint64_t a, b;

    CHECK(t != NULL, "init 64 entries");
    CHECK(vip_limit_table_size(64) == 128 + 64 * 32, "size: 128-byte header + 32 bytes an entry");
    CHECK(vip_limit_table_fit(size) == 64, "fit: inverse of size");
    CHECK(vip_limit_table_fit(size - 1) == 0, "fit: below the minimum is 0");
    CHECK(vip_limit_table_init(mem, size - 32, 63, KEY, 0) == NULL,
          "init: fewer than 64 entries refused");
    t = vip_limit_table_init(mem, size, 64, KEY, 1700000000 * SEC);
    a = vip_limit_tag(t, "tenant\0acme", 11, VIP_LIMIT_KIND_RATE);
    b = vip_limit_tag(t, "tenant\0acmf", 11, VIP_LIMIT_KIND_RATE);
    CHECK(a != b && (a & 3) == VIP_LIMIT_KIND_RATE, "tags differ, kind in the low bits");
    CHECK(tag_of(t, "", VIP_LIMIT_KIND_CONC) != 0, "a tag is never 0");

    vip_gcra_init(&g, 1, 60, 2);
    vip_limit_table_rate(t, a, &g, T0, &res);
    vip_limit_table_rate(t, a, &g, T0, &res);
    /* graceful restart: the next generation attaches to the same memory */
    t2 = vip_limit_table_attach(mem, size);
    CHECK(t2 == t, "attach: the same block is found again");
    CHECK(vip_limit_tag(t2, "tenant\0acme", 11, VIP_LIMIT_KIND_RATE) == a, "attach: the hash key is kept");
    vip_limit_table_rate(t2, a, &g, T0 + SEC, &res);
    CHECK(!res.allowed, "attach: state kept (burst 2 spent before the restart)");
    CHECK(vip_limit_table_attach(mem, size + 32) == NULL, "attach: another size is not this table");
    memset(mem, 0, 8);
    CHECK(vip_limit_table_attach(mem, size) == NULL, "attach: no magic, no table");
    free(mem);
}

/* The reference vectors of the SipHash paper (key 00..0f, messages
 * 00..len-1), seen through the tag's two kind bits. */
static void test_siphash_vectors(void)
{
    unsigned char k[16], msg[16];
    apr_size_t size = vip_limit_table_size(64);
    void *mem = malloc(size);
    vip_limit_table *t;
    int i;

    for (i = 0; i < 16; i++) {
        k[i] = msg[i] = (unsigned char)i;
    }
    t = vip_limit_table_init(mem, size, 64, k, 0);
    CHECK((vip_limit_tag(t, msg, 0, 1) & ~APR_UINT64_C(3))
          == (APR_UINT64_C(0x726fdb47dd0e0e31) & ~APR_UINT64_C(3)),
          "SipHash-2-4 vector, empty message");
    CHECK((vip_limit_tag(t, msg, 15, 1) & ~APR_UINT64_C(3))
          == (APR_UINT64_C(0xa129ca6149be45e5) & ~APR_UINT64_C(3)),
          "SipHash-2-4 vector, 15 bytes");
    CHECK((vip_limit_tag(t, msg, 8, 1) & ~APR_UINT64_C(3))
          == (APR_UINT64_C(0x93f5f5799a932462) & ~APR_UINT64_C(3)),
          "SipHash-2-4 vector, 8 bytes");
    free(mem);
}

static void test_probe_and_reuse(void)
{
    void *mem;
    vip_limit_table *t = make(64, &mem);
    vip_limit_stats st;
    vip_limit_result res;
    vip_gcra g;
    char key[32];
    int i, full = 0, ok = 0;
    apr_uint64_t est = tag_of(t, "established", VIP_LIMIT_KIND_RATE);

    vip_gcra_init(&g, 1, 60, 1);        /* one a minute: live for 60 s */
    vip_limit_table_rate(t, est, &g, T0, &res);
    CHECK(res.allowed, "established key: first request admitted");
    for (i = 0; i < 10000; i++) {
        snprintf(key, sizeof(key), "flood-%d", i);
        if (vip_limit_table_rate(t, tag_of(t, key, VIP_LIMIT_KIND_RATE), &g,
                                 T0 + SEC, &res) == VIP_LIMIT_NOSLOT) {
            full++;
        }
        else {
            ok++;
        }
    }
    vip_limit_table_stats(t, &st);
    CHECK(ok <= 63 && ok >= 40, "flood: at most the free entries were claimed");
    CHECK(full == 10000 - ok, "flood: the rest found no slot (fail open/closed by the caller)");
    CHECK(st.noslot == (apr_uint64_t)full, "stats: noslot counts them");
    CHECK(st.used == (apr_uint64_t)ok + 1, "stats: used entries");
    vip_limit_table_rate(t, est, &g, T0 + 2 * SEC, &res);
    CHECK(!res.allowed, "flood: the established key still holds its state (refused)");
    CHECK(res.retry_ns == 58 * SEC, "flood: its Retry-After is still exact (58 s)");

    /* 61 s later every flood entry expired: new keys take them over */
    ok = 0;
    for (i = 0; i < 40; i++) {
        snprintf(key, sizeof(key), "late-%d", i);
        ok += vip_limit_table_rate(t, tag_of(t, key, VIP_LIMIT_KIND_RATE), &g,
                                   T0 + 62 * SEC, &res) == VIP_LIMIT_OK;
    }
    vip_limit_table_stats(t, &st);
    CHECK(ok == 40, "expired entries are reused: 40 new keys admitted");
    CHECK(st.reused > 0, "stats: reused counts take-overs");
    free(mem);
}

static void test_bounded_probe(void)
{
    void *mem;
    vip_limit_table *t = make(4096, &mem);
    vip_limit_result res;
    vip_gcra g;
    char key[32];
    int i, n = 0, misses = 0;
    apr_uint64_t home0 = 0, tags[VIP_LIMIT_PROBE + 1];

    vip_gcra_init(&g, 1, 60, 1);
    /* keys whose home slot is slot 0: a hash-flooding attacker who knew
     * the key could build these; PROBE of them fill the window, the next
     * is refused although the table is nearly empty */
    for (i = 0; n <= VIP_LIMIT_PROBE && i < 50000000; i++) {
        apr_uint64_t tg;
        snprintf(key, sizeof(key), "k%d", i);
        tg = tag_of(t, key, VIP_LIMIT_KIND_RATE);
        if ((((tg >> 32) * 4096) >> 32) == home0) {
            tags[n++] = tg;
        }
    }
    CHECK(n == VIP_LIMIT_PROBE + 1, "found PROBE+1 keys with one home slot");
    for (i = 0; i < n; i++) {
        misses += vip_limit_table_rate(t, tags[i], &g, T0, &res) == VIP_LIMIT_NOSLOT;
    }
    CHECK(misses == 1, "probe is bounded: the 17th colliding key finds no slot");
    free(mem);
}

static void test_quota_and_conc(void)
{
    void *mem;
    vip_limit_table *t = make(64, &mem);
    vip_limit_result res;
    vip_limit_entry *s1, *s2, *s3;
    vip_quota q = {2, 60};
    apr_uint64_t qt = tag_of(t, "q", VIP_LIMIT_KIND_QUOTA);
    apr_uint64_t ct = tag_of(t, "c", VIP_LIMIT_KIND_CONC);
    int i, ok = 0;

    for (i = 0; i < 3; i++) {
        vip_limit_table_quota(t, qt, &q, T0, &res);
        ok += res.allowed;
    }
    CHECK(ok == 2, "table quota 2/min: 2 of 3");
    CHECK(res.reset_ns > 0 && res.reset_ns <= 60 * SEC, "table quota: reset within the minute");
    vip_limit_table_quota(t, qt, &q, T0 + 61 * SEC, &res);
    CHECK(res.allowed, "table quota: next minute admitted");

    vip_limit_table_acquire(t, ct, 2, T0, &res, &s1);
    vip_limit_table_acquire(t, ct, 2, T0, &res, &s2);
    CHECK(s1 && s2 && s1 == s2, "conc: two slots on one entry");
    vip_limit_table_acquire(t, ct, 2, T0, &res, &s3);
    CHECK(!res.allowed && !s3, "conc: the third refused, no slot to release");
    CHECK(vip_limit_table_inflight(t, ct) == 2, "conc: 2 in flight");
    vip_limit_table_release(s1);
    vip_limit_table_release(s2);
    vip_limit_table_release(s2);        /* never below zero */
    CHECK(vip_limit_table_inflight(t, ct) == 0, "conc: all released, not below 0");
    vip_limit_table_acquire(t, ct, 2, T0, &res, &s3);
    CHECK(res.allowed, "conc: the full limit is available again");
    vip_limit_table_release(s3);
    free(mem);
}

/* ---- threads ------------------------------------------------------------ */

#define THREADS 8
#define TRIES   20000

typedef struct {
    vip_limit_table *t;
    apr_uint64_t tag;
    int kind;
    volatile apr_uint32_t *admitted;
    volatile apr_uint32_t *inflight;
    volatile apr_uint32_t *max_inflight;
    apr_uint64_t now;                   /* every try at this instant */
} hammer_arg;

static void *APR_THREAD_FUNC hammer(apr_thread_t *th, void *data)
{
    hammer_arg *a = data;
    vip_limit_result res;
    vip_gcra g;
    vip_quota q = {5000, 3600};
    int i;

    vip_gcra_init(&g, 1000, 1, 100000);
    for (i = 0; i < TRIES; i++) {
        apr_uint64_t now = a->now;
        if (a->kind == VIP_LIMIT_KIND_RATE) {
            vip_limit_table_rate(a->t, a->tag, &g, now, &res);
            if (res.allowed) {
                apr_atomic_inc32(a->admitted);
            }
        }
        else if (a->kind == VIP_LIMIT_KIND_QUOTA) {
            vip_limit_table_quota(a->t, a->tag, &q, T0, &res);
            if (res.allowed) {
                apr_atomic_inc32(a->admitted);
            }
        }
        else {
            vip_limit_entry *slot;
            vip_limit_table_acquire(a->t, a->tag, 3, T0, &res, &slot);
            if (res.allowed) {
                apr_uint32_t in = apr_atomic_inc32(a->inflight) + 1, m;
                while ((m = apr_atomic_read32(a->max_inflight)) < in
                       && apr_atomic_cas32(a->max_inflight, in, m) != m) {
                }
                apr_atomic_inc32(a->admitted);
                apr_atomic_dec32(a->inflight);
                vip_limit_table_release(slot);
            }
        }
    }
    apr_thread_exit(th, APR_SUCCESS);
    return NULL;
}

static void run_threads(vip_limit_table *t, int kind, apr_uint32_t *admitted,
                        apr_uint32_t *max_inflight, apr_uint64_t now)
{
    apr_thread_t *th[THREADS];
    volatile apr_uint32_t adm = 0, in = 0, mx = 0;
    hammer_arg a = {t, 0, kind, &adm, &in, &mx, now};
    apr_status_t rv;
    int i;

    a.tag = tag_of(t, "one hot key", kind);
    for (i = 0; i < THREADS; i++) {
        apr_thread_create(&th[i], NULL, hammer, &a, pool);
    }
    for (i = 0; i < THREADS; i++) {
        apr_thread_join(&rv, th[i]);
    }
    *admitted = adm;
    if (max_inflight) {
        *max_inflight = mx;
    }
}

static void test_threads(void)
{
    void *mem;
    vip_limit_table *t = make(1024, &mem);
    apr_uint32_t admitted, mx;
    char name[160];

    /* GCRA 1000/s, burst 100000: 160000 tries at one instant admit the
     * burst exactly; 0.5 s later, exactly the 500 that refilled */
    run_threads(t, VIP_LIMIT_KIND_RATE, &admitted, NULL, T0);
    snprintf(name, sizeof(name), "%d threads, %d tries on one rate key at one "
             "instant: admitted %u == burst 100000", THREADS, THREADS * TRIES,
             admitted);
    CHECK(admitted == 100000, name);
    run_threads(t, VIP_LIMIT_KIND_RATE, &admitted, NULL, T0 + SEC / 2);
    snprintf(name, sizeof(name), "the same 0.5 s later: admitted %u == 500",
             admitted);
    CHECK(admitted == 500, name);

    run_threads(t, VIP_LIMIT_KIND_QUOTA, &admitted, NULL, T0);
    snprintf(name, sizeof(name), "%d threads on one quota key: admitted %u "
             "== 5000", THREADS, admitted);
    CHECK(admitted == 5000, name);

    run_threads(t, VIP_LIMIT_KIND_CONC, &admitted, &mx, T0);
    snprintf(name, sizeof(name), "%d threads on one concurrency key: at most "
             "3 in flight (saw %u)", THREADS, mx);
    CHECK(mx <= 3 && mx >= 1, name);
    CHECK(vip_limit_table_inflight(t, tag_of(t, "one hot key", VIP_LIMIT_KIND_CONC)) == 0,
          "threads: every slot released");
    free(mem);
}

int main(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
    test_layout();
    test_siphash_vectors();
    test_probe_and_reuse();
    test_bounded_probe();
    test_quota_and_conc();
    test_threads();
    printf("test_limit_table: %d passed, %d failed\n", passed, failed);
    apr_pool_destroy(pool);
    apr_terminate();
    return failed ? 1 : 0;
}
