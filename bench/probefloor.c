/* The C floor of HTTP probes (scripts/bench-probes): the libcurl calls shd's ProbeRunner makes for each probe, on the
 * loop shd uses (epoll for libcurl's sockets, a timerfd for libcurl's timeout and one for the earliest due probe,
 * curl_multi_socket_action), and nothing else: no rows, no rules, no reports.
 *
 * Each probe is a new easy handle with shd's options for an `http` probe (URL, NOSIGNAL, an error buffer, timeouts,
 * no proxy, http/https only, no redirects, "Expect:", a write callback keeping at most 64 KiB), run every INTERVAL
 * seconds on the same schedule as shd's (ProbeSchedule: the first run at the probe's fraction of the first second,
 * later runs one interval apart, spread over the interval in slots of a second), and read back as shd reads it
 * (status, total and connect time, redirect count). Linked against
 * libcurl (cc -O2 bench/probefloor.c -lcurl -lm).
 *
 * Usage: probefloor URL_PREFIX COUNT INTERVAL_S [TIMEOUT_S]
 *   probe i fetches URL_PREFIX<i>; runs until SIGTERM, then prints to stderr
 *   done=N failed=F
 */
#include <curl/curl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

struct probe {
    char url[256];
    double due, phase; /* phase: where later runs fall in the interval (ProbeSchedule), < 0 once taken */
    int inflight;
};

struct transfer {
    struct probe *probe;
    char error[CURL_ERROR_SIZE];
    size_t received;
    struct curl_slist *headers;
};

static int ep, curltimer, duetimer;
static CURLM *multi;
static struct probe *probes;
static long count, done, failed;
static double interval, timeout_s = 5;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void arm(int fd, double seconds) {
    struct itimerspec its = {0};
    if (seconds >= 0) {
        if (seconds < 1e-6) seconds = 1e-6;
        its.it_value.tv_sec = (time_t)seconds;
        its.it_value.tv_nsec = (long)((seconds - (double)its.it_value.tv_sec) * 1e9);
    }
    timerfd_settime(fd, 0, &its, NULL);
}

static size_t on_write(char *ptr, size_t size, size_t n, void *user) {
    struct transfer *t = user;
    size_t len = size * n;
    if (t->received + len > 65536) return 0;
    t->received += len;
    (void)ptr;
    return len;
}

static int on_socket(CURL *e, curl_socket_t fd, int what, void *u, void *s) {
    (void)e, (void)u;
    struct epoll_event ev = {.data.fd = fd};
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
        return 0;
    }
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) != 0) epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    (void)s;
    return 0;
}

static int on_timer(CURLM *m, long ms, void *u) {
    (void)m, (void)u;
    arm(curltimer, ms < 0 ? -1 : ms / 1000.0);
    return 0;
}

static void start(struct probe *p) {
    struct transfer *t = calloc(1, sizeof *t);
    CURL *e = curl_easy_init();
    t->probe = p;
    t->headers = curl_slist_append(NULL, "Expect:");
    long ms = (long)(timeout_s * 1000);
    curl_easy_setopt(e, CURLOPT_URL, p->url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ms);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    p->inflight = 1;
    curl_multi_add_handle(multi, e);
}

/* Reads the ended transfers back as shd does; returns whether one ended (its probe may be due again). */
static int finished(void) {
    CURLMsg *m;
    int left, ended = 0;
    while ((m = curl_multi_info_read(multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        CURL *e = m->easy_handle;
        struct transfer *t;
        long status = 0, redirects = 0;
        curl_off_t total = 0, connect = 0;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&t);
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &total);
        curl_easy_getinfo(e, CURLINFO_CONNECT_TIME_T, &connect);
        curl_easy_getinfo(e, CURLINFO_REDIRECT_COUNT, &redirects);
        if (m->data.result == CURLE_OK && status == 200) done++;
        else failed++;
        t->probe->inflight = 0;
        ended = 1;
        curl_multi_remove_handle(multi, e);
        curl_easy_cleanup(e);
        curl_slist_free_all(t->headers);
        free(t);
    }
    return ended;
}

/* Starts the probes that are due and arms the timer for the earliest one not running (as ProbeRunner.arm). */
static void run_due(void) {
    double t = now(), next = -1;
    for (long i = 0; i < count; i++) {
        struct probe *p = &probes[i];
        if (!p->inflight && p->due <= t) {
            double earliest = t + interval / 2;
            if (p->phase >= 0) {
                p->due = p->phase >= earliest ? p->phase : p->phase + ceil((earliest - p->phase) / interval) * interval;
                p->phase = -1;
            } else {
                p->due = p->due + interval > earliest ? p->due + interval : earliest;
            }
            start(p);
        }
        if (!p->inflight && (next < 0 || p->due < next)) next = p->due;
    }
    if (next >= 0) arm(duetimer, next > now() ? next - now() : 0);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: probefloor URL_PREFIX COUNT INTERVAL_S [TIMEOUT_S]\n");
        return 2;
    }
    count = atol(argv[2]);
    interval = atof(argv[3]);
    if (argc > 4) timeout_s = atof(argv[4]);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer);
    ep = epoll_create1(EPOLL_CLOEXEC);
    curltimer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    duetimer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN};
    ev.data.fd = curltimer;
    epoll_ctl(ep, EPOLL_CTL_ADD, curltimer, &ev);
    ev.data.fd = duetimer;
    epoll_ctl(ep, EPOLL_CTL_ADD, duetimer, &ev);
    ev.data.fd = sfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
    probes = calloc((size_t)count, sizeof *probes);
    double t0 = now();
    for (long i = 0; i < count; i++) {
        snprintf(probes[i].url, sizeof probes[i].url, "%s%ld", argv[1], i);
        double fraction = (double)i / (double)count;
        probes[i].due = t0 + fraction * (interval < 1 ? interval : 1);
        double slots = interval < 1 ? 1 : floor(interval);
        probes[i].phase = t0 + floor(fraction * slots) * (interval / slots) + fraction * (interval < 1 ? interval : 1);
    }
    run_due();
    for (;;) {
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, -1);
        for (int k = 0; k < n; k++) {
            int fd = evs[k].data.fd, running;
            uint64_t x;
            if (fd == sfd) {
                fprintf(stderr, "done=%ld failed=%ld\n", done, failed);
                return 0;
            } else if (fd == curltimer) {
                if (read(fd, &x, sizeof x) < 0) continue;
                curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
            } else if (fd == duetimer) {
                if (read(fd, &x, sizeof x) < 0) continue;
                run_due();
            } else {
                int flags = (evs[k].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                            (evs[k].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                            (evs[k].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
                curl_multi_socket_action(multi, fd, flags, &running);
            }
            if (finished()) run_due();
        }
    }
}
