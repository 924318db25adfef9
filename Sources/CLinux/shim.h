// Linux headers that Swift's Glibc module does not expose.
#ifndef SHD_CLINUX_SHIM_H
#define SHD_CLINUX_SHIM_H
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <sys/signalfd.h>
#include <sys/inotify.h>
#include <sys/statvfs.h>
#include <sys/statfs.h>
#include <sys/timex.h>
#include <sys/utsname.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <signal.h>
#include <unistd.h>
#include <fcntl.h>
#include <errno.h>
#include <dirent.h>

static inline int shd_errno(void) { return errno; }

/* A readdir entry's name. Swift's `e.pointee.d_name` copies the whole 256-byte array, reading past
   the end of a short last record in readdir's buffer (AddressSanitizer: heap-buffer-overflow). */
static inline const char *shd_dirent_name(const struct dirent *e) { return e->d_name; }

/* 1 when fd is a file on procfs (PROC_SUPER_MAGIC), 0 when not, -1 on error. */
static inline int shd_is_procfs(int fd) {
    struct statfs s;
    if (fstatfs(fd, &s) != 0) return -1;
    return s.f_type == 0x9fa0 ? 1 : 0;
}
#endif
