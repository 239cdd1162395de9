/* hostile_hdf5.c - hostile variants of a valid HDF5 weights file (see hostile_hdf5.h).
 * Byte patches rely on what libhdf5 writes by default for files created with the default
 * access properties (as tools/elmo-genmodel does): version 1 object headers, which carry
 * no checksum, and version 3 layout messages:
 *   compact:    03 00 <size: 2 bytes LE> <raw data>
 *   contiguous: 03 01 <address: 8 bytes LE> <size: 8 bytes LE> */
#include "hostile_hdf5.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int say(const char *what, const char *path, const char *name) {
    fprintf(stderr, "hostile_hdf5: %s (%s in %s)\n", what, name, path);
    return -1;
}

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) &&
            fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
        *len = (size_t)n;
    }
    fclose(f);
    return buf;
}

static int spill(const char *path, const unsigned char *buf, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(buf, 1, len, f) == len;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

int hh_copy(const char *src, const char *dst) {
    size_t len = 0;
    unsigned char *buf = slurp(src, &len);
    int rc = buf ? spill(dst, buf, len) : -1;
    free(buf);
    if (rc) fprintf(stderr, "hostile_hdf5: cannot copy %s to %s\n", src, dst);
    return rc;
}

/* The values and shape of float dataset `name` (malloc'd values). */
static float *read_dataset(hid_t f, const char *name, int *rank, hsize_t dims[H5S_MAX_RANK],
                           size_t *n) {
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t sp = ds >= 0 ? H5Dget_space(ds) : -1;
    float *v = NULL;
    *rank = sp >= 0 ? H5Sget_simple_extent_dims(sp, dims, NULL) : -1;
    if (*rank >= 0) {
        *n = (size_t)H5Sget_simple_extent_npoints(sp);
        v = malloc(*n * sizeof *v + 1);
        if (v && H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
            free(v);
            v = NULL;
        }
    }
    if (sp >= 0) H5Sclose(sp);
    if (ds >= 0) H5Dclose(ds);
    return v;
}

/* Deletes `name` and creates a float dataset there with `dcpl` (values written if v). */
static int recreate(hid_t f, const char *name, int rank, const hsize_t *dims, hid_t dcpl,
                    const float *v) {
    if (H5Lexists(f, name, H5P_DEFAULT) > 0 && H5Ldelete(f, name, H5P_DEFAULT) < 0) return -1;
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t ds = H5Dcreate2(f, name, H5T_IEEE_F32LE, sp, lcpl, dcpl, H5P_DEFAULT);
    int rc = ds < 0 ? -1 : 0;
    if (!rc && v && H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) rc = -1;
    if (ds >= 0) H5Dclose(ds);
    H5Sclose(sp);
    H5Pclose(lcpl);
    return rc;
}

/* Rewrites `name` with its own values and shape under `dcpl`. */
static int rewrite(const char *path, const char *name, hid_t dcpl) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) return say("cannot open", path, name);
    int rank;
    hsize_t dims[H5S_MAX_RANK];
    size_t n;
    float *v = read_dataset(f, name, &rank, dims, &n);
    int rc = v ? recreate(f, name, rank, dims, dcpl, v) : -1;
    free(v);
    H5Fclose(f);
    return rc ? say("cannot rewrite", path, name) : 0;
}

/* Finds the unique spot where `head` (hlen bytes) is directly followed by `tail`. */
static long find_bytes(const unsigned char *buf, size_t len, const unsigned char *head, size_t hlen,
                       const unsigned char *tail, size_t tlen) {
    long at = -1;
    for (size_t i = 0; i + hlen + tlen <= len; i++) {
        if (memcmp(buf + i, head, hlen) || memcmp(buf + i + hlen, tail, tlen)) continue;
        if (at >= 0) return -2; /* ambiguous */
        at = (long)i;
    }
    return at;
}

int hh_compact_short(const char *path, const char *name, unsigned stored_bytes) {
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_layout(dcpl, H5D_COMPACT);
    int rc = rewrite(path, name, dcpl);
    H5Pclose(dcpl);
    if (rc) return rc;
    /* The raw values follow "03 00 <size>" in the layout message. */
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    int rank;
    hsize_t dims[H5S_MAX_RANK];
    size_t n = 0;
    float *v = f >= 0 ? read_dataset(f, name, &rank, dims, &n) : NULL;
    if (f >= 0) H5Fclose(f);
    size_t len = 0;
    unsigned char *buf = v ? slurp(path, &len) : NULL;
    size_t bytes = n * sizeof(float);
    unsigned char head[4] = {3, 0, (unsigned char)(bytes & 0xff), (unsigned char)(bytes >> 8)};
    long at = buf ? find_bytes(buf, len, head, 4, (const unsigned char *)v, bytes) : -1;
    rc = -1;
    if (at >= 0) {
        buf[at + 2] = (unsigned char)(stored_bytes & 0xff);
        buf[at + 3] = (unsigned char)(stored_bytes >> 8);
        rc = spill(path, buf, len);
    }
    free(buf);
    free(v);
    return rc ? say("cannot patch the compact layout", path, name) : 0;
}

