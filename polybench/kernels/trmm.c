/* trmm: B = alpha * A^T * B with A unit lower triangular (BLAS level 3). */
#define PB_KERNEL_NAME "trmm"
#include "polybench.h"

#if defined(MINI_DATASET)
#define M 20
#define N 30
#elif defined(SMALL_DATASET)
#define M 60
#define N 80
#elif defined(MEDIUM_DATASET)
#define M 200
#define N 240
#elif defined(LARGE_DATASET)
#define M 1000
#define N 1200
#else
#define M 2000
#define N 2600
#endif

static void init_array(int m, int n, double *alpha, double A[M][M], double B[M][N]) {
    *alpha = 1.5;
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < i; j++)
            A[i][j] = (double)((i + j) % m) / m;
        A[i][i] = 1.0;
        for (int j = 0; j < n; j++)
            B[i][j] = (double)((n + (i - j)) % n) / n;
    }
}

static void kernel_trmm(int m, int n, double alpha, double A[M][M], double B[M][N]) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            for (int k = i + 1; k < m; k++)
                B[i][j] += A[k][i] * B[k][j];
            B[i][j] = alpha * B[i][j];
        }
}

int main(int argc, char **argv) {
    pb_init(argc, argv);
    double alpha;
    double (*A)[M] = pb_alloc((size_t)M * M, sizeof(double));
    double (*B)[N] = pb_alloc((size_t)M * N, sizeof(double));

    init_array(M, N, &alpha, A, B);
    pb_start();
    kernel_trmm(M, N, alpha, A, B);
    pb_stop();
    if (pb_dump)
        pb_dump_doubles("B", &B[0][0], (size_t)M * N);

    free(A);
    free(B);
    return 0;
}
