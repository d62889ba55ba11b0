/* http_internal.h: what the files of logd's HTTP/1.1 transport share; not
 * for other files (http.h is the contract). libuv loops, one struct conn per
 * connection, one llhttp_t per connection (STYLE.md sections 5 and 6):
 *
 *   http.c           the server: listening sockets, loop threads, the wakeup
 *                    queue, shutdown, metrics
 *   http_conn.c      a connection's life: accept, read, parse loop, deadlines,
 *                    linger, close, free
 *   http_parse.c     the llhttp callbacks with their limits, and the request
 *                    target split into path and query
 *   http_dispatch.c  a complete request to the handler (loop thread or pool)
 *                    and its response back (done() from any thread)
 *   http_write.c     the response: header, write, metrics, transport errors
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
 *            if that writes everything, http__conn_parse goes straight on
 *            to the next pipelined request); deadline = idle_timeout as a
 *            write-stall guard; parsing of pipelined bytes resumes in
 *            on_write, so responses go out in request order and at most one
 *            is buffered. Reading goes on into rbuf without parsing and
 *            stops when rbuf is full, so a pipelining client that does not
 *            read costs at most RBUF_SIZE plus one response. An EOF seen
 *            here is kept (read_eof) and acted on once the buffered requests
 *            are answered
 *   linger   after a Connection: close response: our side is shut down and
 *            we discard what the client still sends (a body we refused to
 *            read) until EOF or LINGER_MS (http_conn.c), so the kernel does
 *            not answer unread bytes with an RST that would destroy our
 *            error response
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
#ifndef MN_LOGD_HTTP_INTERNAL_H
#define MN_LOGD_HTTP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "llhttp.h"

#include "logd/http.h"

#define RBUF_SIZE (16u << 10) /* one read; llhttp copies nothing, we copy out */
#define NUM_BUCKETS 13
#define MAX_STATUS 600
/* Body memory: preallocated from Content-Length up to BODY_PREALLOC (more
 * only as bytes arrive, so announcing 1 MiB costs nothing until it is sent),
 * and given back after the response if it grew past BODY_KEEP. */
#define BODY_PREALLOC (64u << 10)
#define BODY_KEEP (16u << 10)

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

/* ---- http.c ---- */

/* http__maybe_finish_stop closes the loop's wakeup handle once a stopping
 * loop has no conn left. */
void http__maybe_finish_stop(struct http_loop *lp);

/* ---- http_conn.c ---- */

/* http__on_connection is the listener's connection callback: it admits a
 * connection (or rejects it beyond max_conns) and starts reading. */
void http__on_connection(uv_stream_t *server, int status);
/* http__close_handles closes both handles of |c|; it is freed in the last
 * close callback. */
void http__close_handles(struct conn *c);
/* http__conn_close closes |c| now, or, while its handler runs, as soon as
 * the response arrives (http__request_finished). */
void http__conn_close(struct conn *c);
/* http__set_deadline makes the current phase of |c| time out |ms| from now. */
void http__set_deadline(struct conn *c, uint64_t ms);
/* http__conn_linger ends a connection after a Connection: close response. */
void http__conn_linger(struct conn *c);
/* http__read_start and http__read_stop start and stop reading (no-ops when
 * already so); a failed start closes |c|. */
void http__read_start(struct conn *c);
void http__read_stop(struct conn *c);
/* http__conn_parse parses and dispatches the requests held in rbuf, then
 * reads more. */
void http__conn_parse(struct conn *c);

/* ---- http_parse.c ---- */

/* http__settings: the llhttp callbacks every conn's parser shares. */
extern const llhttp_settings_t http__settings;
/* http__split_target fills c->req's path and query from c->url. Returns 1,
 * or 0 if the path is badly encoded. */
int http__split_target(struct conn *c);

/* ---- http_dispatch.c ---- */

/* http__dispatch hands a complete request (parser paused) to the handler. */
void http__dispatch(struct conn *c);
/* http__request_finished writes the handler's response (loop thread), once
 * the handler has returned and, for API_ASYNC, done() has been received. */
void http__request_finished(struct conn *c);

/* ---- http_write.c ---- */

/* http__dur_bounds: the request duration histogram's bucket bounds (s). */
extern const double http__dur_bounds[NUM_BUCKETS];
/* http__write_response writes c->resp (which it frees) and goes on to the
 * next request, lingers or closes. */
void http__write_response(struct conn *c);
/* http__send_error answers the current request with a transport error and
 * closes the connection after the write. */
void http__send_error(struct conn *c, int status, const char *code, const char *msg);
/* http__on_write_continue is the write callback of a 100 Continue. */
void http__on_write_continue(uv_write_t *req, int status);

#endif
