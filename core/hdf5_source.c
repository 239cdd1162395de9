/* hdf5_source.c - tensors from an AllenNLP/bilm-tf HDF5 weights file, read with libhdf5.
 *
 * Trust: libhdf5 parses the file's metadata (object headers, B-trees, heaps) itself, and a
 * corrupted or hostile file can make it allocate without bound there (a 77 KB file can
 * declare a local heap of many GB, allocated while a name is looked up); nothing outside
 * the library can prevent that. Load HDF5 files only from trusted sources.
 *
 * The file is read into memory once (a regular file, checked on the opened descriptor, at
 * most a small multiple of the weights the options describe) and libhdf5 opens that
 * image with its core driver: it parses nothing else (the first pass below only locates
 * datasets, and is checked against the image). Why: libhdf5 returns zeros
 * for bytes past the end of a file, so a file truncated (or being rewritten) while
 * libhdf5 read it loaded as zeros, silently. Checking sizes before and after each read
 * cannot close that window (a file truncated and rewritten between two checks looks
 * unchanged), and the storage offsets of chunked and compact datasets are not all
 * visible. Reading the bytes once, with every short read an error and the file's size and
 * times checked after the read (file_read.h), can: whatever libhdf5 then parses is one
 * version of the file. Each contiguous dataset's pages of the image are given back once it
 * is read.
 *
 * Big contiguous datasets are not even read into the image ("holes"): a first pass of
 * libhdf5 over the opened descriptor (/proc/self/fd) finds where their values lie, the
 * image is read around them, and their values are read straight from the file when asked,
 * each read checked against the file's size and times like every other (so a bf16 load
 * never holds the file's float32 bytes and the packed copy at once). The image's own
 * metadata must place each of them exactly where the first pass did; a file changed in
 * between fails the load. Where the first pass cannot run, the whole file is the image.
 *
 * What this file does check, before any value is read or any destination allocated:
 *  - the path is a regular file (a FIFO or device would block or never end);
 *  - every link on the way to a dataset is a hard link inside the file: soft, external
 *    and user-defined links are refused, so nothing resolves to another file or object;
 *  - the dataset keeps its values in this file: external storage and virtual datasets
 *    are refused;
 *  - the dataset is unfiltered: AllenNLP files are written by h5py with default settings,
 *    contiguous and uncompressed (as tools/elmo-genmodel writes them); a filter such as
 *    deflate could expand a small chunk without a bound we control, so filtered datasets
 *    are refused with a hint to rewrite the file uncompressed;
 *  - the bytes stored are what the shape needs (numel * 4): compact storage of exactly
 *    that size, contiguous storage of that size inside the file, chunked storage fully
 *    written (no fill values made up for chunks the file does not hold), never more than
 *    the file's size.
 *
 * HDF5 keeps global state (error stacks, open-object tables), so a source holds the
 * process-wide HDF5 lock from open to close. With the checks above every read is bounded
 * by the (regular) file itself, so the lock is never held across an unbounded read. */
#include <hdf5.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bigbuf.h"
#include "error.h"
#include "file_read.h"
#include "tensor_source.h"

static pthread_mutex_t h5_lock = PTHREAD_MUTEX_INITIALIZER;
static int h5_atexit_skipped; /* under h5_lock */

static unsigned long h5_opened; /* under h5_lock: names each image uniquely */

/* A byte range of the image given back to the system (it reads as zeros now). */
typedef struct released_range {
    uint64_t begin, end;
} released_range;

typedef struct hdf5_source {
    elmo_tensor_source base;
    char *path; /* a copy: the caller's string may not outlive the source */
    hid_t file;
    elmo_file fd;          /* the file, open while the source is: holes are read from it */
    released_range *holes; /* [n_holes] sorted byte ranges of values not in the image */
    int n_holes;
    unsigned char *image;     /* [file_size] the file's bytes (elmo_big_alloc) */
    int64_t file_size;        /* bytes read */
    int64_t user_block;       /* bytes before HDF5 addresses start (0 unless a user block) */
    released_range *released; /* [n_released] */
    int n_released;
    H5E_auto2_t old_func;
    void *old_data;
} hdf5_source;

#define REFUSED_HINT "use the original AllenNLP weights file"
#define CORRUPT_HINT "the file is truncated or corrupted; download it again"

static void describe_type(hid_t type, char *buf, size_t cap) {
    H5T_class_t cls = H5Tget_class(type);
    size_t bits = H5Tget_size(type) * 8;
    if (cls == H5T_FLOAT) snprintf(buf, cap, "float%zu", bits);
    else if (cls == H5T_INTEGER)
        snprintf(buf, cap, "%sint%zu", H5Tget_sign(type) == H5T_SGN_NONE ? "u" : "", bits);
    else if (cls == H5T_STRING) snprintf(buf, cap, "string");
    else snprintf(buf, cap, "a non-numeric type (HDF5 class %d)", (int)cls);
}

