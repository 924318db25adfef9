// libsystemd, loaded on demand: shd does not link libsystemd. The first feature that needs it (the systemd
// worker's sd-bus connection, the journal source's sd-journal) dlopens libsystemd.so.0 once (loader.c) and
// resolves its own functions into its own table: sd-bus in bus.c (shd_bus.h), sd-journal in its own C file
// with its own header, included below. shd runs where there is no libsystemd: a feature's load fails with a
// message naming the library, and that feature reports no data.
//
// <systemd/sd-*.h> (libsystemd-dev) are used for types and constants only: no sd_* symbol is referenced,
// so a direct call to an sd_* function from Swift fails to link instead of crashing.
#ifndef SHD_CSYSTEMD_SHIM_H
#define SHD_CSYSTEMD_SHIM_H
#include <stddef.h>

/// dlopen("libsystemd.so.0") once, shared by every part (bus, journal). Thread-safe. Returns the handle, or
/// NULL with a message in `err` ("libsystemd.so.0: cannot open shared object file: … — install libsystemd0");
/// a later call tries again. Each part resolves its own symbols from this handle.
void *shd_systemd_library(char *err, size_t errlen);

#include "shd_bus.h"
#include "shd_journal.h"
#endif
