/*
 * trap — the hostile-tenant benchmark's crashing function (luge-load
 * hostile).
 *
 * Without arguments: a store through a wild pointer, far beyond the
 * module's linear memory, so the sandbox traps with an out-of-bounds
 * access (a guard-page fault, or a failed software bounds check).
 *
 * With the argument `stack` (`/stack?stack`): recursion without end, each
 * call through a volatile function pointer so that the compiler can
 * neither inline it nor turn it into a loop, and with its locals in wasm
 * locals, not in linear memory; the native stack runs out and the sandbox
 * traps with stack exhaustion.
 *
 * Either way the process must survive, and the request is answered 500.
 *
 * Built (and committed) with:
 *   clang-16 --target=wasm32-wasi --sysroot=/usr -O2 -g0 -Wall -Wextra \
 *       -Werror -Wl,--strip-debug trap.c -o trap.wasm
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Volatile, so that the compiler cannot prove the address out of bounds
 * and replace the store with something else. */
static volatile uintptr_t wild = 0xfffffff0u;

static int recurse(int n);
static int (*volatile next)(int) = recurse;

static int recurse(int n) {
    /* The addition after the call keeps it from being a tail call. */
    return next(n + 1) + n;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "stack") == 0) {
        printf("%d\n", recurse(0));
        return 0;
    }
    *(volatile int *)wild = 42;
    puts("the wild store did not trap");
    return 1;
}
