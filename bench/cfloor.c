/*
 * cfloor — the C floor for shd's collection-cycle budget (issue #2, BENCHMARKS.md).
 *
 * Reads the same files, the same number of times, with the same system calls as one
 * `shd report` cycle of all default workers (taken from
 * `strace -f .build-bench/release/shd report --sample-interval 0 --cycles 3`):
 *   - files kept open and pread at offset 0 until EOF: /proc/stat, loadavg, meminfo,
 *     vmstat, pressure/{cpu,memory,io}, self/mountinfo, diskstats, net/dev,
 *     /sys/class/net/IF/{operstate,carrier,speed,mtu}, net/sockstat{,6},
 *     net/{tcp,tcp6,udp,udp6}, sys/fs/file-nr, sys/kernel/{hostname,osrelease},
 *     /proc/stat (system.info keeps its own fd), uptime, self/status, self/stat;
 *     a sysfs attribute whose read fails (EINVAL: speed of a down link) is closed and
 *     reopened next cycle, as shd does;
 *   - statvfs of every mount shd reports (mountinfo filtered with shd's default excluded
 *     fs types and mount prefixes);
 *   - getdents of /proc, then for every pid pread + pread(EOF) of /proc/PID/stat on an fd
 *     kept open across cycles (up to 512; shd since a0c9b42), or open + read + read(EOF) +
 *     close with --open-per-cycle (shd before);
 *   - open of /proc/mdstat (absent here), adjtimex, getdents of /proc/self/fd.
 * Every byte read goes through a minimal number tokenizer (what any collector must at
 * least do), so the floor is "read and scan", not "read and discard".
 *
 * With --as-shd-reads it follows shd's read pattern since 51c5503/96faf28 (mountinfo only when
 * poll() flags a mount table change, /proc listed only when loadavg's last pid moved, no EOF
 * pread for single-record files) and its LinkMonitor (operstate, carrier and mtu from one
 * rtnetlink dump at start and RTMGRP_LINK messages after it, one recv a cycle; speed read from
 * sysfs once); --processes-every N walks processes every N cycles (shd's processes worker runs
 * at most every 10 s by default).
 *
 * Usage: cfloor [--cycles N] [--worker NAME]... [--proc-root DIR] [--interval S] [--no-tcp-tables] [--open-per-cycle]
 *               [--as-shd-reads] [--processes-every N]   prints
 *   cycles=N cpu_ms_per_cycle=X peak_rss_kb=Y   to stderr (the same line as shd report --cycles).
 * Build: cc -O2 -o /tmp/cfloor bench/cfloor.c
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

static uint64_t checksum;
/* --stop-on-short-read: treat a read shorter than asked as EOF (what shd could do for procfs
 * seq_files) instead of a final pread returning 0: measures what the EOF read costs. */
static int stopOnShort;
/* --interval S: sleep S seconds between cycles (a daemon's tick: caches go cold in between). */
static double intervalSeconds;
/* --no-tcp-tables: skip /proc/net/tcp and tcp6, as `shd run` does unless `set tcp_states true`
 * (its listening sockets then come from a sock_diag dump, which this floor does not make). */
static int noTcpTables;
/* --open-per-cycle: open/read/close every /proc/PID/stat each cycle (shd before a0c9b42)
 * instead of keeping up to 512 of them open. */
static int keepPids = 1;
/* --as-shd-reads: the read pattern of shd since 51c5503/96faf28 — mountinfo re-read only when
 * poll() reports POLLPRI, /proc listed only when loadavg's last pid moved (else the kept
 * /proc/PID/stat fds are re-read), no EOF pread for single-record files (a read shorter than
 * asked ends them; multi-record seq_files still read to EOF). */
static int asShd;
/* --processes-every N: walk the processes every N cycles (shd's processes worker at 10 s while
 * the others run at 1 s). */
static int processesEvery = 1;
static long cycleNo;
static char buf[1 << 21];  /* /proc/net/tcp on a busy host runs to megabytes */

