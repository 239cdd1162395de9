/* fuzz_load_hdf5.c - elmo_model_load over a fuzzed weights file (the input, written to a
 * temporary file) with the tiny model's options. Failures must come with a message; a
 * file that loads must run. HDF5 files are parsed by libhdf5: crashes inside it are
 * findings about that library (see the README's Security section). */
#include "fuzz_model.h"

#define OPTIONS "models/elmo-tiny/options.json"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char path[64];
    fuzz_temp_file(path, "elmo_fuzz_weights");
    if (fuzz_write_file(path, data, size)) abort();
    fuzz_load_and_run(OPTIONS, path, NULL);
    return 0;
}
