/*
 * test_limit_lease.c - unit tests of the cluster store's arithmetic and
 * node-local lease state (limit_lease.c), with memcached played by an
 * atomic counter per window: plans and lease sizes, grants, shares, keys
 * (format, stability, no key bytes), the accuracy bound with several
 * nodes (never more than the allowance, at most nodes x (k - 1) unused),
 * threads of several nodes racing on one window, a clock going back, and
 * concurrency leases: the limit holds across nodes and a node that stops
 * registering loses its slots within two epochs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_atomic.h>
#include <apr_general.h>
#include <apr_pools.h>
#include <apr_thread_proc.h>

#include "limit_lease.h"
#include "limit_table.h"

#include "unit.h"

#define SEC VIP_NS_PER_SEC
#define WALL0 (APR_UINT64_C(1700000000) * SEC + SEC / 3)
#define MONO0 (1000 * SEC)

static apr_pool_t *pool;
static const unsigned char KEY[16] = "0123456789abcdef";

static vip_limit_table *make(void **memp)
{
    apr_size_t size = vip_limit_table_size(256);

    *memp = malloc(size);
    return vip_limit_table_init(*memp, size, 256, KEY, 0);
}

static void test_plans(void)
{
    vip_lease_plan lp;
    vip_gcra g;
    vip_quota q = {40, 3600};
    vip_gcra share;
    int exh;

    vip_lease_plan_quota(&lp, &q, 10, 2);
    CHECK(lp.window_ns == 3600 * SEC && lp.allowance == 40 && lp.lease == 10,
          "quota 40/hour, batch 10, 2 nodes: hour window, k = 10");
    CHECK(lp.ttl_s == 3600 + VIP_LEASE_TTL_MARGIN_S, "quota ttl: window + margin");
    vip_lease_plan_quota(&lp, &q, 100, 2);
    CHECK(lp.lease == 10, "k at most allowance / (2 x nodes)");
    q.limit = 1;
    vip_lease_plan_quota(&lp, &q, 100, 8);
    CHECK(lp.lease == 1, "k at least 1");

    vip_gcra_init(&g, 30, 3600, 30);
    vip_lease_plan_rate(&lp, &g, 10, 2);
    CHECK(lp.window_ns == 3600 * SEC && lp.allowance == 30 && lp.lease == 7,
          "rate 30/hour burst 30: window burst x T = 1 h, allowance 30, k 7");
    vip_gcra_init(&g, 1000, 1, 10);
    vip_lease_plan_rate(&lp, &g, 10, 2);
    CHECK(lp.window_ns == 100 * 1000 * 1000 && lp.allowance == 100,
          "rate 1000/s burst 10: 10 ms window raised to 100 ms, allowance 100");
    CHECK(lp.ttl_s == 1 + VIP_LEASE_TTL_MARGIN_S, "sub-second window: ttl 1 s + margin");

    CHECK(vip_lease_grant(10, 10, 40, &exh) == 10 && !exh, "grant: all within");
    CHECK(vip_lease_grant(45, 10, 40, &exh) == 5 && exh, "grant: the part within");
    CHECK(vip_lease_grant(50, 10, 40, &exh) == 0 && exh, "grant: none past the allowance");
    CHECK(vip_lease_grant(40, 10, 40, &exh) == 10 && exh, "grant: exactly to the allowance");
    CHECK(vip_lease_grant(3, 10, 40, &exh) == 10, "grant: a counter recreated smaller");

    CHECK(vip_lease_share(40, 2) == 20 && vip_lease_share(1, 2) == 1
          && vip_lease_share(5, 2) == 2, "share: limit / nodes, at least 1, rounded down");
    vip_gcra_init(&g, 10, 1, 5);
    vip_lease_share_rate(&share, &g, 2);
    CHECK(share.interval == 2 * g.interval && share.burst == 2,
          "rate share: half the rate exactly, burst 5 / 2");
}

static void test_keys(void)
{
    unsigned char a[16], b[16], c[16];
    char key[VIP_LEASE_KEY_LEN];
    apr_size_t n;

    vip_lease_cid("cq\0" "3tenant-a", 12, a);
    vip_lease_cid("cq\0" "3tenant-a", 12, b);
    vip_lease_cid("cq\0" "3tenant-b", 12, c);
    CHECK(memcmp(a, b, 16) == 0, "cid: the same bytes give the same id (every node)");
    CHECK(memcmp(a, c, 16) != 0, "cid: another key, another id");
    n = vip_lease_key(key, a, 'q', 0x1a2b);
    CHECK(n == strlen(key) && n == 8 + 32 + 2 + 4, "key length");
    CHECK(strncmp(key, "vip:1:l:", 8) == 0 && strspn(key + 8, "0123456789abcdef") == 32
          && strcmp(key + 40, ":q1a2b") == 0, "key: vip:1:l:<32 hex>:<kind><hex index>");
    n = vip_lease_key(key, a, 'r', ~APR_UINT64_C(0));
    CHECK(n == VIP_LEASE_KEY_LEN - 1, "key: the longest fits VIP_LEASE_KEY_LEN");
    n = vip_lease_key(key, a, 'c', 0);
    CHECK(strcmp(key + 40, ":c0") == 0, "key: index 0");
}

/* One node deciding n requests against a simulated memcached counter. */
static int decide(vip_limit_entry *e, const vip_lease_plan *lp,
                  volatile apr_uint64_t *counter, apr_uint64_t wall,
                  apr_uint64_t *calls)
{
    vip_lease_view v;
    vip_limit_result res;
    apr_uint64_t value;

    switch (vip_lease_take(e, lp, wall, MONO0, &v, &res)) {
    case VIP_LEASE_TAKEN:
        return 1;
    case VIP_LEASE_DENIED:
        return 0;
    default:
        value = apr_atomic_add64(counter, v.want) + v.want;
        if (calls) {
            (*calls)++;
        }
        vip_lease_merge(e, lp, &v, value, wall, MONO0, &res);
        return res.allowed;
    }
}

