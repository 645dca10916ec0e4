/* lu: in-place LU decomposition A = L * U without pivoting. */
#define PB_KERNEL_NAME "lu"
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

static void init_array(int n, double A[N][N]) {
    for (int i = 0; i < n; i++) {
        for (int j = 0; j <= i; j++)
            A[i][j] = (double)(-j % n) / n + 1;
        for (int j = i + 1; j < n; j++)
            A[i][j] = 0;
        A[i][i] = 1;
    }

    /* Make A positive definite (as for cholesky): A = L * L^T. */
    double (*B)[N] = pb_alloc((size_t)N * N, sizeof(double));
    for (int r = 0; r < n; r++)
        for (int s = 0; s < n; s++)
            B[r][s] = 0;
    /* A[r][t] is 0 for r < t, so the products skipped here are all zero:
     * starting at t gives bit-identical B in a fraction of the time. */
    for (int t = 0; t < n; t++)
        for (int r = t; r < n; r++)
            for (int s = t; s < n; s++)
                B[r][s] += A[r][t] * A[s][t];
    for (int r = 0; r < n; r++)
        for (int s = 0; s < n; s++)
            A[r][s] = B[r][s];
    free(B);
}

static void kernel_lu(int n, double A[N][N]) {
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < i; j++) {
            for (int k = 0; k < j; k++)
                A[i][j] -= A[i][k] * A[k][j];
            A[i][j] /= A[j][j];
        }
        for (int j = i; j < n; j++)
            for (int k = 0; k < i; k++)
                A[i][j] -= A[i][k] * A[k][j];
    }
}

int main(int argc, char **argv) {
    pb_init(argc, argv);
    double (*A)[N] = pb_alloc((size_t)N * N, sizeof(double));

    init_array(N, A);
    pb_start();
    kernel_lu(N, A);
    pb_stop();
    if (pb_dump)
        pb_dump_doubles("A", &A[0][0], (size_t)N * N);

    free(A);
    return 0;
}
