/*
 * Rights: what fd_fdstat_get reports for preopens, directories and files
 * opened for reading, writing or both; that rights are never narrowed
 * (fd_fdstat_set_rights is ENOTSUP); that a directory opened with its own
 * rights is a directory; and that the rights asked for decide how a file
 * is opened.
 */
#include "check.h"

static void directories_cannot_seek(void) {
    __wasi_fdstat_t pre = fdstat(DIR_FD);
    CHECK_EQ(pre.fs_filetype, __WASI_FILETYPE_DIRECTORY);
    CHECK(!(pre.fs_rights_base & (__WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_WRITE)));
    CHECK(pre.fs_rights_base & __WASI_RIGHTS_PATH_OPEN);
    CHECK(pre.fs_rights_base & __WASI_RIGHTS_FD_READDIR);
    /* What files opened below it may get: wasi-libc masks with these. */
    CHECK(pre.fs_rights_inheriting & __WASI_RIGHTS_FD_WRITE);
    CHECK(pre.fs_rights_inheriting & __WASI_RIGHTS_FD_SEEK);

    OK(__wasi_path_create_directory(DIR_FD, "sub"));
    /* Asking for FD_SEEK on a directory does not give it. */
    __wasi_fd_t sub = OPEN("sub", __WASI_OFLAGS_DIRECTORY,
                           __WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_READDIR, 0);
    __wasi_fdstat_t st = fdstat(sub);
    CHECK_EQ(st.fs_filetype, __WASI_FILETYPE_DIRECTORY);
    CHECK(!(st.fs_rights_base & __WASI_RIGHTS_FD_SEEK));
    CHECK(!(st.fs_rights_base & __WASI_RIGHTS_FD_WRITE));
    CHECK(!(st.fs_rights_base & __WASI_RIGHTS_FD_FILESTAT_SET_SIZE));
    CHECK(st.fs_rights_base & __WASI_RIGHTS_FD_READDIR);
    CHECK(st.fs_rights_base & __WASI_RIGHTS_PATH_OPEN);
    __wasi_filesize_t at;
    EXPECT(__wasi_fd_seek(sub, 0, __WASI_WHENCE_CUR, &at), __WASI_ERRNO_BADF);
    EXPECT(__wasi_fd_tell(sub, &at), __WASI_ERRNO_BADF);
    OK(__wasi_fd_close(sub));
}

static void the_preopen_reopens_as_a_directory(void) {
    __wasi_fdstat_t pre = fdstat(DIR_FD);
    __wasi_fd_t fd;
    OK(__wasi_path_open(DIR_FD, 0, ".", 0, pre.fs_rights_base, pre.fs_rights_inheriting, 0, &fd));
    CHECK_EQ(fdstat(fd).fs_filetype, __WASI_FILETYPE_DIRECTORY);
    OK(__wasi_fd_close(fd));
    OK(__wasi_path_open(DIR_FD, 0, "./", 0, 0, 0, 0, &fd));
    CHECK_EQ(fdstat(fd).fs_filetype, __WASI_FILETYPE_DIRECTORY);
    OK(__wasi_fd_close(fd));
    /* Writing a directory is not something it can be opened for. */
    EXPECT(__wasi_path_open(DIR_FD, 0, ".", 0, __WASI_RIGHTS_FD_WRITE, 0, 0, &fd),
           __WASI_ERRNO_ISDIR);
    EXPECT(__wasi_path_open(DIR_FD, 0, ".", __WASI_OFLAGS_DIRECTORY, __WASI_RIGHTS_FD_WRITE, 0, 0,
                            &fd),
           __WASI_ERRNO_ISDIR);
}

static void rights_are_never_narrowed(void) {
    MAKE_FILE("f", "abc");
    __wasi_fd_t fd = OPEN("f", 0, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE, 0);
    __wasi_fdstat_t before = fdstat(fd);
    EXPECT(__wasi_fd_fdstat_set_rights(fd, __WASI_RIGHTS_FD_READ, 0), __WASI_ERRNO_NOTSUP);
    __wasi_fdstat_t after = fdstat(fd);
    CHECK_EQ(after.fs_rights_base, before.fs_rights_base);
    __wasi_size_t n;
    __wasi_ciovec_t out = {(const uint8_t *)"x", 1};
    OK(__wasi_fd_write(fd, &out, 1, &n));
    OK(__wasi_fd_close(fd));
    EXPECT(__wasi_fd_fdstat_set_rights(fd, 0, 0), __WASI_ERRNO_BADF);
}

