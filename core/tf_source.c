/* tf_source.c - AllenNLP-named tensors from a TensorFlow V2 checkpoint: a bilm-tf training
 * checkpoint ("lm/..." names, mapped as bilm-tf's own dump_weights maps them) or the
 * variables of the TF-Hub ELMo module ("bilm/..." names). Each tensor's bytes are read
 * once from its shard (a regular file, file_read.h), bounds-checked against the shard's
 * size and verified against the index's crc32c before use. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "error.h"
#include "file_read.h"
#include "tf_checkpoint.h"

#define NAME_MAX_BYTES 256
#define LIST_SHOWN 400 /* bytes of the found-names list in messages */

typedef struct tf_tensor {
    char name[NAME_MAX_BYTES]; /* the AllenNLP name */
    const elmo_tf_entry *e;
    int skip_rows; /* char_embed with the padding row first: 1 */
} tf_tensor;

typedef struct tf_source {
    elmo_tensor_source base;
    char *prefix;
    char *index_path;
    elmo_tf_index ix;
    tf_tensor *t; /* [n] the model's tensors, sorted by name */
    int n;
    elmo_file **shard; /* [num_shards], NULL until opened */
} tf_source;

/* A data file, opened on first use; `path` is its name (the elmo_file points at it). */
typedef struct shard_file {
    elmo_file f;
    char path[];
} shard_file;

static void tf_close(elmo_tensor_source *base) {
    tf_source *s = (tf_source *)base;
    for (int i = 0; s->shard && i < s->ix.num_shards; i++) {
        if (s->shard[i]) elmo_file_close(s->shard[i]);
        free(s->shard[i]);
    }
    free(s->shard);
    free(s->t);
    elmo_tf_index_free(&s->ix);
    free(s->index_path);
    free(s->prefix);
    free(s);
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const tf_tensor *)a)->name, ((const tf_tensor *)b)->name);
}

static int by_name_then_entry(const void *a, const void *b) {
    const tf_tensor *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->e > y->e) - (x->e < y->e);
}

static const tf_tensor *lookup(const tf_source *s, const char *name) {
    tf_tensor key = {.e = NULL};
    if (strlen(name) >= sizeof key.name) return NULL; /* no mapped name is that long */
    memcpy(key.name, name, strlen(name) + 1);
    return s->n ? bsearch(&key, s->t, (size_t)s->n, sizeof *s->t, by_name) : NULL;
}

static int tf_find(elmo_tensor_source *base, const char *name, int *rank,
                   int64_t dims[ELMO_MAX_RANK], elmo_error *err) {
    (void)err;
    const tf_tensor *t = lookup((tf_source *)base, name);
    if (!t) return 0;
    *rank = t->e->rank;
    memcpy(dims, t->e->dims, sizeof(int64_t) * (size_t)t->e->rank);
    dims[0] -= t->skip_rows;
    return 1;
}

static const char *tf_name_at(const void *ctx, int i) {
    return ((const tf_source *)ctx)->t[i].name;
}

static int tf_exists(elmo_tensor_source *base, const char *name) {
    tf_source *s = (tf_source *)base;
    return elmo_tensor_names_have(tf_name_at, s, s->n, name);
}

static int tf_check_unused(elmo_tensor_source *base, const char *const *used, int n,
                           elmo_error *err) {
    tf_source *s = (tf_source *)base;
    int i = elmo_tensor_names_unused(tf_name_at, s, s->n, used, n);
    if (i >= 0)
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "checkpoint '%s' holds tensor '%s' (read as '%s'), which the "
                         "model does not use; check that the options match the checkpoint",
                         s->prefix, s->t[i].e->name, s->t[i].name);
    return ELMO_OK;
}

static int open_shard(tf_source *s, int shard, elmo_error *err) {
    if (s->shard[shard]) return ELMO_OK;
    size_t cap = strlen(s->prefix) + 32;
    shard_file *sf = malloc(sizeof *sf + cap);
    if (!sf) return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory");
    snprintf(sf->path, cap, "%s.data-%05d-of-%05d", s->prefix, shard, s->ix.num_shards);
    int rc = elmo_file_open(&sf->f, sf->path, "checkpoint data file", err);
    if (rc) free(sf);
    else s->shard[shard] = &sf->f;
    return rc;
}

