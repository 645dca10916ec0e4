/* bicg: BiCG sub-kernel, s = A^T * r and q = A * p in one sweep over A. */
#define PB_KERNEL_NAME "bicg"
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

static void init_array(int m, int n, double A[N][M], double r[N], double p[M]) {
    for (int i = 0; i < m; i++)
        p[i] = (double)(i % m) / m;
    for (int i = 0; i < n; i++) {
        r[i] = (double)(i % n) / n;
        for (int j = 0; j < m; j++)
            A[i][j] = (double)(i * (j + 1) % n) / n;
    }
}

static void kernel_bicg(int m, int n, double A[N][M], double s[M], double q[N],
                        double p[M], double r[N]) {
    for (int i = 0; i < m; i++)
        s[i] = 0.0;
    for (int i = 0; i < n; i++) {
        q[i] = 0.0;
        for (int j = 0; j < m; j++) {
            s[j] = s[j] + r[i] * A[i][j];
            q[i] = q[i] + A[i][j] * p[j];
        }
    }
}

int main(int argc, char **argv) {
    pb_init(argc, argv);
    double (*A)[M] = pb_alloc((size_t)N * M, sizeof(double));
    double *s = pb_alloc(M, sizeof(double));
    double *q = pb_alloc(N, sizeof(double));
    double *p = pb_alloc(M, sizeof(double));
    double *r = pb_alloc(N, sizeof(double));

    init_array(M, N, A, r, p);
    pb_start();
    kernel_bicg(M, N, A, s, q, p, r);
    pb_stop();
    if (pb_dump) {
        pb_dump_doubles("s", s, M);
        pb_dump_doubles("q", q, N);
    }

    free(A);
    free(s);
    free(q);
    free(p);
    free(r);
    return 0;
}
