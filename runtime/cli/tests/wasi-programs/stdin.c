/*
 * stdin: reads all of stdin, mixing getchar, fgets and fread, and prints
 * counts, a hash, and the text lines reversed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
    size_t cap = 1024, len = 0;
    unsigned char *data = malloc(cap);
    if (!data) return 1;
    /* A few bytes one at a time, a line, then the rest in blocks. */
    for (int i = 0; i < 5; i++) {
        int c = getchar();
        if (c == EOF) break;
        data[len++] = (unsigned char)c;
    }
    char line[200];
    if (fgets(line, sizeof line, stdin)) {
        memcpy(data + len, line, strlen(line));
        len += strlen(line);
    }
    for (;;) {
        while (cap - len < 4096) {
            cap *= 2;
            data = realloc(data, cap);
            if (!data) return 1;
        }
        size_t n = fread(data + len, 1, 4096, stdin);
        len += n;
        if (n == 0) break;
    }
    printf("eof %d, error %d, getchar after eof %d\n", feof(stdin) != 0, ferror(stdin) != 0,
           getchar());
    uint64_t h = 1469598103934665603ull;
    size_t lines = 0, words = 0, zeros = 0;
    int in_word = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = data[i];
        h = (h ^ c) * 1099511628211ull;
        lines += c == '\n';
        zeros += c == 0;
        int space = c == ' ' || c == '\n' || c == '\t';
        words += !space && !in_word;
        in_word = !space;
    }
    printf("bytes %zu, lines %zu, words %zu, zero bytes %zu, hash %016llx\n", len, lines, words,
           zeros, (unsigned long long)h);
    /* The first lines, reversed, up to the first non-text byte. */
    size_t start = 0;
    for (int k = 0; k < 20 && start < len; k++) {
        size_t end = start;
        while (end < len && data[end] != '\n') end++;
        int text = 1;
        for (size_t i = start; i < end; i++) text &= data[i] >= 0x20 && data[i] < 0x7f;
        if (!text) break;
        printf("line %d reversed: ", k);
        for (size_t i = end; i > start; i--) putchar(data[i - 1]);
        putchar('\n');
        start = end + 1;
    }
    free(data);
    return 0;
}
