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
#include <string.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/syscall.h>

static inline int shd_errno(void) { return errno; }

/* pidfd_open(2) (Linux 5.3): a descriptor that becomes readable when the process exits. glibc 2.36 has no
   wrapper in the headers Debian 12 installs, so the syscall is made directly; -1 with errno ENOSYS on older kernels. */
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
static inline int shd_pidfd_open(int pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

/* A readdir entry's name. Swift's `e.pointee.d_name` copies the whole 256-byte array, reading past
   the end of a short last record in readdir's buffer (AddressSanitizer: heap-buffer-overflow). */
static inline const char *shd_dirent_name(const struct dirent *e) { return e->d_name; }

/* 1 when fd is a file on procfs (PROC_SUPER_MAGIC), 0 when not, -1 on error. */
static inline int shd_is_procfs(int fd) {
    struct statfs s;
    if (fstatfs(fd, &s) != 0) return -1;
    return s.f_type == 0x9fa0 ? 1 : 0;
}

/* A non-blocking netlink socket bound to `groups` (RTMGRP_LINK on NETLINK_ROUTE; 1, the kernel's
   own uevents, on NETLINK_KOBJECT_UEVENT), with a receive buffer of `rcvbuf` bytes; -1 on error. */
static inline int shd_netlink_open(int protocol, unsigned groups, int rcvbuf) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
    if (fd < 0) return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_nl a;
    memset(&a, 0, sizeof a);
    a.nl_family = AF_NETLINK;
    a.nl_groups = groups;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) { int e = errno; close(fd); errno = e; return -1; }
    return fd;
}

/* Asks rtnetlink for every link (RTM_GETLINK, NLM_F_DUMP); the answer arrives on fd as RTM_NEWLINK
   messages ended by NLMSG_DONE. 0 on success, -1 on error. */
static inline int shd_rtnl_request_links(int fd, unsigned seq) {
    struct { struct nlmsghdr h; struct ifinfomsg i; } req;
    memset(&req, 0, sizeof req);
    req.h.nlmsg_len = sizeof req;
    req.h.nlmsg_type = RTM_GETLINK;
    req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.h.nlmsg_seq = seq;
    req.i.ifi_family = AF_UNSPEC;
    struct sockaddr_nl to;
    memset(&to, 0, sizeof to);
    to.nl_family = AF_NETLINK;
    return sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&to, sizeof to) == (ssize_t)sizeof req ? 0 : -1;
}
/* A host name's addresses without blocking the caller: getaddrinfo(3) (DNS, /etc/hosts, whatever nsswitch says) on a
   detached thread, which writes one numeric address a line ("10.0.0.1", "::1") to `fd`, or one line "!reason" when
   the lookup fails, then closes `fd` (one end of a socket pair the caller's loop watches; send(MSG_NOSIGNAL), so
   a caller that stopped listening costs no SIGPIPE). The thread shares nothing
   with the caller: it works on its own copy of `host`. It inherits the caller's blocked signals.
   Returns 0, or an errno value when the thread cannot be started (`fd` is then still the caller's). */
#include <pthread.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>

struct shd_resolve_job { char *host; int fd; };

static inline void shd_write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) { if (errno == EINTR) continue; return; }
        p += w; n -= (size_t)w;
    }
}

static inline void *shd_resolve_thread(void *arg) {
    struct shd_resolve_job *j = arg;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(j->host, NULL, &hints, &res);
    char line[INET6_ADDRSTRLEN + 2];
    if (rc != 0) {
        const char *why = rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc);
        shd_write_all(j->fd, "!", 1);
        shd_write_all(j->fd, why, strlen(why));
        shd_write_all(j->fd, "\n", 1);
    } else {
        for (struct addrinfo *a = res; a; a = a->ai_next) {
            const void *addr = a->ai_family == AF_INET ? (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr
                             : a->ai_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr : NULL;
            if (!addr || !inet_ntop(a->ai_family, addr, line, INET6_ADDRSTRLEN)) continue;
            size_t n = strlen(line);
            line[n] = '\n';
            shd_write_all(j->fd, line, n + 1);
        }
        freeaddrinfo(res);
    }
    close(j->fd);
    free(j->host);
    free(j);
    return NULL;
}

static inline int shd_resolve_start(const char *host, int fd) {
    struct shd_resolve_job *j = malloc(sizeof *j);
    if (!j) return ENOMEM;
    j->host = strdup(host);
    if (!j->host) { free(j); return ENOMEM; }
    j->fd = fd;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int rc = pthread_create(&t, &attr, shd_resolve_thread, j);
    pthread_attr_destroy(&attr);
    if (rc != 0) { free(j->host); free(j); }
    return rc;
}

#endif
