/* witness_serve.c: `mnctl witness serve`, the HTTP front of witness/witness.h
 * (c2sp.org/tlog-witness v1.0.0):
 *
 *   POST /add-checkpoint        cosign a checkpoint (witness_add_checkpoint)
 *   GET  /<hex>/checkpoint      the last cosigned checkpoint of the log whose
 *                               origin hashes (SHA-256) to <hex>
 *
 * One libuv loop owns the sockets; llhttp parses (keep-alive, pipelining);
 * each request runs on libuv's thread pool (uv_queue_work), because it
 * verifies, signs and fsyncs, and the witness is thread-safe. A connection
 * handles one request at a time: the parser is paused at the end of each
 * message, reading stops, and the bytes already read past it are kept for when
 * the answer is written.
 *
 * Limits: the request line and headers (WS_MAX_URL, WS_MAX_HEADER_BYTES,
 * WS_MAX_HEADERS: 414 / 431), the body (WIT_MAX_BODY: 413), connections
 * (WS_MAX_CONNS: more are closed at once), and a deadline of --timeout seconds
 * (default 30) for each request to arrive whole, counted from the connection or
 * the previous answer, so neither an idle client nor a slow one (slowloris)
 * holds a connection longer. Malformed HTTP gets 400 and a close. Error bodies
 * are one line of text/plain naming the problem. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <uv.h>

#include "llhttp.h"

#include "client/listen.h"
#include "client/mnctl.h"
#include "common/bytes.h"
#include "common/err.h"
#include "witness/witness.h"

#define WS_MAX_URL 1024
#define WS_MAX_HEADER_BYTES (16 * 1024)
#define WS_MAX_HEADERS 100
#define WS_MAX_CONNS 1024
#define WS_RBUF 16384
#define WS_THREADS "8"

struct ws_server {
	uv_loop_t *loop;
	uv_tcp_t listener;
	uv_signal_t sigterm, sigint;
	struct witness *w;
	uint64_t timeout_ms;
	size_t num_conns;
	int stopping;
};

struct ws_conn {
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_work_t work;
	llhttp_t parser;
	struct ws_server *s;
	int handles;            /* open handles: freed when 0 */
	int closing;
	int busy;               /* 2: work in flight, 1: answer being written */
	int reading;            /* uv_read_start is on */
	int keep_alive;
	/* the request being read */
	int method;
	char url[WS_MAX_URL + 1];
	size_t url_len;
	size_t header_bytes, num_headers;
	char field[16];         /* the first bytes of the header field being read */
	size_t field_len;
	int is_expect;          /* that field is Expect */
	char expect[16];        /* the first bytes of its value */
	size_t expect_len;
	uv_write_t wr_continue; /* "100 Continue" (RFC 9110 10.1.1) */
	uint8_t *body;
	size_t body_len, body_cap;
	int error_status;       /* a limit hit in a callback: the status to send */
	/* the answer */
	struct witness_answer ans;
	int route;              /* ROUTE_* */
	/* bytes read past the request being answered */
	char *pending;
	size_t pending_len;
	char rbuf[WS_RBUF];
};

enum { ROUTE_NONE, ROUTE_ADD, ROUTE_GET };

struct ws_write {
	uv_write_t req;
	struct ws_conn *c;
	uint8_t *body;
	uv_buf_t bufs[2];
	char head[256];
};

static void conn_close(struct ws_conn *c);
static void read_on(struct ws_conn *c);
static void process(struct ws_conn *c, const char *data, size_t len);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b);

