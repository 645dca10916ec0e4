/*
 * Reading, writing, seeking and telling on files, directories and the
 * standard streams: positions, appending, positioned I/O, and the errno
 * each kind of descriptor gives for what it cannot do.
 */
#include "check.h"

static __wasi_ciovec_t out(const char *s) { return (__wasi_ciovec_t){(const uint8_t *)s, strlen(s)}; }

static void seek_and_tell(void) {
    MAKE_FILE("f", "0123456789");
    __wasi_fd_t fd = OPEN("f", 0, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE, 0);
    __wasi_filesize_t at;
    OK(__wasi_fd_tell(fd, &at));
    CHECK_EQ(at, 0);
    OK(__wasi_fd_seek(fd, 4, __WASI_WHENCE_SET, &at));
    CHECK_EQ(at, 4);
    OK(__wasi_fd_seek(fd, 2, __WASI_WHENCE_CUR, &at));
    CHECK_EQ(at, 6);
    OK(__wasi_fd_seek(fd, -3, __WASI_WHENCE_END, &at));
    CHECK_EQ(at, 7);
    uint8_t buf[16];
    __wasi_iovec_t in = {buf, sizeof buf};
    __wasi_size_t n;
    OK(__wasi_fd_read(fd, &in, 1, &n));
    CHECK(n == 3 && !memcmp(buf, "789", 3));
    OK(__wasi_fd_tell(fd, &at));
    CHECK_EQ(at, 10);
    /* Seeking past the end is allowed; before the start is not. */
    OK(__wasi_fd_seek(fd, 5, __WASI_WHENCE_END, &at));
    CHECK_EQ(at, 15);
    EXPECT(__wasi_fd_seek(fd, -1, __WASI_WHENCE_SET, &at), __WASI_ERRNO_INVAL);
    EXPECT(__wasi_fd_seek(fd, -100, __WASI_WHENCE_CUR, &at), __WASI_ERRNO_INVAL);
    OK(__wasi_fd_tell(fd, &at));
    CHECK_EQ(at, 15);
    /* Positioned I/O leaves the position alone. */
    OK(__wasi_fd_seek(fd, 1, __WASI_WHENCE_SET, &at));
    OK(__wasi_fd_pread(fd, &in, 1, 8, &n));
    CHECK(n == 2 && !memcmp(buf, "89", 2));
    __wasi_ciovec_t o = out("AB");
    OK(__wasi_fd_pwrite(fd, &o, 1, 0, &n));
    OK(__wasi_fd_tell(fd, &at));
    CHECK_EQ(at, 1);
    OK(__wasi_fd_close(fd));
    /* Appending: writes go to the end wherever the position is. */
    fd = OPEN("f", 0, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE, __WASI_FDFLAGS_APPEND);
    OK(__wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &at));
    o = out("xyz");
    OK(__wasi_fd_write(fd, &o, 1, &n));
    OK(__wasi_fd_tell(fd, &at));
    CHECK_EQ(at, 13);
    OK(__wasi_fd_pread(fd, &in, 1, 0, &n));
    CHECK(n == 13 && !memcmp(buf, "AB23456789xyz", 13));
    OK(__wasi_fd_close(fd));
}

