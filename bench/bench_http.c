/* bench_http: the running log over HTTP on 127.0.0.1, next to its ceilings.
 *
 *   bench_http [BUILD]     BUILD holds logd and bench/bare_server (default build)
 *
 * Everything is measured in one run, about 2-3 minutes, on whatever cores the
 * machine has (load generators included):
 *
 *   ceiling A  bench/bare_server (libuv + llhttp, fixed 300-byte answer, same
 *              loop model as logd) under wrk -t2 -c64 -d10s;
 *   ceiling B  the naive add-chain path on one thread (base64, d2i_X509 each,
 *              X509_verify_cert with the root trusted and the intermediate
 *              untrusted, SHA-256 of the leaf, ECDSA P-256 sign of an SCT-sized
 *              message), best of 3, also multiplied by the number of cores;
 *   add-chain  an epoll load generator in this process (1, 8 and 64 keep-alive
 *              connections), each request a unique pre-generated [leaf, CA]
 *              chain; submissions/s, SCT latency p50/p99/max, every answer must
 *              be 200;
 *   reads      wrk -t2 -c64 -d10s on get-sth, get-proof-by-hash (a Lua script
 *              cycling through the submitted leaves' hashes), get-sth-consistency
 *              (random pairs) and get-entries (256 at a time).
 *
 * PKI: RSA-2048 root and intermediate like real CAs, ECDSA P-256 leaves (fast to
 * generate), made with tests/lib/pki.c compiled in as bench_validate does.
 * Data directory under BUILD (fsync must reach the real disk), removed at the
 * end. Children (bare_server, logd, wrk) are killed at the end, on failure, on
 * SIGINT/SIGTERM and by a watchdog alarm. Prints markdown rows for
 * bench/RESULTS.md on stdout, progress on stderr; writes BUILD/bench/http_*.dat
 * and draws bench/throughput.png and bench/latency.png with bench/plot.gp when
 * gnuplot is installed. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "common/b64.h"
#include "common/clock.h"

/* Test helpers compiled in (the benchmarks do not link libtest.a). */
#include "tests/lib/pki.c"
#include "tests/lib/proc.c"

#define MAX_LEAVES 60000      /* certificates generated at most */
#define GEN_SECONDS 30        /* ... or for this long, whichever comes first */
#define NAIVE_SUBS 2000       /* ceiling B: submissions per pass */
#define NAIVE_PASSES 3
#define ADD_SECONDS_MAIN 15   /* add-chain at 64 connections, at most */
#define ADD_SECONDS_SWEEP 3   /* add-chain at 1 and 8 connections */
#define WRK_SECONDS "10s"
#define WATCHDOG_SECONDS 300
#define MAX_PROOF_PATHS 20000
#define NUM_CONS_PATHS 5000
#define SCT_OVERHEAD 17

struct sub {
	struct pki_cert *leaf;
	char *b64;          /* base64 of the leaf DER */
	size_t b64_len;
	char *req;          /* the whole HTTP request */
	size_t req_len;
	uint64_t timestamp; /* from the SCT; 0 until answered 200 */
};

static const char *build = "build";
static char workdir[512];
static struct pki_cert *root, *ca;
static char *ca_b64;
static size_t ca_b64_len;
static struct sub *subs;
static size_t num_subs;

/* --- children and cleanup --- */

static volatile pid_t children[4];

static void kill_children(void)
{
	for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++)
		if (children[i] > 0) {
			kill(children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
			children[i] = 0;
		}
}

static void track(pid_t pid)
{
	for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++)
		if (children[i] <= 0) {
			children[i] = pid;
			return;
		}
}

static void untrack(pid_t pid)
{
	for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++)
		if (children[i] == pid)
			children[i] = 0;
}

static void on_fatal_signal(int sig)
{
	for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++)
		if (children[i] > 0)
			kill(children[i], SIGKILL);
	static const char msg[] = "bench_http: stopped by a signal (watchdog?)\n";
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(128 + sig);
	_exit(128 + sig);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path);
}

static void cleanup(void)
{
	kill_children();
	if (workdir[0] != '\0') {
		nftw(workdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		workdir[0] = '\0';
	}
}

static void die(const char *what)
{
	fprintf(stderr, "bench_http: %s\n", what);
	cleanup();
	exit(1);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);
	if (p == NULL)
		die("out of memory");
	return p;
}

static double secs_since(uint64_t t0)
{
	return (double)(mn_mono_ns() - t0) / 1e9;
}

/* --- PKI and submissions --- */

struct gen_arg {
	size_t start, step, limit;
	uint64_t deadline;
	size_t made; /* leaves made by this thread, at indexes start + k*step */
	int64_t now;
};

static void *gen_thread(void *p)
{
	struct gen_arg *g = p;
	for (size_t i = g->start; i < g->limit; i += g->step) {
		if (mn_mono_ns() > g->deadline)
			break;
		char name[64];
		snprintf(name, sizeof(name), "h%zu-%lld.bench.example", i, (long long)g->now);
		const char *dns[] = {name};
		subs[i].leaf = pki_issue(ca, name, dns, 1, 0, g->now - 86400, g->now + 90 * 86400);
		if (subs[i].leaf == NULL)
			break;
		g->made++;
	}
	return NULL;
}

