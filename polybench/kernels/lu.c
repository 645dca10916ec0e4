/* lu: in-place LU decomposition A = L * U without pivoting. */
#define PB_KERNEL_NAME "lu"
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

static void init_array(int n, double A[N][N]) {
    pb_init_positive_definite(n, &A[0][0]);
}

static void kernel_lu(int n, double A[N][N]) {
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < i; j++) {
            for (int k = 0; k < j; k++)
                A[i][j] -= A[i][k] * A[k][j];
            A[i][j] /= A[j][j];
        }
        for (int j = i; j < n; j++)
            for (int k = 0; k < i; k++)
                A[i][j] -= A[i][k] * A[k][j];
    }
}

int main(int argc, char **argv) {
    pb_init(argc, argv);
    double (*A)[N] = pb_alloc((size_t)N * N, sizeof(double));

    init_array(N, A);
    pb_start();
    kernel_lu(N, A);
    pb_stop();
    if (pb_dump)
        pb_dump_doubles("A", &A[0][0], (size_t)N * N);

    free(A);
    return 0;
}
