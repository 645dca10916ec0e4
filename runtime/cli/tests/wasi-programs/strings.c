/*
 * strings: the string and memory functions of libc, and integer
 * formatting and parsing.
 */
#include <ctype.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int sign(int v) { return (v > 0) - (v < 0); }

static void show_bytes(const char *label, const unsigned char *p, size_t n) {
    printf("%s:", label);
    for (size_t i = 0; i < n; i++) printf(" %02x", p[i]);
    putchar('\n');
}

int main(void) {
    static const char *const strs[] = {"", "a", "abc", "abd", "ab", "ABC", "hello, world",
                                       "\xff\x01", "\x01\xff"};
    size_t n = sizeof strs / sizeof strs[0];
    for (size_t i = 0; i < n; i++) {
        printf("strlen[%zu] = %zu; cmp:", i, strlen(strs[i]));
        for (size_t j = 0; j < n; j++) printf(" %d", sign(strcmp(strs[i], strs[j])));
        printf("; ncmp2:");
        for (size_t j = 0; j < n; j++) printf(" %d", sign(strncmp(strs[i], strs[j], 2)));
        putchar('\n');
    }

    const char *hay = "the quick brown fox jumps over the lazy dog; the end";
    static const char *const needles[] = {"the", "fox", "dog;", "", "cat", "end", "e l", "d"};
    for (size_t i = 0; i < sizeof needles / sizeof needles[0]; i++) {
        const char *at = strstr(hay, needles[i]);
        printf("strstr(\"%s\") = %ld\n", needles[i], at ? (long)(at - hay) : -1L);
    }
    printf("strchr o = %ld, strrchr o = %ld, strchr NUL = %ld\n", (long)(strchr(hay, 'o') - hay),
           (long)(strrchr(hay, 'o') - hay), (long)(strchr(hay, '\0') - hay));
    printf("strspn = %zu, strcspn = %zu, strpbrk = %s\n", strspn(hay, "the "),
           strcspn(hay, "xyz"), strpbrk(hay, "jz"));

    char csv[] = "alpha,beta,,gamma;delta , epsilon;;";
    int k = 0;
    for (char *tok = strtok(csv, ",;"); tok; tok = strtok(NULL, ",;"))
        printf("token %d: [%s]\n", k++, tok);

    char buf[16];
    /* Through a volatile pointer: the truncations below are the point. */
    const char *volatile long_text = "truncated output";
    int r = snprintf(buf, sizeof buf, "%s-%d-%x", long_text, 12345, 0xbeef);
    printf("snprintf returned %d, buf [%s]\n", r, buf);
    r = snprintf(NULL, 0, "%05d|%-5s|%5.2s|%c", 42, "ab", "xyz", 'Q');
    printf("snprintf(NULL) = %d\n", r);
    r = snprintf(buf, sizeof buf, "%05d|%-5s|", 42, "ab");
    printf("formatted [%s] (%d)\n", buf, r);

    unsigned char mem[32];
    for (int i = 0; i < 32; i++) mem[i] = (unsigned char)i;
    memmove(mem + 4, mem, 20); /* overlapping, forwards */
    show_bytes("memmove fwd", mem, 32);
    memmove(mem, mem + 7, 20); /* overlapping, backwards */
    show_bytes("memmove back", mem, 32);
    memset(mem + 10, 0xee, 5);
    memcpy(mem + 20, "LUGE", 4);
    show_bytes("memset+memcpy", mem, 32);
    printf("memcmp = %d %d %d\n", sign(memcmp("abc", "abd", 3)), sign(memcmp("abc", "abc", 3)),
           sign(memcmp("\x80", "\x7f", 1)));
    printf("memchr = %ld\n", (long)((const char *)memchr(hay, 'q', strlen(hay)) - hay));

    char dst[64] = "start";
    strcat(dst, "+more");
    const char *volatile suffix = "+abcdef";
    strncat(dst, suffix, 4);
    printf("strcat: %s\n", dst);
    strncpy(dst, "xy", 5);
    printf("strncpy: %s %d %d %d\n", dst, dst[2], dst[3], dst[4]);
    char *dup = strdup(hay);
    for (char *p = dup; *p; p++) *p = (char)toupper((unsigned char)*p);
    printf("upper: %s\n", dup);
    free(dup);

    static const char *const nums[] = {"42", "-17", "0x1F", "0755", "z", "  +9rest",
                                       "2147483648", "-9223372036854775808", "99999999999999999999"};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        char *end;
        long long v = strtoll(nums[i], &end, 0);
        unsigned long long u = strtoull(nums[i], NULL, 36);
        printf("strtoll(\"%s\", 0) = %lld rest [%s]; strtoull36 = %llu; atoi = %d\n", nums[i], v,
               end, u, i < 6 ? atoi(nums[i]) : 0); /* atoi overflow is undefined */
    }
    printf("ints: %d %d %u %ld %lld %llu\n", INT_MIN, INT_MAX, UINT_MAX, (long)INT32_MIN,
           LLONG_MIN, ULLONG_MAX);
    printf("widths: [%8d] [%-8d] [%08d] [%+d] [% d] [%x] [%X] [%#o] [%#x] [%.3d] [%*d]\n", 123,
           123, -123, 5, 5, 255, 255, 8, 255, 7, 6, 1);
    printf("strings: [%s] [%.3s] [%10s] [%-10s] [%c] [%%]\n", "abcdef", "abcdef", "right",
           "left", 'z');
    printf("int64: %lld %llx %zu %td\n", (long long)INT64_MAX, 0xdeadbeefcafebabeULL,
           sizeof(uint64_t), (ptrdiff_t)-5);
    return 0;
}
