// Loads libcrypto on first need (see include/shim.h) and reads certificates through it.
#include "shim.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define SHD_LIBCRYPTO "libcrypto.so.3"

// The one table of libcrypto entry points; each field has the exact type the OpenSSL headers declare.
static struct {
    __typeof__(BIO_new_mem_buf) *bio_new_mem_buf;
    __typeof__(BIO_new) *bio_new;
    __typeof__(BIO_s_mem) *bio_s_mem;
    __typeof__(BIO_read) *bio_read;
    __typeof__(BIO_free) *bio_free;
    __typeof__(PEM_read_bio_X509) *pem_read_bio_x509;
    __typeof__(X509_free) *x509_free;
    __typeof__(X509_get0_notAfter) *x509_get0_notafter;
    __typeof__(ASN1_TIME_diff) *asn1_time_diff;
    __typeof__(ASN1_TIME_to_tm) *asn1_time_to_tm;
    __typeof__(X509_get_subject_name) *x509_get_subject_name;
    __typeof__(X509_get_issuer_name) *x509_get_issuer_name;
    __typeof__(X509_NAME_print_ex) *x509_name_print_ex;
    __typeof__(X509_check_host) *x509_check_host;
    __typeof__(X509_STORE_new) *x509_store_new;
    __typeof__(X509_STORE_free) *x509_store_free;
    __typeof__(X509_STORE_set_default_paths) *x509_store_set_default_paths;
    __typeof__(X509_STORE_load_locations) *x509_store_load_locations;
    __typeof__(X509_STORE_CTX_new) *x509_store_ctx_new;
    __typeof__(X509_STORE_CTX_free) *x509_store_ctx_free;
    __typeof__(X509_STORE_CTX_init) *x509_store_ctx_init;
    __typeof__(X509_verify_cert) *x509_verify_cert;
    __typeof__(X509_STORE_CTX_get_error) *x509_store_ctx_get_error;
    __typeof__(X509_verify_cert_error_string) *x509_verify_cert_error_string;
    __typeof__(OPENSSL_sk_new_null) *sk_new_null;
    __typeof__(OPENSSL_sk_push) *sk_push;
    __typeof__(OPENSSL_sk_free) *sk_free;
    __typeof__(OPENSSL_sk_num) *sk_num;
    __typeof__(OPENSSL_sk_value) *sk_value;
    __typeof__(ERR_clear_error) *err_clear_error;
} api;

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static int loaded;

int shd_crypto_loaded(void) { return __atomic_load_n(&loaded, __ATOMIC_ACQUIRE); }

int shd_crypto_load(char *err, size_t errlen) {
    if (shd_crypto_loaded()) return 0;
    pthread_mutex_lock(&load_lock);
    int rc = -1;
    if (loaded) { rc = 0; goto out; }
    void *h = dlopen(SHD_LIBCRYPTO, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(err, errlen, "%s \xe2\x80\x94 install libssl3", e ? e : SHD_LIBCRYPTO ": cannot be loaded");
        goto out;
    }
    const char *missing = NULL;
#define SHD_RESOLVE(field, name) \
    if (!missing && !(api.field = (__typeof__(api.field))dlsym(h, name))) missing = name;
    SHD_RESOLVE(bio_new_mem_buf, "BIO_new_mem_buf")
    SHD_RESOLVE(bio_new, "BIO_new")
    SHD_RESOLVE(bio_s_mem, "BIO_s_mem")
    SHD_RESOLVE(bio_read, "BIO_read")
    SHD_RESOLVE(bio_free, "BIO_free")
    SHD_RESOLVE(pem_read_bio_x509, "PEM_read_bio_X509")
    SHD_RESOLVE(x509_free, "X509_free")
    SHD_RESOLVE(x509_get0_notafter, "X509_get0_notAfter")
    SHD_RESOLVE(asn1_time_diff, "ASN1_TIME_diff")
    SHD_RESOLVE(asn1_time_to_tm, "ASN1_TIME_to_tm")
    SHD_RESOLVE(x509_get_subject_name, "X509_get_subject_name")
    SHD_RESOLVE(x509_get_issuer_name, "X509_get_issuer_name")
    SHD_RESOLVE(x509_name_print_ex, "X509_NAME_print_ex")
    SHD_RESOLVE(x509_check_host, "X509_check_host")
    SHD_RESOLVE(x509_store_new, "X509_STORE_new")
    SHD_RESOLVE(x509_store_free, "X509_STORE_free")
    SHD_RESOLVE(x509_store_set_default_paths, "X509_STORE_set_default_paths")
    SHD_RESOLVE(x509_store_load_locations, "X509_STORE_load_locations")
    SHD_RESOLVE(x509_store_ctx_new, "X509_STORE_CTX_new")
    SHD_RESOLVE(x509_store_ctx_free, "X509_STORE_CTX_free")
    SHD_RESOLVE(x509_store_ctx_init, "X509_STORE_CTX_init")
    SHD_RESOLVE(x509_verify_cert, "X509_verify_cert")
    SHD_RESOLVE(x509_store_ctx_get_error, "X509_STORE_CTX_get_error")
    SHD_RESOLVE(x509_verify_cert_error_string, "X509_verify_cert_error_string")
    SHD_RESOLVE(sk_new_null, "OPENSSL_sk_new_null")
    SHD_RESOLVE(sk_push, "OPENSSL_sk_push")
    SHD_RESOLVE(sk_free, "OPENSSL_sk_free")
    SHD_RESOLVE(sk_num, "OPENSSL_sk_num")
    SHD_RESOLVE(sk_value, "OPENSSL_sk_value")
    SHD_RESOLVE(err_clear_error, "ERR_clear_error")
#undef SHD_RESOLVE
    if (missing) {
        snprintf(err, errlen, SHD_LIBCRYPTO " has no %s \xe2\x80\x94 install libssl3", missing);
        dlclose(h);
        goto out;
    }
    __atomic_store_n(&loaded, 1, __ATOMIC_RELEASE);
    rc = 0;
out:
    pthread_mutex_unlock(&load_lock);
    if (rc != 0 && errlen > 0) err[errlen - 1] = 0;
    return rc;
}

