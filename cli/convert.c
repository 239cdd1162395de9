/* convert.c - `elmo convert INPUT... -o MODEL.safetensors [--precision fp32|bf16]`.
 *
 * INPUT is a model path (directory, TF-Hub module, TF checkpoint, safetensors file) or an
 * options file followed by a weights file. The model is first loaded and validated like
 * elmo_load does; then its tensors are read again through the format's source (the file's
 * values, not the packed ones) and written with the options JSON in the metadata. The
 * output is written to a temporary name and renamed, so it is never left half-written. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert.h"
#include "elmo.h"
#include "model.h"
#include "model_files.h"
#include "safetensors.h"

#define MAX_LIST 512

static int usage(void) {
    fprintf(stderr,
            "usage: elmo convert INPUT... -o MODEL.safetensors [--precision fp32|bf16]\n"
            "  INPUT: a model directory, TF-Hub module, TF checkpoint or .safetensors file,\n"
            "         or an options JSON file followed by its weights file\n"
            "  --precision: how the tensors are stored (default fp32; bf16 halves the file)\n");
    return 2;
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
        size_t numel = 1;
        for (int d = 0; d < rank; d++) numel *= (size_t)dims[d];
        float *data = malloc(numel ? numel * sizeof(float) : 1); /* [numel] */
        if (!data) {
            fprintf(stderr, "elmo convert: out of memory reading '%s'\n", list[i].name);
            return -1;
        }
        if (f->src->read(f->src, list[i].name, data, numel, &err)) {
            fprintf(stderr, "elmo convert: %s\n", err.message);
            free(data);
            return -1;
        }
        out[k] = (elmo_tensor_out){.name = list[i].name, .rank = rank, .data = data};
        memcpy(out[k].dims, dims, sizeof(int64_t) * (size_t)rank);
        k++;
    }
    return k;
}

static int convert(const char *options, const char *input, const char *output, int bf16) {
    elmo_error err = {0};
    elmo_model *m = NULL;
    elmo_load_params p = elmo_load_default_params();
    p.precision = ELMO_PRECISION_FP32;
    p.cache_bytes = 0;
    int rc = options ? elmo_model_load(options, input, &p, &m, &err)
                     : elmo_model_load_path(input, &p, &m, &err);
    if (rc) {
        fprintf(stderr, "elmo convert: %s\n", err.message);
        return 1;
    }
    elmo_model_info info;
    elmo_model_get_info(m, &info);
    elmo_model_free(m);

    elmo_model_files f;
    elmo_config cfg;
    if (elmo_model_files_open(options, input, &f, &err) ||
        elmo_options_parse_text(f.options_json, strlen(f.options_json), f.options_label, &cfg,
                                &err)) {
        fprintf(stderr, "elmo convert: %s\n", err.message);
        elmo_model_files_close(&f);
        return 1;
    }
    elmo_tensor_desc *list = calloc(MAX_LIST, sizeof *list);
    elmo_tensor_out *tensors = calloc(MAX_LIST, sizeof *tensors);
    int n = list && tensors ? read_tensors(&f, &cfg, list, tensors) : -1;
    char *tmp = malloc(strlen(output) + 32);
    rc = n < 0 || !tmp;
    if (!rc) {
        sprintf(tmp, "%s.tmp%ld", output, (long)getpid());
        if (elmo_safetensors_write(tmp, f.options_json, tensors, n, bf16, &err) ||
            rename(tmp, output) != 0) {
            fprintf(stderr, "elmo convert: %s\n",
                    err.code ? err.message : "cannot rename the output into place");
            unlink(tmp);
            rc = 1;
        }
    }
    if (!rc)
        printf("wrote %s: %d tensors, %lld parameters, %s, from %s (%s)\n", output, n,
               (long long)info.n_params, bf16 ? "bf16" : "fp32", input, info.format);
    for (int i = 0; tensors && i < (n > 0 ? n : 0); i++) free((void *)tensors[i].data);
    free(tmp);
    free(list);
    free(tensors);
    elmo_model_files_close(&f);
    return rc;
}

int cli_convert(int argc, char **argv) {
    const char *inputs[2] = {NULL, NULL}, *output = NULL;
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
    return convert(n_inputs == 2 ? inputs[0] : NULL, inputs[n_inputs - 1], output, bf16);
}
