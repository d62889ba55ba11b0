/* http.c: the HTTP/1.1 transport (see http.h). libuv loops, one struct conn
 * per connection, one llhttp_t per connection (STYLE.md sections 5 and 6).
 *
 * A connection is in one of these phases; the flags in struct conn say which:
 *
 *   reading  parser running; deadline = idle_timeout before the first byte
 *            of a request, request_timeout from its first byte (slowloris
 *            guard)
 *   busy     a complete request is with the handler; parser paused (the
 *            unparsed pipelined bytes stay in rbuf), no deadline: the
 *            handler's time is not the client's fault. A handler that goes
 *            async (every POST, on the pool) stops reading; a synchronous one
 *            (GET) has written its response before the next read anyway
 *   writing  one response in flight (only when the socket did not take it
 *            all at once: a response is first tried with uv_try_write, and
 *            if that writes everything, conn_parse goes straight on to the
 *            next pipelined request); deadline = idle_timeout as a
 *            write-stall guard; parsing of pipelined bytes resumes in
 *            on_write, so responses go out in request order and at most one
 *            is buffered. Reading goes on into rbuf without parsing and
 *            stops when rbuf is full, so a pipelining client that does not
 *            read costs at most RBUF_SIZE plus one response. An EOF seen
 *            here is kept (read_eof) and acted on once the buffered requests
 *            are answered
 *   linger   after a Connection: close response: our side is shut down and
 *            we discard what the client still sends (a body we refused to
 *            read) until EOF or LINGER_MS, so the kernel does not answer
 *            unread bytes with an RST that would destroy our error response
 *   closing  uv_close called on both handles; freed in the last close_cb
 *
 * Timeouts: each conn has one timer and a deadline (loop time, ms). Setting a
 * deadline is a store; the timer runs at most tick_ms (the shorter timeout)
 * ahead, and its callback re-checks the deadline and re-arms for what is
 * left (as Node and h2o do), so a request costs no uv_timer_start at all.
 *
 * Thread model: a loop thread owns its conns. POST handlers run on libuv's
 * thread pool (uv_queue_work); a handler's API_ASYNC completion arrives from
 * any thread through the loop's mutex-protected queue and uv_async_send. */
#include "logd/http.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "llhttp.h"

#include "common/bytes.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/prom.h"

#define RBUF_SIZE (16u << 10) /* one read; llhttp copies nothing, we copy out */
#define LINGER_MS 2000u
#define MAX_THREADS 256u
#define NUM_BUCKETS 13
#define MAX_STATUS 600
/* Body memory: preallocated from Content-Length up to BODY_PREALLOC (more
 * only as bytes arrive, so announcing 1 MiB costs nothing until it is sent),
 * and given back after the response if it grew past BODY_KEEP. */
#define BODY_PREALLOC (64u << 10)
#define BODY_KEEP (16u << 10)

static const double dur_bounds[NUM_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025,
					       0.05,  0.1,    0.25,  0.5,  1,
					       2.5,   5,      10};

struct conn;

struct http_loop {
	struct http_server *srv;
	uv_loop_t loop;
	uv_tcp_t listener;
	uv_async_t wakeup; /* completions and the stop request */
	uv_thread_t thread;
	int fd;            /* listening socket until uv_tcp_open owns it */
	int loop_ok, listener_ok, wakeup_ok, mu_ok, thread_ok;

	pthread_mutex_t mu;
	struct conn *done_head, *done_tail; /* under mu */
	int stop;                           /* under mu */

	/* loop thread only */
	int stopping;
	int wakeup_closed;
	struct conn *conns; /* every conn not yet freed */
};

struct http_server {
	struct http_options opt;
	http_handler_fn handler;
	void *handler_ctx;
	uint16_t port;
	uint64_t tick_ms; /* min(idle_timeout_ms, request_timeout_ms) */
	unsigned num_loops;
	struct http_loop *loops;
	char reject_msg[256]; /* the whole 503 answer beyond max_conns */
	size_t reject_len;

	/* Admitted connections not yet closing or lingering: what max_conns
	 * limits. A lingering connection no longer counts, so a client that saw
	 * our EOF can always get a new slot. */
	atomic_uint active;
	atomic_uint_fast64_t conns_total;
	atomic_uint_fast64_t conns_rejected;
	atomic_uint_fast64_t status_count[MAX_STATUS];
	atomic_uint_fast64_t dur_bucket[NUM_BUCKETS + 1];
	atomic_uint_fast64_t dur_sum_us;
};

enum hstate { H_NONE, H_FIELD, H_VALUE };

struct conn {
	uv_tcp_t tcp; /* tcp.data == timer.data == this */
	uv_timer_t timer;
	uint64_t deadline;  /* uv_now ms when the current phase times out; 0 none */
	uint64_t timer_due; /* uv_now ms the timer is armed for; 0 not armed */
	struct http_loop *lp;
	struct conn *prev, *next; /* lp->conns */
	struct conn *done_next;   /* lp->done_head queue */
	unsigned refs;            /* initialized handles not yet closed */

	llhttp_t parser;
	char *rbuf; /* RBUF_SIZE; bytes [roff, rlen) are not parsed yet */
	size_t rlen, roff;

	/* The request being parsed or handled. url and body are copied out of
	 * rbuf because llhttp's pointers die with the next read (STYLE.md 6). */
	char *url; /* max_url_bytes */
	size_t url_len;
	uint8_t *body;
	size_t body_len, body_cap;
	size_t header_bytes;
	enum hstate hstate;
	char field[8]; /* first bytes of the current header name */
	size_t field_len;
	int is_expect;
	char expect[16]; /* first bytes of an Expect value */
	size_t expect_len;
	int err_status; /* a limit hit inside a callback: the status to send */
	const char *err_code, *err_msg;
	uint64_t t_begin; /* mono ns of the request's first byte */
	int is_head;

	struct api_request req;
	struct api_response resp;      /* filled by the handler (API_DONE) */
	struct api_response done_resp; /* handed over by done() (API_ASYNC) */
	int handler_ret;
	uv_work_t work;

