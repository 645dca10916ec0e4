/*
 * fileio: file and directory operations inside the directory given as
 * argv[1]: stdio and POSIX reads and writes, seeking, appending,
 * truncation, renaming, unlinking, directories and their listings, and the
 * errors of operations that must fail. The test compares the directory it
 * leaves behind, too.
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

static const char *root;

/* root/name, in a rotating set of buffers. */
static const char *at(const char *name) {
    static char bufs[4][512];
    static int i;
    char *b = bufs[i++ % 4];
    snprintf(b, 512, "%s/%s", root, name);
    return b;
}

static const char *errname(int e) {
    switch (e) {
    case 0: return "0";
    case ENOENT: return "ENOENT";
    case EEXIST: return "EEXIST";
    case ENOTEMPTY: return "ENOTEMPTY";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EBADF: return "EBADF";
    case EINVAL: return "EINVAL";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ESPIPE: return "ESPIPE";
    default: {
        static char other[32];
        snprintf(other, sizeof other, "errno %d", e);
        return other;
    }
    }
}

/* Prints the outcome of a call that returns -1 (or NULL) on failure. */
static void report(const char *what, int failed) {
    printf("%s: %s\n", what, failed ? errname(errno) : "ok");
}

static void must(int ok, const char *what) {
    if (!ok) {
        printf("FAILED: %s (%s)\n", what, errname(errno));
        exit(2);
    }
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Prints the sorted entries of root/name with their types, twice over a
 * rewinddir to check the listing restarts. */
static void list(const char *name) {
    DIR *d = opendir(at(name));
    must(d != NULL, "opendir");
    for (int pass = 0; pass < 2; pass++) {
        char *names[256];
        int n = 0;
        struct dirent *e;
        errno = 0;
        while ((e = readdir(d)) != NULL && n < 256) {
            char type = e->d_type == DT_DIR ? 'd' : e->d_type == DT_REG ? 'f'
                      : e->d_type == DT_LNK ? 'l' : '?';
            char *entry = malloc(strlen(e->d_name) + 3);
            sprintf(entry, "%s%c", e->d_name, type == 'd' ? '/' : type == 'f' ? ' ' : type);
            names[n++] = entry;
        }
        int err = errno;
        qsort(names, n, sizeof names[0], cmp_str);
        printf("listing %s (pass %d, %d entries, errno %s):", name, pass, n, errname(err));
        for (int i = 0; i < n; i++) {
            printf(" [%s]", names[i]);
            free(names[i]);
        }
        putchar('\n');
        rewinddir(d);
    }
    must(closedir(d) == 0, "closedir");
}

static void cat(const char *name) {
    FILE *f = fopen(at(name), "r");
    if (!f) {
        printf("cat %s: %s\n", name, errname(errno));
        return;
    }
    char line[256];
    int n = 0;
    while (fgets(line, sizeof line, f)) printf("%s:%d: %s", name, ++n, line);
    printf("cat %s: %d lines, eof %d, error %d\n", name, n, feof(f) != 0, ferror(f) != 0);
    fclose(f);
}

static long size_of(const char *name) {
    struct stat st;
    if (stat(at(name), &st) != 0) return -1;
    return (long)st.st_size;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: fileio DIR\n");
        return 2;
    }
    root = argv[1];

    /* What the test put there. */
    cat("input.txt");
    cat("existing/nested.txt");
    list(".");

    /* Writing and reading back with stdio. */
    FILE *f = fopen(at("out.txt"), "w");
    must(f != NULL, "fopen w");
    for (int i = 0; i < 100; i++) fprintf(f, "row %d: %d\n", i, i * i);
    must(fclose(f) == 0, "fclose");
    f = fopen(at("out.txt"), "r");
    must(f != NULL, "fopen r");
    int rows = 0;
    long sum = 0;
    char line[128];
    while (fgets(line, sizeof line, f)) {
        int i, sq;
        if (sscanf(line, "row %d: %d", &i, &sq) == 2) {
            rows++;
            sum += sq;
        }
    }
    printf("read back %d rows, sum %ld, size %ld\n", rows, sum, size_of("out.txt"));
    fclose(f);

    /* Seeking and telling. */
    f = fopen(at("out.txt"), "r+");
    must(f != NULL, "fopen r+");
    must(fseek(f, 10, SEEK_SET) == 0, "fseek set");
    printf("tell after seek 10: %ld\n", ftell(f));
    fputs("XYZ", f);
    printf("tell after write: %ld\n", ftell(f));
    must(fseek(f, 0, SEEK_END) == 0, "fseek end");
    printf("tell at end: %ld\n", ftell(f));
    must(fseek(f, -8, SEEK_END) == 0, "fseek -8 end");
    char tail[9] = {0};
    size_t got_tail = fread(tail, 1, 8, f);
    if (tail[7] == '\n') tail[7] = '|';
    printf("read %zu bytes at end: [%s]\n", got_tail, tail);
    got_tail = fread(tail, 1, 8, f);
    printf("fread past end: %zu, eof %d\n", got_tail, feof(f) != 0);
    rewind(f);
    if (fgets(line, sizeof line, f)) printf("first line now: %s", line);
    must(fseek(f, 5, SEEK_CUR) == 0, "fseek cur");
    printf("tell after seek cur 5: %ld\n", ftell(f));
    printf("fseek to -1: %d\n", fseek(f, -1, SEEK_SET) == 0 ? 0 : -1);
    fclose(f);

    /* Appending. */
    for (int k = 0; k < 3; k++) {
        f = fopen(at("log.txt"), "a");
        must(f != NULL, "fopen a");
        fprintf(f, "entry %d\n", k);
        fclose(f);
    }
    f = fopen(at("log.txt"), "a+");
    must(f != NULL, "fopen a+");
    must(fseek(f, 0, SEEK_SET) == 0, "fseek a+");
    fputs("appended after seek\n", f); /* goes to the end regardless */
    fclose(f);
    cat("log.txt");

    /* POSIX descriptors. */
    int fd = open(at("raw.bin"), O_CREAT | O_RDWR | O_TRUNC, 0644);
    must(fd >= 0, "open raw.bin");
    unsigned char block[4096];
    for (int i = 0; i < 4096; i++) block[i] = (unsigned char)(i * 7);
    printf("write: %zd\n", write(fd, block, sizeof block));
    printf("lseek cur: %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
    printf("pwrite: %zd\n", pwrite(fd, "HELLO", 5, 100));
    char small[11] = {0};
    ssize_t n10 = pread(fd, small, 10, 98);
    printf("pread: %zd [%.10s]\n", n10, small + 2);
    printf("lseek cur after pread/pwrite: %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
    printf("lseek set 1000: %lld\n", (long long)lseek(fd, 1000, SEEK_SET));
    unsigned char four[4];
    ssize_t n4 = read(fd, four, 4);
    printf("read: %zd -> %u %u %u %u\n", n4, four[0], four[1], four[2], four[3]);
    report("ftruncate 2000", ftruncate(fd, 2000) != 0);
    struct stat st;
    must(fstat(fd, &st) == 0, "fstat");
    printf("fstat: size %lld, regular %d, dir %d\n", (long long)st.st_size, S_ISREG(st.st_mode),
           S_ISDIR(st.st_mode));
    printf("lseek end: %lld\n", (long long)lseek(fd, 0, SEEK_END));
    printf("lseek 3000: %lld\n", (long long)lseek(fd, 3000, SEEK_SET));
    printf("write past end: %zd\n", write(fd, "!", 1));
    must(fstat(fd, &st) == 0, "fstat");
    printf("size now %lld\n", (long long)st.st_size);
    printf("pread in hole: %zd\n", pread(fd, four, 4, 2500));
    printf("hole bytes: %u %u %u %u\n", four[0], four[1], four[2], four[3]);
    report("lseek negative", lseek(fd, -10, SEEK_SET) < 0);
    report("fsync", fsync(fd) != 0);
    must(close(fd) == 0, "close");
    report("read closed fd", read(fd, four, 1) < 0);
    report("close closed fd", close(fd) != 0);

    /* Errors of opening. */
    report("open O_EXCL existing", open(at("raw.bin"), O_CREAT | O_EXCL | O_WRONLY, 0644) < 0);
    report("open missing", open(at("missing.txt"), O_RDONLY) < 0);
    report("open dir for writing", open(at("existing"), O_WRONLY) < 0);
    report("open file as dir", open(at("raw.bin"), O_RDONLY | O_DIRECTORY) < 0);
    report("open missing/child", open(at("missing/child"), O_RDONLY) < 0);
    report("fopen missing", fopen(at("nope.txt"), "r") == NULL);
    report("access existing", access(at("raw.bin"), F_OK) != 0);
    report("access missing", access(at("nope.txt"), F_OK) != 0);
    report("read a directory", (fd = open(at("existing"), O_RDONLY)) < 0);
    if (fd >= 0) {
        report("read() on it", read(fd, four, 1) < 0);
        close(fd);
    }

    /* A large file through stdio, read back through read(). */
    f = fopen(at("big.dat"), "wb");
    must(f != NULL, "fopen big");
    static unsigned char chunk[4099];
    size_t total = 0;
    uint32_t x = 1;
    while (total < (1 << 20) + 123) {
        size_t n = sizeof chunk;
        if (total + n > (1 << 20) + 123) n = (1 << 20) + 123 - total;
        for (size_t i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;
            chunk[i] = (unsigned char)(x >> 16);
        }
        must(fwrite(chunk, 1, n, f) == n, "fwrite");
        total += n;
    }
    must(fclose(f) == 0, "fclose big");
    fd = open(at("big.dat"), O_RDONLY);
    must(fd >= 0, "open big");
    static unsigned char readbuf[65536];
    uint64_t h = 1469598103934665603ull;
    ssize_t got;
    size_t read_total = 0;
    while ((got = read(fd, readbuf, sizeof readbuf)) > 0) {
        for (ssize_t i = 0; i < got; i++) h = (h ^ readbuf[i]) * 1099511628211ull;
        read_total += (size_t)got;
    }
    close(fd);
    printf("big.dat: wrote %zu, read %zu, size %ld, hash %016llx\n", total, read_total,
           size_of("big.dat"), (unsigned long long)h);
    f = fopen(at("big.dat"), "w");
    fclose(f);
    printf("big.dat truncated by fopen w: size %ld\n", size_of("big.dat"));

    /* Renaming and unlinking. */
    report("rename out.txt renamed.txt", rename(at("out.txt"), at("renamed.txt")) != 0);
    printf("sizes: out.txt %ld, renamed.txt %ld\n", size_of("out.txt"), size_of("renamed.txt"));
    report("rename over existing", rename(at("log.txt"), at("renamed.txt")) != 0);
    cat("renamed.txt");
    report("rename missing", rename(at("ghost"), at("ghost2")) != 0);
    report("rename into existing/", rename(at("renamed.txt"), at("existing/moved.txt")) != 0);
    report("unlink raw.bin", unlink(at("raw.bin")) != 0);
    report("unlink raw.bin again", unlink(at("raw.bin")) != 0);
    report("open unlinked", open(at("raw.bin"), O_RDONLY) < 0);

    /* Directories. */
    report("mkdir newdir", mkdir(at("newdir"), 0755) != 0);
    report("mkdir newdir again", mkdir(at("newdir"), 0755) != 0);
    report("mkdir missing/child", mkdir(at("missing/child"), 0755) != 0);
    report("mkdir newdir/inner", mkdir(at("newdir/inner"), 0755) != 0);
    for (int i = 0; i < 5; i++) {
        char name[64];
        snprintf(name, sizeof name, "newdir/file%d.txt", 4 - i);
        f = fopen(at(name), "w");
        must(f != NULL, "fopen in newdir");
        fprintf(f, "%d\n", i);
        fclose(f);
    }
    list("newdir");
    struct stat ds;
    must(stat(at("newdir"), &ds) == 0, "stat newdir");
    printf("stat newdir: dir %d, regular %d\n", S_ISDIR(ds.st_mode), S_ISREG(ds.st_mode));
    report("rmdir non-empty", rmdir(at("newdir")) != 0);
    report("rmdir a file", rmdir(at("newdir/file0.txt")) != 0);
    report("unlink a directory", unlink(at("newdir/inner")) != 0);
    report("rmdir missing", rmdir(at("nothing")) != 0);
    report("rename dir", rename(at("newdir/inner"), at("newdir/inner2")) != 0);
    for (int i = 0; i < 5; i++) {
        char name[64];
        snprintf(name, sizeof name, "newdir/file%d.txt", i);
        must(unlink(at(name)) == 0, "unlink in newdir");
    }
    report("rmdir newdir/inner2", rmdir(at("newdir/inner2")) != 0);
    list("newdir");
    report("rmdir newdir", rmdir(at("newdir")) != 0);
    report("stat removed dir", stat(at("newdir"), &ds) != 0);

    /* Many files in one directory, so listings take several reads. */
    report("mkdir many", mkdir(at("many"), 0755) != 0);
    for (int i = 0; i < 300; i++) {
        char name[64];
        snprintf(name, sizeof name, "many/a-rather-long-file-name-to-fill-buffers-%03d", i);
        fd = open(at(name), O_CREAT | O_WRONLY, 0644);
        must(fd >= 0, "create in many");
        close(fd);
    }
    DIR *d = opendir(at("many"));
    must(d != NULL, "opendir many");
    int count = 0, checksum = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        count++;
        if (e->d_name[0] == 'a') checksum += atoi(e->d_name + strlen(e->d_name) - 3);
    }
    closedir(d);
    printf("many: %d entries, checksum %d\n", count, checksum);

    /* Removing entries while listing them (as rm -r does) removes them all. */
    d = opendir(at("many"));
    must(d != NULL, "opendir many again");
    int removed = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char name[300];
        snprintf(name, sizeof name, "many/%s", e->d_name);
        removed += unlink(at(name)) == 0;
    }
    closedir(d);
    printf("removed while listing: %d\n", removed);
    list("many");
    report("rmdir many", rmdir(at("many")) != 0);

    list(".");
    list("existing");
    return 0;
}
