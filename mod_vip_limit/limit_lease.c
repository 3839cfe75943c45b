/*
 * limit_lease.c - plans, grants, shares and keys of the cluster store
 * (see limit_lease.h).
 */
#include <string.h>

#include "limit_lease.h"
#include "limit_table.h"

static apr_uint32_t lease_size(apr_uint64_t allowance, apr_uint32_t batch,
                               apr_uint32_t nodes)
{
    apr_uint64_t cap = allowance / (2 * (apr_uint64_t)(nodes ? nodes : 1));

    if (cap > batch) {
        cap = batch;
    }
    return cap ? (apr_uint32_t)cap : 1;
}

static apr_uint32_t ttl_of(apr_uint64_t window_ns)
{
    return (apr_uint32_t)((window_ns + VIP_NS_PER_SEC - 1) / VIP_NS_PER_SEC)
           + VIP_LEASE_TTL_MARGIN_S;
}

void vip_lease_plan_rate(vip_lease_plan *lp, const vip_gcra *g,
                         apr_uint32_t batch, apr_uint32_t nodes)
{
    apr_uint64_t w = g->tolerance;      /* burst x T: the bucket refilled */
    apr_uint64_t m = 1;

    if (w < VIP_LEASE_MIN_WINDOW_NS) {
        m = (VIP_LEASE_MIN_WINDOW_NS + w - 1) / w;
    }
    lp->window_ns = w * m;
    lp->allowance = (apr_uint64_t)g->burst * m;
    lp->lease = lease_size(lp->allowance, batch, nodes);
    lp->ttl_s = ttl_of(lp->window_ns);
}

void vip_lease_plan_quota(vip_lease_plan *lp, const vip_quota *q,
                          apr_uint32_t batch, apr_uint32_t nodes)
{
    lp->window_ns = (apr_uint64_t)q->window_s * VIP_NS_PER_SEC;
    lp->allowance = q->limit;
    lp->lease = lease_size(lp->allowance, batch, nodes);
    lp->ttl_s = ttl_of(lp->window_ns);
}

apr_uint64_t vip_lease_grant(apr_uint64_t v, apr_uint64_t want,
                             apr_uint64_t allowance, int *exhausted)
{
    apr_uint64_t before = v >= want ? v - want : 0;
    apr_uint64_t got;

    *exhausted = v >= allowance;
    if (before >= allowance) {
        return 0;
    }
    got = allowance - before;
    return got < want ? got : want;
}

apr_uint32_t vip_lease_share(apr_uint32_t limit, apr_uint32_t nodes)
{
    apr_uint32_t s = limit / (nodes ? nodes : 1);

    return s ? s : 1;
}

void vip_lease_share_rate(vip_gcra *out, const vip_gcra *g,
                          apr_uint32_t nodes)
{
    apr_uint64_t period = (apr_uint64_t)g->period_s * (nodes ? nodes : 1);

    /* the same count over a period nodes times longer: exact */
    vip_gcra_init(out, g->count, (apr_uint32_t)period,
                  vip_lease_share(g->burst, nodes));
}

void vip_lease_cid(const void *data, apr_size_t len,
                   unsigned char cid[VIP_LEASE_CID_LEN])
{
    /* fixed keys: "vip-limit-clustr" and its bytes reversed */
    apr_uint64_t a = vip_limit_siphash(APR_UINT64_C(0x6c2d706976746d69),
                                       APR_UINT64_C(0x727473756c632d74),
                                       data, len);
    apr_uint64_t b = vip_limit_siphash(APR_UINT64_C(0x746d696c2d706976),
                                       APR_UINT64_C(0x6c632d7274737563),
                                       data, len);
    int i;

    for (i = 0; i < 8; i++) {
        cid[i] = (unsigned char)(a >> (56 - 8 * i));
        cid[8 + i] = (unsigned char)(b >> (56 - 8 * i));
    }
}

