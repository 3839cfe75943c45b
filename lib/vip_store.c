/*
 * vip_store.c - the memcached store of mod_vip_cache and mod_vip_limit
 * (see vip_store.h).
 *
 * Protocol: ASCII.  memcached 1.6 deprecates the binary protocol, the
 * two cost the same per GET on this hardware (bench ANCHORS: 13.8 us
 * either way), and libmemcached's ASCII path is its most exercised one.
 * The one thing binary would add, increment-with-initial in one command,
 * is only needed when a purge generation is created; vip_store_incr does
 * it with incr/add/incr, one round trip in the steady state.
 *
 * Failure handling (libmemcached 1.1.4 semantics, src/libmemcached/
 * connect.cc): a failed connect puts the server "in timeout" for
 * RETRY_TIMEOUT seconds (calls to it fail at once meanwhile) and counts
 * one failure; after SERVER_FAILURE_LIMIT of them, with
 * REMOVE_FAILED_SERVERS, the server is ejected from the ketama ring (its
 * keys go to the others) and tried again after DEAD_TIMEOUT seconds.
 * That state lives in each pooled handle.  A server that accepts but
 * never answers (SIGSTOP, a blackhole) is not caught by it: every call
 * waits POLL_TIMEOUT.  The breaker in vip_store_shared covers that case
 * across all children.
 *
 * With one server there is nothing to eject to, and ejecting the only
 * server made every call connect again (a refused connect, its retry and
 * libmemcached's error formatting on each call).  So with one server
 * libmemcached neither ejects it nor rests it beyond the current second;
 * a failure to reach it opens the breaker like a timeout does, and the
 * breaker's probe after `retry` seconds really connects.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmemcached/memcached.h>
#include <libmemcachedutil-1.0/pool.h>

#include "apr_atomic.h"
#include "apr_strings.h"
#include "apr_time.h"

#include "vip_config.h"
#include "vip_store.h"

struct vip_store {
    memcached_st *master;
    memcached_pool_st *pool;
    vip_store_shared *shared;
    int nservers;
    int breaker_ms;
    int probe_ms;               /* how long a half-open probe may take */
};

static __thread const char *last_error;
/* This thread's current call is the half-open probe (take to give). */
static __thread int probing;

const char *vip_store_last_error(void)
{
    return last_error ? last_error : "no error";
}

const char *vip_store_parse_server(apr_pool_t *p, vip_store_conf *conf,
                                   const char *word)
{
    const char *colon = strrchr(word, ':');
    vip_store_server *s;
    int port;

    if (!colon || colon == word || !vip_parse_int(colon + 1, 1, 65535, &port)) {
        return apr_psprintf(p, "'%s' is not host:port (port 1-65535)", word);
    }
    if (strpbrk(word, " \t,/\"'") || (size_t)(colon - word) > 255) {
        return apr_psprintf(p, "'%s' is not host:port", word);
    }
    if (!conf->servers) {
        conf->servers = apr_array_make(p, 2, sizeof(vip_store_server));
    }
    s = apr_array_push(conf->servers);
    s->host = apr_pstrndup(p, word, (apr_size_t)(colon - word));
    s->port = port;
    return NULL;
}

static apr_status_t store_cleanup(void *data)
{
    vip_store *st = data;

    if (st->pool) {
        memcached_pool_destroy(st->pool);
        st->pool = NULL;
    }
    if (st->master) {
        memcached_free(st->master);
        st->master = NULL;
    }
    return APR_SUCCESS;
}