/* The cheapest parse: every run of digits becomes a number. */
static void scan(const char *p, size_t n) {
    uint64_t v = 0, sum = 0;
    int in = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned c = (unsigned char)p[i] - '0';
        if (c < 10) { v = v * 10 + c; in = 1; }
        else if (in) { sum += v; v = 0; in = 0; }
    }
    checksum += sum + v + n;
}

typedef struct { char path[512]; int fd; int single; } Kept;
/* Caps sized for scripts/bench-bighost (1,000+ interfaces, 500+ mounts). */
#define MAX_IF 4096
#define MAX_MOUNTS 4096
static Kept kept[128 + 4 * MAX_IF];
static int nkept;

static int keep(const char *path) {
    Kept *k = &kept[nkept];
    snprintf(k->path, sizeof k->path, "%s", path);
    k->fd = open(path, O_RDONLY | O_CLOEXEC);
    return nkept++;
}

/* pread at 0 until EOF, as shd's kept files do; on error close, reopen next time. */
static size_t readKept(int i) {
    Kept *k = &kept[i];
    if (k->fd < 0) k->fd = open(k->path, O_RDONLY | O_CLOEXEC);
    if (k->fd < 0) return 0;
    size_t len = 0;
    for (;;) {
        size_t want = len < 4096 ? 4096 - len : sizeof buf - len;
        ssize_t r = pread(k->fd, buf + len, want, (off_t)len);
        if (r < 0) { close(k->fd); k->fd = -1; return 0; }
        if (r == 0) break;
        len += (size_t)r;
        if (stopOnShort && (size_t)r < want && r < 3000) break;
        if (asShd && k->single && (size_t)r < want) break;
        if (len == sizeof buf) break;
    }
    scan(buf, len);
    return len;
}

static const char *excludedTypes[] = {
    "proc", "sysfs", "cgroup", "cgroup2", "devtmpfs", "devpts", "tmpfs", "overlay", "squashfs", "autofs",
    "mqueue", "hugetlbfs", "debugfs", "tracefs", "securityfs", "pstore", "bpf", "configfs", "fusectl",
    "binfmt_misc", "rpc_pipefs", "nsfs", "efivarfs", "ramfs", "fuse.lxcfs", "fuse.gvfsd-fuse", "selinuxfs",
    "nfsd", "rootfs", NULL};
static const char *excludedPrefixes[] = {
    "/dev", "/proc", "/sys", "/run", "/var/lib/docker", "/var/lib/containers", "/var/lib/kubelet", "/snap", NULL};

static int excluded(const char *mnt, const char *type) {
    if (strcmp(mnt, "/") == 0) return 0;
    for (int i = 0; excludedTypes[i]; i++) if (strcmp(type, excludedTypes[i]) == 0) return 1;
    for (int i = 0; excludedPrefixes[i]; i++) {
        size_t l = strlen(excludedPrefixes[i]);
        if (strncmp(mnt, excludedPrefixes[i], l) == 0 && (mnt[l] == 0 || mnt[l] == '/')) return 1;
    }
    return 0;
}

static char mountPoints[MAX_MOUNTS][256];
static int nMountPoints;

/* The (device, root) of each reported mount: a later mount of the same device whose root is the same folder or
 * inside a reported one's is a bind mount shd leaves out (DiskWorker.withoutBindMounts), so the floor does too. */
static char mountDev[MAX_MOUNTS][32], mountRoot[MAX_MOUNTS][256];

static int bindOfReported(const char *dev, const char *root) {
    for (int i = 0; i < nMountPoints; i++) {
        if (strcmp(mountDev[i], dev) != 0) continue;
        const char *r = mountRoot[i];
        size_t l = strlen(r);
        if (strcmp(r, "/") == 0 || strcmp(r, root) == 0 || (strncmp(root, r, l) == 0 && root[l] == '/')) return 1;
    }
    return 0;
}

