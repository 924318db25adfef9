/* The C floor of reading a journal file (scripts/bench-journal): the sd-journal calls shd's JournalSource makes for
 * every entry, and nothing else — sd_journal_next, sd_journal_restart_data + sd_journal_enumerate_data over every
 * field (a memchr for the '=' and a look at the name, as shd keeps only the fields rules know), the realtime
 * timestamp — with no matching. `--cursor-every N` also takes the cursor every N entries (shd: once per batch of
 * 2,000). Linked against libsystemd (cc -O2 bench/journalfloor.c -lsystemd).
 *
 * Usage: journalfloor FILE [--cursor-every N]   prints to stderr
 *   entries=N fields=F cpu_ms=X entries_per_cpu_second=Y
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <systemd/sd-journal.h>

static double cpu_ms(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: journalfloor FILE [--cursor-every N]\n");
        return 2;
    }
    long cursorEvery = 2000;
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--cursor-every") == 0 && i + 1 < argc) cursorEvery = atol(argv[++i]);
    double t0 = cpu_ms();
    sd_journal *j;
    const char *paths[2] = {argv[1], NULL};
    int r = sd_journal_open_files(&j, paths, 0);
    if (r < 0) {
        fprintf(stderr, "sd_journal_open_files: %s\n", strerror(-r));
        return 1;
    }
    sd_journal_seek_head(j);
    long entries = 0, fields = 0, kept = 0;
    unsigned long long sum = 0;
    while (sd_journal_next(j) > 0) {
        const void *d;
        size_t len;
        sd_journal_restart_data(j);
        while (sd_journal_enumerate_data(j, &d, &len) > 0) {
            const char *eq = memchr(d, '=', len);
            if (!eq) continue;
            fields++;
            /* shd keeps 13 named fields; a look at the first bytes stands for its lookup. */
            if (((const char *)d)[0] == '_' || ((const char *)d)[0] == 'M' || ((const char *)d)[0] == 'P') kept += len;
        }
        uint64_t usec;
        if (sd_journal_get_realtime_usec(j, &usec) >= 0) sum += usec;
        entries++;
        if (cursorEvery > 0 && entries % cursorEvery == 0) {
            char *c;
            if (sd_journal_get_cursor(j, &c) >= 0) free(c);
        }
    }
    sd_journal_close(j);
    double ms = cpu_ms() - t0;
    fprintf(stderr, "entries=%ld fields=%ld cpu_ms=%.1f entries_per_cpu_second=%.0f (kept %ld bytes, sum %llu)\n", entries,
            fields, ms, entries / (ms / 1e3), kept, sum % 1000);
    return 0;
}
