// sd-journal from libsystemd, resolved on first need (journal.c): the journal event source's calls, one wrapper
// each, with the types of <systemd/sd-journal.h>. Every wrapper needs shd_journal_load() to have returned 0.
#ifndef SHD_JOURNAL_H
#define SHD_JOURNAL_H
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-journal.h>

/// Resolves the sd-journal functions (dlopening libsystemd.so.0 through shd_systemd_library). 0, or -1 with a
/// message in `err` naming the library or the missing symbol.
int shd_journal_load(char *err, size_t errlen);
int shd_journal_loaded(void);

/// sd_journal_open(SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM), or sd_journal_open_files with one path when `file`
/// is not NULL (tests, and journals copied from elsewhere), or sd_journal_open_directory when `file` is a directory
/// (the files a writer rotates there are followed: scripts/bench-journal's long storm).
int shd_journal_open(sd_journal **j, const char *file);
void shd_journal_close(sd_journal *j);
int shd_journal_add_match(sd_journal *j, const char *match, size_t len);
int shd_journal_add_disjunction(sd_journal *j);
int shd_journal_seek_tail(sd_journal *j);
int shd_journal_seek_head(sd_journal *j);
int shd_journal_seek_cursor(sd_journal *j, const char *cursor);
int shd_journal_test_cursor(sd_journal *j, const char *cursor);
int shd_journal_next(sd_journal *j);
int shd_journal_previous(sd_journal *j);
int shd_journal_get_fd(sd_journal *j);
int shd_journal_process(sd_journal *j);
int shd_journal_get_realtime_usec(sd_journal *j, uint64_t *usec);
/// The cursor of the current entry, to be freed with free().
int shd_journal_get_cursor(sd_journal *j, char **cursor);
void shd_journal_restart_data(sd_journal *j);
int shd_journal_enumerate_data(sd_journal *j, const void **data, size_t *len);
void shd_journal_free(void *p);
#endif
