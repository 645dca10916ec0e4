/* atax: y = A^T * (A * x), matrix transpose times matrix-vector product. */
#define PB_KERNEL_NAME "atax"
#include "polybench.h"

#if defined(MINI_DATASET)
#define M 38
#define N 42
#elif defined(SMALL_DATASET)
#define M 116
#define N 124
#elif defined(MEDIUM_DATASET)
#define M 390
#define N 410
#elif defined(LARGE_DATASET)
#define M 1900
#define N 2100
#else
#define M 1800
#define N 2200
#endif

static void init_array(int m, int n, double A[M][N], double x[N]) {
    double fn = (double)n;
    for (int i = 0; i < n; i++)
        x[i] = 1 + (i / fn);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
            A[i][j] = (double)((i + j) % n) / (5 * m);
}

static void kernel_atax(int m, int n, double A[M][N], double x[N], double y[N], double tmp[M]) {
    for (int i = 0; i < n; i++)
        y[i] = 0.0;
    for (int i = 0; i < m; i++) {
        tmp[i] = 0.0;
        for (int j = 0; j < n; j++)
            tmp[i] = tmp[i] + A[i][j] * x[j];
        for (int j = 0; j < n; j++)
            y[j] = y[j] + A[i][j] * tmp[i];
    }
}

int main(int argc, char **argv) {
    pb_init(argc, argv);
    double (*A)[N] = pb_alloc((size_t)M * N, sizeof(double));
    double *x = pb_alloc(N, sizeof(double));
    double *y = pb_alloc(N, sizeof(double));
    double *tmp = pb_alloc(M, sizeof(double));

    init_array(M, N, A, x);
    pb_start();
    kernel_atax(M, N, A, x, y, tmp);
    pb_stop();
    if (pb_dump)
        pb_dump_doubles("y", y, N);

    free(A);
    free(x);
    free(y);
    free(tmp);
    return 0;
}
