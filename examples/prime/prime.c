/*
 * prime — Luge example function (CPU-bound).
 *
 * Prints the N-th prime number (1-based: the 1st prime is 2).
 * N comes from argv[1], else from stdin, else defaults to 10000.
 * Uses simple trial division by the primes found so far.
 */
#include <stdio.h>
#include <stdlib.h>

static long parse_n(int argc, char **argv, long dflt) {
    char line[64];
    const char *s = NULL;
    if (argc > 1)
        s = argv[1];
    else if (fgets(line, sizeof line, stdin))
        s = line;
    if (s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end != s && v > 0) return v;
    }
    return dflt;
}

int main(int argc, char **argv) {
    long n = parse_n(argc, argv, 10000);

    unsigned *primes = malloc((size_t)n * sizeof *primes);
    if (!primes) { fprintf(stderr, "prime: out of memory\n"); return 1; }

    long count = 0;
    for (unsigned cand = 2; count < n; cand++) {
        int is_prime = 1;
        for (long i = 0; i < count; i++) {
            unsigned p = primes[i];
            if ((unsigned long long)p * p > cand) break;
            if (cand % p == 0) { is_prime = 0; break; }
        }
        if (is_prime) primes[count++] = cand;
    }

    printf("%u\n", primes[n - 1]);
    free(primes);
    return 0;
}