static const char *reason_phrase(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 422: return "Unprocessable Content";
	case 431: return "Request Header Fields Too Large";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

/* --- connection lifetime ------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h)
{
	struct ws_conn *c = h->data;

	if (--c->handles > 0)
		return;
	c->s->num_conns--;
	free(c->body);
	free(c->pending);
	witness_answer_cleanup(&c->ans);
	free(c);
}

/* conn_close closes |c| now, or when its work is done (after_work). */
static void conn_close(struct ws_conn *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	if (c->busy == 2) /* work in flight: after_work closes */
		return;
	uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
	uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

static void on_deadline(uv_timer_t *t)
{
	struct ws_conn *c = t->data;

	if (!c->busy)
		conn_close(c);
}

static void request_reset(struct ws_conn *c)
{
	c->method = -1;
	c->url_len = 0;
	c->header_bytes = 0;
	c->num_headers = 0;
	c->body_len = 0;
	c->error_status = 0;
	c->field_len = 0;
	c->is_expect = 0;
	c->expect_len = 0;
}

/* --- writing ------------------------------------------------------------- */

static void on_write(uv_write_t *req, int status)
{
	struct ws_write *wr = (struct ws_write *)req;
	struct ws_conn *c = wr->c;

	free(wr->body);
	free(wr);
	c->busy = 0;
	if (status < 0 || !c->keep_alive || c->s->stopping) {
		conn_close(c);
		return;
	}
	if (c->closing)
		return;
	/* the next request: the bytes already read, then the socket */
	uv_timer_start(&c->timer, on_deadline, c->s->timeout_ms, 0);
	llhttp_resume(&c->parser);
	request_reset(c);
	if (c->pending_len > 0) {
		char *p = c->pending;
		size_t n = c->pending_len;
		c->pending = NULL;
		c->pending_len = 0;
		process(c, p, n);
		free(p);
		return;
	}
	read_on(c);
}

/* respond sends |status| with |body| (taken over, freed after the write). */
static void respond(struct ws_conn *c, int status, const char *content_type, uint8_t *body,
		    size_t body_len)
{
	struct ws_write *wr = calloc(1, sizeof(*wr));
	int n;

	if (wr == NULL) {
		free(body);
		conn_close(c);
		return;
	}
	c->busy = 1;
	uv_timer_stop(&c->timer);
	wr->c = c;
	wr->body = body;
	n = snprintf(wr->head, sizeof(wr->head),
		     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s\r\n", status,
		     reason_phrase(status), content_type, body_len,
		     c->keep_alive && !c->s->stopping ? "" : "Connection: close\r\n");
	wr->bufs[0] = uv_buf_init(wr->head, (unsigned)n);
	wr->bufs[1] = uv_buf_init((char *)body, (unsigned)body_len);
	if (uv_write(&wr->req, (uv_stream_t *)&c->tcp, wr->bufs, body_len > 0 ? 2 : 1,
		     on_write) != 0) {
		free(body);
		free(wr);
		c->busy = 0;
		conn_close(c);
	}
}

/* respond_text sends "reason\n" as text/plain. */
static void respond_text(struct ws_conn *c, int status, const char *reason)
{
	size_t n = strlen(reason);
	uint8_t *b = malloc(n + 1);

	if (b == NULL) {
		conn_close(c);
		return;
	}
	memcpy(b, reason, n);
	b[n] = '\n';
	respond(c, status, "text/plain; charset=utf-8", b, n + 1);
}

/* --- the work ------------------------------------------------------------ */

static void work_cb(uv_work_t *req)
{
	struct ws_conn *c = req->data;
	int ret;

	if (c->route == ROUTE_ADD)
		ret = witness_add_checkpoint(c->s->w, c->body, c->body_len, &c->ans);
	else
		ret = witness_get_checkpoint(c->s->w, c->url + 1, 64, &c->ans);
	if (ret != 0)
		c->ans.status = 0; /* out of memory: answered 500 below */
}

static void after_work_cb(uv_work_t *req, int status)
{
	struct ws_conn *c = req->data;
	uint8_t *body = c->ans.body;

	c->busy = 1;
	if (c->closing) {
		witness_answer_cleanup(&c->ans);
		c->closing = 0;
		c->busy = 0;
		conn_close(c);
		return;
	}
	if (status != 0 || c->ans.status == 0) {
		witness_answer_cleanup(&c->ans);
		c->keep_alive = 0;
		respond_text(c, 500, "out of memory");
		return;
	}
	c->ans.body = NULL;
	respond(c, c->ans.status, c->ans.content_type, body, c->ans.body_len);
	c->ans.body_len = 0;
}

/* dispatch answers the complete request in |c|. */
static void dispatch(struct ws_conn *c)
{
	const char *path = c->url;
	size_t pl = c->url_len;
	const char *q = memchr(c->url, '?', c->url_len);

	if (q != NULL)
		pl = (size_t)(q - c->url);
	c->route = ROUTE_NONE;
	if (pl == 15 && memcmp(path, "/add-checkpoint", 15) == 0) {
		if (c->method != HTTP_POST) {
			respond_text(c, 405, "add-checkpoint wants POST");
			return;
		}
		c->route = ROUTE_ADD;
	} else if (pl == 1 + 64 + 11 && memcmp(path + 65, "/checkpoint", 11) == 0 &&
		   strspn(path + 1, "0123456789abcdef") >= 64) {
		if (c->method != HTTP_GET) {
			respond_text(c, 405, "checkpoint wants GET");
			return;
		}
		c->route = ROUTE_GET;
	} else {
		respond_text(c, 404, "no such endpoint (POST /add-checkpoint, "
				     "GET /<sha256(origin) hex>/checkpoint)");
		return;
	}
	c->work.data = c;
	c->busy = 2;
	uv_timer_stop(&c->timer);
	if (uv_queue_work(c->s->loop, &c->work, work_cb, after_work_cb) != 0) {
		c->busy = 0;
		c->keep_alive = 0;
		respond_text(c, 503, "cannot queue the request");
	}
}

/* --- llhttp callbacks ---------------------------------------------------- */

static int limit(llhttp_t *p, int status, const char *reason)
{
	struct ws_conn *c = p->data;

	c->error_status = status;
	llhttp_set_error_reason(p, reason);
	return HPE_USER;
}

static int on_message_begin(llhttp_t *p)
{
	request_reset(p->data);
	return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
	struct ws_conn *c = p->data;

	if (len > WS_MAX_URL - c->url_len)
		return limit(p, 414, "request target too long");
	memcpy(c->url + c->url_len, at, len);
	c->url_len += len;
	c->url[c->url_len] = '\0';
	return 0;
}

static int count_header(llhttp_t *p, size_t len)
{
	struct ws_conn *c = p->data;

	if (len > WS_MAX_HEADER_BYTES - c->header_bytes)
		return limit(p, 431, "request headers too large");
	c->header_bytes += len;
	return 0;
}

/* keep: the first bytes of a field or value that arrives in pieces */
static void keep(char *buf, size_t cap, size_t *len, const char *at, size_t n)
{
	if (*len < cap) {
		size_t take = cap - *len;
		memcpy(buf + *len, at, n < take ? n : take);
	}
	*len += n;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
	struct ws_conn *c = p->data;

	keep(c->field, sizeof(c->field), &c->field_len, at, len);
	return count_header(p, len);
}

static int on_header_field_complete(llhttp_t *p)
{
	struct ws_conn *c = p->data;

	c->is_expect = c->field_len == 6 && strncasecmp(c->field, "expect", 6) == 0;
	c->field_len = 0;
	if (++c->num_headers > WS_MAX_HEADERS)
		return limit(p, 431, "too many request headers");
	return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
	struct ws_conn *c = p->data;

	if (c->is_expect)
		keep(c->expect, sizeof(c->expect), &c->expect_len, at, len);
	return count_header(p, len);
}

static int on_header_value_complete(llhttp_t *p)
{
	struct ws_conn *c = p->data;

	c->is_expect = 0;
	return 0;
}

static void on_write_continue(uv_write_t *req, int status)
{
	(void)req;
	(void)status; /* a failed write shows on the answer's write too */
}

static int on_headers_complete(llhttp_t *p)
{
	struct ws_conn *c = p->data;

	c->method = llhttp_get_method(p);
	if (p->upgrade) {
		if (c->method == HTTP_CONNECT)
			return limit(p, 405, "CONNECT is not supported");
		p->upgrade = 0; /* RFC 9110 section 7.8: a server may ignore Upgrade */
	}
	if ((p->flags & F_CONTENT_LENGTH) && p->content_length > WIT_MAX_BODY)
		return limit(p, 413, "request body too large");
	/* RFC 9110 section 10.1.1: a client that sent Expect: 100-continue
	 * waits for this before sending the body (libcurl does, for a second,
	 * with bodies over 1 KiB) */
	if (c->expect_len == 12 && strncasecmp(c->expect, "100-continue", 12) == 0 &&
	    p->http_major == 1 && p->http_minor >= 1 &&
	    ((p->flags & F_CHUNKED) || p->content_length > 0)) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		uv_buf_t b = uv_buf_init((char *)cont, sizeof(cont) - 1);
		(void)uv_write(&c->wr_continue, (uv_stream_t *)&c->tcp, &b, 1, on_write_continue);
	}
	return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
	struct ws_conn *c = p->data;

	if (len > WIT_MAX_BODY - c->body_len)
		return limit(p, 413, "request body too large");
	if (!mn_reserve(&c->body, &c->body_cap, c->body_len, len, WIT_MAX_BODY))
		return limit(p, 503, "out of memory");
	memcpy(c->body + c->body_len, at, len);
	c->body_len += len;
	return 0;
}

static int on_message_complete(llhttp_t *p)
{
	struct ws_conn *c = p->data;

	c->keep_alive = llhttp_should_keep_alive(p);
	return HPE_PAUSED; /* answered by process(), after llhttp_execute returns */
}

static const llhttp_settings_t settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_header_field_complete = on_header_field_complete,
	.on_header_value_complete = on_header_value_complete,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/* --- reading ------------------------------------------------------------- */

/* process feeds |data| to the parser; at the end of a message it keeps the
 * rest for later and answers. */
static void process(struct ws_conn *c, const char *data, size_t len)
{
	enum llhttp_errno e = llhttp_execute(&c->parser, data, len);

	if (e == HPE_OK) {
		read_on(c);
		return;
	}
	if (c->reading) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = 0;
	}
	if (e == HPE_PAUSED) {
		const char *pos = llhttp_get_error_pos(&c->parser);
		size_t used = pos != NULL && pos >= data && pos <= data + len
			      ? (size_t)(pos - data) : len;
		if (used < len) {
			c->pending = malloc(len - used);
			if (c->pending == NULL) {
				conn_close(c);
				return;
			}
			memcpy(c->pending, data + used, len - used);
			c->pending_len = len - used;
		}
		dispatch(c);
		return;
	}
	/* a limit or malformed HTTP: answer and close */
	c->keep_alive = 0;
	if (c->error_status != 0)
		respond_text(c, c->error_status, llhttp_get_error_reason(&c->parser));
	else
		respond_text(c, 400, "malformed HTTP request");
}