static int tf_read(elmo_tensor_source *base, const char *name, float *dst, size_t count,
                   elmo_error *err) {
    tf_source *s = (tf_source *)base;
    const tf_tensor *t = lookup(s, name);
    if (!t)
        return elmo_fail(err, ELMO_ERR_INTERNAL, "checkpoint '%s': no tensor '%s'", s->prefix,
                         name);
    const elmo_tf_entry *e = t->e;
    size_t esize = e->dtype == ELMO_TF_DT_BFLOAT16 ? 2 : 4;
    size_t skip = t->skip_rows ? count / (size_t)(e->dims[0] - 1) : 0; /* values of row 0 */
    if (e->size != (uint64_t)(count + skip) * esize)
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "checkpoint '%s': tensor '%s' has %llu bytes, but its shape and dtype "
                         "need %llu (the index is corrupted)",
                         s->prefix, e->name, (unsigned long long)e->size,
                         (unsigned long long)((count + skip) * esize));
    int rc = open_shard(s, e->shard, err);
    if (rc) return rc;
    elmo_file *shard = s->shard[e->shard];
    if (e->offset > shard->size || e->size > shard->size - e->offset)
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "checkpoint '%s': tensor '%s' lies outside its data file (bytes "
                         "%llu..%llu of %llu; the data file is truncated or does not belong to "
                         "this index)",
                         s->prefix, e->name, (unsigned long long)e->offset,
                         (unsigned long long)(e->offset + e->size),
                         (unsigned long long)shard->size);
    unsigned char *buf = malloc(e->size ? (size_t)e->size : 1);
    char bytes[32];
    if (!buf)
        return elmo_fail(err, ELMO_ERR_NOMEM,
                         "out of memory allocating %s to read tensor '%s' of '%s'",
                         elmo_bytes_text((double)e->size, bytes, sizeof bytes), e->name, s->prefix);
    rc = elmo_file_read(shard, e->offset, buf, (size_t)e->size, err);
    if (!rc && elmo_crc32c_mask(elmo_crc32c(0, buf, (size_t)e->size)) != e->masked_crc)
        rc = elmo_fail(err, ELMO_ERR_FORMAT,
                       "checkpoint '%s': tensor '%s' fails its checksum (the data file is "
                       "corrupted)",
                       s->prefix, e->name);
    if (!rc) {
        const unsigned char *p = buf + skip * esize;
        for (size_t i = 0; i < count; i++) {
            uint32_t bits = esize == 2
                                ? (uint32_t)(p[2 * i] | p[2 * i + 1] << 8) << 16
                                : (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
                                      (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
            memcpy(&dst[i], &bits, 4);
        }
    }
    free(buf);
    return rc;
}

/* ---- names ---------------------------------------------------------------------------- */

/* Replaces every `from` in s (capacity cap) with `to`. */
static void replace_all(char *s, size_t cap, const char *from, const char *to) {
    char out[NAME_MAX_BYTES * 2];
    size_t used = 0, fl = strlen(from), tl = strlen(to);
    for (const char *p = s; *p && used + tl < sizeof out;) {
        if (strncmp(p, from, fl) == 0) {
            memcpy(out + used, to, tl);
            used += tl;
            p += fl;
        } else {
            out[used++] = *p++;
        }
    }
    out[used] = '\0';
    size_t n = used < cap ? used : cap - 1;
    memcpy(s, out, n);
    s[n] = '\0';
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Variables that are not part of the inference model. */
static int ignored(const char *name) {
    static const char *const suffixes[] = {"/Adagrad",
                                           "/Adam",
                                           "/Adam_1",
                                           "/Momentum",
                                           "/RMSProp",
                                           "/RMSProp_1",
                                           "/ExponentialMovingAverage"};
    static const char *const whole[] = {"global_step", "beta1_power", "beta2_power"};
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++)
        if (ends_with(name, suffixes[i])) return 1;
    for (size_t i = 0; i < sizeof whole / sizeof *whole; i++)
        if (strcmp(name, whole[i]) == 0) return 1;
    /* lm/softmax/{W,b} stay: they are the language-model head (lm_head.c). */
    return strstr(name, "lstm_state") != NULL;
}

/* bilm-tf's dump_weights renaming of a training checkpoint's "lm/..." name. */
static void map_bilm_tf(const char *in, char *out, size_t cap) {
    snprintf(out, cap, "%s", in + 3);
    replace_all(out, cap, "/rnn/", "/RNN/");
    replace_all(out, cap, "/multi_rnn_cell/", "/MultiRNNCell/");
    replace_all(out, cap, "/cell_", "/Cell");
    replace_all(out, cap, "/lstm_cell/", "/LSTMCell/");
    if (strstr(out, "/RNN/")) {
        if (strstr(out, "projection")) {
            replace_all(out, cap, "projection/kernel", "W_P_0");
        } else {
            replace_all(out, cap, "/kernel", "/W_0");
            replace_all(out, cap, "/bias", "/B");
        }
    }
}

/* The TF-Hub module's "bilm/..." names: ".../CellL/rnn/lstm_cell/{kernel,bias,
 * projection/kernel}" are the HDF5 file's ".../CellL/LSTMCell/{W_0,B,W_P_0}". */
static void map_hub(const char *in, char *out, size_t cap) {
    snprintf(out, cap, "%s", in + 5);
    if (!strstr(out, "/rnn/lstm_cell/")) return;
    replace_all(out, cap, "/rnn/lstm_cell/", "/LSTMCell/");
    if (ends_with(out, "/LSTMCell/projection/kernel"))
        replace_all(out, cap, "/LSTMCell/projection/kernel", "/LSTMCell/W_P_0");
    else if (ends_with(out, "/LSTMCell/kernel"))
        replace_all(out, cap, "/LSTMCell/kernel", "/LSTMCell/W_0");
    else if (ends_with(out, "/LSTMCell/bias"))
        replace_all(out, cap, "/LSTMCell/bias", "/LSTMCell/B");
}

/* "'a', 'b', ..." of the checkpoint's names, for messages. */
static void found_list(const elmo_tf_index *ix, char *buf, size_t cap) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < ix->n && used + 8 < cap; i++) {
        int w = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", ix->e[i].name);
        if (w < 0 || (size_t)w >= cap - used) {
            snprintf(buf + (cap > 5 ? cap - 5 : 0), 5, "...");
            return;
        }
        used += (size_t)w;
    }
}

