/* durbin: Levinson-Durbin recursion, solves a Toeplitz system (Yule-Walker equations). */
#define PB_KERNEL_NAME "durbin"
#include "polybench.h"

#if defined(MINI_DATASET)
#define N 40
#elif defined(SMALL_DATASET)
#define N 120
#elif defined(MEDIUM_DATASET)
#define N 400
#elif defined(LARGE_DATASET)
#define N 2000
#else
#define N 4000
#endif

static void init_array(int n, double r[N]) {
    for (int i = 0; i < n; i++)
        r[i] = n + 1 - i;
}

/* z is the kernel's scratch vector (a local array in PolyBench); it is passed
 * in from the heap because the wasm stack is small. */
static void kernel_durbin(int n, double r[N], double y[N], double z[N]) {
    double alpha, beta, sum;

    y[0] = -r[0];
    beta = 1.0;
    alpha = -r[0];

    for (int k = 1; k < n; k++) {
        beta = (1 - alpha * alpha) * beta;
        sum = 0.0;
        for (int i = 0; i < k; i++)
            sum += r[k - i - 1] * y[i];
        alpha = -(r[k] + sum) / beta;

        for (int i = 0; i < k; i++)
            z[i] = y[i] + alpha * y[k - i - 1];
        for (int i = 0; i < k; i++)
            y[i] = z[i];
        y[k] = alpha;
    }
}

int main(int argc, char **argv) {
    pb_init(argc, argv);
    double *r = pb_alloc(N, sizeof(double));
    double *y = pb_alloc(N, sizeof(double));
    double *z = pb_alloc(N, sizeof(double));

    init_array(N, r);
    pb_start();
    kernel_durbin(N, r, y, z);
    pb_stop();
    if (pb_dump)
        pb_dump_doubles("y", y, N);

    free(r);
    free(y);
    free(z);
    return 0;
}
