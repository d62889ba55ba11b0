/* bare_server.c: the ceiling for the HTTP benchmarks. A minimal libuv +
 * llhttp server with logd's threading model (N loops, one SO_REUSEPORT
 * listening socket each, see logd/http.c) that answers every request with the
 * same 300-byte body, keep-alive, pipelining allowed. No limits, timeouts,
 * routing or handler: whatever logd measures below this is the cost of those.
 *
 *   bare_server PORT [THREADS [BODY]]  listens on 127.0.0.1:PORT (0 =
 *                                 ephemeral), prints "listening
 *                                 127.0.0.1:<port>", and serves until killed.
 *                                 THREADS defaults to the number of cores,
 *                                 BODY (bytes, default 300, 64 to 16 MiB) is
 *                                 the answer's size: the ceiling for an
 *                                 endpoint answering that many bytes. */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "llhttp.h"

#define BODY_LEN 300
#define BODY_MIN 64
#define BODY_MAX (16u << 20)
#define RBUF_SIZE (16u << 10)
#define MAX_LOOPS 256

static char *response;
static size_t response_len;

struct conn {
	uv_tcp_t tcp;
	llhttp_t parser;
	unsigned pending; /* responses owed for the bytes read so far */
	int close_after;
	char rbuf[RBUF_SIZE];
};

struct wreq {
	uv_write_t req;
	uv_buf_t bufs[]; /* every one points at the static response */
};

static void on_close(uv_handle_t *h)
{
	free(h->data);
}

static int on_message_complete(llhttp_t *p)
{
	struct conn *c = p->data;

	c->pending++;
	if (!llhttp_should_keep_alive(p))
		c->close_after = 1;
	return 0;
}

static const llhttp_settings_t settings = {
	.on_message_complete = on_message_complete,
};

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct conn *c = h->data;

	(void)suggested;
	*buf = uv_buf_init(c->rbuf, sizeof(c->rbuf));
}

static void on_write(uv_write_t *req, int status)
{
	struct conn *c = req->handle->data;

	free(req);
	if ((status < 0 || c->close_after) && !uv_is_closing((uv_handle_t *)&c->tcp))
		uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = s->data;
	struct wreq *w;
	unsigned i;

	if (nread == 0)
		return;
	if (nread < 0 ||
	    llhttp_execute(&c->parser, buf->base, (size_t)nread) != HPE_OK) {
		uv_close((uv_handle_t *)s, on_close);
		return;
	}
	if (c->pending == 0)
		return;
	/* one write for every request completed by this read (pipelining) */
	w = malloc(sizeof(*w) + c->pending * sizeof(uv_buf_t));
	if (w == NULL) {
		uv_close((uv_handle_t *)s, on_close);
		return;
	}
	for (i = 0; i < c->pending; i++)
		w->bufs[i] = uv_buf_init(response, (unsigned)response_len);
	if (uv_write(&w->req, s, w->bufs, c->pending, on_write) != 0) {
		free(w);
		uv_close((uv_handle_t *)s, on_close);
		return;
	}
	c->pending = 0;
	if (c->close_after)
		uv_read_stop(s);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct conn *c;

	if (status < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return;
	uv_tcp_init(server->loop, &c->tcp);
	c->tcp.data = c;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
		uv_close((uv_handle_t *)&c->tcp, on_close);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	llhttp_init(&c->parser, HTTP_REQUEST, &settings);
	c->parser.data = c;
	uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

struct loop {
	uv_loop_t loop;
	uv_tcp_t listener;
	uv_thread_t thread;
};

static void loop_main(void *arg)
{
	struct loop *l = arg;

	uv_run(&l->loop, UV_RUN_DEFAULT);
}

/* listen_fd: one member of the SO_REUSEPORT group on 127.0.0.1:port. */
static int listen_fd(uint16_t port)
{
	struct sockaddr_in sa;
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	static struct loop loops[MAX_LOOPS];
	unsigned long port, n, body_len = BODY_LEN;
	char header[128];
	unsigned i;
	char *end;
	int hl;

	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: %s PORT [THREADS [BODY]]\n", argv[0]);
		return 2;
	}
	port = strtoul(argv[1], &end, 10);
	if (*end != 0 || port > 65535) {
		fprintf(stderr, "bare_server: bad port\n");
		return 2;
	}
	n = (unsigned long)sysconf(_SC_NPROCESSORS_ONLN);
	if (argc >= 3) {
		n = strtoul(argv[2], &end, 10);
		if (*end != 0 || n == 0) {
			fprintf(stderr, "bare_server: bad thread count\n");
			return 2;
		}
	}
	if (argc == 4) {
		body_len = strtoul(argv[3], &end, 10);
		if (*end != 0 || body_len < BODY_MIN || body_len > BODY_MAX) {
			fprintf(stderr, "bare_server: bad body size\n");
			return 2;
		}
	}
	if (n == 0)
		n = 1;
	if (n > MAX_LOOPS)
		n = MAX_LOOPS;
	signal(SIGPIPE, SIG_IGN);

	/* a JSON-shaped body of exactly body_len bytes */
	hl = snprintf(header, sizeof(header),
		      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		      "Content-Length: %lu\r\n\r\n", body_len);
	if (hl <= 0 || (size_t)hl >= sizeof(header))
		return 1;
	response = malloc((size_t)hl + body_len);
	if (response == NULL)
		return 1;
	memcpy(response, header, (size_t)hl);
	memset(response + hl, 'x', body_len);
	memcpy(response + hl, "{\"pad\":\"", 8);
	memcpy(response + hl + body_len - 2, "\"}", 2);
	hl += (int)body_len;
	response_len = (size_t)hl;

	for (i = 0; i < n; i++) {
		struct loop *l = &loops[i];
		int fd = listen_fd((uint16_t)port);

		if (fd < 0) {
			fprintf(stderr, "bare_server: bind 127.0.0.1:%lu: %s\n", port,
				strerror(errno));
			return 1;
		}
		if (port == 0) {
			/* the first socket picked the port; the rest join it */
			struct sockaddr_in sa;
			socklen_t sl = sizeof(sa);
			if (getsockname(fd, (struct sockaddr *)&sa, &sl) != 0)
				return 1;
			port = ntohs(sa.sin_port);
		}
		if (uv_loop_init(&l->loop) != 0 || uv_tcp_init(&l->loop, &l->listener) != 0 ||
		    uv_tcp_open(&l->listener, fd) != 0 ||
		    uv_listen((uv_stream_t *)&l->listener, SOMAXCONN, on_connection) != 0) {
			fprintf(stderr, "bare_server: cannot listen\n");
			return 1;
		}
	}
	for (i = 0; i < n; i++)
		if (uv_thread_create(&loops[i].thread, loop_main, &loops[i]) != 0) {
			fprintf(stderr, "bare_server: cannot start thread\n");
			return 1;
		}
	printf("listening 127.0.0.1:%lu\n", port);
	fflush(stdout);
	for (i = 0; i < n; i++)
		uv_thread_join(&loops[i].thread);
	return 0;
}
