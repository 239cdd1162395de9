/* load_tf_checkpoint.c - libFuzzer target: the TensorFlow checkpoint index parser (LevelDB
 * table, block trailers and checksums, protobuf entries) on arbitrary bytes. Must never
 * crash, hang or read out of bounds; failures are fine.
 *
 *   clang -fsanitize=fuzzer,address,undefined -Iinclude -Icore
 *     tests/fuzz/load_tf_checkpoint.c core/tf_index.c core/crc32c.c core/error.c
 *     -o load_tf_checkpoint
 *   ./load_tf_checkpoint tests/fuzz/corpus/load_tf_checkpoint */
#include <stdint.h>
#include <string.h>

#include "tf_checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    elmo_tf_index ix;
    elmo_error err;
    if (elmo_tf_index_parse(data, size, "fuzz.index", &ix, &err) == 0) elmo_tf_index_free(&ix);
    return 0;
}
