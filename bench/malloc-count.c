/* LD_PRELOAD heap-allocation counter (as swift-nio's allocation tests count mallocs): every malloc,
   calloc, realloc, posix_memalign, aligned_alloc and memalign of the process is counted, then handed
   to glibc's own (__libc_*). The program reads the count through `shd_malloc_count`, found with
   dlsym(RTLD_DEFAULT): absent (NULL) when the library was not preloaded.
   Build: cc -shared -fPIC -O2 -o libmalloc-count.so bench/malloc-count.c */
#include <stddef.h>
#include <errno.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static unsigned long long allocations, frees;

unsigned long long shd_malloc_count(void) { return __atomic_load_n(&allocations, __ATOMIC_RELAXED); }
unsigned long long shd_free_count(void) { return __atomic_load_n(&frees, __ATOMIC_RELAXED); }

static void count(void) { __atomic_fetch_add(&allocations, 1, __ATOMIC_RELAXED); }

void *malloc(size_t n) { count(); return __libc_malloc(n); }
void *calloc(size_t n, size_t m) { count(); return __libc_calloc(n, m); }
void *realloc(void *p, size_t n) { count(); return __libc_realloc(p, n); }
void *memalign(size_t a, size_t n) { count(); return __libc_memalign(a, n); }
void *aligned_alloc(size_t a, size_t n) { count(); return __libc_memalign(a, n); }
int posix_memalign(void **out, size_t a, size_t n) {
    count();
    void *p = __libc_memalign(a, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
void free(void *p) {
    if (p) __atomic_fetch_add(&frees, 1, __ATOMIC_RELAXED);
    __libc_free(p);
}
