mod_vip_auth/auth_tcache.o: mod_vip_auth/auth_tcache.c \
 /usr/include/apr-1.0/apr_strings.h /usr/include/apr-1.0/apr.h \
 /usr/include/apr-1.0/apr_errno.h /usr/include/apr-1.0/apr_pools.h \
 /usr/include/apr-1.0/apr_general.h /usr/include/apr-1.0/apr_want.h \
 /usr/include/apr-1.0/apr_allocator.h \
 /usr/include/apr-1.0/apr_thread_mutex.h /usr/include/apr-1.0/apr_time.h \
 /usr/include/apr-1.0/apr_thread_mutex.h mod_vip_auth/auth_tcache.h \
 /usr/include/apr-1.0/apr_pools.h
/usr/include/apr-1.0/apr_strings.h:
/usr/include/apr-1.0/apr.h:
/usr/include/apr-1.0/apr_errno.h:
/usr/include/apr-1.0/apr_pools.h:
/usr/include/apr-1.0/apr_general.h:
/usr/include/apr-1.0/apr_want.h:
/usr/include/apr-1.0/apr_allocator.h:
/usr/include/apr-1.0/apr_thread_mutex.h:
/usr/include/apr-1.0/apr_time.h:
/usr/include/apr-1.0/apr_thread_mutex.h:
mod_vip_auth/auth_tcache.h:
/usr/include/apr-1.0/apr_pools.h:
