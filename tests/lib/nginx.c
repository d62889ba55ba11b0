/* nginx.c: see nginx.h. */
#include "tests/lib/nginx.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 10000

static uint16_t free_port(void)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t port = 0;

	if (fd < 0)
		return 0;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static int accepts(uint16_t port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

	if (fd < 0)
		return 0;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* wait_exit waits up to |ms| for |pid| to exit (a pidfd, so no polling loop
 * where the kernel supports it). Returns 1 and fills *st, or 0 on timeout. */
static int wait_exit(pid_t pid, int ms, int *st)
{
	long end = now_ms() + ms;
#ifdef SYS_pidfd_open
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd >= 0) {
		struct pollfd p = {.fd = pfd, .events = POLLIN};
		int r;
		do
			r = poll(&p, 1, (int)(end - now_ms() > 0 ? end - now_ms() : 0));
		while (r < 0 && errno == EINTR);
		close(pfd);
		if (r <= 0)
			return 0;
		while (waitpid(pid, st, 0) < 0 && errno == EINTR)
			;
		return 1;
	}
#endif
	for (;;) {
		struct timespec tick = {0, 10 * 1000 * 1000};
		pid_t r = waitpid(pid, st, WNOHANG);
		if (r == pid)
			return 1;
		if (now_ms() > end)
			return 0;
		nanosleep(&tick, NULL);
	}
}

static void dump_file(const char *path)
{
	char line[512];
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		fprintf(stderr, "nginx: %s", line);
	fclose(f);
}

/* The watchdog: nginx's workers and cache processes are the master's
 * children, and PR_SET_PDEATHSIG does not pass to them, so a test that dies
 * (or a master killed by PR_SET_PDEATHSIG) would leave them running. A forked
 * child of the test waits on a pipe only the test can write; when it reads
 * end of file (nginx_stop closed it, or the test died however it died) it
 * kills nginx's whole process group. */