static int map_names(tf_source *s, int *hub, elmo_error *err) {
    int n_bilm = 0, n_lm = 0;
    for (int i = 0; i < s->ix.n; i++) {
        n_bilm += strncmp(s->ix.e[i].name, "bilm/", 5) == 0;
        n_lm += strncmp(s->ix.e[i].name, "lm/", 3) == 0;
    }
    *hub = n_bilm > 0;
    char list[LIST_SHOWN];
    if (n_bilm && n_lm) {
        found_list(&s->ix, list, sizeof list);
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "checkpoint '%s' mixes TF-Hub ('bilm/...') and bilm-tf ('lm/...') "
                         "names; found: %s",
                         s->prefix, list);
    }
    if (!(s->t = calloc(s->ix.n ? (size_t)s->ix.n : 1, sizeof *s->t)))
        return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory");
    for (int i = 0; i < s->ix.n; i++) {
        const elmo_tf_entry *e = &s->ix.e[i];
        if (ignored(e->name)) continue;
        tf_tensor *t = &s->t[s->n];
        if (*hub && strncmp(e->name, "bilm/", 5) == 0) map_hub(e->name, t->name, sizeof t->name);
        else if (!*hub && strncmp(e->name, "lm/", 3) == 0)
            map_bilm_tf(e->name, t->name, sizeof t->name);
        else if (strncmp(e->name, "aggregation/", 12) == 0)
            snprintf(t->name, sizeof t->name, "%s", e->name);
        else {
            found_list(&s->ix, list, sizeof list);
            return elmo_fail(err, ELMO_ERR_FORMAT,
                             "checkpoint '%s' holds tensor '%s', which is not part of an ELMo "
                             "model (expected 'bilm/...' TF-Hub or 'lm/...' bilm-tf names); "
                             "found: %s",
                             s->prefix, e->name, list);
        }
        if (e->dtype != ELMO_TF_DT_FLOAT && e->dtype != ELMO_TF_DT_BFLOAT16)
            return elmo_fail(err, ELMO_ERR_FORMAT,
                             "checkpoint '%s': tensor '%s' has TensorFlow dtype %d; valid "
                             "dtypes: float32 (1), bfloat16 (14)",
                             s->prefix, e->name, e->dtype);
        uint64_t numel = 1;
        for (int k = 0; k < e->rank; k++) {
            if (e->dims[k] && numel > ((uint64_t)1 << 40) / (uint64_t)e->dims[k]) {
                numel = ((uint64_t)1 << 40) + 1;
                break;
            }
            numel *= (uint64_t)e->dims[k];
        }
        uint64_t want = numel * (e->dtype == ELMO_TF_DT_BFLOAT16 ? 2 : 4);
        if (numel > ((uint64_t)1 << 40) || e->size != want)
            return elmo_fail(err, ELMO_ERR_FORMAT,
                             "checkpoint '%s': tensor '%s' has %llu bytes, but its shape and "
                             "dtype need %llu (the index is corrupted)",
                             s->prefix, e->name, (unsigned long long)e->size,
                             (unsigned long long)want);
        t->e = e;
        /* The padding row first (bilm-tf adds a zero row 0 for padding at inference; the
         * model never looks it up): rows 1..261 are the AllenNLP file's 261 rows. */
        t->skip_rows = strcmp(t->name, "char_embed") == 0 && e->rank == 2 && e->dims[0] == 262;
        s->n++;
    }
    /* Sorted by name (then index order), so that names are looked up by bisection and two
     * tensors mapped to one name are neighbours: O(n log n) for any number of names. */
    qsort(s->t, (size_t)s->n, sizeof *s->t, by_name_then_entry);
    for (int k = 1; k < s->n; k++)
        if (strcmp(s->t[k - 1].name, s->t[k].name) == 0)
            return elmo_fail(err, ELMO_ERR_FORMAT,
                             "checkpoint '%s': tensors '%s' and '%s' both map to '%s'", s->prefix,
                             s->t[k - 1].e->name, s->t[k].e->name, s->t[k].name);
    return ELMO_OK;
}

