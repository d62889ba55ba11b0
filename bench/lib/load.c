/* load.c: see load.h. */
#include "bench/lib/load.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/b64.h"
#include "common/clock.h"
#include "tests/lib/proc.h"

#define MAX_CHILDREN 8

static const char *bench_name = "bench";
static volatile pid_t children[MAX_CHILDREN];
static void (*volatile at_signal)(void);

void load_kill_children(void)
{
	for (size_t i = 0; i < MAX_CHILDREN; i++)
		if (children[i] > 0) {
			kill(children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
			children[i] = 0;
		}
}

void load_track(pid_t pid)
{
	for (size_t i = 0; i < MAX_CHILDREN; i++)
		if (children[i] <= 0) {
			children[i] = pid;
			return;
		}
	kill(pid, SIGKILL); /* cannot be tracked: never leave it running */
	load_die("too many children");
}

void load_untrack(pid_t pid)
{
	for (size_t i = 0; i < MAX_CHILDREN; i++)
		if (children[i] == pid)
			children[i] = 0;
}

static void on_fatal_signal(int sig)
{
	static const char msg[] = ": stopped by a signal (watchdog?)\n";

	for (size_t i = 0; i < MAX_CHILDREN; i++)
		if (children[i] > 0)
			kill(children[i], SIGKILL);
	if (at_signal != NULL)
		at_signal();
	if (write(2, bench_name, strlen(bench_name)) < 0 ||
	    write(2, msg, sizeof(msg) - 1) < 0)
		_exit(128 + sig);
	_exit(128 + sig);
}

void load_init(const char *name, unsigned watchdog_s)
{
	bench_name = name;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_fatal_signal);
	signal(SIGTERM, on_fatal_signal);
	signal(SIGALRM, on_fatal_signal);
	if (watchdog_s > 0)
		alarm(watchdog_s);
	atexit(load_kill_children);
}

const char *load_name(void)
{
	return bench_name;
}

void load_at_signal(void (*fn)(void))
{
	at_signal = fn;
}

void load_die(const char *what)
{
	fprintf(stderr, "%s: %s\n", bench_name, what);
	exit(1); /* atexit kills the children */
}

