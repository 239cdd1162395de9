/* convert.c - `elmo convert INPUT... -o MODEL.safetensors [--precision fp32|bf16]
 * [--softmax FILE --vocab FILE]`.
 *
 * INPUT is a model path (directory, TF-Hub module, TF checkpoint, safetensors file) or an
 * options file followed by a weights file. The model is first loaded and validated like
 * elmo_load does; then its tensors are read again through the format's source (the file's
 * values, not the packed ones) and written with the options JSON in the metadata. A
 * language-model head (--softmax and --vocab, or the one the input holds) is written too:
 * softmax/W and softmax/b as tensors, the vocabulary (one token per line) in the metadata,
 * so that the model stays one file. The output is written to a temporary name and renamed,
 * so it is never left half-written. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert.h"
#include "elmo.h"
#include "lm_head.h"
#include "model.h"
#include "model_files.h"
#include "safetensors.h"

#define MAX_LIST 512

static int usage(void) {
    fprintf(stderr,
            "usage: elmo convert INPUT... -o MODEL.safetensors [--precision fp32|bf16]\n"
            "                    [--softmax FILE --vocab FILE]\n"
            "  INPUT: a model directory, TF-Hub module, TF checkpoint or .safetensors file,\n"
            "         or an options JSON file followed by its weights file\n"
            "  --precision: how the tensors are stored (default fp32; bf16 halves the file)\n"
            "  --softmax, --vocab: a language-model head to store in the file (the published\n"
            "         *_softmax_weights.hdf5 and its vocabulary); a head the input holds is\n"
            "         kept (for a bilm-tf checkpoint give --vocab alone)\n");
    return 2;
}

/* Reads tensor `name` (found in src) into *out; 0, or -1 with the message printed. */
static int read_one(elmo_tensor_source *src, const char *name, elmo_tensor_out *out) {
    elmo_error err = {0};
    int rank = 0;
    int64_t dims[ELMO_MAX_RANK];
    int found = src->find(src, name, &rank, dims, &err);
    if (found <= 0) {
        fprintf(stderr, "elmo convert: %s\n", found < 0 ? err.message : "a tensor went missing");
        return -1;
    }
    size_t numel = 1;
    for (int d = 0; d < rank; d++) numel *= (size_t)dims[d];
    float *data = malloc(numel ? numel * sizeof(float) : 1); /* [numel] */
    if (!data) {
        fprintf(stderr, "elmo convert: out of memory reading '%s'\n", name);
        return -1;
    }
    if (src->read(src, name, data, numel, &err)) {
        fprintf(stderr, "elmo convert: %s\n", err.message);
        free(data);
        return -1;
    }
    *out = (elmo_tensor_out){.name = name, .rank = rank, .data = data};
    memcpy(out->dims, dims, sizeof(int64_t) * (size_t)rank);
    return 0;
}

/* Reads every tensor the options imply from f.src into tensors[]; returns their count or
 * -1 (message printed). */
static int read_tensors(elmo_model_files *f, const elmo_config *cfg, elmo_tensor_desc *list,
                        elmo_tensor_out *out) {
    int n = elmo_weights_list(cfg, list, MAX_LIST), k = 0;
    for (int i = 0; i < n; i++) {
        elmo_error err = {0};
        int rank = 0;
        int64_t dims[ELMO_MAX_RANK];
        int found = f->src->find(f->src, list[i].name, &rank, dims, &err);
        if (found < 0) {
            fprintf(stderr, "elmo convert: %s\n", err.message);
            return -1;
        }
        if (!found) continue; /* an optional tensor: the load already checked the rest */
        if (read_one(f->src, list[i].name, &out[k])) return -1;
        k++;
    }
    return k;
}

/* The head's vocabulary as the model holds it: its tokens, one per line (malloc'd). */
static char *vocab_text(const elmo_model *m, int64_t V) {
    size_t bytes = 1, len;
    for (int64_t v = 0; v < V; v++) bytes += (elmo_vocab_word(m, v, &len), len) + 1;
    char *text = malloc(bytes), *at = text;
    for (int64_t v = 0; text && v < V; v++) {
        const char *w = elmo_vocab_word(m, v, &len);
        memcpy(at, w, len);
        at += len;
        *at++ = '\n';
    }
    if (text) *at = '\0';
    return text;
}

/* Appends the head's two tensors, from the softmax file or else the model's own source;
 * returns the new count or -1. The model's source must be closed before an HDF5 file is
 * opened (libhdf5 is held by one source at a time). An HDF5 head file is read whole, so
 * only as much of it as the head the load found (V words of P values) explains. */