/* ---- options of a TF-Hub module --------------------------------------------------------- */

static const elmo_tf_entry *dims_of(const tf_source *s, const char *name, int rank) {
    const tf_tensor *t = lookup(s, name);
    return t && t->e->rank == rank ? t->e : NULL;
}

/* The published module's architecture with the sizes read from the tensor shapes:
 * activation, clips, skip connections and characters per token cannot be seen in shapes
 * and are the module's (relu, 3, 3, true, 50). */
static int derive_options(const tf_source *s, char **out, elmo_error *err) {
    char list[LIST_SHOWN], name[96], filters[2048] = "";
    const elmo_tf_entry *emb = dims_of(s, "char_embed", 2), *e;
    if (!emb || (emb->dims[0] != 261 && emb->dims[0] != 262)) {
        found_list(&s->ix, list, sizeof list);
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "TF-Hub checkpoint '%s' has no 'bilm/char_embed' of shape [261 or "
                         "262, d]; found: %s",
                         s->prefix, list);
    }
    int64_t dc = emb->dims[1], F = 0;
    int banks = 0, highway = 0, layers = 0;
    size_t used = 0;
    for (;; banks++) {
        snprintf(name, sizeof name, "CNN/W_cnn_%d", banks);
        if (!(e = dims_of(s, name, 4)) || banks >= 64) break;
        used += (size_t)snprintf(filters + used, sizeof filters - used, "%s[%lld,%lld]",
                                 banks ? "," : "", (long long)e->dims[1], (long long)e->dims[3]);
        if (used >= sizeof filters) break;
        F += e->dims[3];
    }
    for (;; highway++) {
        snprintf(name, sizeof name, "CNN_high_%d/W_carry", highway);
        if (!lookup(s, name) || highway >= 64) break;
    }
    int64_t P = F, H = 0;
    if ((e = dims_of(s, "CNN_proj/W_proj", 2))) P = e->dims[1];
    for (;; layers++) {
        snprintf(name, sizeof name, "RNN_0/RNN/MultiRNNCell/Cell%d/LSTMCell/W_0", layers);
        if (!(e = dims_of(s, name, 2)) || layers >= 16) break;
        if (layers == 0) H = e->dims[1] / 4;
    }
    if (!banks || !layers || H < 1 || P < 1) {
        found_list(&s->ix, list, sizeof list);
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "TF-Hub checkpoint '%s' lacks 'bilm/CNN/W_cnn_0' or "
                         "'bilm/RNN_0/RNN/MultiRNNCell/Cell0/rnn/lstm_cell/kernel'; found: %s",
                         s->prefix, list);
    }
    char *json = malloc(4096);
    if (!json) return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory");
    snprintf(json, 4096,
             "{\"lstm\": {\"use_skip_connections\": true, \"projection_dim\": %lld, "
             "\"cell_clip\": 3, \"proj_clip\": 3, \"dim\": %lld, \"n_layers\": %d}, "
             "\"char_cnn\": {\"activation\": \"relu\", \"filters\": [%s], \"n_highway\": %d, "
             "\"embedding\": {\"dim\": %lld}, \"n_characters\": 262, "
             "\"max_characters_per_token\": 50}}",
             (long long)P, (long long)H, layers, filters, highway, (long long)dc);
    *out = json;
    return ELMO_OK;
}