/* ---- links ------------------------------------------------------------------------------ */

typedef enum walk_result { WALK_ABSENT, WALK_HARD, WALK_OTHER } walk_result;

/* Walks `path` one link at a time, never following a link that is not a hard link (a soft
 * or external link is only looked at, not resolved). WALK_HARD: every link exists and is
 * hard; WALK_ABSENT: one is missing; WALK_OTHER: links[0..*stop) names a soft, external
 * or user-defined link, of type *kind. */
static walk_result walk_links(hid_t file, const char *path, char prefix[256], H5L_type_t *kind) {
    size_t len = strlen(path);
    if (len >= 256) return WALK_ABSENT;
    for (size_t i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0') continue;
        memcpy(prefix, path, i);
        prefix[i] = '\0';
        H5L_info_t info;
        if (H5Lexists(file, prefix, H5P_DEFAULT) <= 0 ||
            H5Lget_info(file, prefix, &info, H5P_DEFAULT) < 0)
            return WALK_ABSENT;
        if (info.type != H5L_TYPE_HARD) {
            *kind = info.type;
            return WALK_OTHER;
        }
    }
    return WALK_HARD;
}

static const char *link_kind(H5L_type_t kind) {
    if (kind == H5L_TYPE_SOFT) return "a soft link";
    if (kind == H5L_TYPE_EXTERNAL) return "an external link (to another file)";
    return "a user-defined link";
}

/* 1 if the dataset or group exists. A soft or external link on the way counts as existing
 * (it is not followed; find() refuses it). */
static int h5_exists(elmo_tensor_source *base, const char *name) {
    char prefix[256];
    H5L_type_t kind;
    return walk_links(((hdf5_source *)base)->file, name, prefix, &kind) != WALK_ABSENT;
}

/* ---- storage ---------------------------------------------------------------------------- */

static const char *filter_name(H5Z_filter_t id) {
    switch (id) {
    case H5Z_FILTER_DEFLATE: return "deflate";
    case H5Z_FILTER_SHUFFLE: return "shuffle";
    case H5Z_FILTER_FLETCHER32: return "fletcher32";
    case H5Z_FILTER_SZIP: return "szip";
    case H5Z_FILTER_NBIT: return "nbit";
    case H5Z_FILTER_SCALEOFFSET: return "scaleoffset";
    default: return "a third-party filter";
    }
}

/* Refuses storage whose values are not plain bytes of this file (external storage,
 * virtual datasets, filters); *layout and chunk[] (chunked) describe it otherwise. */
static int check_storage_kind(hdf5_source *s, hid_t ds, const char *name, H5D_layout_t *layout,
                              hsize_t chunk[H5S_MAX_RANK], elmo_error *err) {
    const char *path = s->base.path;
    hid_t dcpl = H5Dget_create_plist(ds);
    if (dcpl < 0)
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "weights file '%s': cannot read how dataset '%s' is stored; " CORRUPT_HINT,
                         path, name);
    *layout = H5Pget_layout(dcpl);
    int n_external = H5Pget_external_count(dcpl);
    int n_filters = H5Pget_nfilters(dcpl);
    H5Z_filter_t filter = -1;
    if (n_filters > 0) {
        unsigned flags = 0, config = 0;
        size_t n_values = 0;
        filter = H5Pget_filter2(dcpl, 0, &flags, &n_values, NULL, 0, NULL, &config);
    }
    int chunk_rank = *layout == H5D_CHUNKED ? H5Pget_chunk(dcpl, H5S_MAX_RANK, chunk) : 0;
    H5Pclose(dcpl);
    if (n_external != 0)
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "weights file '%s': dataset '%s' keeps its values in another file "
                         "(HDF5 external storage), which is refused: a weights file must hold "
                         "its own values; " REFUSED_HINT,
                         path, name);
    if (*layout == H5D_VIRTUAL)
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "weights file '%s': dataset '%s' is a virtual dataset (its values "
                         "come from other datasets or files), which is refused; " REFUSED_HINT,
                         path, name);
    if (*layout != H5D_COMPACT && *layout != H5D_CONTIGUOUS && *layout != H5D_CHUNKED)
        return elmo_fail(
            err, ELMO_ERR_FORMAT,
            "weights file '%s': dataset '%s' has an unknown storage layout (%d); " CORRUPT_HINT,
            path, name, (int)*layout);
    if (n_filters != 0)
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "weights file '%s': dataset '%s' is stored through the HDF5 filter "
                         "%d (%s), which is refused: AllenNLP weights are stored uncompressed; "
                         "rewrite the file without filters (h5repack -f NONE in out)",
                         path, name, (int)filter, filter_name(filter));
    if (*layout == H5D_CHUNKED && chunk_rank <= 0)
        return elmo_fail(
            err, ELMO_ERR_FORMAT,
            "weights file '%s': cannot read the chunk shape of dataset '%s'; " CORRUPT_HINT, path,
            name);
    return ELMO_OK;
}

