// OpenSSL's libcrypto, loaded on demand: shd does not link it. `shd_crypto_load` dlopens libcrypto.so.3 the first time
// a probe needs to read a certificate (a tls or certificate probe) and resolves every function shd uses into one
// table (crypto_loader.c). Certificates are parsed and verified by libcrypto, never by hand; this header only
// declares the small result shd reads, so Swift sees no OpenSSL type.
#ifndef SHD_CCRYPTO_SHIM_H
#define SHD_CCRYPTO_SHIM_H
#include <stddef.h>

/// dlopen("libcrypto.so.3") and dlsym of every function crypto_loader.c uses. Idempotent; once it succeeded it returns
/// 0 at once. On failure returns -1 with a message in `err` ("libcrypto.so.3: cannot open shared object file: … —
/// install libssl3"); a later call tries again.
int shd_crypto_load(char *err, size_t errlen);
/// 1 once `shd_crypto_load` succeeded.
int shd_crypto_loaded(void);

/// What shd reads from a certificate (the first of a PEM text; the others are its untrusted intermediates).
struct shd_cert_info {
    /// RFC 2253 names, truncated to fit.
    char subject[512];
    char issuer[512];
    /// notAfter as seconds since the epoch (UTC), and the time from now to it in days (negative once past).
    long long not_after;
    double days_left;
    /// 1 when valid for the name given (subjectAltName, RFC 6125 via X509_check_host), 0 when not, -1 without a name.
    int san_match;
    /// 1 when the chain verifies against the CA file (or the system's CAs), else 0 with the reason in chain_error.
    int chain_valid;
    char chain_error[256];
    /// Certificates found in the text.
    int count;
};

/// Parses the PEM text `pem` (`len` bytes) with libcrypto. `host` (may be NULL) is checked against the leaf;
/// `ca_file` (may be NULL: the system's default paths) anchors the chain. Returns 0 and fills `out`, or -1 with the
/// reason in `err` (no certificate in the text, libcrypto not loaded). Not thread-safe (one cache of CA stores):
/// shd calls it from its loop thread only.
int shd_cert_inspect(const char *pem, size_t len, const char *host, const char *ca_file, struct shd_cert_info *out,
                     char *err, size_t errlen);
#endif
