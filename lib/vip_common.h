/*
 * vip_common.h - small definitions every vip module and lib/ share.
 *
 * lib/ is compiled with -fvisibility=hidden and linked statically into each
 * module; VIP_MODULE_EXPORT marks the one symbol a DSO must export, its
 * module record, so httpd's global symbol namespace sees nothing else.
 */
#ifndef VIP_COMMON_H
#define VIP_COMMON_H

#define VIP_MODULE_EXPORT __attribute__((visibility("default")))

/* A path a request rarely takes (refusals, logging, odd inputs): the
 * compiler places it away from the hot code, whose instruction-cache
 * lines every request pays for. */
#define VIP_COLD __attribute__((cold, noinline))

/* Log message ids: "VIPmmnnn:" where mm is the owner.  Never reuse a number.
 *   00 lib   01 mod_vip_auth   02 mod_vip_route   03 mod_vip_cache
 *   04 mod_vip_limit
 * The full list for operators is in docs/log-messages.md. */
#define VIPLOGNO(n) "VIP" #n ": "

#endif