	/* phase flags (loop thread only) */
	char reading, in_message, busy, work_active, done_received, writing,
		lingering, closing, keep_alive, counted, http10, read_eof, shutting,
		in_parse;

	uv_write_t wr;
	uv_write_t wr_continue;
	uv_shutdown_t shut;
	char hdr[512];
};

static void conn_close(struct conn *c);
static void conn_parse(struct conn *c);
static void make_room(struct conn *c);
static void send_error(struct conn *c, int status, const char *code, const char *msg);

static const uint8_t empty_body[1];

static const char *reason_phrase(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large"; /* RFC 9110 section 15.5.14 */
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large"; /* RFC 6585 section 5 */
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Unknown";
	}
}

/* ---- connection lifetime ---- */

static void release_slot(struct conn *c)
{
	if (c->counted) {
		c->counted = 0;
		atomic_fetch_sub_explicit(&c->lp->srv->active, 1, memory_order_relaxed);
	}
}

static void maybe_finish_stop(struct http_loop *lp)
{
	/* The wakeup handle stays open while any conn exists: a handler may
	 * still call done(), which signals it. */
	if (lp->stopping && lp->conns == NULL && !lp->wakeup_closed) {
		lp->wakeup_closed = 1;
		uv_close((uv_handle_t *)&lp->wakeup, NULL);
	}
}

static void conn_free(struct conn *c)
{
	struct http_loop *lp = c->lp;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		lp->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	free(c->rbuf);
	free(c->url);
	free(c->body);
	api_response_free(&c->resp);
	api_response_free(&c->done_resp);
	free(c);
	maybe_finish_stop(lp);
}

static void on_close(uv_handle_t *h)
{
	struct conn *c = h->data;

	if (--c->refs == 0)
		conn_free(c);
}

static void close_handles(struct conn *c)
{
	uv_close((uv_handle_t *)&c->tcp, on_close);
	uv_close((uv_handle_t *)&c->timer, on_close);
}

/* conn_close closes |c| now, or, while its handler runs, as soon as the
 * response arrives (request_finished); the conn lives until then. */
static void conn_close(struct conn *c)
{
	release_slot(c);
	if (c->closing)
		return;
	c->closing = 1;
	if (c->busy)
		return;
	close_handles(c);
}

static void read_start(struct conn *c);
static void on_timer(uv_timer_t *t);

/* arm_timer starts the timer for the deadline, at most tick_ms ahead. */
static void arm_timer(struct conn *c, uint64_t now)
{
	uint64_t wait = c->deadline > now ? c->deadline - now : 0;

	if (wait > c->lp->srv->tick_ms)
		wait = c->lp->srv->tick_ms;
	c->timer_due = now + wait;
	uv_timer_start(&c->timer, on_timer, wait, 0);
}

/* set_deadline makes the current phase time out |ms| from now. Usually only
 * a store: the armed timer is due no later than now + tick_ms <= the new
 * deadline, and on_timer re-arms. Only a shorter deadline (linger) or an
 * unarmed timer costs a uv_timer_start. */
static void set_deadline(struct conn *c, uint64_t ms)
{
	uint64_t now = uv_now(&c->lp->loop);

	c->deadline = now + ms;
	if (c->timer_due == 0 || c->timer_due > c->deadline)
		arm_timer(c, now);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct conn *c = req->handle->data;

	if (c->closing)
		return;
	if (status < 0 || c->lp->stopping) {
		conn_close(c);
		return;
	}
	c->lingering = 1;
	c->rlen = c->roff = 0;
	read_start(c);
	set_deadline(c, c->lp->srv->opt.idle_timeout_ms < LINGER_MS ? c->lp->srv->opt.idle_timeout_ms
								 : LINGER_MS);
}

/* conn_linger ends a connection after a Connection: close response. */
static void conn_linger(struct conn *c)
{
	release_slot(c);
	c->shutting = 1;
	if (c->lp->stopping ||
	    uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shutdown) != 0)
		conn_close(c);
}

/* ---- writing ---- */

