// dlopens libsystemd.so.0 once for every part of the shim (see include/shim.h).
#include "shim.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#define SHD_LIBSYSTEMD "libsystemd.so.0"

static pthread_mutex_t library_lock = PTHREAD_MUTEX_INITIALIZER;
static void *library; // written under library_lock

void *shd_systemd_library(char *err, size_t errlen) {
    pthread_mutex_lock(&library_lock);
    if (!library) {
        // RTLD_LOCAL: libsystemd's symbols (and those of liblzma, libzstd, libgcrypt it pulls in) stay out of
        // the global scope.
        library = dlopen(SHD_LIBSYSTEMD, RTLD_NOW | RTLD_LOCAL);
        if (!library && errlen > 0) {
            const char *e = dlerror();
            snprintf(err, errlen, "%s \xe2\x80\x94 install libsystemd0", e ? e : SHD_LIBSYSTEMD ": cannot be loaded");
            err[errlen - 1] = 0;
        }
    }
    void *h = library;
    pthread_mutex_unlock(&library_lock);
    return h;
}
