/*
 * limit_decision.c - micro-benchmark of one mod_vip_limit decision on the
 * shared-memory store: tag (SipHash-2-4 of "name\0<kind><key>") plus the
 * table's find-or-claim and CAS update, as limit_request.c does per
 * algorithm.  It measures and prints, it never asserts (the unit tests
 * check the answers).
 *
 * Build and run from the top of the tree (no httpd needed):
 *
 *   gcc -std=gnu11 -O2 -g $(apr-1-config --includes --cppflags) \
 *       -Imod_vip_limit -o /tmp/limit_decision bench/limit_decision.c \
 *       mod_vip_limit/limit_table.c mod_vip_limit/limit_gcra.c \
 *       mod_vip_limit/limit_holders.c $(apr-1-config --link-ld)
 *   taskset -c 1 /tmp/limit_decision [rounds [decisions-per-round]]
 *
 * Defaults: 9 rounds of 1,000,000 decisions per row; the figure is the
 * median round, in ns per decision.  The memory is an anonymous shared
 * mapping, as in httpd.  Rows:
 *   rate, one hot key          every decision on one key (one cache line)
 *   rate, 10,000 keys          keys cycled pseudo-randomly in a table of
 *                              65,536 entries (4 MiB: beyond L2)
 *   quota, 10,000 keys         the same with the calendar quota
 *   concurrency acquire+release, 10,000 keys
 *   the same with the slot's holder record (what httpd does since slots
 *                              of dead children come back: claim a record,
 *                              write the entry, exchange it back)
 *   rate, full table           a 64-entry table full of live keys: the
 *                              refusal path (scan of the whole window)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <apr_general.h>

#include "limit_holders.h"
#include "limit_table.h"

#define NKEYS 10000

static apr_uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (apr_uint64_t)ts.tv_sec * 1000000000u + (apr_uint64_t)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static vip_limit_table *table(apr_uint32_t entries)
{
    apr_size_t size = vip_limit_table_size(entries);
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    unsigned char key[16] = "benchmark-key-16";

    if (mem == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    return vip_limit_table_init(mem, size, entries, key, 0);
}

/* key i as limit_request.c builds it: "name\0" kind, key bytes */
static apr_size_t keybuf(char *buf, int kind, unsigned i)
{
    int n = snprintf(buf + 7, 48, "10.%u.%u.%u", (i >> 16) & 255,
                     (i >> 8) & 255, i & 255);

    memcpy(buf, "perip\0", 6);
    buf[6] = (char)('0' + kind);
    return (apr_size_t)n + 7;
}

/* every key's bytes, built before timing (the module keys on binary
 * addresses and note values: no formatting on the hot path) */
static char keys[3][NKEYS][24];
static apr_size_t keylens[3][NKEYS];

static void build_keys(void)
{
    int k;
    unsigned i;

    for (k = 0; k < 3; k++) {
        for (i = 0; i < NKEYS; i++) {
            keylens[k][i] = keybuf(keys[k][i], k + 1, i);
        }
    }
}

typedef enum { ROW_RATE, ROW_QUOTA, ROW_CONC, ROW_CONC_HELD } row_kind;

/* holder records as httpd sizes them by default for event (ServerLimit
 * 16 x ThreadLimit 64 x 4), in shared memory */
static vip_limit_holders *holders;

static double run(vip_limit_table *t, row_kind k, unsigned nkeys, long n,
                  int rounds)
{
    double *r = malloc(sizeof(double) * (size_t)rounds), med;
    vip_gcra g;
    vip_quota q = {1000000000u, 86400};
    vip_limit_result res;
    int kind = k == ROW_RATE ? VIP_LIMIT_KIND_RATE
             : k == ROW_QUOTA ? VIP_LIMIT_KIND_QUOTA : VIP_LIMIT_KIND_CONC;
    volatile apr_uint64_t sink = 0;
    int round;

    vip_gcra_init(&g, 1000000, 1, 1000000);
    for (round = 0; round < rounds; round++) {
        apr_uint64_t t0 = now_ns(), now = t0;
        unsigned x = 12345;
        long i;
        for (i = 0; i < n; i++) {
            unsigned key;
            apr_uint64_t tag;
            x = x * 1103515245u + 12345u;
            key = nkeys > 1 ? (x >> 8) % nkeys : 0;
            tag = vip_limit_tag(t, keys[kind - 1][key],
                                keylens[kind - 1][key], kind);
            if ((i & 63) == 0) {
                now = now_ns();         /* the module reads it once a hook */
            }
            if (k == ROW_RATE) {
                sink += vip_limit_table_rate(t, tag, &g, now, &res);
            }
            else if (k == ROW_QUOTA) {
                sink += vip_limit_table_quota(t, tag, &q, now, &res);
            }
            else if (k == ROW_CONC_HELD) {
                void *slot;
                int untracked;
                vip_limit_holders_acquire(holders, t, tag, 1000, now, 4242,
                                          7 * VIP_LIMIT_HOLDERS_PER_THREAD,
                                          &res, &slot, &untracked);
                if (slot) {
                    vip_limit_holders_release(holders, slot);
                }
            }
            else {
                vip_limit_entry *slot;
                vip_limit_table_acquire(t, tag, 1000, now, &res, &slot);
                if (slot) {
                    vip_limit_table_release(slot);
                }
            }
            sink += res.remaining;
        }
        r[round] = (double)(now_ns() - t0) / (double)n;
    }
    qsort(r, (size_t)rounds, sizeof(double), cmp);
    med = r[rounds / 2];
    free(r);
    return med;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 9;
    long n = argc > 2 ? atol(argv[2]) : 1000000;
    vip_limit_table *big, *small;
    vip_gcra g;
    vip_limit_result res;
    char buf[64];
    unsigned i;

    apr_initialize();
    build_keys();
    big = table(65536);
    {
        apr_size_t hsize = vip_limit_holders_size(16 * 64 * 4);
        void *hmem = mmap(NULL, hsize, PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (hmem == MAP_FAILED) {
            perror("mmap");
            return 1;
        }
        holders = vip_limit_holders_init(hmem, hsize, 16 * 64 * 4);
    }
    small = table(64);
    /* fill the small table with live keys (a minute-long TAT each) */
    vip_gcra_init(&g, 1, 60, 1);
    for (i = 0; i < 5000; i++) {
        apr_size_t len = keybuf(buf, VIP_LIMIT_KIND_RATE, i + 100000);
        vip_limit_table_rate(small, vip_limit_tag(small, buf, len,
                                                  VIP_LIMIT_KIND_RATE),
                             &g, now_ns(), &res);
    }
    printf("%-44s %8s\n", "decision", "ns");
    printf("%-44s %8.1f\n", "rate, one hot key",
           run(big, ROW_RATE, 1, n, rounds));
    printf("%-44s %8.1f\n", "rate, 10,000 keys",
           run(big, ROW_RATE, NKEYS, n, rounds));
    printf("%-44s %8.1f\n", "quota, 10,000 keys",
           run(big, ROW_QUOTA, NKEYS, n, rounds));
    printf("%-44s %8.1f\n", "concurrency acquire+release, 10,000 keys",
           run(big, ROW_CONC, NKEYS, n, rounds));
    printf("%-44s %8.1f\n", "concurrency, with the holder record",
           run(big, ROW_CONC_HELD, NKEYS, n, rounds));
    printf("%-44s %8.1f\n", "rate, full 64-entry table (no slot)",
           run(small, ROW_RATE, NKEYS, n, rounds));
    apr_terminate();
    return 0;
}
