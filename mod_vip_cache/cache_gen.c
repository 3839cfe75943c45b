/*
 * cache_gen.c - purge generations and the per-process tag hint (see
 * cache_gen.h).
 */
#include <string.h>

#include "apr_strings.h"
#include "apr_thread_mutex.h"
#include "apr_time.h"

#include "vip_config.h"
#include "cache_entry.h"
#include "cache_gen.h"

const char *vip_gen_key(apr_pool_t *p, const char *scope, const char *tag)
{
    return tag ? apr_pstrcat(p, "vip:1:gen:", scope, ":tag:", tag, NULL)
               : apr_pstrcat(p, "vip:1:gen:", scope, NULL);
}

apr_status_t vip_gen_current(vip_store *st, apr_pool_t *p,
                             const char *const *keys, int n,
                             apr_uint64_t *gens)
{
    vip_store_value *v = apr_pcalloc(p, sizeof(*v) * (size_t)(n ? n : 1));
    apr_status_t rv = vip_store_mget(st, p, keys, n, v);
    int i;

    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < n; i++) {
        char buf[24];
        int len;
        if (vip_store_counter(&v[i], &gens[i])) {
            continue;
        }
        gens[i] = (apr_uint64_t)apr_time_now();
        len = apr_snprintf(buf, sizeof(buf), "%" APR_UINT64_T_FMT, gens[i]);
        rv = vip_store_add(st, p, keys[i], buf, (apr_size_t)len, 0);
        if (rv == APR_EEXIST) {
            vip_store_value again;
            rv = vip_store_get(st, p, keys[i], &again);
            if (rv == APR_SUCCESS && !vip_store_counter(&again, &gens[i])) {
                rv = APR_EGENERAL;
            }
        }
        if (rv != APR_SUCCESS) {
            return APR_EGENERAL;
        }
    }
    return APR_SUCCESS;
}

int vip_gen_parse_tags(apr_pool_t *p, const char *value,
                       apr_array_header_t *tags)
{
    char *copy = apr_pstrdup(p, value), *tok, *last = NULL;

    for (tok = apr_strtok(copy, " \t,", &last); tok;
         tok = apr_strtok(NULL, " \t,", &last)) {
        int i, dup = 0;
        if (!vip_id_valid(tok, 1, 64) || tags->nelts >= VIP_GEN_MAX_TAGS) {
            return -1;
        }
        for (i = 0; i < tags->nelts; i++) {
            dup |= strcmp(APR_ARRAY_IDX(tags, i, const char *), tok) == 0;
        }
        if (!dup) {
            APR_ARRAY_PUSH(tags, const char *) = tok;
        }
    }
    return tags->nelts;
}

/* ---- the hint: entry key -> its tags --------------------------------------
 * Direct-mapped, fixed size: a collision only costs the second round trip
 * again.  The mutex guards a copy of a few hundred bytes, nothing else. */

#define HINT_SLOTS 4096
#define HINT_TAGS  (VIP_GEN_MAX_TAGS * 16)

typedef struct {
    apr_uint64_t h;               /* hash of the entry key, 0: empty */
    char tags[HINT_TAGS];         /* space-separated */
} hint_slot;

static hint_slot *hints;
static apr_thread_mutex_t *hint_mutex;

apr_status_t vip_gen_hint_init(apr_pool_t *p)
{
    hints = apr_pcalloc(p, sizeof(hint_slot) * HINT_SLOTS);
    return apr_thread_mutex_create(&hint_mutex, APR_THREAD_MUTEX_DEFAULT, p);
}

static apr_uint64_t hash_key(const char *key)
{
    apr_uint64_t h = vip_xxh64(key, strlen(key));
    return h ? h : 1;
}

apr_array_header_t *vip_gen_hint_get(apr_pool_t *p, const char *entry_key)
{
    apr_uint64_t h = hash_key(entry_key);
    hint_slot *s;
    char buf[HINT_TAGS];
    apr_array_header_t *tags;
    int found = 0;

    if (!hints || !hint_mutex) {
        return NULL;
    }
    s = &hints[h % HINT_SLOTS];
    if (apr_thread_mutex_lock(hint_mutex) != APR_SUCCESS) {
        return NULL;
    }
    if (s->h == h) {
        memcpy(buf, s->tags, sizeof(buf));
        found = 1;
    }
    apr_thread_mutex_unlock(hint_mutex);
    if (!found) {
        return NULL;
    }
    buf[sizeof(buf) - 1] = '\0';
    tags = apr_array_make(p, 4, sizeof(const char *));
    if (vip_gen_parse_tags(p, buf, tags) <= 0) {
        return NULL;
    }
    return tags;
}

void vip_gen_hint_put(const char *entry_key, const apr_array_header_t *tags)
{
    apr_uint64_t h = hash_key(entry_key);
    char buf[HINT_TAGS];
    apr_size_t len = 0;
    int i;

    if (!hints || !hint_mutex) {
        return;
    }
    for (i = 0; tags && i < tags->nelts; i++) {
        const char *t = APR_ARRAY_IDX(tags, i, const char *);
        apr_size_t n = strlen(t);
        if (len + n + 2 > sizeof(buf)) {
            return;
        }
        memcpy(buf + len, t, n);
        len += n;
        buf[len++] = ' ';
    }
    buf[len] = '\0';
    if (apr_thread_mutex_lock(hint_mutex) != APR_SUCCESS) {
        return;
    }
    hints[h % HINT_SLOTS].h = len ? h : 0;
    memcpy(hints[h % HINT_SLOTS].tags, buf, len + 1);
    apr_thread_mutex_unlock(hint_mutex);
}
