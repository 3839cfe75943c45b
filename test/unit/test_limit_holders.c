/*
 * test_limit_holders.c - unit tests of mod_vip_limit's concurrency slot
 * holder records over malloc'd memory: layout and re-attach (graceful
 * restart), acquire/release, a refused request keeping no record, the
 * reap of a dead owner giving back exactly what it held (and nothing of
 * another owner's, nothing twice), entries of a table no longer mapped or
 * re-initialised, a full block (untracked slots), and a normal release
 * racing the parent's reap: each slot comes back exactly once.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_atomic.h>
#include <apr_general.h>
#include <apr_pools.h>
#include <apr_thread_proc.h>

#include "limit_holders.h"
#include "limit_table.h"

#include "unit.h"

static apr_pool_t *pool;
static const unsigned char KEY[16] = "0123456789abcdef";
static const unsigned char KEY2[16] = "fedcba9876543210";
#define T0 (1000 * VIP_NS_PER_SEC)

static vip_limit_table *table(void **memp)
{
    apr_size_t size = vip_limit_table_size(256);

    *memp = malloc(size);
    return vip_limit_table_init(*memp, size, 256, KEY, 0);
}

static vip_limit_holders *holders(apr_uint32_t n, void **memp)
{
    apr_size_t size = vip_limit_holders_size(n);

    *memp = malloc(size);
    return vip_limit_holders_init(*memp, size, n);
}

static apr_uint64_t tag_of(vip_limit_table *t, const char *s)
{
    return vip_limit_tag(t, s, strlen(s), VIP_LIMIT_KIND_CONC);
}

/* ok(): the entry is in the table given as baton */
static int in_table(void *baton, const void *e)
{
    return vip_limit_table_contains(baton, e);
}

static int never(void *baton, const void *e)
{
    (void)baton;
    (void)e;
    return 0;
}

static void *take(vip_limit_holders *h, vip_limit_table *t, apr_uint64_t tag,
                  apr_uint32_t limit, apr_uint64_t owner, apr_uint32_t hint,
                  int *allowed)
{
    vip_limit_result res;
    void *slot;
    int untracked;

    vip_limit_holders_acquire(h, t, tag, limit, T0, owner, hint, &res, &slot,
                              &untracked);
    *allowed = res.allowed;
    return slot;
}

static void test_layout(void)
{
    void *mem;
    vip_limit_holders *h = holders(64, &mem), *h2;
    apr_size_t size = vip_limit_holders_size(64);

    CHECK(h != NULL, "init 64 records");
    CHECK(size == 64 + 64 * 32, "size: 64-byte header + 32 bytes a record");
    CHECK(vip_limit_holders_records(h) == 64, "records");
    CHECK(vip_limit_holders_size(1) == vip_limit_holders_size(VIP_LIMIT_HOLDERS_MIN),
          "size: clamped to the minimum");
    CHECK(vip_limit_holders_init(mem, size - 1, 64) == NULL, "init: size mismatch refused");
    h = vip_limit_holders_init(mem, size, 64);
    h2 = vip_limit_holders_attach(mem, size);
    CHECK(h2 == h, "attach: the same block (a graceful restart keeps it)");
    CHECK(vip_limit_holders_attach(mem, size + 32) == NULL, "attach: another size refused");
    CHECK(vip_limit_holders_attach(NULL, size) == NULL, "attach: NULL refused");
    memset(mem, 0, 8);
    CHECK(vip_limit_holders_attach(mem, size) == NULL, "attach: no magic refused");
    free(mem);
}

static void test_acquire_release(void)
{
    void *tm, *hm;
    vip_limit_table *t = table(&tm);
    vip_limit_holders *h = holders(64, &hm);
    apr_uint64_t x = tag_of(t, "x");
    void *s1, *s2, *s3;
    int a1, a2, a3;

    s1 = take(h, t, x, 2, 100, 0, &a1);
    s2 = take(h, t, x, 2, 100, 0, &a2);
    s3 = take(h, t, x, 2, 100, 0, &a3);
    CHECK(a1 && a2 && !a3, "limit 2: two admitted, the third refused");
    CHECK(s1 && s2 && !s3, "slots for the admitted, none for the refused");
    CHECK(vip_limit_table_inflight(t, x) == 2, "two in flight");
    CHECK(vip_limit_holders_in_use(h) == 2, "two records in use (the refused one freed)");
    vip_limit_holders_release(h, s1);
    vip_limit_holders_release(h, s2);
    CHECK(vip_limit_table_inflight(t, x) == 0, "released: none in flight");
    CHECK(vip_limit_holders_in_use(h) == 0, "released: no record in use");
    /* hint past the end wraps */
    s1 = take(h, t, x, 2, 100, 63, &a1);
    s2 = take(h, t, x, 2, 100, 63, &a2);
    CHECK(a1 && a2 && vip_limit_holders_in_use(h) == 2, "hint at the last record wraps to the first");
    vip_limit_holders_release(h, s1);
    vip_limit_holders_release(h, s2);
    free(tm);
    free(hm);
}

