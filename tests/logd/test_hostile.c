/* test_hostile.c: slow and hostile clients (the "Faults" issue). While each
 * attack runs, a well-behaved client thread keeps asking get-sth (a new
 * connection most times, a keep-alive one otherwise); every answer must be a
 * 200 with a valid signed tree head within PROBE_BOUND_MS. The attacks:
 *
 *   slowloris      connections sending a request header one byte at a time:
 *                  each is answered 408 and closed once --request-timeout
 *                  passes, never held open longer
 *   trickle body   a POST whose body arrives one byte at a time: the same
 *   10,000 idle    ten thousand connections that never send a byte, all
 *                  accepted (the server's own gauge says so), none starving
 *                  the loop
 *   garbage        pipelined requests followed by garbage, random bytes,
 *                  oversized and malformed request lines, many bad requests
 *                  pipelined on one connection: answered in order, then 400
 *                  and a close; logd never crashes
 * At the end logd stops gracefully with exit status 0 (under ASan: no leak). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/ctclient.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

#define REQUEST_TIMEOUT_MS 1500
#define PROBE_BOUND_MS 2000
#define NIDLE 10000

static struct {
	char dir[64];
	struct logd_proc logd;
	struct ct_verifier *v;
	pthread_t prober;
	pthread_mutex_t mu;
	int stop;
	unsigned long probes, probe_failures;
	double max_probe_ms;
	char probe_error[256];
	unsigned long bad_inputs;
} H;

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* --- the well-behaved client ------------------------------------------------ */

static void *probe_loop(void *arg)
{
	struct kconn ka = {.fd = -1};
	unsigned n = 0;

	(void)arg;
	ka.port = H.logd.port;
	for (;;) {
		struct kconn fresh;
		struct kconn *c = &ka;
		struct ctc_sth s;
		double t0, dt;
		int ok;

		pthread_mutex_lock(&H.mu);
		if (H.stop) {
			pthread_mutex_unlock(&H.mu);
			break;
		}
		pthread_mutex_unlock(&H.mu);
		t0 = now_ms();
		if (n++ % 4 != 0) {
			c = &fresh;
			ok = kc_open(c, H.logd.port, PROBE_BOUND_MS) == 0;
		} else {
			ok = 1;
		}
		ok = ok && ctc_get_sth(c, H.v, &s) == 0;
		dt = now_ms() - t0;
		if (c == &fresh)
			kc_close(c);
		pthread_mutex_lock(&H.mu);
		H.probes++;
		if (dt > H.max_probe_ms)
			H.max_probe_ms = dt;
		if (!ok || dt > PROBE_BOUND_MS) {
			H.probe_failures++;
			if (H.probe_error[0] == '\0')
				snprintf(H.probe_error, sizeof(H.probe_error),
					 "get-sth %s after %.0f ms", ok ? "too slow" : "failed", dt);
		}
		pthread_mutex_unlock(&H.mu);
		/* pace the prober (it is a client, not a load generator) */
		poll(NULL, 0, 10);
	}
	kc_close(&ka);
	return NULL;
}

/* probes_since checks that the prober made progress without failure. */
static void check_probes(unsigned long before, const char *what)
{
	unsigned long n, f;
	double mx;

	/* wait for at least a few probes during/after the attack */
	for (int i = 0; i < 500; i++) {
		pthread_mutex_lock(&H.mu);
		n = H.probes;
		pthread_mutex_unlock(&H.mu);
		if (n >= before + 3)
			break;
		poll(NULL, 0, 10);
	}
	pthread_mutex_lock(&H.mu);
	n = H.probes;
	f = H.probe_failures;
	mx = H.max_probe_ms;
	pthread_mutex_unlock(&H.mu);
	fprintf(stderr, "hostile: %s: %lu get-sth probes so far, slowest %.1f ms\n", what, n, mx);
	if (f != 0)
		fail_msg("during %s: %s", what, H.probe_error);
	assert_true(n >= before + 3);
}

static unsigned long probes_now(void)
{
	unsigned long n;
	pthread_mutex_lock(&H.mu);
	n = H.probes;
	pthread_mutex_unlock(&H.mu);
	return n;
}

/* --- setup ------------------------------------------------------------------ */

