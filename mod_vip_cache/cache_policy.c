/*
 * cache_policy.c - Cache-Control parsing and the store decision (see
 * cache_policy.h).
 */
#include <string.h>

#include "apr_date.h"
#include "apr_lib.h"
#include "apr_strings.h"

#include "cache_policy.h"

void vip_cc_init(vip_cc *cc)
{
    memset(cc, 0, sizeof(*cc));
    cc->max_age = cc->s_maxage = VIP_CC_UNSET;
    cc->swr = cc->sie = VIP_CC_UNSET;
}

/* delta-seconds: digits only; huge values are capped, not refused. */
static long delta(const char *v, apr_size_t n, int *ok)
{
    long x = 0;
    apr_size_t i;

    *ok = n > 0;
    for (i = 0; i < n; i++) {
        if (!apr_isdigit(v[i])) {
            *ok = 0;
            return 0;
        }
        if (x < VIP_CC_MAX) {
            x = x * 10 + (v[i] - '0');
        }
    }
    return x > VIP_CC_MAX ? VIP_CC_MAX : x;
}

static int is_name(const char *n, apr_size_t len, const char *want)
{
    return strlen(want) == len && strncasecmp(n, want, len) == 0;
}

/* Set *slot to the argument's seconds; the smallest wins on repeats. */
static void set_delta(vip_cc *cc, long *slot, const char *v, apr_size_t vlen,
                      int has_arg)
{
    int ok;
    long x = has_arg ? delta(v, vlen, &ok) : (ok = 0);

    if (!ok) {
        cc->malformed = 1;
        return;
    }
    if (*slot == VIP_CC_UNSET || x < *slot) {
        *slot = x;
    }
}

void vip_cc_parse(const char *value, vip_cc *cc)
{
    const char *s = value;

    while (s && *s) {
        const char *name, *arg = NULL;
        apr_size_t nlen, alen = 0;
        int quoted = 0;

        while (*s == ' ' || *s == '\t' || *s == ',') {
            s++;
        }
        if (!*s) {
            break;
        }
        name = s;
        while (*s && *s != '=' && *s != ',' && *s != ' ' && *s != '\t') {
            s++;
        }
        nlen = (apr_size_t)(s - name);
        while (*s == ' ' || *s == '\t') {
            s++;
        }
        if (*s == '=') {
            s++;
            while (*s == ' ' || *s == '\t') {
                s++;
            }
            if (*s == '"') {
                quoted = 1;
                arg = ++s;
                while (*s && *s != '"') {
                    if (*s == '\\' && s[1]) {
                        s++;
                    }
                    s++;
                }
                if (*s != '"') {
                    cc->malformed = 1;
                    return;
                }
                alen = (apr_size_t)(s - arg);
                s++;
            }
            else {
                arg = s;
                while (*s && *s != ',' && *s != ' ' && *s != '\t') {
                    s++;
                }
                alen = (apr_size_t)(s - arg);
            }
        }
        while (*s == ' ' || *s == '\t') {
            s++;
        }
        if (*s && *s != ',') {
            /* junk after a directive: the field cannot be trusted */
            cc->malformed = 1;
            return;
        }
        if (is_name(name, nlen, "no-store")) {
            cc->no_store = 1;
        }
        else if (is_name(name, nlen, "no-cache")) {
            cc->no_cache = 1;
        }
        else if (is_name(name, nlen, "private")) {
            cc->private_ = 1;
        }
        else if (is_name(name, nlen, "public")) {
            cc->public_ = 1;
        }
        else if (is_name(name, nlen, "must-revalidate")
                 || is_name(name, nlen, "proxy-revalidate")) {
            cc->must_revalidate = 1;
        }
        else if (is_name(name, nlen, "max-age")) {
            set_delta(cc, &cc->max_age, arg, alen, arg != NULL && !quoted);
        }
        else if (is_name(name, nlen, "s-maxage")) {
            set_delta(cc, &cc->s_maxage, arg, alen, arg != NULL && !quoted);
        }
        else if (is_name(name, nlen, "stale-while-revalidate")) {
            set_delta(cc, &cc->swr, arg, alen, arg != NULL && !quoted);
        }
        else if (is_name(name, nlen, "stale-if-error")) {
            set_delta(cc, &cc->sie, arg, alen, arg != NULL && !quoted);
        }
    }
}

