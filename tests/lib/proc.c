/* proc.c: see proc.h. */
#include "tests/lib/proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/b64.h"
#include "merkle/merkle.h"

int proc_read_line(int fd, char *buf, size_t cap)
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

pid_t proc_spawn(const char *const *argv, const char *errfile, int *out_fd)
{
	pid_t parent = getpid(), pid;
	int fds[2], efd = -1;

	if (errfile != NULL &&
	    (efd = open(errfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0)
		return -1;
	if (pipe(fds) != 0) {
		if (efd >= 0)
			close(efd);
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		if (efd >= 0)
			close(efd);
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		/* a test that dies (an assertion, a sanitizer abort) takes its
		 * child with it instead of leaving it running */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
			_exit(127);
		dup2(fds[1], 1);
		if (efd >= 0)
			dup2(efd, 2);
		close(fds[0]);
		close(fds[1]);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (efd >= 0)
		close(efd);
	close(fds[1]);
	*out_fd = fds[0];
	return pid;
}

int proc_stop(pid_t *pid, int sig)
{
	int st;

	if (*pid <= 0)
		return -1;
	kill(*pid, sig);
	while (waitpid(*pid, &st, 0) < 0) {
		if (errno != EINTR) {
			*pid = 0;
			return -1;
		}
	}
	*pid = 0;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

int logd_start(struct logd_proc *p, const char *const *args)
{
	const char *build = getenv("MN_BUILD");
	char bin[512], line[512];
	const char *argv[64];
	int fd, n = 0;
	char *k, *e;
	uint8_t *spki;
	size_t spki_len;

	memset(p, 0, sizeof(*p));
	snprintf(bin, sizeof(bin), "%s/logd", build ? build : "build");
	argv[n++] = bin;
	argv[n++] = "--listen";
	argv[n++] = "127.0.0.1:0";
	for (int i = 0; args != NULL && args[i] != NULL && n < 62; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	p->pid = proc_spawn(argv, NULL, &fd);
	if (p->pid < 0) {
		p->pid = 0;
		return -1;
	}
	if (proc_read_line(fd, p->log_line, sizeof(p->log_line)) != 0 ||
	    proc_read_line(fd, line, sizeof(line)) != 0) {
		close(fd);
		logd_stop(p, SIGKILL);
		return -1;
	}
	close(fd);
	e = strrchr(line, ':');
	if (strncmp(line, "listening on http://127.0.0.1:", 30) != 0 || e == NULL)
		return -1;
	p->port = (uint16_t)strtoul(e + 1, NULL, 10);
	k = strstr(p->log_line, "\"key\":\"");
	if (k == NULL)
		return -1;
	k += 7;
	e = strchr(k, '"');
	if (e == NULL || mn_b64_decode(&spki, &spki_len, k, (size_t)(e - k), sizeof(p->spki)) != 0)
		return -1;
	memcpy(p->spki, spki, spki_len);
	p->spki_len = spki_len;
	free(spki);
	{
		struct merkle_hasher *h = merkle_hasher_new();
		merkle_sha256(h, p->log_id, p->spki, p->spki_len);
		merkle_hasher_free(h);
	}
	return 0;
}

int logd_write_spki(const struct logd_proc *p, const char *path)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (f == NULL)
		return -1;
	ok = fwrite(p->spki, 1, p->spki_len, f) == p->spki_len;
	return fclose(f) == 0 && ok ? 0 : -1;
}

int logd_stop(struct logd_proc *p, int sig)
{
	return proc_stop(&p->pid, sig);
}

static int connect_port(uint16_t port)
{
	struct sockaddr_in a;
	struct timeval tv = {10, 0};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

long http_raw(uint16_t port, const void *req, size_t req_len, char **out)
{
	int fd = connect_port(port);
	size_t cap = 4096, len = 0;
	char *buf;

	*out = NULL;
	if (fd < 0)
		return -1;
	if (req_len > 0 && write_all(fd, req, req_len) != 0) {
		/* the server may answer and close before reading it all */
	}
	buf = malloc(cap + 1);
	for (;;) {
		ssize_t n;
		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
		}
		n = read(fd, buf + len, cap - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	*out = buf;
	return (long)len;
}

int http_do(uint16_t port, const char *method, const char *target,
	    const char *extra_headers, const void *body, size_t body_len,
	    struct http_resp *out)
{
	char head[8192];
	char *raw = NULL, *sep;
	long n;
	int hl;
	char *req;

	memset(out, 0, sizeof(*out));
	hl = snprintf(head, sizeof(head),
		      "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s"
		      "Content-Length: %zu\r\n\r\n",
		      method, target, extra_headers ? extra_headers : "", body_len);
	if (hl < 0 || (size_t)hl >= sizeof(head))
		return -1;
	req = malloc((size_t)hl + body_len);
	memcpy(req, head, (size_t)hl);
	if (body_len > 0)
		memcpy(req + hl, body, body_len);
	n = http_raw(port, req, (size_t)hl + body_len, &raw);
	free(req);
	if (n <= 0) {
		free(raw);
		return -1;
	}
	if (sscanf(raw, "HTTP/1.1 %d", &out->status) != 1 ||
	    (sep = strstr(raw, "\r\n\r\n")) == NULL) {
		free(raw);
		return -1;
	}
	snprintf(out->headers, sizeof(out->headers), "%.*s", (int)(sep - raw), raw);
	out->body_len = (size_t)(raw + n - (sep + 4));
	out->body = malloc(out->body_len + 1);
	memcpy(out->body, sep + 4, out->body_len);
	out->body[out->body_len] = 0;
	free(raw);
	return 0;
}

int http_status(uint16_t port, const char *method, const char *target,
		const char *extra_headers, const void *body, size_t body_len)
{
	struct http_resp r;
	int st;

	if (http_do(port, method, target, extra_headers, body, body_len, &r) != 0)
		return -1;
	st = r.status;
	http_resp_free(&r);
	return st;
}

void http_resp_free(struct http_resp *r)
{
	free(r->body);
	r->body = NULL;
}
