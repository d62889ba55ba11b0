/* witproc.c: see witproc.h. */
#include "tests/lib/witproc.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