/* statvfs every reported mount in mountinfo (fields 3 = major:minor, 4 = root, 5 = mount point, after " - " = type). */
static void statMounts(size_t len) {
    nMountPoints = 0;
    char *line = buf, *end = buf + len;
    while (line < end) {
        char *nl = memchr(line, '\n', (size_t)(end - line));
        if (!nl) nl = end;
        *nl = 0;
        char *f[6] = {0};
        char *p = line;
        for (int i = 0; i < 5 && p; i++) { f[i] = p; p = strchr(p, ' '); if (p) *p++ = 0; }
        char *dash = p ? strstr(p, " - ") : NULL;
        if (f[4] && dash) {
            char *type = dash + 3;
            char *sp = strchr(type, ' ');
            if (sp) *sp = 0;
            if (!excluded(f[4], type) && !bindOfReported(f[2], f[3])) {
                if (nMountPoints < MAX_MOUNTS) {
                    snprintf(mountDev[nMountPoints], 32, "%s", f[2]);
                    snprintf(mountRoot[nMountPoints], 256, "%s", f[3]);
                    snprintf(mountPoints[nMountPoints++], 256, "%s", f[4]);
                }
                struct statvfs sv;
                if (statvfs(f[4], &sv) == 0) checksum += sv.f_bavail + sv.f_ffree;
            }
        }
        line = nl + 1;
    }
}

static char procRoot[200] = "/proc";
static int iStat, iLoad, iMem, iVm, iPsi[3], iMounts, iDisk, iNetDev, iSock, iSock6, iTcp[4], iFileNr,
    iHost, iRel, iStat2, iUptime, iSelfStatus, iSelfStat;
static int iIf[MAX_IF][4], nIf;

/* /proc/PID/stat fds kept open across cycles and re-read with pread, as shd does since a0c9b42
 * (at most 512 kept; beyond that open/read/close). Open-addressing table keyed by pid. */
#define KEEP_MAX 512
#define SLOTS 2048
static struct { int pid, fd, seen; } slot[SLOTS];
static int keptCount, generation;

static int slotOf(int pid) {
    unsigned h = (unsigned)pid * 2654435761u;
    for (unsigned i = 0; i < SLOTS; i++) {
        int k = (int)((h + i) & (SLOTS - 1));
        if (slot[k].pid == pid || slot[k].pid == 0) return k;
    }
    return -1;
}

static size_t preadAll(int fd) {
    size_t len = 0;
    ssize_t r;
    while ((r = pread(fd, buf + len, 4096 - len, (off_t)len)) > 0) {  /* pread, pread(EOF) */
        len += (size_t)r;
        if (asShd) break;  /* /proc/PID/stat is one record: a short read is all of it */
    }
    return r < 0 ? 0 : len;
}

static long lastPidAtWalk = -1;
static int keptAll;

static long lastPid(void) {
    size_t len = readKept(iLoad);
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' ')) len--;
    size_t i = len;
    while (i > 0 && isdigit((unsigned char)buf[i - 1])) i--;
    buf[len] = 0;
    return i < len ? atol(buf + i) : -1;
}

