/*
 * limit_reap.h - concurrency slots of a child process that died come
 * back: the holder records' shared memory, the zones' stores that record
 * every slot taken, and the parent's child_status hook that gives back
 * what a dead child still held (see limit_holders.h).
 */
#ifndef VIP_LIMIT_REAP_H
#define VIP_LIMIT_REAP_H

#include "httpd.h"
#include "ap_mpm.h"
#include "apr_hash.h"

/* From post_config, after vip_limit_shm_setup: the holder records (kept
 * across restarts like the zones) and every zone's store. */
apr_status_t vip_limit_reap_setup(server_rec *s, apr_hash_t *zones,
                                  apr_pool_t *pconf);

/* child_init: the process id the records carry. */
void vip_limit_reap_child_init(apr_pool_t *p, server_rec *s);

/* create_request: where this worker thread looks for a free record. */
int vip_limit_reap_create_request(request_rec *r);

/* child_status (in the parent): a child that exited gives its slots
 * back. */
void vip_limit_reap_child_status(server_rec *s, pid_t pid,
                                 ap_generation_t gen, int slot,
                                 mpm_child_status state);

#endif