int vip_surrogate_no_store(const char *value)
{
    vip_cc cc;

    if (!value) {
        return 0;
    }
    vip_cc_init(&cc);
    vip_cc_parse(value, &cc);
    return cc.no_store || cc.malformed;
}

int vip_policy_status_ok(int status)
{
    switch (status) {
    case 200: case 203: case 204: case 300: case 301: case 404: case 410:
        return 1;
    default:
        return 0;
    }
}

#define NO(why) do { out->storable = 0; out->reason = why; return; } while (0)

void vip_policy_decide(const vip_policy_in *in, vip_policy_out *out)
{
    vip_cc cc;
    long ttl;

    memset(out, 0, sizeof(*out));
    if (!vip_policy_status_ok(in->status)) {
        NO("status");
    }
    vip_cc_init(&cc);
    vip_cc_parse(in->cache_control, &cc);
    if (cc.malformed) {
        NO("bad-cache-control");
    }
    if (cc.no_store || cc.private_ || cc.no_cache) {
        NO(cc.no_store ? "no-store" : cc.private_ ? "private" : "no-cache");
    }
    if (vip_surrogate_no_store(in->surrogate_control)) {
        NO("surrogate-no-store");
    }
    if (in->vary) {
        const char *v = in->vary;
        /* "*" as a whole member: the response varies on anything */
        while (*v) {
            while (*v == ' ' || *v == '\t' || *v == ',') {
                v++;
            }
            if (*v == '*') {
                NO("vary-star");
            }
            while (*v && *v != ',') {
                v++;
            }
        }
    }
    if (in->set_cookie && !in->store_cookies) {
        NO("set-cookie");
    }
    if (in->credentials && !cc.public_ && cc.s_maxage == VIP_CC_UNSET
        && !cc.must_revalidate) {
        NO("authorization");
    }
    if (cc.s_maxage != VIP_CC_UNSET) {
        ttl = cc.s_maxage;
    }
    else if (cc.max_age != VIP_CC_UNSET) {
        ttl = cc.max_age;
    }
    else if (in->expires) {
        apr_time_t exp = apr_date_parse_http(in->expires);
        apr_time_t date = in->date ? apr_date_parse_http(in->date) : 0;
        apr_int64_t base = date > 0 ? (apr_int64_t)apr_time_sec(date) : in->now;
        /* An invalid Expires means "already expired" (RFC 9111 5.3). */
        apr_int64_t d = exp > 0 ? (apr_int64_t)apr_time_sec(exp) - base : 0;
        ttl = d < 0 ? 0 : d > VIP_POLICY_MAX_LIFETIME
                          ? VIP_POLICY_MAX_LIFETIME : (long)d;
    }
    else {
        ttl = in->default_ttl;
    }
    if (ttl < in->min_ttl) {
        ttl = in->min_ttl;
    }
    if (in->max_ttl >= 0 && ttl > in->max_ttl) {
        ttl = in->max_ttl;
    }
    if (in->status == 404 && ttl > in->ttl_404) {
        ttl = in->ttl_404;
    }
    if (ttl <= 0) {
        NO("ttl-zero");
    }
    out->storable = 1;
    out->reason = NULL;
    /* memcached reads an expiry over 30 days as a Unix time (an instant
     * long past): freshness plus the stale windows stay within it. */
    if (ttl > VIP_POLICY_MAX_LIFETIME) {
        ttl = VIP_POLICY_MAX_LIFETIME;
    }
    out->ttl = ttl;
    out->swr = cc.swr == VIP_CC_UNSET ? 0 : cc.swr;
    out->sie = cc.sie == VIP_CC_UNSET ? 0 : cc.sie;
    if (out->swr > VIP_POLICY_MAX_LIFETIME - ttl) {
        out->swr = VIP_POLICY_MAX_LIFETIME - ttl;
    }
    if (out->sie > VIP_POLICY_MAX_LIFETIME - ttl) {
        out->sie = VIP_POLICY_MAX_LIFETIME - ttl;
    }
}
