/*
 * spin — the hostile-tenant benchmark's CPU hog (luge-load hostile).
 *
 * Loops forever without a call, a system call or a memory access the
 * compiler could drop: the counter is volatile, so every iteration loads
 * and stores it. It never returns; only the route's timeout (preemption
 * and the sandbox being stopped) ends it, answered 504.
 *
 * Built (and committed) with:
 *   clang-16 --target=wasm32-wasi --sysroot=/usr -O2 -g0 -Wall -Wextra \
 *       -Werror -Wl,--strip-debug spin.c -o spin.wasm
 */
int main(void) {
    volatile unsigned long counter = 0;
    for (;;)
        counter++;
}
