// sd-bus from libsystemd, resolved on first need (see include/shd_bus.h). The journal's functions live in their
// own C file of this target, with their own table.
#include "shim.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

// The one table of sd-bus entry points; each field has the exact type <systemd/sd-bus.h> declares.
static struct {
    __typeof__(sd_bus_open_system) *open_system;
    __typeof__(sd_bus_new) *new_bus;
    __typeof__(sd_bus_set_address) *set_address;
    __typeof__(sd_bus_set_bus_client) *set_bus_client;
    __typeof__(sd_bus_start) *start;
    __typeof__(sd_bus_flush_close_unref) *flush_close_unref;
    __typeof__(sd_bus_is_open) *is_open;
    __typeof__(sd_bus_get_fd) *get_fd;
    __typeof__(sd_bus_get_events) *get_events;
    __typeof__(sd_bus_get_timeout) *get_timeout;
    __typeof__(sd_bus_process) *process;
    __typeof__(sd_bus_wait) *wait;
    __typeof__(sd_bus_message_new_method_call) *message_new_method_call;
    __typeof__(sd_bus_message_append_basic) *message_append_basic;
    __typeof__(sd_bus_call) *call;
    __typeof__(sd_bus_call_async) *call_async;
    __typeof__(sd_bus_add_match_async) *add_match_async;
    __typeof__(sd_bus_slot_unref) *slot_unref;
    __typeof__(sd_bus_message_ref) *message_ref;
    __typeof__(sd_bus_message_unref) *message_unref;
    __typeof__(sd_bus_message_get_type) *message_get_type;
    __typeof__(sd_bus_message_get_path) *message_get_path;
    __typeof__(sd_bus_message_get_interface) *message_get_interface;
    __typeof__(sd_bus_message_get_member) *message_get_member;
    __typeof__(sd_bus_message_get_signature) *message_get_signature;
    __typeof__(sd_bus_message_get_error) *message_get_error;
    __typeof__(sd_bus_message_peek_type) *message_peek_type;
    __typeof__(sd_bus_message_read_basic) *message_read_basic;
    __typeof__(sd_bus_message_enter_container) *message_enter_container;
    __typeof__(sd_bus_message_exit_container) *message_exit_container;
    __typeof__(sd_bus_message_skip) *message_skip;
    __typeof__(sd_bus_message_rewind) *message_rewind;
    __typeof__(sd_bus_error_free) *error_free;
} api;

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static int loaded; // written under load_lock; read with acquire semantics

int shd_bus_loaded(void) { return __atomic_load_n(&loaded, __ATOMIC_ACQUIRE); }

int shd_bus_load(char *err, size_t errlen) {
    if (shd_bus_loaded()) return 0;
    pthread_mutex_lock(&load_lock);
    int rc = -1;
    if (loaded) { rc = 0; goto out; }
    void *h = shd_systemd_library(err, errlen);
    if (!h) goto out;
    const char *missing = NULL;
#define SHD_RESOLVE(field, name) \
    if (!missing && !(api.field = (__typeof__(api.field))dlsym(h, name))) missing = name;
    SHD_RESOLVE(open_system, "sd_bus_open_system")
    SHD_RESOLVE(new_bus, "sd_bus_new")
    SHD_RESOLVE(set_address, "sd_bus_set_address")
    SHD_RESOLVE(set_bus_client, "sd_bus_set_bus_client")
    SHD_RESOLVE(start, "sd_bus_start")
    SHD_RESOLVE(flush_close_unref, "sd_bus_flush_close_unref")
    SHD_RESOLVE(is_open, "sd_bus_is_open")
    SHD_RESOLVE(get_fd, "sd_bus_get_fd")
    SHD_RESOLVE(get_events, "sd_bus_get_events")
    SHD_RESOLVE(get_timeout, "sd_bus_get_timeout")
    SHD_RESOLVE(process, "sd_bus_process")
    SHD_RESOLVE(wait, "sd_bus_wait")
    SHD_RESOLVE(message_new_method_call, "sd_bus_message_new_method_call")
    SHD_RESOLVE(message_append_basic, "sd_bus_message_append_basic")
    SHD_RESOLVE(call, "sd_bus_call")
    SHD_RESOLVE(call_async, "sd_bus_call_async")
    SHD_RESOLVE(add_match_async, "sd_bus_add_match_async")
    SHD_RESOLVE(slot_unref, "sd_bus_slot_unref")
    SHD_RESOLVE(message_ref, "sd_bus_message_ref")
    SHD_RESOLVE(message_unref, "sd_bus_message_unref")
    SHD_RESOLVE(message_get_type, "sd_bus_message_get_type")
    SHD_RESOLVE(message_get_path, "sd_bus_message_get_path")
    SHD_RESOLVE(message_get_interface, "sd_bus_message_get_interface")
    SHD_RESOLVE(message_get_member, "sd_bus_message_get_member")
    SHD_RESOLVE(message_get_signature, "sd_bus_message_get_signature")
    SHD_RESOLVE(message_get_error, "sd_bus_message_get_error")
    SHD_RESOLVE(message_peek_type, "sd_bus_message_peek_type")
    SHD_RESOLVE(message_read_basic, "sd_bus_message_read_basic")
    SHD_RESOLVE(message_enter_container, "sd_bus_message_enter_container")
    SHD_RESOLVE(message_exit_container, "sd_bus_message_exit_container")
    SHD_RESOLVE(message_skip, "sd_bus_message_skip")
    SHD_RESOLVE(message_rewind, "sd_bus_message_rewind")
    SHD_RESOLVE(error_free, "sd_bus_error_free")
#undef SHD_RESOLVE
    if (missing) {
        // sd_bus_add_match_async is the newest (systemd 237); the handle stays open for the other parts.
        snprintf(err, errlen, "libsystemd.so.0 has no %s \xe2\x80\x94 install libsystemd0 (systemd 237 or later)", missing);
        goto out;
    }
    __atomic_store_n(&loaded, 1, __ATOMIC_RELEASE);
    rc = 0;
out:
    pthread_mutex_unlock(&load_lock);
    if (rc != 0 && errlen > 0) err[errlen - 1] = 0;
    return rc;
}