static void test_bound(void)
{
    vip_quota q = {100, 3600};
    vip_lease_plan lp;
    void *mem[3];
    vip_limit_table *t[3];
    vip_limit_entry *e[3];
    volatile apr_uint64_t counter = 0;
    apr_uint64_t calls = 0, tag = 0x1234567812345678u | 2;
    int i, ok = 0, per[3] = {0, 0, 0};
    char name[200];

    vip_lease_plan_quota(&lp, &q, 10, 3);
    for (i = 0; i < 3; i++) {
        t[i] = make(&mem[i]);
        e[i] = vip_limit_table_get(t[i], tag, MONO0);
    }
    /* uneven traffic: node 0 gets most, node 2 a trickle */
    for (i = 0; i < 400; i++) {
        int n = i % 7 == 0 ? 2 : i % 3 == 0 ? 1 : 0;
        if (decide(e[n], &lp, &counter, WALL0, &calls)) {
            per[n]++;
            ok++;
        }
    }
    snprintf(name, sizeof(name), "3 nodes, quota 100, k %u: %d admitted "
             "(%d/%d/%d), bound [100 - 3 x (k-1), 100]", lp.lease, ok,
             per[0], per[1], per[2]);
    CHECK(ok <= 100 && ok >= 100 - 3 * ((int)lp.lease - 1), name);
    snprintf(name, sizeof(name), "round trips: %" APR_UINT64_T_FMT " for 400 "
             "decisions (refusals after the window is used up cost none)",
             calls);
    CHECK(calls <= 100 / lp.lease + 3 + 3, name);
    /* next window: fresh allowance, counter of its own */
    counter = 0;
    CHECK(decide(e[0], &lp, &counter, WALL0 + 3600 * SEC, NULL) == 1,
          "the next window admits again");
    /* clock back one window on node 0: it keeps counting in the later
     * window (never a fresh allowance from going back) */
    CHECK(decide(e[0], &lp, &counter, WALL0, NULL) == 1 && counter == lp.lease,
          "a clock going back keeps the later window's tokens");
    for (i = 0; i < 3; i++) {
        free(mem[i]);
    }
}

/* Threads of two nodes racing on one window. */
#define THREADS 8
#define TRIES 5000
typedef struct {
    vip_limit_entry *e;
    const vip_lease_plan *lp;
    volatile apr_uint64_t *counter;
    volatile apr_uint32_t *admitted;
} race_arg;

static void *APR_THREAD_FUNC race(apr_thread_t *th, void *data)
{
    race_arg *a = data;
    int i;

    for (i = 0; i < TRIES; i++) {
        if (decide(a->e, a->lp, a->counter, WALL0, NULL)) {
            apr_atomic_inc32(a->admitted);
        }
    }
    apr_thread_exit(th, APR_SUCCESS);
    return NULL;
}

