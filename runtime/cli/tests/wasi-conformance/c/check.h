/*
 * The checking half of Luge's WASI conformance programs.
 *
 * Each program calls WASI preview1 directly (wasi-libc's <wasi/api.h>),
 * compares every result with what the specification and Wasmtime give,
 * prints one line per failed check and exits 1 if any failed, 0 if none.
 * The harness gives each run a fresh, empty directory preopened as
 * descriptor 3 (its guest name does not matter).
 */
#ifndef CHECK_H
#define CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

#define DIR_FD 3

static int checks, failures;

static inline void check_errno(int line, const char *what, int got, int want) {
    checks++;
    if (got != want) {
        failures++;
        printf("FAIL line %d: %s gave errno %d, expected %d\n", line, what, got, want);
    }
}

static inline void check_true(int line, const char *what, int ok) {
    checks++;
    if (!ok) {
        failures++;
        printf("FAIL line %d: %s\n", line, what);
    }
}

static inline void check_u64(int line, const char *what, uint64_t got, uint64_t want) {
    checks++;
    if (got != want) {
        failures++;
        printf("FAIL line %d: %s is %llu (0x%llx), expected %llu (0x%llx)\n", line, what,
               (unsigned long long)got, (unsigned long long)got, (unsigned long long)want,
               (unsigned long long)want);
    }
}

/* EXPECT(call, errno): the call returns exactly that errno (0 for success). */
#define EXPECT(call, want) check_errno(__LINE__, #call, (call), (want))
/* EXPECT_EITHER(call, a, b): the call returns one of two errnos, where
 * POSIX and Wasmtime differ and Luge keeps POSIX (docs/wasi.md). */
#define EXPECT_EITHER(call, a, b)                                                    \
    do {                                                                          \
        int got_ = (call);                                                        \
        check_errno(__LINE__, #call, got_ == (b) ? (a) : got_, (a));              \
    } while (0)
/* OK(call): the call succeeds. */
#define OK(call) EXPECT(call, 0)
#define CHECK(cond) check_true(__LINE__, #cond, (cond))
#define CHECK_EQ(got, want) check_u64(__LINE__, #got, (uint64_t)(got), (uint64_t)(want))

/* The exit status: 0 when every check held. */
static inline int report(const char *program) {
    printf("%s: %d checks, %d failed\n", program, checks, failures);
    return failures ? 1 : 0;
}

/* Opens `path` under the preopen; the descriptor, or -1 with a failed check. */
static inline __wasi_fd_t open_at(int line, __wasi_fd_t dir, const char *path, __wasi_lookupflags_t lookup,
                           __wasi_oflags_t oflags, __wasi_rights_t rights, __wasi_fdflags_t fdflags) {
    __wasi_fd_t fd = (__wasi_fd_t)-1;
    __wasi_errno_t e = __wasi_path_open(dir, lookup, path, oflags, rights, rights, fdflags, &fd);
    check_errno(line, path, e, 0);
    return e ? (__wasi_fd_t)-1 : fd;
}
#define OPEN(path, oflags, rights, fdflags) open_at(__LINE__, DIR_FD, path, 0, oflags, rights, fdflags)

/* Creates `path` holding `text`. */
static inline void make_file(int line, const char *path, const char *text) {
    __wasi_fd_t fd = open_at(line, DIR_FD, path, 0, __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC,
                             __WASI_RIGHTS_FD_WRITE, 0);
    if (fd == (__wasi_fd_t)-1)
        return;
    __wasi_ciovec_t iov = {(const uint8_t *)text, strlen(text)};
    __wasi_size_t n;
    check_errno(line, "fd_write", __wasi_fd_write(fd, &iov, 1, &n), 0);
    check_errno(line, "fd_close", __wasi_fd_close(fd), 0);
}
#define MAKE_FILE(path, text) make_file(__LINE__, path, text)

static inline __wasi_fdstat_t fdstat(__wasi_fd_t fd) {
    __wasi_fdstat_t st;
    memset(&st, 0xff, sizeof st);
    check_errno(__LINE__, "fd_fdstat_get", __wasi_fd_fdstat_get(fd, &st), 0);
    return st;
}

static inline __wasi_filestat_t path_stat(__wasi_lookupflags_t lookup, const char *path) {
    __wasi_filestat_t st;
    memset(&st, 0, sizeof st);
    check_errno(__LINE__, path, __wasi_path_filestat_get(DIR_FD, lookup, path, &st), 0);
    return st;
}

/* The rights Wasmtime and Luge report for a regular file. */
#define RIGHTS_ALL ((__wasi_rights_t)0x3fffffff)
#define FILE_RIGHTS(readable, writable)                                                          \
    (RIGHTS_ALL & ((readable) ? RIGHTS_ALL : ~(__WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_READDIR)) \
     & ((writable) ? RIGHTS_ALL : ~__WASI_RIGHTS_FD_WRITE))

#endif
