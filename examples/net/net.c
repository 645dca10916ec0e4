/*
 * net — Luge example function (I/O-bound stand-in).
 *
 * Simulates waiting on a network call: sleeps 300 ms with nanosleep(),
 * then prints "done".  Useful for testing that a runtime does not burn
 * a CPU core while a function is blocked.
 */
#include <stdio.h>
#include <time.h>

int main(void) {
    struct timespec ts = { .tv_sec = 0, .tv_nsec = 300L * 1000 * 1000 };
    while (nanosleep(&ts, &ts) != 0) {
        /* interrupted: ts holds the remaining time, sleep again */
    }
    printf("done\n");
    return 0;
}
