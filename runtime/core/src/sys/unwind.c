/* Non-local exit from a trapping sandbox back to the host frame that
 * entered it. setjmp must be called from the frame that stays live while
 * the guest runs, which Rust cannot express, so the pair lives here. */
#include <setjmp.h>

/* Runs body(payload) with *slot pointing at a jump buffer. Returns 1 when
 * body returned normally and 0 when luge_unwind jumped back. */
int luge_catch(void **slot, void (*body)(void *), void *payload) {
    sigjmp_buf buf;
    if (sigsetjmp(buf, 0) != 0) {
        return 0;
    }
    *slot = &buf;
    body(payload);
    return 1;
}

/* Abandons every frame above the luge_catch that filled `buf`. */
void luge_unwind(void *buf) {
    siglongjmp(*(sigjmp_buf *)buf, 1);
}