static void wrong_kinds(void) {
    OK(__wasi_path_create_directory(DIR_FD, "d"));
    __wasi_fd_t d = OPEN("d", __WASI_OFLAGS_DIRECTORY, 0, 0);
    uint8_t buf[8];
    __wasi_iovec_t in = {buf, sizeof buf};
    __wasi_ciovec_t o = out("x");
    __wasi_size_t n;
    __wasi_filesize_t at;
    /* A directory: none of the file operations. Reading one is EISDIR as
     * in POSIX (Wasmtime: EBADF). */
    EXPECT_EITHER(__wasi_fd_read(d, &in, 1, &n), __WASI_ERRNO_ISDIR, __WASI_ERRNO_BADF);
    EXPECT(__wasi_fd_write(d, &o, 1, &n), __WASI_ERRNO_BADF);
    EXPECT_EITHER(__wasi_fd_pread(d, &in, 1, 0, &n), __WASI_ERRNO_ISDIR, __WASI_ERRNO_BADF);
    EXPECT(__wasi_fd_pwrite(d, &o, 1, 0, &n), __WASI_ERRNO_BADF);
    EXPECT(__wasi_fd_seek(d, 0, __WASI_WHENCE_SET, &at), __WASI_ERRNO_BADF);
    EXPECT(__wasi_fd_tell(d, &at), __WASI_ERRNO_BADF);
    EXPECT(__wasi_fd_sync(d), __WASI_ERRNO_BADF);
    EXPECT(__wasi_fd_datasync(d), __WASI_ERRNO_BADF);
    EXPECT(__wasi_fd_filestat_set_size(d, 0), __WASI_ERRNO_BADF);
    EXPECT(__wasi_fd_allocate(d, 0, 1), __WASI_ERRNO_BADF);
    EXPECT(__wasi_fd_advise(d, 0, 1, __WASI_ADVICE_NORMAL), __WASI_ERRNO_BADF);
    OK(__wasi_fd_close(d));
    /* Streams: no position (ESPIPE) in their own direction, nothing in the
     * other (EBADF). */
    EXPECT(__wasi_fd_seek(0, 0, __WASI_WHENCE_SET, &at), __WASI_ERRNO_SPIPE);
    EXPECT(__wasi_fd_seek(1, 0, __WASI_WHENCE_CUR, &at), __WASI_ERRNO_SPIPE);
    EXPECT(__wasi_fd_tell(2, &at), __WASI_ERRNO_SPIPE);
    EXPECT(__wasi_fd_pread(0, &in, 1, 0, &n), __WASI_ERRNO_SPIPE);
    EXPECT(__wasi_fd_pwrite(1, &o, 1, 0, &n), __WASI_ERRNO_SPIPE);
    EXPECT(__wasi_fd_pread(1, &in, 1, 0, &n), __WASI_ERRNO_BADF);
    EXPECT(__wasi_fd_pwrite(0, &o, 1, 0, &n), __WASI_ERRNO_BADF);
    EXPECT(__wasi_fd_read(1, &in, 1, &n), __WASI_ERRNO_BADF);
    EXPECT(__wasi_fd_write(0, &o, 1, &n), __WASI_ERRNO_BADF);
    for (__wasi_fd_t s = 0; s < 3; s++) {
        EXPECT(__wasi_fd_sync(s), __WASI_ERRNO_BADF);
        EXPECT(__wasi_fd_datasync(s), __WASI_ERRNO_BADF);
        EXPECT(__wasi_fd_filestat_set_size(s, 0), __WASI_ERRNO_BADF);
        EXPECT(__wasi_fd_allocate(s, 0, 1), __WASI_ERRNO_BADF);
        EXPECT(__wasi_fd_advise(s, 0, 1, __WASI_ADVICE_NORMAL), __WASI_ERRNO_BADF);
    }
    /* A file opened for reading only cannot be written or resized. */
    MAKE_FILE("r", "abc");
    __wasi_fd_t r = OPEN("r", 0, __WASI_RIGHTS_FD_READ, 0);
    EXPECT(__wasi_fd_write(r, &o, 1, &n), __WASI_ERRNO_BADF);
    EXPECT(__wasi_fd_pwrite(r, &o, 1, 0, &n), __WASI_ERRNO_BADF);
    EXPECT(__wasi_fd_filestat_set_size(r, 0), __WASI_ERRNO_INVAL);
    OK(__wasi_fd_close(r));
}

static void sizes_sync_and_advice(void) {
    MAKE_FILE("s", "0123456789");
    __wasi_fd_t fd = OPEN("s", 0, __WASI_RIGHTS_FD_WRITE, 0);
    OK(__wasi_fd_filestat_set_size(fd, 4));
    CHECK_EQ(path_stat(0, "s").size, 4);
    OK(__wasi_fd_filestat_set_size(fd, 100));
    CHECK_EQ(path_stat(0, "s").size, 100);
    /* Space is never reserved ahead: ENOTSUP, and nothing changes. */
    EXPECT(__wasi_fd_allocate(fd, 0, 1000), __WASI_ERRNO_NOTSUP);
    CHECK_EQ(path_stat(0, "s").size, 100);
    OK(__wasi_fd_sync(fd));
    OK(__wasi_fd_datasync(fd));
    __wasi_advice_t advice[] = {__WASI_ADVICE_NORMAL, __WASI_ADVICE_SEQUENTIAL,
                                __WASI_ADVICE_RANDOM, __WASI_ADVICE_WILLNEED,
                                __WASI_ADVICE_DONTNEED, __WASI_ADVICE_NOREUSE};
    for (int i = 0; i < 6; i++)
        OK(__wasi_fd_advise(fd, 0, 10, advice[i]));
    OK(__wasi_fd_close(fd));
}

int main(void) {
    seek_and_tell();
    wrong_kinds();
    sizes_sync_and_advice();
    return report("io");
}