/* ceil(a / b) for b > 0. */
static uint64_t div_up(uint64_t a, uint64_t b) {
    return a / b + (a % b != 0);
}

/* The bytes the file stores for the dataset must be the `need` bytes its shape needs
 * (float32 values), all inside the file. */
static int check_stored_bytes(hdf5_source *s, hid_t ds, const char *name, H5D_layout_t layout,
                              int rank, const hsize_t *dims, const hsize_t *chunk,
                              elmo_error *err) {
    const char *path = s->base.path;
    /* numel * 4, saturated: anything above the file's size is refused anyway. */
    uint64_t numel = 1, cap = (uint64_t)1 << 60;
    hid_t space = H5Dget_space(ds);
    if (space < 0 || H5Sget_simple_extent_type(space) == H5S_NULL) numel = 0; /* no values */
    if (space >= 0) H5Sclose(space);
    for (int i = 0; i < rank && numel; i++)
        numel = dims[i] && numel > cap / dims[i] ? cap : numel * dims[i];
    uint64_t need = numel * 4, size = (uint64_t)s->file_size;
    if (need == 0) return ELMO_OK;
    if (need > size)
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "weights file '%s': dataset '%s' declares %s%llu values (%llu bytes), "
                         "more than the whole file (%llu bytes); " CORRUPT_HINT,
                         path, name, numel == cap ? "over " : "", (unsigned long long)numel,
                         (unsigned long long)need, (unsigned long long)size);
    H5D_space_status_t status = H5D_SPACE_STATUS_ERROR;
    if (H5Dget_space_status(ds, &status) < 0) status = H5D_SPACE_STATUS_ERROR;
    uint64_t stored = H5Dget_storage_size(ds);
    uint64_t expect = need; /* what a well-formed file stores for this layout */
    if (layout == H5D_CHUNKED) {
        /* Unfiltered chunks are whole: edge chunks are stored full size. */
        uint64_t chunks = 1, chunk_bytes = 4;
        for (int i = 0; i < rank; i++) {
            if (chunk[i] == 0)
                return elmo_fail(err, ELMO_ERR_FORMAT,
                                 "weights file '%s': dataset '%s' has an empty "
                                 "chunk shape; " CORRUPT_HINT,
                                 path, name);
            uint64_t per = div_up(dims[i], chunk[i]);
            chunks = chunks > cap / per ? cap : chunks * per;
            chunk_bytes = chunk_bytes > cap / chunk[i] ? cap : chunk_bytes * chunk[i];
        }
        expect = chunks > cap / chunk_bytes ? cap : chunks * chunk_bytes;
        if (status != H5D_SPACE_STATUS_ALLOCATED)
            return elmo_fail(err, ELMO_ERR_FORMAT,
                             "weights file '%s': dataset '%s' declares %llu values but %s of "
                             "its %llu chunks are stored (missing chunks would read as fill "
                             "values); " CORRUPT_HINT,
                             path, name, (unsigned long long)numel,
                             status == H5D_SPACE_STATUS_PART_ALLOCATED ? "only some" : "none",
                             (unsigned long long)chunks);
    }
    if (stored != expect || stored > size)
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "weights file '%s': dataset '%s' stores %llu bytes for its %llu "
                         "values (%llu bytes expected); " CORRUPT_HINT,
                         path, name, (unsigned long long)stored, (unsigned long long)numel,
                         (unsigned long long)expect);
    if (layout == H5D_CONTIGUOUS) {
        haddr_t at = H5Dget_offset(ds);
        uint64_t start = (uint64_t)s->user_block + (uint64_t)at;
        if (at == HADDR_UNDEF || status != H5D_SPACE_STATUS_ALLOCATED || start > size ||
            need > size - start)
            return elmo_fail(err, ELMO_ERR_FORMAT,
                             "weights file '%s': dataset '%s' (%llu bytes) lies past the end "
                             "of the file (%llu bytes); " CORRUPT_HINT,
                             path, name, (unsigned long long)need, (unsigned long long)size);
    }
    return ELMO_OK;
}

