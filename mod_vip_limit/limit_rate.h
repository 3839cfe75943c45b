/*
 * limit_rate.h - the text of a limit, as an admin writes it after the zone
 * name of VipLimit, VipLimitPlan and VipLimitRoute:
 *
 *   rate=COUNT/[N]UNIT   COUNT requests per N UNITs (s, sec, second, min,
 *                        minute, h, hour), sustained; N defaults to 1
 *   burst=N              requests admitted at once (default: COUNT)
 *   quota=COUNT/UNIT     COUNT requests per calendar minute, hour or day
 *                        (min, minute, h, hour, d, day)
 *   concurrency=N        requests in flight at once
 *   name=ID              the counter's name (default: given by the caller)
 *
 * Pure: no httpd, so the unit tests and the fuzzer reach it.
 */
#ifndef VIP_LIMIT_RATE_H
#define VIP_LIMIT_RATE_H

#include <apr_pools.h>

#define VIP_LIMIT_MAX_COUNT   1000000000u   /* per rate period or window */
#define VIP_LIMIT_MAX_BURST   1000000u
#define VIP_LIMIT_MAX_CONC    1000000u
#define VIP_LIMIT_MAX_PERIOD  86400u        /* a rate's period, seconds */

typedef struct {
    apr_uint32_t rate_count;        /* 0: no rate */
    apr_uint32_t rate_period;       /* seconds */
    apr_uint32_t burst;             /* 0: not given */
    apr_uint32_t quota_count;       /* 0: no quota */
    apr_uint32_t quota_window;      /* 60, 3600, 86400 */
    apr_uint32_t concurrency;       /* 0: none */
    const char *name;               /* NULL: not given */
} vip_limit_spec;

/* Apply one word to spec.  Returns NULL, or the reason the word is wrong
 * (from p), naming the word. */
const char *vip_limit_spec_word(apr_pool_t *p, vip_limit_spec *spec,
                                const char *word);

/* After the last word: NULL when spec limits something and is coherent
 * (burst only with a rate); fills in the default burst. */
const char *vip_limit_spec_done(apr_pool_t *p, vip_limit_spec *spec);

/* Seconds of a unit name for rates (min_s 1) or quotas (min_s 60), 0 when
 * the name is not one. */
apr_uint32_t vip_limit_unit(const char *unit, apr_size_t len,
                            apr_uint32_t min_s);

#endif
