// libmicrohttpd, dlopened on first need (never linked): the few calls shd's HTTP endpoint makes, with fixed
// arguments (MHD_start_daemon is variadic). Swift sees only these declarations; <microhttpd.h> is read by the C file.
#ifndef SHD_MHD_SHIM_H
#define SHD_MHD_SHIM_H
#include <stddef.h>
#include <stdint.h>

/// One request as the handler sees it. `connection` is for shd_mhd_lookup.
struct shd_http_request {
    void *connection;
    const char *method;
    const char *path;
};

/// What the handler answers. `body` is malloc'd by the handler (or NULL) and freed by libmicrohttpd.
struct shd_http_answer {
    unsigned int status;
    const char *content_type;
    void *body;
    size_t length;
    /// One more header (e.g. WWW-Authenticate, Allow), or NULL.
    const char *header_name;
    const char *header_value;
};

typedef void (*shd_http_handler)(void *context, const struct shd_http_request *request, struct shd_http_answer *answer);

/// 0 when libmicrohttpd is usable; else -1 and why in err.
int shd_mhd_load(char *err, size_t errlen);
int shd_mhd_loaded(void);

/// What each connection may cost.
struct shd_mhd_limits {
    unsigned int connections;
    unsigned int connections_per_ip;
    unsigned int timeout_seconds;
    size_t memory_per_connection;
};

/// Serves `listen_fd` (bound and listening, non-blocking) with libmicrohttpd's own epoll set, driven by the caller:
/// poll shd_mhd_epoll_fd for input, then call shd_mhd_run; call it again after shd_mhd_timeout_ms. TLS when
/// cert_pem and key_pem are given (PEM text). NULL and why in err on failure.
void *shd_mhd_start(int listen_fd, const char *cert_pem, const char *key_pem, struct shd_mhd_limits limits,
                    shd_http_handler handler, void *context, char *err, size_t errlen);
int shd_mhd_epoll_fd(void *daemon);
/// Accepts, reads and answers what is ready, without blocking. 0 on success.
int shd_mhd_run(void *daemon);
/// Milliseconds until shd_mhd_run must run again for a timeout; -1 when nothing is pending.
long long shd_mhd_timeout_ms(void *daemon);
void shd_mhd_stop(void *daemon);
/// A request header (kind 0) or query argument (kind 1) of the request being handled, or NULL.
const char *shd_mhd_lookup(void *connection, int kind, const char *name);
#endif