static void make_request(struct sub *s)
{
	static const char fmt[] = "POST /ct/v1/add-chain HTTP/1.1\r\nHost: 127.0.0.1\r\n"
				  "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n";
	size_t body_len = 11 + s->b64_len + 3 + ca_b64_len + 3;
	char head[256];
	int n = snprintf(head, sizeof(head), fmt, body_len);
	s->req_len = (size_t)n + body_len;
	s->req = xmalloc(s->req_len + 1);
	snprintf(s->req, s->req_len + 1, "%s{\"chain\":[\"%s\",\"%s\"]}", head, s->b64, ca_b64);
}

/* make_pki creates the root, the intermediate and up to MAX_LEAVES leaves (two
 * threads, GEN_SECONDS at most), and writes the root to |roots_path|. */
static void make_pki(const char *roots_path)
{
	int64_t now = pki_now();
	root = pki_root("Bench Root", PKI_RSA);
	ca = root ? pki_issue(root, "Bench CA", NULL, 0, PKI_CA | PKI_RSA, now - 86400,
			      now + 3650 * 86400LL)
		  : NULL;
	if (ca == NULL)
		die("cannot create the root and intermediate");
	const struct pki_cert *bundle[] = {root};
	if (pki_write_pem(roots_path, bundle, 1) != 0)
		die("cannot write the roots PEM");
	ca_b64 = xmalloc(mn_b64_encoded_len(ca->der_len) + 1);
	ca_b64_len = mn_b64_encode(ca_b64, ca->der, ca->der_len);

	subs = calloc(MAX_LEAVES, sizeof(*subs));
	if (subs == NULL)
		die("out of memory");
	uint64_t t0 = mn_mono_ns();
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	size_t nthreads = ncpu < 1 ? 1 : ncpu > 8 ? 8 : (size_t)ncpu;
	struct gen_arg g[8];
	pthread_t th[8];
	for (size_t t = 0; t < nthreads; t++) {
		g[t] = (struct gen_arg){t, nthreads, MAX_LEAVES,
					t0 + (uint64_t)GEN_SECONDS * 1000000000u, 0, now};
		if (pthread_create(&th[t], NULL, gen_thread, &g[t]) != 0)
			die("pthread_create failed");
	}
	for (size_t t = 0; t < nthreads; t++)
		pthread_join(th[t], NULL);
	/* keep the dense prefix that every thread filled */
	num_subs = 0;
	while (num_subs < MAX_LEAVES && subs[num_subs].leaf != NULL)
		num_subs++;
	for (size_t i = num_subs; i < MAX_LEAVES; i++)
		pki_free(subs[i].leaf);
	double dt = secs_since(t0);
	for (size_t i = 0; i < num_subs; i++) {
		struct sub *s = &subs[i];
		s->b64 = xmalloc(mn_b64_encoded_len(s->leaf->der_len) + 1);
		s->b64_len = mn_b64_encode(s->b64, s->leaf->der, s->leaf->der_len);
		make_request(s);
	}
	fprintf(stderr, "bench_http: %zu leaves in %.1f s on %zu threads (%.0f /s)\n", num_subs,
		dt, nthreads, (double)num_subs / dt);
	if (num_subs < 1000)
		die("too few leaves generated");
}

/* --- ceiling B: the naive validation path --- */

static EVP_PKEY *sct_key;

static void naive_one(X509_STORE *store, const struct sub *s)
{
	const char *b64[2] = {s->b64, ca_b64};
	size_t b64_len[2] = {s->b64_len, ca_b64_len};
	uint8_t *der[2], h[32], sig[80], msg[SCT_OVERHEAD + 32 + 2048];
	size_t len[2], sig_len = sizeof(sig);
	X509 *x[2];
	for (int i = 0; i < 2; i++) {
		if (mn_b64_decode(&der[i], &len[i], b64[i], b64_len[i], 1 << 20) != 0)
			die("naive: base64 decode failed");
		const unsigned char *p = der[i];
		x[i] = d2i_X509(NULL, &p, (long)len[i]);
		if (x[i] == NULL || p != der[i] + len[i])
			die("naive: d2i_X509 failed");
	}
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	if (untrusted == NULL || ctx == NULL || !sk_X509_push(untrusted, x[1]) ||
	    !X509_STORE_CTX_init(ctx, store, x[0], untrusted) || X509_verify_cert(ctx) != 1)
		die("naive: the chain does not verify");
	X509_STORE_CTX_free(ctx);
	sk_X509_free(untrusted);
	SHA256(der[0], len[0], h);
	/* an SCT-sized message: the signed struct header and the leaf */
	size_t msg_len = SCT_OVERHEAD + (len[0] < 2048 ? len[0] : 2048);
	memset(msg, 0, SCT_OVERHEAD);
	memcpy(msg + SCT_OVERHEAD, der[0], msg_len - SCT_OVERHEAD);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, sct_key) != 1 ||
	    EVP_DigestSign(md, sig, &sig_len, msg, msg_len) != 1)
		die("naive: signing failed");
	EVP_MD_CTX_free(md);
	for (int i = 0; i < 2; i++) {
		X509_free(x[i]);
		free(der[i]);
	}
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* naive_rate returns submissions/s of the naive path on one thread, best of 3,
 * and in *out_cpu_us its CPU time per submission (best of 3), which the
 * machine's other load disturbs less than the rate. */
static double naive_rate(double *out_cpu_us)
{
	X509_STORE *store = X509_STORE_new();
	sct_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (store == NULL || sct_key == NULL || !X509_STORE_add_cert(store, root->x))
		die("cannot build the naive path's store");
	size_t n = num_subs < NAIVE_SUBS ? num_subs : NAIVE_SUBS;
	uint64_t best = UINT64_MAX, best_cpu = UINT64_MAX;
	for (int pass = 0; pass < NAIVE_PASSES; pass++) {
		uint64_t t = mn_mono_ns(), cpu = thread_cpu_ns();
		for (size_t i = 0; i < n; i++)
			naive_one(store, &subs[i]);
		t = mn_mono_ns() - t;
		cpu = thread_cpu_ns() - cpu;
		if (t < best)
			best = t;
		if (cpu < best_cpu)
			best_cpu = cpu;
	}
	*out_cpu_us = (double)best_cpu / 1000.0 / (double)n;
	X509_STORE_free(store);
	EVP_PKEY_free(sct_key);
	return (double)n * 1e9 / (double)best;
}

/* --- processes --- */

/* spawn runs argv with stdout on a pipe; returns the pid and the read end. */
static pid_t spawn(char *const *argv, int *out_fd, int quiet_stderr)
{
	int fds[2];
	if (pipe(fds) != 0)
		die("pipe failed");
	pid_t pid = fork();
	if (pid < 0)
		die("fork failed");
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		if (quiet_stderr) {
			int null = open("/dev/null", O_WRONLY);
			if (null >= 0)
				dup2(null, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	track(pid);
	*out_fd = fds[0];
	return pid;
}

static void stop_child(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 50; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			untrack(pid);
			return;
		}
		usleep(100000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	untrack(pid);
}

/* proc_cpu_us returns the user + system CPU time of process |pid| (all its
 * threads; 0 = this process) in microseconds, or 0 if /proc cannot tell. The
 * CPU a server spends per request is the figure the machine's other load
 * disturbs least. */
static uint64_t proc_cpu_us(pid_t pid)
{
	char path[64], buf[1024];
	if (pid == 0)
		snprintf(path, sizeof(path), "/proc/self/stat");
	else
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* fields after the ")" of comm: state is field 3, utime 14, stime 15 */
	char *p = strrchr(buf, ')');
	unsigned long long ut, st;
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
				&ut, &st) != 2)
		return 0;
	long hz = sysconf(_SC_CLK_TCK);
	return (ut + st) * 1000000ull / (unsigned long long)(hz > 0 ? hz : 100);
}

/* --- wrk --- */

struct wrk_result {
	double rps, p50_ms, p99_ms, mb_per_s;
	unsigned long requests, non2xx, sock_errors;
	double server_us; /* the server's CPU per request, microseconds */
};

static double parse_dur_ms(const char *s)
{
	char *e;
	double v = strtod(s, &e);
	if (strncmp(e, "us", 2) == 0)
		return v / 1000;
	if (strncmp(e, "ms", 2) == 0)
		return v;
	if (strncmp(e, "m", 1) == 0)
		return v * 60000;
	if (strncmp(e, "s", 1) == 0)
		return v * 1000;
	return -1;
}

static double parse_size_mb(const char *s)
{
	char *e;
	double v = strtod(s, &e);
	switch (*e) {
	case 'K': return v / 1024;
	case 'M': return v;
	case 'G': return v * 1024;
	default: return v / (1024 * 1024);
	}
}

/* run_wrk runs wrk on |url| (with the Lua |script| or NULL) and parses its
 * report. Returns 0, or -1 if wrk failed or printed no rate. */
