/* http.c: the HTTP/1.1 transport (see http.h): the server. Options and
 * defaults, one SO_REUSEPORT listening socket and one libuv loop thread per
 * loop, the wakeup that carries completions and the stop request, graceful
 * shutdown, metrics. The rest of the transport is in http_conn.c,
 * http_parse.c, http_dispatch.c and http_write.c (http_internal.h lists
 * them and describes a connection's phases). */
#include "logd/http.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "common/err.h"
#include "common/log.h"
#include "common/prom.h"
#include "logd/http_internal.h"

#define MAX_THREADS 256u

/* ---- loops and shutdown ---- */

void http__maybe_finish_stop(struct http_loop *lp)
{
	/* The wakeup handle stays open while any conn exists: a handler may
	 * still call done(), which signals it. */
	if (lp->stopping && lp->conns == NULL && !lp->wakeup_closed) {
		lp->wakeup_closed = 1;
		uv_close((uv_handle_t *)&lp->wakeup, NULL);
	}
}

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
		http__read_stop(c);
		http__conn_close(c);
	}
	http__maybe_finish_stop(lp);
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
			http__request_finished(c);
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
		if ((r = uv_listen((uv_stream_t *)&lp->listener, SOMAXCONN,
				   http__on_connection)) != 0)
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
	prom_histogram(w, NULL, NULL, http__dur_bounds, NUM_BUCKETS, b,
		       (double)atomic_load_explicit(&s->dur_sum_us, memory_order_relaxed) / 1e6);
}
