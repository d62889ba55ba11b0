/* files.h: small file and command helpers the tests share. */
#ifndef MN_TESTS_FILES_H
#define MN_TESTS_FILES_H

#include <stddef.h>

/* tf_read returns the whole file at |path|, malloc'd and NUL-terminated (the
 * NUL not counted), its length in *len when |len| is not NULL; NULL if it
 * cannot be opened or read. */
char *tf_read(const char *path, size_t *len);

/* tf_run runs the shell command |cmd| (in |cwd| when it is not NULL) with its
 * stdout and stderr into the files |dir|/out and |dir|/err, and returns
 * system()'s status with both outputs (malloc'd, never NULL: an output that
 * cannot be read is an empty string and a line on stderr). */
int tf_run(const char *dir, const char *cwd, const char *cmd, char **out, char **err);

#endif