/* ---- datasets --------------------------------------------------------------------------- */

/* Opens dataset `name` after checking the links on its way, its type (float32) and its
 * storage. Returns 1 with *ds open and its shape, 0 when absent, or a negated elmo_status
 * with err set; nothing is left open unless 1 is returned. */
static int open_dataset(hdf5_source *s, const char *name, hid_t *ds_out, int *rank_out,
                        hsize_t dims[H5S_MAX_RANK], elmo_error *err) {
    const char *path = s->base.path;
    char prefix[256];
    H5L_type_t kind = H5L_TYPE_ERROR;
    walk_result w = walk_links(s->file, name, prefix, &kind);
    if (w == WALK_ABSENT) return 0;
    if (w == WALK_OTHER) {
        if (!strcmp(prefix, name))
            return -elmo_fail(err, ELMO_ERR_FORMAT,
                              "weights file '%s': dataset '%s' is %s, which is refused "
                              "(weights must be plain datasets inside the file); " REFUSED_HINT,
                              path, name, link_kind(kind));
        return -elmo_fail(err, ELMO_ERR_FORMAT,
                          "weights file '%s': '%s' (on the path to dataset '%s') is %s, which "
                          "is refused (weights must be plain groups and datasets inside the "
                          "file); " REFUSED_HINT,
                          path, prefix, name, link_kind(kind));
    }
    hid_t ds = H5Dopen2(s->file, name, H5P_DEFAULT);
    if (ds < 0)
        return -elmo_fail(err, ELMO_ERR_FORMAT,
                          "weights file '%s': '%s' exists but is not a dataset", path, name);
    H5D_layout_t layout = H5D_LAYOUT_ERROR;
    hsize_t chunk[H5S_MAX_RANK] = {0};
    /* The storage kind first: the shape of a virtual dataset may come from other files. */
    int rc = check_storage_kind(s, ds, name, &layout, chunk, err);
    hid_t space = rc ? -1 : H5Dget_space(ds), type = rc ? -1 : H5Dget_type(ds);
    int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    char got[96];
    if (rc) {
        /* err set */
    } else if (rank < 0 || type < 0 || H5Sget_simple_extent_dims(space, dims, NULL) < 0) {
        rc = elmo_fail(err, ELMO_ERR_FORMAT,
                       "weights file '%s': cannot read the shape of dataset '%s' (the file "
                       "may be corrupted)",
                       path, name);
    } else if (H5Tget_class(type) != H5T_FLOAT || H5Tget_size(type) != 4) {
        describe_type(type, got, sizeof got);
        rc = elmo_fail(err, ELMO_ERR_FORMAT,
                       "weights file '%s': dataset '%s' has type %s, expected float32", path, name,
                       got);
    } else {
        rc = check_stored_bytes(s, ds, name, layout, rank, dims, chunk, err);
    }
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    if (rc) {
        H5Dclose(ds);
        return -rc;
    }
    *ds_out = ds;
    *rank_out = rank;
    return 1;
}

static int h5_find(elmo_tensor_source *base, const char *name, int *rank_out,
                   int64_t dims_out[ELMO_MAX_RANK], elmo_error *err) {
    hid_t ds;
    hsize_t dims[H5S_MAX_RANK];
    int found = open_dataset((hdf5_source *)base, name, &ds, rank_out, dims, err);
    if (found <= 0) return found;
    H5Dclose(ds);
    for (int i = 0; i < *rank_out && i < ELMO_MAX_RANK; i++) dims_out[i] = (int64_t)dims[i];
    return 1;
}

/* The bytes [begin, end) of the image that a contiguous dataset occupies, or 0. */
static int contiguous_range(hdf5_source *s, hid_t ds, uint64_t count, released_range *r) {
    hid_t dcpl = H5Dget_create_plist(ds);
    H5D_layout_t layout = dcpl >= 0 ? H5Pget_layout(dcpl) : H5D_LAYOUT_ERROR;
    if (dcpl >= 0) H5Pclose(dcpl);
    haddr_t at = layout == H5D_CONTIGUOUS ? H5Dget_offset(ds) : HADDR_UNDEF;
    if (at == HADDR_UNDEF) return 0;
    r->begin = (uint64_t)s->user_block + (uint64_t)at;
    r->end = r->begin + count * 4; /* inside the image: checked by check_stored_bytes */
    return 1;
}

/* Remembers that [r) was given back, so that a second read of it fails instead of
 * reading zeros. Without memory to remember it the pages are simply kept. */
