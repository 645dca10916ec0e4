/*
 * Path resolution in every path function: trailing slashes (which demand
 * a directory), "." and "..", absolute paths and the empty path, and the
 * errno each function gives for a file where a directory was needed, a
 * directory where a file was needed, and names that exist or do not.
 */
#include "check.h"

static void setup(void) {
    MAKE_FILE("f", "0123456789");
    OK(__wasi_path_create_directory(DIR_FD, "d"));
    MAKE_FILE("d/inner", "x");
}

static void trailing_slashes(void) {
    __wasi_fd_t fd;
    __wasi_filestat_t st;
    /* A trailing slash on a file is ENOTDIR everywhere. */
    EXPECT(__wasi_path_open(DIR_FD, 0, "f/", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd),
           __WASI_ERRNO_NOTDIR);
    EXPECT(__wasi_path_filestat_get(DIR_FD, 0, "f/", &st), __WASI_ERRNO_NOTDIR);
    EXPECT(__wasi_path_unlink_file(DIR_FD, "f/"), __WASI_ERRNO_NOTDIR);
    EXPECT(__wasi_path_remove_directory(DIR_FD, "f/"), __WASI_ERRNO_NOTDIR);
    EXPECT(__wasi_path_rename(DIR_FD, "f/", DIR_FD, "g"), __WASI_ERRNO_NOTDIR);
    EXPECT(__wasi_path_rename(DIR_FD, "f", DIR_FD, "g/"), __WASI_ERRNO_NOTDIR);
    EXPECT(__wasi_path_filestat_set_times(DIR_FD, 0, "f/", 0, 0, __WASI_FSTFLAGS_MTIM_NOW),
           __WASI_ERRNO_NOTDIR);
    EXPECT(__wasi_path_link(DIR_FD, 0, "f/", DIR_FD, "g"), __WASI_ERRNO_NOTDIR);
    /* A new file cannot be named with one. */
    EXPECT(__wasi_path_open(DIR_FD, 0, "new/", __WASI_OFLAGS_CREAT, __WASI_RIGHTS_FD_WRITE, 0, 0,
                            &fd),
           __WASI_ERRNO_ISDIR);
    EXPECT(__wasi_path_open(DIR_FD, 0, "f/", __WASI_OFLAGS_CREAT, __WASI_RIGHTS_FD_WRITE, 0, 0,
                            &fd),
           __WASI_ERRNO_ISDIR);
    EXPECT(__wasi_path_link(DIR_FD, 0, "f", DIR_FD, "new/"), __WASI_ERRNO_NOENT);
    EXPECT(__wasi_path_symlink("f", DIR_FD, "new/"), __WASI_ERRNO_NOENT);
    EXPECT(__wasi_path_symlink("f", DIR_FD, "f/"), __WASI_ERRNO_NOTDIR);
    /* On a directory it is harmless. */
    fd = OPEN("d/", 0, 0, 0);
    CHECK_EQ(fdstat(fd).fs_filetype, __WASI_FILETYPE_DIRECTORY);
    OK(__wasi_fd_close(fd));
    OK(__wasi_path_filestat_get(DIR_FD, 0, "d/", &st));
    CHECK_EQ(st.filetype, __WASI_FILETYPE_DIRECTORY);
    OK(__wasi_path_create_directory(DIR_FD, "e/"));
    OK(__wasi_path_rename(DIR_FD, "e/", DIR_FD, "e2/"));
    OK(__wasi_path_remove_directory(DIR_FD, "e2/"));
    EXPECT(__wasi_path_filestat_get(DIR_FD, 0, "e2", &st), __WASI_ERRNO_NOENT);
}

static void dots_and_absolute_paths(void) {
    __wasi_fd_t fd;
    __wasi_filestat_t st;
    fd = OPEN("d/../f", 0, __WASI_RIGHTS_FD_READ, 0);
    OK(__wasi_fd_close(fd));
    fd = OPEN("./d/./inner", 0, __WASI_RIGHTS_FD_READ, 0);
    OK(__wasi_fd_close(fd));
    fd = OPEN("d//inner", 0, __WASI_RIGHTS_FD_READ, 0);
    OK(__wasi_fd_close(fd));
    /* Nothing above the preopen is reachable. */
    EXPECT(__wasi_path_open(DIR_FD, 0, "..", 0, 0, 0, 0, &fd), __WASI_ERRNO_PERM);
    EXPECT(__wasi_path_open(DIR_FD, 0, "d/../../f", 0, 0, 0, 0, &fd), __WASI_ERRNO_PERM);
    EXPECT(__wasi_path_open(DIR_FD, 0, "/f", 0, 0, 0, 0, &fd), __WASI_ERRNO_PERM);
    EXPECT(__wasi_path_filestat_get(DIR_FD, 0, "..", &st), __WASI_ERRNO_PERM);
    EXPECT(__wasi_path_create_directory(DIR_FD, "../x"), __WASI_ERRNO_PERM);
    EXPECT(__wasi_path_open(DIR_FD, 0, "", 0, 0, 0, 0, &fd), __WASI_ERRNO_NOENT);
    EXPECT(__wasi_path_filestat_get(DIR_FD, 0, "", &st), __WASI_ERRNO_NOENT);
}