static void record_metrics(struct conn *c, int status)
{
	struct http_server *s = c->lp->srv;
	uint64_t now = mn_mono_ns();
	uint64_t ns = c->t_begin != 0 && now > c->t_begin ? now - c->t_begin : 0;
	double secs = (double)ns / 1e9;
	unsigned b = 0;

	if (status > 0 && status < MAX_STATUS)
		atomic_fetch_add_explicit(&s->status_count[status], 1, memory_order_relaxed);
	while (b < NUM_BUCKETS && secs > dur_bounds[b])
		b++;
	atomic_fetch_add_explicit(&s->dur_bucket[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->dur_sum_us, ns / 1000, memory_order_relaxed);
}

/* response_done finishes a response whose write completed with |status|.
 * Returns 1 if the connection goes on to its next request, 0 if it is closing
 * or lingering. */
static int response_done(struct conn *c, int status)
{
	api_response_free(&c->resp);
	if (c->body_cap > BODY_KEEP) {
		free(c->body);
		c->body = NULL;
		c->body_cap = 0;
	}
	if (c->closing)
		return 0; /* canceled by uv_close */
	c->deadline = 0;
	if (status < 0) {
		mn_log(MN_LOG_DEBUG, "http_write_failed", "err=%s", uv_err_name(status));
		conn_close(c);
		return 0;
	}
	if (!c->keep_alive) {
		conn_linger(c);
		return 0;
	}
	set_deadline(c, c->lp->srv->opt.idle_timeout_ms);
	return 1;
}

static void on_write(uv_write_t *req, int status)
{
	struct conn *c = req->handle->data;

	c->writing = 0;
	/* Next request: first the pipelined bytes we already hold. */
	if (response_done(c, status))
		conn_parse(c);
}

static void on_write_continue(uv_write_t *req, int status)
{
	(void)req;
	(void)status; /* a failure shows up again on the real response */
}

/* put copies |len| bytes to |p| and returns the end. */
static char *put(char *p, const char *src, size_t len)
{
	memcpy(p, src, len);
	return p + len;
}

/* put_dec writes |v| in decimal (what %zu and %u print) and returns the end. */
static char *put_dec(char *p, uint64_t v)
{
	char tmp[20];
	size_t n = 0;

	do {
		tmp[sizeof(tmp) - ++n] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return put(p, tmp + sizeof(tmp) - n, n);
}

/* build_header writes the response header for |r| into c->hdr:
 *
 *   HTTP/1.1 <status> <reason>\r\n
 *   Content-Type: <type>\r\n
 *   Content-Length: <body_len>\r\n
 *   [Retry-After: <seconds>\r\n]
 *   [<r->headers>]
 *   [Connection: close | keep-alive\r\n]
 *   \r\n
 *
 * with memcpy and a digit loop (no snprintf on the read path). Returns the
 * length, or 0 if it would not fit (only a huge content_type can do that). */
static size_t build_header(struct conn *c, const struct api_response *r)
{
	static const char conn_close_hdr[] = "Connection: close\r\n";
	static const char conn_ka_hdr[] = "Connection: keep-alive\r\n";
	const char *reason = reason_phrase(r->status);
	const char *ct = r->content_type != NULL ? r->content_type : "application/json";
	size_t reason_len = strlen(reason), ct_len = strlen(ct);
	size_t extra_len = r->headers != NULL ? strlen(r->headers) : 0;
	const char *conn_hdr = !c->keep_alive ? conn_close_hdr : c->http10 ? conn_ka_hdr : "";
	size_t conn_len = !c->keep_alive ? sizeof(conn_close_hdr) - 1
			  : c->http10   ? sizeof(conn_ka_hdr) - 1
					: 0;
	char *p = c->hdr;

	/* The fixed text, the digits at their widest (20 and 10), the end. */
	if (sizeof("HTTP/1.1 200 \r\nContent-Type: \r\nContent-Length: \r\n"
		   "Retry-After: \r\n\r\n") -
		    1 + reason_len + ct_len + 20 + 10 + conn_len + extra_len >=
	    sizeof(c->hdr))
		return 0;
	p = put(p, "HTTP/1.1 ", 9);
	*p++ = (char)('0' + r->status / 100);
	*p++ = (char)('0' + r->status / 10 % 10);
	*p++ = (char)('0' + r->status % 10);
	*p++ = ' ';
	p = put(p, reason, reason_len);
	p = put(p, "\r\nContent-Type: ", 16);
	p = put(p, ct, ct_len);
	p = put(p, "\r\nContent-Length: ", 18);
	p = put_dec(p, r->body_len);
	p = put(p, "\r\n", 2);
	if (r->retry_after != 0) {
		p = put(p, "Retry-After: ", 13);
		p = put_dec(p, r->retry_after);
		p = put(p, "\r\n", 2);
	}
	if (extra_len != 0)
		p = put(p, r->headers, extra_len);
	/* HTTP/1.1 is persistent unless we say close; an HTTP/1.0 client that
	 * asked for keep-alive needs to hear it (RFC 9112 9.3). */
	p = put(p, conn_hdr, conn_len);
	p = put(p, "\r\n", 2);
	return (size_t)(p - c->hdr);
}

static void write_response(struct conn *c)
{
	struct http_server *s = c->lp->srv;
	struct api_response *r = &c->resp;
	uv_buf_t bufs[2];
	unsigned nbufs = 1;
	size_t n;
	int w;

	if (r->status < 100 || r->status > 599 || (r->body == NULL && r->body_len != 0)) {
		mn_error("http_bad_response", "status=%d body_len=%zu", r->status,
			 r->body_len);
		api_response_free(r);
		api_response_error(r, 500, "internal", "internal error");
	}
	if (c->lp->stopping)
		c->keep_alive = 0;
	n = build_header(c, r);
	if (n == 0) {
		/* Only a content_type longer than the buffer gets here: a bug. */
		mn_error("http_header_overflow", "status=%d", r->status);
		api_response_free(r);
		conn_close(c);
		return;
	}
	record_metrics(c, r->status);
	bufs[0] = uv_buf_init(c->hdr, (unsigned)n);
	/* RFC 9110 section 9.3.2: HEAD gets the headers GET would, no body. */
	if (r->body_len != 0 && !c->is_head) {
		bufs[1] = uv_buf_init((char *)r->body, (unsigned)r->body_len);
		nbufs = 2;
		n += r->body_len;
	}
	/* Write now if the socket takes it all (the usual case): no write
	 * request, no POLLOUT watcher change (epoll_ctl), no deferred callback.
	 * UV_EAGAIN also means an earlier write (100 Continue) is queued. */
	w = uv_try_write((uv_stream_t *)&c->tcp, bufs, nbufs);
	if (w >= 0 && (size_t)w == n) {
		/* Inside conn_parse its loop goes on to the next request. */
		if (response_done(c, 0) && !c->in_parse)
			conn_parse(c);
		return;
	}
	if (w < 0 && w != UV_EAGAIN) {
		response_done(c, w);
		return;
	}
	if (w > 0) {
		/* the rest goes through uv_write */
		size_t done = (size_t)w;
		if (done >= bufs[0].len) {
			done -= bufs[0].len;
			bufs[0] = bufs[1];
			nbufs = 1;
		}
		bufs[0].base += done;
		bufs[0].len -= done;
	}
	set_deadline(c, s->opt.idle_timeout_ms);
	if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, bufs, nbufs, on_write) != 0) {
		api_response_free(r);
		conn_close(c);
		return;
	}
	c->writing = 1;
}

static void read_stop(struct conn *c)
{
	if (c->reading) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = 0;
	}
}

/* send_error answers the current request with a transport error and closes
 * the connection after the write. */
static void send_error(struct conn *c, int status, const char *code, const char *msg)
{
	read_stop(c);
	c->deadline = 0;
	c->keep_alive = 0;
	c->is_head = 0;
	c->http10 = 0;
	if (c->t_begin == 0)
		c->t_begin = mn_mono_ns();
	api_response_free(&c->resp);
	api_response_error(&c->resp, status, code, msg);
	write_response(c);
}

/* ---- dispatch ---- */

/* request_finished runs on the loop thread once the handler has returned and,
 * for API_ASYNC, done() has been received. */
