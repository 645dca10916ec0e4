/* jacobi-1d: 1D Jacobi stencil, 3-point average alternating between A and B. */
#define PB_KERNEL_NAME "jacobi-1d"
#include "polybench.h"

#if defined(MINI_DATASET)
#define TSTEPS 20
#define N 30
#elif defined(SMALL_DATASET)
#define TSTEPS 40
#define N 120
#elif defined(MEDIUM_DATASET)
#define TSTEPS 100
#define N 400
#elif defined(LARGE_DATASET)
#define TSTEPS 500
#define N 2000
#else
#define TSTEPS 1000
#define N 4000
#endif

static void init_array(int n, double A[N], double B[N]) {
    for (int i = 0; i < n; i++) {
        A[i] = ((double)i + 2) / n;
        B[i] = ((double)i + 3) / n;
    }
}

static void kernel_jacobi_1d(int tsteps, int n, double A[N], double B[N]) {
    for (int t = 0; t < tsteps; t++) {
        for (int i = 1; i < n - 1; i++)
            B[i] = 0.33333 * (A[i - 1] + A[i] + A[i + 1]);
        for (int i = 1; i < n - 1; i++)
            A[i] = 0.33333 * (B[i - 1] + B[i] + B[i + 1]);
    }
}

int main(int argc, char **argv) {
    pb_init(argc, argv);
    double *A = pb_alloc(N, sizeof(double));
    double *B = pb_alloc(N, sizeof(double));

    init_array(N, A, B);
    pb_start();
    kernel_jacobi_1d(TSTEPS, N, A, B);
    pb_stop();
    if (pb_dump)
        pb_dump_doubles("A", A, N);

    free(A);
    free(B);
    return 0;
}
