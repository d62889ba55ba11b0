/* file.h: writing a whole buffer to a file descriptor, for the code that
 * replaces files durably (write, fsync, rename). No allocation; the caller owns
 * |fd|. */
#ifndef MN_COMMON_FILE_H
#define MN_COMMON_FILE_H

#include <stddef.h>

/* mn_write_all writes the |len| bytes of |data| to |fd|, going on after short
 * writes and EINTR. 0, or -1 with errno set (EIO when write wrote nothing). */
int mn_write_all(int fd, const void *data, size_t len);

/* mn_write_sync is mn_write_all then fsync(|fd|): 0 once the bytes are on
 * disk, or -1 with errno set. */
int mn_write_sync(int fd, const void *data, size_t len);

#endif