/* Opens `f` with these oflags, rights and fdflags and checks the access
 * mode the rights report and that reading and writing agree with it. */
static void opens_for(int line, __wasi_oflags_t oflags, __wasi_rights_t rights,
                      __wasi_fdflags_t fdflags, int readable, int writable) {
    MAKE_FILE("f", "hello");
    __wasi_fd_t fd = open_at(line, DIR_FD, "f", 0, oflags, rights, fdflags);
    if (fd == (__wasi_fd_t)-1)
        return;
    __wasi_fdstat_t st = fdstat(fd);
    check_u64(line, "rights", st.fs_rights_base, FILE_RIGHTS(readable, writable));
    check_u64(line, "inheriting rights", st.fs_rights_inheriting, FILE_RIGHTS(readable, writable));
    check_u64(line, "fdflags", st.fs_flags, fdflags);
    check_u64(line, "filetype", st.fs_filetype, __WASI_FILETYPE_REGULAR_FILE);
    uint8_t buf[8];
    __wasi_iovec_t in = {buf, sizeof buf};
    __wasi_ciovec_t out = {(const uint8_t *)"x", 1};
    __wasi_size_t n;
    check_errno(line, "fd_read", __wasi_fd_read(fd, &in, 1, &n), readable ? 0 : __WASI_ERRNO_BADF);
    check_errno(line, "fd_write", __wasi_fd_write(fd, &out, 1, &n),
                writable ? 0 : __WASI_ERRNO_BADF);
    check_errno(line, "fd_close", __wasi_fd_close(fd), 0);
}

static void rights_decide_the_access_mode(void) {
    const __wasi_rights_t R = __WASI_RIGHTS_FD_READ, W = __WASI_RIGHTS_FD_WRITE;
    opens_for(__LINE__, 0, R, 0, 1, 0);
    opens_for(__LINE__, 0, 0, 0, 1, 0);
    opens_for(__LINE__, 0, W, 0, 0, 1);
    opens_for(__LINE__, 0, R | W, 0, 1, 1);
    opens_for(__LINE__, 0, RIGHTS_ALL, 0, 1, 1);
    opens_for(__LINE__, 0, __WASI_RIGHTS_FD_READDIR, 0, 1, 0);
    /* Only FD_WRITE makes a file writable by right... */
    opens_for(__LINE__, 0, __WASI_RIGHTS_FD_DATASYNC, 0, 1, 0);
    opens_for(__LINE__, 0, __WASI_RIGHTS_FD_FILESTAT_SET_SIZE, 0, 1, 0);
    /* ...but creating or truncating always opens it for writing. */
    opens_for(__LINE__, __WASI_OFLAGS_CREAT, R, 0, 1, 1);
    opens_for(__LINE__, __WASI_OFLAGS_TRUNC, R, 0, 1, 1);
    opens_for(__LINE__, __WASI_OFLAGS_TRUNC, 0, 0, 1, 1);
    opens_for(__LINE__, __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC, W, 0, 0, 1);
    /* APPEND is reported, and writes only where writing was granted. */
    opens_for(__LINE__, 0, W, __WASI_FDFLAGS_APPEND, 0, 1);
    opens_for(__LINE__, 0, R, __WASI_FDFLAGS_APPEND, 1, 0);
    opens_for(__LINE__, 0, R | W, __WASI_FDFLAGS_APPEND, 1, 1);
    opens_for(__LINE__, 0, R, __WASI_FDFLAGS_NONBLOCK, 1, 0);
}