apr_status_t vip_store_create(apr_pool_t *p, const vip_store_conf *conf,
                              int max_handles, vip_store_shared *shared,
                              vip_store **out)
{
    vip_store *st = apr_pcalloc(p, sizeof(*st));
    memcached_st *m;
    int i;

    *out = NULL;
    if (!conf->servers || !conf->servers->nelts) {
        return APR_EINVAL;
    }
    if (!(m = memcached_create(NULL))) {
        return APR_ENOMEM;
    }
    st->master = m;
    st->shared = shared;
    st->nservers = conf->servers->nelts;
    st->breaker_ms = conf->retry_s * 1000;
    /* a probe that outlives this (its child died) lets another go */
    st->probe_ms = conf->connect_ms + 2 * conf->io_ms + 100;
    apr_pool_cleanup_register(p, st, store_cleanup, apr_pool_cleanup_null);
    for (i = 0; i < conf->servers->nelts; i++) {
        const vip_store_server *s = &APR_ARRAY_IDX(conf->servers, i,
                                                   vip_store_server);
        if (memcached_server_add(m, s->host, (in_port_t)s->port)
            != MEMCACHED_SUCCESS) {
            return APR_EINVAL;
        }
    }
    /* Non-blocking sockets: the connect timeout only applies to them. */
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_NO_BLOCK, 1);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
    /* libketama-compatible consistent hashing: adding or losing one
     * server moves only that server's share of the keys. */
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_KETAMA, 1);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT,
                           (uint64_t)conf->connect_ms);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_POLL_TIMEOUT,
                           (uint64_t)conf->io_ms);
    /* With one server the breaker alone rests it (retry_s): its probe
     * must reach the server, not a handle's memory of a failure, so
     * libmemcached's own rest ends at the next second (0) and it never
     * ejects it (there is nothing to eject to). */
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT,
                           (uint64_t)(st->nservers > 1 ? conf->retry_s : 0));
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_SERVER_FAILURE_LIMIT, 2);
    if (st->nservers > 1) {
        memcached_behavior_set(m, MEMCACHED_BEHAVIOR_REMOVE_FAILED_SERVERS, 1);
        memcached_behavior_set(m, MEMCACHED_BEHAVIOR_DEAD_TIMEOUT,
                               (uint64_t)conf->dead_s);
    }
    st->pool = memcached_pool_create(m, 1, (uint32_t)(max_handles > 0
                                                      ? max_handles : 1));
    if (!st->pool) {
        return APR_ENOMEM;
    }
    *out = st;
    return APR_SUCCESS;
}

static apr_uint64_t now_ms(void)
{
    return (apr_uint64_t)(apr_time_now() / 1000);
}

/* One request to memcached (the status handler counts them). */
static void trip(vip_store *st)
{
    if (st->shared) {
        apr_atomic_inc64(&st->shared->round_trips);
    }
}

/* A handle, or NULL when the breaker is open or the pool is exhausted. */
static memcached_st *take(vip_store *st)
{
    struct timespec wait = { 0, 5 * 1000 * 1000 };
    memcached_return_t rc;
    memcached_st *m;

    if (!st) {
        last_error = "no store in this process";
        return NULL;
    }
    probing = 0;
    if (st->shared) {
        vip_store_shared *sh = st->shared;
        apr_uint64_t open = apr_atomic_read64(&sh->open_until_ms), now, lease;

        if (open) {
            now = now_ms();
            if (now < open) {
                last_error = "circuit breaker open after a memcached failure";
                return NULL;
            }
            /* Half-open: one call of all children's probes, the others
             * keep bypassing until it is answered (or its lease ends). */
            lease = apr_atomic_read64(&sh->probe_until_ms);
            if (now < lease
                || apr_atomic_cas64(&sh->probe_until_ms,
                                    now + (apr_uint64_t)st->probe_ms, lease)
                   != lease) {
                last_error = "circuit breaker half-open: another call is "
                             "probing memcached";
                return NULL;
            }
            probing = 1;
        }
    }
    /* Sized to the MPM's threads, so waiting here means a bug, not load. */
    m = memcached_pool_fetch(st->pool, &wait, &rc);
    if (!m) {
        last_error = "no free memcached handle";
        if (probing) {
            apr_atomic_set64(&st->shared->probe_until_ms, 0);
            probing = 0;
        }
    }
    return m;
}

/* Back to the pool; after a failure without its connections, so a
 * half-read reply or a server that woke up late never meets the next
 * user of the handle. */
static void give(vip_store *st, memcached_st *m, apr_status_t rv)
{
    int answered = rv == APR_SUCCESS || rv == APR_NOTFOUND
                   || rv == APR_EEXIST;

    if (!answered) {
        memcached_quit(m);
    }
    if (st->shared) {
        if (answered) {
            /* The probe was answered: closed, for every child.  Only
             * the probe closes it: a call sent before the breaker opened
             * may be answered by another, healthy server. */
            if (probing) {
                apr_atomic_set64(&st->shared->open_until_ms, 0);
                apr_atomic_set64(&st->shared->probe_until_ms, 0);
            }
        }
        else if (probing
                 && apr_atomic_read64(&st->shared->open_until_ms)
                    <= now_ms()) {
            /* failed without a timeout (refused, reset): the next call
             * probes; a timeout has re-opened the breaker instead */
            apr_atomic_set64(&st->shared->probe_until_ms, 0);
        }
    }
    probing = 0;
    memcached_pool_release(st->pool, m);
}