static void request_finished(struct conn *c)
{
	if (c->handler_ret == API_ASYNC) {
		api_response_free(&c->resp);
		c->resp = c->done_resp;
		memset(&c->done_resp, 0, sizeof(c->done_resp));
	}
	c->busy = 0;
	if (c->closing) {
		api_response_free(&c->resp);
		close_handles(c);
		return;
	}
	write_response(c);
}

static void handler_returned(struct conn *c, int ret)
{
	c->handler_ret = ret == API_ASYNC ? API_ASYNC : API_DONE;
	if (c->handler_ret == API_ASYNC && !c->done_received)
		return; /* done() will arrive through the wakeup queue */
	request_finished(c);
}

/* on_done is the api_done_fn given to handlers; any thread. It takes the
 * response's body and queues the conn for its loop. uv_async_send happens
 * under the mutex: once we unlock, the loop may finish the conn and close
 * the wakeup handle, so we must not touch either after unlocking. */
static void on_done(void *done_ctx, struct api_response *resp)
{
	struct conn *c = done_ctx;
	struct http_loop *lp = c->lp;

	if (resp == NULL) {
		api_response_error(&c->done_resp, 500, "internal", "internal error");
	} else {
		c->done_resp = *resp;
		if (resp == &c->resp)
			memset(&c->resp, 0, sizeof(c->resp));
	}
	pthread_mutex_lock(&lp->mu);
	c->done_next = NULL;
	if (lp->done_tail != NULL)
		lp->done_tail->done_next = c;
	else
		lp->done_head = c;
	lp->done_tail = c;
	uv_async_send(&lp->wakeup);
	pthread_mutex_unlock(&lp->mu);
}

static void work_cb(uv_work_t *req)
{
	struct conn *c = req->data;
	struct http_server *s = c->lp->srv;

	c->handler_ret = s->handler(s->handler_ctx, &c->req, &c->resp, on_done, c);
}

static void after_work_cb(uv_work_t *req, int status)
{
	struct conn *c = req->data;

	(void)status; /* never canceled: we do not call uv_cancel */
	c->work_active = 0;
	handler_returned(c, c->handler_ret);
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* path_decode percent-decodes |s| in place (RFC 3986 section 2.1). Returns 1,
 * or 0 for a truncated or non-hex escape or an encoded NUL. */
static int path_decode(char *s, size_t len, size_t *out_len)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == '%') {
			int hi, lo;
			if (len - i < 3)
				return 0;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return 0;
			s[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			s[o++] = s[i];
		}
	}
	*out_len = o;
	return 1;
}

/* split_target fills c->req's path and query from the request target:
 * origin-form "/p?q", absolute-form "http://host/p?q" (RFC 9112 section
 * 3.2), or "*". Returns 1, or 0 if the path is badly encoded. */
static int split_target(struct conn *c)
{
	char *u = c->url;
	size_t n = c->url_len, i = 0, path_len;
	char *hash, *q;

	if (u == NULL)
		return 0;
	if (n >= 7 && strncasecmp(u, "http://", 7) == 0)
		i = 7;
	else if (n >= 8 && strncasecmp(u, "https://", 8) == 0)
		i = 8;
	if (i != 0) {
		while (i < n && u[i] != '/' && u[i] != '?')
			i++;
		u += i;
		n -= i;
	}
	hash = memchr(u, '#', n); /* a fragment is not sent, but never route it */
	if (hash != NULL)
		n = (size_t)(hash - u);
	q = memchr(u, '?', n);
	c->req.query = NULL;
	c->req.query_len = 0;
	path_len = n;
	if (q != NULL) {
		path_len = (size_t)(q - u);
		c->req.query = q + 1;
		c->req.query_len = n - path_len - 1;
	}
	if (!path_decode(u, path_len, &path_len))
		return 0;
	c->req.path = path_len != 0 ? u : "/";
	c->req.path_len = path_len != 0 ? path_len : 1;
	return 1;
}

/* dispatch hands a complete request (parser paused) to the handler. */
static void dispatch(struct conn *c)
{
	struct http_loop *lp = c->lp;
	struct http_server *s = lp->srv;
	uint8_t method = llhttp_get_method(&c->parser);
	int ret;

	c->deadline = 0;
	c->keep_alive = llhttp_should_keep_alive(&c->parser) != 0;
	c->http10 = c->parser.http_major == 1 && c->parser.http_minor == 0;
	c->is_head = method == HTTP_HEAD;
	/* The last request: what follows is read (and discarded) only by
	 * the linger after our shutdown. */
	if (!c->keep_alive)
		read_stop(c);
	if (!split_target(c)) {
		send_error(c, 400, "malformed", "bad percent-encoding in the request path");
		return;
	}
	c->req.method = method == HTTP_GET    ? API_GET
			: method == HTTP_POST ? API_POST
					      : API_OTHER;
	c->req.body = c->body_len != 0 ? c->body : empty_body;
	c->req.body_len = c->body_len;
	memset(&c->resp, 0, sizeof(c->resp));
	c->busy = 1;
	c->done_received = 0;
	if (c->req.method == API_POST) {
		/* async from here: no reading until the response is written */
		read_stop(c);
		c->work.data = c;
		c->work_active = 1;
		if (uv_queue_work(&lp->loop, &c->work, work_cb, after_work_cb) != 0) {
			c->work_active = 0;
			c->busy = 0;
			send_error(c, 500, "internal", "cannot queue the request");
		}
		return;
	}
	ret = s->handler(s->handler_ctx, &c->req, &c->resp, on_done, c);
	if (ret == API_ASYNC)
		read_stop(c);
	handler_returned(c, ret);
}

/* ---- llhttp callbacks ---- */

static int fail(llhttp_t *p, int status, const char *code, const char *msg)
{
	struct conn *c = p->data;

	c->err_status = status;
	c->err_code = code;
	c->err_msg = msg;
	llhttp_set_error_reason(p, msg);
	return HPE_USER;
}

