/* Prints adjtimex(2) in the layout of `adjtimex --print` (adjtimex(8)), for shd's fixture trees. */
#include <stdio.h>
#include <sys/timex.h>
int main(void) {
    struct timex t = {0};
    int ret = adjtimex(&t);
    printf("         mode: %u\n       offset: %ld\n    frequency: %ld\n     maxerror: %ld\n     esterror: %ld\n"
           "       status: %d\ntime_constant: %ld\n    precision: %ld\n    tolerance: %ld\n         tick: %ld\n"
           "     raw time:  %lds %ldus = %ld.%06ld\n return value = %d\n",
           t.modes, t.offset, t.freq, t.maxerror, t.esterror, t.status, t.constant, t.precision, t.tolerance,
           t.tick, (long)t.time.tv_sec, (long)t.time.tv_usec, (long)t.time.tv_sec, (long)t.time.tv_usec, ret);
    return ret < 0;
}