static void open_breaker(vip_store *st)
{
    apr_atomic_set64(&st->shared->open_until_ms,
                     now_ms() + (apr_uint64_t)st->breaker_ms);
    apr_atomic_set64(&st->shared->probe_until_ms, 0);
}

/* Map a libmemcached result; timeouts open the breaker, and so does a
 * server that could not be reached when it is the only one. */
static apr_status_t result(vip_store *st, memcached_st *m,
                           memcached_return_t rc)
{
    switch (rc) {
    case MEMCACHED_SUCCESS:
    case MEMCACHED_STORED:
    case MEMCACHED_DELETED:
    case MEMCACHED_END:
        return APR_SUCCESS;
    case MEMCACHED_NOTFOUND:
        return APR_NOTFOUND;
    case MEMCACHED_NOTSTORED:
    case MEMCACHED_DATA_EXISTS:
        return APR_EEXIST;
    case MEMCACHED_TIMEOUT:
        if (st->shared && st->breaker_ms > 0) {
            apr_atomic_inc32(&st->shared->timeouts);
            open_breaker(st);
        }
        break;
    case MEMCACHED_CONNECTION_FAILURE:
    case MEMCACHED_SERVER_MARKED_DEAD:
    case MEMCACHED_SERVER_TEMPORARILY_DISABLED:
    case MEMCACHED_NO_SERVERS:
        /* Refused, or resting after a failure (a connection that broke
         * under a call was retried once, see retry_worth: this is the
         * fresh connection failing). */
        if (st->shared) {
            apr_atomic_inc32(&st->shared->unreachable);
            if (st->nservers == 1 && st->breaker_ms > 0) {
                open_breaker(st);
            }
        }
        break;
    default:
        break;
    }
    last_error = memcached_strerror(m, rc);
    return APR_EGENERAL;
}

static apr_status_t value_cleanup(void *data)
{
    free(data);
    return APR_SUCCESS;
}

static void value_own(vip_store_value *v, apr_pool_t *p, char *data,
                      apr_size_t len)
{
    v->data = data;
    v->len = len;
    v->pool = p;
    if (data) {
        apr_pool_cleanup_register(p, data, value_cleanup,
                                  apr_pool_cleanup_null);
    }
}

apr_status_t vip_store_get(vip_store *st, apr_pool_t *p, const char *key,
                           vip_store_value *v)
{
    const char *keys[1] = { key };
    apr_status_t rv = vip_store_mget(st, p, keys, 1, v);

    if (rv == APR_SUCCESS && !v->data) {
        return APR_NOTFOUND;
    }
    return rv;
}

/* A connection memcached closed (a restart) fails the first call that
 * uses it, before any byte of an answer: worth one immediate retry on a
 * fresh connection.  Timeouts are not retried (bounded latency). */
static int retry_worth(memcached_return_t rc)
{
    switch (rc) {
    case MEMCACHED_CONNECTION_FAILURE:
    case MEMCACHED_UNKNOWN_READ_FAILURE:
    case MEMCACHED_READ_FAILURE:
    case MEMCACHED_WRITE_FAILURE:
    case MEMCACHED_ERRNO:
        return 1;
    default:
        return 0;
    }
}

