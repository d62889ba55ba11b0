/* fuzz_http.c: logd's HTTP/1.1 transport (logd/http*.c: libuv + llhttp with its
 * settings, limits and pipelining) driven over loopback. The transport exposes
 * no pure parsing function, so one real http_server is started once on
 * 127.0.0.1:0 and each input is one connection: send the bytes, half-close,
 * read until the server closes (10 s at most: the request timeout is 2 s).
 *
 * Checks:
 *   - the handler sees requests within the configured limits (URL, body) and
 *     with a known method; handlers whose path starts with /async call done()
 *     before returning API_ASYNC, as a fast sequencer thread may;
 *   - whatever the server writes parses, with llhttp in response mode, as a
 *     sequence of complete HTTP/1.1 responses with statuses 100..599 (a
 *     response cut short or garbage after one is a bug);
 *   - the server closes every connection once the client has half-closed;
 *   - ASan/UBSan/LSan stay quiet in the server threads too. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <llhttp.h>

#include "api/api.h"
#include "common/log.h"
#include "fuzz/fuzz.h"
#include "logd/http.h"

const char fuzz_target_name[] = "http";

#define MAX_URL 1024
#define MAX_BODY 4096
#define CLOSE_TIMEOUT_MS 10000

static struct http_server *srv;
static uint16_t port;

static void make_body(struct api_response *resp, const struct api_request *req)
{
	char buf[128];
	int n = snprintf(buf, sizeof(buf), "{\"path_len\":%zu,\"query_len\":%zu,\"body_len\":%zu}",
			 req->path_len, req->query_len, req->body_len);

	memset(resp, 0, sizeof(*resp));
	resp->status = 200;
	resp->body = malloc((size_t)n);
	FUZZ_CHECK(resp->body != NULL);
	memcpy(resp->body, buf, (size_t)n);
	resp->body_len = (size_t)n;
}

static int handler(void *ctx, const struct api_request *req, struct api_response *resp,
		   api_done_fn done, void *done_ctx)
{
	(void)ctx;
	FUZZ_CHECK(req->method == API_GET || req->method == API_POST ||
		   req->method == API_OTHER);
	FUZZ_CHECK(req->path != NULL || req->path_len == 0);
	FUZZ_CHECK(req->path_len <= MAX_URL);
	FUZZ_CHECK(req->query_len <= MAX_URL);
	FUZZ_CHECK(req->query != NULL || req->query_len == 0);
	FUZZ_CHECK(req->body_len <= MAX_BODY);
	FUZZ_CHECK(req->body != NULL || req->body_len == 0);
	/* touch every byte, so ASan checks the buffers are what they claim */
	{
		volatile unsigned sum = 0;
		for (size_t i = 0; i < req->path_len; i++)
			sum += (unsigned char)req->path[i];
		for (size_t i = 0; i < req->query_len; i++)
			sum += (unsigned char)req->query[i];
		for (size_t i = 0; i < req->body_len; i++)
			sum += req->body[i];
		(void)sum;
	}
	if (req->path_len >= 6 && memcmp(req->path, "/async", 6) == 0) {
		struct api_response r;
		make_body(&r, req);
		done(done_ctx, &r);
		return API_ASYNC;
	}
	make_body(resp, req);
	return API_DONE;
}

static void stop_server(void)
{
	http_server_stop(srv);
	srv = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct http_options o = {0};

	(void)argc;
	(void)argv;
	signal(SIGPIPE, SIG_IGN);
	mn_log_set_level(MN_LOG_ERROR);
	o.host = "127.0.0.1";
	o.port = 0;
	o.threads = 1;
	o.max_header_bytes = 2048;
	o.max_url_bytes = MAX_URL;
	o.max_body_bytes = MAX_BODY;
	o.max_conns = 64;
	o.idle_timeout_ms = 2000;
	o.request_timeout_ms = 2000;
	FUZZ_CHECK(http_server_start(&srv, &o, handler, NULL) == 0);
	port = http_server_port(srv);
	FUZZ_CHECK(port != 0);
	atexit(stop_server);
	return 0;
}

