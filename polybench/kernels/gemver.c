/* gemver: A += u1*v1^T + u2*v2^T; x = beta*A^T*y + z; w = alpha*A*x (BLAS-like vector kernel). */
#define PB_KERNEL_NAME "gemver"
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

static void init_array(int n, double *alpha, double *beta, double A[N][N],
                       double u1[N], double v1[N], double u2[N], double v2[N],
                       double w[N], double x[N], double y[N], double z[N]) {
    *alpha = 1.5;
    *beta = 1.2;
    double fn = (double)n;
    for (int i = 0; i < n; i++) {
        u1[i] = i;
        u2[i] = ((i + 1) / fn) / 2.0;
        v1[i] = ((i + 1) / fn) / 4.0;
        v2[i] = ((i + 1) / fn) / 6.0;
        y[i] = ((i + 1) / fn) / 8.0;
        z[i] = ((i + 1) / fn) / 9.0;
        x[i] = 0.0;
        w[i] = 0.0;
        for (int j = 0; j < n; j++)
            A[i][j] = (double)(i * j % n) / n;
    }
}

static void kernel_gemver(int n, double alpha, double beta, double A[N][N],
                          double u1[N], double v1[N], double u2[N], double v2[N],
                          double w[N], double x[N], double y[N], double z[N]) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            A[i][j] = A[i][j] + u1[i] * v1[j] + u2[i] * v2[j];

    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            x[i] = x[i] + beta * A[j][i] * y[j];

    for (int i = 0; i < n; i++)
        x[i] = x[i] + z[i];

    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            w[i] = w[i] + alpha * A[i][j] * x[j];
}

int main(int argc, char **argv) {
    pb_init(argc, argv);
    double alpha, beta;
    double (*A)[N] = pb_alloc((size_t)N * N, sizeof(double));
    double *u1 = pb_alloc(N, sizeof(double));
    double *v1 = pb_alloc(N, sizeof(double));
    double *u2 = pb_alloc(N, sizeof(double));
    double *v2 = pb_alloc(N, sizeof(double));
    double *w = pb_alloc(N, sizeof(double));
    double *x = pb_alloc(N, sizeof(double));
    double *y = pb_alloc(N, sizeof(double));
    double *z = pb_alloc(N, sizeof(double));

    init_array(N, &alpha, &beta, A, u1, v1, u2, v2, w, x, y, z);
    pb_start();
    kernel_gemver(N, alpha, beta, A, u1, v1, u2, v2, w, x, y, z);
    pb_stop();
    if (pb_dump)
        pb_dump_doubles("w", w, N);

    free(A);
    free(u1);
    free(v1);
    free(u2);
    free(v2);
    free(w);
    free(x);
    free(y);
    free(z);
    return 0;
}
