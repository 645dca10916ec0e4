/* ludcmp: solves A * x = b by LU decomposition, then forward and back substitution. */
#define PB_KERNEL_NAME "ludcmp"
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

static void init_array(int n, double A[N][N], double b[N], double x[N], double y[N]) {
    double fn = (double)n;
    for (int i = 0; i < n; i++) {
        x[i] = 0;
        y[i] = 0;
        b[i] = (i + 1) / fn / 2.0 + 4;
    }

    pb_init_positive_definite(n, &A[0][0]);
}

static void kernel_ludcmp(int n, double A[N][N], double b[N], double x[N], double y[N]) {
    double w;

    for (int i = 0; i < n; i++) {
        for (int j = 0; j < i; j++) {
            w = A[i][j];
            for (int k = 0; k < j; k++)
                w -= A[i][k] * A[k][j];
            A[i][j] = w / A[j][j];
        }
        for (int j = i; j < n; j++) {
            w = A[i][j];
            for (int k = 0; k < i; k++)
                w -= A[i][k] * A[k][j];
            A[i][j] = w;
        }
    }

    for (int i = 0; i < n; i++) {
        w = b[i];
        for (int j = 0; j < i; j++)
            w -= A[i][j] * y[j];
        y[i] = w;
    }

    for (int i = n - 1; i >= 0; i--) {
        w = y[i];
        for (int j = i + 1; j < n; j++)
            w -= A[i][j] * x[j];
        x[i] = w / A[i][i];
    }
}

int main(int argc, char **argv) {
    pb_init(argc, argv);
    double (*A)[N] = pb_alloc((size_t)N * N, sizeof(double));
    double *b = pb_alloc(N, sizeof(double));
    double *x = pb_alloc(N, sizeof(double));
    double *y = pb_alloc(N, sizeof(double));

    init_array(N, A, b, x, y);
    pb_start();
    kernel_ludcmp(N, A, b, x, y);
    pb_stop();
    if (pb_dump)
        pb_dump_doubles("x", x, N);

    free(A);
    free(b);
    free(x);
    free(y);
    return 0;
}
