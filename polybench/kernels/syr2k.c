/* syr2k: C = alpha * A * B^T + alpha * B * A^T + beta * C, lower triangle only (BLAS level 3). */
#define PB_KERNEL_NAME "syr2k"
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

static void init_array(int n, int m, double *alpha, double *beta,
                       double C[N][N], double A[N][M], double B[N][M]) {
    *alpha = 1.5;
    *beta = 1.2;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) {
            A[i][j] = (double)((i * j + 1) % n) / n;
            B[i][j] = (double)((i * j + 2) % m) / m;
        }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            C[i][j] = (double)((i * j + 3) % n) / m;
}

static void kernel_syr2k(int n, int m, double alpha, double beta,
                         double C[N][N], double A[N][M], double B[N][M]) {
    for (int i = 0; i < n; i++) {
        for (int j = 0; j <= i; j++)
            C[i][j] *= beta;
        for (int k = 0; k < m; k++)
            for (int j = 0; j <= i; j++)
                C[i][j] += A[j][k] * alpha * B[i][k] + B[j][k] * alpha * A[i][k];
    }
}

int main(int argc, char **argv) {
    pb_init(argc, argv);
    double alpha, beta;
    double (*C)[N] = pb_alloc((size_t)N * N, sizeof(double));
    double (*A)[M] = pb_alloc((size_t)N * M, sizeof(double));
    double (*B)[M] = pb_alloc((size_t)N * M, sizeof(double));

    init_array(N, M, &alpha, &beta, C, A, B);
    pb_start();
    kernel_syr2k(N, M, alpha, beta, C, A, B);
    pb_stop();
    if (pb_dump)
        pb_dump_doubles("C", &C[0][0], (size_t)N * N);

    free(C);
    free(A);
    free(B);
    return 0;
}