static int on_message_begin(llhttp_t *p)
{
	struct conn *c = p->data;

	c->in_message = 1;
	c->url_len = 0;
	c->body_len = 0;
	c->header_bytes = 0;
	c->hstate = H_NONE;
	c->is_expect = 0;
	c->expect_len = 0;
	c->t_begin = mn_mono_ns();
	set_deadline(c, c->lp->srv->opt.request_timeout_ms);
	return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
	struct conn *c = p->data;
	size_t max = c->lp->srv->opt.max_url_bytes;

	if (len > max - c->url_len)
		return fail(p, 414, "uriTooLong", "request target too long");
	if (c->url == NULL && (c->url = malloc(max)) == NULL)
		return fail(p, 503, "unavailable", "out of memory");
	memcpy(c->url + c->url_len, at, len);
	c->url_len += len;
	return 0;
}

static int count_header(llhttp_t *p, size_t len)
{
	struct conn *c = p->data;
	size_t max = c->lp->srv->opt.max_header_bytes;

	if (len > max - c->header_bytes)
		return fail(p, 431, "headersTooLarge", "request header fields too large");
	c->header_bytes += len;
	return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
	struct conn *c = p->data;
	size_t take;

	if (c->hstate != H_FIELD) {
		/* A new header line; 4 counts ": " and CRLF, so a flood of
		 * empty-valued headers is bounded too. */
		c->hstate = H_FIELD;
		c->field_len = 0;
		if (count_header(p, 4) != 0)
			return HPE_USER;
	}
	if (count_header(p, len) != 0)
		return HPE_USER;
	if (c->field_len < sizeof(c->field)) {
		take = sizeof(c->field) - c->field_len;
		memcpy(c->field + c->field_len, at, len < take ? len : take);
	}
	c->field_len += len;
	return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
	struct conn *c = p->data;
	size_t take;

	if (c->hstate != H_VALUE) {
		c->hstate = H_VALUE;
		c->is_expect = c->field_len == 6 && strncasecmp(c->field, "expect", 6) == 0;
		if (c->is_expect)
			c->expect_len = 0;
	}
	if (count_header(p, len) != 0)
		return HPE_USER;
	if (c->is_expect) {
		if (c->expect_len < sizeof(c->expect)) {
			take = sizeof(c->expect) - c->expect_len;
			memcpy(c->expect + c->expect_len, at, len < take ? len : take);
		}
		c->expect_len += len;
	}
	return 0;
}

static int on_headers_complete(llhttp_t *p)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	struct conn *c = p->data;
	size_t max = c->lp->srv->opt.max_body_bytes;
	uv_buf_t b;

	c->hstate = H_NONE;
	if (p->upgrade) {
		if (p->method == HTTP_CONNECT) {
			fail(p, 405, "methodNotAllowed", "CONNECT is not supported");
			return -1;
		}
		/* RFC 9110 section 7.8: a server may ignore Upgrade. */
		p->upgrade = 0;
	}
	if (p->flags & F_CONTENT_LENGTH) {
		/* Refuse before reading a byte of the body (OpenBSD httpd does the
		 * same with its Content-Length range check). */
		if (p->content_length > max) {
			fail(p, 413, "tooLarge", "request body too large");
			return -1;
		}
		size_t want = p->content_length < BODY_PREALLOC ? (size_t)p->content_length
								: BODY_PREALLOC;
		if (want > c->body_cap) {
			uint8_t *nb = realloc(c->body, want);
			if (nb == NULL) {
				fail(p, 503, "unavailable", "out of memory");
				return -1;
			}
			c->body = nb;
			c->body_cap = want;
		}
	}
	/* RFC 9110 section 10.1.1: a client that sent Expect: 100-continue
	 * waits for this before sending the body (libcurl does, for a while). */
	if (c->expect_len == 12 && strncasecmp(c->expect, "100-continue", 12) == 0 &&
	    p->http_major == 1 && p->http_minor >= 1 &&
	    ((p->flags & F_CHUNKED) || p->content_length > 0)) {
		b = uv_buf_init((char *)cont, sizeof(cont) - 1);
		(void)uv_write(&c->wr_continue, (uv_stream_t *)&c->tcp, &b, 1,
			       on_write_continue);
	}
	return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
	struct conn *c = p->data;
	size_t max = c->lp->srv->opt.max_body_bytes;

	if (len > max - c->body_len)
		return fail(p, 413, "tooLarge", "request body too large");
	/* chunked: grow geometrically, capped at the limit */
	if (!mn_reserve(&c->body, &c->body_cap, c->body_len, len, max))
		return fail(p, 503, "unavailable", "out of memory");
	memcpy(c->body + c->body_len, at, len);
	c->body_len += len;
	return 0;
}

