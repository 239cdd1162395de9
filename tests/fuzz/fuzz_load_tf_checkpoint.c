/* fuzz_load_tf_checkpoint.c - libFuzzer target: the TensorFlow checkpoint index parser (LevelDB
 * table, block trailers and checksums, protobuf entries) on arbitrary bytes. Must never
 * crash, hang or read out of bounds; failures are fine.
 *
 * Built and run by `make fuzz` / `make fuzz-ci` (tests/fuzz/run.sh). */
#include <stdint.h>
#include <string.h>

#include "tf_checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    elmo_tf_index ix;
    elmo_error err;
    if (elmo_tf_index_parse(data, size, "fuzz.index", &ix, &err) == 0) elmo_tf_index_free(&ix);
    return 0;
}
