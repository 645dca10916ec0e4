/*
 * Luge's PolyBench harness: dataset selection, kernel timing and output dumps.
 *
 * Every kernel in ../kernels/ is one C file that includes this header and
 * follows the same shape:
 *
 *   int main(int argc, char **argv) {
 *       pb_init(argc, argv);             // parses --dump
 *       double (*A)[N] = pb_alloc(N * N, sizeof(double));
 *       init_array(N, A);                // deterministic, no input
 *       pb_start();
 *       kernel_xyz(N, A);                // the only timed part
 *       pb_stop();                       // prints the kernel time on stderr
 *       if (pb_dump) pb_dump_doubles("A", &A[0][0], N * N);
 *       free(A);
 *       return 0;
 *   }
 *
 * Dataset: compile with -DMINI_DATASET, -DSMALL_DATASET, -DMEDIUM_DATASET,
 * -DLARGE_DATASET or -DEXTRALARGE_DATASET (LARGE when none is given), as in
 * PolyBench/C 4.2. Each kernel defines its sizes for all five.
 *
 * Output protocol (what scripts and tests parse):
 *   stderr: one line   "polybench <kernel> <DATASET> time_s=<seconds>"
 *   stdout: only with --dump, for each output array
 *             "array <name> <count>"
 *           followed by <count> lines, one value each ("%.17g" for doubles,
 *           "%d" for ints), then "end <name>".
 *
 * Works the same natively and under wasm32-wasi: the clock is
 * clock_gettime(CLOCK_MONOTONIC), which wasi-libc maps to clock_time_get.
 */
#ifndef LUGE_POLYBENCH_H
#define LUGE_POLYBENCH_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if !defined(MINI_DATASET) && !defined(SMALL_DATASET) && !defined(MEDIUM_DATASET) \
    && !defined(LARGE_DATASET) && !defined(EXTRALARGE_DATASET)
#define LARGE_DATASET
#endif

#if defined(MINI_DATASET)
#define PB_DATASET_NAME "MINI"
#elif defined(SMALL_DATASET)
#define PB_DATASET_NAME "SMALL"
#elif defined(MEDIUM_DATASET)
#define PB_DATASET_NAME "MEDIUM"
#elif defined(LARGE_DATASET)
#define PB_DATASET_NAME "LARGE"
#else
#define PB_DATASET_NAME "EXTRALARGE"
#endif

#ifndef PB_KERNEL_NAME
#error "define PB_KERNEL_NAME (the kernel's name, e.g. \"gemm\") before including polybench.h"
#endif

/* Set by pb_init when the program was started with --dump. */
static int pb_dump;
static struct timespec pb_t0;

static inline void pb_init(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dump") == 0) {
            pb_dump = 1;
        } else {
            fprintf(stderr, "%s: unknown argument '%s' (the only option is --dump)\n",
                    PB_KERNEL_NAME, argv[i]);
            exit(2);
        }
    }
}

/* Zeroed, 64-byte aligned storage for `count` elements; exits on failure so
 * that a kernel never runs on a NULL array. */
static inline void *pb_alloc(size_t count, size_t elem_size) {
    size_t bytes = count * elem_size;
    size_t rounded = (bytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (p == NULL) {
        fprintf(stderr, "%s: cannot allocate %zu bytes\n", PB_KERNEL_NAME, bytes);
        exit(3);
    }
    memset(p, 0, rounded);
    return p;
}

/* The n x n matrix cholesky, lu and ludcmp start from, as PolyBench builds
 * it: the lower triangle L with L[i][j] = (-j % n) / n + 1 below the
 * diagonal and 1 on it, made positive definite as L * L^T. `A` is
 * row-major with rows of n elements. */
static inline void pb_init_positive_definite(int n, double *A) {
    for (int i = 0; i < n; i++) {
        for (int j = 0; j <= i; j++)
            A[i * n + j] = (double)(-j % n) / n + 1;
        for (int j = i + 1; j < n; j++)
            A[i * n + j] = 0;
        A[i * n + i] = 1;
    }
    double *B = pb_alloc((size_t)n * n, sizeof(double));
    /* L[r][t] is 0 for r < t, so the products skipped by starting at t are
     * all zero: B comes out bit-identical in a fraction of the time. */
    for (int t = 0; t < n; t++)
        for (int r = t; r < n; r++)
            for (int s = t; s < n; s++)
                B[r * n + s] += A[r * n + t] * A[s * n + t];
    memcpy(A, B, (size_t)n * n * sizeof(double));
    free(B);
}

static inline void pb_start(void) {
    clock_gettime(CLOCK_MONOTONIC, &pb_t0);
}

static inline void pb_stop(void) {
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - pb_t0.tv_sec) + (double)(t1.tv_nsec - pb_t0.tv_nsec) * 1e-9;
    fprintf(stderr, "polybench %s %s time_s=%.9f\n", PB_KERNEL_NAME, PB_DATASET_NAME, s);
}

static inline void pb_dump_doubles(const char *name, const double *values, size_t count) {
    printf("array %s %zu\n", name, count);
    for (size_t i = 0; i < count; i++)
        printf("%.17g\n", values[i]);
    printf("end %s\n", name);
}

static inline void pb_dump_ints(const char *name, const int *values, size_t count) {
    printf("array %s %zu\n", name, count);
    for (size_t i = 0; i < count; i++)
        printf("%d\n", values[i]);
    printf("end %s\n", name);
}

#endif