static int on_message_complete(llhttp_t *p)
{
	struct conn *c = p->data;

	c->in_message = 0;
	/* Stop here, keep the rest (pipelined requests) for after the response
	 * (STYLE.md section 6: return HPE_PAUSED, never llhttp_pause here). */
	return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/* ---- reading ---- */

/* ready: the connection waits for its next request. */
static int ready(const struct conn *c)
{
	return !c->busy && !c->writing && !c->closing && !c->lingering && !c->shutting;
}

/* conn_parse parses and dispatches the requests held in rbuf, one after the
 * other while each is answered at once, then reads more. */
static void conn_parse(struct conn *c)
{
	c->in_parse = 1;
	while (c->roff < c->rlen) {
		const char *p = c->rbuf + c->roff;
		llhttp_errno_t e = llhttp_execute(&c->parser, p, c->rlen - c->roff);

		if (e == HPE_OK) {
			c->roff = c->rlen;
			break;
		}
		if (e == HPE_PAUSED) {
			c->roff = (size_t)(llhttp_get_error_pos(&c->parser) - c->rbuf);
			if (c->roff == c->rlen)
				c->roff = c->rlen = 0;
			llhttp_resume(&c->parser);
			dispatch(c);
			if (ready(c))
				continue; /* answered already: the next one */
			if (!c->closing && (c->busy || c->writing))
				make_room(c);
			c->in_parse = 0;
			return;
		}
		if (c->err_status != 0) {
			int st = c->err_status;
			c->err_status = 0;
			mn_info("http_limit", "status=%d reason=%s", st, c->err_msg);
			send_error(c, st, c->err_code, c->err_msg);
		} else {
			char reason[128];
			const char *r = llhttp_get_error_reason(&c->parser);
			mn_info("http_bad_request", "err=%s reason=\"%s\"", llhttp_errno_name(e),
				mn_log_sanitize(reason, sizeof(reason), r != NULL ? r : "",
						r != NULL ? strlen(r) : 0));
			send_error(c, 400, "malformed", "malformed HTTP request");
		}
		c->in_parse = 0;
		return;
	}
	c->roff = c->rlen = 0;
	c->in_parse = 0;
	if (!ready(c) || c->reading)
		return;
	/* All that came before the client's EOF is answered; a request cut
	 * short by it gets no answer (as in on_read). */
	if (c->read_eof)
		conn_close(c);
	else
		read_start(c);
}

/* make_room runs while a request is answered (busy or writing) and reading may
 * go on: the parser is between messages, so nothing points into rbuf and the
 * unparsed bytes can move down. When rbuf is full, reading stops until
 * on_write has parsed some of it (backpressure on a pipelining client). */
static void make_room(struct conn *c)
{
	if (c->rlen < RBUF_SIZE)
		return;
	if (c->roff != 0) {
		memmove(c->rbuf, c->rbuf + c->roff, c->rlen - c->roff);
		c->rlen -= c->roff;
		c->roff = 0;
	}
	if (c->rlen == RBUF_SIZE)
		read_stop(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct conn *c = h->data;

	(void)suggested;
	if (c->rbuf == NULL && (c->rbuf = malloc(RBUF_SIZE)) == NULL) {
		*buf = uv_buf_init(NULL, 0); /* read_cb gets UV_ENOBUFS */
		return;
	}
	if (c->lingering)
		c->rlen = c->roff = 0;
	*buf = uv_buf_init(c->rbuf + c->rlen, (unsigned)(RBUF_SIZE - c->rlen));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = stream->data;

	(void)buf;
	if (nread == 0 || c->closing)
		return; /* EAGAIN, not EOF; or a close waiting for its handler */
	if (nread > 0) {
		if (c->lingering)
			return; /* discarding until EOF */
		c->rlen += (size_t)nread;
		if (c->busy || c->writing) {
			/* pipelined bytes, parsed after the response (on_write) */
			make_room(c);
			return;
		}
		conn_parse(c);
		return;
	}
	/* A client that sent its requests and shut down its side still gets
	 * the answers: on_write acts on the EOF once they are out. */
	if (nread == UV_EOF && (c->busy || c->writing)) {
		c->read_eof = 1;
		read_stop(c);
		return;
	}
	/* EOF or an error. A request cut short gets no answer: nobody is left
	 * to read it (llhttp_finish only matters for bodies delimited by EOF,
	 * which requests do not have). */
	if (nread != UV_EOF && nread != UV_ECONNRESET)
		mn_log(MN_LOG_DEBUG, "http_read_failed", "err=%s", uv_err_name((int)nread));
	read_stop(c);
	conn_close(c);
}

static void read_start(struct conn *c)
{
	if (c->reading)
		return;
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
		conn_close(c);
		return;
	}
	c->reading = 1;
}

static void on_timer(uv_timer_t *t)
{
	struct conn *c = t->data;
	uint64_t now = uv_now(&c->lp->loop);

	c->timer_due = 0;
	if (c->closing || c->deadline == 0)
		return; /* no deadline: the timer rests until the next one */
	if (now < c->deadline) {
		arm_timer(c, now);
		return;
	}
	c->deadline = 0;
	if (c->lingering) {
		conn_close(c);
		return;
	}
	if (c->busy)
		return;
	if (c->writing) {
		mn_info("http_write_timeout", "closing a connection that does not read");
		conn_close(c);
		return;
	}
	if (c->in_message) {
		send_error(c, 408, "requestTimeout", "request not complete in time");
		return;
	}
	conn_close(c); /* idle keep-alive connection */
}

/* ---- accepting ---- */

static void free_handle(uv_handle_t *h)
{
	free(h);
}

/* reject accepts and closes a connection beyond max_conns, so the listen
 * queue does not fill with connections we will never serve. */
static void reject(struct http_loop *lp, uv_stream_t *server)
{
	struct http_server *s = lp->srv;
	uv_tcp_t *t = malloc(sizeof(*t));
	uv_buf_t b;

	atomic_fetch_add_explicit(&s->conns_rejected, 1, memory_order_relaxed);
	if (t == NULL || uv_tcp_init(&lp->loop, t) != 0) {
		free(t);
		return;
	}
	if (uv_accept(server, (uv_stream_t *)t) == 0) {
		b = uv_buf_init(s->reject_msg, (unsigned)s->reject_len);
		(void)uv_try_write((uv_stream_t *)t, &b, 1); /* best effort */
	}
	uv_close((uv_handle_t *)t, free_handle);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct http_loop *lp = server->data;
	struct http_server *s = lp->srv;
	struct conn *c;

	if (status < 0) {
		mn_warn("http_accept_failed", "err=%s", uv_err_name(status));
		return;
	}
	if (atomic_fetch_add_explicit(&s->active, 1, memory_order_relaxed) >=
	    s->opt.max_conns) {
		atomic_fetch_sub_explicit(&s->active, 1, memory_order_relaxed);
		reject(lp, server);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		atomic_fetch_sub_explicit(&s->active, 1, memory_order_relaxed);
		reject(lp, server);
		return;
	}
	c->lp = lp;
	c->counted = 1;
	uv_tcp_init(&lp->loop, &c->tcp);
	uv_timer_init(&lp->loop, &c->timer);
	c->tcp.data = c;
	c->timer.data = c;
	c->refs = 2;
	c->next = lp->conns;
	if (lp->conns != NULL)
		lp->conns->prev = c;
	lp->conns = c;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
		conn_close(c);
		return;
	}
	atomic_fetch_add_explicit(&s->conns_total, 1, memory_order_relaxed);
	uv_tcp_nodelay(&c->tcp, 1);
	llhttp_init(&c->parser, HTTP_REQUEST, &settings);
	c->parser.data = c;
	set_deadline(c, s->opt.idle_timeout_ms);
	read_start(c);
}

