/* file_read.h - reading model files so that a hostile or changing file cannot hurt the
 * process: only regular files are read (checked with fstat on the opened descriptor, which
 * is opened without blocking, so a FIFO cannot stall the loader); bytes are read into
 * memory once, never mapped (a mapped file truncated by someone else kills the process
 * with SIGBUS); a read that comes up short says where the file ended; and every read
 * checks that the file still has the size and times it had when it was opened, so a file
 * rewritten during a load is an error, not a mix of two files. */
#ifndef ELMO_CORE_FILE_READ_H
#define ELMO_CORE_FILE_READ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "elmo.h"

typedef struct elmo_file {
    int fd;           /* -1 when not open */
    const char *path; /* for messages: must outlive the elmo_file */
    const char *what; /* what the file is, for messages: "weights file", ... */
    uint64_t size;    /* bytes when opened */
    struct stat st;   /* at open: what a change is measured against */
} elmo_file;

/* Opens `path` read-only, without blocking, and refuses anything but a regular file
 * ("options file 'x' is a FIFO, not a regular file"). On failure f->fd is -1. */
int elmo_file_open(elmo_file *f, const char *path, const char *what, elmo_error *err);

/* Reads exactly n bytes at `offset` into buf, then checks that the file is unchanged.
 * A file that ends early is an error naming the bytes asked for and where it ended. */
int elmo_file_read(elmo_file *f, uint64_t offset, void *buf, size_t n, elmo_error *err);

/* ELMO_OK when the file has the size, modification and change times it had at open. */
int elmo_file_unchanged(const elmo_file *f, elmo_error *err);

void elmo_file_close(elmo_file *f);

/* What a non-regular file is, for messages: "a directory", "a FIFO", ... */
const char *elmo_file_kind(mode_t mode);

#endif