static int read_head(elmo_model_files *f, const char *softmax, const elmo_model_info *info,
                     elmo_tensor_out *out, int n) {
    elmo_tensor_source *src = f->src;
    elmo_error err = {0};
    if (softmax) {
        elmo_model_files_close(f);
        uint64_t head_bytes =
            (uint64_t)info->vocab_size * ((uint64_t)info->projection_dim + 1) * sizeof(float);
        if (elmo_tensor_file_open(softmax, "softmax weights", elmo_hdf5_read_limit(head_bytes),
                                  &src, &err)) {
            fprintf(stderr, "elmo convert: %s\n", err.message);
            return -1;
        }
    }
    int rc = read_one(src, ELMO_HEAD_W, &out[n]) || read_one(src, ELMO_HEAD_B, &out[n + 1]);
    if (rc && out[n].data) {
        free((void *)out[n].data);
        out[n].data = NULL;
    }
    if (softmax) src->close(src);
    return rc ? -1 : n + 2;
}

static int convert(const char *options, const char *input, const char *output, int bf16,
                   const char *softmax, const char *vocab) {
    elmo_error err = {0};
    elmo_model *m = NULL;
    elmo_load_params p = elmo_load_default_params();
    p.precision = ELMO_PRECISION_FP32;
    p.cache_bytes = 0;
    p.softmax_path = softmax;
    p.vocab_path = vocab;
    int rc = options ? elmo_model_load(options, input, &p, &m, &err)
                     : elmo_model_load_path(input, &p, &m, &err);
    if (rc) {
        fprintf(stderr, "elmo convert: %s\n", err.message);
        return 1;
    }
    elmo_model_info info;
    elmo_model_get_info(m, &info);
    char *words = info.vocab_size ? vocab_text(m, info.vocab_size) : NULL;
    elmo_model_free(m);
    if (info.vocab_size && !words) {
        fprintf(stderr, "elmo convert: out of memory\n");
        return 1;
    }

    elmo_model_files f;
    elmo_config cfg;
    if (elmo_model_files_open(options, input, &f, &err) ||
        elmo_options_parse_text(f.options_json, strlen(f.options_json), f.options_label, &cfg,
                                &err)) {
        fprintf(stderr, "elmo convert: %s\n", err.message);
        elmo_model_files_close(&f);
        free(words);
        return 1;
    }
    char *options_json = strdup(f.options_json); /* kept when f closes for the head */
    elmo_tensor_desc *list = calloc(MAX_LIST, sizeof *list);
    elmo_tensor_out *tensors = calloc(MAX_LIST + 2, sizeof *tensors);
    int n = list && tensors && options_json ? read_tensors(&f, &cfg, list, tensors) : -1;
    if (n >= 0 && words) n = read_head(&f, softmax, &info, tensors, n);
    char *tmp = malloc(strlen(output) + 32);
    rc = n < 0 || !tmp;
    if (!rc) {
        sprintf(tmp, "%s.tmp%ld", output, (long)getpid());
        if (elmo_safetensors_write_vocab(tmp, options_json, words, tensors, n, bf16, &err) ||
            rename(tmp, output) != 0) {
            fprintf(stderr, "elmo convert: %s\n",
                    err.code ? err.message : "cannot rename the output into place");
            unlink(tmp);
            rc = 1;
        }
    }
    if (!rc) {
        printf("wrote %s: %d tensors, %lld parameters, %s, from %s (%s)", output, n,
               (long long)info.n_params, bf16 ? "bf16" : "fp32", input, info.format);
        if (words) printf(", with a language-model head of %lld words", (long long)info.vocab_size);
        printf("\n");
    }
    for (int i = 0; tensors && i < MAX_LIST + 2; i++) free((void *)tensors[i].data);
    free(tmp);
    free(list);
    free(tensors);
    free(options_json);
    free(words);
    elmo_model_files_close(&f);
    return rc;
}

int cli_convert(int argc, char **argv) {
    const char *inputs[2] = {NULL, NULL}, *output = NULL, *softmax = NULL, *vocab = NULL;
    int n_inputs = 0, bf16 = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) {
            if (++i >= argc) return usage();
            output = argv[i];
        } else if (strcmp(argv[i], "--precision") == 0) {
            if (++i >= argc) return usage();
            if (strcmp(argv[i], "bf16") == 0) {
                bf16 = 1;
            } else if (strcmp(argv[i], "fp32") == 0) {
                bf16 = 0;
            } else {
                fprintf(stderr, "elmo convert: unknown precision '%s'; valid: fp32, bf16\n",
                        argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "--softmax") == 0 || strcmp(argv[i], "--vocab") == 0) {
            if (i + 1 >= argc) return usage();
            *(argv[i][2] == 's' ? &softmax : &vocab) = argv[i + 1];
            i++;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage();
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "elmo convert: unknown option '%s'\n", argv[i]);
            return usage();
        } else if (n_inputs < 2) {
            inputs[n_inputs++] = argv[i];
        } else {
            fprintf(stderr, "elmo convert: too many inputs; give one model path, or an "
                            "options file and a weights file\n");
            return 2;
        }
    }
    if (!n_inputs || !output) return usage();
    return convert(n_inputs == 2 ? inputs[0] : NULL, inputs[n_inputs - 1], output, bf16, softmax,
                   vocab);
}