static int run_wrk(const char *url, const char *script, pid_t server, struct wrk_result *r)
{
	uint64_t cpu0 = proc_cpu_us(server);
	char *argv[16];
	int n = 0, fd;
	argv[n++] = "/usr/bin/wrk";
	argv[n++] = "-t2";
	argv[n++] = "-c64";
	argv[n++] = "-d" WRK_SECONDS;
	argv[n++] = "--timeout";
	argv[n++] = "5s";
	argv[n++] = "--latency";
	if (script != NULL) {
		argv[n++] = "-s";
		argv[n++] = (char *)script;
	}
	argv[n++] = (char *)url;
	argv[n] = NULL;
	fprintf(stderr, "bench_http: wrk %s%s%s\n", url, script ? " -s " : "", script ? script : "");
	pid_t pid = spawn(argv, &fd, 0);
	char out[16384];
	size_t len = 0;
	ssize_t k;
	while (len + 1 < sizeof(out) && (k = read(fd, out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)k;
	out[len] = '\0';
	close(fd);
	int st;
	waitpid(pid, &st, 0);
	untrack(pid);
	uint64_t cpu = proc_cpu_us(server) - cpu0;
	memset(r, 0, sizeof(*r));
	char *p;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || (p = strstr(out, "Requests/sec:")) == NULL) {
		fprintf(stderr, "bench_http: wrk failed on %s:\n%s\n", url, out);
		return -1;
	}
	r->rps = strtod(p + 13, NULL);
	if ((p = strstr(out, "Transfer/sec:")) != NULL) {
		p += 13;
		while (*p == ' ')
			p++;
		r->mb_per_s = parse_size_mb(p);
	}
	if ((p = strstr(out, " 50% ")) != NULL)
		r->p50_ms = parse_dur_ms(p + 5 + strspn(p + 5, " "));
	if ((p = strstr(out, " 99% ")) != NULL)
		r->p99_ms = parse_dur_ms(p + 5 + strspn(p + 5, " "));
	if ((p = strstr(out, " requests in ")) != NULL) {
		while (p > out && p[-1] >= '0' && p[-1] <= '9')
			p--;
		r->requests = strtoul(p, NULL, 10);
	}
	if ((p = strstr(out, "Non-2xx or 3xx responses:")) != NULL)
		r->non2xx = strtoul(p + 25, NULL, 10);
	if ((p = strstr(out, "Socket errors:")) != NULL) {
		unsigned long c = 0, rd = 0, w = 0, t = 0;
		if (sscanf(p, "Socket errors: connect %lu, read %lu, write %lu, timeout %lu", &c,
			   &rd, &w, &t) == 4)
			r->sock_errors = c + rd + w + t;
	}
	if (r->requests > 0)
		r->server_us = (double)cpu / (double)r->requests;
	return 0;
}

/* --- the add-chain load generator: one thread, epoll, keep-alive --- */

struct lconn {
	int fd;
	size_t sub;   /* submission in flight, or SIZE_MAX */
	size_t sent;
	int want_out;
	uint64_t t0;
	size_t have;
	char buf[4096];
};

struct load_result {
	size_t ok, failed, conn_errors;
	double secs;
	double server_us, client_us; /* logd's and this program's CPU per submission */
	uint32_t *lat_us; /* ok answers' SCT latencies, sorted */
	size_t num_lat;
};

static int connect_nb(uint16_t port)
{
	struct sockaddr_in a;
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static double pct_ms(const struct load_result *r, double q)
{
	if (r->num_lat == 0)
		return 0;
	size_t i = (size_t)(q * (double)(r->num_lat - 1) + 0.5);
	return r->lat_us[i] / 1000.0;
}

/* response_done returns the total length of a complete response in |c|->buf,
 * 0 if more bytes are needed, or -1 if it is malformed; *status gets the code. */
static long response_done(struct lconn *c, int *status)
{
	c->buf[c->have] = '\0';
	char *end = strstr(c->buf, "\r\n\r\n");
	if (end == NULL)
		return c->have >= sizeof(c->buf) - 1 ? -1 : 0;
	if (strncmp(c->buf, "HTTP/1.1 ", 9) != 0)
		return -1;
	*status = (int)strtol(c->buf + 9, NULL, 10);
	size_t clen = 0;
	for (char *h = strstr(c->buf, "\r\n"); h != NULL && h < end; h = strstr(h + 2, "\r\n"))
		if (strncasecmp(h + 2, "Content-Length:", 15) == 0)
			clen = strtoul(h + 17, NULL, 10);
	size_t total = (size_t)(end + 4 - c->buf) + clen;
	if (total >= sizeof(c->buf))
		return -1;
	return c->have >= total ? (long)total : 0;
}

/* lconn_send sends what is left of |c|'s request; it asks epoll for EPOLLOUT
 * only while the socket buffer is full. Returns 0 or -1. */
static int lconn_send(int ep, struct lconn *c)
{
	const struct sub *s = &subs[c->sub];
	while (c->sent < s->req_len) {
		ssize_t n = send(c->fd, s->req + c->sent, s->req_len - c->sent, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno != EAGAIN)
				return -1;
			if (!c->want_out) {
				struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
				c->want_out = 1;
				return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) == 0 ? 0 : -1;
			}
			return 0;
		}
		c->sent += (size_t)n;
	}
	if (c->want_out) {
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		c->want_out = 0;
		return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) == 0 ? 0 : -1;
	}
	return 0;
}

/* run_load submits subs[*next ..] over |nconns| connections until |limit|
 * submissions were taken or |seconds| passed, then waits for the answers. */
