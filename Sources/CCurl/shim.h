// libcurl with typed wrappers: curl_easy_setopt / curl_multi_setopt are variadic and
// cannot be called from Swift directly.
#ifndef SHD_CCURL_SHIM_H
#define SHD_CCURL_SHIM_H
#include <curl/curl.h>

static inline CURLcode shd_easy_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode shd_easy_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode shd_easy_setopt_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode shd_easy_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode shd_easy_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
typedef size_t (*shd_write_cb)(char *, size_t, size_t, void *);
static inline CURLcode shd_easy_setopt_write(CURL *h, CURLoption o, shd_write_cb v) { return curl_easy_setopt(h, o, v); }
typedef size_t (*shd_read_cb)(char *, size_t, size_t, void *);
static inline CURLcode shd_easy_setopt_read(CURL *h, CURLoption o, shd_read_cb v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode shd_easy_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode shd_easy_getinfo_pointer(CURL *h, CURLINFO i, void **v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode shd_easy_getinfo_off(CURL *h, CURLINFO i, curl_off_t *v) { return curl_easy_getinfo(h, i, v); }
/// curl_global_init(CURL_GLOBAL_DEFAULT): the macro is not importable into Swift.
static inline CURLcode shd_curl_global_init(void) { return curl_global_init(CURL_GLOBAL_DEFAULT); }
/// CURL_SOCKET_TIMEOUT as a value (the macro is a cast Swift cannot import).
static inline curl_socket_t shd_curl_socket_timeout(void) { return CURL_SOCKET_TIMEOUT; }
/// The CURLcode of a finished transfer from a CURLMSG_DONE message (a union member).
static inline CURLcode shd_curlmsg_result(CURLMsg *m) { return m->data.result; }

static inline CURLMcode shd_multi_setopt_long(CURLM *m, CURLMoption o, long v) { return curl_multi_setopt(m, o, v); }
static inline CURLMcode shd_multi_setopt_pointer(CURLM *m, CURLMoption o, void *v) { return curl_multi_setopt(m, o, v); }
typedef int (*shd_socket_cb)(CURL *, curl_socket_t, int, void *, void *);
static inline CURLMcode shd_multi_setopt_socketfn(CURLM *m, shd_socket_cb v) { return curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, v); }
typedef int (*shd_timer_cb)(CURLM *, long, void *);
static inline CURLMcode shd_multi_setopt_timerfn(CURLM *m, shd_timer_cb v) { return curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, v); }
#endif
