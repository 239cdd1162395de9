/* crc32c.h - CRC-32C (Castagnoli), as TensorFlow checkpoints and LevelDB tables store it. */
#ifndef ELMO_CORE_CRC32C_H
#define ELMO_CORE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends `crc` (0 to start) over n bytes. elmo_crc32c(0, "123456789", 9) == 0xE3069283. */
uint32_t elmo_crc32c(uint32_t crc, const void *data, size_t n);

/* The stored ("masked") form: rotated right by 15 bits plus a constant, so that a CRC of
 * data that itself holds CRCs does not degenerate. */
uint32_t elmo_crc32c_mask(uint32_t crc);

#endif
