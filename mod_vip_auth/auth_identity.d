mod_vip_auth/auth_identity.o: mod_vip_auth/auth_identity.c \
 /usr/include/apache2/httpd.h /usr/include/apache2/ap_config.h \
 /usr/include/apache2/ap_hooks.h /usr/include/apr-1.0/apr.h \
 /usr/include/apr-1.0/apr_hooks.h /usr/include/apr-1.0/apu.h \
 /usr/include/apr-1.0/apr_tables.h /usr/include/apr-1.0/apr.h \
 /usr/include/apr-1.0/apr_pools.h /usr/include/apr-1.0/apr_errno.h \
 /usr/include/apr-1.0/apr_general.h /usr/include/apr-1.0/apr_want.h \
 /usr/include/apr-1.0/apr_allocator.h \
 /usr/include/apr-1.0/apr_thread_mutex.h /usr/include/apr-1.0/apr_time.h \
 /usr/include/apr-1.0/apr_optional_hooks.h /usr/include/apache2/os.h \
 /usr/include/apache2/ap_config_auto.h \
 /usr/include/apache2/ap_config_layout.h \
 /usr/include/apache2/apache_noprobes.h /usr/include/apache2/ap_mmn.h \
 /usr/include/apache2/ap_release.h /usr/include/apr-1.0/apr_version.h \
 /usr/include/apr-1.0/apr_general.h /usr/include/apr-1.0/apr_tables.h \
 /usr/include/apr-1.0/apr_pools.h /usr/include/apr-1.0/apr_time.h \
 /usr/include/apr-1.0/apr_network_io.h /usr/include/apr-1.0/apr_file_io.h \
 /usr/include/apr-1.0/apr_file_info.h /usr/include/apr-1.0/apr_user.h \
 /usr/include/apr-1.0/apr_inherit.h /usr/include/apr-1.0/apr_perms_set.h \
 /usr/include/apr-1.0/apr_buckets.h /usr/include/apr-1.0/apr_network_io.h \
 /usr/include/apr-1.0/apr_mmap.h /usr/include/apr-1.0/apr_ring.h \
 /usr/include/apr-1.0/apr_poll.h /usr/include/apr-1.0/apr_thread_proc.h \
 /usr/include/apache2/ap_regex.h /usr/include/apr-1.0/apr_uri.h \
 /usr/include/apache2/http_core.h /usr/include/apr-1.0/apr_hash.h \
 /usr/include/apr-1.0/apr_optional.h /usr/include/apache2/util_filter.h \
 /usr/include/apache2/httpd.h /usr/include/apache2/ap_expr.h \
 /usr/include/apache2/http_config.h /usr/include/apache2/util_cfgtree.h \
 /usr/include/apr-1.0/apr_strings.h /usr/include/apr-1.0/apr_lib.h \
 include/mod_vip.h mod_vip_auth/auth_identity.h \
 mod_vip_auth/auth_config.h /usr/include/apache2/http_config.h \
 mod_vip_auth/auth_registry.h mod_vip_auth/auth_jwk.h
/usr/include/apache2/httpd.h:
/usr/include/apache2/ap_config.h:
/usr/include/apache2/ap_hooks.h:
/usr/include/apr-1.0/apr.h:
/usr/include/apr-1.0/apr_hooks.h:
/usr/include/apr-1.0/apu.h:
/usr/include/apr-1.0/apr_tables.h:
/usr/include/apr-1.0/apr.h:
/usr/include/apr-1.0/apr_pools.h:
/usr/include/apr-1.0/apr_errno.h:
/usr/include/apr-1.0/apr_general.h:
/usr/include/apr-1.0/apr_want.h:
/usr/include/apr-1.0/apr_allocator.h:
/usr/include/apr-1.0/apr_thread_mutex.h:
/usr/include/apr-1.0/apr_time.h:
/usr/include/apr-1.0/apr_optional_hooks.h:
/usr/include/apache2/os.h:
/usr/include/apache2/ap_config_auto.h:
/usr/include/apache2/ap_config_layout.h:
/usr/include/apache2/apache_noprobes.h:
/usr/include/apache2/ap_mmn.h:
/usr/include/apache2/ap_release.h:
/usr/include/apr-1.0/apr_version.h:
/usr/include/apr-1.0/apr_general.h:
/usr/include/apr-1.0/apr_tables.h:
/usr/include/apr-1.0/apr_pools.h:
/usr/include/apr-1.0/apr_time.h:
/usr/include/apr-1.0/apr_network_io.h:
/usr/include/apr-1.0/apr_file_io.h:
/usr/include/apr-1.0/apr_file_info.h:
/usr/include/apr-1.0/apr_user.h:
/usr/include/apr-1.0/apr_inherit.h:
/usr/include/apr-1.0/apr_perms_set.h:
/usr/include/apr-1.0/apr_buckets.h:
/usr/include/apr-1.0/apr_network_io.h:
/usr/include/apr-1.0/apr_mmap.h:
/usr/include/apr-1.0/apr_ring.h:
/usr/include/apr-1.0/apr_poll.h:
/usr/include/apr-1.0/apr_thread_proc.h:
/usr/include/apache2/ap_regex.h:
/usr/include/apr-1.0/apr_uri.h:
/usr/include/apache2/http_core.h:
/usr/include/apr-1.0/apr_hash.h:
/usr/include/apr-1.0/apr_optional.h:
/usr/include/apache2/util_filter.h:
/usr/include/apache2/httpd.h:
/usr/include/apache2/ap_expr.h:
/usr/include/apache2/http_config.h:
/usr/include/apache2/util_cfgtree.h:
/usr/include/apr-1.0/apr_strings.h:
/usr/include/apr-1.0/apr_lib.h:
include/mod_vip.h:
mod_vip_auth/auth_identity.h:
mod_vip_auth/auth_config.h:
/usr/include/apache2/http_config.h:
mod_vip_auth/auth_registry.h:
mod_vip_auth/auth_jwk.h:
