/* test_witness_serve.c: `mnctl witness serve` as a process on 127.0.0.1:
 * the statuses over HTTP, keep-alive and pipelining, hostile input (bad HTTP,
 * oversized bodies and headers, 64 proof lines, slowloris), concurrent
 * connections racing sizes of one log, and kill -9 twenty times while
 * requests are in flight: every cosignature it ever returned is kept and
 * checked; no size gets two roots, no step is lost across a restart. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/sha.h>

#include "common/bytes.h"
#include "entry/cosig.h"
#include "entry/note.h"
#include "tests/lib/proc.h"
#include "tests/lib/mnfix.h"
#include "tests/lib/witfix.h"
#include "tests/lib/witproc.h"

#define LEAVES 300

static char dir[] = "/tmp/mn-witserve-XXXXXX";
static char p_state[256], p_key[256], p_logs[256];
static struct witfix *logA, *forkA, *stranger;
static pthread_mutex_t fix_mu = PTHREAD_MUTEX_INITIALIZER; /* refmerkle memoizes */

static void start(struct witproc *w, const char *timeout_s)
{
	struct witproc_opts o = {.timeout_s = timeout_s};

	assert_int_equal(witproc_start(w, dir, "witness.test/w", p_logs, &o), 0);
}

static void reset_state(void)
{
	assert_int_equal(mnfix_rm_rf(p_state), 0);
}

static uint8_t *body_of(struct witfix *f, size_t old, size_t n, size_t *len)
{
	uint8_t *b;

	pthread_mutex_lock(&fix_mu);
	b = witfix_body(f, old, n, len);
	pthread_mutex_unlock(&fix_mu);
	return b;
}

static int post(uint16_t port, const uint8_t *body, size_t len, struct http_resp *r)
{
	return http_do(port, "POST", "/add-checkpoint", NULL, body, len, r);
}

/* check_cosig: |body| (a 200 answer) is one cosignature of the checkpoint of
 * |f| at |n| by |vkey|. */
static int check_cosig(struct witfix *f, size_t n, const char *vkey, const uint8_t *body,
		       size_t body_len)
{
	struct note_checkpoint cp;
	struct note_vkey k;
	uint8_t *all;
	size_t len;
	int ok;

	pthread_mutex_lock(&fix_mu);
	all = witfix_cosigned(f, n, body, body_len, &len);
	pthread_mutex_unlock(&fix_mu);
	ok = wit_valid_sig_lines(body, body_len) &&
	     note_vkey_parse(&k, vkey, strlen(vkey)) == 0 &&
	     note_parse_checkpoint(&cp, all, len) == 0 &&
	     cp.num_sigs == 3 && cosig_verify(&cp, &k, NULL) == 1;
	free(all);
	return ok;
}

static void test_http_statuses(void **state)
{
	struct witproc w;
	struct http_resp r;
	struct note_vkey k;
	struct stat st;
	uint8_t *b;
	size_t len;
	char target[128], hex[65];

	(void)state;
	reset_state();
	unlink(p_key);
	start(&w, NULL);
	/* the printed vkey: a cosignature/v1 key under --name; the key is private */
	assert_int_equal(note_vkey_parse(&k, w.vkey, strlen(w.vkey)), 0);
	assert_int_equal(k.type, NOTE_TYPE_COSIG_V1);
	assert_string_equal(k.name, "witness.test/w");
	assert_int_equal(stat(p_key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	b = body_of(logA, 0, 10, &len);
	assert_int_equal(post(w.port, b, len, &r), 0);
	free(b);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.headers, "Content-Type: text/plain"));
	assert_true(check_cosig(logA, 10, w.vkey, r.body, r.body_len));
	http_resp_free(&r);

	b = body_of(logA, 3, 12, &len);
	assert_int_equal(post(w.port, b, len, &r), 0);
	free(b);
	assert_int_equal(r.status, 409);
	assert_non_null(strstr(r.headers, "Content-Type: text/x.tlog.size"));
	assert_string_equal((char *)r.body, "10\n");
	http_resp_free(&r);

	b = body_of(stranger, 0, 2, &len);
	assert_int_equal(post(w.port, b, len, &r), 0);
	free(b);
	assert_int_equal(r.status, 404);
	http_resp_free(&r);

	b = body_of(forkA, 10, 12, &len);
	assert_int_equal(post(w.port, b, len, &r), 0);
	free(b);
	assert_int_equal(r.status, 422);
	assert_non_null(strstr((char *)r.body, "proof"));
	http_resp_free(&r);

	b = body_of(logA, 0, 2, &len);
	b[len - 30] = b[len - 30] == 'A' ? 'B' : 'A'; /* the Ed25519 signature: 403 */
	assert_int_equal(post(w.port, b, len, &r), 0);
	free(b);
	assert_int_equal(r.status, 403);
	http_resp_free(&r);

	assert_int_equal(post(w.port, (const uint8_t *)"old 1\n", 6, &r), 0);
	assert_int_equal(r.status, 400);
	http_resp_free(&r);
	/* an empty body (the server holds no buffer then) */
	assert_int_equal(post(w.port, NULL, 0, &r), 0);
	assert_int_equal(r.status, 400);
	http_resp_free(&r);

	/* the monitoring endpoint */
	{
		uint8_t h[32];
		SHA256((const uint8_t *)"log.example/a", 13, h);
		for (int i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", h[i]);
	}
	snprintf(target, sizeof(target), "/%s/checkpoint", hex);
	assert_int_equal(http_do(w.port, "GET", target, NULL, NULL, 0, &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr((char *)r.body, "log.example/a\n10\n"));
	http_resp_free(&r);
	assert_int_equal(http_status(w.port, "POST", target, NULL, "x", 1), 405);
	target[1] = target[1] == '0' ? '1' : '0';
	assert_int_equal(http_status(w.port, "GET", target, NULL, NULL, 0), 404);
	assert_int_equal(http_status(w.port, "GET", "/add-checkpoint", NULL, NULL, 0), 405);
	assert_int_equal(http_status(w.port, "GET", "/", NULL, NULL, 0), 404);

	/* SIGTERM: a clean exit (0), and the state survives it */
	assert_int_equal(witproc_stop(&w, SIGTERM), 0);
	start(&w, NULL);
	b = body_of(logA, 0, 12, &len);
	assert_int_equal(post(w.port, b, len, &r), 0);
	free(b);
	assert_int_equal(r.status, 409);
	assert_string_equal((char *)r.body, "10\n");
	http_resp_free(&r);
	assert_int_equal(witproc_stop(&w, SIGINT), 0);
}

/* --- raw connections ----------------------------------------------------- */

static int connect_to(uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void send_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* the server may close on a limit: what it answered is checked */
		p += n;
		len -= (size_t)n;
	}
}

#define send_lit(fd, s) send_all(fd, s, sizeof(s) - 1)

/* read_until_close reads until EOF or |ms|: the bytes (malloc'd), -1 on
 * timeout (the server kept the connection open). */
static long read_until_close(int fd, int ms, char **out)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap + 1);
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		long el;
		ssize_t n;
		clock_gettime(CLOCK_MONOTONIC, &t);
		el = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (el >= ms) {
			free(buf);
			return -1;
		}
		if (poll(&pf, 1, (int)(ms - el)) <= 0)
			continue;
		n = recv(fd, buf + len, cap - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
		}
	}
	buf[len] = '\0';
	*out = buf;
	return (long)len;
}

static int count(const char *s, const char *sub)
{
	int n = 0;

	for (const char *p = strstr(s, sub); p != NULL; p = strstr(p + 1, sub))
		n++;
	return n;
}

static void test_keepalive_and_hostile(void **state)
{
	struct witproc w;
	struct http_resp r;
	char *out, head[256];
	uint8_t *b, *big;
	size_t len;
	long n;
	int fd, hl;

	(void)state;
	reset_state();
	start(&w, "1");

	/* keep-alive with pipelining: three requests in one write, three answers */
	b = body_of(logA, 0, 5, &len);
	hl = snprintf(head, sizeof(head), "POST /add-checkpoint HTTP/1.1\r\nHost: x\r\n"
		      "Content-Length: %zu\r\n\r\n", len);
	{
		char head3[256];
		int hl3 = snprintf(head3, sizeof(head3), "POST /add-checkpoint HTTP/1.1\r\n"
				   "Connection: close\r\nContent-Length: %zu\r\n\r\n", len);
		size_t one = (size_t)hl + len, all_len = 2 * one + (size_t)hl3 + len;
		char *all = malloc(all_len);
		for (int i = 0; i < 2; i++) {
			memcpy(all + i * one, head, (size_t)hl);
			memcpy(all + i * one + hl, b, len);
		}
		/* the last one asks to close */
		memcpy(all + 2 * one, head3, (size_t)hl3);
		memcpy(all + 2 * one + hl3, b, len);
		fd = connect_to(w.port);
		send_all(fd, all, all_len);
		n = read_until_close(fd, 5000, &out);
		assert_true(n > 0);
		assert_int_equal(count(out, "HTTP/1.1 200 OK"), 1);       /* 0 -> 5 */
		assert_int_equal(count(out, "HTTP/1.1 409 Conflict"), 2); /* then old 0 is stale */
		assert_int_equal(count(out, "Connection: close"), 1);
		free(out);
		close(fd);
		free(all);
	}
	free(b);

	/* Expect: 100-continue (libcurl sends it with bodies over 1 KiB and
	 * waits): "100 Continue" comes before the body is sent */
	b = body_of(logA, 5, 5, &len);
	hl = snprintf(head, sizeof(head), "POST /add-checkpoint HTTP/1.1\r\nHost: x\r\n"
		      "Expect: 100-continue\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n",
		      len);
	fd = connect_to(w.port);
	send_all(fd, head, (size_t)hl);
	{
		char got[64] = "";
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		assert_int_equal(poll(&pf, 1, 3000), 1);
		assert_true(recv(fd, got, 25, MSG_WAITALL) == 25);
		assert_memory_equal(got, "HTTP/1.1 100 Continue\r\n\r\n", 25);
	}
	send_all(fd, b, len);
	assert_true(read_until_close(fd, 5000, &out) > 0);
	assert_non_null(strstr(out, "HTTP/1.1 200 OK"));
	free(out);
	close(fd);
	free(b);
	/* CONNECT: 405 */
	fd = connect_to(w.port);
	send_lit(fd, "CONNECT x:1 HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_true(read_until_close(fd, 5000, &out) > 0);
	assert_non_null(strstr(out, "HTTP/1.1 405"));
	free(out);
	close(fd);

	/* an oversized body: 413 from its Content-Length, before reading it */
	fd = connect_to(w.port);
	hl = snprintf(head, sizeof(head), "POST /add-checkpoint HTTP/1.1\r\nHost: x\r\n"
		      "Content-Length: %d\r\n\r\n", WIT_MAX_BODY + 1);
	send_all(fd, head, (size_t)hl);
	assert_true(read_until_close(fd, 5000, &out) > 0);
	assert_non_null(strstr(out, "HTTP/1.1 413"));
	free(out);
	close(fd);
	/* chunked, too large as it arrives: 413 */
	fd = connect_to(w.port);
	hl = snprintf(head, sizeof(head), "POST /add-checkpoint HTTP/1.1\r\nHost: x\r\n"
		      "Transfer-Encoding: chunked\r\n\r\n");
	send_all(fd, head, (size_t)hl);
	big = malloc(WIT_MAX_BODY + 64);
	memset(big, 'A', WIT_MAX_BODY + 64);
	hl = snprintf(head, sizeof(head), "%x\r\n", WIT_MAX_BODY + 8);
	send_all(fd, head, (size_t)hl);
	send_all(fd, big, WIT_MAX_BODY + 8);
	assert_true(read_until_close(fd, 5000, &out) > 0);
	assert_non_null(strstr(out, "HTTP/1.1 413"));
	free(out);
	close(fd);
	/* a header past 16 KiB: 431 */
	fd = connect_to(w.port);
	send_lit(fd, "GET / HTTP/1.1\r\nX-Big: ");
	memset(big, 'a', 20000);
	send_all(fd, big, 20000);
	assert_true(read_until_close(fd, 5000, &out) > 0);
	assert_non_null(strstr(out, "HTTP/1.1 431"));
	free(out);
	close(fd);
	free(big);
	/* a long target: 414; not HTTP: 400 */
	{
		char url[2100];
		memset(url, 'a', sizeof(url) - 1);
		url[0] = '/';
		url[sizeof(url) - 1] = '\0';
		assert_int_equal(http_status(w.port, "GET", url, NULL, NULL, 0), 414);
	}
	fd = connect_to(w.port);
	{
		static const char tls[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n";
		send_all(fd, tls, sizeof(tls) - 1);
	}
	assert_true(read_until_close(fd, 5000, &out) > 0);
	assert_non_null(strstr(out, "HTTP/1.1 400"));
	free(out);
	close(fd);
	/* 64 proof lines: 400 */
	{
		struct cbb cb;
		uint8_t proof[63][32], *cp, *body;
		size_t cl, bl;
		memset(proof, 5, sizeof(proof));
		pthread_mutex_lock(&fix_mu);
		cp = witfix_checkpoint(logA, 9, NULL, &cl);
		pthread_mutex_unlock(&fix_mu);
		assert_true(cbb_init(&cb, 8192, 1 << 20));
		assert_true(cbb_add_bytes(&cb, (const uint8_t *)"old 5\n", 6));
		for (int i = 0; i < 64; i++)
			assert_true(cbb_add_bytes(&cb, (const uint8_t *)
				    "BQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU=\n", 45));
		assert_true(cbb_add_u8(&cb, '\n') && cbb_add_bytes(&cb, cp, cl));
		assert_true(cbb_finish(&cb, &body, &bl));
		assert_int_equal(post(w.port, body, bl, &r), 0);
		assert_int_equal(r.status, 400);
		http_resp_free(&r);
		free(body);
		free(cp);
	}
	/* slowloris: a byte every 300 ms never completes a request; the
	 * connection is closed within the 1 s deadline (+ slack), not held */
	{
		struct timespec t0, t1;
		const char *req = "POST /add-checkpoint HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n";
		int closed = 0;
		fd = connect_to(w.port);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (size_t i = 0; i < strlen(req) && !closed; i++) {
			struct pollfd pf = {.fd = fd, .events = POLLIN};
			send_all(fd, req + i, 1);
			if (poll(&pf, 1, 300) > 0) {
				char c;
				closed = recv(fd, &c, 1, 0) <= 0;
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		assert_true(closed);
		assert_true(t1.tv_sec - t0.tv_sec <= 3);
		close(fd);
	}
	/* an idle connection is closed too */
	fd = connect_to(w.port);
	assert_true(read_until_close(fd, 4000, &out) >= 0);
	free(out);
	close(fd);
	/* still serving */
	b = body_of(logA, 5, 9, &len);
	assert_int_equal(post(w.port, b, len, &r), 0);
	free(b);
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	assert_int_equal(witproc_stop(&w, SIGTERM), 0);
}

/* At most 1024 connections (WS_MAX_CONNS): those past it are closed at once,
 * those within are served, and closing them frees their places. */
static void test_connection_limit(void **state)
{
	enum { N = 1024 + 8 };
	static int fds[N];
	struct witproc w;
	struct http_resp r;
	char *out;
	int closed_past = 0;

	(void)state;
	reset_state();
	start(&w, NULL);
	for (int i = 0; i < N; i++)
		fds[i] = connect_to(w.port);
	/* the last ones: closed by the server without an answer */
	for (int i = 1024; i < N; i++) {
		long n = read_until_close(fds[i], 5000, &out);
		if (n == 0)
			closed_past++;
		if (n >= 0)
			free(out);
	}
	assert_int_equal(closed_past, N - 1024);
	/* the first one is still served on its connection */
	send_lit(fds[0], "GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
	assert_true(read_until_close(fds[0], 5000, &out) > 0);
	assert_non_null(strstr(out, "HTTP/1.1 404"));
	free(out);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	/* the places are free again (polled: the server sees the closes) */
	for (int tries = 0;; tries++) {
		struct pollfd none;
		int got = http_do(w.port, "GET", "/", NULL, NULL, 0, &r) == 0 && r.status == 404;
		http_resp_free(&r);
		if (got)
			break;
		assert_true(tries < 1000);
		poll(&none, 0, 5);
	}
	assert_int_equal(witproc_stop(&w, SIGTERM), 0);
}

/* --- racing clients, and kill -9 ----------------------------------------- */

#define MAX_COSIGS 20000

struct cosig_rec {
	uint64_t old, size;
	int fork;
	int round;
};

static struct {
	pthread_mutex_t mu;
	uint16_t port;
	char vkey[640];
	int round;
	volatile int stop;
	struct cosig_rec recs[MAX_COSIGS];
	size_t num;
	long answered;           /* any complete answer */
	int bad;                 /* a 200 that does not verify, an unexpected status */
} R = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void *client_thread(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg * 7919u + (unsigned)R.round;
	uint64_t known = 0;
	int fork = (uintptr_t)arg % 4 == 0;
	struct witfix *f = fork ? forkA : logA;

	while (!R.stop) {
		uint64_t n = known + (uint64_t)(rand_r(&seed) % 5);
		struct http_resp r;
		uint8_t *b;
		size_t len;
		if (n > LEAVES)
			n = LEAVES;
		b = body_of(f, known, n, &len);
		if (post(R.port, b, len, &r) != 0) {
			free(b);
			continue; /* killed mid-request */
		}
		free(b);
		pthread_mutex_lock(&R.mu);
		R.answered++;
		if (r.status == 200) {
			if (!check_cosig(f, n, R.vkey, r.body, r.body_len)) {
				R.bad++;
			} else if (R.num < MAX_COSIGS) {
				struct cosig_rec *x = &R.recs[R.num++];
				x->old = known;
				x->size = n;
				x->fork = fork;
				x->round = R.round;
			}
			known = n;
		} else if (r.status == 409) {
			if (wit_parse_size(r.body, r.body_len, &known) != 0)
				R.bad++;
		} else if (r.status != 422) {
			R.bad++;
		}
		pthread_mutex_unlock(&R.mu);
		http_resp_free(&r);
		if (known >= LEAVES)
			known = 0; /* the log is full: keep asking (409s) */
	}
	return NULL;
}

static long answered(void)
{
	long a;

	pthread_mutex_lock(&R.mu);
	a = R.answered;
	pthread_mutex_unlock(&R.mu);
	return a;
}

static long cosigned(void)
{
	long a;

	pthread_mutex_lock(&R.mu);
	a = (long)R.num;
	pthread_mutex_unlock(&R.mu);
	return a;
}

/* wait_for polls until |get| reaches |from| + |more| (60 s cap). */
static int wait_for(long (*get)(void), long from, long more)
{
	for (int i = 0; i < 60000; i++) {
		struct pollfd none;
		if (get() >= from + more)
			return 1;
		poll(&none, 0, 1);
	}
	return 0;
}

/* check_history: no size has two roots (forks differ from leaf 0, so one
 * fork only), no two steps leave one old size, and |stored| (the size the
 * witness reports now) is at least every size it answered. */
static void check_history(uint64_t stored)
{
	size_t steps_from[LEAVES + 1] = {0};
	int fork = -1;

	for (size_t i = 0; i < R.num; i++) {
		const struct cosig_rec *x = &R.recs[i];
		if (x->size > 0) {
			if (fork < 0)
				fork = x->fork;
			assert_int_equal(x->fork, fork);
		}
		if (x->size > x->old) {
			steps_from[x->old]++;
			assert_true(steps_from[x->old] <= 1);
		}
		assert_true(x->size <= stored);
	}
}

static uint64_t stored_size(uint16_t port)
{
	struct http_resp r;
	uint8_t *b;
	size_t len;
	uint64_t sz = 0;

	/* old LEAVES never matches (the log never gets there in these tests
	 * unless full): a 409 tells the size, a 200 means it is LEAVES */
	b = body_of(logA, LEAVES, LEAVES, &len);
	assert_int_equal(post(port, b, len, &r), 0);
	free(b);
	if (r.status == 409)
		assert_int_equal(wit_parse_size(r.body, r.body_len, &sz), 0);
	else
		sz = r.status == 200 ? LEAVES : (uint64_t)-1;
	http_resp_free(&r);
	return sz;
}

/* run_round runs 12 racing clients until |more| more cosignatures came back
 * (and, without kill9, |more| more answers of any kind), then kills the
 * witness with SIGKILL (kill9) while they are still sending, or stops them. */
static void run_round(struct witproc *w, int kill9, long more)
{
	pthread_t t[12];

	R.port = w->port;
	snprintf(R.vkey, sizeof(R.vkey), "%s", w->vkey);
	R.stop = 0;
	for (uintptr_t i = 0; i < 12; i++)
		assert_int_equal(pthread_create(&t[i], NULL, client_thread, (void *)(i + 1)), 0);
	if (kill9)
		assert_true(wait_for(cosigned, cosigned(), more));
	else
		assert_true(wait_for(answered, answered(), more));
	if (kill9)
		assert_int_equal(witproc_stop(w, SIGKILL), 128 + SIGKILL);
	R.stop = 1;
	for (int i = 0; i < 12; i++)
		pthread_join(t[i], NULL);
}

static void test_concurrent_connections(void **state)
{
	struct witproc w;

	(void)state;
	reset_state();
	R.num = 0;
	R.bad = 0;
	R.round = 0;
	start(&w, NULL);
	run_round(&w, 0, 400);
	assert_int_equal(R.bad, 0);
	assert_true(R.num > 5);
	check_history(stored_size(w.port));
	assert_int_equal(witproc_stop(&w, SIGTERM), 0);
}

static void test_kill9(void **state)
{
	struct witproc w;
	unsigned seed = 12345;

	(void)state;
	reset_state();
	R.num = 0;
	R.bad = 0;
	for (int round = 0; round < 20; round++) {
		uint64_t sz;
		R.round = round;
		start(&w, NULL);
		/* after a restart: it remembers at least what it answered */
		sz = stored_size(w.port);
		check_history(sz);
		/* SIGKILL after 1 to 4 more cosignatures, 12 clients sending */
		run_round(&w, 1, 1 + (long)(rand_r(&seed) % 4));
	}
	start(&w, NULL);
	check_history(stored_size(w.port));
	fprintf(stderr, "kill -9 x20: %zu cosignatures kept and checked of %ld answers\n", R.num,
		R.answered);
	assert_int_equal(R.bad, 0);
	assert_true(R.num > 20);
	assert_int_equal(witproc_stop(&w, SIGTERM), 0);
}

static int setup(void **state)
{
	struct witfix *fs[1];

	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(p_state, sizeof(p_state), "%s/state", dir);
	snprintf(p_key, sizeof(p_key), "%s/key.pem", dir);
	snprintf(p_logs, sizeof(p_logs), "%s/logs", dir);
	logA = witfix_new("log.example/a", LEAVES, "A");
	forkA = witfix_fork(logA, LEAVES, "F");
	stranger = witfix_new("log.example/x", 4, "X");
	fs[0] = logA;
	witfix_write_logs(p_logs, fs, 1);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	witfix_free(logA);
	witfix_free(forkA);
	witfix_free(stranger);
	return mnfix_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_statuses),
		cmocka_unit_test(test_keepalive_and_hostile),
		cmocka_unit_test(test_connection_limit),
		cmocka_unit_test(test_concurrent_connections),
		cmocka_unit_test(test_kill9),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