static int setup(void **state)
{
	struct rlimit rl;
	char data[128], roots[128], timeout[16];

	(void)state;
	pthread_mutex_init(&H.mu, NULL);
	/* 10,000 connections on our side and as many on logd's (inherited) */
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	if (rl.rlim_cur < 2 * NIDLE + 1000) {
		rl.rlim_cur = rl.rlim_max < 2 * NIDLE + 1000 ? rl.rlim_max : 2 * NIDLE + 1000;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			return -1;
	}
	if (rl.rlim_cur < NIDLE + 500) {
		fprintf(stderr, "test_hostile: RLIMIT_NOFILE %llu is too small\n",
			(unsigned long long)rl.rlim_cur);
		return -1;
	}
	strcpy(H.dir, "/tmp/mn-hostile-XXXXXX");
	if (mkdtemp(H.dir) == NULL)
		return -1;
	snprintf(data, sizeof(data), "%s/data", H.dir);
	snprintf(roots, sizeof(roots), "%s/roots.pem", H.dir);
	{
		struct pki_cert *root = pki_root("Hostile Root", 0);
		const struct pki_cert *rs[1] = {root};
		int ok = root != NULL && pki_write_pem(roots, rs, 1) == 0;
		pki_free(root);
		if (!ok)
			return -1;
	}
	snprintf(timeout, sizeof(timeout), "%d", REQUEST_TIMEOUT_MS);
	{
		const char *args[] = {"--no-map", "--data", data, "--tls-roots", roots, "--threads", "2",
				      "--max-conns", "12000", "--idle-timeout", "60000",
				      "--request-timeout", timeout, "--max-body", "65536", NULL};
		char errlog[128];
		snprintf(errlog, sizeof(errlog), "%s/logd.err", H.dir);
		if (logd_start_stderr(&H.logd, args, errlog) != 0)
			return -1;
	}
	H.v = ct_verifier_new(H.logd.spki, H.logd.spki_len);
	if (H.v == NULL)
		return -1;
	return pthread_create(&H.prober, NULL, probe_loop, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	int st;

	(void)state;
	pthread_mutex_lock(&H.mu);
	H.stop = 1;
	pthread_mutex_unlock(&H.mu);
	pthread_join(H.prober, NULL);
	fprintf(stderr, "hostile: %lu get-sth probes, %lu failed, slowest %.1f ms; %lu hostile "
		"inputs sent\n", H.probes, H.probe_failures, H.max_probe_ms, H.bad_inputs);
	st = logd_stop(&H.logd, SIGTERM);
	if (st != 0)
		fprintf(stderr, "logd exited with %d\n", st);
	ct_verifier_free(H.v);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", H.dir);
	if (system(cmd) != 0)
		return -1;
	return st == 0 && H.probe_failures == 0 ? 0 : -1;
}

/* --- raw sockets ------------------------------------------------------------- */

static int raw_connect(int nonblock)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);

	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(H.logd.port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

struct slow {
	int fd;
	const char *head;  /* sent whole first */
	size_t head_len;
	size_t sent;       /* trickled bytes so far */
	double first_byte, closed_at;
	int got_408, closed;
};

/* trickle sends one byte per connection per round (every |gap_ms|) after its
 * head, and reads what comes back, until every connection is closed by the
 * server or |limit_ms| passes. Returns the number still open. */
static int trickle(struct slow *s, int n, char filler, int gap_ms, double limit_ms)
{
	struct pollfd *pf = calloc((size_t)n, sizeof(*pf));
	double t0 = now_ms();
	int open = n;

	assert_non_null(pf);
	for (int i = 0; i < n; i++) {
		s[i].first_byte = now_ms();
		if (s[i].head_len > 0 &&
		    send(s[i].fd, s[i].head, s[i].head_len, MSG_NOSIGNAL) != (ssize_t)s[i].head_len)
			fail_msg("cannot send the head on connection %d", i);
	}
	while (open > 0 && now_ms() - t0 < limit_ms) {
		for (int i = 0; i < n; i++) {
			if (s[i].closed)
				continue;
			if (send(s[i].fd, &filler, 1, MSG_NOSIGNAL) == 1)
				s[i].sent++;
		}
		for (int i = 0; i < n; i++) {
			pf[i].fd = s[i].closed ? -1 : s[i].fd;
			pf[i].events = POLLIN;
			pf[i].revents = 0;
		}
		if (poll(pf, (nfds_t)n, gap_ms) < 0 && errno != EINTR)
			fail_msg("poll: %s", strerror(errno));
		for (int i = 0; i < n; i++) {
			char buf[4096];
			ssize_t r;
			if (s[i].closed || pf[i].revents == 0)
				continue;
			while ((r = recv(s[i].fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0) {
				buf[r] = 0;
				if (strncmp(buf, "HTTP/1.1 408", 12) == 0)
					s[i].got_408 = 1;
			}
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
				s[i].closed = 1;
				s[i].closed_at = now_ms();
				open--;
			}
		}
	}
	free(pf);
	return open;
}

static void slow_attack(const char *what, const char *head, char filler, int n)
{
	struct slow *s = calloc((size_t)n, sizeof(*s));
	unsigned long before = probes_now();
	double longest = 0;
	int open, n408 = 0;

	assert_non_null(s);
	for (int i = 0; i < n; i++) {
		s[i].fd = raw_connect(1);
		assert_true(s[i].fd >= 0);
		s[i].head = head;
		s[i].head_len = strlen(head);
	}
	/* wait for the connects to complete */
	for (int i = 0; i < n; i++) {
		struct pollfd p = {s[i].fd, POLLOUT, 0};
		assert_int_equal(poll(&p, 1, 5000), 1);
	}
	open = trickle(s, n, filler, 50, 4.0 * REQUEST_TIMEOUT_MS + 2000);
	for (int i = 0; i < n; i++) {
		double held = s[i].closed_at - s[i].first_byte;
		n408 += s[i].got_408;
		if (s[i].closed && held > longest)
			longest = held;
		close(s[i].fd);
	}
	H.bad_inputs += (unsigned long)n;
	fprintf(stderr, "hostile: %s: %d connections, %d answered 408, held at most %.0f ms "
		"(request timeout %d ms)\n", what, n, n408, longest, REQUEST_TIMEOUT_MS);
	free(s);
	if (open != 0)
		fail_msg("%s: %d connections still open after %d ms", what, open,
			 4 * REQUEST_TIMEOUT_MS + 2000);
	/* cut off at the request timeout, not long after */
	assert_true(longest >= REQUEST_TIMEOUT_MS - 100);
	assert_true(longest <= 3.0 * REQUEST_TIMEOUT_MS);
	assert_true(n408 >= n / 2);
	check_probes(before, what);
}

/* --- the attacks ------------------------------------------------------------- */

static void test_slowloris(void **state)
{
	(void)state;
	/* the header value grows by one byte per round and never ends */
	slow_attack("slowloris", "GET /ct/v1/get-sth HTTP/1.1\r\nHost: x\r\nX-Slow: ", 'a', 300);
}

static void test_trickle_body(void **state)
{
	(void)state;
	slow_attack("trickle body",
		    "POST /ct/v1/add-chain HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
		    "Content-Length: 60000\r\n\r\n{\"chain\":[\"",
		    'A', 100);
}

static long metric(const char *name)
{
	struct kconn kc;
	struct http_resp r;
	const char *p;
	long v = -1;

	assert_int_equal(kc_open(&kc, H.logd.port, 5000), 0);
	assert_int_equal(kc_request(&kc, "GET", "/metrics", NULL, 0, 1, &r), 0);
	assert_int_equal(r.status, 200);
	p = strstr((char *)r.body, name);
	if (p != NULL)
		v = strtol(p + strlen(name), NULL, 10);
	http_resp_free(&r);
	kc_close(&kc);
	return v;
}

static void test_idle_connections(void **state)
{
	int *fds = malloc(NIDLE * sizeof(int));
	unsigned long before = probes_now();
	long open = -1;
	double t0 = now_ms();

	(void)state;
	assert_non_null(fds);
	for (int i = 0; i < NIDLE; i++) {
		fds[i] = raw_connect(1);
		if (fds[i] < 0)
			fail_msg("connection %d: %s", i, strerror(errno));
	}
	/* every connection is accepted by logd, not left in the backlog: its
	 * own gauge counts them (the prober adds at most one or two) */
	for (int tries = 0; tries < 1000; tries++) {
		open = metric("\nmn_http_connections_open ");
		if (open >= NIDLE)
			break;
		poll(NULL, 0, 10);
	}
	fprintf(stderr, "hostile: %d idle connections: logd has %ld open after %.0f ms\n", NIDLE,
		open, now_ms() - t0);
	assert_true(open >= NIDLE);
	check_probes(before, "10,000 idle connections");
	/* a request on one of them still works */
	{
		struct kconn kc = {.fd = fds[NIDLE / 2], .port = H.logd.port};
		struct ctc_sth s;
		int fl = fcntl(kc.fd, F_GETFL);
		struct timeval tv = {5, 0};
		fcntl(kc.fd, F_SETFL, fl & ~O_NONBLOCK);
		setsockopt(kc.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		assert_int_equal(ctc_get_sth(&kc, H.v, &s), 0);
		free(kc.buf); /* the fd is closed with the others below */
	}
	for (int i = 0; i < NIDLE; i++)
		close(fds[i]);
	free(fds);
	check_probes(probes_now(), "closing 10,000 connections");
}

/* exchange sends |req| whole and reads until the server closes. */
static char *exchange(const void *req, size_t len, size_t *out_len)
{
	char *raw = NULL;
	long n = http_raw(H.logd.port, req, len, &raw);

	assert_true(n >= 0);
	*out_len = (size_t)n;
	H.bad_inputs++;
	return raw;
}

static int count_of(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static void test_pipelined_garbage(void **state)
{
	static const char good[] = "GET /ct/v1/get-sth HTTP/1.1\r\nHost: x\r\n\r\n";
#define G(x) {x, sizeof(x) - 1}
	static const struct {
		const char *s;
		size_t len;
	} garbage[] = {
		G("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), /* a TLS ClientHello */
		G("GET / HTTP/9.9\r\n\r\n"),
		G("GET /ct/v1/get-sth HTTP/1.1\r\nContent-Length: -1\r\n\r\n"),
		G("GET /ct/v1/get-sth HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"),
		G("GET /ct/v1/get-sth HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
		G("POST /ct/v1/add-chain HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
		"Content-Length: 3\r\n\r\n"),
		G("GET /ct/v1/get-sth HTTP/1.1\r\nHo\0st: x\r\n\r\n"),
		G("GET /ct/v1/get-sth HTTP/1.1\nX: \x7f\x01\r\r\n\r\n"),
		G("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGARBAGE"),
		G("GET /ct/v1/get-sth HTTP/1.1\r\n : x\r\n\r\n"),
	};
	unsigned long before = probes_now();
	unsigned seed = (unsigned)time(NULL);
	char *buf = malloc(1 << 20), *raw;
	size_t len, n;

	(void)state;
	assert_non_null(buf);
	fprintf(stderr, "hostile: garbage seed %u\n", seed);
	/* 1. many good requests pipelined in one write: all answered, in order */
	len = 0;
	for (int i = 0; i < 200; i++) {
		memcpy(buf + len, good, sizeof(good) - 1);
		len += sizeof(good) - 1;
	}
	memcpy(buf + len, "GET /ct/v1/get-sth HTTP/1.1\r\nConnection: close\r\n\r\n", 51);
	len += 51;
	raw = exchange(buf, len, &n);
	assert_int_equal(count_of(raw, "HTTP/1.1 200"), 201);
	free(raw);
	/* 2. good requests then each kind of garbage: the good ones are answered,
	 * then one 400 (or 4xx) and a close */
	for (size_t g = 0; g < sizeof(garbage) / sizeof(garbage[0]); g++) {
		size_t gl = garbage[g].len;
		len = 0;
		for (int i = 0; i < 3; i++) {
			memcpy(buf + len, good, sizeof(good) - 1);
			len += sizeof(good) - 1;
		}
		memcpy(buf + len, garbage[g].s, gl);
		len += gl;
		/* and more good requests after it, which must not be answered */
		for (int i = 0; i < 3; i++) {
			memcpy(buf + len, good, sizeof(good) - 1);
			len += sizeof(good) - 1;
		}
		raw = exchange(buf, len, &n);
		if (count_of(raw, "HTTP/1.1 200") < 3 || count_of(raw, "HTTP/1.1 4") != 1) {
			fprintf(stderr, "garbage %zu answered:\n%s\n", g, raw);
			fail_msg("garbage %zu: want three 200s then one 4xx and a close", g);
		}
		free(raw);
	}
	/* 3. random bytes, random lengths, sometimes after a valid prefix */
	for (int k = 0; k < 300; k++) {
		size_t gl = (size_t)(rand_r(&seed) % 20000) + 1;
		len = 0;
		if (k % 3 == 0) {
			memcpy(buf, good, sizeof(good) - 1);
			len = sizeof(good) - 1;
		}
		if (k % 3 == 1) {
			memcpy(buf, "POST /ct/v1/add-chain HTTP/1.1\r\nContent-Length: 100\r\n\r\n", 55);
			len = 55;
		}
		for (size_t i = 0; i < gl; i++)
			buf[len + i] = (char)(rand_r(&seed) & 0xff);
		len += gl;
		raw = exchange(buf, len, &n);
		/* whatever was answered is HTTP; nothing hangs (the exchange ends
		 * with the server's close or its request timeout) */
		if (n > 0 && strncmp(raw, "HTTP/1.1 ", 9) != 0)
			fail_msg("random input %d answered with non-HTTP bytes", k);
		free(raw);
	}
	/* 4. an endless stream of bad request lines on one connection */
	len = 0;
	while (len + 64 < (1 << 20)) {
		memcpy(buf + len, "BREW /pot HTCPCP/1.0\r\n\r\n", 24);
		len += 24;
	}
	raw = exchange(buf, len, &n);
	assert_true(count_of(raw, "HTTP/1.1 4") <= 1);
	free(raw);
	free(buf);
	check_probes(before, "pipelined garbage");
	/* logd is alive and well */
	{
		struct kconn kc;
		struct ctc_sth s;
		assert_int_equal(kc_open(&kc, H.logd.port, 5000), 0);
		assert_int_equal(ctc_get_sth(&kc, H.v, &s), 0);
		kc_close(&kc);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slowloris),
		cmocka_unit_test(test_trickle_body),
		cmocka_unit_test(test_idle_connections),
		cmocka_unit_test(test_pipelined_garbage),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
