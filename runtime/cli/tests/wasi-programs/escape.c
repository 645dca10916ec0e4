/*
 * escape: tries to get out of its preopened directory (argv[1]) in every
 * way we could think of, through libc and through the raw WASI calls, and
 * prints one line per attempt: "NAME: OK" when it was refused, "NAME:
 * ESCAPED (...)" when it was not. Lines starting with "legit" are things
 * that must keep working inside the directory ("OK" or "FAILED (...)").
 * The last line is "done N" with the number of lines before it.
 *
 * The host prepares the directory (see tests/wasi_escape.rs): a sentinel
 * file outside it, and symlinks inside it that point out.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wasi/api.h>

/* The raw preview1 imports, taking explicit lengths (paths may hold NUL
 * bytes) rather than the C strings of wasi/api.h. */
#define WASI_IMPORT(name) \
    __attribute__((import_module("wasi_snapshot_preview1"), import_name(#name)))
WASI_IMPORT(path_open)
int32_t raw_path_open(int32_t fd, int32_t dirflags, const char *path, size_t len, int32_t oflags,
                      int64_t base, int64_t inheriting, int32_t fdflags, int32_t *opened);
WASI_IMPORT(path_create_directory)
int32_t raw_mkdir(int32_t fd, const char *path, size_t len);
WASI_IMPORT(path_remove_directory)
int32_t raw_rmdir(int32_t fd, const char *path, size_t len);
WASI_IMPORT(path_unlink_file)
int32_t raw_unlink(int32_t fd, const char *path, size_t len);
WASI_IMPORT(path_rename)
int32_t raw_rename(int32_t fd, const char *old, size_t old_len, int32_t new_fd, const char *new,
                   size_t new_len);
WASI_IMPORT(path_filestat_get)
int32_t raw_stat(int32_t fd, int32_t flags, const char *path, size_t len, void *buf);
WASI_IMPORT(path_readlink)
int32_t raw_readlink(int32_t fd, const char *path, size_t len, char *buf, size_t buf_len,
                     size_t *used);
WASI_IMPORT(path_symlink)
int32_t raw_symlink(const char *old, size_t old_len, int32_t fd, const char *new, size_t new_len);
WASI_IMPORT(path_link)
int32_t raw_link(int32_t old_fd, int32_t old_flags, const char *old, size_t old_len,
                 int32_t new_fd, const char *new, size_t new_len);
WASI_IMPORT(fd_readdir)
int32_t raw_readdir(int32_t fd, void *buf, size_t buf_len, int64_t cookie, size_t *used);

enum {
    FOLLOW = 1,
    O_CREAT_ = 1, O_DIR_ = 2, O_EXCL_ = 4, O_TRUNC_ = 8,
};
static const int64_t ALL_RIGHTS = (1LL << 29) - 1;
/* Rights for opening without writing: what directories may be opened with
 * (with FD_WRITE, path_open refuses a directory with EISDIR before the
 * sandbox is even asked, which would prove nothing). */
static const int64_t READ_RIGHTS = ((1LL << 29) - 1) & ~(int64_t)__WASI_RIGHTS_FD_WRITE;

static const char *SECRET = "SECRET-SENTINEL";
static int lines;
static int pre; /* the preopened directory */

static void verdict(const char *name, int escaped, const char *detail) {
    lines++;
    if (escaped)
        printf("%s: ESCAPED (%s)\n", name, detail);
    else
        printf("%s: OK\n", name);
}

static void legit(const char *name, int worked, const char *detail) {
    lines++;
    if (worked)
        printf("legit %s: OK\n", name);
    else
        printf("legit %s: FAILED (%s)\n", name, detail);
}

/* Reads what fd holds, up to `cap` bytes. */
static size_t slurp(int fd, char *buf, size_t cap) {
    size_t got = 0;
    while (got + 1 < cap) {
        __wasi_iovec_t iov = {(uint8_t *)buf + got, cap - 1 - got};
        __wasi_size_t n;
        if (__wasi_fd_read(fd, &iov, 1, &n) != 0 || n == 0) break;
        got += n;
    }
    buf[got] = 0;
    return got;
}

/* Whether directory fd lists `name`. */
static int lists(int fd, const char *name) {
    static char buf[8192];
    size_t used;
    if (raw_readdir(fd, buf, sizeof buf, 0, &used) != 0) return 0;
    size_t at = 0;
    while (at + sizeof(__wasi_dirent_t) <= used) {
        __wasi_dirent_t d;
        memcpy(&d, buf + at, sizeof d);
        at += sizeof d;
        if (at + d.d_namlen > used) break;
        if (d.d_namlen == strlen(name) && memcmp(buf + at, name, d.d_namlen) == 0) return 1;
        at += d.d_namlen;
    }
    return 0;
}

/* path_open of `path` (with explicit length) relative to dirfd; an escape
 * if it opens at all. The detail says what could be read through it. */
static void open_len(const char *name, int dirfd, const char *path, size_t len, int dirflags,
                     int oflags) {
    int32_t fd;
    int64_t rights = oflags & (O_CREAT_ | O_TRUNC_) ? ALL_RIGHTS : READ_RIGHTS;
    int rc = raw_path_open(dirfd, dirflags, path, len, oflags, rights, ALL_RIGHTS, 0, &fd);
    if (rc != 0) {
        verdict(name, 0, "");
        return;
    }
    char buf[512], detail[600];
    size_t n = slurp(fd, buf, sizeof buf);
    snprintf(detail, sizeof detail, "opened as fd %d; read %zu bytes%s; lists sentinel.txt: %s",
             (int)fd, n, strstr(buf, SECRET) ? " including the secret" : "",
             lists(fd, "sentinel.txt") ? "yes" : "no");
    close(fd);
    verdict(name, 1, detail);
}

static void open_at(const char *name, int dirfd, const char *path, int dirflags, int oflags) {
    open_len(name, dirfd, path, strlen(path), dirflags, oflags);
}

static void attempt(const char *name, int rc) {
    char detail[64];
    snprintf(detail, sizeof detail, "returned %d", rc);
    verdict(name, rc == 0, detail);
}

static void stat_at(const char *name, const char *path, int flags) {
    __wasi_filestat_t st;
    int rc = raw_stat(pre, flags, path, strlen(path), &st);
    char detail[96];
    snprintf(detail, sizeof detail, "size %llu, type %d", (unsigned long long)st.size,
             (int)st.filetype);
    verdict(name, rc == 0, detail);
}

static void libc_open(const char *name, const char *path, int flags) {
    int fd = open(path, flags);
    if (fd < 0) {
        verdict(name, 0, "");
        return;
    }
    char buf[512];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    close(fd);
    verdict(name, 1, strstr(buf, SECRET) ? "read the secret" : "opened");
}

/* Reads `path` relative to the preopen; whether it holds `want`. */
static int reads(int dirfd, const char *path, const char *want) {
    int32_t fd;
    if (raw_path_open(dirfd, FOLLOW, path, strlen(path), 0, ALL_RIGHTS, ALL_RIGHTS, 0, &fd) != 0)
        return 0;
    char buf[256];
    slurp(fd, buf, sizeof buf);
    close(fd);
    return strcmp(buf, want) == 0;
}

static int find_preopen(const char *name) {
    for (int fd = 3; fd < 64; fd++) {
        __wasi_prestat_t ps;
        if (__wasi_fd_prestat_get(fd, &ps) != 0 || ps.tag != __WASI_PREOPENTYPE_DIR) continue;
        char buf[256] = {0};
        if (ps.u.dir.pr_name_len >= sizeof buf) continue;
        if (__wasi_fd_prestat_dir_name(fd, (uint8_t *)buf, ps.u.dir.pr_name_len) != 0) continue;
        if (strcmp(buf, name) == 0) return fd;
    }
    return -1;
}

static char *repeat(const char *part, int times, const char *tail) {
    size_t len = strlen(part) * times + strlen(tail) + 1;
    char *s = malloc(len);
    s[0] = 0;
    for (int i = 0; i < times; i++) strcat(s, part);
    strcat(s, tail);
    return s;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: escape GUEST_DIR\n");
        return 2;
    }
    const char *top = argv[1];
    pre = find_preopen(top);
    if (pre < 0) {
        printf("no preopen named %s\n", top);
        return 2;
    }
    char path[512];
#define AT(rel) (snprintf(path, sizeof path, "%s/%s", top, rel), path)

    /* ---- through libc ---- */
    libc_open("libc open TOP/../sentinel.txt", AT("../sentinel.txt"), O_RDONLY);
    libc_open("libc open TOP/sub/../../sentinel.txt", AT("sub/../../sentinel.txt"), O_RDONLY);
    libc_open("libc open /etc/passwd", "/etc/passwd", O_RDONLY);
    libc_open("libc open TOP/rel_file_link", AT("rel_file_link"), O_RDONLY);
    libc_open("libc open TOP/abs_file_link", AT("abs_file_link"), O_RDONLY);
    libc_open("libc open TOP/chain1", AT("chain1"), O_RDONLY);
    libc_open("libc open TOP/rel_dir_link/sentinel.txt", AT("rel_dir_link/sentinel.txt"), O_RDONLY);
    libc_open("libc open TOP/.. as directory", AT(".."), O_RDONLY | O_DIRECTORY);
    {
        DIR *d = opendir(AT(".."));
        int seen = 0;
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) seen |= strcmp(e->d_name, "sentinel.txt") == 0;
            closedir(d);
        }
        verdict("libc opendir TOP/..", d != NULL, seen ? "listed sentinel.txt" : "opened");
    }
    {
        int ok = chdir(AT("sub")) == 0;
        legit("libc chdir TOP/sub", ok, "chdir failed");
        libc_open("libc open ../../sentinel.txt from TOP/sub", "../../sentinel.txt", O_RDONLY);
        libc_open("libc open ../rel_file_link from TOP/sub", "../rel_file_link", O_RDONLY);
        chdir("/");
    }
    {
        struct stat st;
        verdict("libc stat TOP/../sentinel.txt", stat(AT("../sentinel.txt"), &st) == 0, "stat");
        verdict("libc stat TOP/rel_file_link", stat(AT("rel_file_link"), &st) == 0, "stat");
        FILE *f = fopen(AT("../created_by_fopen.txt"), "w");
        verdict("libc fopen w TOP/../created_by_fopen.txt", f != NULL, "created");
        if (f) fclose(f);
        verdict("libc mkdir TOP/../libc_mkdir", mkdir(AT("../libc_mkdir"), 0755) == 0, "made");
        verdict("libc unlink TOP/../sentinel.txt", unlink(AT("../sentinel.txt")) == 0, "gone");
        char to[512];
        snprintf(to, sizeof to, "%s/../renamed_by_libc.txt", top);
        verdict("libc rename to TOP/../", rename(AT("victim.txt"), to) == 0, "renamed");
    }

    /* ---- raw: dot-dot and absolute paths ---- */
    open_at("open ../sentinel.txt", pre, "../sentinel.txt", FOLLOW, 0);
    open_at("open ./../sentinel.txt", pre, "./../sentinel.txt", FOLLOW, 0);
    open_at("open sub/../../sentinel.txt", pre, "sub/../../sentinel.txt", FOLLOW, 0);
    open_at("open sub/./.././../sentinel.txt", pre, "sub/./.././../sentinel.txt", FOLLOW, 0);
    open_at("open sub/../sub/../../sentinel.txt", pre, "sub/../sub/../../sentinel.txt", FOLLOW, 0);
    open_at("open ../sandbox/../sentinel.txt", pre, "../sandbox/../sentinel.txt", FOLLOW, 0);
    open_at("open /etc/passwd", pre, "/etc/passwd", FOLLOW, 0);
    open_at("open //etc/passwd", pre, "//etc/passwd", FOLLOW, 0);
    open_at("open /../sentinel.txt", pre, "/../sentinel.txt", FOLLOW, 0);
    open_at("open / as directory", pre, "/", FOLLOW, O_DIR_);
    open_at("open .. as directory", pre, "..", FOLLOW, O_DIR_);
    open_at("open ../ as directory", pre, "../", FOLLOW, O_DIR_);
    open_at("open .. without O_DIRECTORY", pre, "..", FOLLOW, 0);
    open_at("open sub/../.. as directory", pre, "sub/../..", FOLLOW, O_DIR_);
    open_at("open ../outside_dir/victim.txt", pre, "../outside_dir/victim.txt", FOLLOW, 0);

    /* ---- raw: symlinks made by the host ---- */
    open_at("open abs_file_link", pre, "abs_file_link", FOLLOW, 0);
    open_at("open abs_file_link without follow", pre, "abs_file_link", 0, 0);
    open_at("open rel_file_link", pre, "rel_file_link", FOLLOW, 0);
    open_at("open rel_file_link without follow", pre, "rel_file_link", 0, 0);
    open_at("open abs_dir_link/sentinel.txt", pre, "abs_dir_link/sentinel.txt", FOLLOW, 0);
    open_at("open rel_dir_link/sentinel.txt", pre, "rel_dir_link/sentinel.txt", FOLLOW, 0);
    open_at("open rel_dir_link/sandbox/../sentinel.txt", pre, "rel_dir_link/sandbox/../sentinel.txt", FOLLOW, 0);
    open_at("open rel_dir_link as directory", pre, "rel_dir_link", FOLLOW, O_DIR_);
    open_at("open abs_dir_link as directory", pre, "abs_dir_link", FOLLOW, O_DIR_);
    open_at("open outside_dir_link as directory", pre, "outside_dir_link", FOLLOW, O_DIR_);
    open_at("open outside_dir_link/victim.txt", pre, "outside_dir_link/victim.txt", FOLLOW, 0);
    open_at("open chain1 (chain of three links)", pre, "chain1", FOLLOW, 0);
    open_at("open dir_chain/sentinel.txt", pre, "dir_chain/sentinel.txt", FOLLOW, 0);
    open_at("open sub/deep_link", pre, "sub/deep_link", FOLLOW, 0);
    open_at("open sub/inner_up (link to a link out)", pre, "sub/inner_up", FOLLOW, 0);
    open_at("open sub/up_link/../sentinel.txt", pre, "sub/up_link/../sentinel.txt", FOLLOW, 0);
    open_at("open sub/up_link/rel_file_link", pre, "sub/up_link/rel_file_link", FOLLOW, 0);
    open_at("open etc_link/passwd", pre, "etc_link/passwd", FOLLOW, 0);
    open_at("open proc_root_link/etc/passwd", pre, "proc_root_link/etc/passwd", FOLLOW, 0);
    open_at("open loop_a (symlink loop)", pre, "loop_a", FOLLOW, 0);
    open_at("open rel_file_link/ (trailing slash)", pre, "rel_file_link/", FOLLOW, 0);
    open_at("open rel_dir_link/ as directory", pre, "rel_dir_link/", FOLLOW, O_DIR_);

    /* ---- raw: from other directory descriptors ---- */
    {
        int32_t dot, sub;
        int rc = raw_path_open(pre, FOLLOW, ".", 1, O_DIR_, READ_RIGHTS, ALL_RIGHTS, 0, &dot);
        legit("open . as directory", rc == 0, "path_open failed");
        if (rc == 0) {
            open_at("open ../sentinel.txt from a descriptor of .", dot, "../sentinel.txt", FOLLOW, 0);
            open_at("open .. from a descriptor of .", dot, "..", FOLLOW, O_DIR_);
            legit("read inside.txt from a descriptor of .", reads(dot, "inside.txt", "inside contents\n"), "read failed");
            close(dot);
        }
        rc = raw_path_open(pre, FOLLOW, "sub", 3, O_DIR_, READ_RIGHTS, ALL_RIGHTS, 0, &sub);
        legit("open sub as directory", rc == 0, "path_open failed");
        if (rc == 0) {
            open_at("open ../../sentinel.txt from a descriptor of sub", sub, "../../sentinel.txt", FOLLOW, 0);
            open_at("open deep_link from a descriptor of sub", sub, "deep_link", FOLLOW, 0);
            open_at("open up_link/../sentinel.txt from a descriptor of sub", sub, "up_link/../sentinel.txt", FOLLOW, 0);
            legit("read deep.txt from a descriptor of sub", reads(sub, "deep.txt", "deep\n"), "read failed");
            close(sub);
        }
        int32_t out;
        open_at("open ../sentinel.txt from stdin's descriptor", 0, "../sentinel.txt", FOLLOW, 0);
        rc = raw_path_open(1, FOLLOW, "x", 1, O_CREAT_, ALL_RIGHTS, ALL_RIGHTS, 0, &out);
        verdict("create relative to stdout's descriptor", rc == 0, "created");
        open_at("open relative to a closed descriptor", 77, "sentinel.txt", FOLLOW, 0);
    }

    /* ---- raw: creating, truncating ---- */
    open_at("create ../created.txt", pre, "../created.txt", FOLLOW, O_CREAT_);
    open_at("create through dangling_rel link", pre, "dangling_rel", FOLLOW, O_CREAT_);
    open_at("create through dangling_abs link", pre, "dangling_abs", FOLLOW, O_CREAT_);
    open_at("create exclusive through dangling_rel link", pre, "dangling_rel", FOLLOW, O_CREAT_ | O_EXCL_);
    open_at("create rel_dir_link/created.txt", pre, "rel_dir_link/created.txt", FOLLOW, O_CREAT_);
    open_at("create outside_dir_link/created.txt", pre, "outside_dir_link/created.txt", FOLLOW, O_CREAT_);
    open_at("truncate through abs_file_link", pre, "abs_file_link", FOLLOW, O_CREAT_ | O_TRUNC_);
    open_at("truncate through rel_file_link", pre, "rel_file_link", FOLLOW, O_TRUNC_);
    open_at("truncate through chain1", pre, "chain1", FOLLOW, O_CREAT_ | O_TRUNC_);

    /* ---- raw: directories, unlinking, renaming ---- */
    attempt("mkdir ../mkdir_escape", raw_mkdir(pre, "../mkdir_escape", 15));
    attempt("mkdir sub/../../mkdir_escape", raw_mkdir(pre, "sub/../../mkdir_escape", 22));
    attempt("mkdir rel_dir_link/mkdir_escape", raw_mkdir(pre, "rel_dir_link/mkdir_escape", 25));
    attempt("mkdir abs_dir_link/mkdir_escape", raw_mkdir(pre, "abs_dir_link/mkdir_escape", 25));
    attempt("mkdir outside_dir_link/new", raw_mkdir(pre, "outside_dir_link/new", 20));
    attempt("mkdir through dangling_rel/", raw_mkdir(pre, "dangling_rel/", 13));
    attempt("rmdir ../outside_dir", raw_rmdir(pre, "../outside_dir", 14));
    attempt("rmdir outside_dir_link/", raw_rmdir(pre, "outside_dir_link/", 17));
    attempt("rmdir ../empty_outside", raw_rmdir(pre, "../empty_outside", 16));
    attempt("rmdir rel_dir_link/empty_outside", raw_rmdir(pre, "rel_dir_link/empty_outside", 26));
    attempt("unlink ../sentinel.txt", raw_unlink(pre, "../sentinel.txt", 15));
    attempt("unlink rel_dir_link/sentinel.txt", raw_unlink(pre, "rel_dir_link/sentinel.txt", 25));
    attempt("unlink abs_dir_link/sentinel.txt", raw_unlink(pre, "abs_dir_link/sentinel.txt", 25));
    attempt("unlink outside_dir_link/victim.txt", raw_unlink(pre, "outside_dir_link/victim.txt", 27));
    attempt("unlink rel_file_link/ (trailing slash)", raw_unlink(pre, "rel_file_link/", 14));
    attempt("rename victim.txt to ../renamed_out.txt",
            raw_rename(pre, "victim.txt", 10, pre, "../renamed_out.txt", 18));
    attempt("rename victim.txt to rel_dir_link/renamed.txt",
            raw_rename(pre, "victim.txt", 10, pre, "rel_dir_link/renamed.txt", 24));
    attempt("rename victim.txt to abs_dir_link/renamed.txt",
            raw_rename(pre, "victim.txt", 10, pre, "abs_dir_link/renamed.txt", 24));
    attempt("rename victim.txt over abs_file_link/",
            raw_rename(pre, "victim.txt", 10, pre, "abs_file_link/", 14));
    attempt("rename ../sentinel.txt in", raw_rename(pre, "../sentinel.txt", 15, pre, "stolen.txt", 10));
    attempt("rename rel_dir_link/sentinel.txt in",
            raw_rename(pre, "rel_dir_link/sentinel.txt", 25, pre, "stolen2.txt", 11));
    attempt("rename outside_dir_link/victim.txt in",
            raw_rename(pre, "outside_dir_link/victim.txt", 27, pre, "stolen3.txt", 11));
    attempt("rename sub to ../moved_sub", raw_rename(pre, "sub", 3, pre, "../moved_sub", 12));
    attempt("rename .. to inside", raw_rename(pre, "..", 2, pre, "parent", 6));

    /* ---- raw: metadata and links ---- */
    stat_at("stat ../sentinel.txt", "../sentinel.txt", FOLLOW);
    stat_at("stat ..", "..", FOLLOW);
    stat_at("stat rel_file_link, following", "rel_file_link", FOLLOW);
    stat_at("stat abs_file_link, following", "abs_file_link", FOLLOW);
    stat_at("stat abs_dir_link, following", "abs_dir_link", FOLLOW);
    stat_at("stat rel_dir_link/sentinel.txt", "rel_dir_link/sentinel.txt", 0);
    {
        char buf[256];
        size_t used;
        attempt("readlink ../outside_link", raw_readlink(pre, "../outside_link", 15, buf, sizeof buf, &used));
        attempt("readlink rel_dir_link/outside_link",
                raw_readlink(pre, "rel_dir_link/outside_link", 25, buf, sizeof buf, &used));
    }
    {
        /* A guest may make a symlink whose target leads out (as on
         * Wasmtime), but no lookup may follow it there. */
        legit("symlink my_link -> ../sentinel.txt is made",
              raw_symlink("../sentinel.txt", 15, pre, "my_link", 7) == 0, "path_symlink failed");
        legit("symlink my_dir_link -> sub/../.. is made",
              raw_symlink("sub/../..", 9, pre, "my_dir_link", 11) == 0, "path_symlink failed");
        legit("symlink sub/my_chain -> ../my_link is made",
              raw_symlink("../my_link", 10, pre, "sub/my_chain", 12) == 0, "path_symlink failed");
        open_at("open a guest-made symlink to ../sentinel.txt", pre, "my_link", FOLLOW, 0);
        open_at("create through a guest-made symlink to ../sentinel.txt", pre, "my_link", FOLLOW,
                O_CREAT_ | O_TRUNC_);
        open_at("open a guest-made chain sub/my_chain", pre, "sub/my_chain", FOLLOW, 0);
        open_at("open my_dir_link/sentinel.txt", pre, "my_dir_link/sentinel.txt", FOLLOW, 0);
        open_at("open my_dir_link as directory", pre, "my_dir_link", FOLLOW, O_DIR_);
        stat_at("stat a guest-made symlink, following", "my_link", FOLLOW);
        stat_at("stat my_dir_link/sentinel.txt", "my_dir_link/sentinel.txt", 0);
        attempt("mkdir my_dir_link/made", raw_mkdir(pre, "my_dir_link/made", 16));
        attempt("hard link through my_dir_link", raw_link(pre, 0, "my_dir_link/sentinel.txt", 24, pre, "hard3", 5));
        attempt("set times through a guest-made symlink",
                __wasi_path_filestat_set_times(pre, FOLLOW, "my_link", 0, 0, __WASI_FSTFLAGS_MTIM_NOW));
        attempt("set times of ../sentinel.txt",
                __wasi_path_filestat_set_times(pre, 0, "../sentinel.txt", 0, 0, __WASI_FSTFLAGS_MTIM_NOW));
        attempt("set times through rel_file_link",
                __wasi_path_filestat_set_times(pre, FOLLOW, "rel_file_link", 0, 0, __WASI_FSTFLAGS_MTIM_NOW));
        legit("rename my_link into sub", raw_rename(pre, "my_link", 7, pre, "sub/my_link", 11) == 0,
              "path_rename failed");
        open_at("open sub/my_link (its target now resolves from sub)", pre, "sub/my_link", FOLLOW, 0);
        /* Absolute targets can never resolve inside: refused at once. */
        legit("symlink to /etc/passwd is refused with EPERM",
              raw_symlink("/etc/passwd", 11, pre, "my_abs_link", 11) == __WASI_ERRNO_PERM, "not EPERM");
        open_at("open a guest-made symlink to /etc/passwd", pre, "my_abs_link", FOLLOW, 0);
        attempt("symlink placed outside", raw_symlink("inside.txt", 10, pre, "../placed_link", 14));
        attempt("hard link ../sentinel.txt in",
                raw_link(pre, 0, "../sentinel.txt", 15, pre, "hard", 4));
        attempt("hard link through rel_file_link",
                raw_link(pre, FOLLOW, "rel_file_link", 13, pre, "hard2", 5));
        attempt("hard link inside.txt out",
                raw_link(pre, 0, "inside.txt", 10, pre, "../hard_out", 11));
    }

    /* ---- raw: malformed paths ---- */
    open_len("open inside.txt<NUL>../../sentinel.txt", pre, "inside.txt\0../../sentinel.txt", 30, FOLLOW, 0);
    open_len("open ../sentinel.txt<NUL>", pre, "../sentinel.txt\0", 16, FOLLOW, 0);
    open_len("open <NUL>", pre, "\0", 1, FOLLOW, 0);
    attempt("mkdir with a NUL byte", raw_mkdir(pre, "made\0../../x", 12));
    open_len("open invalid UTF-8 ../\\xff", pre, "../\xff", 4, FOLLOW, 0);
    {
        char *long_a = repeat("a/", 2100, "x");
        open_at("open a 4201-byte path", pre, long_a, FOLLOW, 0);
        char *long_up = repeat("../", 1500, "etc/passwd");
        open_at("open ../ x 1500 then etc/passwd", pre, long_up, FOLLOW, 0);
        char *long_sub = repeat("sub/../", 500, "../sentinel.txt");
        open_at("open (sub/../) x 500 then ../sentinel.txt", pre, long_sub, FOLLOW, 0);
        char *long_name = repeat("x", 300, "");
        open_at("create a 300-byte name", pre, long_name, FOLLOW, O_CREAT_);
        char *huge = repeat("../", 40000, "sentinel.txt");
        open_at("open a 120 KB path", pre, huge, FOLLOW, 0);
        free(long_a);
        free(long_up);
        free(long_sub);
        free(long_name);
        free(huge);
    }
    /* The path pointer itself out of bounds. */
    attempt("open with a path beyond memory",
            raw_path_open(pre, FOLLOW, (const char *)0xfffffff0, 64, 0, ALL_RIGHTS, ALL_RIGHTS, 0,
                          (int32_t *)1024) == 0 ? 0 : 1);

    /* ---- legitimate access inside ---- */
    legit("read inside.txt", reads(pre, "inside.txt", "inside contents\n"), "read failed");
    legit("read inside_link (symlink to inside.txt)", reads(pre, "inside_link", "inside contents\n"), "read failed");
    legit("read sub/parent_file_link (symlink to ../inside.txt)",
          reads(pre, "sub/parent_file_link", "inside contents\n"), "read failed");
    legit("read sub/up_link/inside.txt (symlink to ..)", reads(pre, "sub/up_link/inside.txt", "inside contents\n"),
          "read failed");
    legit("read sub/../sub/deep.txt", reads(pre, "sub/../sub/deep.txt", "deep\n"), "read failed");
    legit("read inside_chain (two links to inside.txt)", reads(pre, "inside_chain", "inside contents\n"), "read failed");
    {
        FILE *f = fopen(AT("sub/../inside.txt"), "r");
        char buf[64] = {0};
        legit("libc fopen TOP/sub/../inside.txt", f && fgets(buf, sizeof buf, f) && strcmp(buf, "inside contents\n") == 0,
              "fopen failed");
        if (f) fclose(f);
        legit("libc mkdir TOP/made", mkdir(AT("made"), 0755) == 0, "mkdir failed");
        f = fopen(AT("made/f.txt"), "w");
        legit("libc create TOP/made/f.txt", f && fputs("made\n", f) >= 0 && fclose(f) == 0, "create failed");
        char to[512];
        snprintf(to, sizeof to, "%s/made/g.txt", top);
        legit("libc rename inside", rename(AT("made/f.txt"), to) == 0, "rename failed");
        struct stat st;
        legit("libc stat TOP/made/g.txt", stat(AT("made/g.txt"), &st) == 0 && st.st_size == 5, "stat failed");
        legit("libc unlink TOP/made/g.txt", unlink(AT("made/g.txt")) == 0, "unlink failed");
        legit("libc rmdir TOP/made", rmdir(AT("made")) == 0, "rmdir failed");
        DIR *d = opendir(top);
        int seen = 0, outside = 0;
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                seen |= strcmp(e->d_name, "inside.txt") == 0;
                outside |= strcmp(e->d_name, "sentinel.txt") == 0;
            }
            closedir(d);
        }
        legit("libc readdir TOP lists inside.txt and not sentinel.txt", seen && !outside, "listing wrong");
        legit("libc stat TOP/rel_file_link without following",
              lstat(AT("rel_file_link"), &st) == 0 && S_ISLNK(st.st_mode), "lstat failed");
        char target[64] = {0};
        ssize_t n = readlink(AT("rel_file_link"), target, sizeof target - 1);
        legit("libc readlink TOP/rel_file_link", n == 15 && strcmp(target, "../sentinel.txt") == 0, "readlink failed");
    }
    {
        int32_t fd;
        int rc = raw_path_open(pre, 0, "inside_link", 11, 0, ALL_RIGHTS, ALL_RIGHTS, 0, &fd);
        legit("open inside_link without following fails with ELOOP", rc == __WASI_ERRNO_LOOP,
              "not ELOOP");
        if (rc == 0) close(fd);
        errno = 0;
        fd = open(AT("inside_link"), O_RDONLY | O_NOFOLLOW);
        legit("libc open O_NOFOLLOW of TOP/inside_link fails with ELOOP", fd < 0 && errno == ELOOP,
              "not ELOOP");
        if (fd >= 0) close(fd);
        rc = raw_rename(pre, "inside.txt", 10, pre, "inside_link/", 12);
        legit("rename a file to NAME/ fails with ENOTDIR", rc == __WASI_ERRNO_NOTDIR, "not ENOTDIR");
        rc = raw_rename(pre, "inside.txt/", 11, pre, "elsewhere", 9);
        legit("rename FILE/ fails with ENOTDIR", rc == __WASI_ERRNO_NOTDIR, "not ENOTDIR");
        legit("inside.txt is still there", reads(pre, "inside.txt", "inside contents\n"), "gone");
    }
    /* Removing and renaming links that point out touches only the links. */
    legit("rename rel_file_link (the link itself)",
          raw_rename(pre, "rel_file_link", 13, pre, "rel_file_link_renamed", 21) == 0, "rename failed");
    legit("unlink abs_file_link (the link itself)", raw_unlink(pre, "abs_file_link", 13) == 0, "unlink failed");
    legit("unlink rel_dir_link (the link itself)", raw_unlink(pre, "rel_dir_link", 12) == 0, "unlink failed");

    printf("done %d\n", lines);
    return 0;
}
