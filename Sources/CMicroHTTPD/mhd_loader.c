// Loads libmicrohttpd on first need (see include/shim.h) and runs it under shd's own epoll loop.
#include "shim.h"
#include <dlfcn.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHD_LIBMHD "libmicrohttpd.so.12"

// The one table of libmicrohttpd entry points; each field has the exact type <microhttpd.h> declares.
static struct {
    __typeof__(MHD_start_daemon) *start_daemon;
    __typeof__(MHD_stop_daemon) *stop_daemon;
    __typeof__(MHD_run) *run;
    __typeof__(MHD_get_timeout) *get_timeout;
    __typeof__(MHD_get_daemon_info) *get_daemon_info;
    __typeof__(MHD_lookup_connection_value) *lookup_connection_value;
    __typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
    __typeof__(MHD_add_response_header) *add_response_header;
    __typeof__(MHD_queue_response) *queue_response;
    __typeof__(MHD_destroy_response) *destroy_response;
    __typeof__(MHD_is_feature_supported) *is_feature_supported;
} api;

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static int loaded;

int shd_mhd_loaded(void) { return __atomic_load_n(&loaded, __ATOMIC_ACQUIRE); }

int shd_mhd_load(char *err, size_t errlen) {
    if (shd_mhd_loaded()) return 0;
    pthread_mutex_lock(&load_lock);
    int rc = -1;
    if (loaded) { rc = 0; goto out; }
    void *h = dlopen(SHD_LIBMHD, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(err, errlen, "%s \xe2\x80\x94 install libmicrohttpd12", e ? e : SHD_LIBMHD ": cannot be loaded");
        goto out;
    }
    const char *missing = NULL;
#define SHD_RESOLVE(field, name) \
    if (!missing && !(api.field = (__typeof__(api.field))dlsym(h, name))) missing = name;
    SHD_RESOLVE(start_daemon, "MHD_start_daemon")
    SHD_RESOLVE(stop_daemon, "MHD_stop_daemon")
    SHD_RESOLVE(run, "MHD_run")
    SHD_RESOLVE(get_timeout, "MHD_get_timeout")
    SHD_RESOLVE(get_daemon_info, "MHD_get_daemon_info")
    SHD_RESOLVE(lookup_connection_value, "MHD_lookup_connection_value")
    SHD_RESOLVE(create_response_from_buffer, "MHD_create_response_from_buffer")
    SHD_RESOLVE(add_response_header, "MHD_add_response_header")
    SHD_RESOLVE(queue_response, "MHD_queue_response")
    SHD_RESOLVE(destroy_response, "MHD_destroy_response")
    SHD_RESOLVE(is_feature_supported, "MHD_is_feature_supported")
#undef SHD_RESOLVE
    if (missing) {
        snprintf(err, errlen, SHD_LIBMHD " has no %s \xe2\x80\x94 install libmicrohttpd12 (0.9.75 or later)", missing);
        dlclose(h);
        goto out;
    }
    if (api.is_feature_supported(MHD_FEATURE_EPOLL) != MHD_YES) {
        snprintf(err, errlen, SHD_LIBMHD " was built without epoll support");
        dlclose(h);
        goto out;
    }
    __atomic_store_n(&loaded, 1, __ATOMIC_RELEASE);
    rc = 0;
out:
    pthread_mutex_unlock(&load_lock);
    return rc;
}

struct shd_server {
    shd_http_handler handler;
    void *context;
};

// What shd_mhd_start returns: the daemon and the handler it calls.
struct shd_pair {
    struct MHD_Daemon *d;
    struct shd_server *s;
};

