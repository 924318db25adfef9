/* N idle processes for scripts/bench-bighost: fork N children that pause() (copy-on-write pages of this small
 * program, a few kB each), print "ready N" on stdout, then wait for SIGTERM or SIGINT and kill them. Each child has
 * PR_SET_PDEATHSIG, so none outlives the parent whatever stops it.
 *
 * Usage: manyprocs N
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_signal(int s) { (void)s; stop = 1; }

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 0;
    pid_t *kids = calloc((size_t)n + 1, sizeof *kids);
    pid_t parent = getpid();
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    int made = 0;
    for (int i = 0; i < n; i++) {
        pid_t p = fork();
        if (p < 0) break;
        if (p == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent) _exit(0);
            for (;;) pause();
        }
        kids[made++] = p;
    }
    printf("ready %d\n", made);
    fflush(stdout);
    while (!stop) pause();
    for (int i = 0; i < made; i++) kill(kids[i], SIGKILL);
    while (wait(NULL) > 0) {}
    return 0;
}