static memcached_return_t mget_once(memcached_st *m, apr_pool_t *p,
                                    const char *const *keys,
                                    const size_t *lens, int n,
                                    vip_store_value *vals)
{
    memcached_return_t rc;
    memcached_result_st res;
    int i;

    memset(vals, 0, sizeof(*vals) * (size_t)n);
    rc = memcached_mget(m, (const char *const *)keys, lens, (size_t)n);
    if (rc != MEMCACHED_SUCCESS) {
        return rc;
    }
    memcached_result_create(m, &res);
    while (memcached_fetch_result(m, &res, &rc)) {
        const char *k = memcached_result_key_value(&res);
        size_t klen = memcached_result_key_length(&res);
        for (i = 0; i < n; i++) {
            if (!vals[i].data && lens[i] == klen
                && memcmp(keys[i], k, klen) == 0) {
                size_t len = memcached_result_length(&res);
                value_own(&vals[i], p, memcached_result_take_value(&res), len);
                break;
            }
        }
    }
    memcached_result_free(&res);
    /* The loop ends with END (all answered) or with the first error. */
    return rc == MEMCACHED_END || rc == MEMCACHED_NOTFOUND
           ? MEMCACHED_SUCCESS : rc;
}

apr_status_t vip_store_mget(vip_store *st, apr_pool_t *p,
                            const char *const *keys, int n,
                            vip_store_value *vals)
{
    memcached_st *m;
    memcached_return_t rc;
    apr_status_t rv;
    size_t *lens;
    int i;

    memset(vals, 0, sizeof(*vals) * (size_t)(n > 0 ? n : 0));
    if (n <= 0) {
        return APR_SUCCESS;
    }
    if (!(m = take(st))) {
        return APR_EGENERAL;
    }
    lens = apr_palloc(p, sizeof(size_t) * (size_t)n);
    for (i = 0; i < n; i++) {
        lens[i] = strlen(keys[i]);
    }
    trip(st);
    rc = mget_once(m, p, keys, lens, n, vals);
    if (retry_worth(rc)) {
        /* values of the first try stay owned by p's cleanups */
        memcached_quit(m);
        trip(st);
        rc = mget_once(m, p, keys, lens, n, vals);
    }
    rv = result(st, m, rc);
    give(st, m, rv);
    return rv == APR_SUCCESS ? rv : APR_EGENERAL;
}

/* The single-key commands, for one retry path. */
typedef enum { CMD_SET, CMD_ADD, CMD_DELETE, CMD_INCR, CMD_DECR } cmd_kind;

typedef struct {
    cmd_kind kind;
    const char *key;
    size_t klen;
    const void *data;
    size_t len;
    time_t ttl;
    uint32_t delta;
} store_cmd;

static memcached_return_t send_cmd(vip_store *st, memcached_st *m,
                                   const store_cmd *c, uint64_t *v)
{
    trip(st);
    switch (c->kind) {
    case CMD_SET:
        return memcached_set(m, c->key, c->klen, c->data, c->len, c->ttl, 0);
    case CMD_ADD:
        return memcached_add(m, c->key, c->klen, c->data, c->len, c->ttl, 0);
    case CMD_DELETE:
        return memcached_delete(m, c->key, c->klen, 0);
    case CMD_INCR:
        return memcached_increment(m, c->key, c->klen, c->delta, v);
    default:
        return memcached_decrement(m, c->key, c->klen, c->delta, v);
    }
}

/* One command on handle m; a connection memcached closed gets one
 * immediate retry (retry_worth). */
static memcached_return_t command(vip_store *st, memcached_st *m,
                                  const store_cmd *c, uint64_t *v)
{
    memcached_return_t rc = send_cmd(st, m, c, v);

    if (retry_worth(rc)) {
        memcached_quit(m);
        rc = send_cmd(st, m, c, v);
    }
    return rc;
}

/* take a handle, one command, give it back */
static apr_status_t simple(vip_store *st, const store_cmd *c, uint64_t *v)
{
    memcached_st *m = take(st);
    apr_status_t rv;

    if (!m) {
        return APR_EGENERAL;
    }
    rv = result(st, m, command(st, m, c, v));
    give(st, m, rv);
    return rv;
}

apr_status_t vip_store_set(vip_store *st, apr_pool_t *p, const char *key,
                           const void *data, apr_size_t len, apr_uint32_t ttl)
{
    store_cmd c = { CMD_SET, key, strlen(key), data, len, (time_t)ttl, 0 };

    return simple(st, &c, NULL);
}

apr_status_t vip_store_add(vip_store *st, apr_pool_t *p, const char *key,
                           const void *data, apr_size_t len, apr_uint32_t ttl)
{
    store_cmd c = { CMD_ADD, key, strlen(key), data, len, (time_t)ttl, 0 };

    return simple(st, &c, NULL);
}

