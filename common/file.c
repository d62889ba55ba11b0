/* file.c: see file.h. */
#include "common/file.h"

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

int mn_write_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t off = 0;

	while (off < len) {
		ssize_t n = write(fd, p + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		off += (size_t)n;
	}
	return 0;
}

int mn_write_sync(int fd, const void *data, size_t len)
{
	if (mn_write_all(fd, data, len) != 0)
		return -1;
	return fsync(fd) == 0 ? 0 : -1;
}
