/*
 * sleep — Luge example function (long-running).
 *
 * Sleeps N seconds, then prints "slept N s".
 * N comes from argv[1], else from stdin, else defaults to 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long parse_n(int argc, char **argv, long dflt) {
    char line[64];
    const char *s = NULL;
    if (argc > 1)
        s = argv[1];
    else if (fgets(line, sizeof line, stdin))
        s = line;
    if (s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end != s && v >= 0) return v;
    }
    return dflt;
}

int main(int argc, char **argv) {
    long n = parse_n(argc, argv, 1);
    struct timespec ts = { .tv_sec = n, .tv_nsec = 0 };
    while (nanosleep(&ts, &ts) != 0) {
        /* interrupted: ts holds the remaining time, sleep again */
    }
    printf("slept %ld s\n", n);
    return 0;
}
