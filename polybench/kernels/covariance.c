/* covariance: sample covariance matrix of the M columns of an N x M data matrix. */
#define PB_KERNEL_NAME "covariance"
#include "polybench.h"

#if defined(MINI_DATASET)
#define M 28
#define N 32
#elif defined(SMALL_DATASET)
#define M 80
#define N 100
#elif defined(MEDIUM_DATASET)
#define M 240
#define N 260
#elif defined(LARGE_DATASET)
#define M 1200
#define N 1400
#else
#define M 2600
#define N 3000
#endif

static void init_array(int m, int n, double *float_n, double data[N][M]) {
    *float_n = (double)n;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++)
            data[i][j] = ((double)i * j) / m;
}

static void kernel_covariance(int m, int n, double float_n, double data[N][M],
                              double cov[M][M], double mean[M]) {
    for (int j = 0; j < m; j++) {
        mean[j] = 0.0;
        for (int i = 0; i < n; i++)
            mean[j] += data[i][j];
        mean[j] /= float_n;
    }

    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++)
            data[i][j] -= mean[j];

    for (int i = 0; i < m; i++)
        for (int j = i; j < m; j++) {
            cov[i][j] = 0.0;
            for (int k = 0; k < n; k++)
                cov[i][j] += data[k][i] * data[k][j];
            cov[i][j] /= (float_n - 1.0);
            cov[j][i] = cov[i][j];
        }
}

int main(int argc, char **argv) {
    pb_init(argc, argv);
    double float_n;
    double (*data)[M] = pb_alloc((size_t)N * M, sizeof(double));
    double (*cov)[M] = pb_alloc((size_t)M * M, sizeof(double));
    double *mean = pb_alloc(M, sizeof(double));

    init_array(M, N, &float_n, data);
    pb_start();
    kernel_covariance(M, N, float_n, data, cov, mean);
    pb_stop();
    if (pb_dump)
        pb_dump_doubles("cov", &cov[0][0], (size_t)M * M);

    free(data);
    free(cov);
    free(mean);
    return 0;
}
