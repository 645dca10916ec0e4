/*
 * Symlinks: creating them (path_symlink), reading them (path_readlink),
 * following them or not (lookup flags, trailing slashes), dangling and
 * looping links, and links whose target leads outside the preopen: they
 * may be created and read, but never followed out.
 */
#include "check.h"

static void setup(void) {
    MAKE_FILE("f", "contents");
    OK(__wasi_path_create_directory(DIR_FD, "d"));
    OK(__wasi_path_symlink("f", DIR_FD, "to-f"));
    OK(__wasi_path_symlink("d", DIR_FD, "to-d"));
    OK(__wasi_path_symlink("nothing", DIR_FD, "dangling"));
    OK(__wasi_path_symlink("loop-b", DIR_FD, "loop-a"));
    OK(__wasi_path_symlink("loop-a", DIR_FD, "loop-b"));
    OK(__wasi_path_symlink("../outside", DIR_FD, "escape"));
    OK(__wasi_path_symlink("d/../../outside", DIR_FD, "escape-deeper"));
    OK(__wasi_path_symlink("../f", DIR_FD, "d/up"));
}

static void creating(void) {
    EXPECT(__wasi_path_symlink("/etc/passwd", DIR_FD, "absolute"), __WASI_ERRNO_PERM);
    EXPECT(__wasi_path_symlink("f", DIR_FD, "f"), __WASI_ERRNO_EXIST);
    EXPECT(__wasi_path_symlink("f", DIR_FD, "to-f"), __WASI_ERRNO_EXIST);
    EXPECT(__wasi_path_symlink("f", DIR_FD, "dangling"), __WASI_ERRNO_EXIST);
    EXPECT(__wasi_path_symlink("f", DIR_FD, "d"), __WASI_ERRNO_EXIST);
    EXPECT(__wasi_path_symlink("f", DIR_FD, "d/"), __WASI_ERRNO_EXIST);
    EXPECT(__wasi_path_symlink("f", DIR_FD, "none/link"), __WASI_ERRNO_NOENT);
    EXPECT(__wasi_path_symlink("f", DIR_FD, "../link"), __WASI_ERRNO_PERM);
    __wasi_filestat_t st = path_stat(0, "to-f");
    CHECK_EQ(st.filetype, __WASI_FILETYPE_SYMBOLIC_LINK);
    CHECK_EQ(path_stat(__WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "to-f").filetype,
             __WASI_FILETYPE_REGULAR_FILE);
    CHECK_EQ(path_stat(__WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "to-d").filetype,
             __WASI_FILETYPE_DIRECTORY);
    CHECK_EQ(path_stat(0, "to-d/").filetype, __WASI_FILETYPE_DIRECTORY);
}

static void reading(void) {
    char buf[64];
    __wasi_size_t n;
    OK(__wasi_path_readlink(DIR_FD, "escape", (uint8_t *)buf, sizeof buf, &n));
    CHECK_EQ(n, 10);
    CHECK(memcmp(buf, "../outside", 10) == 0);
    /* A short buffer gets the start of the target. */
    OK(__wasi_path_readlink(DIR_FD, "escape", (uint8_t *)buf, 3, &n));
    CHECK_EQ(n, 3);
    CHECK(memcmp(buf, "../", 3) == 0);
    OK(__wasi_path_readlink(DIR_FD, "d/up", (uint8_t *)buf, sizeof buf, &n));
    CHECK_EQ(n, 4);
    EXPECT(__wasi_path_readlink(DIR_FD, "f", (uint8_t *)buf, sizeof buf, &n), __WASI_ERRNO_INVAL);
    EXPECT(__wasi_path_readlink(DIR_FD, "d", (uint8_t *)buf, sizeof buf, &n), __WASI_ERRNO_INVAL);
    EXPECT(__wasi_path_readlink(DIR_FD, "none", (uint8_t *)buf, sizeof buf, &n),
           __WASI_ERRNO_NOENT);
    EXPECT(__wasi_path_readlink(DIR_FD, "to-f/", (uint8_t *)buf, sizeof buf, &n),
           __WASI_ERRNO_NOTDIR);
    EXPECT(__wasi_path_readlink(DIR_FD, "to-d/", (uint8_t *)buf, sizeof buf, &n),
           __WASI_ERRNO_INVAL);
}