int shd_bus_open_system(sd_bus **ret) { return api.open_system(ret); }
int shd_bus_open_address(sd_bus **ret, const char *address) {
    sd_bus *bus = NULL;
    *ret = NULL;
    int r = api.new_bus(&bus);
    if (r < 0) return r;
    if ((r = api.set_address(bus, address)) < 0 || (r = api.set_bus_client(bus, 1)) < 0 || (r = api.start(bus)) < 0) {
        api.flush_close_unref(bus);
        return r;
    }
    *ret = bus;
    return 0;
}
sd_bus *shd_bus_flush_close_unref(sd_bus *bus) { return api.flush_close_unref(bus); }
int shd_bus_is_open(sd_bus *bus) { return api.is_open(bus); }
int shd_bus_get_fd(sd_bus *bus) { return api.get_fd(bus); }
int shd_bus_get_events(sd_bus *bus) { return api.get_events(bus); }
int shd_bus_get_timeout(sd_bus *bus, uint64_t *usec) { return api.get_timeout(bus, usec); }
int shd_bus_process(sd_bus *bus, sd_bus_message **r) { return api.process(bus, r); }
int shd_bus_wait(sd_bus *bus, uint64_t timeout_usec) { return api.wait(bus, timeout_usec); }

int shd_bus_message_new_method_call(sd_bus *bus, sd_bus_message **m, const char *destination, const char *path,
                                    const char *interface, const char *member) {
    return api.message_new_method_call(bus, m, destination, path, interface, member);
}
int shd_bus_message_append_basic(sd_bus_message *m, char type, const void *p) { return api.message_append_basic(m, type, p); }
int shd_bus_call(sd_bus *bus, sd_bus_message *m, uint64_t usec, sd_bus_error *ret_error, sd_bus_message **reply) {
    return api.call(bus, m, usec, ret_error, reply);
}
int shd_bus_call_async(sd_bus *bus, sd_bus_slot **slot, sd_bus_message *m, sd_bus_message_handler_t callback,
                       void *userdata, uint64_t usec) {
    return api.call_async(bus, slot, m, callback, userdata, usec);
}
int shd_bus_add_match_async(sd_bus *bus, sd_bus_slot **slot, const char *match, sd_bus_message_handler_t callback,
                            sd_bus_message_handler_t install_callback, void *userdata) {
    return api.add_match_async(bus, slot, match, callback, install_callback, userdata);
}
sd_bus_slot *shd_bus_slot_unref(sd_bus_slot *slot) { return api.slot_unref(slot); }

sd_bus_message *shd_bus_message_ref(sd_bus_message *m) { return api.message_ref(m); }
sd_bus_message *shd_bus_message_unref(sd_bus_message *m) { return api.message_unref(m); }
int shd_bus_message_get_type(sd_bus_message *m, uint8_t *type) { return api.message_get_type(m, type); }
const char *shd_bus_message_get_path(sd_bus_message *m) { return api.message_get_path(m); }
const char *shd_bus_message_get_interface(sd_bus_message *m) { return api.message_get_interface(m); }
const char *shd_bus_message_get_member(sd_bus_message *m) { return api.message_get_member(m); }
const char *shd_bus_message_get_signature(sd_bus_message *m, int complete) { return api.message_get_signature(m, complete); }
const sd_bus_error *shd_bus_message_get_error(sd_bus_message *m) { return api.message_get_error(m); }
int shd_bus_message_peek_type(sd_bus_message *m, char *type, const char **contents) {
    return api.message_peek_type(m, type, contents);
}
int shd_bus_message_read_basic(sd_bus_message *m, char type, void *p) { return api.message_read_basic(m, type, p); }
int shd_bus_message_enter_container(sd_bus_message *m, char type, const char *contents) {
    return api.message_enter_container(m, type, contents);
}
int shd_bus_message_exit_container(sd_bus_message *m) { return api.message_exit_container(m); }
int shd_bus_message_skip(sd_bus_message *m, const char *types) { return api.message_skip(m, types); }
int shd_bus_message_rewind(sd_bus_message *m, int complete) { return api.message_rewind(m, complete); }

void shd_bus_error_free(sd_bus_error *e) { api.error_free(e); }
