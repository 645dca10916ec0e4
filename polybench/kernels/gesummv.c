/* gesummv: y = alpha * A * x + beta * B * x (summed matrix-vector products). */
#define PB_KERNEL_NAME "gesummv"
#include "polybench.h"

#if defined(MINI_DATASET)
#define N 30
#elif defined(SMALL_DATASET)
#define N 90
#elif defined(MEDIUM_DATASET)
#define N 250
#elif defined(LARGE_DATASET)
#define N 1300
#else
#define N 2800
#endif

static void init_array(int n, double *alpha, double *beta, double A[N][N], double B[N][N],
                       double x[N]) {
    *alpha = 1.5;
    *beta = 1.2;
    for (int i = 0; i < n; i++) {
        x[i] = (double)(i % n) / n;
        for (int j = 0; j < n; j++) {
            A[i][j] = (double)((i * j + 1) % n) / n;
            B[i][j] = (double)((i * j + 2) % n) / n;
        }
    }
}

static void kernel_gesummv(int n, double alpha, double beta, double A[N][N], double B[N][N],
                           double tmp[N], double x[N], double y[N]) {
    for (int i = 0; i < n; i++) {
        tmp[i] = 0.0;
        y[i] = 0.0;
        for (int j = 0; j < n; j++) {
            tmp[i] = A[i][j] * x[j] + tmp[i];
            y[i] = B[i][j] * x[j] + y[i];
        }
        y[i] = alpha * tmp[i] + beta * y[i];
    }
}

int main(int argc, char **argv) {
    pb_init(argc, argv);
    double alpha, beta;
    double (*A)[N] = pb_alloc((size_t)N * N, sizeof(double));
    double (*B)[N] = pb_alloc((size_t)N * N, sizeof(double));
    double *tmp = pb_alloc(N, sizeof(double));
    double *x = pb_alloc(N, sizeof(double));
    double *y = pb_alloc(N, sizeof(double));

    init_array(N, &alpha, &beta, A, B, x);
    pb_start();
    kernel_gesummv(N, alpha, beta, A, B, tmp, x, y);
    pb_stop();
    if (pb_dump)
        pb_dump_doubles("y", y, N);

    free(A);
    free(B);
    free(tmp);
    free(x);
    free(y);
    return 0;
}
