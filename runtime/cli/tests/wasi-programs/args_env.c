/*
 * args_env: prints its arguments (not argv[0], whose form differs between
 * a native and a wasm run) and its environment, sorted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void show(const char *s) {
    putchar('[');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            printf("\\x%02x", *p);
        else
            putchar(*p);
    }
    putchar(']');
}

int main(int argc, char **argv) {
    printf("argc %d, argv[0] set: %s, argv[argc] NULL: %s\n", argc,
           argv[0] && argv[0][0] ? "yes" : "no", argv[argc] == NULL ? "yes" : "no");
    for (int i = 1; i < argc; i++) {
        printf("argv[%d] (%zu bytes) = ", i, strlen(argv[i]));
        show(argv[i]);
        putchar('\n');
    }
    int n = 0;
    while (environ[n]) n++;
    char **sorted = malloc((n + 1) * sizeof *sorted);
    memcpy(sorted, environ, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_str);
    printf("%d environment variables\n", n);
    for (int i = 0; i < n; i++) {
        show(sorted[i]);
        putchar('\n');
    }
    static const char *const names[] = {"GREETING", "EMPTY", "WITH_EQUALS", "UNSET", "PATH"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = getenv(names[i]);
        printf("getenv(%s) = ", names[i]);
        if (v)
            show(v);
        else
            printf("(null)");
        putchar('\n');
    }
    setenv("ADDED", "later", 1);
    printf("after setenv: %s\n", getenv("ADDED"));
    unsetenv("GREETING");
    printf("after unsetenv: %s\n", getenv("GREETING") ? "still set" : "gone");
    free(sorted);
    return argc > 3 ? 7 : 0;
}