/* exchange sends |data|, half-closes and reads everything until EOF into a
 * malloc'd buffer. */
static uint8_t *exchange(const uint8_t *data, size_t size, size_t *out_len)
{
	struct sockaddr_in sa;
	size_t cap = 4096, len = 0, sent = 0;
	uint8_t *buf = malloc(cap);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int eof = 0;

	FUZZ_CHECK(fd >= 0 && buf != NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	FUZZ_CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	if (size == 0)
		shutdown(fd, SHUT_WR);
	while (!eof) {
		struct pollfd p = {fd, POLLIN | (sent < size ? POLLOUT : 0), 0};
		int r = poll(&p, 1, CLOSE_TIMEOUT_MS);
		if (r == 0) {
			fprintf(stderr, "fuzz_http: server neither read nor closed in %d ms\n",
				CLOSE_TIMEOUT_MS);
			abort();
		}
		if (r < 0) {
			FUZZ_CHECK(errno == EINTR);
			continue;
		}
		if (p.revents & POLLOUT) {
			ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0) {
				sent += (size_t)n;
				if (sent == size)
					shutdown(fd, SHUT_WR);
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				sent = size; /* the server closed (EPIPE, ECONNRESET) */
			}
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n;
			if (len == cap) {
				uint8_t *nb = realloc(buf, cap *= 2);
				FUZZ_CHECK(nb != NULL);
				buf = nb;
			}
			n = recv(fd, buf + len, cap - len, MSG_DONTWAIT);
			if (n > 0)
				len += (size_t)n;
			else if (n == 0 || (errno != EAGAIN && errno != EINTR))
				eof = 1; /* closed, or reset after its last response */
		}
	}
	close(fd);
	*out_len = len;
	return buf;
}

struct resp_state {
	int complete;
	int in_message;
};

static int on_message_begin(llhttp_t *p)
{
	((struct resp_state *)p->data)->in_message = 1;
	return 0;
}

static int on_headers_complete(llhttp_t *p)
{
	FUZZ_CHECK(p->status_code >= 100 && p->status_code <= 599);
	return 0;
}

static int on_message_complete(llhttp_t *p)
{
	struct resp_state *s = p->data;

	s->complete++;
	s->in_message = 0;
	return 0;
}

static void check_responses(const uint8_t *buf, size_t len)
{
	llhttp_settings_t settings;
	llhttp_t parser;
	struct resp_state s = {0, 0};
	llhttp_errno_t err;

	if (len == 0)
		return; /* a request cut short gets no answer */
	llhttp_settings_init(&settings);
	settings.on_message_begin = on_message_begin;
	settings.on_headers_complete = on_headers_complete;
	settings.on_message_complete = on_message_complete;
	llhttp_init(&parser, HTTP_RESPONSE, &settings);
	parser.data = &s;
	err = llhttp_execute(&parser, (const char *)buf, len);
	if (err == HPE_OK)
		err = llhttp_finish(&parser);
	if (err != HPE_OK || s.in_message || s.complete == 0) {
		fprintf(stderr, "fuzz_http: bad response stream (%s, %d complete): %.*s\n",
			llhttp_errno_name(err), s.complete, (int)(len < 2048 ? len : 2048),
			(const char *)buf);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len;
	uint8_t *resp = exchange(data, size, &len);

	/* A response to HEAD has a Content-Length and no body, which a response
	 * parser cannot know: then only the first status line is checked. */
	if (memmem(data, size, "HEAD", 4) != NULL)
		FUZZ_CHECK(len == 0 || (len >= 12 && memcmp(resp, "HTTP/1.1 ", 9) == 0));
	else
		check_responses(resp, len);
	free(resp);
	return 0;
}
