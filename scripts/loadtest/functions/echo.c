/*
 * echo — the cold-start experiment's OpenWhisk action (luge-load cold).
 *
 * Copies stdin to stdout: given the action's parameters (a JSON object),
 * it prints them back, so its result is a JSON object as OpenWhisk
 * requires, and the activation measures start-up, not work.
 *
 * Built (and committed) with:
 *   clang-16 --target=wasm32-wasi --sysroot=/usr -O2 -g0 -Wl,--strip-debug \
 *       echo.c -o echo.wasm
 */
#include <stdio.h>

int main(void) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0)
        fwrite(buf, 1, n, stdout);
    return 0;
}