/* ---- loops and shutdown ---- */

static void begin_stop(struct http_loop *lp)
{
	struct conn *c, *next;

	lp->stopping = 1;
	uv_close((uv_handle_t *)&lp->listener, NULL);
	for (c = lp->conns; c != NULL; c = next) {
		next = c->next;
		if (c->busy || c->writing) {
			/* in flight: answered, then closed in on_write */
			c->keep_alive = 0;
			continue;
		}
		read_stop(c);
		conn_close(c);
	}
	maybe_finish_stop(lp);
}

static void on_wakeup(uv_async_t *h)
{
	struct http_loop *lp = h->data;
	struct conn *list, *c;
	int stop;

	pthread_mutex_lock(&lp->mu);
	list = lp->done_head;
	lp->done_head = lp->done_tail = NULL;
	stop = lp->stop;
	pthread_mutex_unlock(&lp->mu);
	/* Stop first, so completions taken together with the stop request are
	 * written with Connection: close. */
	if (stop && !lp->stopping)
		begin_stop(lp);
	while (list != NULL) {
		c = list;
		list = c->done_next;
		c->done_received = 1;
		if (!c->work_active)
			request_finished(c);
	}
}

static void close_any(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void loop_main(void *arg)
{
	struct http_loop *lp = arg;
	int ret;

	uv_run(&lp->loop, UV_RUN_DEFAULT);
	/* Nothing should be left (every conn was freed before the wakeup handle
	 * closed); this sweep keeps uv_loop_close honest if a bug leaves one. */
	uv_walk(&lp->loop, close_any, NULL);
	uv_run(&lp->loop, UV_RUN_DEFAULT);
	ret = uv_loop_close(&lp->loop);
	if (ret != 0)
		mn_error("http_loop_close", "err=%s", uv_err_name(ret));
	lp->loop_ok = 0;
}

/* listen_socket makes one listening socket of the SO_REUSEPORT group. Each
 * loop gets its own socket and the kernel spreads connections over them, so
 * loops never contend on accept() and no loop wakes for another's connection
 * (libuv 1.44 has no UV_TCP_REUSEPORT, hence the raw socket). Returns the fd,
 * or -1 with errno set. */
static int listen_socket(const struct sockaddr_storage *ss, socklen_t ss_len)
{
	int one = 1;
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
	    bind(fd, (const struct sockaddr *)ss, ss_len) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

/* probe_port binds a plain socket (no SO_REUSEPORT) to find the port and to
 * make "address in use" an error: with SO_REUSEPORT alone, a second logd of
 * the same user could silently join the first one's group and share its
 * traffic. Returns the port, or 0 with errno set. */
static uint16_t probe_port(struct sockaddr_storage *ss, socklen_t ss_len)
{
	struct sockaddr_storage got;
	socklen_t got_len = sizeof(got);
	int one = 1, e;
	uint16_t port = 0;
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return 0;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
	    bind(fd, (const struct sockaddr *)ss, ss_len) == 0 &&
	    getsockname(fd, (struct sockaddr *)&got, &got_len) == 0)
		port = ntohs(got.ss_family == AF_INET
				     ? ((struct sockaddr_in *)&got)->sin_port
				     : ((struct sockaddr_in6 *)&got)->sin6_port);
	e = errno;
	close(fd);
	errno = e;
	return port;
}

static void teardown(struct http_server *s)
{
	unsigned i;

	for (i = 0; i < s->num_loops; i++) {
		struct http_loop *lp = &s->loops[i];
		if (lp->thread_ok) {
			pthread_mutex_lock(&lp->mu);
			lp->stop = 1;
			uv_async_send(&lp->wakeup);
			pthread_mutex_unlock(&lp->mu);
		}
	}
	for (i = 0; i < s->num_loops; i++) {
		struct http_loop *lp = &s->loops[i];
		if (lp->thread_ok) {
			uv_thread_join(&lp->thread);
			lp->thread_ok = 0;
		} else if (lp->loop_ok) {
			/* never started: close its handles here */
			uv_walk(&lp->loop, close_any, NULL);
			uv_run(&lp->loop, UV_RUN_DEFAULT);
			if (uv_loop_close(&lp->loop) != 0)
				mn_error("http_loop_close", "loop %u", i);
		}
		if (lp->fd >= 0 && !lp->listener_ok)
			close(lp->fd);
		if (lp->mu_ok)
			pthread_mutex_destroy(&lp->mu);
	}
	free(s->loops);
	free(s);
}

/* ignore_sigpipe: libuv writes with write(2), so a peer that went away would
 * kill the process with SIGPIPE instead of giving us EPIPE (libuv leaves this
 * to the application, as Node does at startup). Only a default disposition is
 * changed; a handler someone installed is left alone. */
static void ignore_sigpipe(void)
{
	struct sigaction sa;

	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
		sa.sa_handler = SIG_IGN;
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = 0;
		(void)sigaction(SIGPIPE, &sa, NULL);
	}
}

