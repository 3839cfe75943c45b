/*
 * limit_cluster.h - mod_vip_limit's cluster store: zones declared with
 * store=cluster decide through memcached (VipLimitCluster), leasing
 * tokens in batches (limit_lease.h), and on the node's share of each
 * limit alone while memcached cannot be used ("degraded").
 */
#ifndef VIP_LIMIT_CLUSTER_H
#define VIP_LIMIT_CLUSTER_H

#include "httpd.h"
#include "apr_hash.h"

#include "limit_config.h"

/* check_config: every store=cluster zone needs VipLimitCluster. */
int vip_limit_cluster_check(server_rec *s, apr_hash_t *zones,
                            const vip_limit_cluster_conf *cl);

/* post_config, after the tables exist: the shared counters and breaker,
 * and the cluster store of each store=cluster zone. */
apr_status_t vip_limit_cluster_setup(server_rec *s, apr_pool_t *pconf,
                                     apr_hash_t *zones,
                                     const vip_limit_cluster_conf *cl);

/* child_init: this child's memcached client (never connects here). */
void vip_limit_cluster_child_init(apr_pool_t *p, server_rec *s,
                                  const vip_limit_cluster_conf *cl);

#endif
