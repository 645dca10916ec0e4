/*
 * hello — Luge example function.
 *
 * Reads all of stdin and prints "Hello, <stdin>!".  A single trailing
 * newline (or CRLF) in the input is dropped.  With empty input it prints
 * "Hello, world!".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
    size_t cap = 256, len = 0;
    char *buf = malloc(cap);
    if (!buf) return 1;

    size_t n;
    while ((n = fread(buf + len, 1, cap - len, stdin)) > 0) {
        len += n;
        if (len == cap) {
            cap *= 2;
            char *grown = realloc(buf, cap);
            if (!grown) { free(buf); return 1; }
            buf = grown;
        }
    }

    if (len > 0 && buf[len - 1] == '\n') len--;
    if (len > 0 && buf[len - 1] == '\r') len--;

    if (len == 0)
        printf("Hello, world!\n");
    else
        printf("Hello, %.*s!\n", (int)len, buf);

    free(buf);
    return 0;
}
