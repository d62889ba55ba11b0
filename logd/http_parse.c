/* http_parse.c: the llhttp side of a request: the callbacks that copy the
 * URL and body out of rbuf and enforce the URL, header and body limits
 * (failing with the status to send), 100 Continue, and the request target
 * split into path and query for struct api_request. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <uv.h>

#include "llhttp.h"

#include "common/bytes.h"
#include "common/clock.h"
#include "logd/http_internal.h"

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
	http__set_deadline(c, c->lp->srv->opt.request_timeout_ms);
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
			       http__on_write_continue);
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

const llhttp_settings_t http__settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/* ---- the request target ---- */

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
			hi = mn_hex_digit(s[i + 1]);
			lo = mn_hex_digit(s[i + 2]);
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

/* http__split_target fills c->req's path and query from the request target:
 * origin-form "/p?q", absolute-form "http://host/p?q" (RFC 9112 section
 * 3.2), or "*". Returns 1, or 0 if the path is badly encoded. */
int http__split_target(struct conn *c)
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
