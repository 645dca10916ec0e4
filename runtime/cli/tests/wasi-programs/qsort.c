/*
 * qsort: sorts pseudo-random ints and structs (fixed seed) and prints
 * checksums and samples of the results.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t state = 0x12345678u;

static uint32_t next(void) {
    /* xorshift32 */
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int cmp_int_desc(const void *a, const void *b) {
    return cmp_int(b, a);
}

struct person {
    char name[16];
    int age;
    double score;
};

/* By age, then score descending, then name: a total order, so the result
 * does not depend on the sort's stability. */
static int cmp_person(const void *a, const void *b) {
    const struct person *p = a, *q = b;
    if (p->age != q->age) return p->age < q->age ? -1 : 1;
    if (p->score != q->score) return p->score > q->score ? -1 : 1;
    return strcmp(p->name, q->name);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static uint64_t fnv(const void *data, size_t len, uint64_t h) {
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

int main(void) {
    enum { N = 50000 };
    int *a = malloc(N * sizeof *a);
    if (!a) return 1;
    for (int i = 0; i < N; i++) a[i] = (int)(next() % 2000001) - 1000000;
    qsort(a, N, sizeof *a, cmp_int);
    int sorted = 1;
    for (int i = 1; i < N; i++) sorted &= a[i - 1] <= a[i];
    printf("ints sorted: %d, min %d, max %d, median %d\n", sorted, a[0], a[N - 1], a[N / 2]);
    printf("ints checksum: %016llx\n", (unsigned long long)fnv(a, N * sizeof *a, 14695981039346656037ull));
    qsort(a, N, sizeof *a, cmp_int_desc);
    printf("descending: first %d %d %d, last %d\n", a[0], a[1], a[2], a[N - 1]);

    /* Already sorted, reversed, and all-equal inputs. */
    for (int i = 0; i < N; i++) a[i] = i;
    qsort(a, N, sizeof *a, cmp_int);
    printf("presorted ok: %d\n", a[0] == 0 && a[N - 1] == N - 1);
    for (int i = 0; i < N; i++) a[i] = 7;
    qsort(a, N, sizeof *a, cmp_int);
    printf("equal ok: %d\n", a[0] == 7 && a[N - 1] == 7);
    qsort(a, 0, sizeof *a, cmp_int);
    qsort(a, 1, sizeof *a, cmp_int);
    free(a);

    enum { M = 3000 };
    struct person *people = calloc(M, sizeof *people);
    if (!people) return 1;
    static const char *const syllables[] = {"ka", "lu", "ge", "mi", "to", "ra", "ne", "so"};
    for (int i = 0; i < M; i++) {
        int parts = 1 + next() % 3;
        for (int k = 0; k < parts; k++) strcat(people[i].name, syllables[next() % 8]);
        people[i].age = 18 + next() % 60;
        people[i].score = (double)(next() % 1000) / 8.0;
    }
    qsort(people, M, sizeof *people, cmp_person);
    for (int i = 0; i < M; i += 300)
        printf("person %4d: %-8s age %2d score %7.3f\n", i, people[i].name, people[i].age,
               people[i].score);
    uint64_t h = 14695981039346656037ull;
    for (int i = 0; i < M; i++) {
        char line[64];
        int n = snprintf(line, sizeof line, "%s/%d/%.3f;", people[i].name, people[i].age,
                         people[i].score);
        h = fnv(line, (size_t)n, h);
    }
    printf("people checksum: %016llx\n", (unsigned long long)h);

    /* Strings, through an array of pointers. */
    const char *words[] = {"pear", "apple", "fig", "banana", "cherry", "date", "apple", "elder"};
    size_t nw = sizeof words / sizeof words[0];
    qsort(words, nw, sizeof words[0], cmp_str);
    for (size_t i = 0; i < nw; i++) printf("%s%c", words[i], i + 1 < nw ? ' ' : '\n');
    free(people);
    return 0;
}