/* ---- opening ---------------------------------------------------------------------------- */

static int read_index(const char *path, unsigned char **buf, size_t *len, elmo_error *err) {
    elmo_file f;
    int rc = elmo_file_open(&f, path, "checkpoint index", err);
    if (rc) return rc;
    if (f.size > ELMO_TF_INDEX_MAX)
        rc = elmo_fail(err, ELMO_ERR_FORMAT,
                       "checkpoint index '%s' is larger than 64 MiB; a checkpoint index is "
                       "small (is this the data file?)",
                       path);
    else if (!(*buf = malloc(f.size ? (size_t)f.size : 1)))
        rc = elmo_fail(err, ELMO_ERR_NOMEM, "out of memory");
    else rc = elmo_file_read(&f, 0, *buf, (size_t)f.size, err);
    *len = (size_t)f.size;
    elmo_file_close(&f);
    return rc;
}

int elmo_tf_is_index_file(const char *path) {
    elmo_file f;
    unsigned char m[8];
    if (elmo_file_open(&f, path, "checkpoint index", NULL)) return 0;
    int ok = f.size >= 48 && pread(f.fd, m, 8, (off_t)f.size - 8) == 8;
    elmo_file_close(&f);
    uint64_t v = 0;
    for (int i = 7; ok && i >= 0; i--) v = v << 8 | m[i];
    return ok && v == ELMO_TF_TABLE_MAGIC;
}

int elmo_tf_source_open(const char *prefix, elmo_tensor_source **out, char **options_json,
                        elmo_error *err) {
    *out = NULL;
    if (options_json) *options_json = NULL;
    tf_source *s = calloc(1, sizeof *s);
    size_t plen = strlen(prefix);
    if (!s || !(s->prefix = malloc(plen + 1)) || !(s->index_path = malloc(plen + 7))) {
        if (s) free(s->prefix);
        free(s);
        return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory");
    }
    memcpy(s->prefix, prefix, plen + 1);
    snprintf(s->index_path, plen + 7, "%s.index", prefix);
    s->base = (elmo_tensor_source){.path = s->prefix,
                                   .format = "tf-checkpoint",
                                   .find = tf_find,
                                   .read = tf_read,
                                   .exists = tf_exists,
                                   .check_unused = tf_check_unused,
                                   .close = tf_close};
    unsigned char *buf = NULL;
    size_t len = 0;
    int hub = 0, rc = read_index(s->index_path, &buf, &len, err);
    if (!rc) rc = elmo_tf_index_parse(buf, len, s->index_path, &s->ix, err);
    free(buf);
    if (!rc && !(s->shard = calloc((size_t)s->ix.num_shards, sizeof *s->shard)))
        rc = elmo_fail(err, ELMO_ERR_NOMEM, "out of memory");
    if (!rc) rc = map_names(s, &hub, err);
    if (!rc) {
        int bf16 = 0;
        for (int i = 0; i < s->n; i++) bf16 += s->t[i].e->dtype == ELMO_TF_DT_BFLOAT16;
        s->base.stores_bf16 = s->n > 0 && bf16 == s->n;
        s->base.format = hub ? "tf-hub" : "tf-checkpoint";
    }
    if (!rc && options_json && hub) rc = derive_options(s, options_json, err);
    if (rc) {
        tf_close(&s->base);
        return rc;
    }
    *out = &s->base;
    return ELMO_OK;
}
