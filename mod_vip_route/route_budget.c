/*
 * route_budget.c - retry policy of a route: `retry_on=` parsing and the
 * retry budget (see route_budget.h).
 *
 * The budget is a ring of one-second slots.  The first caller in a new
 * second claims the slot with a compare-and-swap on its second and clears
 * its counts; requests or retries another thread adds between the claim
 * and the clear are lost, which errs on the side of fewer retries.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_atomic.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "route_budget.h"

const char *vip_retry_on_parse(apr_pool_t *p, const char *spec,
                               vip_retry_on *on)
{
    char *copy = apr_pstrdup(p, spec), *tok, *last = NULL;

    memset(on, 0, sizeof(*on));
    if (!*spec) {
        return "empty list";
    }
    if (spec[strlen(spec) - 1] == ',' || *spec == ',' || strstr(spec, ",,")) {
        return apr_psprintf(p, "empty item in '%s'", spec);
    }
    for (tok = apr_strtok(copy, ",", &last); tok;
         tok = apr_strtok(NULL, ",", &last)) {
        if (strcmp(tok, "timeout") == 0) {
            if (on->timeout) {
                return "'timeout' twice";
            }
            on->timeout = 1;
        }
        else if (strlen(tok) == 3 && tok[0] == '5' && apr_isdigit(tok[1])
                 && apr_isdigit(tok[2])) {
            int s = atoi(tok) - 500;
            apr_uint32_t bit = (apr_uint32_t)1 << (s % 32);
            if (on->status_bits[s / 32] & bit) {
                return apr_psprintf(p, "%s twice", tok);
            }
            on->status_bits[s / 32] |= bit;
            on->nstatuses++;
        }
        else {
            return apr_psprintf(p, "'%s' is neither a status 500-599 nor "
                                "'timeout'", tok);
        }
    }
    return NULL;
}

int vip_retry_on_status(const vip_retry_on *on, int status)
{
    int s = status - 500;

    if (s < 0 || s > 99) {
        return 0;
    }
    return (on->status_bits[s / 32] >> (s % 32)) & 1;
}

const char *vip_retry_on_list(apr_pool_t *p, const vip_retry_on *on,
                              char sep)
{
    char *out = apr_pcalloc(p, 4 * 100 + 1), *w = out;
    int s;

    for (s = 500; s < 600; s++) {
        if (vip_retry_on_status(on, s)) {
            if (w != out) {
                *w++ = sep;
            }
            w += apr_snprintf(w, 4, "%d", s);
        }
    }
    return out;
}

static vip_budget_slot *current(vip_budget *b, apr_uint32_t now)
{
    vip_budget_slot *s = &b->slot[now % VIP_BUDGET_SLOTS];
    apr_uint32_t seen = apr_atomic_read32(&s->second);

    if (seen != now && apr_atomic_cas32(&s->second, now, seen) == seen) {
        apr_atomic_set32(&s->requests, 0);
        apr_atomic_set32(&s->retries, 0);
    }
    return s;
}

void vip_budget_totals(vip_budget *b, apr_uint32_t now,
                       apr_uint32_t *requests, apr_uint32_t *retries)
{
    int i;

    *requests = *retries = 0;
    for (i = 0; i < VIP_BUDGET_SLOTS; i++) {
        vip_budget_slot *s = &b->slot[i];
        /* Unsigned: a slot of the future (a clock step back) is old too. */
        if (now - apr_atomic_read32(&s->second) < VIP_BUDGET_SLOTS) {
            *requests += apr_atomic_read32(&s->requests);
            *retries += apr_atomic_read32(&s->retries);
        }
    }
}

void vip_budget_request(vip_budget *b, apr_uint32_t now)
{
    apr_atomic_inc32(&current(b, now)->requests);
}

int vip_budget_try_retry(vip_budget *b, apr_uint32_t now, int percent)
{
    apr_uint32_t requests, retries;
    vip_budget_slot *s = current(b, now);

    vip_budget_totals(b, now, &requests, &retries);
    if ((apr_uint64_t)(retries + 1) * 100
        > (apr_uint64_t)requests * (apr_uint32_t)percent) {
        return 0;
    }
    apr_atomic_inc32(&s->retries);
    return 1;
}