static void read_on(struct ws_conn *c)
{
	if (c->reading || c->closing)
		return;
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
		conn_close(c);
	else
		c->reading = 1;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct ws_conn *c = h->data;

	(void)suggested;
	*b = uv_buf_init(c->rbuf, sizeof(c->rbuf));
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
	struct ws_conn *c = st->data;

	if (nread == 0 || c->closing)
		return;
	if (nread < 0) {
		conn_close(c);
		return;
	}
	if (c->busy) { /* cannot happen: reading stops while answering */
		conn_close(c);
		return;
	}
	process(c, b->base, (size_t)nread);
}

static void on_connection(uv_stream_t *l, int status)
{
	struct ws_server *s = l->data;
	struct ws_conn *c;

	if (status < 0 || s->stopping)
		return;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return;
	c->s = s;
	uv_tcp_init(s->loop, &c->tcp);
	uv_timer_init(s->loop, &c->timer);
	c->tcp.data = c->timer.data = c;
	c->handles = 2;
	s->num_conns++;
	request_reset(c);
	llhttp_init(&c->parser, HTTP_REQUEST, &settings);
	c->parser.data = c;
	if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0 || s->num_conns > WS_MAX_CONNS) {
		conn_close(c);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	uv_timer_start(&c->timer, on_deadline, s->timeout_ms, 0);
	read_on(c);
}

