/* promcheck.c: see promcheck.h. */
#include "tests/lib/promcheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int promcheck_q(const char *text, size_t len, int quiet)
{
	char path[] = "/tmp/mn-prom-XXXXXX", cmd[128], out[8192];
	FILE *f;
	size_t n = 0, r;
	int fd = mkstemp(path), st;

	if (fd < 0)
		return -1;
	if (write(fd, text, len) != (ssize_t)len) {
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
	f = popen(cmd, "r");
	if (f == NULL) {
		unlink(path);
		return -1;
	}
	while (n < sizeof(out) - 1 && (r = fread(out + n, 1, sizeof(out) - 1 - n, f)) > 0)
		n += r;
	out[n] = '\0';
	st = pclose(f);
	unlink(path);
	if (st != 0 || n != 0) {
		if (!quiet)
			fprintf(stderr, "promtool check metrics: status %d:\n%s\n", st, out);
		return -1;
	}
	return 0;
}

int promcheck(const char *text, size_t len)
{
	return promcheck_q(text, len, 0);
}

