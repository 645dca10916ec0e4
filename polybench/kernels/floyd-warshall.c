/* floyd-warshall: all-pairs shortest path lengths over a weighted graph. */
#define PB_KERNEL_NAME "floyd-warshall"
#include "polybench.h"

#if defined(MINI_DATASET)
#define N 60
#elif defined(SMALL_DATASET)
#define N 180
#elif defined(MEDIUM_DATASET)
#define N 500
#elif defined(LARGE_DATASET)
#define N 2800
#else
#define N 5600
#endif

static void init_array(int n, int path[N][N]) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            path[i][j] = i * j % 7 + 1;
            if ((i + j) % 13 == 0 || (i + j) % 7 == 0 || (i + j) % 11 == 0)
                path[i][j] = 999;
        }
}

static void kernel_floyd_warshall(int n, int path[N][N]) {
    for (int k = 0; k < n; k++)
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                path[i][j] = path[i][j] < path[i][k] + path[k][j]
                                 ? path[i][j]
                                 : path[i][k] + path[k][j];
}

int main(int argc, char **argv) {
    pb_init(argc, argv);
    int (*path)[N] = pb_alloc((size_t)N * N, sizeof(int));

    init_array(N, path);
    pb_start();
    kernel_floyd_warshall(N, path);
    pb_stop();
    if (pb_dump)
        pb_dump_ints("path", &path[0][0], (size_t)N * N);

    free(path);
    return 0;
}