static void run_load(pid_t server, uint16_t port, size_t nconns, size_t *next, size_t limit,
		     double seconds, struct load_result *r)
{
	struct lconn *cs = calloc(nconns, sizeof(*cs));
	int ep = epoll_create1(0);
	size_t active = 0;
	memset(r, 0, sizeof(*r));
	r->lat_us = xmalloc((limit - *next + 1) * sizeof(uint32_t));
	if (cs == NULL || ep < 0)
		die("load: setup failed");
	uint64_t start = mn_mono_ns(), deadline = start + (uint64_t)(seconds * 1e9);
	uint64_t cpu_s = proc_cpu_us(server), cpu_c = proc_cpu_us(0);
	for (size_t i = 0; i < nconns; i++) {
		struct lconn *c = &cs[i];
		c->sub = SIZE_MAX;
		if ((c->fd = connect_nb(port)) < 0)
			die("load: cannot connect to logd");
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
			die("load: epoll_ctl failed");
	}
	/* take the next submission for |c|, or close it */
	for (size_t i = 0; i < nconns; i++) {
		struct lconn *c = &cs[i];
		if (*next < limit) {
			c->sub = (*next)++;
			c->sent = c->have = 0;
			c->t0 = mn_mono_ns();
			active++;
			if (lconn_send(ep, c) != 0)
				die("load: send failed");
		}
	}
	while (active > 0) {
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, 10000);
		if (n == 0)
			die("load: no answer from logd for 10 s");
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("load: epoll_wait failed");
		}
		for (int e = 0; e < n; e++) {
			struct lconn *c = evs[e].data.ptr;
			if (c->sub == SIZE_MAX)
				continue;
			if ((evs[e].events & EPOLLOUT) && lconn_send(ep, c) != 0)
				goto conn_error;
			if (!(evs[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
				continue;
			ssize_t k = recv(c->fd, c->buf + c->have, sizeof(c->buf) - 1 - c->have, 0);
			if (k < 0 && errno == EAGAIN)
				continue;
			if (k <= 0)
				goto conn_error;
			c->have += (size_t)k;
			int status = 0;
			long total = response_done(c, &status);
			if (total == 0)
				continue;
			if (total < 0)
				goto conn_error;
			uint64_t now = mn_mono_ns();
			if (status == 200) {
				char *ts = strstr(c->buf, "\"timestamp\":");
				subs[c->sub].timestamp = ts ? strtoull(ts + 12, NULL, 10) : 0;
				r->ok++;
				uint64_t us = (now - c->t0) / 1000;
				r->lat_us[r->num_lat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
			} else {
				if (r->failed < 3)
					fprintf(stderr, "bench_http: add-chain answered %d: %.200s\n",
						status, c->buf);
				r->failed++;
			}
			if ((size_t)total != c->have)
				goto conn_error; /* we never pipeline: extra bytes are wrong */
			c->have = 0;
			if (*next < limit && now < deadline) {
				c->sub = (*next)++;
				c->sent = 0;
				c->t0 = now;
				if (lconn_send(ep, c) != 0)
					goto conn_error;
			} else {
				c->sub = SIZE_MAX;
				active--;
			}
			continue;
conn_error:
			r->conn_errors++;
			r->failed++;
			c->sub = SIZE_MAX;
			active--;
			epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
			close(c->fd);
			c->fd = -1;
		}
	}
	r->secs = secs_since(start);
	if (r->ok + r->failed > 0) {
		r->server_us = (double)(proc_cpu_us(server) - cpu_s) / (double)(r->ok + r->failed);
		r->client_us = (double)(proc_cpu_us(0) - cpu_c) / (double)(r->ok + r->failed);
	}
	for (size_t i = 0; i < nconns; i++)
		if (cs[i].fd >= 0)
			close(cs[i].fd);
	close(ep);
	free(cs);
	qsort(r->lat_us, r->num_lat, sizeof(uint32_t), cmp_u32);
}

/* --- read scripts --- */

static void leaf_hash(const struct sub *s, uint8_t out[32])
{
	/* MerkleTreeLeaf (RFC 6962 section 3.4) behind the 0x00 leaf prefix */
	uint8_t head[1 + 2 + 8 + 2 + 3];
	size_t n = 0;
	head[n++] = 0x00; /* leaf hash prefix (section 2.1) */
	head[n++] = 0;    /* version = v1 */
	head[n++] = 0;    /* leaf_type = timestamped_entry */
	for (int i = 7; i >= 0; i--)
		head[n++] = (uint8_t)(s->timestamp >> (8 * i));
	head[n++] = 0; /* entry_type = x509_entry */
	head[n++] = 0;
	head[n++] = (uint8_t)(s->leaf->der_len >> 16);
	head[n++] = (uint8_t)(s->leaf->der_len >> 8);
	head[n++] = (uint8_t)s->leaf->der_len;
	uint8_t buf[sizeof(head) + 4096 + 2];
	if (s->leaf->der_len > 4096)
		die("a leaf is too large");
	memcpy(buf, head, n);
	memcpy(buf + n, s->leaf->der, s->leaf->der_len);
	n += s->leaf->der_len;
	buf[n++] = 0; /* extensions: empty */
	buf[n++] = 0;
	SHA256(buf, n, out);
}

static FILE *script_open(const char *path)
{
	FILE *f = fopen(path, "w");
	if (f == NULL)
		die("cannot write a wrk script");
	fputs("local paths = {\n", f);
	return f;
}

static void script_close(FILE *f)
{
	fputs("}\n"
	      "local i = 0\n"
	      "setup = function(thread)\n"
	      "  nthreads = (nthreads or 0) + 1\n"
	      "  thread:set(\"first\", nthreads * 7919)\n"
	      "end\n"
	      "local reqs = {}\n"
	      "init = function(args)\n"
	      "  for k, p in ipairs(paths) do reqs[k] = wrk.format(\"GET\", p) end\n"
	      "  i = (first or 0) % #reqs\n"
	      "end\n"
	      "request = function()\n"
	      "  i = i + 1\n"
	      "  if i > #reqs then i = 1 end\n"
	      "  return reqs[i]\n"
	      "end\n",
	      f);
	if (fclose(f) != 0)
		die("cannot write a wrk script");
}

static void write_proof_script(const char *path, uint64_t tree_size, size_t *out_num)
{
	FILE *f = script_open(path);
	size_t num = 0;
	for (size_t i = 0; i < num_subs && num < MAX_PROOF_PATHS; i++) {
		if (subs[i].timestamp == 0)
			continue;
		uint8_t h[32];
		char b64[48];
		leaf_hash(&subs[i], h);
		mn_b64_encode(b64, h, 32);
		fputs("\"/ct/v1/get-proof-by-hash?hash=", f);
		for (const char *p = b64; *p; p++)
			if (*p == '+')
				fputs("%2B", f);
			else if (*p == '/')
				fputs("%2F", f);
			else if (*p == '=')
				fputs("%3D", f);
			else
				fputc(*p, f);
		fprintf(f, "&tree_size=%llu\",\n", (unsigned long long)tree_size);
		num++;
	}
	script_close(f);
	*out_num = num;
}

static uint64_t rnd(uint64_t *state)
{
	/* xorshift64 */
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

static void write_consistency_script(const char *path, uint64_t tree_size)
{
	FILE *f = script_open(path);
	uint64_t st = 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < NUM_CONS_PATHS; i++) {
		uint64_t a = 1 + rnd(&st) % (tree_size - 1);
		uint64_t b = a + 1 + rnd(&st) % (tree_size - a);
		fprintf(f, "\"/ct/v1/get-sth-consistency?first=%llu&second=%llu\",\n",
			(unsigned long long)a, (unsigned long long)b);
	}
	script_close(f);
}

static void write_entries_script(const char *path, uint64_t tree_size)
{
	FILE *f = script_open(path);
	uint64_t st = 0x2545f4914f6cdd1dull;
	for (size_t i = 0; i < NUM_CONS_PATHS; i++) {
		uint64_t a = rnd(&st) % (tree_size - 255);
		fprintf(f, "\"/ct/v1/get-entries?start=%llu&end=%llu\",\n", (unsigned long long)a,
			(unsigned long long)(a + 255));
	}
	script_close(f);
}

/* --- main --- */

static uint64_t get_tree_size(uint16_t port)
{
	struct http_resp r;
	if (http_do(port, "GET", "/ct/v1/get-sth", NULL, NULL, 0, &r) != 0 || r.status != 200)
		die("get-sth failed");
	char *p = strstr((char *)r.body, "\"tree_size\":");
	uint64_t n = p ? strtoull(p + 12, NULL, 10) : 0;
	http_resp_free(&r);
	return n;
}

static void add_row(const char *what, const struct load_result *r, double naive1,
		    double naive_cpu_us, int ncpu)
{
	double rate = (double)r->ok / r->secs;
	printf("| add-chain, %s, load generator on the same machine | %.0f /s (%zu in %.1f s, "
	       "%zu failed); SCT p50 %.1f ms, p99 %.1f ms, max %.1f ms; logd CPU %.0f us "
	       "per submission, load generator %.0f us | naive path x %d cores: %.0f /s "
	       "(1 core: %.0f /s, %.0f us CPU each) | %.2f (%.2fx 1-core naive; logd's CPU per "
	       "submission %.2fx naive's) |\n",
	       what, rate, r->ok, r->secs, r->failed, pct_ms(r, 0.5), pct_ms(r, 0.99),
	       pct_ms(r, 1.0), r->server_us, r->client_us, ncpu, naive1 * ncpu, naive1,
	       naive_cpu_us, rate / (naive1 * ncpu), rate / naive1, r->server_us / naive_cpu_us);
}

/* get_row prints a read row; |al| is bare_server under the same kind of wrk
 * Lua script (wrk's Lua request() costs the shared cores too), or NULL. */
static void get_row(const char *what, const struct wrk_result *w, const struct wrk_result *a,
		    const struct wrk_result *al, const char *extra)
{
	char ceil2[128] = "", ratio2[64] = "";
	if (al != NULL) {
		snprintf(ceil2, sizeof(ceil2), "; with the same Lua script %.0f req/s", al->rps);
		snprintf(ratio2, sizeof(ratio2), " (%.2f of the scripted)", w->rps / al->rps);
	}
	printf("| %s, wrk -t2 -c64 | %.0f req/s%s, p99 %.2f ms%s; logd CPU %.1f us/req | "
	       "bare_server %.0f req/s, p99 %.2f ms%s; %.1f us/req | %.2f%s |\n",
	       what, w->rps, extra ? extra : "", w->p99_ms,
	       w->non2xx + w->sock_errors ? " (ERRORS, see stderr)" : "", w->server_us, a->rps,
	       a->p99_ms, ceil2, a->server_us, w->rps / a->rps, ratio2);
	if (w->non2xx + w->sock_errors)
		fprintf(stderr, "bench_http: %s: %lu non-2xx answers, %lu socket errors\n", what,
			w->non2xx, w->sock_errors);
}

int main(int argc, char **argv)
{
	char path[640], url[128], data[600], roots[600];
	uint64_t t_all = mn_mono_ns();
	if (argc > 1)
		build = argv[1];
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_fatal_signal);
	signal(SIGTERM, on_fatal_signal);
	signal(SIGALRM, on_fatal_signal);
	alarm(WATCHDOG_SECONDS);
	long ncpu_l = sysconf(_SC_NPROCESSORS_ONLN);
	int ncpu = ncpu_l < 1 ? 1 : (int)ncpu_l;

	snprintf(workdir, sizeof(workdir), "%s/bench-http.XXXXXX", build);
	if (mkdtemp(workdir) == NULL) {
		workdir[0] = '\0';
		die("cannot create the work directory under BUILD");
	}
	snprintf(data, sizeof(data), "%s/data", workdir);
	snprintf(roots, sizeof(roots), "%s/roots.pem", workdir);
	make_pki(roots);

	/* ceiling B, before any server runs */
	double naive_cpu_us;
	double naive1 = naive_rate(&naive_cpu_us);
	fprintf(stderr, "bench_http: naive path %.0f /s on one thread, %.0f us CPU each\n", naive1,
		naive_cpu_us);

	/* ceiling A */
	snprintf(path, sizeof(path), "%s/bench/bare_server", build);
	char *bare_argv[] = {path, "0", NULL};
	int fd;
	pid_t bare = spawn(bare_argv, &fd, 0);
	char line[128] = "";
	FILE *bf = fdopen(fd, "r");
	if (bf == NULL || fgets(line, sizeof(line), bf) == NULL ||
	    strncmp(line, "listening 127.0.0.1:", 20) != 0)
		die("bare_server did not start");
	fclose(bf);
	snprintf(url, sizeof(url), "http://127.0.0.1:%lu/", strtoul(line + 20, NULL, 10));
	struct wrk_result wa;
	if (run_wrk(url, NULL, bare, &wa) != 0)
		die("wrk failed on bare_server");
	fprintf(stderr, "bench_http: bare_server %.0f req/s, p99 %.2f ms\n", wa.rps, wa.p99_ms);
	char bare_url[128];
	snprintf(bare_url, sizeof(bare_url), "%.*s", (int)strlen(url) - 1, url);

	/* logd */
	struct logd_proc lp;
	const char *largs[] = {"--data", data, "--tls-roots", roots, NULL};
	if (mkdir(data, 0700) != 0)
		die("cannot create the data directory");
	setenv("MN_BUILD", build, 1);
	if (logd_start(&lp, largs) != 0)
		die("logd did not start");
	track(lp.pid);

	/* add-chain: 1, 8, then 64 connections, each on fresh certificates */
	size_t next = 0;
	struct load_result r1, r8, r64;
	size_t quarter = num_subs / 8;
	run_load(lp.pid, lp.port, 1, &next, quarter, ADD_SECONDS_SWEEP, &r1);
	fprintf(stderr, "bench_http: add-chain c=1: %.0f /s\n", r1.ok / r1.secs);
	run_load(lp.pid, lp.port, 8, &next, next + 2 * quarter, ADD_SECONDS_SWEEP, &r8);
	fprintf(stderr, "bench_http: add-chain c=8: %.0f /s\n", r8.ok / r8.secs);
	run_load(lp.pid, lp.port, 64, &next, num_subs, ADD_SECONDS_MAIN, &r64);
	fprintf(stderr, "bench_http: add-chain c=64: %.0f /s\n", r64.ok / r64.secs);

	uint64_t tree_size = get_tree_size(lp.port);
	size_t total_ok = r1.ok + r8.ok + r64.ok;
	if (tree_size != total_ok)
		fprintf(stderr, "bench_http: tree_size %llu but %zu submissions answered 200\n",
			(unsigned long long)tree_size, total_ok);
	if (tree_size < 512)
		die("the tree is too small to measure reads");

	/* get-entries must answer whole batches, or entries/s would be wrong */
	size_t per_batch = 0;
	{
		struct http_resp hr;
		if (http_do(lp.port, "GET", "/ct/v1/get-entries?start=0&end=255", NULL, NULL, 0,
			    &hr) != 0 || hr.status != 200)
			die("get-entries failed");
		for (char *p = (char *)hr.body; (p = strstr(p, "\"leaf_input\"")) != NULL; p++)
			per_batch++;
		http_resp_free(&hr);
		if (per_batch != 256)
			fprintf(stderr, "bench_http: get-entries answers %zu entries, not 256\n",
				per_batch);
	}

	/* reads */
	struct wrk_result ws, wp, wc, we;
	char script[700];
	size_t num_proofs;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/ct/v1/get-sth", lp.port);
	if (run_wrk(url, NULL, lp.pid, &ws) != 0)
		die("wrk failed on get-sth");
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", lp.port);
	snprintf(script, sizeof(script), "%s/proof.lua", workdir);
	write_proof_script(script, tree_size, &num_proofs);
	if (run_wrk(url, script, lp.pid, &wp) != 0)
		die("wrk failed on get-proof-by-hash");
	/* the same Lua script against bare_server: wrk's Lua costs CPU too */
	struct wrk_result wal;
	if (run_wrk(bare_url, script, bare, &wal) != 0)
		die("wrk failed on bare_server with a script");
	stop_child(bare);
	snprintf(script, sizeof(script), "%s/consistency.lua", workdir);
	write_consistency_script(script, tree_size);
	if (run_wrk(url, script, lp.pid, &wc) != 0)
		die("wrk failed on get-sth-consistency");
	snprintf(script, sizeof(script), "%s/entries.lua", workdir);
	write_entries_script(script, tree_size);
	if (run_wrk(url, script, lp.pid, &we) != 0)
		die("wrk failed on get-entries");

	if (getenv("BENCH_HTTP_HOLD") != NULL) {
		fprintf(stderr, "bench_http: holding logd on port %u and %s (BENCH_HTTP_HOLD); "
			"press Enter\n", lp.port, workdir);
		alarm(WATCHDOG_SECONDS);
		getchar();
	}
	int st = logd_stop(&lp, SIGTERM);
	untrack(lp.pid);
	if (st != 0)
		fprintf(stderr, "bench_http: logd exited with status %d\n", st);

	/* rows */
	add_row("64 connections", &r64, naive1, naive_cpu_us, ncpu);
	add_row("8 connections", &r8, naive1, naive_cpu_us, ncpu);
	add_row("1 connection", &r1, naive1, naive_cpu_us, ncpu);
	get_row("get-sth", &ws, &wa, NULL, NULL);
	char extra[128];
	snprintf(extra, sizeof(extra), " (%zu leaves, tree_size %llu)", num_proofs,
		 (unsigned long long)tree_size);
	get_row("get-proof-by-hash", &wp, &wa, &wal, extra);
	get_row("get-sth-consistency, random pairs", &wc, &wa, &wal, NULL);
	snprintf(extra, sizeof(extra), " = %.0f entries/s, %.1f MB/s", we.rps * (double)per_batch,
		 we.mb_per_s);
	get_row("get-entries?start=X&end=X+255", &we, &wa, &wal, extra);

	/* data files and plots */
	snprintf(path, sizeof(path), "%s/bench/http_throughput.dat", build);
	FILE *f = fopen(path, "w");
	if (f != NULL) {
		fprintf(f, "# connections add-chain/s naive_x%d\n", ncpu);
		fprintf(f, "1 %.0f %.0f\n8 %.0f %.0f\n64 %.0f %.0f\n", r1.ok / r1.secs,
			naive1 * ncpu, r8.ok / r8.secs, naive1 * ncpu, r64.ok / r64.secs,
			naive1 * ncpu);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/bench/http_latency.dat", build);
	f = fopen(path, "w");
	if (f != NULL) {
		fprintf(f, "# percentile sct_ms_c1 sct_ms_c8 sct_ms_c64\n");
		for (int q = 0; q <= 100; q++)
			fprintf(f, "%d %.3f %.3f %.3f\n", q, pct_ms(&r1, q / 100.0),
				pct_ms(&r8, q / 100.0), pct_ms(&r64, q / 100.0));
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/bench/http_reads.dat", build);
	f = fopen(path, "w");
	if (f != NULL) {
		fprintf(f, "# endpoint req/s p50_ms p99_ms\n");
		const struct wrk_result *ws_all[] = {&wa, &wal, &ws, &wp, &wc, &we};
		const char *names[] = {"bare_server", "bare_server+lua", "get-sth",
				       "get-proof-by-hash", "get-sth-consistency",
				       "get-entries(256)"};
		for (int i = 0; i < 6; i++)
			fprintf(f, "\"%s\" %.0f %.3f %.3f\n", names[i], ws_all[i]->rps,
				ws_all[i]->p50_ms, ws_all[i]->p99_ms);
		fclose(f);
	}
	if (access("bench/plot.gp", R_OK) == 0 && access("/usr/bin/gnuplot", X_OK) == 0) {
		char dir[600];
		snprintf(dir, sizeof(dir), "dir='%s/bench'", build);
		char *gp_argv[] = {"/usr/bin/gnuplot", "-e", dir, "bench/plot.gp", NULL};
		pid_t gp = spawn(gp_argv, &fd, 0);
		close(fd);
		waitpid(gp, NULL, 0);
		untrack(gp);
	}

	for (size_t i = 0; i < num_subs; i++) {
		pki_free(subs[i].leaf);
		free(subs[i].b64);
		free(subs[i].req);
	}
	free(subs);
	free(ca_b64);
	free(r1.lat_us);
	free(r8.lat_us);
	free(r64.lat_us);
	pki_free(ca);
	pki_free(root);
	cleanup();
	fprintf(stderr, "bench_http: done in %.0f s\n", secs_since(t_all));
	return 0;
}
