/* 3mm: G = (A * B) * (C * D), three chained matrix multiplications. */
#define PB_KERNEL_NAME "3mm"
#include "polybench.h"

#if defined(MINI_DATASET)
#define NI 16
#define NJ 18
#define NK 20
#define NL 22
#define NM 24
#elif defined(SMALL_DATASET)
#define NI 40
#define NJ 50
#define NK 60
#define NL 70
#define NM 80
#elif defined(MEDIUM_DATASET)
#define NI 180
#define NJ 190
#define NK 200
#define NL 210
#define NM 220
#elif defined(LARGE_DATASET)
#define NI 800
#define NJ 900
#define NK 1000
#define NL 1100
#define NM 1200
#else
#define NI 1600
#define NJ 1800
#define NK 2000
#define NL 2200
#define NM 2400
#endif

static void init_array(int ni, int nj, int nk, int nl, int nm,
                       double A[NI][NK], double B[NK][NJ], double C[NJ][NM], double D[NM][NL]) {
    for (int i = 0; i < ni; i++)
        for (int k = 0; k < nk; k++)
            A[i][k] = (double)((i * k + 1) % ni) / (5 * ni);
    for (int k = 0; k < nk; k++)
        for (int j = 0; j < nj; j++)
            B[k][j] = (double)((k * (j + 1) + 2) % nj) / (5 * nj);
    for (int j = 0; j < nj; j++)
        for (int m = 0; m < nm; m++)
            C[j][m] = (double)(j * (m + 3) % nl) / (5 * nl);
    for (int m = 0; m < nm; m++)
        for (int l = 0; l < nl; l++)
            D[m][l] = (double)((m * (l + 2) + 2) % nk) / (5 * nk);
}

static void kernel_3mm(int ni, int nj, int nk, int nl, int nm,
                       double E[NI][NJ], double A[NI][NK], double B[NK][NJ],
                       double F[NJ][NL], double C[NJ][NM], double D[NM][NL],
                       double G[NI][NL]) {
    /* E = A * B */
    for (int i = 0; i < ni; i++)
        for (int j = 0; j < nj; j++) {
            E[i][j] = 0.0;
            for (int k = 0; k < nk; k++)
                E[i][j] += A[i][k] * B[k][j];
        }
    /* F = C * D */
    for (int i = 0; i < nj; i++)
        for (int j = 0; j < nl; j++) {
            F[i][j] = 0.0;
            for (int k = 0; k < nm; k++)
                F[i][j] += C[i][k] * D[k][j];
        }
    /* G = E * F */
    for (int i = 0; i < ni; i++)
        for (int j = 0; j < nl; j++) {
            G[i][j] = 0.0;
            for (int k = 0; k < nj; k++)
                G[i][j] += E[i][k] * F[k][j];
        }
}

int main(int argc, char **argv) {
    pb_init(argc, argv);
    double (*E)[NJ] = pb_alloc((size_t)NI * NJ, sizeof(double));
    double (*A)[NK] = pb_alloc((size_t)NI * NK, sizeof(double));
    double (*B)[NJ] = pb_alloc((size_t)NK * NJ, sizeof(double));
    double (*F)[NL] = pb_alloc((size_t)NJ * NL, sizeof(double));
    double (*C)[NM] = pb_alloc((size_t)NJ * NM, sizeof(double));
    double (*D)[NL] = pb_alloc((size_t)NM * NL, sizeof(double));
    double (*G)[NL] = pb_alloc((size_t)NI * NL, sizeof(double));

    init_array(NI, NJ, NK, NL, NM, A, B, C, D);
    pb_start();
    kernel_3mm(NI, NJ, NK, NL, NM, E, A, B, F, C, D, G);
    pb_stop();
    if (pb_dump)
        pb_dump_doubles("G", &G[0][0], (size_t)NI * NL);

    free(E);
    free(A);
    free(B);
    free(F);
    free(C);
    free(D);
    free(G);
    return 0;
}