static void following(void) {
    __wasi_fd_t fd;
    const __wasi_lookupflags_t FOLLOW = __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW;
    __wasi_filestat_t st;
    fd = open_at(__LINE__, DIR_FD, "to-f", FOLLOW, 0, __WASI_RIGHTS_FD_READ, 0);
    CHECK_EQ(fdstat(fd).fs_filetype, __WASI_FILETYPE_REGULAR_FILE);
    OK(__wasi_fd_close(fd));
    fd = open_at(__LINE__, DIR_FD, "d/up", FOLLOW, 0, __WASI_RIGHTS_FD_READ, 0);
    OK(__wasi_fd_close(fd));
    /* Not followed: a final symlink is ELOOP, a trailing slash follows. */
    EXPECT(__wasi_path_open(DIR_FD, 0, "to-f", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd),
           __WASI_ERRNO_LOOP);
    EXPECT(__wasi_path_open(DIR_FD, 0, "to-f/", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd),
           __WASI_ERRNO_NOTDIR);
    fd = OPEN("to-d/", 0, 0, 0);
    CHECK_EQ(fdstat(fd).fs_filetype, __WASI_FILETYPE_DIRECTORY);
    /* ...and gives a directory descriptor, one that lists. */
    uint8_t list[256];
    __wasi_size_t used;
    OK(__wasi_fd_readdir(fd, list, sizeof list, 0, &used));
    CHECK(used > 0);
    OK(__wasi_fd_close(fd));
    /* Symlinks in the middle of a path are always followed. */
    MAKE_FILE("to-d/inner", "x");
    CHECK_EQ(path_stat(0, "d/inner").size, 1);
    /* Dangling and looping links. */
    EXPECT(__wasi_path_open(DIR_FD, FOLLOW, "dangling", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd),
           __WASI_ERRNO_NOENT);
    EXPECT(__wasi_path_filestat_get(DIR_FD, FOLLOW, "dangling", &st), __WASI_ERRNO_NOENT);
    CHECK_EQ(path_stat(0, "dangling").filetype, __WASI_FILETYPE_SYMBOLIC_LINK);
    EXPECT(__wasi_path_open(DIR_FD, FOLLOW, "loop-a", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd),
           __WASI_ERRNO_LOOP);
    EXPECT(__wasi_path_open(DIR_FD, 0, "loop-a", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd),
           __WASI_ERRNO_LOOP);
    EXPECT(__wasi_path_filestat_get(DIR_FD, FOLLOW, "loop-a", &st), __WASI_ERRNO_LOOP);
    EXPECT(__wasi_path_open(DIR_FD, 0, "loop-a/x", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd),
           __WASI_ERRNO_LOOP);
    /* Creating through a dangling link creates its target. */
    fd = open_at(__LINE__, DIR_FD, "dangling", FOLLOW, __WASI_OFLAGS_CREAT, __WASI_RIGHTS_FD_WRITE,
                 0);
    OK(__wasi_fd_close(fd));
    CHECK_EQ(path_stat(0, "nothing").filetype, __WASI_FILETYPE_REGULAR_FILE);
    EXPECT(__wasi_path_open(DIR_FD, FOLLOW, "to-f", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_EXCL,
                            __WASI_RIGHTS_FD_WRITE, 0, 0, &fd),
           __WASI_ERRNO_EXIST);
}

static void never_out_of_the_preopen(void) {
    __wasi_fd_t fd;
    __wasi_filestat_t st;
    const __wasi_lookupflags_t FOLLOW = __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW;
    const char *escapes[] = {"escape", "escape-deeper"};
    for (int i = 0; i < 2; i++) {
        EXPECT(__wasi_path_open(DIR_FD, FOLLOW, escapes[i], 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd),
               __WASI_ERRNO_PERM);
        EXPECT(__wasi_path_open(DIR_FD, FOLLOW, escapes[i], __WASI_OFLAGS_CREAT,
                                __WASI_RIGHTS_FD_WRITE, 0, 0, &fd),
               __WASI_ERRNO_PERM);
        EXPECT(__wasi_path_filestat_get(DIR_FD, FOLLOW, escapes[i], &st), __WASI_ERRNO_PERM);
        EXPECT(__wasi_path_filestat_set_times(DIR_FD, FOLLOW, escapes[i], 0, 0,
                                              __WASI_FSTFLAGS_MTIM_NOW),
               __WASI_ERRNO_PERM);
        /* The link itself is inside: it can be examined and removed. */
        CHECK_EQ(path_stat(0, escapes[i]).filetype, __WASI_FILETYPE_SYMBOLIC_LINK);
    }
    EXPECT(__wasi_path_create_directory(DIR_FD, "escape/sub"), __WASI_ERRNO_PERM);
    OK(__wasi_path_unlink_file(DIR_FD, "escape"));
    OK(__wasi_path_rename(DIR_FD, "escape-deeper", DIR_FD, "renamed"));
    OK(__wasi_path_unlink_file(DIR_FD, "renamed"));
}

static void removing(void) {
    EXPECT(__wasi_path_unlink_file(DIR_FD, "to-f/"), __WASI_ERRNO_NOTDIR);
    EXPECT(__wasi_path_unlink_file(DIR_FD, "to-d/"), __WASI_ERRNO_ISDIR);
    EXPECT(__wasi_path_remove_directory(DIR_FD, "to-d"), __WASI_ERRNO_NOTDIR);
    EXPECT(__wasi_path_remove_directory(DIR_FD, "to-d/"), __WASI_ERRNO_NOTDIR);
    /* Unlinking a link leaves its target. */
    OK(__wasi_path_unlink_file(DIR_FD, "to-d"));
    OK(__wasi_path_unlink_file(DIR_FD, "to-f"));
    OK(__wasi_path_unlink_file(DIR_FD, "loop-a"));
    CHECK_EQ(path_stat(0, "f").filetype, __WASI_FILETYPE_REGULAR_FILE);
    CHECK_EQ(path_stat(0, "d").filetype, __WASI_FILETYPE_DIRECTORY);
}

int main(void) {
    setup();
    creating();
    reading();
    following();
    never_out_of_the_preopen();
    removing();
    return report("symlinks");
}
