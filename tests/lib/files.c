/* files.c: see files.h. */
#include "tests/lib/files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *tf_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0, r;

	if (f == NULL)
		return NULL;
	for (;;) {
		if (cap - n < 65536) {
			char *p = realloc(buf, cap + 65536 + 1);
			if (p == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = p;
			cap += 65536;
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
}

static char *read_or_empty(const char *path)
{
	char *s = tf_read(path, NULL);

	if (s == NULL) {
		fprintf(stderr, "tf_run: cannot read %s\n", path);
		s = strdup("");
		if (s == NULL)
			abort();
	}
	return s;
}

int tf_run(const char *dir, const char *cwd, const char *cmd, char **out, char **err)
{
	size_t cap = strlen(cmd) + 2 * strlen(dir) + (cwd != NULL ? strlen(cwd) : 0) + 64;
	char *line = malloc(cap), po[512], pe[512];
	int rc;

	if (line == NULL)
		abort();
	snprintf(po, sizeof(po), "%s/out", dir);
	snprintf(pe, sizeof(pe), "%s/err", dir);
	if (cwd != NULL)
		snprintf(line, cap, "cd %s && %s >%s 2>%s", cwd, cmd, po, pe);
	else
		snprintf(line, cap, "%s >%s 2>%s", cmd, po, pe);
	rc = system(line);
	free(line);
	*out = read_or_empty(po);
	*err = read_or_empty(pe);
	return rc;
}