int http_server_start(struct http_server **out, const struct http_options *opt,
		      http_handler_fn handler, void *handler_ctx)
{
	struct http_server *s;
	struct sockaddr_storage ss;
	socklen_t ss_len;
	const char *host;
	char body[128];
	int n, ret = MN_EIO;
	unsigned i;

	if (out == NULL || opt == NULL || handler == NULL)
		return MN_EINVAL;
	ignore_sigpipe();
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return MN_ENOMEM;
	s->opt = *opt;
	s->handler = handler;
	s->handler_ctx = handler_ctx;
	host = opt->host != NULL ? opt->host : "127.0.0.1";
	if (s->opt.threads == 0) {
		long nc = sysconf(_SC_NPROCESSORS_ONLN);
		s->opt.threads = nc > 0 ? (unsigned)nc : 1;
	}
	if (s->opt.threads > MAX_THREADS)
		s->opt.threads = MAX_THREADS;
	if (s->opt.max_header_bytes == 0)
		s->opt.max_header_bytes = 8u << 10;
	if (s->opt.max_url_bytes == 0)
		s->opt.max_url_bytes = 4u << 10;
	if (s->opt.max_body_bytes == 0)
		s->opt.max_body_bytes = 1u << 20;
	if (s->opt.max_conns == 0)
		s->opt.max_conns = 4096;
	if (s->opt.idle_timeout_ms == 0)
		s->opt.idle_timeout_ms = 30000;
	if (s->opt.request_timeout_ms == 0)
		s->opt.request_timeout_ms = 10000;
	s->tick_ms = s->opt.idle_timeout_ms < s->opt.request_timeout_ms ? s->opt.idle_timeout_ms
									 : s->opt.request_timeout_ms;
	n = snprintf(body, sizeof(body),
		     "{\"error_code\": \"unavailable\", \"error_message\": \"too many connections\"}");
	s->reject_len = (size_t)snprintf(s->reject_msg, sizeof(s->reject_msg),
					 "HTTP/1.1 503 Service Unavailable\r\n"
					 "Content-Type: application/json\r\nContent-Length: %d\r\n"
					 "Retry-After: 1\r\nConnection: close\r\n\r\n%s",
					 n, body);

	memset(&ss, 0, sizeof(ss));
	if (uv_ip4_addr(host, opt->port, (struct sockaddr_in *)&ss) == 0) {
		ss_len = sizeof(struct sockaddr_in);
	} else if (uv_ip6_addr(host, opt->port, (struct sockaddr_in6 *)&ss) == 0) {
		ss_len = sizeof(struct sockaddr_in6);
	} else {
		char h[64];
		mn_error("http_listen", "bad address host=%s",
			 mn_log_sanitize(h, sizeof(h), host, strlen(host)));
		free(s);
		return MN_EINVAL;
	}
	s->port = probe_port(&ss, ss_len);
	if (s->port == 0) {
		mn_error("http_listen", "bind %s:%u failed: %s", host, (unsigned)opt->port,
			 strerror(errno));
		free(s);
		return MN_EIO;
	}
	set_port(&ss, s->port);

	s->loops = calloc(s->opt.threads, sizeof(*s->loops));
	if (s->loops == NULL) {
		free(s);
		return MN_ENOMEM;
	}
	s->num_loops = s->opt.threads;
	for (i = 0; i < s->num_loops; i++)
		s->loops[i].fd = -1;
	for (i = 0; i < s->num_loops; i++) {
		struct http_loop *lp = &s->loops[i];
		int r;

		lp->srv = s;
		if (pthread_mutex_init(&lp->mu, NULL) != 0)
			goto err;
		lp->mu_ok = 1;
		lp->fd = listen_socket(&ss, ss_len);
		if (lp->fd < 0) {
			mn_error("http_listen", "bind %s:%u failed: %s", host,
				 (unsigned)s->port, strerror(errno));
			goto err;
		}
		if ((r = uv_loop_init(&lp->loop)) != 0)
			goto uv_err;
		lp->loop_ok = 1;
		if ((r = uv_async_init(&lp->loop, &lp->wakeup, on_wakeup)) != 0)
			goto uv_err;
		lp->wakeup.data = lp;
		lp->wakeup_ok = 1;
		if ((r = uv_tcp_init(&lp->loop, &lp->listener)) != 0)
			goto uv_err;
		lp->listener.data = lp;
		if ((r = uv_tcp_open(&lp->listener, lp->fd)) != 0) {
			close(lp->fd);
			lp->fd = -1;
			goto uv_err;
		}
		lp->listener_ok = 1;
		if ((r = uv_listen((uv_stream_t *)&lp->listener, SOMAXCONN, on_connection)) != 0)
			goto uv_err;
		continue;
	uv_err:
		mn_error("http_listen", "loop %u: %s", i, uv_strerror(r));
		goto err;
	}
	for (i = 0; i < s->num_loops; i++) {
		struct http_loop *lp = &s->loops[i];
		if (uv_thread_create(&lp->thread, loop_main, lp) != 0) {
			mn_error("http_listen", "cannot start loop thread %u", i);
			goto err;
		}
		lp->thread_ok = 1;
	}
	mn_info("http_listen", "addr=%s:%u threads=%u", host, (unsigned)s->port,
		s->num_loops);
	*out = s;
	return 0;
err:
	teardown(s);
	return ret;
}

uint16_t http_server_port(const struct http_server *s)
{
	return s->port;
}

void http_server_stop(struct http_server *s)
{
	if (s == NULL)
		return;
	teardown(s);
}

void http_server_metrics(struct http_server *s, struct prom *w)
{
	uint64_t b[NUM_BUCKETS + 1];
	char st[24];
	unsigned i;

	prom_family(w, "mn_http_connections_open", PROM_GAUGE, "Open client connections.");
	prom_u64(w, NULL, NULL, atomic_load_explicit(&s->active, memory_order_relaxed));
	prom_family(w, "mn_http_connections_total", PROM_COUNTER, "Connections accepted.");
	prom_u64(w, NULL, NULL, atomic_load_explicit(&s->conns_total, memory_order_relaxed));
	prom_family(w, "mn_http_connections_rejected_total", PROM_COUNTER,
		    "Connections closed at accept: over --max-conns.");
	prom_u64(w, NULL, NULL, atomic_load_explicit(&s->conns_rejected, memory_order_relaxed));
	prom_family(w, "mn_http_requests_total", PROM_COUNTER,
		    "HTTP responses written, by status (transport and API errors alike).");
	for (i = 100; i < MAX_STATUS; i++) {
		uint64_t v = atomic_load_explicit(&s->status_count[i], memory_order_relaxed);
		if (v == 0)
			continue;
		snprintf(st, sizeof(st), "status=\"%u\"", i);
		prom_u64(w, NULL, st, v);
	}
	for (i = 0; i <= NUM_BUCKETS; i++)
		b[i] = atomic_load_explicit(&s->dur_bucket[i], memory_order_relaxed);
	prom_family(w, "mn_http_request_duration_seconds", PROM_HISTOGRAM,
		    "Time from a request's first byte to its response's write.");
	prom_histogram(w, NULL, NULL, dur_bounds, NUM_BUCKETS, b,
		       (double)atomic_load_explicit(&s->dur_sum_us, memory_order_relaxed) / 1e6);
}
