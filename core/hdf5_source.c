/* hdf5_source.c - tensors from an AllenNLP/bilm-tf HDF5 weights file, read with libhdf5.
 *
 * libhdf5 parses the file's metadata itself; load HDF5 files only from trusted sources.
 * HDF5 keeps global state (error stacks, open-object tables), so a source holds the
 * process-wide HDF5 lock from open to close. */
#include <errno.h>
#include <hdf5.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "tensor_source.h"

static pthread_mutex_t h5_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct hdf5_source {
    elmo_tensor_source base;
    hid_t file;
    H5E_auto2_t old_func;
    void *old_data;
} hdf5_source;

static void describe_type(hid_t type, char *buf, size_t cap) {
    H5T_class_t cls = H5Tget_class(type);
    size_t bits = H5Tget_size(type) * 8;
    if (cls == H5T_FLOAT)
        snprintf(buf, cap, "float%zu", bits);
    else if (cls == H5T_INTEGER)
        snprintf(buf, cap, "%sint%zu", H5Tget_sign(type) == H5T_SGN_NONE ? "u" : "", bits);
    else if (cls == H5T_STRING)
        snprintf(buf, cap, "string");
    else
        snprintf(buf, cap, "a non-numeric type (HDF5 class %d)", (int)cls);
}

/* 1 if every group on the way to `path` and the link itself exist. */
static int link_exists(hid_t file, const char *path) {
    char prefix[256];
    size_t len = strlen(path);
    if (len >= sizeof prefix) return 0;
    for (size_t i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0') continue;
        memcpy(prefix, path, i);
        prefix[i] = '\0';
        if (H5Lexists(file, prefix, H5P_DEFAULT) <= 0) return 0;
    }
    return 1;
}

static int h5_exists(elmo_tensor_source *base, const char *name) {
    return link_exists(((hdf5_source *)base)->file, name);
}

static int h5_find(elmo_tensor_source *base, const char *name, int *rank_out,
                   int64_t dims_out[ELMO_MAX_RANK], elmo_error *err) {
    hdf5_source *s = (hdf5_source *)base;
    if (!link_exists(s->file, name)) return 0;
    hid_t ds = H5Dopen2(s->file, name, H5P_DEFAULT);
    if (ds < 0)
        return -elmo_fail(err, ELMO_ERR_FORMAT,
                          "weights file '%s': '%s' exists but is not a dataset", base->path,
                          name);
    hid_t space = H5Dget_space(ds), type = H5Dget_type(ds);
    hsize_t dims[H5S_MAX_RANK];
    int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    int rc = ELMO_OK;
    char got[96];
    if (rank < 0 || type < 0 || H5Sget_simple_extent_dims(space, dims, NULL) < 0) {
        rc = elmo_fail(err, ELMO_ERR_FORMAT,
                       "weights file '%s': cannot read the shape of dataset '%s' (the file "
                       "may be corrupted)",
                       base->path, name);
    } else if (H5Tget_class(type) != H5T_FLOAT || H5Tget_size(type) != 4) {
        describe_type(type, got, sizeof got);
        rc = elmo_fail(err, ELMO_ERR_FORMAT,
                       "weights file '%s': dataset '%s' has type %s, expected float32",
                       base->path, name, got);
    } else {
        *rank_out = rank;
        for (int i = 0; i < rank && i < ELMO_MAX_RANK; i++) dims_out[i] = (int64_t)dims[i];
    }
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    H5Dclose(ds);
    return rc ? -rc : 1;
}

static int h5_read(elmo_tensor_source *base, const char *name, float *dst, size_t count,
                   elmo_error *err) {
    (void)count; /* find() checked the shape, which the caller sized dst from */
    hdf5_source *s = (hdf5_source *)base;
    hid_t ds = H5Dopen2(s->file, name, H5P_DEFAULT);
    herr_t r = ds < 0 ? -1 : H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst);
    if (ds >= 0) H5Dclose(ds);
    if (r < 0)
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "weights file '%s': cannot read dataset '%s' (the file is "
                         "truncated or corrupted; download it again)",
                         base->path, name);
    return ELMO_OK;
}

static void h5_close(elmo_tensor_source *base) {
    hdf5_source *s = (hdf5_source *)base;
    if (s->file >= 0) H5Fclose(s->file);
    H5Eset_auto2(H5E_DEFAULT, s->old_func, s->old_data);
    pthread_mutex_unlock(&h5_lock);
    free(s);
}

static hid_t open_file(const char *path) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
#if H5_VERSION_GE(1, 10, 7)
    /* Reading needs no lock; this also lets weights live on read-only media. */
    if (fapl >= 0) H5Pset_file_locking(fapl, 0, 1);
#endif
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl >= 0 ? fapl : H5P_DEFAULT);
    if (fapl >= 0) H5Pclose(fapl);
    return f;
}

int elmo_hdf5_source_open(const char *path, elmo_tensor_source **out, elmo_error *err) {
    *out = NULL;
    char why[128];
    FILE *f = fopen(path, "rb"); /* clear messages for the common mistakes first */
    if (!f)
        return elmo_fail(err, ELMO_ERR_IO, "cannot open weights file '%s': %s", path,
                         elmo_errno_text(errno, why, sizeof why));
    fclose(f);
    hdf5_source *s = calloc(1, sizeof *s);
    if (!s) return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory");
    s->base = (elmo_tensor_source){.path = path, .format = "hdf5", .find = h5_find,
                                   .read = h5_read, .exists = h5_exists, .close = h5_close};
    s->file = -1;
    pthread_mutex_lock(&h5_lock);
    H5Eget_auto2(H5E_DEFAULT, &s->old_func, &s->old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* the library never prints */
    int rc = ELMO_OK;
    if (H5Fis_hdf5(path) <= 0)
        rc = elmo_fail(err, ELMO_ERR_FORMAT,
                       "weights file '%s' is not an HDF5 file; expected the AllenNLP "
                       "*_weights.hdf5 file",
                       path);
    else if ((s->file = open_file(path)) < 0)
        rc = elmo_fail(err, ELMO_ERR_FORMAT,
                       "cannot open weights file '%s' as HDF5 (the file is truncated or "
                       "corrupted; download it again)",
                       path);
    if (rc) {
        h5_close(&s->base);
        return rc;
    }
    *out = &s->base;
    return ELMO_OK;
}