apr_size_t vip_lease_key(char *buf, const unsigned char *cid, char kind,
                         apr_uint64_t index)
{
    static const char hex[] = "0123456789abcdef";
    char *o = buf;
    int i, started = 0;

    memcpy(o, "vip:1:l:", 8);
    o += 8;
    for (i = 0; i < VIP_LEASE_CID_LEN; i++) {
        *o++ = hex[cid[i] >> 4];
        *o++ = hex[cid[i] & 15];
    }
    *o++ = ':';
    *o++ = kind;
    for (i = 60; i >= 0; i -= 4) {
        unsigned d = (unsigned)(index >> i) & 15;
        if (d || started || i == 0) {
            *o++ = hex[d];
            started = 1;
        }
    }
    *o = '\0';
    return (apr_size_t)(o - buf);
}

/* ---- rates and quotas: the node's tokens -------------------------------- */

static void window_times(const vip_lease_plan *lp, apr_uint64_t win,
                         apr_uint64_t wall, vip_limit_result *res)
{
    apr_uint64_t end = (win + 1) * lp->window_ns;

    res->reset_ns = end > wall ? end - wall : 0;
    /* a window ahead of this clock (it went back) counts as one window */
    if (res->reset_ns > lp->window_ns) {
        res->reset_ns = lp->window_ns;
    }
}

static apr_uint64_t cluster_left(vip_limit_entry *e, const vip_lease_plan *lp,
                                 apr_uint64_t tokens)
{
    apr_uint64_t seen = vip_limit_entry_read(e, VIP_LIMIT_W_EXTRA);

    return tokens + (seen < lp->allowance ? lp->allowance - seen : 0);
}

int vip_lease_take(vip_limit_entry *e, const vip_lease_plan *lp,
                   apr_uint64_t wall, apr_uint64_t now, vip_lease_view *v,
                   vip_limit_result *res)
{
    apr_uint64_t win = wall / lp->window_ns;
    apr_uint64_t old, tokens;
    int d;

    memset(v, 0, sizeof(*v));
    for (;;) {
        old = vip_limit_entry_read(e, VIP_LIMIT_W_STATE);
        d = vip_lease_cmp(old >> 32, win);
        v->win = win;
        if (!old || d < 0) {
            v->want = lp->lease;
            return VIP_LEASE_NEED;
        }
        v->win = win + (apr_uint64_t)(apr_int64_t)d;
        tokens = old & VIP_LEASE_TOKENS;
        if (tokens) {
            if (!vip_limit_entry_cas(e, VIP_LIMIT_W_STATE, old - 1, old)) {
                continue;
            }
            res->allowed = 1;
            res->retry_ns = 0;
            res->remaining = cluster_left(e, lp, tokens - 1);
            window_times(lp, v->win, wall, res);
            return VIP_LEASE_TAKEN;
        }
        if (old & VIP_LEASE_EXHAUSTED) {
            res->allowed = 0;
            res->remaining = 0;
            window_times(lp, v->win, wall, res);
            res->retry_ns = res->reset_ns;
            return VIP_LEASE_DENIED;
        }
        v->want = lp->lease;
        return VIP_LEASE_NEED;
    }
}

void vip_lease_merge(vip_limit_entry *e, const vip_lease_plan *lp,
                     const vip_lease_view *v, apr_uint64_t value,
                     apr_uint64_t wall, apr_uint64_t now,
                     vip_limit_result *res)
{
    int exh;
    apr_uint64_t got = vip_lease_grant(value, v->want, lp->allowance, &exh);
    apr_uint64_t use = got ? 1 : 0;
    apr_uint64_t old, next, left = 0;
    int d;

    window_times(lp, v->win, wall, res);
    do {
        old = vip_limit_entry_read(e, VIP_LIMIT_W_STATE);
        d = vip_lease_cmp(old >> 32, v->win);
        if (old && d == 0) {
            /* tokens another thread leased meanwhile stay */
            left = (old & VIP_LEASE_TOKENS) + got - use;
            next = vip_lease_word(v->win, exh || (old & VIP_LEASE_EXHAUSTED),
                                  left);
        }
        else if (!old || d < 0) {
            left = got - use;
            next = vip_lease_word(v->win, exh, left);
        }
        else {
            /* the node already counts in a later window: these tokens
             * belong to a past one and are dropped */
            left = 0;
            next = old;
        }
    } while (next != old
             && !vip_limit_entry_cas(e, VIP_LIMIT_W_STATE, next, old));
    if (d <= 0 || !old) {
        vip_limit_entry_raise(e, VIP_LIMIT_W_EXTRA, value);
        vip_limit_entry_raise(e, VIP_LIMIT_W_AUX, now + res->reset_ns);
    }
    res->allowed = (int)use;
    res->remaining = use ? cluster_left(e, lp, left) : 0;
    res->retry_ns = use ? 0 : res->reset_ns;
}

