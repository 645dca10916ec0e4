/*
 * Descriptors: every function that takes one gives EBADF for a number that
 * is not open; renumbering and closing; preopen names; the socket
 * functions (EBADF, or ENOTSOCK for what is open but no socket, which is
 * everything a sandbox holds) and proc_raise (ENOTSUP).
 */
#include "check.h"

__attribute__((import_module("wasi_snapshot_preview1"), import_name("proc_raise"))) int
raw_proc_raise(int signal);

static void closed_descriptors(void) {
    const __wasi_fd_t bad[] = {77, 0x7fffffff, 0xffffffff};
    uint8_t buf[64];
    __wasi_iovec_t in = {buf, sizeof buf};
    __wasi_ciovec_t o = {buf, 1};
    __wasi_size_t n;
    __wasi_filesize_t at;
    __wasi_fdstat_t fdst;
    __wasi_filestat_t st;
    __wasi_prestat_t pre;
    __wasi_fd_t fd;
    for (int i = 0; i < 3; i++) {
        __wasi_fd_t b = bad[i];
        EXPECT(__wasi_fd_read(b, &in, 1, &n), __WASI_ERRNO_BADF);
        EXPECT(__wasi_fd_write(b, &o, 1, &n), __WASI_ERRNO_BADF);
        EXPECT(__wasi_fd_pread(b, &in, 1, 0, &n), __WASI_ERRNO_BADF);
        EXPECT(__wasi_fd_pwrite(b, &o, 1, 0, &n), __WASI_ERRNO_BADF);
        EXPECT(__wasi_fd_seek(b, 0, __WASI_WHENCE_SET, &at), __WASI_ERRNO_BADF);
        EXPECT(__wasi_fd_tell(b, &at), __WASI_ERRNO_BADF);
        EXPECT(__wasi_fd_sync(b), __WASI_ERRNO_BADF);
        EXPECT(__wasi_fd_datasync(b), __WASI_ERRNO_BADF);
        EXPECT(__wasi_fd_advise(b, 0, 0, __WASI_ADVICE_NORMAL), __WASI_ERRNO_BADF);
        EXPECT(__wasi_fd_allocate(b, 0, 1), __WASI_ERRNO_BADF);
        EXPECT(__wasi_fd_close(b), __WASI_ERRNO_BADF);
        EXPECT(__wasi_fd_fdstat_get(b, &fdst), __WASI_ERRNO_BADF);
        EXPECT(__wasi_fd_fdstat_set_flags(b, 0), __WASI_ERRNO_BADF);
        EXPECT(__wasi_fd_fdstat_set_rights(b, 0, 0), __WASI_ERRNO_BADF);
        EXPECT(__wasi_fd_filestat_get(b, &st), __WASI_ERRNO_BADF);
        EXPECT(__wasi_fd_filestat_set_size(b, 0), __WASI_ERRNO_BADF);
        EXPECT(__wasi_fd_filestat_set_times(b, 0, 0, 0), __WASI_ERRNO_BADF);
        EXPECT(__wasi_fd_prestat_get(b, &pre), __WASI_ERRNO_BADF);
        EXPECT(__wasi_fd_prestat_dir_name(b, buf, sizeof buf), __WASI_ERRNO_BADF);
        EXPECT(__wasi_fd_readdir(b, buf, sizeof buf, 0, &n), __WASI_ERRNO_BADF);
        EXPECT(__wasi_fd_renumber(b, 1), __WASI_ERRNO_BADF);
        EXPECT(__wasi_path_open(b, 0, "x", 0, 0, 0, 0, &fd), __WASI_ERRNO_BADF);
        EXPECT(__wasi_path_create_directory(b, "x"), __WASI_ERRNO_BADF);
        EXPECT(__wasi_path_remove_directory(b, "x"), __WASI_ERRNO_BADF);
        EXPECT(__wasi_path_unlink_file(b, "x"), __WASI_ERRNO_BADF);
        EXPECT(__wasi_path_filestat_get(b, 0, "x", &st), __WASI_ERRNO_BADF);
        EXPECT(__wasi_path_filestat_set_times(b, 0, "x", 0, 0, 0), __WASI_ERRNO_BADF);
        EXPECT(__wasi_path_readlink(b, "x", buf, sizeof buf, &n), __WASI_ERRNO_BADF);
        EXPECT(__wasi_path_symlink("a", b, "x"), __WASI_ERRNO_BADF);
        EXPECT(__wasi_path_rename(b, "x", DIR_FD, "y"), __WASI_ERRNO_BADF);
        EXPECT(__wasi_path_rename(DIR_FD, "x", b, "y"), __WASI_ERRNO_BADF);
        EXPECT(__wasi_path_link(b, 0, "x", DIR_FD, "y"), __WASI_ERRNO_BADF);
        EXPECT(__wasi_sock_accept(b, 0, &fd), __WASI_ERRNO_BADF);
        EXPECT(__wasi_sock_recv(b, &in, 1, 0, &n, (__wasi_roflags_t *)buf), __WASI_ERRNO_BADF);
        EXPECT(__wasi_sock_send(b, &o, 1, 0, &n), __WASI_ERRNO_BADF);
        EXPECT(__wasi_sock_shutdown(b, __WASI_SDFLAGS_RD), __WASI_ERRNO_BADF);
    }
}

