/*
 * limit_shm.h - the shared memory of mod_vip_limit's zones and the clock.
 */
#ifndef VIP_LIMIT_SHM_H
#define VIP_LIMIT_SHM_H

#include "httpd.h"
#include "apr_hash.h"

/* From post_config: give every zone its table, re-attaching the previous
 * generation's where the size still fits. */
apr_status_t vip_limit_shm_setup(server_rec *s, apr_hash_t *zones);

/* 1 when entry is an entry of a zone table this process still maps (in
 * the parent: a segment not destroyed by a later generation). */
int vip_limit_shm_mapped(server_rec *s, const void *entry);

/* CLOCK_MONOTONIC in ns: every local decision reads this clock. */
apr_uint64_t vip_limit_now(void);

#endif
