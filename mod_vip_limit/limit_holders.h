/*
 * limit_holders.h - who holds which concurrency slot, so that the slots
 * of a child process that died (kill -9, a crash, the OOM killer) come
 * back.  A slot is normally given back by a request-pool cleanup, which a
 * dead process never runs; the zones' tables outlive every child (and
 * graceful restarts), so without this the key would lose that slot for
 * as long as httpd runs.
 *
 * A block of fixed 32-byte records in shared memory, a few per worker
 * thread of the MPM (ServerLimit x ThreadLimit x PER_THREAD).  Taking a
 * slot claims a record (CAS of its owner word from 0 to the process id)
 * and writes the entry into it before the entry's count goes up; giving
 * the slot back exchanges the entry word with 0 and only the caller that
 * got it back decrements.  When the parent learns that a child ended
 * (httpd's child_status hook), it does the same exchange on every record
 * that process still owns: each slot comes back exactly once, whichever
 * of the two gets there first, and nobody takes a lock.
 *
 * Pure (APR atomics only): unit-tested without httpd.
 */
#ifndef VIP_LIMIT_HOLDERS_H
#define VIP_LIMIT_HOLDERS_H

#include <apr.h>

#include "limit_table.h"

#define VIP_LIMIT_HOLDERS_PER_THREAD  4
/* records tried from a thread's own before a slot goes untracked */
#define VIP_LIMIT_HOLDERS_PROBE       256
#define VIP_LIMIT_HOLDERS_MIN         16
#define VIP_LIMIT_HOLDERS_MAX         (4u * 1024 * 1024)

typedef struct vip_limit_holders vip_limit_holders;

/* Bytes for a block of n records (n clamped to MIN..MAX). */
apr_size_t vip_limit_holders_size(apr_uint32_t records);

/* Lay out an empty block in mem[0..size) (size from
 * vip_limit_holders_size(records)); NULL when they do not match. */
vip_limit_holders *vip_limit_holders_init(void *mem, apr_size_t size,
                                          apr_uint32_t records);

/* The block already in mem (a previous generation's), or NULL. */
vip_limit_holders *vip_limit_holders_attach(void *mem, apr_size_t size);

apr_uint32_t vip_limit_holders_records(const vip_limit_holders *h);

/* vip_limit_table_acquire, recording the slot under owner (a process id,
 * not 0) in a free record found from hint on.  *slot (when the request
 * was admitted) goes to vip_limit_holders_release exactly once.  With no
 * free record within PROBE the slot is taken all the same, untracked
 * (counted; *untracked set to 1). */
int vip_limit_holders_acquire(vip_limit_holders *h, vip_limit_table *t,
                              apr_uint64_t tag, apr_uint32_t limit,
                              apr_uint64_t now, apr_uint64_t owner,
                              apr_uint32_t hint, vip_limit_result *res,
                              void **slot, int *untracked);
void vip_limit_holders_release(vip_limit_holders *h, void *slot);

/* Whether the parent may touch entry e of a dead owner: 1 when e lies in
 * a table that is still mapped (a zone dropped or resized since has its
 * old memory unmapped). */
typedef int vip_limit_entry_ok(void *baton, const void *e);

/* For an owner that has ended: give back every slot it still held
 * (exactly once; entries ok() refuses, or whose tag changed, are only
 * forgotten, counted in *stale) and free its records.  Returns the number
 * of slots given back. */
apr_uint32_t vip_limit_holders_reap(vip_limit_holders *h, apr_uint64_t owner,
                                    vip_limit_entry_ok *ok, void *baton,
                                    apr_uint32_t *stale);

/* Records in use (for tests) and slots taken untracked so far. */
apr_uint32_t vip_limit_holders_in_use(const vip_limit_holders *h);
apr_uint64_t vip_limit_holders_untracked(const vip_limit_holders *h);

/* Once per interval_ns across all processes: 1 for the caller that
 * should log "untracked" now. */
int vip_limit_holders_should_log(vip_limit_holders *h, apr_uint64_t now,
                                 apr_uint64_t interval_ns);

#endif
