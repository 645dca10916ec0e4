/*
 * Hard links (path_link) and setting times (fd_filestat_set_times,
 * path_filestat_set_times): what they change, their flags, and their
 * errors.
 */
#include "check.h"

#define FOLLOW __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW
#define SECOND 1000000000ull

static void hard_links(void) {
    MAKE_FILE("f", "shared");
    OK(__wasi_path_create_directory(DIR_FD, "d"));
    OK(__wasi_path_symlink("f", DIR_FD, "to-f"));
    OK(__wasi_path_link(DIR_FD, 0, "f", DIR_FD, "d/g"));
    CHECK_EQ(path_stat(0, "f").nlink, 2);
    CHECK_EQ(path_stat(0, "d/g").ino, path_stat(0, "f").ino);
    /* Writing through one name shows through the other. */
    MAKE_FILE("d/g", "changed!");
    CHECK_EQ(path_stat(0, "f").size, 8);
    OK(__wasi_path_unlink_file(DIR_FD, "d/g"));
    CHECK_EQ(path_stat(0, "f").nlink, 1);
    /* A link to a symlink is a second symlink (links are never followed). */
    OK(__wasi_path_link(DIR_FD, 0, "to-f", DIR_FD, "to-f-2"));
    CHECK_EQ(path_stat(0, "to-f-2").filetype, __WASI_FILETYPE_SYMBOLIC_LINK);
    /* Errors. */
    EXPECT(__wasi_path_link(DIR_FD, FOLLOW, "f", DIR_FD, "h"), __WASI_ERRNO_INVAL);
    EXPECT(__wasi_path_link(DIR_FD, 0, "f", DIR_FD, "to-f"), __WASI_ERRNO_EXIST);
    EXPECT(__wasi_path_link(DIR_FD, 0, "f", DIR_FD, "d"), __WASI_ERRNO_EXIST);
    EXPECT(__wasi_path_link(DIR_FD, 0, "d", DIR_FD, "d2"), __WASI_ERRNO_PERM);
    EXPECT(__wasi_path_link(DIR_FD, 0, "none", DIR_FD, "h"), __WASI_ERRNO_NOENT);
    EXPECT(__wasi_path_link(DIR_FD, 0, "f/", DIR_FD, "h"), __WASI_ERRNO_NOTDIR);
    EXPECT(__wasi_path_link(DIR_FD, 0, "d/", DIR_FD, "h"), __WASI_ERRNO_PERM);
    EXPECT(__wasi_path_link(DIR_FD, 0, "f", DIR_FD, "h/"), __WASI_ERRNO_NOENT);
    EXPECT(__wasi_path_link(DIR_FD, 0, "f", DIR_FD, "../h"), __WASI_ERRNO_PERM);
    EXPECT(__wasi_path_link(DIR_FD, 0, "../f", DIR_FD, "h"), __WASI_ERRNO_PERM);
    EXPECT(__wasi_path_link(DIR_FD, 0, "f", 1, "h"), __WASI_ERRNO_BADF);
    EXPECT(__wasi_path_link(99, 0, "f", DIR_FD, "h"), __WASI_ERRNO_BADF);
}