static void test_race(void)
{
    vip_quota q = {20000, 3600};
    vip_lease_plan lp;
    void *mem[2];
    vip_limit_table *t[2];
    race_arg a[2];
    apr_thread_t *th[THREADS];
    volatile apr_uint64_t counter = 0;
    volatile apr_uint32_t admitted = 0;
    apr_status_t rv;
    char name[200];
    int i;

    vip_lease_plan_quota(&lp, &q, 10, 2);
    for (i = 0; i < 2; i++) {
        t[i] = make(&mem[i]);
        a[i].e = vip_limit_table_get(t[i], 0x42 << 2 | 2, MONO0);
        a[i].lp = &lp;
        a[i].counter = &counter;
        a[i].admitted = &admitted;
    }
    for (i = 0; i < THREADS; i++) {
        apr_thread_create(&th[i], NULL, race, &a[i % 2], pool);
    }
    for (i = 0; i < THREADS; i++) {
        apr_thread_join(&rv, th[i]);
    }
    snprintf(name, sizeof(name), "%d threads on 2 nodes, %d tries, quota "
             "20000: admitted %u (never more; at most threads x k unused)",
             THREADS, THREADS * TRIES, admitted);
    CHECK(admitted <= 20000 && admitted >= 20000 - THREADS * lp.lease, name);
    for (i = 0; i < 2; i++) {
        free(mem[i]);
    }
}

/* ---- concurrency leases ---------------------------------------------- */

typedef struct {
    apr_uint64_t g[16];         /* per-epoch counters */
} conc_mc;

static int conc_acquire(vip_limit_entry *e, conc_mc *mc, apr_uint64_t epoch,
                        apr_uint32_t k, apr_uint32_t limit)
{
    vip_lease_view v;
    vip_limit_result res;
    apr_uint64_t granted = 0, next;
    int exh;

    if (vip_lease_conc_take(e, epoch, k, &v) == VIP_LEASE_TAKEN) {
        return 1;
    }
    if (v.want) {
        mc->g[v.win] += v.want;
        granted = vip_lease_grant(mc->g[v.win], v.want, limit, &exh);
        mc->g[v.win] -= v.want - granted;
    }
    next = vip_lease_conc_next(&v, granted);
    mc->g[v.win + 1] += next;
    vip_lease_conc_merge(e, &v, granted, &res);
    return res.allowed;
}

static void test_conc(void)
{
    conc_mc mc;
    void *mem[2];
    vip_limit_table *t[2];
    vip_limit_entry *e[2];
    apr_uint64_t tag = 0x77 << 2 | 3;
    int i, a = 0, b = 0;

    memset(&mc, 0, sizeof(mc));
    for (i = 0; i < 2; i++) {
        t[i] = make(&mem[i]);
        e[i] = vip_limit_table_get(t[i], tag, MONO0);
    }
    /* limit 4, k 1: node 0 takes 3, node 1 then only 1 */
    for (i = 0; i < 3; i++) {
        a += conc_acquire(e[0], &mc, 1, 1, 4);
    }
    for (i = 0; i < 3; i++) {
        b += conc_acquire(e[1], &mc, 1, 1, 4);
    }
    CHECK(a == 3 && b == 1, "concurrency 4 over 2 nodes: 3 + 1 admitted, the rest refused");
    CHECK(mc.g[1] == 4 && mc.g[2] == 4, "registered in this epoch and the next");
    CHECK(conc_acquire(e[1], &mc, 1, 1, 4) == 0, "still full");
    vip_limit_table_release(e[0]);
    CHECK(conc_acquire(e[0], &mc, 1, 1, 4) == 1,
          "a slot node 0 released is node 0's again without memcached");
    /* epoch 2: node 0 extends (3 in flight), node 1 still holds 1 */
    CHECK(conc_acquire(e[1], &mc, 2, 1, 4) == 0, "epoch 2: still full");
    /* node 0 "crashes": it never registers again.  In epoch 3 its
     * registration (made in epoch 1, reaching epoch 2) is gone. */
    b = 0;
    for (i = 0; i < 3; i++) {
        b += conc_acquire(e[1], &mc, 3, 1, 4);
    }
    CHECK(b == 3, "epoch 3: a silent node's slots expired, node 1 gets 3 more (4 in all)");
    CHECK(mc.g[3] <= 4, "epoch 3's counter never above the limit");
    for (i = 0; i < 2; i++) {
        free(mem[i]);
    }
}

int main(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
    test_plans();
    test_keys();
    test_bound();
    test_race();
    test_conc();
    printf("test_limit_lease: %d passed, %d failed\n", passed, failed);
    apr_pool_destroy(pool);
    apr_terminate();
    return failed ? 1 : 0;
}