int hh_chunked(const char *path, const char *name, int rank, const hsize_t *dims,
               int written_chunks) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) return say("cannot open", path, name);
    hsize_t chunk[H5S_MAX_RANK];
    for (int i = 0; i < rank; i++) chunk[i] = i == 0 || dims[i] < 256 ? 1 : 256;
    if (rank > 1) chunk[rank - 1] = dims[rank - 1] < 256 ? dims[rank - 1] : 256;
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, rank, chunk);
    int rc = recreate(f, name, rank, dims, dcpl, NULL);
    H5Pclose(dcpl);
    if (!rc && written_chunks > 0) { /* the first chunk-rows, each [1, chunk[1..]] */
        hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
        hid_t fsp = H5Dget_space(ds);
        hsize_t start[H5S_MAX_RANK] = {0}, count[H5S_MAX_RANK];
        size_t n = 1;
        for (int i = 0; i < rank; i++) {
            count[i] = i == 0 ? (hsize_t)written_chunks : chunk[i];
            n *= count[i];
        }
        float *v = calloc(n, sizeof *v);
        hid_t msp = H5Screate_simple(rank, count, NULL);
        if (!v || H5Sselect_hyperslab(fsp, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
            H5Dwrite(ds, H5T_NATIVE_FLOAT, msp, fsp, H5P_DEFAULT, v) < 0)
            rc = -1;
        free(v);
        H5Sclose(msp);
        H5Sclose(fsp);
        H5Dclose(ds);
    }
    H5Fclose(f);
    return rc ? say("cannot create the chunked dataset", path, name) : 0;
}

/* The shape of `name` in the open file f. */
static int shape_of(hid_t f, const char *name, hsize_t dims[H5S_MAX_RANK]) {
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t sp = ds >= 0 ? H5Dget_space(ds) : -1;
    int rank = sp >= 0 ? H5Sget_simple_extent_dims(sp, dims, NULL) : -1;
    if (sp >= 0) H5Sclose(sp);
    if (ds >= 0) H5Dclose(ds);
    return rank;
}

int hh_external_storage(const char *path, const char *name, const char *external) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) return say("cannot open", path, name);
    hsize_t dims[H5S_MAX_RANK];
    int rank = shape_of(f, name, dims);
    hsize_t bytes = sizeof(float);
    for (int i = 0; i < rank; i++) bytes *= dims[i];
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER); /* nothing touches `external` now */
    int rc = rank < 0 || H5Pset_external(dcpl, external, 0, bytes) < 0
                 ? -1
                 : recreate(f, name, rank, dims, dcpl, NULL);
    H5Pclose(dcpl);
    H5Fclose(f);
    return rc ? say("cannot create the external dataset", path, name) : 0;
}

int hh_external_link(const char *path, const char *name, const char *target,
                     const char *target_name) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) return say("cannot open", path, name);
    int rc = H5Ldelete(f, name, H5P_DEFAULT) < 0 ||
                     H5Lcreate_external(target, target_name, f, name, H5P_DEFAULT, H5P_DEFAULT) < 0
                 ? -1
                 : 0;
    H5Fclose(f);
    return rc ? say("cannot create the external link", path, name) : 0;
}

int hh_soft_link(const char *path, const char *name, const char *moved_to) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) return say("cannot open", path, name);
    char target[256];
    snprintf(target, sizeof target, "/%s", moved_to);
    int rc = H5Lmove(f, name, f, moved_to, H5P_DEFAULT, H5P_DEFAULT) < 0 ||
                     H5Lcreate_soft(target, f, name, H5P_DEFAULT, H5P_DEFAULT) < 0
                 ? -1
                 : 0;
    H5Fclose(f);
    return rc ? say("cannot create the soft link", path, name) : 0;
}

int hh_virtual(const char *path, const char *name, const char *src, const char *src_name) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) return say("cannot open", path, name);
    hsize_t dims[H5S_MAX_RANK];
    int rank = shape_of(f, name, dims);
    int rc = -1;
    if (rank > 0) {
        hid_t sp = H5Screate_simple(rank, dims, NULL);
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        if (H5Pset_virtual(dcpl, sp, src, src_name, sp) >= 0)
            rc = recreate(f, name, rank, dims, dcpl, NULL);
        H5Pclose(dcpl);
        H5Sclose(sp);
    }
    H5Fclose(f);
    return rc ? say("cannot create the virtual dataset", path, name) : 0;
}

static void put_le64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

int hh_contiguous_past_eof(const char *path, const char *name) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return say("cannot open", path, name);
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    haddr_t addr = ds >= 0 ? H5Dget_offset(ds) : HADDR_UNDEF;
    hsize_t size = ds >= 0 ? H5Dget_storage_size(ds) : 0;
    if (ds >= 0) H5Dclose(ds);
    H5Fclose(f);
    size_t len = 0;
    unsigned char *buf = addr != HADDR_UNDEF ? slurp(path, &len) : NULL;
    unsigned char head[2] = {3, 1}, tail[16];
    put_le64(tail, addr);
    put_le64(tail + 8, size);
    long at = buf ? find_bytes(buf, len, head, 2, tail, 16) : -1;
    int rc = -1;
    if (at >= 0) {
        put_le64(buf + at + 2, (uint64_t)len + 4096); /* 4 KiB past the end */
        rc = spill(path, buf, len);
    }
    free(buf);
    return rc ? say("cannot patch the contiguous layout", path, name) : 0;
}

int hh_deflate(const char *path, const char *name) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hsize_t dims[H5S_MAX_RANK];
    int rank = f >= 0 ? shape_of(f, name, dims) : -1;
    if (f >= 0) H5Fclose(f);
    if (rank <= 0) return say("cannot read the shape", path, name);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, rank, dims);
    H5Pset_deflate(dcpl, 6);
    int rc = rewrite(path, name, dcpl);
    H5Pclose(dcpl);
    return rc;
}

int hh_null_space(const char *path, const char *name) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) return say("cannot open", path, name);
    hid_t sp = H5Screate(H5S_NULL);
    int rc = H5Ldelete(f, name, H5P_DEFAULT) < 0 ? -1 : 0;
    hid_t ds =
        rc ? -1 : H5Dcreate2(f, name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (ds < 0) rc = -1;
    else H5Dclose(ds);
    H5Sclose(sp);
    H5Fclose(f);
    return rc ? say("cannot create the null dataset", path, name) : 0;
}
