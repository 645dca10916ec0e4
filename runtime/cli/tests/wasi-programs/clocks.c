/*
 * clocks: the clocks advance, the wall clock is plausible, and sleeps
 * last at least as long as asked. Prints only yes/no verdicts and values
 * computed from fixed inputs.
 */
#include <stdint.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int64_t ns(clockid_t clock) {
    struct timespec ts;
    if (clock_gettime(clock, &ts) != 0) return -1;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const char *yes(int b) { return b ? "yes" : "no"; }

int main(void) {
    int64_t m0 = ns(CLOCK_MONOTONIC);
    volatile uint64_t spin = 0;
    int64_t m1 = m0;
    for (long i = 0; i < 100000000 && m1 == m0; i++) {
        spin += i;
        if (i % 1000 == 0) m1 = ns(CLOCK_MONOTONIC);
    }
    printf("monotonic readable: %s\n", yes(m0 > 0));
    printf("monotonic advances: %s\n", yes(m1 > m0));
    int64_t last = ns(CLOCK_MONOTONIC), decreased = 0;
    for (int i = 0; i < 10000; i++) {
        int64_t now = ns(CLOCK_MONOTONIC);
        decreased |= now < last;
        last = now;
    }
    printf("monotonic never decreases: %s\n", yes(!decreased));

    struct timespec res;
    printf("monotonic resolution <= 1 ms: %s\n",
           yes(clock_getres(CLOCK_MONOTONIC, &res) == 0 && res.tv_sec == 0 &&
               res.tv_nsec > 0 && res.tv_nsec <= 1000000));
    printf("realtime resolution <= 1 ms: %s\n",
           yes(clock_getres(CLOCK_REALTIME, &res) == 0 && res.tv_sec == 0 &&
               res.tv_nsec > 0 && res.tv_nsec <= 1000000));

    /* Between 2023-11-14 and 2100-01-01. */
    time_t t = time(NULL);
    printf("time() plausible: %s\n", yes(t > 1700000000 && (long long)t < 4102444800LL));
    int64_t real = ns(CLOCK_REALTIME);
    printf("realtime agrees with time(): %s\n", yes(real / 1000000000 - t <= 2 && t - real / 1000000000 <= 2));
    struct timeval tv;
    printf("gettimeofday agrees: %s\n",
           yes(gettimeofday(&tv, NULL) == 0 && tv.tv_sec - t <= 2 && t - tv.tv_sec <= 2 &&
               tv.tv_usec >= 0 && tv.tv_usec < 1000000));

    struct timespec req = {0, 20 * 1000000};
    int64_t before = ns(CLOCK_MONOTONIC);
    int rc = nanosleep(&req, NULL);
    int64_t slept = ns(CLOCK_MONOTONIC) - before;
    printf("nanosleep returned %d, slept >= 20ms: %s, < 2 s: %s\n", rc, yes(slept >= 20000000),
           yes(slept < 2000000000));

    before = ns(CLOCK_MONOTONIC);
    rc = usleep(20000);
    slept = ns(CLOCK_MONOTONIC) - before;
    printf("usleep returned %d, slept >= 20ms: %s, < 2 s: %s\n", rc, yes(slept >= 20000000),
           yes(slept < 2000000000));

    int64_t rbefore = ns(CLOCK_REALTIME);
    before = ns(CLOCK_MONOTONIC);
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_nsec += 30 * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL);
    slept = ns(CLOCK_MONOTONIC) - before;
    printf("clock_nanosleep abstime returned %d, slept >= 29ms: %s\n", rc, yes(slept >= 29000000));
    printf("realtime advanced too: %s\n", yes(ns(CLOCK_REALTIME) - rbefore >= 20000000));

    struct timespec zero = {0, 0};
    printf("nanosleep(0) returned %d\n", nanosleep(&zero, NULL));

    /* Calendar conversions of fixed instants (UTC). */
    static const time_t instants[] = {0, 951782400, 1234567890, 2147483647, 4102444799LL};
    for (size_t i = 0; i < sizeof instants / sizeof instants[0]; i++) {
        struct tm tm;
        char buf[64];
        gmtime_r(&instants[i], &tm);
        strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %a %j", &tm);
        printf("gmtime(%lld) = %s, yday %d, wday %d, back %lld\n", (long long)instants[i], buf,
               tm.tm_yday, tm.tm_wday, (long long)timegm(&tm));
    }
    return 0;
}
