/* mnrun.c: see mnrun.h. */
#include "tests/lib/mnrun.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, n;
	char tmp[8192];

	if (f == NULL)
		return calloc(1, 1);
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0) {
		char *p = realloc(buf, len + n + 1);
		if (p == NULL)
			break;
		buf = p;
		memcpy(buf + len, tmp, n);
		len += n;
	}
	fclose(f);
	if (buf == NULL)
		return calloc(1, 1);
	buf[len] = '\0';
	return buf;
}

int mnrun_mnctl(const char *dir, const char *const *args, char **out, char **err)
{
	const char *build = getenv("MN_BUILD");
	char bin[512], op[512], ep[512];
	const char *argv[64];
	int argc = 0, status;
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s/mnctl", build ? build : "build");
	snprintf(op, sizeof(op), "%s/mnctl.out", dir);
	snprintf(ep, sizeof(ep), "%s/mnctl.err", dir);
	argv[argc++] = bin;
	for (size_t i = 0; args[i] != NULL && argc < 61; i++)
		argv[argc++] = args[i];
	argv[argc] = NULL;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int o = open(op, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(ep, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (o < 0 || e < 0)
			_exit(127);
		dup2(o, 1);
		dup2(e, 2);
		unsetenv("MN_LOG");
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (out != NULL)
		*out = slurp(op);
	if (err != NULL)
		*err = slurp(ep);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int mnrun_mnctl_pre(const char *dir, const char *const *pre, const char *const *args,
		    char **out, char **err)
{
	const char *argv[61];
	size_t n = 0;

	for (size_t i = 0; pre[i] != NULL && n < 60; i++)
		argv[n++] = pre[i];
	for (size_t i = 0; args[i] != NULL && n < 60; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return mnrun_mnctl(dir, argv, out, err);
}

int mnrun_expect(int line, int got, const char *out, const char *err, int rc,
		 const char *needle, enum mnrun_where where)
{
	const char *in = where == MNRUN_STDOUT_OK && rc == 0 ? out : err;

	if (got == rc && (needle == NULL || (in != NULL && strstr(in, needle) != NULL)))
		return 1;
	fprintf(stderr, "line %d: mnctl exit %d (want %d%s%s)\nstdout: %s\nstderr: %s\n", line,
		got, rc, needle == NULL ? "" : where == MNRUN_STDOUT_OK ? ", saying " :
		", stderr with ", needle ? needle : "", out ? out : "", err ? err : "");
	return 0;
}