/* incr by delta; when absent, add initial; when another node won the
 * add, incr again.  One round trip in the steady state. */
static apr_status_t incr_common(vip_store *st, const char *key,
                                apr_uint64_t delta, apr_uint64_t initial,
                                apr_uint32_t ttl, apr_uint64_t *out)
{
    memcached_st *m = take(st);
    store_cmd c = { CMD_INCR, key, strlen(key), NULL, 0, (time_t)ttl,
                    (uint32_t)delta };
    uint64_t v = 0;
    apr_status_t rv;
    char buf[24];

    if (!m) {
        return APR_EGENERAL;
    }
    rv = result(st, m, command(st, m, &c, &v));
    if (rv == APR_NOTFOUND) {
        store_cmd a = { CMD_ADD, key, c.klen, buf, 0, (time_t)ttl, 0 };
        a.len = (size_t)apr_snprintf(buf, sizeof(buf), "%" APR_UINT64_T_FMT,
                                     initial);
        rv = result(st, m, send_cmd(st, m, &a, NULL));
        v = initial;
        if (rv == APR_EEXIST) {
            /* Another node created it between our incr and add. */
            rv = result(st, m, send_cmd(st, m, &c, &v));
        }
    }
    give(st, m, rv);
    if (rv == APR_SUCCESS && out) {
        *out = v;
    }
    return rv == APR_SUCCESS ? rv : APR_EGENERAL;
}

apr_status_t vip_store_incr(vip_store *st, apr_pool_t *p, const char *key,
                            apr_uint64_t initial, apr_uint32_t ttl,
                            apr_uint64_t *out)
{
    return incr_common(st, key, 1, initial, ttl, out);
}

apr_status_t vip_store_incr_by(vip_store *st, apr_pool_t *p, const char *key,
                               apr_uint64_t delta, apr_uint32_t ttl,
                               apr_uint64_t *out)
{
    if (delta > VIP_STORE_MAX_DELTA) {
        return APR_EINVAL;
    }
    return incr_common(st, key, delta, delta, ttl, out);
}

apr_status_t vip_store_decr_by(vip_store *st, apr_pool_t *p, const char *key,
                               apr_uint64_t delta, apr_uint64_t *out)
{
    store_cmd c = { CMD_DECR, key, strlen(key), NULL, 0, 0, (uint32_t)delta };
    uint64_t v = 0;
    apr_status_t rv;

    if (delta < 1 || delta > VIP_STORE_MAX_DELTA) {
        return APR_EINVAL;
    }
    rv = simple(st, &c, &v);
    if (rv == APR_SUCCESS && out) {
        *out = v;
    }
    return rv;
}

int vip_store_breaker_open(const vip_store *st)
{
    return st && st->shared
           && apr_atomic_read64((volatile apr_uint64_t *)
                                &st->shared->open_until_ms) > now_ms();
}

apr_status_t vip_store_delete(vip_store *st, apr_pool_t *p, const char *key)
{
    store_cmd c = { CMD_DELETE, key, strlen(key), NULL, 0, 0, 0 };
    apr_status_t rv = simple(st, &c, NULL);

    return rv == APR_NOTFOUND ? APR_SUCCESS : rv;
}

apr_bucket *vip_store_value_bucket(vip_store_value *v, apr_size_t off,
                                   apr_size_t len, apr_bucket_alloc_t *list)
{
    apr_bucket *b;

    apr_pool_cleanup_kill(v->pool, v->data, value_cleanup);
    b = apr_bucket_heap_create(v->data, v->len, free, list);
    b->start = (apr_off_t)off;
    b->length = len;
    v->data = NULL;
    return b;
}

int vip_store_counter(const vip_store_value *v, apr_uint64_t *out)
{
    apr_uint64_t x = 0;
    apr_size_t i;

    if (!v->data || !v->len || v->len > 20) {
        return 0;
    }
    for (i = 0; i < v->len; i++) {
        /* memcached pads incr results with spaces */
        if (v->data[i] == ' ') {
            break;
        }
        if (v->data[i] < '0' || v->data[i] > '9') {
            return 0;
        }
        x = x * 10 + (apr_uint64_t)(v->data[i] - '0');
    }
    *out = x;
    return 1;
}
