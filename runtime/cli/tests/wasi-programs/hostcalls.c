/*
 * hostcalls N DIR: N rounds of host calls of every kind, each checked, for
 * the test that signals arriving during host calls change nothing
 * (tests/host_call_signals.rs). Each round sleeps 1 ms and checks against
 * the clock that it did, reads a line from stdin, writes it to a file in
 * DIR and reads it back, draws random bytes, and echoes the line with the
 * round's number. Any failure is reported on stderr with exit status 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int fail(unsigned long round, const char *what) {
    fprintf(stderr, "round %lu: %s\n", round, what);
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: hostcalls N DIR\n");
        return 2;
    }
    unsigned long rounds = strtoul(argv[1], NULL, 10);
    char path[256], line[128], back[128];
    snprintf(path, sizeof path, "%s/scratch", argv[2]);
    for (unsigned long i = 0; i < rounds; i++) {
        long long start = now_ns();
        struct timespec ms = {0, 1000000};
        if (nanosleep(&ms, NULL) != 0) return fail(i, "nanosleep failed");
        if (now_ns() - start < 1000000) return fail(i, "slept less than 1 ms");
        if (!fgets(line, sizeof line, stdin)) return fail(i, "stdin ended");
        FILE *f = fopen(path, "w");
        if (!f || fputs(line, f) < 0 || fclose(f) != 0) return fail(i, "cannot write the file");
        f = fopen(path, "r");
        if (!f || !fgets(back, sizeof back, f) || fclose(f) != 0) return fail(i, "cannot read the file");
        if (strcmp(line, back) != 0) return fail(i, "the file reads back different");
        unsigned char random[32];
        if (getentropy(random, sizeof random) != 0) return fail(i, "getentropy failed");
        printf("%lu %s", i, line);
        if (fflush(stdout) != 0) return fail(i, "cannot write stdout");
    }
    printf("done\n");
    return 0;
}