pid_t load_spawn(char *const *argv, int *out_fd, int quiet)
{
	int fds[2];
	pid_t pid;

	if (pipe(fds) != 0)
		load_die("pipe failed");
	pid = fork();
	if (pid < 0)
		load_die("fork failed");
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);

		if (in >= 0)
			dup2(in, 0);
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		if (quiet) {
			int null = open("/dev/null", O_WRONLY);

			if (null >= 0)
				dup2(null, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	load_track(pid);
	*out_fd = fds[0];
	return pid;
}

char *load_read_all(int fd, size_t cap)
{
	char *out = malloc(cap + 1), sink[4096];
	size_t len = 0;
	ssize_t k;

	if (out == NULL)
		load_die("out of memory");
	for (;;) {
		if (len < cap)
			k = read(fd, out + len, cap - len);
		else
			k = read(fd, sink, sizeof(sink));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		if (len < cap)
			len += (size_t)k;
	}
	out[len] = '\0';
	close(fd);
	return out;
}

int load_wait_cpu(pid_t pid, uint64_t *out_cpu_us)
{
	struct rusage ru;
	int st;

	if (out_cpu_us != NULL)
		*out_cpu_us = 0;
	while (wait4(pid, &st, 0, &ru) < 0)
		if (errno != EINTR) {
			load_untrack(pid);
			return -1;
		}
	load_untrack(pid);
	if (out_cpu_us != NULL)
		*out_cpu_us = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
			      (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int load_wait(pid_t pid)
{
	return load_wait_cpu(pid, NULL);
}

void *load_xmalloc(size_t n)
{
	void *p = malloc(n);

	if (p == NULL)
		load_die("out of memory");
	return p;
}

double load_secs_since(uint64_t t0_ns)
{
	return (double)(mn_mono_ns() - t0_ns) / 1e9;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path);
}

void load_workdir(char *out, size_t cap, const char *build, const char *name)
{
	char tmpl[4096];

	out[0] = '\0';
	if ((size_t)snprintf(tmpl, sizeof(tmpl), "%s/%s.XXXXXX", build, name) >= cap ||
	    mkdtemp(tmpl) == NULL)
		load_die("cannot create the work directory under BUILD");
	snprintf(out, cap, "%s", tmpl);
}

void load_rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void load_logd_run(struct logd_proc *lp, const char *build, const char *const *args)
{
	setenv("MN_BUILD", build, 1);
	if (logd_start(lp, args) != 0) {
		if (lp->pid > 0) /* started but said something else: kill it too */
			load_track(lp->pid);
		load_die("logd did not start");
	}
	load_track(lp->pid);
}

void load_logd_start(struct logd_proc *lp, const char *build, const char *data,
		     const char *const *args)
{
	if (mkdir(data, 0700) != 0)
		load_die("cannot create the data directory");
	load_logd_run(lp, build, args);
}

int load_logd_stop(struct logd_proc *lp, int sig)
{
	pid_t pid = lp->pid;
	int st = logd_stop(lp, sig);

	load_untrack(pid);
	return st;
}

uint64_t load_tree_size(uint16_t port)
{
	struct http_resp r;
	uint64_t n;
	char *p;

	if (http_do(port, "GET", "/ct/v1/get-sth", NULL, NULL, 0, &r) != 0 || r.status != 200)
		load_die("get-sth failed");
	p = strstr((char *)r.body, "\"tree_size\":");
	n = p ? strtoull(p + 12, NULL, 10) : 0;
	http_resp_free(&r);
	return n;
}

void load_cpu_split(pid_t pid, uint64_t *out_user_us, uint64_t *out_sys_us)
{
	char path[64], buf[1024], *p;
	long clk = sysconf(_SC_CLK_TCK);
	unsigned long long ut, st, hz = clk > 0 ? (unsigned long long)clk : 100;
	size_t n;
	FILE *f;

	*out_user_us = 0;
	*out_sys_us = 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* the command name may hold spaces and parentheses: fields follow the
	 * last ')' */
	p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
				&ut, &st) != 2)
		return;
	*out_user_us = ut * 1000000ull / hz;
	*out_sys_us = st * 1000000ull / hz;
}

uint64_t load_cpu_us(pid_t pid)
{
	uint64_t user, sys;

	load_cpu_split(pid, &user, &sys);
	return user + sys;
}

double load_status_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t flen = strlen(field);
	double kb = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
			kb = strtod(line + flen + 1, NULL);
			break;
		}
	fclose(f);
	return kb;
}

/* parse_dur_ms reads wrk's "12.34us" / "1.2ms" / "3.00s" / "1.00m". */
static double parse_dur_ms(const char *s)
{
	char *e;
	double v = strtod(s, &e);

	if (strncmp(e, "us", 2) == 0)
		return v / 1000;
	if (strncmp(e, "ms", 2) == 0)
		return v;
	if (*e == 'm')
		return v * 60000;
	if (*e == 's')
		return v * 1000;
	return -1;
}

static double parse_size_mb(const char *s)
{
	char *e;
	double v = strtod(s, &e);

	switch (*e) {
	case 'K':
		return v / 1024;
	case 'M':
		return v;
	case 'G':
		return v * 1024;
	default:
		return v / (1024 * 1024);
	}
}

static double after_ms(const char *out, const char *label)
{
	const char *p = strstr(out, label);

	if (p == NULL)
		return -1;
	p += strlen(label);
	p += strspn(p, " ");
	return parse_dur_ms(p);
}

void load_wrk_start(struct load_wrk_job *job, const char *url, const char *script,
		    int threads, int conns, int seconds, pid_t server)
{
	char t[16], c[16], d[16];
	char *argv[] = {"/usr/bin/wrk", t, c, d, "--timeout", "5s", "--latency", NULL, NULL,
			NULL, NULL};
	size_t n = 7;

	snprintf(t, sizeof(t), "-t%d", threads);
	snprintf(c, sizeof(c), "-c%d", conns);
	snprintf(d, sizeof(d), "-d%ds", seconds);
	if (script != NULL) {
		argv[n++] = "-s";
		argv[n++] = (char *)script;
	}
	argv[n] = (char *)url;
	job->server = server;
	job->url = url;
	job->script = script;
	load_cpu_split(server, &job->user0_us, &job->sys0_us);
	job->pid = load_spawn(argv, &job->fd, 0);
}

