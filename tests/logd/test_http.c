/* test_http.c: the HTTP/1.1 transport against real sockets on 127.0.0.1:
 * round trips, keep-alive, pipelining, async completions from other threads,
 * every limit and timeout, connection floods, graceful stop, metrics.
 * Clients are plain blocking sockets; SO_RCVTIMEO is only a safety net, every
 * wait is for a byte, an EOF or a condition variable, never a sleep. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/prom.h"
#include "logd/http.h"

/* ---- the fake handler ---- */

struct fake {
	struct http_server *srv;
	sem_t hold; /* /async-hold and /slow-post wait for a post */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned threads_started, threads_finished; /* completer threads */
	unsigned slow_entered;                      /* /slow-post handlers running */
	int on_loop_thread_post;                    /* a POST handler ran on a loop? */
};

static struct fake F;

static void set_body(struct api_response *r, int status, const char *s, size_t len)
{
	r->status = status;
	r->content_type = NULL;
	r->body = malloc(len != 0 ? len : 1);
	assert_non_null(r->body);
	memcpy(r->body, s, len);
	r->body_len = len;
	r->retry_after = 0;
	r->headers = NULL;
}

/* echo_json describes |req| as {"method":..,"path":..,"query":..,"body_len":..};
 * bytes outside printable ASCII or quotes become '?'. */
static size_t echo_json(char *out, size_t cap, const struct api_request *req, int async)
{
	char path[5000], query[5000];
	size_t i;
	int n;

	assert_true(req->path_len < sizeof(path) && req->query_len < sizeof(query));
	for (i = 0; i < req->path_len; i++)
		path[i] = req->path[i] >= 0x20 && req->path[i] < 0x7f && req->path[i] != '"' &&
				  req->path[i] != '\\'
			      ? req->path[i]
			      : '?';
	path[i] = 0;
	for (i = 0; i < req->query_len; i++)
		query[i] = req->query[i] >= 0x20 && req->query[i] < 0x7f &&
				   req->query[i] != '"' && req->query[i] != '\\'
			       ? req->query[i]
			       : '?';
	query[i] = 0;
	n = snprintf(out, cap,
		     "{\"method\":\"%s\",\"path\":\"%s\",\"query\":%s%s%s,\"body_len\":%zu,"
		     "\"async\":%d}",
		     req->method == API_GET ? "GET" : req->method == API_POST ? "POST" : "OTHER",
		     path, req->query != NULL ? "\"" : "", req->query != NULL ? query : "null",
		     req->query != NULL ? "\"" : "", req->body_len, async);
	assert_true(n > 0 && (size_t)n < cap);
	return (size_t)n;
}

struct completer {
	api_done_fn done;
	void *done_ctx;
	int hold;
	char json[11000];
	size_t json_len;
};

static void *completer_main(void *arg)
{
	struct completer *cp = arg;
	struct api_response r;

	if (cp->hold)
		sem_wait(&F.hold);
	/* a response on this thread's stack: done() must copy it */
	set_body(&r, 200, cp->json, cp->json_len);
	cp->done(cp->done_ctx, &r);
	free(cp);
	pthread_mutex_lock(&F.mu);
	F.threads_finished++;
	pthread_cond_broadcast(&F.cv);
	pthread_mutex_unlock(&F.mu);
	return NULL;
}

static int path_is(const struct api_request *req, const char *p)
{
	return req->path_len == strlen(p) && memcmp(req->path, p, req->path_len) == 0;
}

static int fake_handler(void *ctx, const struct api_request *req, struct api_response *resp,
			api_done_fn done, void *done_ctx)
{
	char json[11000];
	size_t n;

	(void)ctx;
	if (path_is(req, "/async") || path_is(req, "/async-hold")) {
		struct completer *cp = calloc(1, sizeof(*cp));
		pthread_t t;
		assert_non_null(cp);
		cp->done = done;
		cp->done_ctx = done_ctx;
		cp->hold = path_is(req, "/async-hold");
		cp->json_len = echo_json(cp->json, sizeof(cp->json), req, 1);
		pthread_mutex_lock(&F.mu);
		F.threads_started++;
		pthread_cond_broadcast(&F.cv);
		pthread_mutex_unlock(&F.mu);
		assert_int_equal(pthread_create(&t, NULL, completer_main, cp), 0);
		pthread_detach(t);
		return API_ASYNC;
	}
	if (path_is(req, "/slow-post")) {
		pthread_mutex_lock(&F.mu);
		F.slow_entered++;
		pthread_cond_broadcast(&F.cv);
		pthread_mutex_unlock(&F.mu);
		sem_wait(&F.hold); /* CPU-heavy validation stands in here */
	}
	if (path_is(req, "/metrics")) {
		struct prom *w = prom_new(0);
		char *text = NULL;
		assert_non_null(w);
		http_server_metrics(F.srv, w);
		assert_int_equal(prom_finish(w, &text, &resp->body_len), 0);
		prom_free(w);
		resp->status = 200;
		resp->content_type = "text/plain; version=0.0.4";
		resp->body = (uint8_t *)text;
		return API_DONE;
	}
	if (path_is(req, "/missing")) {
		api_response_error(resp, 404, "notFound", "unknown path");
		return API_DONE;
	}
	if (path_is(req, "/busy")) {
		api_response_error(resp, 503, "unavailable", "try later");
		resp->retry_after = 7;
		return API_DONE;
	}
	n = echo_json(json, sizeof(json), req, 0);
	set_body(resp, 200, json, n);
	return API_DONE;
}

