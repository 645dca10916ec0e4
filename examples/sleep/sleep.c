/*
 * sleep — Luge example function (long-running).
 *
 * Sleeps N seconds, then prints "slept N s".
 * N comes from argv[1], else from stdin, else defaults to 1. Invoked as an
 * OpenWhisk action, stdin is the parameters, a JSON object such as
 * {"seconds": 300}: N is the number after "seconds", and the result is
 * printed as the JSON object OpenWhisk expects, {"slept": N}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The number N and whether it came from a JSON object of parameters. */
struct request {
    long n;
    int json;
};

static struct request parse(int argc, char **argv, long dflt) {
    struct request req = { dflt, 0 };
    char line[256];
    const char *s = NULL;
    if (argc > 1)
        s = argv[1];
    else if (fgets(line, sizeof line, stdin))
        s = line;
    if (!s) return req;
    if (*s == '{') {
        req.json = 1;
        const char *key = strstr(s, "\"seconds\"");
        if (!key) return req;
        s = key + strlen("\"seconds\"");
        s += strspn(s, " \t:");
    }
    char *end;
    long v = strtol(s, &end, 10);
    if (end != s && v >= 0) req.n = v;
    return req;
}

int main(int argc, char **argv) {
    struct request req = parse(argc, argv, 1);
    struct timespec ts = { .tv_sec = req.n, .tv_nsec = 0 };
    while (nanosleep(&ts, &ts) != 0) {
        /* interrupted: ts holds the remaining time, sleep again */
    }
    if (req.json)
        printf("{\"slept\": %ld}\n", req.n);
    else
        printf("slept %ld s\n", req.n);
    return 0;
}
