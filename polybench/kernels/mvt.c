/* mvt: x1 = x1 + A * y_1 and x2 = x2 + A^T * y_2, two matrix-vector products. */
#define PB_KERNEL_NAME "mvt"
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

static void init_array(int n, double x1[N], double x2[N], double y_1[N], double y_2[N],
                       double A[N][N]) {
    for (int i = 0; i < n; i++) {
        x1[i] = (double)(i % n) / n;
        x2[i] = (double)((i + 1) % n) / n;
        y_1[i] = (double)((i + 3) % n) / n;
        y_2[i] = (double)((i + 4) % n) / n;
        for (int j = 0; j < n; j++)
            A[i][j] = (double)(i * j % n) / n;
    }
}

static void kernel_mvt(int n, double x1[N], double x2[N], double y_1[N], double y_2[N],
                       double A[N][N]) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            x1[i] = x1[i] + A[i][j] * y_1[j];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            x2[i] = x2[i] + A[j][i] * y_2[j];
}

int main(int argc, char **argv) {
    pb_init(argc, argv);
    double (*A)[N] = pb_alloc((size_t)N * N, sizeof(double));
    double *x1 = pb_alloc(N, sizeof(double));
    double *x2 = pb_alloc(N, sizeof(double));
    double *y_1 = pb_alloc(N, sizeof(double));
    double *y_2 = pb_alloc(N, sizeof(double));

    init_array(N, x1, x2, y_1, y_2, A);
    pb_start();
    kernel_mvt(N, x1, x2, y_1, y_2, A);
    pb_stop();
    if (pb_dump) {
        pb_dump_doubles("x1", x1, N);
        pb_dump_doubles("x2", x2, N);
    }

    free(A);
    free(x1);
    free(x2);
    free(y_1);
    free(y_2);
    return 0;
}