/* ---- concurrency: the node's registration ------------------------------- */

int vip_lease_conc_take(vip_limit_entry *e, apr_uint64_t epoch,
                        apr_uint32_t k, vip_lease_view *v)
{
    apr_uint64_t aux, inflight, h, n, reg;
    int d;

    memset(v, 0, sizeof(*v));
    for (;;) {
        aux = vip_limit_entry_read(e, VIP_LIMIT_W_AUX);
        n = vip_limit_entry_read(e, VIP_LIMIT_W_EXTRA);
        inflight = vip_limit_entry_read(e, VIP_LIMIT_W_STATE);
        reg = aux >> 32;
        h = aux & 0xffffffffu;
        d = aux ? vip_lease_cmp(epoch, reg) : 2;
        v->old_aux = aux;
        if (d <= 0) {
            /* registered for this epoch (or a later one: the clock went
             * back, and epochs never do) */
            v->win = epoch + (apr_uint64_t)(apr_int64_t)d;
            v->base = h;
            v->need_ext = 0;
        }
        else if (d == 1) {
            /* what the last registration put in this epoch's counter
             * counts now; the next epoch gets only what is in use and a
             * lease's worth more (so idle slots go back) */
            v->win = epoch;
            v->base = n;
            v->ext = n < inflight + k ? n : inflight + k;
            v->need_ext = 1;
        }
        else {
            /* lapsed: nothing of this node counts any more */
            v->win = epoch;
            v->base = 0;
            v->ext = 0;
            v->need_ext = 1;
        }
        if (!v->need_ext && inflight < v->base) {
            if (vip_limit_entry_cas(e, VIP_LIMIT_W_STATE, inflight + 1,
                                    inflight)) {
                return VIP_LEASE_TAKEN;
            }
            continue;
        }
        v->want = inflight >= v->base ? inflight + 1 - v->base + (k - 1) : 0;
        return VIP_LEASE_NEED;
    }
}

apr_uint64_t vip_lease_conc_next(const vip_lease_view *v,
                                 apr_uint64_t granted)
{
    return v->need_ext ? v->ext + granted : granted;
}

void vip_lease_conc_merge(vip_limit_entry *e, const vip_lease_view *v,
                          apr_uint64_t granted,
                          vip_limit_result *res)
{
    apr_uint64_t aux, h, next, s, n, add = vip_lease_conc_next(v, granted);
    int first;

    do {
        aux = vip_limit_entry_read(e, VIP_LIMIT_W_AUX);
        first = !(aux != v->old_aux && aux
                  && vip_lease_cmp(aux >> 32, v->win) == 0);
        /* another thread of this node registered in this epoch meanwhile:
         * its slots and ours both count */
        h = first ? v->base + granted : (aux & 0xffffffffu) + granted;
        if (h > 0xffffffffu) {
            h = 0xffffffffu;
        }
        next = (v->win & 0xffffffffu) << 32 | h;
    } while (!vip_limit_entry_cas(e, VIP_LIMIT_W_AUX, next, aux));
    /* the next epoch's registration (counting only: a race here misstates
     * it by one thread's part, which the next extension corrects) */
    do {
        n = vip_limit_entry_read(e, VIP_LIMIT_W_EXTRA);
    } while (!vip_limit_entry_cas(e, VIP_LIMIT_W_EXTRA,
                                  first && v->need_ext ? add : n + add, n));
    res->reset_ns = 0;
    for (;;) {
        s = vip_limit_entry_read(e, VIP_LIMIT_W_STATE);
        if (s >= h) {
            res->allowed = 0;
            res->remaining = 0;
            res->retry_ns = VIP_NS_PER_SEC;
            return;
        }
        if (vip_limit_entry_cas(e, VIP_LIMIT_W_STATE, s + 1, s)) {
            break;
        }
    }
    res->allowed = 1;
    res->retry_ns = 0;
    /* this node's view: the slots of its registration left */
    res->remaining = h - s - 1;
}
