/*
 * fd_readdir: every entry once, "." and ".." first with the directory's
 * own inode, inodes and types that agree with path_filestat_get, cookies
 * that resume a listing across calls whatever the buffer size (entries cut
 * at the buffer's end), and its errors.
 */
#include "check.h"

#define MAX_ENTRIES 64

struct entry {
    char name[64];
    uint64_t ino, next;
    uint8_t type;
};

/* Lists `fd` with a buffer of `size` bytes, grown (as wasi-libc grows its
 * own) when one entry does not fit; the number of entries. */
static int list(__wasi_fd_t fd, size_t size, struct entry *out) {
    static uint8_t buf[4096];
    __wasi_dircookie_t cookie = 0;
    int count = 0;
    for (int calls = 0; calls < 1000; calls++) {
        __wasi_size_t used;
        int e = __wasi_fd_readdir(fd, buf, size, cookie, &used);
        check_errno(__LINE__, "fd_readdir", e, 0);
        if (e)
            return count;
        CHECK(used <= size);
        size_t at = 0;
        int whole = 0;
        while (at + sizeof(__wasi_dirent_t) <= used) {
            __wasi_dirent_t d;
            memcpy(&d, buf + at, sizeof d);
            if (at + sizeof d + d.d_namlen > used)
                break;
            if (count < MAX_ENTRIES && d.d_namlen < 64) {
                memcpy(out[count].name, buf + at + sizeof d, d.d_namlen);
                out[count].name[d.d_namlen] = 0;
                out[count].ino = d.d_ino;
                out[count].next = d.d_next;
                out[count].type = d.d_type;
                count++;
            }
            cookie = d.d_next;
            at += sizeof d + d.d_namlen;
            whole++;
        }
        /* A full buffer means there may be more; a short one is the end. */
        if (used < size)
            return count;
        if (!whole) {
            /* An entry longer than the buffer: only its start came back. */
            check_true(__LINE__, "a cut entry fills the buffer", used == size);
            size *= 2;
            check_true(__LINE__, "entries fit in 4096 bytes", size <= sizeof buf);
            if (size > sizeof buf)
                return count;
        }
    }
    check_true(__LINE__, "the listing ends", 0);
    return count;
}

static const struct entry *find(const struct entry *entries, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(entries[i].name, name))
            return &entries[i];
    return NULL;
}

static void listings(void) {
    OK(__wasi_path_create_directory(DIR_FD, "d"));
    const char *files[] = {"a", "bb", "a-much-longer-name-than-the-others", "c.txt", "dd"};
    char path[80];
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "d/%s", files[i]);
        MAKE_FILE(path, "x");
    }
    OK(__wasi_path_create_directory(DIR_FD, "d/sub"));
    OK(__wasi_path_symlink("a", DIR_FD, "d/link"));
    __wasi_fd_t d = OPEN("d", __WASI_OFLAGS_DIRECTORY, __WASI_RIGHTS_FD_READDIR, 0);
    __wasi_filestat_t self;
    OK(__wasi_fd_filestat_get(d, &self));
    size_t sizes[] = {4096, 200, 60, 45, 30, 24};
    for (unsigned s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        struct entry e[MAX_ENTRIES];
        int n = list(d, sizes[s], e);
        char what[64];
        snprintf(what, sizeof what, "entries with a %zu-byte buffer", sizes[s]);
        check_u64(__LINE__, what, n, 2 + 5 + 2);
        if (n < 2)
            continue;
        CHECK(!strcmp(e[0].name, ".") && !strcmp(e[1].name, ".."));
        CHECK_EQ(e[0].ino, self.ino);
        CHECK_EQ(e[1].ino, self.ino);
        CHECK_EQ(e[0].type, __WASI_FILETYPE_DIRECTORY);
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                check_true(__LINE__, "no entry twice", strcmp(e[i].name, e[j].name) != 0);
        for (int i = 0; i < 5; i++) {
            const struct entry *f = find(e, n, files[i]);
            check_true(__LINE__, files[i], f != NULL);
            if (!f)
                continue;
            snprintf(path, sizeof path, "d/%s", files[i]);
            __wasi_filestat_t st = path_stat(0, path);
            CHECK_EQ(f->ino, st.ino);
            CHECK_EQ(f->type, __WASI_FILETYPE_REGULAR_FILE);
        }
        const struct entry *sub = find(e, n, "sub"), *link = find(e, n, "link");
        CHECK(sub && sub->type == __WASI_FILETYPE_DIRECTORY);
        CHECK(link && link->type == __WASI_FILETYPE_SYMBOLIC_LINK);
        /* A listing can resume from any entry's cookie. */
        if (n > 4) {
            uint8_t buf[256];
            __wasi_size_t used;
            OK(__wasi_fd_readdir(d, buf, sizeof buf, e[3].next, &used));
            __wasi_dirent_t first;
            memcpy(&first, buf, sizeof first);
            CHECK(used >= sizeof first + first.d_namlen);
            CHECK(first.d_namlen == strlen(e[4].name) &&
                  !memcmp(buf + sizeof first, e[4].name, first.d_namlen));
        }
    }
    /* Past the end, nothing. */
    uint8_t buf[64];
    __wasi_size_t used = 99;
    OK(__wasi_fd_readdir(d, buf, sizeof buf, 1000, &used));
    CHECK_EQ(used, 0);
    OK(__wasi_fd_close(d));
    /* The preopen lists too, its ".." being itself. */
    struct entry e[MAX_ENTRIES];
    int n = list(DIR_FD, 4096, e);
    __wasi_filestat_t pre;
    OK(__wasi_fd_filestat_get(DIR_FD, &pre));
    CHECK(n >= 3 && e[1].ino == pre.ino && find(e, n, "d"));
}

static void errors(void) {
    uint8_t buf[64];
    __wasi_size_t used;
    MAKE_FILE("f", "x");
    __wasi_fd_t f = OPEN("f", 0, __WASI_RIGHTS_FD_READ, 0);
    EXPECT(__wasi_fd_readdir(f, buf, sizeof buf, 0, &used), __WASI_ERRNO_BADF);
    OK(__wasi_fd_close(f));
    EXPECT(__wasi_fd_readdir(f, buf, sizeof buf, 0, &used), __WASI_ERRNO_BADF);
    EXPECT(__wasi_fd_readdir(1, buf, sizeof buf, 0, &used), __WASI_ERRNO_BADF);
}

int main(void) {
    listings();
    errors();
    return report("readdir");
}