static void kinds_and_existence(void) {
    __wasi_fd_t fd;
    EXPECT(__wasi_path_create_directory(DIR_FD, "f"), __WASI_ERRNO_EXIST);
    EXPECT(__wasi_path_create_directory(DIR_FD, "d"), __WASI_ERRNO_EXIST);
    EXPECT(__wasi_path_create_directory(DIR_FD, "f/sub"), __WASI_ERRNO_NOTDIR);
    EXPECT(__wasi_path_create_directory(DIR_FD, "none/sub"), __WASI_ERRNO_NOENT);
    EXPECT(__wasi_path_unlink_file(DIR_FD, "d"), __WASI_ERRNO_ISDIR);
    EXPECT(__wasi_path_unlink_file(DIR_FD, "none"), __WASI_ERRNO_NOENT);
    EXPECT(__wasi_path_remove_directory(DIR_FD, "f"), __WASI_ERRNO_NOTDIR);
    EXPECT(__wasi_path_remove_directory(DIR_FD, "d"), __WASI_ERRNO_NOTEMPTY);
    EXPECT(__wasi_path_remove_directory(DIR_FD, "none"), __WASI_ERRNO_NOENT);
    EXPECT(__wasi_path_rename(DIR_FD, "f", DIR_FD, "d"), __WASI_ERRNO_ISDIR);
    EXPECT(__wasi_path_rename(DIR_FD, "d", DIR_FD, "f"), __WASI_ERRNO_NOTDIR);
    EXPECT(__wasi_path_rename(DIR_FD, "none", DIR_FD, "x"), __WASI_ERRNO_NOENT);
    EXPECT(__wasi_path_rename(DIR_FD, "d", DIR_FD, "d/inside"), __WASI_ERRNO_INVAL);
    EXPECT(__wasi_path_open(DIR_FD, 0, "f/x", 0, 0, 0, 0, &fd), __WASI_ERRNO_NOTDIR);
    EXPECT(__wasi_path_open(DIR_FD, 0, "f", __WASI_OFLAGS_DIRECTORY, 0, 0, 0, &fd),
           __WASI_ERRNO_NOTDIR);
    /* A file as the directory of path_open is ENOTDIR (as Wasmtime has
     * it); as that of any other path function EBADF, like a stream or a
     * closed descriptor. */
    fd = OPEN("f", 0, __WASI_RIGHTS_FD_READ, 0);
    __wasi_fd_t other;
    EXPECT(__wasi_path_open(fd, 0, "x", 0, 0, 0, 0, &other), __WASI_ERRNO_NOTDIR);
    EXPECT(__wasi_path_create_directory(fd, "x"), __WASI_ERRNO_BADF);
    EXPECT(__wasi_path_unlink_file(fd, "x"), __WASI_ERRNO_BADF);
    EXPECT(__wasi_path_open(1, 0, "x", 0, 0, 0, 0, &other), __WASI_ERRNO_BADF);
    OK(__wasi_fd_close(fd));
    EXPECT(__wasi_path_open(fd, 0, "x", 0, 0, 0, 0, &other), __WASI_ERRNO_BADF);
    /* Renames replace files and empty directories. */
    MAKE_FILE("g", "g");
    OK(__wasi_path_rename(DIR_FD, "g", DIR_FD, "f"));
    CHECK_EQ(path_stat(0, "f").size, 1);
    OK(__wasi_path_create_directory(DIR_FD, "empty"));
    OK(__wasi_path_create_directory(DIR_FD, "moved"));
    OK(__wasi_path_rename(DIR_FD, "moved", DIR_FD, "empty"));
    OK(__wasi_path_rename(DIR_FD, "d/inner", DIR_FD, "inner"));
    OK(__wasi_path_rename(DIR_FD, "inner", DIR_FD, "d/inner"));
}

int main(void) {
    setup();
    trailing_slashes();
    dots_and_absolute_paths();
    kinds_and_existence();
    return report("paths");
}