static void release(hdf5_source *s, const released_range *r) {
    released_range *grown = realloc(s->released, (size_t)(s->n_released + 1) * sizeof *grown);
    if (!grown) return;
    s->released = grown;
    s->released[s->n_released++] = *r;
    elmo_big_release(s->image, (size_t)r->begin, (size_t)(r->end - r->begin));
}

static int was_released(const hdf5_source *s, const released_range *r) {
    for (int i = 0; i < s->n_released; i++)
        if (r->begin < s->released[i].end && s->released[i].begin < r->end) return 1;
    return 0;
}

/* 1 when [r) is a hole (values read from the file), 0 when it lies in the image, or a
 * negated status when it overlaps a hole without being one: the metadata the image holds
 * no longer matches the first pass's (the file changed between the two). */
static int in_hole(hdf5_source *s, const released_range *r, const char *name, elmo_error *err) {
    for (int i = 0; i < s->n_holes; i++) {
        const released_range *h = &s->holes[i];
        if (r->begin == h->begin && r->end == h->end) return 1;
        if (r->begin < h->end && h->begin < r->end)
            return -elmo_fail(err, ELMO_ERR_IO,
                              "weights file '%s' changed while it was read (dataset '%s' moved); "
                              "load it again once it is complete",
                              s->base.path, name);
    }
    return 0;
}

/* Values [begin, begin + n floats) of a hole, from the file (float32 little-endian, as the
 * first pass checked), with the file's size and times checked after the read. */
static int read_hole(hdf5_source *s, uint64_t begin, float *dst, uint64_t n, elmo_error *err) {
    return elmo_file_read(&s->fd, begin, dst, (size_t)n * sizeof(float), err);
}

static int h5_read(elmo_tensor_source *base, const char *name, float *dst, size_t count,
                   elmo_error *err) {
    hdf5_source *s = (hdf5_source *)base;
    hid_t ds;
    int rank;
    hsize_t dims[H5S_MAX_RANK];
    int found = open_dataset(s, name, &ds, &rank, dims, err); /* checked again: cheap */
    if (found < 0) return -found;
    uint64_t numel = 1;
    for (int i = 0; found && i < rank; i++) numel *= dims[i]; /* bounded by the file size */
    herr_t r = -1;
    released_range range;
    int contiguous = found && contiguous_range(s, ds, numel, &range);
    int hole = contiguous ? in_hole(s, &range, name, err) : 0;
    if (hole) {
        H5Dclose(ds);
        if (hole < 0) return -hole;
        if (numel != count)
            return elmo_fail(err, ELMO_ERR_FORMAT,
                             "weights file '%s': cannot read dataset '%s' (" CORRUPT_HINT ")",
                             base->path, name);
        return read_hole(s, range.begin, dst, numel, err);
    }
    if (contiguous && was_released(s, &range)) {
        H5Dclose(ds);
        return elmo_fail(err, ELMO_ERR_INTERNAL,
                         "weights file '%s': dataset '%s' was read twice (its bytes were "
                         "already given back)",
                         base->path, name);
    }
    if (found && numel == count)
        r = H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst);
    if (found) H5Dclose(ds);
    if (r < 0)
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "weights file '%s': cannot read dataset '%s' (" CORRUPT_HINT ")",
                         base->path, name);
    if (contiguous) release(s, &range); /* read once: the packed copy is what stays */
    return ELMO_OK;
}

/* Rows [row0, row0 + rows) of a dataset: a hyperslab of its first dimension, read from
 * the image like whole datasets are; the rows' bytes of a contiguous dataset are given
 * back once read (a large head is read a block of rows at a time, once). */
