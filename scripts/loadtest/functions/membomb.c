/*
 * membomb — the hostile-tenant benchmark's memory hog (luge-load hostile).
 *
 * Allocates 1 MiB chunks, writing to every 4 KiB page of each so that the
 * memory is really committed, until malloc fails (the route's
 * `memory-limit-mib`, or wasm32's 4 GiB), then prints how much it got and
 * exits 0. The chunks are chained through their first word, and every
 * write is volatile, so the compiler cannot drop the allocations.
 *
 * Built (and committed) with:
 *   clang-16 --target=wasm32-wasi --sysroot=/usr -O2 -g0 -Wall -Wextra \
 *       -Werror -Wl,--strip-debug membomb.c -o membomb.wasm
 */
#include <stdio.h>
#include <stdlib.h>

#define CHUNK (1u << 20)
#define PAGE 4096u

int main(void) {
    void *volatile head = NULL;
    unsigned long mib = 0;
    for (;;) {
        volatile char *chunk = malloc(CHUNK);
        if (chunk == NULL)
            break;
        for (unsigned i = 0; i < CHUNK; i += PAGE)
            chunk[i] = (char)i;
        *(void *volatile *)chunk = head;
        head = (void *)chunk;
        mib++;
    }
    printf("got %lu MiB\n", mib);
    return 0;
}
