/* cholesky: in-place Cholesky decomposition A = L * L^T of a positive-definite matrix. */
#define PB_KERNEL_NAME "cholesky"
#include <math.h>
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
    pb_init_positive_definite(n, &A[0][0]);
}

static void kernel_cholesky(int n, double A[N][N]) {
    for (int i = 0; i < n; i++) {
        /* j < i */
        for (int j = 0; j < i; j++) {
            for (int k = 0; k < j; k++)
                A[i][j] -= A[i][k] * A[j][k];
            A[i][j] /= A[j][j];
        }
        /* j == i */
        for (int k = 0; k < i; k++)
            A[i][i] -= A[i][k] * A[i][k];
        A[i][i] = sqrt(A[i][i]);
    }
}

int main(int argc, char **argv) {
    pb_init(argc, argv);
    double (*A)[N] = pb_alloc((size_t)N * N, sizeof(double));

    init_array(N, A);
    pb_start();
    kernel_cholesky(N, A);
    pb_stop();
    if (pb_dump) {
        /* Like PolyBench's print_array: only the lower triangle (j <= i), row by row. */
        double *L = pb_alloc((size_t)N * (N + 1) / 2, sizeof(double));
        size_t c = 0;
        for (int i = 0; i < N; i++)
            for (int j = 0; j <= i; j++)
                L[c++] = A[i][j];
        pb_dump_doubles("A", L, c);
        free(L);
    }

    free(A);
    return 0;
}
