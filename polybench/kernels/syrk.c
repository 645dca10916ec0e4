/* syrk: C = alpha * A * A^T + beta * C, lower triangle only (BLAS level 3). */
#define PB_KERNEL_NAME "syrk"
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
                       double C[N][N], double A[N][M]) {
    *alpha = 1.5;
    *beta = 1.2;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++)
            A[i][j] = (double)((i * j + 1) % n) / n;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            C[i][j] = (double)((i * j + 2) % m) / m;
}

static void kernel_syrk(int n, int m, double alpha, double beta,
                        double C[N][N], double A[N][M]) {
    for (int i = 0; i < n; i++) {
        for (int j = 0; j <= i; j++)
            C[i][j] *= beta;
        for (int k = 0; k < m; k++)
            for (int j = 0; j <= i; j++)
                C[i][j] += alpha * A[i][k] * A[j][k];
    }
}

int main(int argc, char **argv) {
    pb_init(argc, argv);
    double alpha, beta;
    double (*C)[N] = pb_alloc((size_t)N * N, sizeof(double));
    double (*A)[M] = pb_alloc((size_t)N * M, sizeof(double));

    init_array(N, M, &alpha, &beta, C, A);
    pb_start();
    kernel_syrk(N, M, alpha, beta, C, A);
    pb_stop();
    if (pb_dump)
        pb_dump_doubles("C", &C[0][0], (size_t)N * N);

    free(C);
    free(A);
    return 0;
}
