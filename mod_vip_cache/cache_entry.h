/*
 * cache_entry.h - the byte format of a cache entry in memcached (pure).
 *
 *   0  "VIPC"  magic          4  version (1)    5  kind (1 page, 2 vary)
 *   6  0 (u16)                8  checksum: XXH64 of bytes 16..end (u64)
 *  16  total length (u32)    20  status (u16)  22  header count (u16)
 *  24  stored at, 32 fresh until, 40 stale-while-revalidate until,
 *  48  stale-if-error until (i64 seconds since the epoch)
 *  56  tenant generation (u64)
 *  64  Vary name count (u16)  66 tag count (u16)  68  0 (u32)
 *  72  Vary names (u16 length, bytes), tags (u16 length, bytes, u64
 *      generation at store time), headers (u16 name length, name, u32
 *      value length, value), body (u32 length, bytes)
 * Integers are little-endian.  A "vary" entry (kind 2) sits under the
 * primary key of a resource whose response has Vary: it carries only the
 * names, which make the secondary key of the page itself.
 *
 * Decoding checks everything (magic, version, length, checksum, every
 * length against the bytes left, header bytes) and answers a corrupt,
 * truncated or foreign entry with an error, which the module treats as
 * a miss.
 */
#ifndef VIP_CACHE_ENTRY_H
#define VIP_CACHE_ENTRY_H

#include "apr_pools.h"
#include "apr_tables.h"

#define VIP_ENTRY_PAGE      1
#define VIP_ENTRY_VARY      2
#define VIP_ENTRY_FIXED     72
#define VIP_ENTRY_VERSION   1
#define VIP_ENTRY_MAX_ITEMS 1000      /* headers, tags or Vary names */

typedef struct {
    const char *name;
    const char *value;
} vip_entry_header;

typedef struct {
    const char *name;
    apr_uint64_t gen;
} vip_entry_tag;

typedef struct {
    int kind;
    int status;
    apr_int64_t stored_at;
    apr_int64_t fresh_until;
    apr_int64_t stale_until;      /* stale-while-revalidate ends */
    apr_int64_t error_until;      /* stale-if-error ends */
    apr_uint64_t tenant_gen;
    apr_array_header_t *vary;     /* const char *, lower-case */
    apr_array_header_t *tags;     /* vip_entry_tag */
    apr_array_header_t *headers;  /* vip_entry_header */
    apr_size_t body_off;          /* decode: the body in the buffer */
    apr_size_t body_len;
} vip_cache_entry;

/* The bytes of e up to and including the body length field; the body
 * follows.  Header names and values must not hold NUL, CR or LF. */
char *vip_entry_encode_head(apr_pool_t *p, const vip_cache_entry *e,
                            apr_size_t *len);

/* Complete buf[0..total) = head + body: total, body length, checksum. */
void vip_entry_finish(char *buf, apr_size_t head_len, apr_size_t total);

/* head + body in one buffer from p (tests, vary entries). */
char *vip_entry_encode(apr_pool_t *p, const vip_cache_entry *e,
                       const char *body, apr_size_t body_len,
                       apr_size_t *len);

/* Decode buf[0..len).  Strings are copied into p; the body stays in buf
 * at e->body_off.  APR_SUCCESS, or APR_EINVAL with *why. */
apr_status_t vip_entry_decode(apr_pool_t *p, const char *buf, apr_size_t len,
                              vip_cache_entry *e, const char **why);

/* XXH64 (seed 0) of data[0..len): the entry checksum. */
apr_uint64_t vip_xxh64(const void *data, apr_size_t len);

#endif
