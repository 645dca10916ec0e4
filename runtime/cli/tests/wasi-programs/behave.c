/*
 * behave: does one thing, chosen by argv[1], for the tests of how `luge
 * run` and the library report how a program ended.
 *
 *   return3          returns 3 from main
 *   exit42           prints a line, then exit(42)
 *   trap             __builtin_trap()
 *   oob              loads a byte 3 GiB into linear memory, past any memory
 *                    the tests give it (an out-of-bounds trap)
 *   spin             loops forever without calls
 *   malloc10         mallocs 10 MiB; prints whether it got NULL (exit 1)
 *   exhaust          mallocs 1 MiB blocks, touching them, until NULL (exit 1)
 *   recurse N        recursion N deep (not a tail call), prints the depth
 *   recurse_forever  recursion without end
 *   print N          prints N bytes ('x', a newline every 50)
 *   flood            writes to stdout forever, ignoring every error
 *   grab N           mallocs N MiB at once, touching every page, holds it 300 ms,
 *                    prints how much it got (exit 1 if short)
 *   sleep N          sleeps N ms, then sums 1..N000 in a loop and prints the sum
 *   cat PATH         reads the file PATH to its end, prints how many bytes
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned sink;
/* Allocations are stored here so that the compiler cannot elide them (an
 * unused malloc may be assumed to succeed). */
static char *volatile keep;

/* Not a tail call, and not turned into a loop: the volatile store after
 * the call keeps every frame. */
__attribute__((noinline)) static unsigned depth(unsigned n) {
    if (n == 0) return 0;
    unsigned below = depth(n - 1);
    sink = below;
    return below + 1;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: behave MODE [N]\n");
        return 2;
    }
    const char *mode = argv[1];
    unsigned long n = argc > 2 ? strtoul(argv[2], NULL, 10) : 0;
    if (strcmp(mode, "return3") == 0) return 3;
    if (strcmp(mode, "exit42") == 0) {
        printf("about to exit with 42\n");
        exit(42);
    }
    if (strcmp(mode, "trap") == 0) __builtin_trap();
    if (strcmp(mode, "oob") == 0) return *(volatile unsigned char *)0xc0000000u;
    if (strcmp(mode, "spin") == 0) {
        volatile unsigned x = 0;
        for (;;) x++;
    }
    if (strcmp(mode, "malloc10") == 0) {
        char *p = malloc(10 << 20);
        keep = p;
        if (!p) {
            printf("malloc(10 MiB) returned NULL\n");
            return 1;
        }
        memset(p, 1, 10 << 20);
        printf("malloc(10 MiB) succeeded\n");
        free(p);
        return 0;
    }
    if (strcmp(mode, "exhaust") == 0) {
        unsigned mib = 0;
        for (;;) {
            char *p = malloc(1 << 20);
            keep = p;
            if (!p) break;
            memset(p, 0xa5, 1 << 20);
            mib++;
        }
        printf("exhausted after %u MiB\n", mib);
        return 1;
    }
    if (strcmp(mode, "recurse") == 0) {
        printf("depth %u\n", depth((unsigned)n));
        return 0;
    }
    if (strcmp(mode, "recurse_forever") == 0) {
        printf("depth %u\n", depth(~0u));
        return 0;
    }
    if (strcmp(mode, "print") == 0) {
        for (unsigned long i = 1; i <= n; i++) putchar(i % 50 == 0 ? '\n' : 'x');
        return 0;
    }
    if (strcmp(mode, "flood") == 0) {
        static char chunk[4096];
        memset(chunk, 'f', sizeof chunk);
        for (;;) sink = (unsigned)write(1, chunk, sizeof chunk);
    }
    if (strcmp(mode, "grab") == 0) {
        /* One allocation, so one memory.grow: sandboxes that grab at
         * the same moment each get all or nothing of the budget, rather
         * than share it in 1 MiB steps until none has enough. */
        unsigned long got = 0;
        char *p = malloc(n << 20);
        keep = p;
        if (p) {
            memset(p, 0x5a, n << 20);
            got = n;
        }
        struct timespec hold = {.tv_sec = 0, .tv_nsec = 300 * 1000 * 1000};
        nanosleep(&hold, NULL);
        printf("grabbed %lu of %lu MiB\n", got, n);
        return got == n ? 0 : 1;
    }
    if (strcmp(mode, "sleep") == 0) {
        struct timespec pause = {.tv_sec = n / 1000, .tv_nsec = (long)(n % 1000) * 1000000};
        nanosleep(&pause, NULL);
        unsigned long long sum = 0;
        for (unsigned long i = 1; i <= n * 1000; i++) sum += i;
        printf("slept %lu ms, sum %llu\n", n, sum);
        return 0;
    }
    if (strcmp(mode, "cat") == 0) {
        /* Reads the file argv[2] to its end: on a FIFO nobody writes, the
         * open itself waits in the kernel, where no interruption reaches. */
        FILE *f = fopen(argv[2], "r");
        if (!f) {
            perror(argv[2]);
            return 1;
        }
        char buf[256];
        size_t got, total = 0;
        while ((got = fread(buf, 1, sizeof buf, f)) > 0) total += got;
        printf("read %zu bytes\n", total);
        return 0;
    }
    fprintf(stderr, "behave: unknown mode %s\n", mode);
    return 2;
}
