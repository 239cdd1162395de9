/* file_read.c - see file_read.h. */
#include "file_read.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "error.h"

const char *elmo_file_kind(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
    if (S_ISSOCK(mode)) return "a socket";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    return "not a regular file";
}

int elmo_file_open(elmo_file *f, const char *path, const char *what, elmo_error *err) {
    char why[128];
    *f = (elmo_file){.fd = -1, .path = path, .what = what};
    /* O_NONBLOCK: opening a FIFO would otherwise wait for a writer, forever. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return elmo_fail(err, ELMO_ERR_IO, "cannot open %s '%s': %s", what, path,
                         elmo_errno_text(errno, why, sizeof why));
    if (fstat(fd, &f->st) != 0) {
        int e = errno;
        close(fd);
        return elmo_fail(err, ELMO_ERR_IO, "cannot open %s '%s': %s", what, path,
                         elmo_errno_text(e, why, sizeof why));
    }
    if (!S_ISREG(f->st.st_mode)) {
        close(fd);
        return elmo_fail(err, ELMO_ERR_IO,
                         "%s '%s' is %s, not a regular file; a model is read from regular "
                         "files only",
                         what, path, elmo_file_kind(f->st.st_mode));
    }
    /* Reads of a regular file never block; the flag is cleared anyway for clarity. */
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) (void)fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    f->fd = fd;
    f->size = (uint64_t)f->st.st_size;
    return ELMO_OK;
}

static int same_time(struct timespec a, struct timespec b) {
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

int elmo_file_unchanged(const elmo_file *f, elmo_error *err) {
    struct stat now;
    char why[128];
    if (fstat(f->fd, &now) != 0)
        return elmo_fail(err, ELMO_ERR_IO, "cannot check %s '%s': %s", f->what, f->path,
                         elmo_errno_text(errno, why, sizeof why));
    if ((uint64_t)now.st_size != f->size)
        return elmo_fail(err, ELMO_ERR_IO,
                         "%s '%s' changed while it was being read (%llu bytes when opened, "
                         "%llu now); load it again once it is complete",
                         f->what, f->path, (unsigned long long)f->size,
                         (unsigned long long)now.st_size);
    if (!same_time(now.st_mtim, f->st.st_mtim) || !same_time(now.st_ctim, f->st.st_ctim))
        return elmo_fail(err, ELMO_ERR_IO,
                         "%s '%s' changed while it was being read (it was modified after it "
                         "was opened); load it again once it is complete",
                         f->what, f->path);
    return ELMO_OK;
}

int elmo_file_read(elmo_file *f, uint64_t offset, void *buf, size_t n, elmo_error *err) {
    char why[128];
    size_t got = 0;
    while (got < n) {
        size_t want = n - got < ((size_t)1 << 30) ? n - got : (size_t)1 << 30;
        ssize_t r = pread(f->fd, (char *)buf + got, want, (off_t)(offset + got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0)
            return elmo_fail(err, ELMO_ERR_IO, "cannot read %s '%s' at byte %llu: %s", f->what,
                             f->path, (unsigned long long)(offset + got),
                             elmo_errno_text(errno, why, sizeof why));
        if (r == 0)
            return elmo_fail(err, ELMO_ERR_IO,
                             "%s '%s' ends at byte %llu, inside bytes %llu..%llu being read "
                             "(it had %llu bytes when opened): it was truncated or is being "
                             "rewritten; load it again once it is complete",
                             f->what, f->path, (unsigned long long)(offset + got),
                             (unsigned long long)offset, (unsigned long long)(offset + n),
                             (unsigned long long)f->size);
        got += (size_t)r;
    }
    return elmo_file_unchanged(f, err);
}

void elmo_file_close(elmo_file *f) {
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
}
