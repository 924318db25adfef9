// Loads libcurl on first need (see include/shim.h) and forwards the typed wrappers to it.
#include "shim.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#define SHD_LIBCURL "libcurl.so.4"

// The one table of libcurl entry points; each field has the exact type <curl/curl.h> declares.
static struct {
    __typeof__(curl_global_init) *global_init;
    __typeof__(curl_easy_init) *easy_init;
    __typeof__(curl_easy_cleanup) *easy_cleanup;
    __typeof__(curl_easy_setopt) *easy_setopt;
    __typeof__(curl_easy_getinfo) *easy_getinfo;
    __typeof__(curl_easy_strerror) *easy_strerror;
    __typeof__(curl_slist_append) *slist_append;
    __typeof__(curl_slist_free_all) *slist_free_all;
    __typeof__(curl_multi_init) *multi_init;
    __typeof__(curl_multi_setopt) *multi_setopt;
    __typeof__(curl_multi_add_handle) *multi_add_handle;
    __typeof__(curl_multi_remove_handle) *multi_remove_handle;
    __typeof__(curl_multi_cleanup) *multi_cleanup;
    __typeof__(curl_multi_socket_action) *multi_socket_action;
    __typeof__(curl_multi_info_read) *multi_info_read;
} api;

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static int loaded; // written under load_lock; read with acquire semantics

int shd_curl_loaded(void) { return __atomic_load_n(&loaded, __ATOMIC_ACQUIRE); }

int shd_curl_load(char *err, size_t errlen) {
    if (shd_curl_loaded()) return 0;
    pthread_mutex_lock(&load_lock);
    int rc = -1;
    if (loaded) { rc = 0; goto out; }
    // RTLD_LOCAL: libcurl's symbols (and those of the TLS library it pulls in) stay out of the global scope.
    void *h = dlopen(SHD_LIBCURL, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(err, errlen, "%s \xe2\x80\x94 install libcurl4", e ? e : SHD_LIBCURL ": cannot be loaded");
        goto out;
    }
    const char *missing = NULL;
#define SHD_RESOLVE(field, name) \
    if (!missing && !(api.field = (__typeof__(api.field))dlsym(h, name))) missing = name;
    SHD_RESOLVE(global_init, "curl_global_init")
    SHD_RESOLVE(easy_init, "curl_easy_init")
    SHD_RESOLVE(easy_cleanup, "curl_easy_cleanup")
    SHD_RESOLVE(easy_setopt, "curl_easy_setopt")
    SHD_RESOLVE(easy_getinfo, "curl_easy_getinfo")
    SHD_RESOLVE(easy_strerror, "curl_easy_strerror")
    SHD_RESOLVE(slist_append, "curl_slist_append")
    SHD_RESOLVE(slist_free_all, "curl_slist_free_all")
    SHD_RESOLVE(multi_init, "curl_multi_init")
    SHD_RESOLVE(multi_setopt, "curl_multi_setopt")
    SHD_RESOLVE(multi_add_handle, "curl_multi_add_handle")
    SHD_RESOLVE(multi_remove_handle, "curl_multi_remove_handle")
    SHD_RESOLVE(multi_cleanup, "curl_multi_cleanup")
    SHD_RESOLVE(multi_socket_action, "curl_multi_socket_action")
    SHD_RESOLVE(multi_info_read, "curl_multi_info_read")
#undef SHD_RESOLVE
    if (missing) {
        snprintf(err, errlen, SHD_LIBCURL " has no %s \xe2\x80\x94 install libcurl4 (7.85 or later)", missing);
        dlclose(h);
        goto out;
    }
    // curl_global_init is thread-safe from libcurl 7.84 on (Debian 12 ships 7.88), so this may run after
    // other threads exist (a reload that adds the first curl channel); shd still calls it from its loop thread,
    // with no other thread using curl, and at startup before any thread is created.
    CURLcode c = api.global_init(CURL_GLOBAL_DEFAULT);
    if (c != CURLE_OK) {
        snprintf(err, errlen, SHD_LIBCURL ": curl_global_init failed: %s", api.easy_strerror(c));
        // The handle stays open: libcurl may have started initialising its TLS library.
        goto out;
    }
    __atomic_store_n(&loaded, 1, __ATOMIC_RELEASE);
    rc = 0;
out:
    pthread_mutex_unlock(&load_lock);
    if (rc != 0 && errlen > 0) err[errlen - 1] = 0;
    return rc;
}

CURL *shd_curl_easy_init(void) { return api.easy_init(); }
void shd_curl_easy_cleanup(CURL *h) { api.easy_cleanup(h); }
const char *shd_curl_easy_strerror(CURLcode c) { return api.easy_strerror(c); }
struct curl_slist *shd_curl_slist_append(struct curl_slist *l, const char *s) { return api.slist_append(l, s); }
void shd_curl_slist_free_all(struct curl_slist *l) { api.slist_free_all(l); }
CURLM *shd_curl_multi_init(void) { return api.multi_init(); }
CURLMcode shd_curl_multi_add_handle(CURLM *m, CURL *h) { return api.multi_add_handle(m, h); }
CURLMcode shd_curl_multi_remove_handle(CURLM *m, CURL *h) { return api.multi_remove_handle(m, h); }
CURLMcode shd_curl_multi_cleanup(CURLM *m) { return api.multi_cleanup(m); }
CURLMcode shd_curl_multi_socket_action(CURLM *m, curl_socket_t fd, int ev_bitmask, int *running) {
    return api.multi_socket_action(m, fd, ev_bitmask, running);
}
CURLMsg *shd_curl_multi_info_read(CURLM *m, int *left) { return api.multi_info_read(m, left); }

CURLcode shd_easy_setopt_long(CURL *h, CURLoption o, long v) { return api.easy_setopt(h, o, v); }
CURLcode shd_easy_setopt_string(CURL *h, CURLoption o, const char *v) { return api.easy_setopt(h, o, v); }
CURLcode shd_easy_setopt_pointer(CURL *h, CURLoption o, void *v) { return api.easy_setopt(h, o, v); }
CURLcode shd_easy_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return api.easy_setopt(h, o, v); }
CURLcode shd_easy_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return api.easy_setopt(h, o, v); }
CURLcode shd_easy_setopt_write(CURL *h, CURLoption o, shd_write_cb v) { return api.easy_setopt(h, o, v); }
CURLcode shd_easy_setopt_read(CURL *h, CURLoption o, shd_read_cb v) { return api.easy_setopt(h, o, v); }
CURLcode shd_easy_getinfo_long(CURL *h, CURLINFO i, long *v) { return api.easy_getinfo(h, i, v); }
CURLcode shd_easy_getinfo_pointer(CURL *h, CURLINFO i, void **v) { return api.easy_getinfo(h, i, v); }
CURLcode shd_easy_getinfo_off(CURL *h, CURLINFO i, curl_off_t *v) { return api.easy_getinfo(h, i, v); }

CURLMcode shd_multi_setopt_long(CURLM *m, CURLMoption o, long v) { return api.multi_setopt(m, o, v); }
CURLMcode shd_multi_setopt_pointer(CURLM *m, CURLMoption o, void *v) { return api.multi_setopt(m, o, v); }
CURLMcode shd_multi_setopt_socketfn(CURLM *m, shd_socket_cb v) { return api.multi_setopt(m, CURLMOPT_SOCKETFUNCTION, v); }
CURLMcode shd_multi_setopt_timerfn(CURLM *m, shd_timer_cb v) { return api.multi_setopt(m, CURLMOPT_TIMERFUNCTION, v); }