static void renumber_and_close(void) {
    MAKE_FILE("f", "abc");
    __wasi_fd_t a = OPEN("f", 0, __WASI_RIGHTS_FD_READ, 0);
    __wasi_fd_t b = OPEN("f", 0, __WASI_RIGHTS_FD_READ, 0);
    __wasi_filesize_t at;
    OK(__wasi_fd_seek(a, 2, __WASI_WHENCE_SET, &at));
    /* b now is a; a is closed. */
    OK(__wasi_fd_renumber(a, b));
    OK(__wasi_fd_tell(b, &at));
    CHECK_EQ(at, 2);
    EXPECT(__wasi_fd_tell(a, &at), __WASI_ERRNO_BADF);
    /* The target must be open. */
    EXPECT(__wasi_fd_renumber(b, 500), __WASI_ERRNO_BADF);
    OK(__wasi_fd_tell(b, &at));
    OK(__wasi_fd_renumber(b, b));
    OK(__wasi_fd_tell(b, &at));
    OK(__wasi_fd_close(b));
    EXPECT(__wasi_fd_close(b), __WASI_ERRNO_BADF);
}

static void preopens(void) {
    __wasi_prestat_t pre;
    OK(__wasi_fd_prestat_get(DIR_FD, &pre));
    CHECK_EQ(pre.tag, __WASI_PREOPENTYPE_DIR);
    char name[256];
    CHECK(pre.u.dir.pr_name_len < sizeof name);
    OK(__wasi_fd_prestat_dir_name(DIR_FD, (uint8_t *)name, pre.u.dir.pr_name_len));
    if (pre.u.dir.pr_name_len > 0)
        EXPECT(__wasi_fd_prestat_dir_name(DIR_FD, (uint8_t *)name, pre.u.dir.pr_name_len - 1),
               __WASI_ERRNO_NAMETOOLONG);
    /* Streams, files and opened directories are no preopens. */
    EXPECT(__wasi_fd_prestat_get(1, &pre), __WASI_ERRNO_BADF);
    OK(__wasi_path_create_directory(DIR_FD, "d"));
    __wasi_fd_t d = OPEN("d", __WASI_OFLAGS_DIRECTORY, 0, 0);
    EXPECT(__wasi_fd_prestat_get(d, &pre), __WASI_ERRNO_BADF);
    OK(__wasi_fd_close(d));
}

static void no_sockets_no_signals(void) {
    uint8_t buf[8];
    __wasi_iovec_t in = {buf, sizeof buf};
    __wasi_ciovec_t o = {buf, 1};
    __wasi_size_t n;
    __wasi_fd_t fd;
    MAKE_FILE("s", "x");
    __wasi_fd_t file = OPEN("s", 0, __WASI_RIGHTS_FD_READ, 0);
    __wasi_fd_t held[] = {0, 1, 2, DIR_FD, file};
    for (int i = 0; i < 5; i++) {
        EXPECT(__wasi_sock_accept(held[i], 0, &fd), __WASI_ERRNO_NOTSOCK);
        EXPECT(__wasi_sock_recv(held[i], &in, 1, 0, &n, (__wasi_roflags_t *)buf),
               __WASI_ERRNO_NOTSOCK);
        EXPECT(__wasi_sock_send(held[i], &o, 1, 0, &n), __WASI_ERRNO_NOTSOCK);
        EXPECT(__wasi_sock_shutdown(held[i], __WASI_SDFLAGS_WR), __WASI_ERRNO_NOTSOCK);
    }
    OK(__wasi_fd_close(file));
    EXPECT(raw_proc_raise(10), __WASI_ERRNO_NOTSUP);
}

int main(void) {
    closed_descriptors();
    renumber_and_close();
    preopens();
    no_sockets_no_signals();
    return report("descriptors");
}
