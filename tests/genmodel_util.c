/* genmodel_util.c - see genmodel_util.h. */
#define _XOPEN_SOURCE 700 /* nftw */

#include "genmodel_util.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char gmu_tmp[256];

const char *gmu_dir(void) {
    if (gmu_tmp[0]) return gmu_tmp;
    const char *base = getenv("TMPDIR");
    snprintf(gmu_tmp, sizeof gmu_tmp, "%s/elmo_test.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(gmu_tmp)) {
        perror("mkdtemp");
        gmu_tmp[0] = '\0';
        return NULL;
    }
    return gmu_tmp;
}

const char *gmu_path(const char *name, const char *file) {
    static char ring[16][512];
    static int next;
    char *p = ring[next++ % 16];
    const char *dir = gmu_dir();
    snprintf(p, 512, "%s/%s/%s", dir ? dir : "/nonexistent", name, file);
    return p;
}

int gmu_gen(const char *name, const char *flags) {
    const char *dir = gmu_dir();
    if (!dir) return -1;
    const char *b = getenv("B");
    char cmd[2048], log[400];
    snprintf(log, sizeof log, "%s/genmodel.err", dir);
    snprintf(cmd, sizeof cmd, "%s/elmo-genmodel --out %s/%s %s >/dev/null 2>%s",
             b && *b ? b : "build/release", dir, name, flags, log);
    int rc = system(cmd);
    if (rc != 0) {
        char *text = gmu_read(log, NULL);
        fprintf(stderr, "genmodel failed (status %d): %s\n%s", rc, cmd, text ? text : "");
        free(text);
        return -1;
    }
    return 0;
}

const char *gmu_write(const char *name, const char *file, const void *data, size_t len) {
    const char *dir = gmu_dir();
    if (!dir) return NULL;
    char sub[400];
    snprintf(sub, sizeof sub, "%s/%s", dir, name);
    mkdir(sub, 0700); /* may exist already */
    const char *path = gmu_path(name, file);
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    size_t written = fwrite(data, 1, len, f);
    if (fclose(f) != 0 || written != len) return NULL;
    return path;
}

char *gmu_read(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0) n = ftell(f);
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0) buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len) *len = (size_t)n;
    }
    return buf;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void gmu_cleanup(void) {
    if (!gmu_tmp[0]) return;
    nftw(gmu_tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    gmu_tmp[0] = '\0';
}
