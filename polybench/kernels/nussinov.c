/* nussinov: RNA secondary structure prediction by dynamic programming (max base pairs). */
#define PB_KERNEL_NAME "nussinov"
#include "polybench.h"

#if defined(MINI_DATASET)
#define N 60
#elif defined(SMALL_DATASET)
#define N 180
#elif defined(MEDIUM_DATASET)
#define N 500
#elif defined(LARGE_DATASET)
#define N 2500
#else
#define N 5500
#endif

/* RNA bases A, G, C, U encoded as 0..3; a pair matches when the codes sum to 3. */
typedef char base;

static inline int match(base b1, base b2) {
    return (b1 + b2) == 3 ? 1 : 0;
}

static inline int max_score(int s1, int s2) {
    return s1 >= s2 ? s1 : s2;
}

static void init_array(int n, base seq[N], int table[N][N]) {
    for (int i = 0; i < n; i++)
        seq[i] = (base)((i + 1) % 4);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            table[i][j] = 0;
}

static void kernel_nussinov(int n, base seq[N], int table[N][N]) {
    for (int i = n - 1; i >= 0; i--) {
        for (int j = i + 1; j < n; j++) {
            if (j - 1 >= 0)
                table[i][j] = max_score(table[i][j], table[i][j - 1]);
            if (i + 1 < n)
                table[i][j] = max_score(table[i][j], table[i + 1][j]);
            if (j - 1 >= 0 && i + 1 < n) {
                /* adjacent bases may not pair */
                if (i < j - 1)
                    table[i][j] = max_score(table[i][j], table[i + 1][j - 1] + match(seq[i], seq[j]));
                else
                    table[i][j] = max_score(table[i][j], table[i + 1][j - 1]);
            }
            for (int k = i + 1; k < j; k++)
                table[i][j] = max_score(table[i][j], table[i][k] + table[k + 1][j]);
        }
    }
}

int main(int argc, char **argv) {
    pb_init(argc, argv);
    base *seq = pb_alloc(N, sizeof(base));
    int (*table)[N] = pb_alloc((size_t)N * N, sizeof(int));

    init_array(N, seq, table);
    pb_start();
    kernel_nussinov(N, seq, table);
    pb_stop();
    if (pb_dump) {
        /* PolyBench prints the upper triangle (j >= i), row by row. */
        size_t count = (size_t)N * (N + 1) / 2;
        int *upper = pb_alloc(count, sizeof(int));
        size_t t = 0;
        for (int i = 0; i < N; i++)
            for (int j = i; j < N; j++)
                upper[t++] = table[i][j];
        pb_dump_ints("table", upper, count);
        free(upper);
    }

    free(seq);
    free(table);
    return 0;
}