/* ---- server fixture ---- */

static void opts_default(struct http_options *o)
{
	memset(o, 0, sizeof(*o));
	o->host = "127.0.0.1";
	o->threads = 2;
	o->max_body_bytes = 64 << 10;
	o->idle_timeout_ms = 5000;
	o->request_timeout_ms = 5000;
}

static uint16_t srv_start(const struct http_options *o)
{
	assert_int_equal(http_server_start(&F.srv, o, fake_handler, NULL), 0);
	return http_server_port(F.srv);
}

/* srv_stop stops the server, then waits until every completer thread is
 * gone, so ASan's leak check at exit sees a quiet process. */
static void srv_stop(void)
{
	http_server_stop(F.srv);
	F.srv = NULL;
	pthread_mutex_lock(&F.mu);
	while (F.threads_finished != F.threads_started)
		pthread_cond_wait(&F.cv, &F.mu);
	pthread_mutex_unlock(&F.mu);
}

/* ---- client ---- */

struct client {
	int fd;
	char buf[1 << 17];
	size_t len;
};

struct resp {
	int status;
	char head[4096];
	char *body; /* malloc'd, NUL-terminated */
	size_t body_len;
	int conn_close;
};

static int dial(uint16_t port)
{
	struct sockaddr_in sa;
	struct timeval tv = {10, 0}; /* a safety net against hangs, not a wait */
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static struct client *client_new(uint16_t port)
{
	struct client *cl = calloc(1, sizeof(*cl));

	assert_non_null(cl);
	cl->fd = dial(port);
	return cl;
}

static void client_free(struct client *cl)
{
	if (cl->fd >= 0)
		close(cl->fd);
	free(cl);
}

static int send_all(int fd, const void *p, size_t len)
{
	const char *b = p;

	while (len > 0) {
		ssize_t n = send(fd, b, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

static void csend(struct client *cl, const char *s)
{
	assert_int_equal(send_all(cl->fd, s, strlen(s)), 0);
}

/* fill reads more bytes; returns >0, 0 on EOF, -1 on error or timeout. */
static ssize_t fill(struct client *cl)
{
	ssize_t n;

	if (cl->len == sizeof(cl->buf))
		return -1;
	do
		n = recv(cl->fd, cl->buf + cl->len, sizeof(cl->buf) - cl->len, 0);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		cl->len += (size_t)n;
	return n;
}

/* read_resp reads one response. Returns 0, or -1 on EOF/error before one. */
static int read_resp(struct client *cl, struct resp *r)
{
	char *end, *cl_hdr;
	size_t hlen, blen = 0;

	memset(r, 0, sizeof(*r));
	for (;;) {
		end = cl->len >= 4 ? memmem(cl->buf, cl->len, "\r\n\r\n", 4) : NULL;
		if (end != NULL)
			break;
		if (fill(cl) <= 0)
			return -1;
	}
	hlen = (size_t)(end - cl->buf) + 4;
	assert_true(hlen < sizeof(r->head));
	memcpy(r->head, cl->buf, hlen);
	r->head[hlen] = 0;
	assert_int_equal(sscanf(r->head, "HTTP/1.1 %d ", &r->status), 1);
	cl_hdr = strstr(r->head, "\r\nContent-Length: ");
	if (cl_hdr != NULL)
		blen = strtoul(cl_hdr + 18, NULL, 10);
	r->conn_close = strstr(r->head, "\r\nConnection: close\r\n") != NULL;
	while (cl->len < hlen + blen)
		if (fill(cl) <= 0)
			return -1;
	r->body = malloc(blen + 1);
	assert_non_null(r->body);
	memcpy(r->body, cl->buf + hlen, blen);
	r->body[blen] = 0;
	r->body_len = blen;
	memmove(cl->buf, cl->buf + hlen + blen, cl->len - hlen - blen);
	cl->len -= hlen + blen;
	return 0;
}

/* read_head reads a response to HEAD: headers only. */
static int read_head_only(struct client *cl, struct resp *r)
{
	char *end;
	size_t hlen;

	memset(r, 0, sizeof(*r));
	while ((end = cl->len >= 4 ? memmem(cl->buf, cl->len, "\r\n\r\n", 4) : NULL) == NULL)
		if (fill(cl) <= 0)
			return -1;
	hlen = (size_t)(end - cl->buf) + 4;
	memcpy(r->head, cl->buf, hlen);
	r->head[hlen] = 0;
	assert_int_equal(sscanf(r->head, "HTTP/1.1 %d ", &r->status), 1);
	memmove(cl->buf, cl->buf + hlen, cl->len - hlen);
	cl->len -= hlen;
	return 0;
}

static void resp_free(struct resp *r)
{
	free(r->body);
	r->body = NULL;
}

/* expect_eof: the server closes (EOF or reset) with nothing more to read. */
static void expect_eof(struct client *cl)
{
	ssize_t n;

	assert_int_equal(cl->len, 0);
	n = fill(cl);
	if (n < 0)
		assert_int_equal(errno, ECONNRESET); /* not EAGAIN: the timeout */
	else
		assert_int_equal(n, 0);
}

/* roundtrip sends |req| on a new connection and reads one response. */
static void roundtrip(uint16_t port, const char *req, struct resp *r)
{
	struct client *cl = client_new(port);

	csend(cl, req);
	assert_int_equal(read_resp(cl, r), 0);
	client_free(cl);
}

/* expect_error checks a transport error: status, JSON body naming the
 * problem, Connection: close, and then the close. */
static void expect_error(struct client *cl, int status, const char *code)
{
	struct resp r;
	char want[128];

	assert_int_equal(read_resp(cl, &r), 0);
	assert_int_equal(r.status, status);
	assert_true(r.conn_close);
	assert_non_null(strstr(r.head, "\r\nContent-Type: application/json\r\n"));
	snprintf(want, sizeof(want), "{\"error_code\": \"%s\", \"error_message\": \"", code);
	assert_true(strncmp(r.body, want, strlen(want)) == 0);
	resp_free(&r);
	expect_eof(cl);
}

/* ---- tests ---- */

static void test_get_post_roundtrip(void **state)
{
	struct http_options o;
	struct resp r;
	uint16_t port;

	(void)state;
	opts_default(&o);
	port = srv_start(&o);

	roundtrip(port, "GET /hello?x=1&y=2 HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	assert_false(r.conn_close);
	assert_non_null(strstr(r.head, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(r.head, "\r\nContent-Type: application/json\r\n"));
	assert_string_equal(r.body, "{\"method\":\"GET\",\"path\":\"/hello\",\"query\":\"x=1&y=2\","
				    "\"body_len\":0,\"async\":0}");
	resp_free(&r);

	roundtrip(port,
		  "POST /ct/v1/add-chain HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n"
		  "hello world",
		  &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"method\":\"POST\",\"path\":\"/ct/v1/add-chain\","
				    "\"query\":null,\"body_len\":11,\"async\":0}");
	resp_free(&r);

	/* percent-decoded path (RFC 3986 section 2.1), raw query, absolute-form */
	roundtrip(port, "GET /a%2Fb%41?q=%41 HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	assert_string_equal(r.body, "{\"method\":\"GET\",\"path\":\"/a/bA\",\"query\":\"q=%41\","
				    "\"body_len\":0,\"async\":0}");
	resp_free(&r);
	roundtrip(port, "GET http://example.com/abs?z HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	assert_string_equal(r.body, "{\"method\":\"GET\",\"path\":\"/abs\",\"query\":\"z\","
				    "\"body_len\":0,\"async\":0}");
	resp_free(&r);
	roundtrip(port, "DELETE /x HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	assert_non_null(strstr(r.body, "\"method\":\"OTHER\""));
	resp_free(&r);

	/* a handler's own error keeps the connection; Retry-After is passed on */
	roundtrip(port, "GET /busy HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	assert_int_equal(r.status, 503);
	assert_non_null(strstr(r.head, "\r\nRetry-After: 7\r\n"));
	assert_false(r.conn_close);
	resp_free(&r);

	/* HTTP/1.0 without keep-alive: answered, then closed */
	{
		struct client *cl = client_new(port);
		csend(cl, "GET /old HTTP/1.0\r\n\r\n");
		assert_int_equal(read_resp(cl, &r), 0);
		assert_int_equal(r.status, 200);
		assert_true(r.conn_close);
		resp_free(&r);
		expect_eof(cl);
		client_free(cl);
	}
	/* HTTP/1.0 that asks for keep-alive is told so, and kept */
	{
		struct client *cl = client_new(port);
		for (int i = 0; i < 2; i++) {
			csend(cl, "GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
			assert_int_equal(read_resp(cl, &r), 0);
			assert_int_equal(r.status, 200);
			assert_non_null(strstr(r.head, "\r\nConnection: keep-alive\r\n"));
			resp_free(&r);
		}
		client_free(cl);
	}
	srv_stop();
}

static void test_bad_escape(void **state)
{
	struct http_options o;
	struct client *cl;

	(void)state;
	opts_default(&o);
	cl = client_new(srv_start(&o));
	csend(cl, "GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n");
	expect_error(cl, 400, "malformed");
	client_free(cl);
	srv_stop();
}

static void test_head(void **state)
{
	struct http_options o;
	struct client *cl;
	struct resp r;

	(void)state;
	opts_default(&o);
	cl = client_new(srv_start(&o));
	/* HEAD: the headers a GET gets, no body; then the next response must
	 * start right after them */
	csend(cl, "HEAD /h HTTP/1.1\r\nHost: a\r\n\r\nGET /g HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(read_head_only(cl, &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.head, "\r\nContent-Length: "));
	assert_int_equal(read_resp(cl, &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"path\":\"/g\""));
	resp_free(&r);
	client_free(cl);
	srv_stop();
}

static void test_keepalive_100(void **state)
{
	struct http_options o;
	struct client *cl;
	struct resp r;
	char req[128], want[64];
	int i;

	(void)state;
	opts_default(&o);
	cl = client_new(srv_start(&o));
	for (i = 0; i < 100; i++) {
		if (i % 2 == 0)
			snprintf(req, sizeof(req), "GET /k/%d HTTP/1.1\r\nHost: a\r\n\r\n", i);
		else
			snprintf(req, sizeof(req),
				 "POST /k/%d HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", i);
		csend(cl, req);
		assert_int_equal(read_resp(cl, &r), 0);
		assert_int_equal(r.status, 200);
		assert_false(r.conn_close);
		snprintf(want, sizeof(want), "\"path\":\"/k/%d\"", i);
		assert_non_null(strstr(r.body, want));
		resp_free(&r);
	}
	client_free(cl);
	srv_stop();
}

static void test_pipelining_50(void **state)
{
	struct http_options o;
	struct client *cl;
	struct resp r;
	char *all = malloc(50 * 128), want[64];
	size_t off = 0;
	int i;

	(void)state;
	assert_non_null(all);
	opts_default(&o);
	cl = client_new(srv_start(&o));
	/* GETs run on the loop, POSTs on the pool, /async on another thread:
	 * the answers must still come back in request order */
	for (i = 0; i < 50; i++) {
		if (i % 5 == 1)
			off += (size_t)snprintf(all + off, 128,
						"POST /p/%d HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nxy", i);
		else if (i % 5 == 3)
			off += (size_t)snprintf(all + off, 128, "GET /async?i=%d HTTP/1.1\r\nHost: a\r\n\r\n", i);
		else
			off += (size_t)snprintf(all + off, 128, "GET /p/%d HTTP/1.1\r\nHost: a\r\n\r\n", i);
	}
	assert_int_equal(send_all(cl->fd, all, off), 0);
	for (i = 0; i < 50; i++) {
		assert_int_equal(read_resp(cl, &r), 0);
		assert_int_equal(r.status, 200);
		if (i % 5 == 3)
			snprintf(want, sizeof(want), "\"query\":\"i=%d\"", i);
		else
			snprintf(want, sizeof(want), "\"path\":\"/p/%d\"", i);
		assert_non_null(strstr(r.body, want));
		resp_free(&r);
	}
	free(all);
	client_free(cl);
	srv_stop();
}

static void test_async(void **state)
{
	struct http_options o;
	struct client *cl;
	struct resp r;

	(void)state;
	opts_default(&o);
	cl = client_new(srv_start(&o));
	csend(cl, "GET /async HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(read_resp(cl, &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"method\":\"GET\",\"path\":\"/async\",\"query\":null,"
				    "\"body_len\":0,\"async\":1}");
	resp_free(&r);
	/* a POST whose handler (on the pool) goes async, same connection */
	csend(cl, "POST /async HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nabcd");
	assert_int_equal(read_resp(cl, &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"method\":\"POST\",\"path\":\"/async\",\"query\":null,"
				    "\"body_len\":4,\"async\":1}");
	resp_free(&r);
	client_free(cl);
	srv_stop();
}

static void test_post_runs_off_loop(void **state)
{
	struct http_options o;
	struct client *a, *b;
	struct resp r;
	uint16_t port;

	(void)state;
	opts_default(&o);
	o.threads = 1; /* one loop: a POST blocking it would block the GET */
	port = srv_start(&o);
	a = client_new(port);
	b = client_new(port);
	csend(a, "POST /slow-post HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx");
	pthread_mutex_lock(&F.mu);
	while (F.slow_entered == 0)
		pthread_cond_wait(&F.cv, &F.mu);
	pthread_mutex_unlock(&F.mu);
	/* the POST handler is now blocked; the loop must still answer */
	csend(b, "GET /quick HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(read_resp(b, &r), 0);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	sem_post(&F.hold);
	assert_int_equal(read_resp(a, &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"path\":\"/slow-post\""));
	resp_free(&r);
	F.slow_entered = 0;
	client_free(a);
	client_free(b);
	srv_stop();
}

static void test_body_too_large_content_length(void **state)
{
	struct http_options o;
	struct client *cl;

	(void)state;
	opts_default(&o);
	o.max_body_bytes = 0; /* the default, 1 MiB */
	cl = client_new(srv_start(&o));
	/* 10 MiB announced, not one byte of body sent: the 413 must come anyway */
	csend(cl, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 10485760\r\n\r\n");
	expect_error(cl, 413, "tooLarge");
	client_free(cl);
	srv_stop();
}

static void test_expect_continue(void **state)
{
	struct http_options o;
	struct client *cl;
	struct resp r;
	uint16_t port;

	(void)state;
	opts_default(&o);
	port = srv_start(&o);
	cl = client_new(port);
	csend(cl, "POST /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
	assert_int_equal(read_head_only(cl, &r), 0);
	assert_int_equal(r.status, 100);
	csend(cl, "12345");
	assert_int_equal(read_resp(cl, &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"body_len\":5"));
	resp_free(&r);
	client_free(cl);
	/* too large: 413 instead of 100 */
	cl = client_new(port);
	csend(cl, "POST /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
		  "Content-Length: 1000000\r\n\r\n");
	expect_error(cl, 413, "tooLarge");
	client_free(cl);
	srv_stop();
}

static void test_header_too_large(void **state)
{
	struct http_options o;
	struct client *cl;
	char *req = malloc(10000);
	int n;

	(void)state;
	assert_non_null(req);
	opts_default(&o);
	cl = client_new(srv_start(&o));
	n = snprintf(req, 10000, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ");
	memset(req + n, 'v', 8300);
	memcpy(req + n + 8300, "\r\n\r\n", 5);
	csend(cl, req);
	expect_error(cl, 431, "headersTooLarge");
	client_free(cl);

	/* many small headers add up the same way */
	cl = client_new(http_server_port(F.srv));
	csend(cl, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (n = 0; n < 1000; n++)
		csend(cl, "X-A: 1234\r\n");
	csend(cl, "\r\n");
	expect_error(cl, 431, "headersTooLarge");
	client_free(cl);

	/* just under the limit passes */
	cl = client_new(http_server_port(F.srv));
	n = snprintf(req, 10000, "GET /ok HTTP/1.1\r\nHost: a\r\nX-Big: ");
	memset(req + n, 'v', 7000);
	memcpy(req + n + 7000, "\r\n\r\n", 5);
	csend(cl, req);
	{
		struct resp r;
		assert_int_equal(read_resp(cl, &r), 0);
		assert_int_equal(r.status, 200);
		resp_free(&r);
	}
	client_free(cl);
	free(req);
	srv_stop();
}

static void test_url_too_long(void **state)
{
	struct http_options o;
	struct client *cl;
	char *req = malloc(6000);

	(void)state;
	assert_non_null(req);
	opts_default(&o);
	cl = client_new(srv_start(&o));
	memcpy(req, "GET /", 5);
	memset(req + 5, 'u', 5000);
	memcpy(req + 5005, " HTTP/1.1\r\nHost: a\r\n\r\n", sizeof(" HTTP/1.1\r\nHost: a\r\n\r\n"));
	csend(cl, req);
	expect_error(cl, 414, "uriTooLong");
	client_free(cl);
	free(req);
	srv_stop();
}

static void test_garbage(void **state)
{
	struct http_options o;
	struct client *cl;
	uint16_t port;

	(void)state;
	opts_default(&o);
	port = srv_start(&o);
	cl = client_new(port);
	csend(cl, "\x01\x02\xff garbage\r\n\r\n");
	expect_error(cl, 400, "malformed");
	client_free(cl);
	/* a bad request after a good one on the same connection */
	cl = client_new(port);
	csend(cl, "GET /ok HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/9.Z\r\n\r\n");
	{
		struct resp r;
		assert_int_equal(read_resp(cl, &r), 0);
		assert_int_equal(r.status, 200);
		resp_free(&r);
	}
	expect_error(cl, 400, "malformed");
	client_free(cl);
	/* request smuggling shape: both Content-Length and chunked */
	cl = client_new(port);
	csend(cl, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
		  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
	expect_error(cl, 400, "malformed");
	client_free(cl);
	srv_stop();
}

static void send_chunked(struct client *cl, size_t total, size_t chunk)
{
	char *data = malloc(chunk), line[32];

	assert_non_null(data);
	memset(data, 'c', chunk);
	csend(cl, "POST /chunky HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
	while (total > 0) {
		size_t n = total < chunk ? total : chunk;
		snprintf(line, sizeof(line), "%zx\r\n", n);
		if (send_all(cl->fd, line, strlen(line)) != 0 ||
		    send_all(cl->fd, data, n) != 0 || send_all(cl->fd, "\r\n", 2) != 0)
			break; /* the server may stop reading once it said 413 */
		total -= n;
	}
	(void)send_all(cl->fd, "0\r\n\r\n", 5);
	free(data);
}

static void test_chunked(void **state)
{
	struct http_options o;
	struct client *cl;
	struct resp r;
	uint16_t port;

	(void)state;
	opts_default(&o); /* max_body_bytes = 64 KiB */
	port = srv_start(&o);
	cl = client_new(port);
	send_chunked(cl, 60000, 7000);
	assert_int_equal(read_resp(cl, &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"body_len\":60000"));
	assert_false(r.conn_close);
	resp_free(&r);
	client_free(cl);

	/* a Content-Length body larger than the preallocation, twice on one
	 * connection (the buffer is given back and regrown in between) */
	cl = client_new(port);
	{
		char *big = malloc(65536 + 128);
		int k, hl;
		assert_non_null(big);
		for (k = 0; k < 2; k++) {
			hl = snprintf(big, 128, "POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: 65536\r\n\r\n");
			memset(big + hl, 'b', 65536);
			assert_int_equal(send_all(cl->fd, big, (size_t)hl + 65536), 0);
			assert_int_equal(read_resp(cl, &r), 0);
			assert_int_equal(r.status, 200);
			assert_non_null(strstr(r.body, "\"body_len\":65536"));
			resp_free(&r);
		}
		free(big);
	}
	client_free(cl);

	cl = client_new(port);
	send_chunked(cl, 70000, 7000);
	expect_error(cl, 413, "tooLarge");
	client_free(cl);
	srv_stop();
}

static void test_idle_timeout(void **state)
{
	struct http_options o;
	struct client *cl;
	struct resp r;
	uint64_t t0;

	(void)state;
	opts_default(&o);
	o.idle_timeout_ms = 200;
	o.request_timeout_ms = 200;
	cl = client_new(srv_start(&o));
	t0 = mn_mono_ns();
	expect_eof(cl); /* nothing sent: closed silently */
	assert_true(mn_mono_ns() - t0 >= 150u * 1000000);
	client_free(cl);

	/* after a response, an idle keep-alive connection is closed silently */
	cl = client_new(http_server_port(F.srv));
	csend(cl, "GET /k HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(read_resp(cl, &r), 0);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	expect_eof(cl);
	client_free(cl);
	srv_stop();
}

static void test_request_timeout(void **state)
{
	struct http_options o;
	struct client *cl;
	uint64_t t0;

	(void)state;
	opts_default(&o);
	o.request_timeout_ms = 200;
	cl = client_new(srv_start(&o));
	t0 = mn_mono_ns();
	csend(cl, "POST /half HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc");
	expect_error(cl, 408, "requestTimeout");
	assert_true(mn_mono_ns() - t0 >= 150u * 1000000);
	client_free(cl);
	/* headers cut short as well */
	cl = client_new(http_server_port(F.srv));
	csend(cl, "GET / HTTP/1.1\r\nHost: a\r\n");
	expect_error(cl, 408, "requestTimeout");
	client_free(cl);
	srv_stop();
}

static void test_half_close(void **state)
{
	struct http_options o;
	struct client *cl;
	struct resp r;

	(void)state;
	opts_default(&o);
	cl = client_new(srv_start(&o));
	/* the client says all it has to say, then waits for the answer */
	csend(cl, "POST /hc HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok");
	assert_int_equal(shutdown(cl->fd, SHUT_WR), 0);
	assert_int_equal(read_resp(cl, &r), 0);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	expect_eof(cl);
	client_free(cl);
	srv_stop();
}

/* metric_value returns the value on the line starting with |name| + ' '. */
static long long metric_value(const char *text, const char *name)
{
	char key[128];
	const char *p;

	snprintf(key, sizeof(key), "\n%s ", name);
	p = strstr(text, key);
	if (p == NULL)
		return -1;
	return strtoll(p + strlen(key), NULL, 10);
}

static void test_many_connections(void **state)
{
	enum { N = 1000, MAX = 200 };
	static const char creq[] = "GET /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
	struct http_options o;
	struct client **cls = calloc(N, sizeof(*cls));
	struct resp r;
	uint16_t port;
	int i, ok = 0, rejected = 0;

	(void)state;
	assert_non_null(cls);
	opts_default(&o);
	o.max_conns = MAX;
	o.idle_timeout_ms = 30000;
	o.request_timeout_ms = 30000;
	port = srv_start(&o);
	for (i = 0; i < N; i++)
		cls[i] = client_new(port);
	for (i = 0; i < N; i++) {
		struct client *cl = cls[i];
		if (send_all(cl->fd, creq, strlen(creq)) != 0) {
			rejected++;
		} else if ((errno = 0, read_resp(cl, &r)) != 0) {
			/* closed without an answer: a rejection that lost its 503
			 * to the reset our request caused (EAGAIN would be a hang) */
			if (errno != 0 && errno != ECONNRESET)
				fprintf(stderr, "conn %d: %s\n", i, strerror(errno));
			assert_true(errno == 0 || errno == ECONNRESET);
			assert_int_equal(cl->len, 0);
			rejected++;
		} else if (r.status == 503) {
			assert_true(r.conn_close);
			assert_non_null(strstr(r.head, "\r\nRetry-After: 1\r\n"));
			assert_string_equal(r.body, "{\"error_code\": \"unavailable\", "
						    "\"error_message\": \"too many connections\"}");
			rejected++;
			resp_free(&r);
		} else {
			assert_int_equal(r.status, 200);
			ok++;
			resp_free(&r);
			expect_eof(cl);
		}
		client_free(cl);
	}
	free(cls);
	assert_int_equal(ok + rejected, N);
	assert_true(ok >= MAX);
	assert_true(rejected > 0);
	/* everyone is gone: a new client gets answered, and the counters agree */
	roundtrip(port, "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(metric_value(r.body, "mn_http_connections_rejected_total"), rejected);
	assert_int_equal(metric_value(r.body, "mn_http_connections_total"), ok + 1);
	resp_free(&r);
	srv_stop();
}

static void wait_finished(unsigned n)
{
	pthread_mutex_lock(&F.mu);
	while (F.threads_finished < n)
		pthread_cond_wait(&F.cv, &F.mu);
	pthread_mutex_unlock(&F.mu);
}

static void wait_started(unsigned n)
{
	pthread_mutex_lock(&F.mu);
	while (F.threads_started < n)
		pthread_cond_wait(&F.cv, &F.mu);
	pthread_mutex_unlock(&F.mu);
}

static void test_async_client_gone(void **state)
{
	struct http_options o;
	struct client *cl;
	struct resp r;
	uint16_t port;
	unsigned before;

	(void)state;
	opts_default(&o);
	port = srv_start(&o);
	cl = client_new(port);
	pthread_mutex_lock(&F.mu);
	before = F.threads_started;
	pthread_mutex_unlock(&F.mu);
	csend(cl, "GET /async-hold HTTP/1.1\r\nHost: a\r\n\r\n");
	wait_started(before + 1); /* the handler has gone async */
	client_free(cl); /* the client goes away */
	sem_post(&F.hold);
	wait_finished(before + 1);
	/* the completion found no client; the server still serves */
	roundtrip(port, "GET /after HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	srv_stop(); /* ASan: the conn and its response were freed */
}

static void *stop_thread(void *arg)
{
	(void)arg;
	http_server_stop(F.srv);
	return NULL;
}

static void test_stop_graceful(void **state)
{
	struct http_options o;
	struct client *idle[5], *half, *busy;
	struct resp r;
	pthread_t t;
	uint16_t port;
	unsigned before;
	int i;

	(void)state;
	opts_default(&o);
	port = srv_start(&o);
	for (i = 0; i < 5; i++)
		idle[i] = client_new(port);
	half = client_new(port);
	csend(half, "GET /half HTTP/1.1\r\n");
	busy = client_new(port);
	pthread_mutex_lock(&F.mu);
	before = F.threads_started;
	pthread_mutex_unlock(&F.mu);
	csend(busy, "GET /async-hold HTTP/1.1\r\nHost: a\r\n\r\n");
	wait_started(before + 1);
	/* a keep-alive connection that has had a response */
	{
		struct client *ka = client_new(port);
		csend(ka, "GET /ka HTTP/1.1\r\nHost: a\r\n\r\n");
		assert_int_equal(read_resp(ka, &r), 0);
		resp_free(&r);
		assert_int_equal(pthread_create(&t, NULL, stop_thread, NULL), 0);
		expect_eof(ka);
		client_free(ka);
	}
	/* idle and half-sent connections are closed without an answer */
	for (i = 0; i < 5; i++) {
		expect_eof(idle[i]);
		client_free(idle[i]);
	}
	expect_eof(half);
	client_free(half);
	/* the in-flight request is still answered, then the connection closed */
	sem_post(&F.hold);
	assert_int_equal(read_resp(busy, &r), 0);
	assert_int_equal(r.status, 200);
	assert_true(r.conn_close);
	assert_non_null(strstr(r.body, "\"path\":\"/async-hold\""));
	resp_free(&r);
	expect_eof(busy);
	client_free(busy);
	assert_int_equal(pthread_join(t, NULL), 0);
	F.srv = NULL;
	srv_stop(); /* only waits for completer threads now */
}

static void test_metrics(void **state)
{
	struct http_options o;
	struct client *cl;
	struct resp r;
	int i;

	(void)state;
	opts_default(&o);
	cl = client_new(srv_start(&o));
	for (i = 0; i < 3; i++) {
		csend(cl, "GET /m HTTP/1.1\r\nHost: a\r\n\r\n");
		assert_int_equal(read_resp(cl, &r), 0);
		resp_free(&r);
	}
	csend(cl, "GET /missing HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(read_resp(cl, &r), 0);
	assert_int_equal(r.status, 404);
	resp_free(&r);
	csend(cl, "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(read_resp(cl, &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.head, "\r\nContent-Type: text/plain; version=0.0.4\r\n"));
	assert_int_equal(metric_value(r.body, "mn_http_connections_open"), 1);
	assert_int_equal(metric_value(r.body, "mn_http_connections_total"), 1);
	assert_int_equal(metric_value(r.body, "mn_http_connections_rejected_total"), 0);
	assert_int_equal(metric_value(r.body, "mn_http_requests_total{status=\"200\"}"), 3);
	assert_int_equal(metric_value(r.body, "mn_http_requests_total{status=\"404\"}"), 1);
	assert_int_equal(metric_value(r.body, "mn_http_request_duration_seconds_bucket{le=\"10\"}"), 4);
	assert_int_equal(metric_value(r.body, "mn_http_request_duration_seconds_bucket{le=\"+Inf\"}"), 4);
	assert_int_equal(metric_value(r.body, "mn_http_request_duration_seconds_count"), 4);
	assert_non_null(strstr(r.body, "\nmn_http_request_duration_seconds_bucket{le=\"0.001\"} "));
	assert_non_null(strstr(r.body, "\nmn_http_request_duration_seconds_sum "));
	assert_non_null(strstr(r.body, "# TYPE mn_http_request_duration_seconds histogram\n"));
	resp_free(&r);
	client_free(cl);

	/* a cap the exposition does not fit in is an error, not a cut line */
	{
		struct prom *w = prom_new(64);
		char *text = (char *)"x";
		size_t n = 1;
		assert_non_null(w);
		http_server_metrics(F.srv, w);
		assert_int_equal(prom_finish(w, &text, &n), MN_ETOOBIG);
		assert_null(text);
		assert_int_equal(n, 0);
		prom_free(w);
	}
	srv_stop();
}

static void test_bind_errors(void **state)
{
	struct http_options o;
	struct http_server *s2 = NULL;
	uint16_t port;

	(void)state;
	opts_default(&o);
	port = srv_start(&o);
	/* the port is taken: a second server must fail, not share it */
	o.port = port;
	assert_int_equal(http_server_start(&s2, &o, fake_handler, NULL), MN_EIO);
	assert_null(s2);
	o.port = 0;
	o.host = "not-an-address";
	assert_int_equal(http_server_start(&s2, &o, fake_handler, NULL), MN_EINVAL);
	srv_stop();
	http_server_stop(NULL);
}

/* The response header, byte for byte, in each of its shapes. */
static void test_header_bytes(void **state)
{
	struct http_options o;
	struct client *cl;
	struct resp r;
	char want[512];
	uint16_t port;

	(void)state;
	opts_default(&o);
	port = srv_start(&o);
	cl = client_new(port);
	csend(cl, "GET /h HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(read_resp(cl, &r), 0);
	snprintf(want, sizeof(want),
		 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
		 r.body_len);
	assert_string_equal(r.head, want);
	resp_free(&r);
	csend(cl, "GET /busy HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(read_resp(cl, &r), 0);
	snprintf(want, sizeof(want),
		 "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
		 "Content-Length: %zu\r\nRetry-After: 7\r\n\r\n",
		 r.body_len);
	assert_string_equal(r.head, want);
	resp_free(&r);
	csend(cl, "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(read_resp(cl, &r), 0);
	assert_true(r.body_len >= 1000); /* a four-digit Content-Length */
	snprintf(want, sizeof(want),
		 "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
		 "Content-Length: %zu\r\n\r\n",
		 r.body_len);
	assert_string_equal(r.head, want);
	resp_free(&r);
	csend(cl, "GET /missing HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
	assert_int_equal(read_resp(cl, &r), 0);
	snprintf(want, sizeof(want),
		 "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
		 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		 r.body_len);
	assert_string_equal(r.head, want);
	resp_free(&r);
	expect_eof(cl);
	client_free(cl);
	cl = client_new(port);
	csend(cl, "GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	assert_int_equal(read_resp(cl, &r), 0);
	snprintf(want, sizeof(want),
		 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
		 "Connection: keep-alive\r\n\r\n",
		 r.body_len);
	assert_string_equal(r.head, want);
	resp_free(&r);
	client_free(cl);
	srv_stop();
}

/* GETs pipelined and the client's side shut down at once: every one is
 * answered, in order, then the server closes. */
static void test_half_close_get(void **state)
{
	struct http_options o;
	struct client *cl;
	struct resp r;
	char want[32];

	(void)state;
	opts_default(&o);
	cl = client_new(srv_start(&o));
	csend(cl, "GET /g/0 HTTP/1.1\r\nHost: a\r\n\r\nGET /g/1 HTTP/1.1\r\nHost: a\r\n\r\n"
		  "GET /g/2 HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(shutdown(cl->fd, SHUT_WR), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(read_resp(cl, &r), 0);
		assert_int_equal(r.status, 200);
		snprintf(want, sizeof(want), "\"path\":\"/g/%d\"", i);
		assert_non_null(strstr(r.body, want));
		resp_free(&r);
	}
	expect_eof(cl);
	client_free(cl);
	srv_stop();
}

struct flood {
	int fd;
	char *data;
	size_t len;
	int ret;
};

static void *flood_main(void *arg)
{
	struct flood *f = arg;

	f->ret = send_all(f->fd, f->data, f->len);
	if (f->ret == 0)
		f->ret = shutdown(f->fd, SHUT_WR);
	return NULL;
}

/* A client with a tiny receive window pipelines 3000 requests whose answers
 * are ~4 KB each (12 MB, more than the socket buffers hold) faster than it
 * reads: the server's writes back up, its read buffer fills (requests
 * straddle its end) and it must stop reading, then resume, answering
 * everything in order; the EOF that follows the last request comes while
 * answers are still queued. */
static void test_pipelining_backpressure(void **state)
{
	enum { NUM = 3000, QLEN = 3900 };
	struct http_options o;
	struct client *cl = calloc(1, sizeof(*cl));
	struct sockaddr_in sa;
	struct timeval tv = {10, 0};
	struct flood f;
	struct resp r;
	pthread_t t;
	char *q = malloc(QLEN + 1), want[32];
	int rcvbuf = 4096;
	uint16_t port;

	(void)state;
	assert_non_null(cl);
	assert_non_null(q);
	opts_default(&o);
	port = srv_start(&o);
	memset(q, 'q', QLEN);
	q[QLEN] = 0;
	f.len = 0;
	f.data = malloc((size_t)NUM * (QLEN + 64));
	assert_non_null(f.data);
	for (int i = 0; i < NUM; i++)
		f.len += (size_t)sprintf(f.data + f.len, "GET /bp/%d?%s HTTP/1.1\r\nHost: a\r\n\r\n",
					 i, q);
	cl->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(cl->fd >= 0);
	assert_int_equal(setsockopt(cl->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
	assert_int_equal(setsockopt(cl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(setsockopt(cl->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(cl->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	f.fd = cl->fd;
	assert_int_equal(pthread_create(&t, NULL, flood_main, &f), 0);
	for (int i = 0; i < NUM; i++) {
		assert_int_equal(read_resp(cl, &r), 0);
		assert_int_equal(r.status, 200);
		assert_false(r.conn_close);
		assert_true(r.body_len > QLEN);
		snprintf(want, sizeof(want), "\"path\":\"/bp/%d\"", i);
		assert_non_null(strstr(r.body, want));
		resp_free(&r);
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(f.ret, 0);
	expect_eof(cl);
	client_free(cl);
	free(f.data);
	free(q);
	srv_stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_post_roundtrip),
		cmocka_unit_test(test_bad_escape),
		cmocka_unit_test(test_head),
		cmocka_unit_test(test_keepalive_100),
		cmocka_unit_test(test_pipelining_50),
		cmocka_unit_test(test_async),
		cmocka_unit_test(test_post_runs_off_loop),
		cmocka_unit_test(test_body_too_large_content_length),
		cmocka_unit_test(test_expect_continue),
		cmocka_unit_test(test_header_too_large),
		cmocka_unit_test(test_url_too_long),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_chunked),
		cmocka_unit_test(test_idle_timeout),
		cmocka_unit_test(test_request_timeout),
		cmocka_unit_test(test_half_close),
		cmocka_unit_test(test_many_connections),
		cmocka_unit_test(test_async_client_gone),
		cmocka_unit_test(test_stop_graceful),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_bind_errors),
		cmocka_unit_test(test_header_bytes),
		cmocka_unit_test(test_half_close_get),
		cmocka_unit_test(test_pipelining_backpressure),
	};

	mn_log_set_level(MN_LOG_WARN);
	sem_init(&F.hold, 0, 0);
	pthread_mutex_init(&F.mu, NULL);
	pthread_cond_init(&F.cv, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