static void walkProcesses(void) {
    if (asShd) {
        long last = lastPid();
        if (last >= 0 && last == lastPidAtWalk && keptAll) {
            for (int k = 0; k < SLOTS; k++) {
                if (!slot[k].pid) continue;
                ssize_t r = pread(slot[k].fd, buf, 4096, 0);
                if (r <= 0) { close(slot[k].fd); slot[k].pid = 0; keptCount--; continue; }  /* exited */
                scan(buf, (size_t)r);
            }
            /* (a freed slot can break a probe chain of open addressing: rebuild as the walk does) */
            int live[KEEP_MAX][2], n = 0;
            for (int k = 0; k < SLOTS; k++) if (slot[k].pid && n < KEEP_MAX) { live[n][0] = slot[k].pid; live[n][1] = slot[k].fd; n++; slot[k].pid = 0; }
            for (int i = 0; i < n; i++) { int k = slotOf(live[i][0]); slot[k].pid = live[i][0]; slot[k].fd = live[i][1]; }
            return;
        }
        lastPidAtWalk = last;
    }
    int listed = 0;
    DIR *d = opendir(procRoot);
    if (!d) return;
    struct dirent *e;
    char path[512];
    generation++;
    while ((e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0])) continue;
        int pid = atoi(e->d_name);
        listed++;
        int k = slotOf(pid);
        if (k >= 0 && slot[k].pid == pid) {
            size_t len = preadAll(slot[k].fd);
            slot[k].seen = generation;
            scan(buf, len);
            continue;
        }
        snprintf(path, sizeof path, "%s/%s/stat", procRoot, e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        size_t len = preadAll(fd);
        scan(buf, len);
        if (keepPids && k >= 0 && keptCount < KEEP_MAX) {
            slot[k].pid = pid; slot[k].fd = fd; slot[k].seen = generation; keptCount++;
        } else {
            close(fd);
        }
    }
    closedir(d);
    /* close the fds of processes that are gone (rebuild the table without them) */
    if (keepPids) {
        int live[KEEP_MAX][2], n = 0;
        for (int k = 0; k < SLOTS; k++) {
            if (!slot[k].pid) continue;
            if (slot[k].seen == generation && n < KEEP_MAX) { live[n][0] = slot[k].pid; live[n][1] = slot[k].fd; n++; }
            else close(slot[k].fd);
            slot[k].pid = 0;
        }
        keptCount = 0;
        for (int i = 0; i < n; i++) {
            int k = slotOf(live[i][0]);
            slot[k].pid = live[i][0]; slot[k].fd = live[i][1]; slot[k].seen = generation; keptCount++;
        }
    }
    keptAll = keepPids && keptCount >= listed;
}

static void countFds(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/self/fd", procRoot);
    DIR *d = opendir(path);
    if (!d) return;
    int n = 0;
    while (readdir(d)) n++;
    closedir(d);
    checksum += (uint64_t)n;
}

/* --as-shd-reads: the link table from rtnetlink. Every attribute shd keeps (name, mtu, operstate,
 * carrier) goes through scan(), as the sysfs reads did. */
static int nlFd = -1;

static void nlScan(ssize_t n, int *done) {
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
        if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) { *done = 1; break; }
        if (h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK) continue;
        struct ifinfomsg *ifi = NLMSG_DATA(h);
        checksum += (uint64_t)ifi->ifi_index + ifi->ifi_flags;
        int len = (int)IFLA_PAYLOAD(h);
        for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
            if (a->rta_type == IFLA_IFNAME) scan(RTA_DATA(a), RTA_PAYLOAD(a));
            else if (a->rta_type == IFLA_MTU && RTA_PAYLOAD(a) >= 4) checksum += *(uint32_t *)RTA_DATA(a);
            else if ((a->rta_type == IFLA_OPERSTATE || a->rta_type == IFLA_CARRIER) && RTA_PAYLOAD(a) >= 1) checksum += *(uint8_t *)RTA_DATA(a);
        }
    }
}

static void linksOpen(void) {
    nlFd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (nlFd < 0) return;
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK};
    if (bind(nlFd, (struct sockaddr *)&sa, sizeof sa) < 0) { close(nlFd); nlFd = -1; return; }
    struct { struct nlmsghdr h; struct ifinfomsg i; } req = {
        .h = {.nlmsg_len = sizeof req, .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1},
        .i = {.ifi_family = AF_UNSPEC}};
    if (send(nlFd, &req, sizeof req, 0) < 0) { close(nlFd); nlFd = -1; return; }
    int done = 0;
    while (!done) {
        ssize_t n = recv(nlFd, buf, 65536, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        nlScan(n, &done);
    }
}

