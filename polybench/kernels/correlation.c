/* correlation: Pearson correlation matrix of the M columns of an N x M data matrix. */
#define PB_KERNEL_NAME "correlation"
#include "polybench.h"
#include <math.h>

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
            data[i][j] = (double)(i * j) / m + i;
}

static void kernel_correlation(int m, int n, double float_n, double data[N][M],
                               double corr[M][M], double mean[M], double stddev[M]) {
    double eps = 0.1;

    for (int j = 0; j < m; j++) {
        mean[j] = 0.0;
        for (int i = 0; i < n; i++)
            mean[j] += data[i][j];
        mean[j] /= float_n;
    }

    for (int j = 0; j < m; j++) {
        stddev[j] = 0.0;
        for (int i = 0; i < n; i++)
            stddev[j] += (data[i][j] - mean[j]) * (data[i][j] - mean[j]);
        stddev[j] /= float_n;
        stddev[j] = sqrt(stddev[j]);
        /* Guard against a zero divide for near-constant columns. */
        stddev[j] = stddev[j] <= eps ? 1.0 : stddev[j];
    }

    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) {
            data[i][j] -= mean[j];
            data[i][j] /= sqrt(float_n) * stddev[j];
        }

    for (int i = 0; i < m - 1; i++) {
        corr[i][i] = 1.0;
        for (int j = i + 1; j < m; j++) {
            corr[i][j] = 0.0;
            for (int k = 0; k < n; k++)
                corr[i][j] += data[k][i] * data[k][j];
            corr[j][i] = corr[i][j];
        }
    }
    corr[m - 1][m - 1] = 1.0;
}

int main(int argc, char **argv) {
    pb_init(argc, argv);
    double float_n;
    double (*data)[M] = pb_alloc((size_t)N * M, sizeof(double));
    double (*corr)[M] = pb_alloc((size_t)M * M, sizeof(double));
    double *mean = pb_alloc(M, sizeof(double));
    double *stddev = pb_alloc(M, sizeof(double));

    init_array(M, N, &float_n, data);
    pb_start();
    kernel_correlation(M, N, float_n, data, corr, mean, stddev);
    pb_stop();
    if (pb_dump)
        pb_dump_doubles("corr", &corr[0][0], (size_t)M * M);

    free(data);
    free(corr);
    free(mean);
    free(stddev);
    return 0;
}
