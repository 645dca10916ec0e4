/*
 * malloc_churn: thousands of allocations of pseudo-random sizes (fixed
 * seed), each filled with a pattern that is checked before it is freed or
 * reallocated. Prints counts and a checksum of everything verified.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t state = 88172645463325252ull;

static uint32_t next(void) {
    /* xorshift64 */
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (uint32_t)(state >> 32);
}

enum { SLOTS = 1024, ROUNDS = 40000 };

struct slot {
    unsigned char *ptr;
    size_t size;
    unsigned char seed;
};

static size_t random_size(void) {
    uint32_t r = next();
    switch (r % 16) {
    case 0: return 0;
    case 1: return 1 + next() % 8;
    case 2: return 65536 + next() % 200000; /* large: its own mapping in many allocators */
    default: return 1 + next() % 3000;
    }
}

static void fill(unsigned char *p, size_t from, size_t to, unsigned char seed) {
    for (size_t i = from; i < to; i++) p[i] = (unsigned char)(seed + i * 31);
}

static uint64_t checksum = 1469598103934665603ull;
static unsigned long mismatches;

/* Checks the first `len` bytes of slot `s` against its pattern. */
static void verify(const struct slot *s, size_t len) {
    for (size_t i = 0; i < len; i++) {
        unsigned char want = (unsigned char)(s->seed + i * 31);
        if (s->ptr[i] != want) mismatches++;
        checksum = (checksum ^ s->ptr[i]) * 1099511628211ull;
    }
}

int main(void) {
    static struct slot slots[SLOTS];
    unsigned long mallocs = 0, frees = 0, reallocs = 0, callocs = 0, nulls = 0;
    unsigned long long bytes = 0, peak = 0, live = 0;
    for (int round = 0; round < ROUNDS; round++) {
        struct slot *s = &slots[next() % SLOTS];
        if (s->ptr == NULL) {
            size_t size = random_size();
            int zeroed = next() % 5 == 0;
            s->ptr = zeroed ? calloc(size ? size : 1, 1) : malloc(size ? size : 1);
            if (!s->ptr) { nulls++; continue; }
            if (zeroed) {
                callocs++;
                for (size_t i = 0; i < size; i++)
                    if (s->ptr[i] != 0) mismatches++;
            } else {
                mallocs++;
            }
            s->size = size;
            s->seed = (unsigned char)next();
            fill(s->ptr, 0, size, s->seed);
            bytes += size;
            live += size;
        } else if (next() % 3 == 0) {
            size_t size = random_size();
            unsigned char *grown = realloc(s->ptr, size ? size : 1);
            if (!grown) { nulls++; continue; }
            reallocs++;
            s->ptr = grown;
            size_t kept = size < s->size ? size : s->size;
            verify(s, kept);
            fill(s->ptr, kept, size, s->seed);
            live = live - s->size + size;
            s->size = size;
        } else {
            verify(s, s->size);
            free(s->ptr);
            frees++;
            live -= s->size;
            s->ptr = NULL;
            s->size = 0;
        }
        if (live > peak) peak = live;
    }
    for (int i = 0; i < SLOTS; i++) {
        if (slots[i].ptr) {
            verify(&slots[i], slots[i].size);
            free(slots[i].ptr);
            frees++;
        }
    }

    /* A large block, shrunk and grown again, keeps its prefix. */
    unsigned char *big = malloc(8 << 20);
    if (!big) return 1;
    memset(big, 0xAB, 8 << 20);
    big = realloc(big, 1000);
    if (!big) return 1;
    int prefix_ok = 1;
    for (int i = 0; i < 1000; i++) prefix_ok &= big[i] == 0xAB;
    big = realloc(big, 16 << 20);
    if (!big) return 1;
    for (int i = 0; i < 1000; i++) prefix_ok &= big[i] == 0xAB;
    big[(16 << 20) - 1] = 1;
    free(big);

    printf("mallocs %lu callocs %lu reallocs %lu frees %lu nulls %lu\n", mallocs, callocs,
           reallocs, frees, nulls);
    printf("bytes allocated %llu, peak live %llu\n", bytes, peak);
    printf("mismatches %lu, prefix kept %d\n", mismatches, prefix_ok);
    printf("checksum %016llx\n", (unsigned long long)checksum);
    return mismatches == 0 && prefix_ok ? 0 : 1;
}