/* What the kernel sent since the last cycle (on a quiet host: nothing, one EAGAIN). */
static void linksDrain(void) {
    if (nlFd < 0) return;
    for (;;) {
        ssize_t n = recv(nlFd, buf, 65536, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        int done = 0;
        nlScan(n, &done);
    }
}

static void setup(void) {
    char p[512];
#define K(name) (snprintf(p, sizeof p, "%s/" name, procRoot), keep(p))
    iStat = K("stat"); iLoad = K("loadavg"); iMem = K("meminfo"); iVm = K("vmstat");
    iPsi[0] = K("pressure/cpu"); iPsi[1] = K("pressure/memory"); iPsi[2] = K("pressure/io");
    iMounts = K("self/mountinfo"); iDisk = K("diskstats"); iNetDev = K("net/dev");
    /* interfaces from /proc/net/dev: "  NAME: ..." after two header lines */
    size_t len = readKept(iNetDev);
    buf[len] = 0;
    char *line = strchr(buf, '\n');
    line = line ? strchr(line + 1, '\n') : NULL;
    while (line && nIf < MAX_IF) {
        line++;
        char *colon = strchr(line, ':');
        if (!colon) break;
        while (*line == ' ') line++;
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(colon - line), line);
        const char *attrs[4] = {"operstate", "carrier", "speed", "mtu"};
        for (int a = 0; a < 4; a++) {
            char sp[512];
            snprintf(sp, sizeof sp, "/sys/class/net/%s/%s", name, attrs[a]);
            iIf[nIf][a] = keep(sp);
            /* as shd: speed read once (again when a link message says the link changed), the rest from rtnetlink */
            if (asShd) {
                if (a == 2) readKept(iIf[nIf][a]);
                if (kept[iIf[nIf][a]].fd >= 0) close(kept[iIf[nIf][a]].fd);
                kept[iIf[nIf][a]].fd = -1;
            }
        }
        nIf++;
        line = strchr(colon, '\n');
    }
    iSock = K("net/sockstat"); iSock6 = K("net/sockstat6");
    iTcp[0] = K("net/tcp"); iTcp[1] = K("net/tcp6"); iTcp[2] = K("net/udp"); iTcp[3] = K("net/udp6");
    iFileNr = K("sys/fs/file-nr"); iHost = K("sys/kernel/hostname"); iRel = K("sys/kernel/osrelease");
    iStat2 = K("stat"); iUptime = K("uptime"); iSelfStatus = K("self/status"); iSelfStat = K("self/stat");
#undef K
    /* single-record files (single_open, sysfs attributes, sysctls) */
    int singles[] = {iStat, iLoad, iMem, iPsi[0], iPsi[1], iPsi[2], iSock, iSock6, iFileNr, iHost, iRel, iStat2, iUptime,
                     iSelfStatus, iSelfStat};
    for (size_t i = 0; i < sizeof singles / sizeof singles[0]; i++) kept[singles[i]].single = 1;
    for (int i = 0; i < nIf; i++) for (int a = 0; a < 4; a++) kept[iIf[i][a]].single = 1;
}

/* mountinfo re-read only when poll() says the mount table changed (asShd); else statvfs the kept list. */
static void disk(void) {
    Kept *k = &kept[iMounts];
    if (asShd && k->fd >= 0 && cycleNo > 0) {
        struct pollfd p = {k->fd, POLLPRI, 0};
        if (poll(&p, 1, 0) == 0) {
            for (int i = 0; i < nMountPoints; i++) {
                struct statvfs sv;
                if (statvfs(mountPoints[i], &sv) == 0) checksum += sv.f_bavail + sv.f_ffree;
            }
            return;
        }
    }
    statMounts(readKept(iMounts));
}

/* Worker selection, as `shd report --worker NAME` (repeatable); none given = all. */
static const char *workerNames[] = {"cpu", "load", "memory", "pressure", "disk", "network", "processes", "hardware", "system", NULL};
static int selected[9], anySelected;
static int on(int w) { return !anySelected || selected[w]; }

