/* witproc.c: see witproc.h. */
#include "tests/lib/witproc.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/lib/proc.h"

static int spawn(struct witproc *w)
{
	const char *build = getenv("MN_BUILD");
	char bin[512], listen[64], state[300], key[300], err[300], line[512];
	const char *argv[32];
	int fd, n = 0;
	char *colon;

	snprintf(bin, sizeof(bin), "%s/mnctl", build != NULL ? build : "build");
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", (unsigned)w->port);
	snprintf(state, sizeof(state), "%s/state", w->dir);
	snprintf(key, sizeof(key), "%s/key.pem", w->dir);
	snprintf(err, sizeof(err), "%s/stderr", w->dir);
	for (size_t i = 0; w->o.prefix != NULL && w->o.prefix[i] != NULL && n < 8; i++)
		argv[n++] = w->o.prefix[i];
	argv[n++] = bin;
	if (w->o.timeout_s != NULL) {
		argv[n++] = "--timeout";
		argv[n++] = w->o.timeout_s;
	}
	argv[n++] = "witness";
	argv[n++] = "serve";
	argv[n++] = "--listen";
	argv[n++] = listen;
	argv[n++] = "--state";
	argv[n++] = state;
	argv[n++] = "--key";
	argv[n++] = key;
	argv[n++] = "--logs";
	argv[n++] = w->logs;
	argv[n++] = "--name";
	argv[n++] = w->name;
	argv[n] = NULL;
	w->pid = proc_spawn(argv, w->o.inherit_stderr ? NULL : err, &fd);
	if (w->pid < 0) {
		w->pid = 0;
		return -1;
	}
	if (proc_read_line(fd, w->vkey, sizeof(w->vkey)) != 0 ||
	    proc_read_line(fd, line, sizeof(line)) != 0 ||
	    strncmp(line, "witness listening on 127.0.0.1:", 31) != 0 ||
	    (colon = strrchr(line, ':')) == NULL) {
		close(fd);
		witproc_stop(w, SIGKILL);
		return -1;
	}
	close(fd);
	w->port = (uint16_t)strtoul(colon + 1, NULL, 10);
	return 0;
}

int witproc_start(struct witproc *w, const char *dir, const char *name, const char *logs,
		  const struct witproc_opts *o)
{
	memset(w, 0, sizeof(*w));
	snprintf(w->dir, sizeof(w->dir), "%s", dir);
	snprintf(w->name, sizeof(w->name), "%s", name);
	snprintf(w->logs, sizeof(w->logs), "%s", logs);
	if (o != NULL)
		w->o = *o;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return -1;
	return spawn(w);
}

int witproc_restart(struct witproc *w)
{
	if (w->pid != 0)
		return -1;
	return spawn(w);
}

int witproc_stop(struct witproc *w, int sig)
{
	return proc_stop(&w->pid, sig);
}

int witproc_policy(const char *path, const char *log_vkey, const struct witproc *ws, size_t n,
		   unsigned k)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	if (log_vkey != NULL)
		fprintf(f, "log %s\n", log_vkey);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "witness w%zu %s http://127.0.0.1:%u\n", i + 1, ws[i].vkey,
			(unsigned)ws[i].port);
	fprintf(f, "group all %u", k);
	for (size_t i = 0; i < n; i++)
		fprintf(f, " w%zu", i + 1);
	fprintf(f, "\nquorum all\n");
	return fclose(f) == 0 ? 0 : -1;
}

int witproc_logs(const char *path, const char *log_vkey)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fprintf(f, "log %s\n", log_vkey);
	return fclose(f) == 0 ? 0 : -1;
}
