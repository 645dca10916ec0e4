/* gramschmidt: QR decomposition A = Q * R by modified Gram-Schmidt. */
#define PB_KERNEL_NAME "gramschmidt"
#include <math.h>
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

static void init_array(int m, int n, double A[M][N], double R[N][N], double Q[M][N]) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            A[i][j] = (((double)((i * j) % m) / m) * 100) + 10;
            Q[i][j] = 0.0;
        }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            R[i][j] = 0.0;
}

static void kernel_gramschmidt(int m, int n, double A[M][N], double R[N][N], double Q[M][N]) {
    for (int k = 0; k < n; k++) {
        double nrm = 0.0;
        for (int i = 0; i < m; i++)
            nrm += A[i][k] * A[i][k];
        R[k][k] = sqrt(nrm);
        for (int i = 0; i < m; i++)
            Q[i][k] = A[i][k] / R[k][k];
        for (int j = k + 1; j < n; j++) {
            R[k][j] = 0.0;
            for (int i = 0; i < m; i++)
                R[k][j] += Q[i][k] * A[i][j];
            for (int i = 0; i < m; i++)
                A[i][j] = A[i][j] - Q[i][k] * R[k][j];
        }
    }
}

int main(int argc, char **argv) {
    pb_init(argc, argv);
    double (*A)[N] = pb_alloc((size_t)M * N, sizeof(double));
    double (*R)[N] = pb_alloc((size_t)N * N, sizeof(double));
    double (*Q)[N] = pb_alloc((size_t)M * N, sizeof(double));

    init_array(M, N, A, R, Q);
    pb_start();
    kernel_gramschmidt(M, N, A, R, Q);
    pb_stop();
    if (pb_dump) {
        pb_dump_doubles("R", &R[0][0], (size_t)N * N);
        pb_dump_doubles("Q", &Q[0][0], (size_t)M * N);
    }

    free(A);
    free(R);
    free(Q);
    return 0;
}