static void times(void) {
    MAKE_FILE("t", "x");
    __wasi_fd_t fd = OPEN("t", 0, __WASI_RIGHTS_FD_WRITE, 0);
    OK(__wasi_fd_filestat_set_times(fd, 5 * SECOND + 7, 9 * SECOND + 11,
                                    __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
    __wasi_filestat_t st;
    OK(__wasi_fd_filestat_get(fd, &st));
    CHECK_EQ(st.atim, 5 * SECOND + 7);
    CHECK_EQ(st.mtim, 9 * SECOND + 11);
    /* Only what fstflags names changes. */
    OK(__wasi_fd_filestat_set_times(fd, 1 * SECOND, 0, __WASI_FSTFLAGS_ATIM));
    OK(__wasi_fd_filestat_get(fd, &st));
    CHECK_EQ(st.atim, 1 * SECOND);
    CHECK_EQ(st.mtim, 9 * SECOND + 11);
    OK(__wasi_fd_filestat_set_times(fd, 0, 0, 0));
    OK(__wasi_fd_filestat_get(fd, &st));
    CHECK_EQ(st.atim, 1 * SECOND);
    /* "Now" is now: after 2020. */
    OK(__wasi_fd_filestat_set_times(fd, 0, 0, __WASI_FSTFLAGS_MTIM_NOW));
    OK(__wasi_fd_filestat_get(fd, &st));
    CHECK(st.mtim > 1577836800ull * SECOND);
    CHECK_EQ(st.atim, 1 * SECOND);
    EXPECT(__wasi_fd_filestat_set_times(fd, 0, 0, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_ATIM_NOW),
           __WASI_ERRNO_INVAL);
    EXPECT(__wasi_fd_filestat_set_times(fd, 0, 0, __WASI_FSTFLAGS_MTIM | __WASI_FSTFLAGS_MTIM_NOW),
           __WASI_ERRNO_INVAL);
    OK(__wasi_fd_close(fd));
    EXPECT(__wasi_fd_filestat_set_times(fd, 0, 0, __WASI_FSTFLAGS_MTIM_NOW), __WASI_ERRNO_BADF);
    EXPECT(__wasi_fd_filestat_set_times(1, 0, 0, __WASI_FSTFLAGS_MTIM_NOW), __WASI_ERRNO_BADF);
    /* Directories, by descriptor. */
    OK(__wasi_fd_filestat_set_times(DIR_FD, 3 * SECOND, 0, __WASI_FSTFLAGS_ATIM));
    OK(__wasi_fd_filestat_get(DIR_FD, &st));
    CHECK_EQ(st.atim, 3 * SECOND);

    /* By path: the link itself, or what it leads to. */
    OK(__wasi_path_symlink("t", DIR_FD, "to-t"));
    OK(__wasi_path_filestat_set_times(DIR_FD, FOLLOW, "to-t", 0, 4 * SECOND,
                                      __WASI_FSTFLAGS_MTIM));
    CHECK_EQ(path_stat(0, "t").mtim, 4 * SECOND);
    OK(__wasi_path_filestat_set_times(DIR_FD, 0, "to-t", 0, 6 * SECOND, __WASI_FSTFLAGS_MTIM));
    CHECK_EQ(path_stat(0, "to-t").mtim, 6 * SECOND);
    CHECK_EQ(path_stat(0, "t").mtim, 4 * SECOND);
    OK(__wasi_path_filestat_set_times(DIR_FD, 0, "d", 0, 8 * SECOND, __WASI_FSTFLAGS_MTIM));
    OK(__wasi_path_filestat_set_times(DIR_FD, FOLLOW, ".", 0, 12 * SECOND, __WASI_FSTFLAGS_MTIM));
    OK(__wasi_fd_filestat_get(DIR_FD, &st));
    CHECK_EQ(st.mtim, 12 * SECOND);
    OK(__wasi_path_filestat_set_times(DIR_FD, FOLLOW, "d/..", 0, 13 * SECOND, __WASI_FSTFLAGS_MTIM));
    OK(__wasi_fd_filestat_get(DIR_FD, &st));
    CHECK_EQ(st.mtim, 13 * SECOND);
    CHECK_EQ(path_stat(0, "d").mtim, 8 * SECOND);
    EXPECT(__wasi_path_filestat_set_times(DIR_FD, 0, "none", 0, 0, __WASI_FSTFLAGS_MTIM_NOW),
           __WASI_ERRNO_NOENT);
    EXPECT(__wasi_path_filestat_set_times(DIR_FD, 0, "t", 0, 0,
                                          __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_ATIM_NOW),
           __WASI_ERRNO_INVAL);
    EXPECT(__wasi_path_filestat_set_times(DIR_FD, 0, "t/", 0, 0, __WASI_FSTFLAGS_MTIM_NOW),
           __WASI_ERRNO_NOTDIR);
    EXPECT(__wasi_path_filestat_set_times(DIR_FD, 0, "../t", 0, 0, __WASI_FSTFLAGS_MTIM_NOW),
           __WASI_ERRNO_PERM);
}

int main(void) {
    hard_links();
    times();
    return report("links_times");
}
