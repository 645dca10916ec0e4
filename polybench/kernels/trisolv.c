/* trisolv: solve L * x = b for x by forward substitution, L lower triangular. */
#define PB_KERNEL_NAME "trisolv"
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

static void init_array(int n, double L[N][N], double x[N], double b[N]) {
    for (int i = 0; i < n; i++) {
        x[i] = -999;
        b[i] = i;
        for (int j = 0; j <= i; j++)
            L[i][j] = (double)(i + n - j + 1) * 2 / n;
    }
}

static void kernel_trisolv(int n, double L[N][N], double x[N], double b[N]) {
    for (int i = 0; i < n; i++) {
        x[i] = b[i];
        for (int j = 0; j < i; j++)
            x[i] -= L[i][j] * x[j];
        x[i] = x[i] / L[i][i];
    }
}

int main(int argc, char **argv) {
    pb_init(argc, argv);
    double (*L)[N] = pb_alloc((size_t)N * N, sizeof(double));
    double *x = pb_alloc(N, sizeof(double));
    double *b = pb_alloc(N, sizeof(double));

    init_array(N, L, x, b);
    pb_start();
    kernel_trisolv(N, L, x, b);
    pb_stop();
    if (pb_dump)
        pb_dump_doubles("x", x, N);

    free(L);
    free(x);
    free(b);
    return 0;
}