/* --- start and stop ------------------------------------------------------ */

static void on_walk_close(uv_handle_t *h, void *arg)
{
	struct ws_server *s = arg;

	if (uv_is_closing(h) || h->type == UV_TIMER) /* timers close with their conn */
		return;
	if (h->type == UV_TCP && h != (uv_handle_t *)&s->listener) {
		struct ws_conn *c = h->data;
		if (!c->busy)
			conn_close(c);
		/* else closed once its answer is written (s->stopping) */
	} else {
		uv_close(h, NULL);
	}
}

static void on_signal(uv_signal_t *sig, int signum)
{
	struct ws_server *s = sig->data;

	fprintf(stderr, "witness: signal %d, stopping\n", signum);
	s->stopping = 1;
	uv_walk(s->loop, on_walk_close, s);
}

static int witness_serve(struct mnctl *m)
{
	struct ws_server s = {.timeout_ms = (uint64_t)m->timeout_s * 1000};
	struct sockaddr_storage ss;
	int ret;
	char shown[80], err[512];
	const char *name = mnctl_opts.witness_name ? mnctl_opts.witness_name : mnctl_opts.listen;

	if (mnctl_opts.listen == NULL || mnctl_opts.state == NULL || m->key_file == NULL ||
	    mnctl_opts.logs == NULL)
		return mnctl_fail(MNCTL_EUSAGE, "witness serve --listen HOST:PORT --state DIR "
				  "--key KEY --logs FILE [--name NAME]");
	if ((ret = mnctl_listen_addr(mnctl_opts.listen, &ss)) != MNCTL_OK)
		return ret;
	ret = witness_new(&s.w, mnctl_opts.state, mnctl_opts.logs, m->key_file, name, err,
			  sizeof(err));
	if (ret != 0)
		return mnctl_fail(ret == MN_EINVAL ? MNCTL_EUSAGE : MNCTL_ELOCAL, "witness: %s",
				  err);
	setenv("UV_THREADPOOL_SIZE", WS_THREADS, 0);
	signal(SIGPIPE, SIG_IGN);
	s.loop = uv_default_loop();
	ret = mnctl_listen_start(s.loop, &s.listener, &s.sigterm, &s.sigint, &s, &ss,
				 mnctl_opts.listen, on_connection, on_signal, shown,
				 sizeof(shown));
	if (ret != MNCTL_OK) {
		witness_free(s.w);
		return ret;
	}
	/* line 1: the vkey, for policies; line 2: where it listens */
	printf("%s\nwitness listening on %s\n", witness_vkey(s.w), shown);
	fflush(stdout);
	ret = mnctl_listen_run(s.loop);
	witness_free(s.w);
	return ret;
}

int mnctl_cmd_witness(struct mnctl *m, int argc, char **argv)
{
	if (argc != 1 || strcmp(argv[0], "serve") != 0)
		return mnctl_fail(MNCTL_EUSAGE, "witness serve --listen HOST:PORT --state DIR "
				  "--key KEY --logs FILE [--name NAME]");
	return witness_serve(m);
}