static void test_reap(void)
{
    void *tm, *hm;
    vip_limit_table *t = table(&tm);
    vip_limit_holders *h = holders(64, &hm);
    apr_uint64_t x = tag_of(t, "x"), y = tag_of(t, "y");
    apr_uint32_t stale;
    void *a1, *a2, *a3, *b1, *c1;
    int ok;

    a1 = take(h, t, x, 5, 100, 0, &ok);
    a2 = take(h, t, x, 5, 100, 1, &ok);
    a3 = take(h, t, y, 5, 100, 2, &ok);
    b1 = take(h, t, x, 5, 200, 0, &ok);
    c1 = take(h, t, y, 5, 300, 9, &ok);
    vip_limit_holders_release(h, c1);       /* owner 300 ended its request */
    CHECK(vip_limit_table_inflight(t, x) == 3 && vip_limit_table_inflight(t, y) == 1,
          "owner 100: 2 on x, 1 on y; owner 200: 1 on x");
    CHECK(vip_limit_holders_reap(h, 100, in_table, t, &stale) == 3 && stale == 0,
          "reap 100 (dead): its 3 slots given back");
    CHECK(vip_limit_table_inflight(t, x) == 1, "x: owner 200's slot still counted");
    CHECK(vip_limit_table_inflight(t, y) == 0, "y: none in flight");
    CHECK(vip_limit_holders_in_use(h) == 1, "only owner 200's record in use");
    CHECK(vip_limit_holders_reap(h, 100, in_table, t, &stale) == 0,
          "reap 100 again: nothing (exactly once)");
    CHECK(vip_limit_holders_reap(h, 300, in_table, t, &stale) == 0 && stale == 0,
          "reap 300, whose request ended normally: nothing given back twice");
    /* a late release by owner 100 (had it still been alive) is a no-op */
    vip_limit_holders_release(h, a1);
    vip_limit_holders_release(h, a2);
    vip_limit_holders_release(h, a3);
    CHECK(vip_limit_table_inflight(t, x) == 1,
          "release after the reap: not given back a second time");
    vip_limit_holders_release(h, b1);
    CHECK(vip_limit_table_inflight(t, x) == 0 && vip_limit_holders_in_use(h) == 0,
          "owner 200 releases: all back, no record in use");
    free(tm);
    free(hm);
}

static void test_stale(void)
{
    void *tm, *hm;
    vip_limit_table *t = table(&tm);
    vip_limit_holders *h = holders(64, &hm);
    apr_uint64_t x = tag_of(t, "x");
    apr_uint32_t stale;
    int ok;

    take(h, t, x, 5, 100, 0, &ok);
    CHECK(vip_limit_holders_reap(h, 100, never, NULL, &stale) == 0 && stale == 1,
          "an entry no longer mapped: forgotten, not touched");
    CHECK(vip_limit_table_inflight(t, x) == 1 && vip_limit_holders_in_use(h) == 0,
          "its record is freed all the same");

    /* a new table where the old one was (a zone resized, new memory at
     * the same address): the tag no longer matches */
    take(h, t, x, 5, 100, 0, &ok);
    t = vip_limit_table_init(tm, vip_limit_table_size(256), 256, KEY2, 0);
    x = tag_of(t, "x");
    take(h, t, x, 5, 200, 5, &ok);
    CHECK(vip_limit_holders_reap(h, 100, in_table, t, &stale) == 0 && stale == 1,
          "an entry of a re-initialised table: tag differs, forgotten");
    CHECK(vip_limit_table_inflight(t, x) == 1, "the new table's count untouched");
    free(tm);
    free(hm);
}

