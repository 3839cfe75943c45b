/*
 * limit_shm.c - the shared memory behind each zone, and how it outlives
 * a restart.
 *
 * Each zone's table is an anonymous apr_shm segment allocated from the
 * process pool (s->process->pool), which lives as long as the httpd
 * parent, across every graceful (and plain) restart; pconf, by contrast,
 * is cleared at each one.  The segments are found again through that
 * pool's userdata, by zone name: post_config of the next generation
 * re-attaches a segment whose size still fits the zone, so counters, the
 * hash key and the clock offset carry over, and children forked later
 * inherit the mapping.  A zone whose size changed gets a new segment; the
 * old one, and those of zones no longer configured, are destroyed in the
 * parent (children of the old generation keep their own mapping until
 * they exit).  This is the same life cycle mod_slotmem_shm gives
 * mod_proxy_balancer's segments, without needing that module loaded.
 */
#include <time.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "apr_hash.h"
#include "apr_shm.h"
#include "apr_strings.h"
#include "apr_general.h"

#include "vip_common.h"
#include "limit_config.h"
#include "limit_shm.h"

APLOG_USE_MODULE(vip_limit);

#define SEGMENTS_KEY "vip_limit_segments"

typedef struct {
    apr_shm_t *shm;
    apr_size_t size;
    unsigned long generation;           /* last configuration using it */
} segment;

static apr_uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (apr_uint64_t)ts.tv_sec * VIP_NS_PER_SEC + (apr_uint64_t)ts.tv_nsec;
}

apr_uint64_t vip_limit_now(void)
{
    /* system-wide on Linux: the same in every child process */
    return clock_ns(CLOCK_MONOTONIC);
}

static apr_status_t zone_segment(server_rec *s, apr_hash_t *segs,
                                 vip_limit_zone *z, unsigned long gen)
{
    apr_pool_t *pp = s->process->pool;
    apr_size_t size = vip_limit_table_size(z->entries);
    segment *seg = apr_hash_get(segs, z->name, APR_HASH_KEY_STRING);
    unsigned char key[16];
    apr_status_t rv;

    if (seg && seg->size == size
        && (z->table = vip_limit_table_attach(apr_shm_baseaddr_get(seg->shm),
                                              size))) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, VIPLOGNO(04002)
                     "zone %s: %u entries, state kept from the previous "
                     "generation", z->name, z->entries);
    }
    else {
        if (seg) {
            apr_shm_destroy(seg->shm);
        }
        else {
            seg = apr_pcalloc(pp, sizeof(*seg));
            apr_hash_set(segs, apr_pstrdup(pp, z->name), APR_HASH_KEY_STRING,
                         seg);
        }
        seg->shm = NULL;
        rv = apr_shm_create(&seg->shm, size, NULL, pp);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, VIPLOGNO(04001)
                         "zone %s: cannot create %" APR_SIZE_T_FMT " bytes "
                         "of shared memory; lower entries= or size=",
                         z->name, size);
            apr_hash_set(segs, z->name, APR_HASH_KEY_STRING, NULL);
            return rv;
        }
        seg->size = size;
        if ((rv = apr_generate_random_bytes(key, sizeof(key)))
            != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, VIPLOGNO(04003)
                         "zone %s: no random bytes for the hash key",
                         z->name);
            return rv;
        }
        z->table = vip_limit_table_init(apr_shm_baseaddr_get(seg->shm), size,
                                        z->entries, key,
                                        clock_ns(CLOCK_REALTIME)
                                        - clock_ns(CLOCK_MONOTONIC));
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, VIPLOGNO(04004)
                     "zone %s: %u entries (%" APR_SIZE_T_FMT " bytes) of "
                     "shared memory, empty", z->name, z->entries, size);
    }
    seg->generation = gen;
    vip_limit_table_store(z->table, &z->store);
    return APR_SUCCESS;
}

apr_status_t vip_limit_shm_setup(server_rec *s, apr_hash_t *zones)
{
    apr_pool_t *pp = s->process->pool;
    apr_hash_t *segs = NULL;
    apr_hash_index_t *hi;
    void *data = NULL;
    unsigned long gen;
    apr_status_t rv;

    apr_pool_userdata_get(&data, SEGMENTS_KEY, pp);
    if (!(segs = data)) {
        segs = apr_hash_make(pp);
        apr_pool_userdata_set(segs, SEGMENTS_KEY, apr_pool_cleanup_null, pp);
    }
    gen = (unsigned long)ap_state_query(AP_SQ_CONFIG_GEN) + 1;
    for (hi = apr_hash_first(NULL, zones); hi; hi = apr_hash_next(hi)) {
        vip_limit_zone *z = apr_hash_this_val(hi);
        if ((rv = zone_segment(s, segs, z, gen)) != APR_SUCCESS) {
            return rv;
        }
    }
    /* segments of zones this configuration no longer has */
    for (hi = apr_hash_first(NULL, segs); hi; hi = apr_hash_next(hi)) {
        const void *name;
        void *v;
        segment *seg;
        apr_hash_this(hi, &name, NULL, &v);
        seg = v;
        if (seg->generation != gen) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, VIPLOGNO(04005)
                         "zone %s is no longer configured: its shared memory "
                         "is released", (const char *)name);
            apr_shm_destroy(seg->shm);
            apr_hash_set(segs, name, APR_HASH_KEY_STRING, NULL);
        }
    }
    return APR_SUCCESS;
}

int vip_limit_shm_mapped(server_rec *s, const void *entry)
{
    apr_hash_index_t *hi;
    void *data = NULL;

    apr_pool_userdata_get(&data, SEGMENTS_KEY, s->process->pool);
    for (hi = data ? apr_hash_first(NULL, data) : NULL; hi;
         hi = apr_hash_next(hi)) {
        segment *seg = apr_hash_this_val(hi);
        vip_limit_table *t = vip_limit_table_attach(
            apr_shm_baseaddr_get(seg->shm), seg->size);
        if (t && vip_limit_table_contains(t, entry)) {
            return 1;
        }
    }
    return 0;
}
