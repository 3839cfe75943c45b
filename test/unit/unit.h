/*
 * unit.h - what every unit test shares: the pass/fail counters and the
 * CHECK macro (a failed check prints its name and place and the test
 * goes on; main prints the counts and fails when any check failed).
 */
#ifndef VIP_UNIT_H
#define VIP_UNIT_H

#include <stdio.h>

static int passed, failed;

#define CHECK(cond, name) do { \
    if (cond) { passed++; } \
    else { failed++; printf("FAIL %s (%s:%d)\n", name, __FILE__, __LINE__); } \
} while (0)

#endif
