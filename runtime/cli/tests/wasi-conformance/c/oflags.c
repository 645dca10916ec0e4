/*
 * path_open with every combination of oflags, of the fdflags that matter
 * for opening (APPEND, NONBLOCK, and each synchronous-I/O flag), and of
 * read and write rights, on a missing name, a file, a directory and a
 * symlink to each, followed or not. The expected result is the rule
 * Wasmtime follows, written out in `expected` below; on success the
 * descriptor's type, flags and contents are checked too.
 */
#include "check.h"

enum target { MISSING, FILE_, DIR_, LINK_TO_FILE, LINK_TO_DIR, DANGLING, N_TARGETS };
static const char *names[N_TARGETS] = {"missing", "file", "dir", "link-to-file", "link-to-dir",
                                       "dangling"};

#define SYNCS (__WASI_FDFLAGS_SYNC | __WASI_FDFLAGS_DSYNC | __WASI_FDFLAGS_RSYNC)

/* What path_open gives; `*opens` says what it opened (0 nothing, 1 file,
 * 2 directory). */
static int expected(enum target t, int follow, __wasi_oflags_t o, __wasi_fdflags_t f,
                    __wasi_rights_t rights, int *opens) {
    int creat = o & __WASI_OFLAGS_CREAT, dirflag = o & __WASI_OFLAGS_DIRECTORY;
    int excl = o & __WASI_OFLAGS_EXCL, trunc = o & __WASI_OFLAGS_TRUNC;
    int write = (rights & __WASI_RIGHTS_FD_WRITE) != 0;
    *opens = 0;
    if (f & SYNCS)
        return __WASI_ERRNO_NOTSUP;
    /* A directory cannot be created, truncated or made exclusively. */
    if (dirflag && (creat || trunc || excl))
        return __WASI_ERRNO_INVAL;
    /* A symlink not to be followed exists (O_CREAT|O_EXCL) or is refused. */
    if (!follow && (t == LINK_TO_FILE || t == LINK_TO_DIR || t == DANGLING))
        return creat && excl ? __WASI_ERRNO_EXIST : __WASI_ERRNO_LOOP;
    enum target seen = t == LINK_TO_FILE ? FILE_ : t == LINK_TO_DIR ? DIR_ : t;
    if (dirflag) {
        if (seen == DIR_ && write)
            return __WASI_ERRNO_ISDIR;
        if (seen == MISSING || seen == DANGLING)
            return __WASI_ERRNO_NOENT;
        if (seen == FILE_)
            return __WASI_ERRNO_NOTDIR;
        *opens = 2;
        return 0;
    }
    if (seen == DIR_) {
        if (creat && excl)
            return __WASI_ERRNO_EXIST;
        if (creat || trunc || write)
            return __WASI_ERRNO_ISDIR;
        *opens = 2;
        return 0;
    }
    if (seen == MISSING || seen == DANGLING) {
        if (!creat)
            return __WASI_ERRNO_NOENT;
        if (excl && t == DANGLING)
            return __WASI_ERRNO_EXIST;
        *opens = 1;
        return 0;
    }
    if (creat && excl)
        return __WASI_ERRNO_EXIST;
    *opens = 1;
    return 0;
}

static void prepare(void) {
    MAKE_FILE("file", "contents");
    OK(__wasi_path_create_directory(DIR_FD, "dir"));
    OK(__wasi_path_symlink("file", DIR_FD, "link-to-file"));
    OK(__wasi_path_symlink("dir", DIR_FD, "link-to-dir"));
    OK(__wasi_path_symlink("nowhere", DIR_FD, "dangling"));
}

/* Puts the tree back as `prepare` made it. */
static void restore(void) {
    MAKE_FILE("file", "contents");
    (void)__wasi_path_unlink_file(DIR_FD, "missing");
    (void)__wasi_path_unlink_file(DIR_FD, "nowhere");
}

static void one(enum target t, int follow, __wasi_oflags_t o, __wasi_fdflags_t f,
                __wasi_rights_t rights) {
    int opens;
    int want = expected(t, follow, o, f, rights, &opens);
    __wasi_fd_t fd;
    int got = __wasi_path_open(DIR_FD, follow ? __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW : 0, names[t], o,
                               rights, rights, f, &fd);
    char what[160];
    snprintf(what, sizeof what, "path_open(%s, follow=%d, oflags=%d, fdflags=%d, rights=%llx)",
             names[t], follow, o, f, (unsigned long long)rights);
    check_errno(__LINE__, what, got, want);
    if (got == 0) {
        __wasi_fdstat_t st = fdstat(fd);
        check_u64(__LINE__, what, st.fs_filetype,
                  opens == 2 ? __WASI_FILETYPE_DIRECTORY : __WASI_FILETYPE_REGULAR_FILE);
        if (opens == 1) {
            check_u64(__LINE__, what, st.fs_flags, f);
            __wasi_filestat_t fs;
            OK(__wasi_fd_filestat_get(fd, &fs));
            int emptied = (o & __WASI_OFLAGS_TRUNC) || t == MISSING || t == DANGLING;
            check_u64(__LINE__, what, fs.size, emptied ? 0 : 8);
        }
        OK(__wasi_fd_close(fd));
    }
    restore();
}

int main(void) {
    prepare();
    __wasi_fdflags_t fdflags[] = {0,
                                  __WASI_FDFLAGS_APPEND,
                                  __WASI_FDFLAGS_NONBLOCK,
                                  __WASI_FDFLAGS_APPEND | __WASI_FDFLAGS_NONBLOCK,
                                  __WASI_FDFLAGS_SYNC,
                                  __WASI_FDFLAGS_DSYNC,
                                  __WASI_FDFLAGS_RSYNC};
    __wasi_rights_t rights[] = {0, __WASI_RIGHTS_FD_READ, __WASI_RIGHTS_FD_WRITE,
                                __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE};
    for (int t = 0; t < N_TARGETS; t++)
        for (int follow = 0; follow < 2; follow++)
            for (__wasi_oflags_t o = 0; o < 16; o++)
                for (unsigned f = 0; f < sizeof fdflags / sizeof *fdflags; f++)
                    for (unsigned r = 0; r < 4; r++)
                        one((enum target)t, follow, o, fdflags[f], rights[r]);
    return report("oflags");
}