static int h5_read_rows(elmo_tensor_source *base, const char *name, int64_t row0, int64_t rows,
                        float *dst, elmo_error *err) {
    hdf5_source *s = (hdf5_source *)base;
    hid_t ds;
    int rank;
    hsize_t dims[H5S_MAX_RANK];
    int found = open_dataset(s, name, &ds, &rank, dims, err); /* checked again: cheap */
    if (found < 0) return -found;
    int in_range =
        found && rank >= 1 && row0 >= 0 && rows >= 0 && (hsize_t)(row0 + rows) <= dims[0];
    uint64_t row_numel = 1;
    for (int i = 1; in_range && i < rank; i++) row_numel *= dims[i]; /* bounded by the file */
    released_range range, part = {0, 0};
    int contiguous = in_range && contiguous_range(s, ds, dims[0] * row_numel, &range);
    if (contiguous) {
        part.begin = range.begin + (uint64_t)row0 * row_numel * 4;
        part.end = part.begin + (uint64_t)rows * row_numel * 4;
    }
    int hole = contiguous ? in_hole(s, &range, name, err) : 0;
    if (hole) {
        H5Dclose(ds);
        if (hole < 0) return -hole;
        return read_hole(s, part.begin, dst, (uint64_t)rows * row_numel, err);
    }
    if (contiguous && rows && was_released(s, &part)) {
        H5Dclose(ds);
        return elmo_fail(err, ELMO_ERR_INTERNAL,
                         "weights file '%s': rows %lld..%lld of dataset '%s' were read twice "
                         "(their bytes were already given back)",
                         base->path, (long long)row0, (long long)(row0 + rows - 1), name);
    }
    herr_t r = -1;
    if (in_range) {
        hsize_t start[H5S_MAX_RANK] = {0}, count[H5S_MAX_RANK];
        memcpy(count, dims, sizeof(hsize_t) * (size_t)rank);
        start[0] = (hsize_t)row0;
        count[0] = (hsize_t)rows;
        hid_t file_space = H5Dget_space(ds), mem_space = H5Screate_simple(rank, count, NULL);
        if (file_space >= 0 && mem_space >= 0 &&
            H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, NULL, count, NULL) >= 0)
            r = rows ? H5Dread(ds, H5T_NATIVE_FLOAT, mem_space, file_space, H5P_DEFAULT, dst) : 0;
        if (mem_space >= 0) H5Sclose(mem_space);
        if (file_space >= 0) H5Sclose(file_space);
    }
    if (found) H5Dclose(ds);
    if (r < 0)
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "weights file '%s': cannot read rows %lld..%lld of dataset '%s' "
                         "(" CORRUPT_HINT ")",
                         base->path, (long long)row0, (long long)(row0 + rows - 1), name);
    if (contiguous && rows) release(s, &part); /* read once: the packed copy is what stays */
    return ELMO_OK;
}

static void h5_close(elmo_tensor_source *base) {
    hdf5_source *s = (hdf5_source *)base;
    if (s->file >= 0) H5Fclose(s->file); /* H5F_CLOSE_STRONG: closes anything left open */
    H5Eset_auto2(H5E_DEFAULT, s->old_func, s->old_data);
    pthread_mutex_unlock(&h5_lock);
    elmo_big_free(s->image); /* after H5Fclose: the core driver reads it until then */
    elmo_file_close(&s->fd);
    free(s->holes);
    free(s->released);
    free(s->path);
    free(s);
}

/* ---- the file image --------------------------------------------------------------------- */

/* libhdf5's file image callbacks, so that its core driver uses our buffer (udata) as the
 * file, without copies: every "allocation" of the image is that buffer, every copy is a
 * no-op, and nothing is freed (the source frees the image after closing the file). */
static void *image_malloc(size_t size, H5FD_file_image_op_t op, void *udata) {
    (void)size;
    (void)op;
    return udata;
}

static void *image_memcpy(void *dest, const void *src, size_t size, H5FD_file_image_op_t op,
                          void *udata) {
    (void)src;
    (void)size;
    (void)op;
    (void)udata;
    return dest; /* dest and src are both the image */
}

static void *image_realloc(void *ptr, size_t size, H5FD_file_image_op_t op, void *udata) {
    (void)ptr;
    (void)size;
    (void)op;
    (void)udata;
    return NULL; /* the file is opened read-only: it never grows */
}

static herr_t image_free(void *ptr, H5FD_file_image_op_t op, void *udata) {
    (void)ptr;
    (void)op;
    (void)udata;
    return 0;
}

static void *udata_copy(void *udata) {
    return udata;
}

static herr_t udata_free(void *udata) {
    (void)udata;
    return 0;
}

/* 1 when the image holds the HDF5 signature where a superblock may start (byte 0, 512,
 * 1024, 2048, ...). */
static int has_signature(const unsigned char *image, int64_t size) {
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    for (int64_t at = 0; at + 8 <= size; at = at ? 2 * at : 512)
        if (memcmp(image + at, sig, 8) == 0) return 1;
    return 0;
}

/* Opens the image read-only with the core driver. The name is only a label for libhdf5,
 * but the core driver opens it first to refuse overwriting a file that exists: a path
 * under /dev/null can never exist (ENOTDIR) nor block, and the counter keeps libhdf5 from
 * taking a new image for a file it still holds open. */