static void test_full(void)
{
    void *tm, *hm;
    vip_limit_table *t = table(&tm);
    vip_limit_holders *h = holders(16, &hm);
    apr_uint64_t x = tag_of(t, "x");
    vip_limit_result res;
    void *slots[17];
    int i, untracked = 0, ok = 1;

    for (i = 0; i < 17; i++) {
        vip_limit_holders_acquire(h, t, x, 100, T0, 100, (apr_uint32_t)i, &res,
                                  &slots[i], &untracked);
        ok &= res.allowed;
    }
    CHECK(ok && untracked == 1, "16 records: the 17th slot is taken untracked");
    CHECK(vip_limit_holders_untracked(h) == 1, "untracked counted");
    CHECK(vip_limit_holders_should_log(h, T0, VIP_NS_PER_SEC)
          && !vip_limit_holders_should_log(h, T0 + 1, VIP_NS_PER_SEC),
          "untracked warning: once per interval");
    for (i = 0; i < 17; i++) {
        vip_limit_holders_release(h, slots[i]);
    }
    CHECK(vip_limit_table_inflight(t, x) == 0 && vip_limit_holders_in_use(h) == 0,
          "tracked and untracked slots all released");
    free(tm);
    free(hm);
}

/* ---- a normal release racing the parent's reap ------------------------- */

#define ROUNDS 3000

typedef struct {
    vip_limit_holders *h;
    vip_limit_table *t;
    void *slot;
    volatile apr_uint32_t go, done;
} race_arg;

/* spins a while before yielding: the two racers start within
 * nanoseconds of each other when both are on a core */
static void wait_for(volatile apr_uint32_t *v, apr_uint32_t n)
{
    unsigned spins = 0;

    while (apr_atomic_read32(v) < n) {
        if (++spins > 100000) {
            sched_yield();
        }
    }
}

static void *APR_THREAD_FUNC releaser(apr_thread_t *th, void *data)
{
    race_arg *a = data;
    apr_uint32_t r;

    for (r = 1; r <= ROUNDS; r++) {
        wait_for(&a->go, r);
        vip_limit_holders_release(a->h, a->slot);
        apr_atomic_inc32(&a->done);
    }
    apr_thread_exit(th, APR_SUCCESS);
    return NULL;
}

static void *APR_THREAD_FUNC reaper(apr_thread_t *th, void *data)
{
    race_arg *a = data;
    apr_uint32_t r, stale;

    for (r = 1; r <= ROUNDS; r++) {
        wait_for(&a->go, r);
        vip_limit_holders_reap(a->h, 77, in_table, a->t, &stale);
        apr_atomic_inc32(&a->done);
    }
    apr_thread_exit(th, APR_SUCCESS);
    return NULL;
}

static void test_race(void)
{
    void *tm, *hm;
    race_arg a;
    apr_thread_t *t1, *t2;
    apr_uint64_t x;
    apr_status_t rv;
    apr_uint32_t r, exact = 0;
    int ok;
    char name[160];

    memset(&a, 0, sizeof(a));
    a.t = table(&tm);
    a.h = holders(64, &hm);
    x = tag_of(a.t, "x");
    /* another owner's slot on the same key: a second give-back of the
     * racing slot would take this one's count */
    take(a.h, a.t, x, 10, 99, 40, &ok);
    apr_thread_create(&t1, NULL, releaser, &a, pool);
    apr_thread_create(&t2, NULL, reaper, &a, pool);
    for (r = 1; r <= ROUNDS; r++) {
        a.slot = take(a.h, a.t, x, 10, 77, 0, &ok);
        apr_atomic_set32(&a.go, r);
        wait_for(&a.done, 2 * r);
        exact += vip_limit_table_inflight(a.t, x) == 1
                 && vip_limit_holders_in_use(a.h) == 1;
    }
    apr_thread_join(&rv, t1);
    apr_thread_join(&rv, t2);
    snprintf(name, sizeof(name), "%d rounds of release racing the reap: the "
             "slot came back exactly once in %u", ROUNDS, exact);
    CHECK(exact == ROUNDS, name);
    free(tm);
    free(hm);
}

int main(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
    test_layout();
    test_acquire_release();
    test_reap();
    test_stale();
    test_full();
    test_race();
    printf("test_limit_holders: %d passed, %d failed\n", passed, failed);
    apr_pool_destroy(pool);
    apr_terminate();
    return failed ? 1 : 0;
}
