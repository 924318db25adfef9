// libcurl, loaded on demand: shd does not link libcurl. `shd_curl_load` dlopens libcurl.so.4 the first time a
// channel needs it (webhook, slack, smtp, alertmanager) and resolves every function shd uses into one table
// (curl_loader.c); the wrappers below call through that table. An idle daemon that only logs never maps
// libcurl nor its TLS/Kerberos/LDAP/PKCS#11 dependency tree (about 1 MB of relocated private memory).
//
// <curl/curl.h> (libcurl4-openssl-dev) is used for types and constants only: no curl_* symbol is referenced,
// so a direct call to a curl_* function from Swift fails to link instead of crashing.
#ifndef SHD_CCURL_SHIM_H
#define SHD_CCURL_SHIM_H
#include <stddef.h>
#include <curl/curl.h>

/// dlopen("libcurl.so.4"), dlsym of every function below, curl_global_init(CURL_GLOBAL_DEFAULT). Idempotent and
/// thread-safe; once it succeeded it returns 0 at once. On failure returns -1 with a message in `err` (e.g.
/// "libcurl.so.4: cannot open shared object file: No such file or directory — install libcurl4"); a later
/// call tries again. No wrapper below may be called before a successful load.
int shd_curl_load(char *err, size_t errlen);
/// 1 once `shd_curl_load` succeeded.
int shd_curl_loaded(void);

CURL *shd_curl_easy_init(void);
void shd_curl_easy_cleanup(CURL *h);
const char *shd_curl_easy_strerror(CURLcode c);
struct curl_slist *shd_curl_slist_append(struct curl_slist *l, const char *s);
void shd_curl_slist_free_all(struct curl_slist *l);
CURLM *shd_curl_multi_init(void);
CURLMcode shd_curl_multi_add_handle(CURLM *m, CURL *h);
CURLMcode shd_curl_multi_remove_handle(CURLM *m, CURL *h);
CURLMcode shd_curl_multi_cleanup(CURLM *m);
CURLMcode shd_curl_multi_socket_action(CURLM *m, curl_socket_t fd, int ev_bitmask, int *running);
CURLMsg *shd_curl_multi_info_read(CURLM *m, int *left);

// curl_easy_setopt / curl_multi_setopt / curl_easy_getinfo are variadic and cannot be called from Swift:
// one typed wrapper per argument type.
CURLcode shd_easy_setopt_long(CURL *h, CURLoption o, long v);
CURLcode shd_easy_setopt_string(CURL *h, CURLoption o, const char *v);
CURLcode shd_easy_setopt_pointer(CURL *h, CURLoption o, void *v);
CURLcode shd_easy_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v);
CURLcode shd_easy_setopt_off(CURL *h, CURLoption o, curl_off_t v);
typedef size_t (*shd_write_cb)(char *, size_t, size_t, void *);
CURLcode shd_easy_setopt_write(CURL *h, CURLoption o, shd_write_cb v);
typedef size_t (*shd_read_cb)(char *, size_t, size_t, void *);
CURLcode shd_easy_setopt_read(CURL *h, CURLoption o, shd_read_cb v);
CURLcode shd_easy_getinfo_long(CURL *h, CURLINFO i, long *v);
CURLcode shd_easy_getinfo_pointer(CURL *h, CURLINFO i, void **v);
CURLcode shd_easy_getinfo_off(CURL *h, CURLINFO i, curl_off_t *v);

CURLMcode shd_multi_setopt_long(CURLM *m, CURLMoption o, long v);
CURLMcode shd_multi_setopt_pointer(CURLM *m, CURLMoption o, void *v);
typedef int (*shd_socket_cb)(CURL *, curl_socket_t, int, void *, void *);
CURLMcode shd_multi_setopt_socketfn(CURLM *m, shd_socket_cb v);
typedef int (*shd_timer_cb)(CURLM *, long, void *);
CURLMcode shd_multi_setopt_timerfn(CURLM *m, shd_timer_cb v);

/// CURL_SOCKET_TIMEOUT as a value (the macro is a cast Swift cannot import).
static inline curl_socket_t shd_curl_socket_timeout(void) { return CURL_SOCKET_TIMEOUT; }
/// The CURLcode of a finished transfer from a CURLMSG_DONE message (a union member).
static inline CURLcode shd_curlmsg_result(CURLMsg *m) { return m->data.result; }
#endif