static void cycle(void) {
    if (on(0)) readKept(iStat);                                /* cpu */
    if (on(1)) readKept(iLoad);                                /* load */
    if (on(2)) { readKept(iMem); readKept(iVm); }              /* memory */
    if (on(3)) for (int i = 0; i < 3; i++) readKept(iPsi[i]);  /* pressure */
    if (on(4)) { disk(); readKept(iDisk); }                   /* disk */
    if (on(5)) {                                               /* network */
        readKept(iNetDev);
        if (asShd) linksDrain(); else for (int i = 0; i < nIf; i++) for (int a = 0; a < 4; a++) readKept(iIf[i][a]);
        readKept(iSock); readKept(iSock6);
        for (int i = noTcpTables ? 2 : 0; i < 4; i++) readKept(iTcp[i]);
    }
    if (on(6) && cycleNo % processesEvery == 0) { walkProcesses(); readKept(iFileNr); }  /* processes */
    if (on(7)) {                                               /* hardware: md RAID */
        char p[512];
        snprintf(p, sizeof p, "%s/mdstat", procRoot);
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) { ssize_t r = read(fd, buf, 4096); if (r > 0) scan(buf, (size_t)r); close(fd); }
    }
    if (on(8)) {                                               /* system */
        readKept(iHost); readKept(iRel); readKept(iStat2); readKept(iUptime);
        struct timex tx = {0};
        adjtimex(&tx);
        checksum += (uint64_t)tx.offset;
        readKept(iSelfStatus); countFds(); readKept(iSelfStat);
    }
}

static double cpuSeconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv) {
    int cycles = 100;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--cycles") == 0 && i + 1 < argc) cycles = atoi(argv[++i]);
        else if (strcmp(argv[i], "--stop-on-short-read") == 0) stopOnShort = 1;
        else if (strcmp(argv[i], "--no-tcp-tables") == 0) noTcpTables = 1;
        else if (strcmp(argv[i], "--open-per-cycle") == 0) keepPids = 0;
        else if (strcmp(argv[i], "--as-shd-reads") == 0) asShd = 1;
        else if (strcmp(argv[i], "--processes-every") == 0 && i + 1 < argc) processesEvery = atoi(argv[++i]) > 0 ? atoi(argv[i]) : 1;
        else if (strcmp(argv[i], "--interval") == 0 && i + 1 < argc) intervalSeconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--worker") == 0 && i + 1 < argc) {
            const char *w = argv[++i];
            int k = 0;
            while (workerNames[k] && strcmp(workerNames[k], w) != 0) k++;
            if (!workerNames[k]) { fprintf(stderr, "cfloor: unknown worker %s\n", w); return 2; }
            selected[k] = anySelected = 1;
        }
        else if (strcmp(argv[i], "--proc-root") == 0 && i + 1 < argc) snprintf(procRoot, sizeof procRoot, "%s", argv[++i]);
        else { fprintf(stderr, "usage: cfloor [--cycles N] [--worker NAME]... [--proc-root DIR] [--stop-on-short-read] [--interval S] [--no-tcp-tables] [--open-per-cycle] [--as-shd-reads] [--processes-every N]\n"); return 2; }
    }
    if (cycles < 1) cycles = 1;
    if (asShd) linksOpen();
    setup();
    cycle();  /* like shd report: one cycle before the timed ones */
    double before = cpuSeconds();
    for (int i = 0; i < cycles; i++) {
        if (intervalSeconds > 0) {
            struct timespec ts = {(time_t)intervalSeconds, (long)((intervalSeconds - (double)(time_t)intervalSeconds) * 1e9)};
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
        }
        cycleNo++;
        cycle();
    }
    double per = (cpuSeconds() - before) / cycles;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    fprintf(stderr, "cycles=%d cpu_ms_per_cycle=%.3f peak_rss_kb=%ld\n", cycles, per * 1e3, ru.ru_maxrss);
    printf("checksum=%llu\n", (unsigned long long)checksum);
    return 0;
}
