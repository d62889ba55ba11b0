/* witproc.c: see witproc.h. */
#include "tests/lib/witproc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int witness_proc_start(struct witness_proc *p, const char *state, const char *key,
		       const char *logs, const char *name, const char *timeout_s,
		       const char *log, const char *const *prefix)
{
	const char *build = getenv("MN_BUILD");
	char bin[256], line[600];
	const char *argv[32];
	int pfd[2], n = 0;
	unsigned port;
	FILE *f;

	memset(p, 0, sizeof(*p));
	snprintf(bin, sizeof(bin), "%s/mnctl", build ? build : "build");
	for (size_t i = 0; prefix != NULL && prefix[i] != NULL && n < 8; i++)
		argv[n++] = prefix[i];
	argv[n++] = bin;
	if (timeout_s != NULL) {
		argv[n++] = "--timeout";
		argv[n++] = timeout_s;
	}
	argv[n++] = "witness";
	argv[n++] = "serve";
	argv[n++] = "--listen";
	argv[n++] = "127.0.0.1:0";
	argv[n++] = "--state";
	argv[n++] = state;
	argv[n++] = "--key";
	argv[n++] = key;
	argv[n++] = "--logs";
	argv[n++] = logs;
	argv[n++] = "--name";
	argv[n++] = name;
	argv[n] = NULL;
	if (pipe(pfd) != 0)
		return -1;
	p->pid = fork();
	if (p->pid < 0)
		return -1;
	if (p->pid == 0) {
		dup2(pfd[1], 1);
		if (log != NULL) {
			int e = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
			if (e >= 0)
				dup2(e, 2);
		}
		close(pfd[0]);
		close(pfd[1]);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	f = fdopen(pfd[0], "r");
	if (f == NULL || fgets(line, sizeof(line), f) == NULL || strchr(line, '\n') == NULL) {
		if (f != NULL)
			fclose(f);
		witness_proc_stop(p, SIGKILL);
		return -1;
	}
	*strchr(line, '\n') = '\0';
	snprintf(p->vkey, sizeof(p->vkey), "%s", line);
	if (fgets(line, sizeof(line), f) == NULL ||
	    sscanf(line, "witness listening on 127.0.0.1:%u", &port) != 1 || port > 65535) {
		fclose(f);
		witness_proc_stop(p, SIGKILL);
		return -1;
	}
	fclose(f);
	p->port = (uint16_t)port;
	return 0;
}

int witness_proc_stop(struct witness_proc *p, int sig)
{
	int st;

	if (p->pid <= 0)
		return -1;
	kill(p->pid, sig);
	if (waitpid(p->pid, &st, 0) != p->pid)
		return -1;
	p->pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* --- witproc: a witness with its own directory, restartable --------------- */

static int read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r <= 0)
			return -1;
		if (c == '\n')
			break;
		buf[n++] = c;
	}
	buf[n] = '\0';
	return 0;
}

static int spawn(struct witproc *w)
{
	const char *build = getenv("MN_BUILD");
	char bin[512], listen[64], state[300], key[300], err[300], line[512];
	const char *argv[16];
	int fds[2], n = 0, efd;
	pid_t parent = getpid();
	char *colon;

	snprintf(bin, sizeof(bin), "%s/mnctl", build != NULL ? build : "build");
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", (unsigned)w->port);
	snprintf(state, sizeof(state), "%s/state", w->dir);
	snprintf(key, sizeof(key), "%s/key.pem", w->dir);
	snprintf(err, sizeof(err), "%s/stderr", w->dir);
	argv[n++] = bin;
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
	efd = open(err, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (efd < 0 || pipe(fds) != 0) {
		if (efd >= 0)
			close(efd);
		return -1;
	}
	w->pid = fork();
	if (w->pid < 0) {
		w->pid = 0;
		close(efd);
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (w->pid == 0) {
		/* dies with the test */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
			_exit(127);
		dup2(fds[1], 1);
		dup2(efd, 2);
		close(fds[0]);
		close(fds[1]);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	close(efd);
	close(fds[1]);
	if (read_line(fds[0], w->vkey, sizeof(w->vkey)) != 0 ||
	    read_line(fds[0], line, sizeof(line)) != 0 ||
	    strncmp(line, "witness listening on 127.0.0.1:", 31) != 0 ||
	    (colon = strrchr(line, ':')) == NULL) {
		close(fds[0]);
		witproc_stop(w, SIGKILL);
		return -1;
	}
	close(fds[0]);
	w->port = (uint16_t)strtoul(colon + 1, NULL, 10);
	return 0;
}

int witproc_start(struct witproc *w, const char *dir, const char *name, const char *logs,
		  uint16_t port)
{
	memset(w, 0, sizeof(*w));
	snprintf(w->dir, sizeof(w->dir), "%s", dir);
	snprintf(w->name, sizeof(w->name), "%s", name);
	snprintf(w->logs, sizeof(w->logs), "%s", logs);
	w->port = port;
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
	int st;

	if (w->pid <= 0)
		return -1;
	kill(w->pid, sig);
	while (waitpid(w->pid, &st, 0) < 0 && errno == EINTR)
		;
	w->pid = 0;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
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
