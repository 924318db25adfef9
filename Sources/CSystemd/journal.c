// sd-journal from libsystemd, resolved on first need (see include/shd_journal.h): one table, one wrapper per call.
#include "shim.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static struct {
    __typeof__(sd_journal_open) *open;
    __typeof__(sd_journal_open_files) *open_files;
    __typeof__(sd_journal_open_directory) *open_directory;
    __typeof__(sd_journal_close) *close;
    __typeof__(sd_journal_add_match) *add_match;
    __typeof__(sd_journal_add_disjunction) *add_disjunction;
    __typeof__(sd_journal_seek_tail) *seek_tail;
    __typeof__(sd_journal_seek_head) *seek_head;
    __typeof__(sd_journal_seek_cursor) *seek_cursor;
    __typeof__(sd_journal_test_cursor) *test_cursor;
    __typeof__(sd_journal_next) *next;
    __typeof__(sd_journal_previous) *previous;
    __typeof__(sd_journal_get_fd) *get_fd;
    __typeof__(sd_journal_process) *process;
    __typeof__(sd_journal_get_realtime_usec) *get_realtime_usec;
    __typeof__(sd_journal_get_cursor) *get_cursor;
    __typeof__(sd_journal_restart_data) *restart_data;
    __typeof__(sd_journal_enumerate_data) *enumerate_data;
} api;

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static int loaded;

int shd_journal_loaded(void) { return __atomic_load_n(&loaded, __ATOMIC_ACQUIRE); }

int shd_journal_load(char *err, size_t errlen) {
    if (shd_journal_loaded()) return 0;
    pthread_mutex_lock(&load_lock);
    int rc = -1;
    if (loaded) { rc = 0; goto out; }
    void *h = shd_systemd_library(err, errlen);
    if (!h) goto out;
    const char *missing = NULL;
#define SHD_RESOLVE(field, name) \
    if (!missing && !(api.field = (__typeof__(api.field))dlsym(h, name))) missing = name;
    SHD_RESOLVE(open, "sd_journal_open")
    SHD_RESOLVE(open_files, "sd_journal_open_files")
    SHD_RESOLVE(open_directory, "sd_journal_open_directory")
    SHD_RESOLVE(close, "sd_journal_close")
    SHD_RESOLVE(add_match, "sd_journal_add_match")
    SHD_RESOLVE(add_disjunction, "sd_journal_add_disjunction")
    SHD_RESOLVE(seek_tail, "sd_journal_seek_tail")
    SHD_RESOLVE(seek_head, "sd_journal_seek_head")
    SHD_RESOLVE(seek_cursor, "sd_journal_seek_cursor")
    SHD_RESOLVE(test_cursor, "sd_journal_test_cursor")
    SHD_RESOLVE(next, "sd_journal_next")
    SHD_RESOLVE(previous, "sd_journal_previous")
    SHD_RESOLVE(get_fd, "sd_journal_get_fd")
    SHD_RESOLVE(process, "sd_journal_process")
    SHD_RESOLVE(get_realtime_usec, "sd_journal_get_realtime_usec")
    SHD_RESOLVE(get_cursor, "sd_journal_get_cursor")
    SHD_RESOLVE(restart_data, "sd_journal_restart_data")
    SHD_RESOLVE(enumerate_data, "sd_journal_enumerate_data")
#undef SHD_RESOLVE
    if (missing) {
        if (errlen > 0) snprintf(err, errlen, "libsystemd.so.0 has no %s (libsystemd too old)", missing);
        goto out;
    }
    __atomic_store_n(&loaded, 1, __ATOMIC_RELEASE);
    rc = 0;
out:
    pthread_mutex_unlock(&load_lock);
    return rc;
}

int shd_journal_open(sd_journal **j, const char *file) {
    struct stat st;
    if (file && stat(file, &st) == 0 && S_ISDIR(st.st_mode)) return api.open_directory(j, file, 0);
    if (file) {
        const char *paths[2] = {file, NULL};
        return api.open_files(j, paths, 0);
    }
    return api.open(j, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM);
}
void shd_journal_close(sd_journal *j) { api.close(j); }
int shd_journal_add_match(sd_journal *j, const char *match, size_t len) { return api.add_match(j, match, len); }
int shd_journal_add_disjunction(sd_journal *j) { return api.add_disjunction(j); }
int shd_journal_seek_tail(sd_journal *j) { return api.seek_tail(j); }
int shd_journal_seek_head(sd_journal *j) { return api.seek_head(j); }
int shd_journal_seek_cursor(sd_journal *j, const char *cursor) { return api.seek_cursor(j, cursor); }
int shd_journal_test_cursor(sd_journal *j, const char *cursor) { return api.test_cursor(j, cursor); }
int shd_journal_next(sd_journal *j) { return api.next(j); }
int shd_journal_previous(sd_journal *j) { return api.previous(j); }
int shd_journal_get_fd(sd_journal *j) { return api.get_fd(j); }
int shd_journal_process(sd_journal *j) { return api.process(j); }
int shd_journal_get_realtime_usec(sd_journal *j, uint64_t *usec) { return api.get_realtime_usec(j, usec); }
int shd_journal_get_cursor(sd_journal *j, char **cursor) { return api.get_cursor(j, cursor); }
void shd_journal_restart_data(sd_journal *j) { api.restart_data(j); }
int shd_journal_enumerate_data(sd_journal *j, const void **data, size_t *len) { return api.enumerate_data(j, data, len); }
void shd_journal_free(void *p) { free(p); }
