/*
 * limit_rate.c - parser of limit specs, "rate=10/s burst=5 quota=1000/hour
 * concurrency=20" (see limit_rate.h).  Every number is decimal digits only,
 * range-checked before it is stored; nothing is ignored.
 */
#include <string.h>

#include <apr_strings.h>

#include "limit_rate.h"
#include "vip_config.h"

static const struct {
    const char *name;
    apr_uint32_t seconds;
} units[] = {
    {"s", 1}, {"sec", 1}, {"second", 1},
    {"min", 60}, {"minute", 60},
    {"h", 3600}, {"hour", 3600},
    {"d", 86400}, {"day", 86400},
};

apr_uint32_t vip_limit_unit(const char *unit, apr_size_t len,
                            apr_uint32_t min_s)
{
    apr_size_t i;

    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strlen(units[i].name) == len
            && memcmp(units[i].name, unit, len) == 0
            && units[i].seconds >= min_s) {
            return units[i].seconds;
        }
    }
    return 0;
}

/* digits[0..len) as a number in 1..max; 0 when not. */
static apr_uint64_t number(const char *s, apr_size_t len, apr_uint64_t max)
{
    apr_uint64_t v = 0;
    apr_size_t i;

    if (len == 0 || len > 10) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
        v = v * 10 + (apr_uint64_t)(s[i] - '0');
    }
    return v <= max ? v : 0;
}

/* "COUNT/[N]UNIT": count, seconds.  Error text or NULL. */
static const char *per_unit(apr_pool_t *p, const char *word, const char *v,
                            int quota, apr_uint32_t *count,
                            apr_uint32_t *seconds)
{
    const char *slash = strchr(v, '/');
    const char *u;
    apr_uint64_t c, mult = 1;
    apr_uint32_t unit;
    apr_size_t n;

    if (!slash) {
        return apr_psprintf(p, "'%s': write COUNT/UNIT, e.g. %s", word,
                            quota ? "quota=1000/hour" : "rate=10/s");
    }
    c = number(v, (apr_size_t)(slash - v), VIP_LIMIT_MAX_COUNT);
    if (!c) {
        return apr_psprintf(p, "'%s': the count must be 1-%u", word,
                            VIP_LIMIT_MAX_COUNT);
    }
    u = slash + 1;
    n = strspn(u, "0123456789");
    if (n && !quota) {
        mult = number(u, n, VIP_LIMIT_MAX_PERIOD);
        if (!mult) {
            return apr_psprintf(p, "'%s': the period must be 1-%u units",
                                word, VIP_LIMIT_MAX_PERIOD);
        }
        u += n;
    }
    unit = vip_limit_unit(u, strlen(u), quota ? 60 : 1);
    if (!unit) {
        return apr_psprintf(p, "'%s': unknown unit '%s' (%s)", word, u,
                            quota ? "min, hour or day: quotas count per "
                                    "calendar minute, hour or day"
                                  : "s, min, hour or day, optionally with a "
                                    "number: 100/10s");
    }
    if (mult * unit > VIP_LIMIT_MAX_PERIOD) {
        return apr_psprintf(p, "'%s': the period is longer than a day", word);
    }
    *count = (apr_uint32_t)c;
    *seconds = (apr_uint32_t)(mult * unit);
    return NULL;
}

const char *vip_limit_spec_word(apr_pool_t *p, vip_limit_spec *spec,
                                const char *word)
{
    const char *eq = strchr(word, '=');
    const char *v;
    apr_size_t klen;
    apr_uint64_t n;

    if (!eq || eq == word) {
        return apr_psprintf(p, "'%s' is not one of rate=, burst=, quota=, "
                            "concurrency=, name=", word);
    }
    klen = (apr_size_t)(eq - word);
    v = eq + 1;
#define KEY(k) (klen == sizeof(k) - 1 && memcmp(word, k, klen) == 0)
    if (KEY("rate")) {
        if (spec->rate_count) {
            return apr_psprintf(p, "'%s': rate= given twice", word);
        }
        return per_unit(p, word, v, 0, &spec->rate_count, &spec->rate_period);
    }
    if (KEY("quota")) {
        if (spec->quota_count) {
            return apr_psprintf(p, "'%s': quota= given twice", word);
        }
        return per_unit(p, word, v, 1, &spec->quota_count,
                        &spec->quota_window);
    }
    if (KEY("burst")) {
        if (spec->burst) {
            return apr_psprintf(p, "'%s': burst= given twice", word);
        }
        n = number(v, strlen(v), VIP_LIMIT_MAX_BURST);
        if (!n) {
            return apr_psprintf(p, "'%s': burst must be 1-%u (requests "
                                "admitted at once)", word, VIP_LIMIT_MAX_BURST);
        }
        spec->burst = (apr_uint32_t)n;
        return NULL;
    }
    if (KEY("concurrency")) {
        if (spec->concurrency) {
            return apr_psprintf(p, "'%s': concurrency= given twice", word);
        }
        n = number(v, strlen(v), VIP_LIMIT_MAX_CONC);
        if (!n) {
            return apr_psprintf(p, "'%s': concurrency must be 1-%u", word,
                                VIP_LIMIT_MAX_CONC);
        }
        spec->concurrency = (apr_uint32_t)n;
        return NULL;
    }
    if (KEY("name")) {
        if (spec->name) {
            return apr_psprintf(p, "'%s': name= given twice", word);
        }
        if (!vip_id_valid(v, 1, 48)) {
            return apr_psprintf(p, "'%s': a name is 1-48 characters of "
                                "[A-Za-z0-9._-]", word);
        }
        spec->name = apr_pstrdup(p, v);
        return NULL;
    }
#undef KEY
    return apr_psprintf(p, "'%s' is not one of rate=, burst=, quota=, "
                        "concurrency=, name=", word);
}

const char *vip_limit_spec_done(apr_pool_t *p, vip_limit_spec *spec)
{
    if (spec->burst && !spec->rate_count) {
        return "burst= belongs to a rate=";
    }
    if (!spec->rate_count && !spec->quota_count && !spec->concurrency) {
        return "nothing to limit: give rate=, quota= or concurrency=";
    }
    if (spec->rate_count && !spec->burst) {
        spec->burst = spec->rate_count < VIP_LIMIT_MAX_BURST
                      ? spec->rate_count : VIP_LIMIT_MAX_BURST;
    }
    if (spec->rate_count) {
        /* burst x emission interval is the GCRA tolerance in ns: it must
         * stay far from 64-bit overflow when added to clock values. */
        apr_uint64_t period_ns = (apr_uint64_t)spec->rate_period * 1000000000u;
        apr_uint64_t interval = (period_ns + spec->rate_count - 1)
                                / spec->rate_count;
        apr_uint64_t max_burst = (APR_UINT64_C(1) << 62) / interval;
        if (spec->burst > max_burst) {
            return apr_psprintf(p, "burst=%u is too large for that rate "
                                "(at most %" APR_UINT64_T_FMT ")",
                                spec->burst, max_burst);
        }
    }
    return NULL;
}
