/* jacobi-2d: 2D Jacobi stencil, 5-point average alternating between A and B. */
#define PB_KERNEL_NAME "jacobi-2d"
#include "polybench.h"

#if defined(MINI_DATASET)
#define TSTEPS 20
#define N 30
#elif defined(SMALL_DATASET)
#define TSTEPS 40
#define N 90
#elif defined(MEDIUM_DATASET)
#define TSTEPS 100
#define N 250
#elif defined(LARGE_DATASET)
#define TSTEPS 500
#define N 1300
#else
#define TSTEPS 1000
#define N 2800
#endif

static void init_array(int n, double A[N][N], double B[N][N]) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            A[i][j] = ((double)i * (j + 2) + 2) / n;
            B[i][j] = ((double)i * (j + 3) + 3) / n;
        }
}

static void kernel_jacobi_2d(int tsteps, int n, double A[N][N], double B[N][N]) {
    for (int t = 0; t < tsteps; t++) {
        for (int i = 1; i < n - 1; i++)
            for (int j = 1; j < n - 1; j++)
                B[i][j] = 0.2 * (A[i][j] + A[i][j - 1] + A[i][j + 1] + A[i + 1][j] + A[i - 1][j]);
        for (int i = 1; i < n - 1; i++)
            for (int j = 1; j < n - 1; j++)
                A[i][j] = 0.2 * (B[i][j] + B[i][j - 1] + B[i][j + 1] + B[i + 1][j] + B[i - 1][j]);
    }
}

int main(int argc, char **argv) {
    pb_init(argc, argv);
    double (*A)[N] = pb_alloc((size_t)N * N, sizeof(double));
    double (*B)[N] = pb_alloc((size_t)N * N, sizeof(double));

    init_array(N, A, B);
    pb_start();
    kernel_jacobi_2d(TSTEPS, N, A, B);
    pb_stop();
    if (pb_dump)
        pb_dump_doubles("A", &A[0][0], (size_t)N * N);

    free(A);
    free(B);
    return 0;
}