// Every request is answered on its first call: shd serves GET and HEAD only, so there is no body to wait for
// (a request with one is answered 405 or 413 before it is read).
static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls) {
    (void)version;
    (void)upload_data;
    struct shd_server *s = cls;
    if (*upload_data_size != 0) *upload_data_size = 0;
    struct shd_http_request request = {connection, method, url};
    struct shd_http_answer answer = {500, "text/plain; charset=utf-8", NULL, 0, NULL, NULL};
    s->handler(s->context, &request, &answer);
    (void)con_cls;
    struct MHD_Response *r = api.create_response_from_buffer(answer.length, answer.body ? answer.body : (void *)"",
                                                             answer.body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) { free(answer.body); return MHD_NO; }
    if (answer.content_type) api.add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, answer.content_type);
    api.add_response_header(r, "X-Content-Type-Options", "nosniff");
    api.add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (answer.header_name && answer.header_value) api.add_response_header(r, answer.header_name, answer.header_value);
    enum MHD_Result rc = api.queue_response(connection, answer.status, r);
    api.destroy_response(r);
    return rc;
}

void *shd_mhd_start(int listen_fd, const char *cert_pem, const char *key_pem, struct shd_mhd_limits limits,
                    shd_http_handler handler, void *context, char *err, size_t errlen) {
    if (!shd_mhd_loaded()) { snprintf(err, errlen, "libmicrohttpd is not loaded"); return NULL; }
    struct shd_server *s = calloc(1, sizeof *s);
    if (!s) { snprintf(err, errlen, "out of memory"); return NULL; }
    s->handler = handler;
    s->context = context;
    unsigned int flags = MHD_USE_EPOLL;
    int tls = cert_pem && key_pem;
    if (tls) {
        if (api.is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            snprintf(err, errlen, SHD_LIBMHD " was built without TLS support");
            free(s);
            return NULL;
        }
        flags |= MHD_USE_TLS;
    }
    struct MHD_Daemon *d;
    if (tls)
        d = api.start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, listen_fd,
                             MHD_OPTION_CONNECTION_LIMIT, limits.connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                             limits.connections_per_ip, MHD_OPTION_CONNECTION_TIMEOUT, limits.timeout_seconds,
                             MHD_OPTION_CONNECTION_MEMORY_LIMIT, limits.memory_per_connection, MHD_OPTION_HTTPS_MEM_CERT,
                             cert_pem, MHD_OPTION_HTTPS_MEM_KEY, key_pem, MHD_OPTION_END);
    else
        d = api.start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, listen_fd,
                             MHD_OPTION_CONNECTION_LIMIT, limits.connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                             limits.connections_per_ip, MHD_OPTION_CONNECTION_TIMEOUT, limits.timeout_seconds,
                             MHD_OPTION_CONNECTION_MEMORY_LIMIT, limits.memory_per_connection, MHD_OPTION_END);
    if (!d) {
        snprintf(err, errlen, "MHD_start_daemon failed%s", tls ? " (is the certificate and key PEM valid?)" : "");
        free(s);
        return NULL;
    }
    // The context travels with the daemon: freed in shd_mhd_stop.
    struct shd_pair *pair = malloc(sizeof *pair);
    if (!pair) { api.stop_daemon(d); free(s); snprintf(err, errlen, "out of memory"); return NULL; }
    pair->d = d;
    pair->s = s;
    return pair;
}

int shd_mhd_epoll_fd(void *daemon) {
    const union MHD_DaemonInfo *i = api.get_daemon_info(((struct shd_pair *)daemon)->d, MHD_DAEMON_INFO_EPOLL_FD);
    return i ? i->epoll_fd : -1;
}

int shd_mhd_run(void *daemon) { return api.run(((struct shd_pair *)daemon)->d) == MHD_YES ? 0 : -1; }

long long shd_mhd_timeout_ms(void *daemon) {
    MHD_UNSIGNED_LONG_LONG t = 0;
    if (api.get_timeout(((struct shd_pair *)daemon)->d, &t) != MHD_YES) return -1;
    return (long long)t;
}

void shd_mhd_stop(void *daemon) {
    struct shd_pair *p = daemon;
    api.stop_daemon(p->d);
    free(p->s);
    free(p);
}

const char *shd_mhd_lookup(void *connection, int kind, const char *name) {
    return api.lookup_connection_value(connection, kind == 1 ? MHD_GET_ARGUMENT_KIND : MHD_HEADER_KIND, name);
}
