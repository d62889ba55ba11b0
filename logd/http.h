/* http.h: logd's HTTP/1.1 transport (libuv + llhttp). The only code in
 * metanotary that sees sockets: it parses requests into struct api_request,
 * calls a handler with the api_handle contract, and writes the responses.
 *
 * Threads: |threads| event loops share one port (one SO_REUSEPORT socket per
 * loop). GET, HEAD and other requests run the handler on the loop thread that
 * read them; POST requests run it on libuv's thread pool, so CPU-heavy
 * validation never stalls the reads sharing that loop (DESIGN.md section 3).
 * A handler that returns API_ASYNC may call done() from any thread.
 *
 * Limits (DESIGN.md section 8), each answered with a JSON error body
 * {"error_code": ..., "error_message": ...}, `Connection: close`, and a close
 * after the write: URL too long 414, header bytes 431, body (Content-Length or
 * a growing chunked body) 413, malformed 400, request not complete within
 * request_timeout_ms 408. A keep-alive connection idle for idle_timeout_ms is
 * closed silently. Beyond max_conns a new connection gets a 503 and a close. */
#ifndef MN_LOGD_HTTP_H
#define MN_LOGD_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "api/api.h"

/* http_handler_fn has the contract of api_handle: fill |resp| and return
 * API_DONE, or return API_ASYNC and later call done(done_ctx, resp) exactly
 * once, from any thread, with a response whose body the transport then owns.
 * |req| stays valid until the response has been handed over. */
typedef int (*http_handler_fn)(void *ctx, const struct api_request *req,
			       struct api_response *resp, api_done_fn done,
			       void *done_ctx);

/* http_options: zero fields take the defaults in the comments. */
struct http_options {
	const char *host;            /* listen address; NULL = "127.0.0.1" */
	uint16_t port;               /* 0 = ephemeral (see http_server_port) */
	unsigned threads;            /* event loops; 0 = number of cores */
	size_t max_header_bytes;     /* all header fields and values; 8 KiB */
	size_t max_url_bytes;        /* request target; 4 KiB */
	size_t max_body_bytes;       /* decoded body; 1 MiB */
	unsigned max_conns;          /* open connections per server; 4096 */
	unsigned idle_timeout_ms;    /* keep-alive idle (and write stall); 30 s */
	unsigned request_timeout_ms; /* whole request (headers+body); 10 s */
};

struct http_server;

/* http_server_start binds |opt->host|:|opt->port|, starts the loop threads and
 * sets *out to the running server. |handler| and |handler_ctx| are borrowed and
 * must outlive the server. Returns 0, MN_EINVAL (bad host), MN_ENOMEM, or
 * MN_EIO (socket/bind/listen/thread failure, with a log line). On error
 * nothing is left running and *out is untouched. */
int http_server_start(struct http_server **out, const struct http_options *opt,
		      http_handler_fn handler, void *handler_ctx);

/* http_server_port returns the bound port (useful with port 0). */
uint16_t http_server_port(const struct http_server *s);

/* http_server_stop stops gracefully: it stops accepting, lets in-flight
 * requests (including API_ASYNC ones) complete and be written, closes every
 * connection, closes every loop, joins the threads and frees |s|. NULL is a
 * no-op. Must not be called from a loop thread or from a handler. */
void http_server_stop(struct http_server *s);

/* http_server_metrics adds the transport's families to |w| (common/prom.h;
 * process-wide, no log label): mn_http_connections_open,
 * mn_http_connections_total, mn_http_connections_rejected_total,
 * mn_http_requests_total{status="..."} and the
 * mn_http_request_duration_seconds histogram. Thread-safe. */
struct prom;
void http_server_metrics(struct http_server *s, struct prom *w);

#endif