int load_wrk_finish(struct load_wrk_job *job, struct load_wrk *r)
{
	char *out = load_read_all(job->fd, 16384), *p;
	uint64_t client_us, user_us, sys_us;
	int st = load_wait_cpu(job->pid, &client_us);

	load_cpu_split(job->server, &user_us, &sys_us);
	memset(r, 0, sizeof(*r));
	if (st != 0 || (p = strstr(out, "Requests/sec:")) == NULL) {
		fprintf(stderr, "%s: wrk %s %s failed:\n%s\n", bench_name, job->url,
			job->script != NULL ? job->script : "", out);
		free(out);
		return -1;
	}
	r->rps = strtod(p + 13, NULL);
	if ((p = strstr(out, "Transfer/sec:")) != NULL) {
		p += 13;
		p += strspn(p, " ");
		r->mb_per_s = parse_size_mb(p);
	}
	r->p50_ms = after_ms(out, " 50% ");
	r->p99_ms = after_ms(out, " 99% ");
	/* "Latency   1.23ms  0.45ms  12.00ms   90.00%": avg, stdev, max */
	if ((p = strstr(out, "Latency ")) != NULL) {
		char a[32], s[32], m[32];

		if (sscanf(p, "Latency %31s %31s %31s", a, s, m) == 3)
			r->max_ms = parse_dur_ms(m);
	}
	if ((p = strstr(out, " requests in ")) != NULL) {
		while (p > out && p[-1] >= '0' && p[-1] <= '9')
			p--;
		r->requests = strtoul(p, NULL, 10);
	}
	if ((p = strstr(out, "Non-2xx or 3xx responses:")) != NULL)
		r->non2xx = strtoul(p + 25, NULL, 10);
	if ((p = strstr(out, "Socket errors:")) != NULL) {
		unsigned long ce = 0, re = 0, we = 0, te = 0;

		if (sscanf(p, "Socket errors: connect %lu, read %lu, write %lu, timeout %lu", &ce,
			   &re, &we, &te) == 4)
			r->sock_errors = ce + re + we + te;
	}
	if (r->requests > 0) {
		double num = (double)r->requests;

		r->server_us = (double)(user_us + sys_us - job->user0_us - job->sys0_us) / num;
		r->server_sys_us = (double)(sys_us - job->sys0_us) / num;
		r->client_us = (double)client_us / num;
	}
	free(out);
	return 0;
}

int load_wrk_run(const char *url, const char *script, int threads, int conns,
		 int seconds, pid_t server, struct load_wrk *r)
{
	struct load_wrk_job job;

	load_wrk_start(&job, url, script, threads, conns, seconds, server);
	return load_wrk_finish(&job, r);
}

size_t load_b64_urlenc(char *out, const uint8_t *p, size_t len)
{
	char *b64 = malloc(mn_b64_encoded_len(len) + 1);
	size_t n = 0;

	if (b64 == NULL)
		load_die("out of memory");
	mn_b64_encode(b64, p, len);
	for (const char *q = b64; *q; q++) {
		if (*q == '+' || *q == '/' || *q == '=') {
			static const char hex[] = "0123456789ABCDEF";

			out[n++] = '%';
			out[n++] = hex[(unsigned char)*q >> 4];
			out[n++] = hex[(unsigned char)*q & 15];
		} else {
			out[n++] = *q;
		}
	}
	out[n] = '\0';
	free(b64);
	return n;
}

const char load_lua_random_request[] =
	"local n = 0\n"
	"setup = function(thread)\n"
	"  n = n + 1\n"
	"  thread:set(\"seed\", n * 7919)\n"
	"end\n"
	"request = function()\n"
	"  return reqs[math.random(#reqs)]\n"
	"end\n";

const char load_lua_paths_init[] =
	"reqs = {}\n"
	"init = function(args)\n"
	"  math.randomseed(seed or 1)\n"
	"  for k, p in ipairs(paths) do reqs[k] = wrk.format(\"GET\", p) end\n"
	"end\n";