static hid_t open_image(hdf5_source *s) {
    H5FD_file_image_callbacks_t cb = {image_malloc, image_memcpy, image_realloc, image_free,
                                      udata_copy,   udata_free,   s->image};
    char name[64];
    snprintf(name, sizeof name, "/dev/null/elmo-weights-image-%lu", ++h5_opened);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), f = -1;
    if (fapl < 0) return -1;
    /* Closing the file closes every object still open in it, on every path; objects left
     * open would otherwise make libhdf5 complain on stderr at process exit. */
    if (H5Pset_fapl_core(fapl, 1 << 20, 0) >= 0 && H5Pset_file_image_callbacks(fapl, &cb) >= 0 &&
        H5Pset_file_image(fapl, s->image, (size_t)s->file_size) >= 0 &&
        H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) >= 0)
        f = H5Fopen(name, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    return f;
}

/* The user block size (HDF5 addresses count from its end). */
static int64_t user_block_of(hid_t file) {
    hid_t fcpl = H5Fget_create_plist(file);
    hsize_t ub = 0;
    if (fcpl >= 0) {
        if (H5Pget_userblock(fcpl, &ub) < 0) ub = 0;
        H5Pclose(fcpl);
    }
    return (int64_t)ub;
}

/* libhdf5 does not check every allocation it makes: opening a file with a few MiB of
 * address space left (ulimit -v) crashed in H5AC_create. With the image in memory, the
 * headroom is probed before libhdf5 runs, so that a load near the limit fails here with a
 * message. The probe is never touched: it costs no memory. */
#define HDF5_HEADROOM ((size_t)16 << 20)

static int has_headroom(void) {
    void *probe = malloc(HDF5_HEADROOM);
    int ok = probe != NULL;
    free(probe);
    return ok;
}

/* ---- the first pass: where the big contiguous datasets' values lie -------------------- */

#define HOLE_MIN ((uint64_t)1 << 20) /* smaller datasets stay in the image */
#define MAX_HOLES 4096

typedef struct hole_list {
    released_range *r;
    int n;
    uint64_t user_block, size;
} hole_list;

/* A dataset whose values may be read straight from the file: contiguous, unfiltered, in
 * this file, float32 little-endian, wholly allocated inside the file. */
static herr_t note_hole(hid_t obj, const char *name, const H5O_info_t *info, void *arg) {
    hole_list *l = arg;
    if (info->type != H5O_TYPE_DATASET || l->n >= MAX_HOLES) return 0;
    hid_t ds = H5Dopen2(obj, name, H5P_DEFAULT);
    if (ds < 0) return 0;
    hid_t dcpl = H5Dget_create_plist(ds), type = H5Dget_type(ds);
    H5D_space_status_t status = H5D_SPACE_STATUS_ERROR;
    int plain = dcpl >= 0 && type >= 0 && H5Pget_layout(dcpl) == H5D_CONTIGUOUS &&
                H5Pget_external_count(dcpl) == 0 && H5Pget_nfilters(dcpl) == 0 &&
                H5Tequal(type, H5T_IEEE_F32LE) > 0 && H5Dget_space_status(ds, &status) >= 0 &&
                status == H5D_SPACE_STATUS_ALLOCATED;
    haddr_t at = plain ? H5Dget_offset(ds) : HADDR_UNDEF;
    uint64_t bytes = plain ? H5Dget_storage_size(ds) : 0;
    if (dcpl >= 0) H5Pclose(dcpl);
    if (type >= 0) H5Tclose(type);
    H5Dclose(ds);
    if (at == HADDR_UNDEF || bytes < HOLE_MIN || bytes % 4) return 0;
    uint64_t begin = l->user_block + (uint64_t)at;
    if (begin > l->size || bytes > l->size - begin) return 0;
    released_range *grown = realloc(l->r, (size_t)(l->n + 1) * sizeof *grown);
    if (!grown) return 0;
    l->r = grown;
    l->r[l->n++] = (released_range){begin, begin + bytes};
    return 0;
}