static void creating_needs_no_write_right(void) {
    /* The Rust testsuite's helper creates files this way. */
    __wasi_fd_t fd = OPEN("created", __WASI_OFLAGS_CREAT, __WASI_RIGHTS_FD_READ, 0);
    __wasi_size_t n;
    __wasi_ciovec_t out = {(const uint8_t *)"data", 4};
    OK(__wasi_fd_write(fd, &out, 1, &n));
    CHECK_EQ(n, 4);
    OK(__wasi_fd_close(fd));
    CHECK_EQ(path_stat(0, "created").size, 4);
    /* O_CREAT|O_TRUNC|O_WRONLY|O_APPEND, as C's open() passes it. */
    fd = OPEN("appended", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC, __WASI_RIGHTS_FD_WRITE,
              __WASI_FDFLAGS_APPEND);
    OK(__wasi_fd_write(fd, &out, 1, &n));
    __wasi_filesize_t at;
    OK(__wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &at));
    OK(__wasi_fd_write(fd, &out, 1, &n));
    CHECK_EQ(fdstat(fd).fs_flags, __WASI_FDFLAGS_APPEND);
    OK(__wasi_fd_close(fd));
    CHECK_EQ(path_stat(0, "appended").size, 8);
}

static void synchronous_io_is_not_offered(void) {
    MAKE_FILE("s", "");
    __wasi_fd_t fd;
    __wasi_fdflags_t syncs[] = {__WASI_FDFLAGS_SYNC, __WASI_FDFLAGS_DSYNC, __WASI_FDFLAGS_RSYNC};
    for (int i = 0; i < 3; i++) {
        EXPECT(__wasi_path_open(DIR_FD, 0, "s", 0, __WASI_RIGHTS_FD_WRITE, 0, syncs[i], &fd),
               __WASI_ERRNO_NOTSUP);
        EXPECT(__wasi_path_open(DIR_FD, 0, "s2", __WASI_OFLAGS_CREAT, __WASI_RIGHTS_FD_WRITE, 0,
                                syncs[i] | __WASI_FDFLAGS_APPEND, &fd),
               __WASI_ERRNO_NOTSUP);
    }
    /* Refused before anything was created. */
    __wasi_filestat_t st;
    EXPECT(__wasi_path_filestat_get(DIR_FD, 0, "s2", &st), __WASI_ERRNO_NOENT);
    fd = OPEN("s", 0, __WASI_RIGHTS_FD_WRITE, 0);
    for (int i = 0; i < 3; i++)
        EXPECT(__wasi_fd_fdstat_set_flags(fd, syncs[i]), __WASI_ERRNO_INVAL);
    CHECK_EQ(fdstat(fd).fs_flags, 0);
    OK(__wasi_fd_fdstat_set_flags(fd, __WASI_FDFLAGS_APPEND | __WASI_FDFLAGS_NONBLOCK));
    CHECK_EQ(fdstat(fd).fs_flags, __WASI_FDFLAGS_APPEND | __WASI_FDFLAGS_NONBLOCK);
    OK(__wasi_fd_fdstat_set_flags(fd, 0));
    CHECK_EQ(fdstat(fd).fs_flags, 0);
    OK(__wasi_fd_close(fd));
    /* Only files take flags. */
    EXPECT(__wasi_fd_fdstat_set_flags(DIR_FD, __WASI_FDFLAGS_APPEND), __WASI_ERRNO_BADF);
    EXPECT(__wasi_fd_fdstat_set_flags(1, __WASI_FDFLAGS_APPEND), __WASI_ERRNO_BADF);
}

static void streams_have_stream_rights(void) {
    CHECK(fdstat(0).fs_rights_base & __WASI_RIGHTS_FD_READ);
    CHECK(fdstat(1).fs_rights_base & __WASI_RIGHTS_FD_WRITE);
    CHECK(fdstat(2).fs_rights_base & __WASI_RIGHTS_FD_WRITE);
    for (int fd = 0; fd < 3; fd++)
        CHECK(!(fdstat(fd).fs_rights_base & (__WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_TELL)));
}

int main(void) {
    directories_cannot_seek();
    the_preopen_reopens_as_a_directory();
    rights_are_never_narrowed();
    rights_decide_the_access_mode();
    creating_needs_no_write_right();
    synchronous_io_is_not_offered();
    streams_have_stream_rights();
    return report("rights");
}
