/* http_write.c: writing a response: the status line and headers built
 * without snprintf, uv_try_write first and uv_write for what the socket did
 * not take, the request metrics, and what comes after the write (the next
 * pipelined request, linger or close). Transport errors (limits, timeouts,
 * malformed requests) are answered here too. Loop thread only. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "common/clock.h"
#include "common/log.h"
#include "logd/http_internal.h"

/* ---- writing ---- */

const double http__dur_bounds[NUM_BUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

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

static void record_metrics(struct conn *c, int status)
{
	struct http_server *s = c->lp->srv;
	uint64_t now = mn_mono_ns();
	uint64_t ns = c->t_begin != 0 && now > c->t_begin ? now - c->t_begin : 0;
	double secs = (double)ns / 1e9;
	unsigned b = 0;

	if (status > 0 && status < MAX_STATUS)
		atomic_fetch_add_explicit(&s->status_count[status], 1, memory_order_relaxed);
	while (b < NUM_BUCKETS && secs > http__dur_bounds[b])
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
		http__conn_close(c);
		return 0;
	}
	if (!c->keep_alive) {
		http__conn_linger(c);
		return 0;
	}
	http__set_deadline(c, c->lp->srv->opt.idle_timeout_ms);
	return 1;
}

static void on_write(uv_write_t *req, int status)
{
	struct conn *c = req->handle->data;

	c->writing = 0;
	/* Next request: first the pipelined bytes we already hold. */
	if (response_done(c, status))
		http__conn_parse(c);
}

void http__on_write_continue(uv_write_t *req, int status)
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

void http__write_response(struct conn *c)
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
		http__conn_close(c);
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
		/* Inside http__conn_parse its loop goes on to the next request. */
		if (response_done(c, 0) && !c->in_parse)
			http__conn_parse(c);
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
	http__set_deadline(c, s->opt.idle_timeout_ms);
	if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, bufs, nbufs, on_write) != 0) {
		api_response_free(r);
		http__conn_close(c);
		return;
	}
	c->writing = 1;
}

/* http__send_error answers the current request with a transport error and
 * closes the connection after the write. */
void http__send_error(struct conn *c, int status, const char *code, const char *msg)
{
	http__read_stop(c);
	c->deadline = 0;
	c->keep_alive = 0;
	c->is_head = 0;
	c->http10 = 0;
	if (c->t_begin == 0)
		c->t_begin = mn_mono_ns();
	api_response_free(&c->resp);
	api_response_error(&c->resp, status, code, msg);
	http__write_response(c);
}