// CA stores by file, so the system bundle is parsed once, not at every probe run (a few ms each).
#define SHD_STORES 8
static struct { char path[512]; X509_STORE *store; } stores[SHD_STORES];

static X509_STORE *store_for(const char *ca_file) {
    const char *key = ca_file ? ca_file : "";
    if (strlen(key) >= sizeof stores[0].path) return NULL;
    int free_slot = -1;
    for (int i = 0; i < SHD_STORES; i++) {
        if (stores[i].store && strcmp(stores[i].path, key) == 0) return stores[i].store;
        if (!stores[i].store && free_slot < 0) free_slot = i;
    }
    X509_STORE *s = api.x509_store_new();
    if (!s) return NULL;
    int ok = ca_file ? api.x509_store_load_locations(s, ca_file, NULL) : api.x509_store_set_default_paths(s);
    if (ok != 1) {
        api.x509_store_free(s);
        return NULL;
    }
    if (free_slot < 0) { // full: replace the first
        api.x509_store_free(stores[0].store);
        free_slot = 0;
    }
    snprintf(stores[free_slot].path, sizeof stores[free_slot].path, "%s", key);
    stores[free_slot].store = s;
    return s;
}

static void name_text(X509_NAME *n, char *out, size_t cap) {
    out[0] = 0;
    BIO *b = api.bio_new(api.bio_s_mem());
    if (!b) return;
    if (api.x509_name_print_ex(b, n, 0, XN_FLAG_RFC2253) >= 0) {
        int k = api.bio_read(b, out, (int)cap - 1);
        out[k > 0 ? k : 0] = 0;
    }
    api.bio_free(b);
}

int shd_cert_inspect(const char *pem, size_t len, const char *host, const char *ca_file, struct shd_cert_info *out,
                     char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (!shd_crypto_loaded()) {
        snprintf(err, errlen, "libcrypto is not loaded");
        return -1;
    }
    if (len > (size_t)1 << 24) {
        snprintf(err, errlen, "more than 16 MiB of PEM");
        return -1;
    }
    BIO *in = api.bio_new_mem_buf(pem, (int)len);
    if (!in) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    X509 *leaf = api.pem_read_bio_x509(in, NULL, NULL, NULL);
    if (!leaf) {
        api.bio_free(in);
        api.err_clear_error();
        snprintf(err, errlen, "no PEM certificate (-----BEGIN CERTIFICATE-----) in it");
        return -1;
    }
    out->count = 1;
    OPENSSL_STACK *chain = api.sk_new_null();
    X509 *x;
    while (out->count < 64 && (x = api.pem_read_bio_x509(in, NULL, NULL, NULL)) != NULL) {
        if (!chain || !api.sk_push(chain, x)) { api.x509_free(x); break; }
        out->count++;
    }
    api.err_clear_error();
    api.bio_free(in);

    name_text(api.x509_get_subject_name(leaf), out->subject, sizeof out->subject);
    name_text(api.x509_get_issuer_name(leaf), out->issuer, sizeof out->issuer);
    const ASN1_TIME *na = api.x509_get0_notafter(leaf);
    struct tm tm;
    if (na && api.asn1_time_to_tm(na, &tm) == 1) out->not_after = (long long)timegm(&tm);
    int days = 0, secs = 0;
    if (na && api.asn1_time_diff(&days, &secs, NULL, na) == 1) out->days_left = days + secs / 86400.0;
    out->san_match = host && *host ? api.x509_check_host(leaf, host, strlen(host), 0, NULL) == 1 : -1;

    X509_STORE *store = store_for(ca_file);
    X509_STORE_CTX *ctx = store ? api.x509_store_ctx_new() : NULL;
    if (!store) {
        snprintf(out->chain_error, sizeof out->chain_error, "cannot load the CA certificates%s%s", ca_file ? " of " : "",
                 ca_file ? ca_file : "");
    } else if (ctx && api.x509_store_ctx_init(ctx, store, leaf, (STACK_OF(X509) *)chain) == 1) {
        out->chain_valid = api.x509_verify_cert(ctx) == 1;
        if (!out->chain_valid) {
            const char *why = api.x509_verify_cert_error_string(api.x509_store_ctx_get_error(ctx));
            snprintf(out->chain_error, sizeof out->chain_error, "%s", why ? why : "does not verify");
        }
    } else {
        snprintf(out->chain_error, sizeof out->chain_error, "cannot set up the verification");
    }
    if (ctx) api.x509_store_ctx_free(ctx);
    api.err_clear_error();
    if (chain) {
        // The stack does not own its certificates.
        for (int i = 0; i < api.sk_num(chain); i++) api.x509_free((X509 *)api.sk_value(chain, i));
        api.sk_free(chain);
    }
    api.x509_free(leaf);
    return 0;
}