static int start_watchdog(struct nginx_proc *n)
{
	int fds[2];
	pid_t pgid = n->pid;

	if (pipe2(fds, O_CLOEXEC) != 0)
		return -1;
	n->watchdog = fork();
	if (n->watchdog < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (n->watchdog == 0) {
		char c;
		close(fds[1]);
		while (read(fds[0], &c, 1) < 0 && errno == EINTR)
			;
		kill(-pgid, SIGKILL);
		_exit(0);
	}
	close(fds[0]);
	n->watchdog_fd = fds[1];
	return 0;
}

static void stop_watchdog(struct nginx_proc *n)
{
	int st;

	if (n->watchdog <= 0)
		return;
	close(n->watchdog_fd);
	while (waitpid(n->watchdog, &st, 0) < 0 && errno == EINTR)
		;
	n->watchdog = 0;
	n->watchdog_fd = -1;
}

static int write_conf(const struct nginx_proc *n, const char *snippet, uint16_t upstream)
{
	char path[320];
	FILE *f;
	const char *p = n->prefix;

	snprintf(path, sizeof(path), "%s/nginx.conf", p);
	f = fopen(path, "w");
	if (f == NULL)
		return -1;
	fprintf(f, "# written by tests/lib/nginx.c\n"
		"daemon off;\nmaster_process on;\nworker_processes 1;\n"
		"pid %s/nginx.pid;\nerror_log %s/error.log info;\n", p, p);
	/* workers run as the test's user; as root they must stay root to write
	 * the cache inside the test's private (0700) directory */
	if (geteuid() == 0)
		fprintf(f, "user root root;\n");
	fprintf(f, "events { worker_connections 128; }\n"
		"http {\n"
		"  log_format cache '$upstream_cache_status $status $request_uri';\n"
		"  access_log %s/access.log cache;\n"
		"  client_body_temp_path %s/body;\n  proxy_temp_path %s/proxy;\n"
		"  fastcgi_temp_path %s/fastcgi;\n  uwsgi_temp_path %s/uwsgi;\n"
		"  scgi_temp_path %s/scgi;\n"
		"  proxy_cache_path %s/cache levels=1:2 keys_zone=logd_tiles:1m "
		"inactive=7d use_temp_path=off;\n"
		"  upstream logd { server 127.0.0.1:%u; keepalive 8; }\n"
		"  server {\n    listen 127.0.0.1:%u;\n"
		"    location / { include %s; }\n  }\n}\n",
		p, p, p, p, p, p, p, upstream, n->port, snippet);
	return fclose(f) == 0 ? 0 : -1;
}

static int start_once(struct nginx_proc *n, const char *bin, const char *snippet,
		      uint16_t upstream)
{
	char conf[320], errlog[320], out[320];
	pid_t parent = getpid();
	long end;
	int st;

	n->port = free_port();
	if (n->port == 0 || write_conf(n, snippet, upstream) != 0)
		return -1;
	snprintf(conf, sizeof(conf), "%s/nginx.conf", n->prefix);
	snprintf(errlog, sizeof(errlog), "%s/error.log", n->prefix);
	snprintf(out, sizeof(out), "%s/stderr.log", n->prefix);
	n->pid = fork();
	if (n->pid < 0)
		return -1;
	if (n->pid == 0) {
		const char *argv[] = {bin, "-p", n->prefix, "-e", errlog, "-c", conf, NULL};
		int null = open("/dev/null", O_RDWR), o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		/* its own process group, which the watchdog kills; nothing of the
		 * test's stdio, so no nginx process can hold a pipe open */
		if (null < 0 || o < 0 || setpgid(0, 0) != 0 || dup2(null, 0) < 0 ||
		    dup2(o, 1) < 0 || dup2(o, 2) < 0 ||
		    prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
			_exit(127);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	setpgid(n->pid, n->pid); /* also here: no race with the watchdog's kill */
	if (start_watchdog(n) != 0) {
		kill(n->pid, SIGKILL);
		waitpid(n->pid, &st, 0);
		n->pid = 0;
		return -1;
	}
	end = now_ms() + START_TIMEOUT_MS;
	while (!accepts(n->port)) {
		struct timespec tick = {0, 10 * 1000 * 1000};
		if (waitpid(n->pid, &st, WNOHANG) == n->pid || now_ms() > end) {
			if (n->pid > 0 && now_ms() > end) {
				kill(n->pid, SIGKILL);
				waitpid(n->pid, &st, 0);
			}
			n->pid = 0;
			stop_watchdog(n);
			dump_file(errlog);
			dump_file(out);
			return -1;
		}
		nanosleep(&tick, NULL);
	}
	return 0;
}

int nginx_start(struct nginx_proc *n, const char *dir, uint16_t upstream_port)
{
	const char *bin = getenv("MN_NGINX"), *src = getenv("MN_SRC");
	char rel[300], snippet[PATH_MAX];

	memset(n, 0, sizeof(*n));
	if (bin == NULL)
		bin = "/usr/sbin/nginx";
	snprintf(rel, sizeof(rel), "%s/contrib/nginx-logd.conf", src != NULL ? src : ".");
	if (access(bin, X_OK) != 0) {
		fprintf(stderr, "nginx: %s is missing (scripts/deps.sh installs it)\n", bin);
		return -1;
	}
	if (realpath(rel, snippet) == NULL) {
		fprintf(stderr, "nginx: cannot find %s\n", rel);
		return -1;
	}
	snprintf(n->prefix, sizeof(n->prefix), "%s/nginx", dir);
	if (mkdir(n->prefix, 0700) != 0 && errno != EEXIST)
		return -1;
	/* the free port may be taken between probing and nginx's bind: retry */
	for (int i = 0; i < 3; i++)
		if (start_once(n, bin, snippet, upstream_port) == 0)
			return 0;
	return -1;
}

int nginx_stop(struct nginx_proc *n)
{
	int st = 0;

	if (n->pid <= 0)
		return -1;
	kill(n->pid, SIGQUIT);
	if (!wait_exit(n->pid, STOP_TIMEOUT_MS, &st)) {
		kill(n->pid, SIGKILL);
		while (waitpid(n->pid, &st, 0) < 0 && errno == EINTR)
			;
	}
	n->pid = 0;
	stop_watchdog(n); /* and with it any process nginx left behind */
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

const char *nginx_cache_status(const char *headers, char out[16])
{
	static const char name[] = "\nX-Cache-Status:";
	const char *h = headers;
	size_t n = 0;

	out[0] = '\0';
	for (; (h = strchr(h, '\n')) != NULL; h++) {
		if (strncasecmp(h, name, sizeof(name) - 1) != 0)
			continue;
		h += sizeof(name) - 1;
		while (*h == ' ')
			h++;
		while (n < 15 && h[n] != '\r' && h[n] != '\n' && h[n] != '\0') {
			out[n] = h[n];
			n++;
		}
		out[n] = '\0';
		break;
	}
	return out;
}
