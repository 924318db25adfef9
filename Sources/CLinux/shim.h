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
#endif