static int by_begin(const void *a, const void *b) {
    const released_range *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* Fills s->holes from the opened file (never from its path, which may have been replaced
 * by anything since it was checked); on any failure there are no holes. Under h5_lock. */
static void find_holes(hdf5_source *s) {
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", s->fd.fd);
    hid_t f = H5Fopen(proc, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return;
    hole_list l = {NULL, 0, (uint64_t)user_block_of(f), s->fd.size};
    if (H5Ovisit2(f, H5_INDEX_NAME, H5_ITER_NATIVE, note_hole, &l, H5O_INFO_BASIC) < 0) l.n = 0;
    H5Fclose(f);
    qsort(l.r, (size_t)l.n, sizeof *l.r, by_begin);
    for (int i = 1; i < l.n; i++) /* overlapping values: trust none of them */
        if (l.r[i].begin < l.r[i - 1].end) l.n = 0;
    if (l.n == 0) free(l.r), l.r = NULL;
    s->holes = l.r;
    s->n_holes = l.n;
}

/* Reads the file into s->image, once, around the holes. */
static int read_image(hdf5_source *s, uint64_t max_bytes, elmo_error *err) {
    char size[32], limit[32];
    int rc = ELMO_OK;
    uint64_t file_size = s->fd.size;
    if (file_size > max_bytes)
        rc = elmo_fail(err, ELMO_ERR_FORMAT,
                       "weights file '%s' is %s, far more than the weights its options describe "
                       "(files up to %s are read); check that the weights belong to these "
                       "options",
                       s->path, elmo_bytes_text((double)file_size, size, sizeof size),
                       elmo_bytes_text((double)max_bytes, limit, sizeof limit));
    else if (!(s->image = elmo_big_alloc(file_size ? (size_t)file_size : 1)))
        rc = elmo_fail(err, ELMO_ERR_NOMEM, "out of memory allocating %s to read weights file '%s'",
                       elmo_bytes_text((double)file_size, size, sizeof size), s->path);
    else if (!has_headroom())
        rc = elmo_fail(err, ELMO_ERR_NOMEM,
                       "out of memory for libhdf5 to open weights file '%s': less than %s "
                       "is left after reading its %s",
                       s->path, elmo_bytes_text((double)HDF5_HEADROOM, limit, sizeof limit),
                       elmo_bytes_text((double)file_size, size, sizeof size));
    uint64_t at = 0;
    for (int i = 0; !rc && i <= s->n_holes; i++) {
        uint64_t end = i < s->n_holes ? s->holes[i].begin : file_size;
        if (end > at) rc = elmo_file_read(&s->fd, at, s->image + at, (size_t)(end - at), err);
        if (i < s->n_holes) at = s->holes[i].end;
    }
    s->file_size = (int64_t)file_size;
    return rc;
}

int elmo_hdf5_source_open(const char *path, uint64_t max_bytes, elmo_tensor_source **out,
                          elmo_error *err) {
    *out = NULL;
    hdf5_source *s = calloc(1, sizeof *s);
    if (s) s->path = strdup(path);
    if (!s || !s->path) {
        free(s);
        return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory");
    }
    s->base = (elmo_tensor_source){.path = s->path,
                                   .format = "hdf5",
                                   .find = h5_find,
                                   .read = h5_read,
                                   .exists = h5_exists,
                                   .close = h5_close,
                                   .read_rows = h5_read_rows};
    s->file = -1;
    s->fd.fd = -1;
    int rc = elmo_file_open(&s->fd, s->path, "weights file", err);
    pthread_mutex_lock(&h5_lock);
    /* libhdf5 1.10 keeps internal references after failing on some corrupted metadata
     * (h5dump does the same), and its shutdown at process exit then prints "infinite loop
     * closing library" on stderr. Skipping that shutdown keeps the library silent; the
     * operating system reclaims its memory. It must precede the first HDF5 call of the
     * process to have effect (a host that already uses HDF5 keeps its own shutdown). */
    if (!h5_atexit_skipped) {
        H5dont_atexit();
        h5_atexit_skipped = 1;
    }
    H5Eget_auto2(H5E_DEFAULT, &s->old_func, &s->old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* the library never prints */
    if (!rc && s->fd.size <= max_bytes && s->fd.size >= 4 * HOLE_MIN) {
        find_holes(s);
        /* The read itself without the lock: a slow disk does not hold up other loads' HDF5
         * work. */
        H5Eset_auto2(H5E_DEFAULT, s->old_func, s->old_data);
        pthread_mutex_unlock(&h5_lock);
        rc = read_image(s, max_bytes, err);
        pthread_mutex_lock(&h5_lock);
        H5Eget_auto2(H5E_DEFAULT, &s->old_func, &s->old_data);
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    } else if (!rc) {
        rc = read_image(s, max_bytes, err);
    }
    if (rc) {
        /* err set */
    } else if (!has_signature(s->image, s->file_size)) {
        rc = elmo_fail(err, ELMO_ERR_FORMAT,
                       "weights file '%s' is not an HDF5 file; expected the AllenNLP "
                       "*_weights.hdf5 file",
                       s->path);
    } else if ((s->file = open_image(s)) < 0) {
        rc = elmo_fail(err, ELMO_ERR_FORMAT,
                       "cannot open weights file '%s' as HDF5 (" CORRUPT_HINT ")", s->path);
    }
    if (rc) {
        h5_close(&s->base);
        return rc;
    }
    s->user_block = user_block_of(s->file);
    *out = &s->base;
    return ELMO_OK;
}
