// sd-bus, the part of libsystemd the systemd worker uses (bus.c): typed wrappers around one table of dlsym'd
// functions. Only non-variadic entry points are wrapped (Swift cannot call C variadics): a method call is built
// with shd_bus_message_new_method_call + append_basic, replies are read one value at a time.
#ifndef SHD_CSYSTEMD_BUS_H
#define SHD_CSYSTEMD_BUS_H
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

/// Loads libsystemd (shd_systemd_library) and resolves every sd-bus function below. Idempotent and
/// thread-safe; once it succeeded it returns 0 at once. On failure returns -1 with a message in `err`; a later
/// call tries again. No wrapper below may be called before a successful load.
int shd_bus_load(char *err, size_t errlen);
/// 1 once `shd_bus_load` succeeded.
int shd_bus_loaded(void);

int shd_bus_open_system(sd_bus **ret);
/// A client connection to the bus at `address` (a test's private dbus-daemon): sd_bus_new, set_address,
/// set_bus_client(1), start. On failure nothing is left open and *ret is NULL.
int shd_bus_open_address(sd_bus **ret, const char *address);
sd_bus *shd_bus_flush_close_unref(sd_bus *bus);
int shd_bus_is_open(sd_bus *bus);
int shd_bus_get_fd(sd_bus *bus);
int shd_bus_get_events(sd_bus *bus);
int shd_bus_get_timeout(sd_bus *bus, uint64_t *usec);
int shd_bus_process(sd_bus *bus, sd_bus_message **r);
/// Blocks until the bus has work or `timeout_usec` passes (one-shot commands only; the daemon uses its epoll loop).
int shd_bus_wait(sd_bus *bus, uint64_t timeout_usec);

int shd_bus_message_new_method_call(sd_bus *bus, sd_bus_message **m, const char *destination, const char *path,
                                    const char *interface, const char *member);
int shd_bus_message_append_basic(sd_bus_message *m, char type, const void *p);
int shd_bus_call(sd_bus *bus, sd_bus_message *m, uint64_t usec, sd_bus_error *ret_error, sd_bus_message **reply);
int shd_bus_call_async(sd_bus *bus, sd_bus_slot **slot, sd_bus_message *m, sd_bus_message_handler_t callback,
                       void *userdata, uint64_t usec);
int shd_bus_add_match_async(sd_bus *bus, sd_bus_slot **slot, const char *match, sd_bus_message_handler_t callback,
                            sd_bus_message_handler_t install_callback, void *userdata);
sd_bus_slot *shd_bus_slot_unref(sd_bus_slot *slot);

sd_bus_message *shd_bus_message_ref(sd_bus_message *m);
sd_bus_message *shd_bus_message_unref(sd_bus_message *m);
int shd_bus_message_get_type(sd_bus_message *m, uint8_t *type);
const char *shd_bus_message_get_path(sd_bus_message *m);
const char *shd_bus_message_get_interface(sd_bus_message *m);
const char *shd_bus_message_get_member(sd_bus_message *m);
const char *shd_bus_message_get_signature(sd_bus_message *m, int complete);
/// The error of a method-error reply (name and message), or NULL for any other message.
const sd_bus_error *shd_bus_message_get_error(sd_bus_message *m);
int shd_bus_message_peek_type(sd_bus_message *m, char *type, const char **contents);
int shd_bus_message_read_basic(sd_bus_message *m, char type, void *p);
int shd_bus_message_enter_container(sd_bus_message *m, char type, const char *contents);
int shd_bus_message_exit_container(sd_bus_message *m);
int shd_bus_message_skip(sd_bus_message *m, const char *types);
int shd_bus_message_rewind(sd_bus_message *m, int complete);

void shd_bus_error_free(sd_bus_error *e);
#endif
