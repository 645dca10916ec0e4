/* fdtd-2d: 2D finite-difference time-domain update of electric (ex, ey) and magnetic (hz) fields. */
#define PB_KERNEL_NAME "fdtd-2d"
#include "polybench.h"

#if defined(MINI_DATASET)
#define TMAX 20
#define NX 20
#define NY 30
#elif defined(SMALL_DATASET)
#define TMAX 40
#define NX 60
#define NY 80
#elif defined(MEDIUM_DATASET)
#define TMAX 100
#define NX 200
#define NY 240
#elif defined(LARGE_DATASET)
#define TMAX 500
#define NX 1000
#define NY 1200
#else
#define TMAX 1000
#define NX 2000
#define NY 2600
#endif

static void init_array(int tmax, int nx, int ny, double ex[NX][NY], double ey[NX][NY],
                       double hz[NX][NY], double fict[TMAX]) {
    for (int t = 0; t < tmax; t++)
        fict[t] = (double)t;
    for (int i = 0; i < nx; i++)
        for (int j = 0; j < ny; j++) {
            ex[i][j] = ((double)i * (j + 1)) / nx;
            ey[i][j] = ((double)i * (j + 2)) / ny;
            hz[i][j] = ((double)i * (j + 3)) / nx;
        }
}

static void kernel_fdtd_2d(int tmax, int nx, int ny, double ex[NX][NY], double ey[NX][NY],
                           double hz[NX][NY], double fict[TMAX]) {
    for (int t = 0; t < tmax; t++) {
        for (int j = 0; j < ny; j++)
            ey[0][j] = fict[t];
        for (int i = 1; i < nx; i++)
            for (int j = 0; j < ny; j++)
                ey[i][j] = ey[i][j] - 0.5 * (hz[i][j] - hz[i - 1][j]);
        for (int i = 0; i < nx; i++)
            for (int j = 1; j < ny; j++)
                ex[i][j] = ex[i][j] - 0.5 * (hz[i][j] - hz[i][j - 1]);
        for (int i = 0; i < nx - 1; i++)
            for (int j = 0; j < ny - 1; j++)
                hz[i][j] = hz[i][j] - 0.7 * (ex[i][j + 1] - ex[i][j] + ey[i + 1][j] - ey[i][j]);
    }
}

int main(int argc, char **argv) {
    pb_init(argc, argv);
    double (*ex)[NY] = pb_alloc((size_t)NX * NY, sizeof(double));
    double (*ey)[NY] = pb_alloc((size_t)NX * NY, sizeof(double));
    double (*hz)[NY] = pb_alloc((size_t)NX * NY, sizeof(double));
    double *fict = pb_alloc(TMAX, sizeof(double));

    init_array(TMAX, NX, NY, ex, ey, hz, fict);
    pb_start();
    kernel_fdtd_2d(TMAX, NX, NY, ex, ey, hz, fict);
    pb_stop();
    if (pb_dump) {
        pb_dump_doubles("ex", &ex[0][0], (size_t)NX * NY);
        pb_dump_doubles("ey", &ey[0][0], (size_t)NX * NY);
        pb_dump_doubles("hz", &hz[0][0], (size_t)NX * NY);
    }

    free(ex);
    free(ey);
    free(hz);
    free(fict);
    return 0;
}
