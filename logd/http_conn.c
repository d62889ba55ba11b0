/* http_conn.c: a connection's life (http_internal.h has its phases): accept
 * or reject beyond max_conns, read into rbuf, the parse loop that feeds llhttp
 * and hands each request to http__dispatch, backpressure on a pipelining
 * client, the one deadline timer, linger after Connection: close, close and
 * free. Loop thread only. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "llhttp.h"

#include "common/log.h"
#include "logd/http_internal.h"

#define LINGER_MS 2000u

static void on_timer(uv_timer_t *t);
static void make_room(struct conn *c);

/* ---- connection lifetime ---- */

static void release_slot(struct conn *c)
{
	if (c->counted) {
		c->counted = 0;
		atomic_fetch_sub_explicit(&c->lp->srv->active, 1, memory_order_relaxed);
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
	http__maybe_finish_stop(lp);
}

static void on_close(uv_handle_t *h)
{
	struct conn *c = h->data;

	if (--c->refs == 0)
		conn_free(c);
}

void http__close_handles(struct conn *c)
{
	uv_close((uv_handle_t *)&c->tcp, on_close);
	uv_close((uv_handle_t *)&c->timer, on_close);
}

/* http__conn_close closes |c| now, or, while its handler runs, as soon as the
 * response arrives (http__request_finished); the conn lives until then. */
void http__conn_close(struct conn *c)
{
	release_slot(c);
	if (c->closing)
		return;
	c->closing = 1;
	if (c->busy)
		return;
	http__close_handles(c);
}

/* arm_timer starts the timer for the deadline, at most tick_ms ahead. */
static void arm_timer(struct conn *c, uint64_t now)
{
	uint64_t wait = c->deadline > now ? c->deadline - now : 0;

	if (wait > c->lp->srv->tick_ms)
		wait = c->lp->srv->tick_ms;
	c->timer_due = now + wait;
	uv_timer_start(&c->timer, on_timer, wait, 0);
}

/* http__set_deadline makes the current phase time out |ms| from now. Usually
 * only a store: the armed timer is due no later than now + tick_ms <= the new
 * deadline, and on_timer re-arms. Only a shorter deadline (linger) or an
 * unarmed timer costs a uv_timer_start. */
void http__set_deadline(struct conn *c, uint64_t ms)
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
		http__conn_close(c);
		return;
	}
	c->lingering = 1;
	c->rlen = c->roff = 0;
	http__read_start(c);
	http__set_deadline(c, c->lp->srv->opt.idle_timeout_ms < LINGER_MS
				      ? c->lp->srv->opt.idle_timeout_ms
				      : LINGER_MS);
}

/* http__conn_linger ends a connection after a Connection: close response. */
void http__conn_linger(struct conn *c)
{
	release_slot(c);
	c->shutting = 1;
	if (c->lp->stopping ||
	    uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shutdown) != 0)
		http__conn_close(c);
}

/* ---- reading ---- */

void http__read_stop(struct conn *c)
{
	if (c->reading) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = 0;
	}
}

/* ready: the connection waits for its next request. */
static int ready(const struct conn *c)
{
	return !c->busy && !c->writing && !c->closing && !c->lingering && !c->shutting;
}

/* http__conn_parse parses and dispatches the requests held in rbuf, one after
 * the other while each is answered at once, then reads more. */
void http__conn_parse(struct conn *c)
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
			http__dispatch(c);
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
			http__send_error(c, st, c->err_code, c->err_msg);
		} else {
			char reason[128];
			const char *r = llhttp_get_error_reason(&c->parser);
			mn_info("http_bad_request", "err=%s reason=\"%s\"", llhttp_errno_name(e),
				mn_log_sanitize(reason, sizeof(reason), r != NULL ? r : "",
						r != NULL ? strlen(r) : 0));
			http__send_error(c, 400, "malformed", "malformed HTTP request");
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
		http__conn_close(c);
	else
		http__read_start(c);
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
		http__read_stop(c);
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
		http__conn_parse(c);
		return;
	}
	/* A client that sent its requests and shut down its side still gets
	 * the answers: on_write acts on the EOF once they are out. */
	if (nread == UV_EOF && (c->busy || c->writing)) {
		c->read_eof = 1;
		http__read_stop(c);
		return;
	}
	/* EOF or an error. A request cut short gets no answer: nobody is left
	 * to read it (llhttp_finish only matters for bodies delimited by EOF,
	 * which requests do not have). */
	if (nread != UV_EOF && nread != UV_ECONNRESET)
		mn_log(MN_LOG_DEBUG, "http_read_failed", "err=%s", uv_err_name((int)nread));
	http__read_stop(c);
	http__conn_close(c);
}

void http__read_start(struct conn *c)
{
	if (c->reading)
		return;
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
		http__conn_close(c);
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
		http__conn_close(c);
		return;
	}
	if (c->busy)
		return;
	if (c->writing) {
		mn_info("http_write_timeout", "closing a connection that does not read");
		http__conn_close(c);
		return;
	}
	if (c->in_message) {
		http__send_error(c, 408, "requestTimeout", "request not complete in time");
		return;
	}
	http__conn_close(c); /* idle keep-alive connection */
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

void http__on_connection(uv_stream_t *server, int status)
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
		http__conn_close(c);
		return;
	}
	atomic_fetch_add_explicit(&s->conns_total, 1, memory_order_relaxed);
	uv_tcp_nodelay(&c->tcp, 1);
	llhttp_init(&c->parser, HTTP_REQUEST, &http__settings);
	c->parser.data = c;
	http__set_deadline(c, s->opt.idle_timeout_ms);
	http__read_start(c);
}
