/* s3srv.c: see s3srv.h. */
#include "tests/lib/s3srv.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int s3srv_start(struct s3srv *s, const char *dir, const char *bucket, uint16_t port)
{
	int fd[2];
	char line[128], portarg[16];
	FILE *f;
	unsigned p = 0;
	pid_t pid;

	memset(s, 0, sizeof(*s));
	if (access("tests/node/node_modules/@20minutes/s3rver/package.json", R_OK) != 0) {
		fprintf(stderr, "s3srv: tests/node/node_modules is not installed (scripts/npm.sh)\n");
		return -1;
	}
	if (pipe(fd) != 0)
		return -1;
	snprintf(portarg, sizeof(portarg), "%u", port);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		execlp("node", "node", "tests/node/s3srv.js", dir, bucket, portarg, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	f = fdopen(fd[0], "r");
	if (f == NULL || fgets(line, sizeof(line), f) == NULL ||
	    sscanf(line, "listening %u", &p) != 1 || p == 0 || p > 65535) {
		fprintf(stderr, "s3srv: the server did not start\n");
		if (f != NULL)
			fclose(f);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	fclose(f);
	s->pid = pid;
	s->port = (uint16_t)p;
	return 0;
}

void s3srv_stop(struct s3srv *s)
{
	if (s->pid <= 0)
		return;
	kill(s->pid, SIGTERM);
	waitpid(s->pid, NULL, 0);
	s->pid = 0;
}
