/* post.c: see post.h. */
#include "bench/lib/post.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/lib/load.h"
#include "common/clock.h"

struct lconn {
	int fd;
	const struct post_req *req; /* in flight, or NULL */
	size_t sent;
	int want_out;
	uint64_t t0;
	size_t have;
	char buf[4096];
};

void post_req_json(struct post_req *r, const char *path, const char *body)
{
	size_t body_len = strlen(body);
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
			 path, body_len);

	if (n < 0 || (size_t)n >= sizeof(head))
		load_die("a request path is too long");
	r->len = (size_t)n + body_len;
	r->data = load_xmalloc(r->len + 1);
	memcpy(r->data, head, (size_t)n);
	memcpy(r->data + n, body, body_len + 1);
}

static void post_die(const struct post_load *l, const char *what)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "load: %s: %s", l->what, what);
	load_die(msg);
}

static int connect_nb(uint16_t port)
{
	struct sockaddr_in a;
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

double post_pct_ms(const struct post_result *r, double q)
{
	size_t i;

	if (r->num_lat == 0)
		return 0;
	i = (size_t)(q * (double)(r->num_lat - 1) + 0.5);
	return r->lat_us[i] / 1000.0;
}

double post_rate(const struct post_result *r)
{
	return r->secs > 0 ? (double)r->ok / r->secs : 0;
}

void post_keep_best(struct post_result *best, struct post_result *r)
{
	if (post_rate(r) > post_rate(best)) {
		post_result_cleanup(best);
		*best = *r;
	} else {
		post_result_cleanup(r);
	}
}

void post_result_cleanup(struct post_result *r)
{
	free(r->lat_us);
	r->lat_us = NULL;
	r->num_lat = 0;
}

const struct post_req *post_list_next(void *arg, size_t conn)
{
	struct post_list *l = arg;

	(void)conn;
	return l->next < l->limit ? &l->reqs[l->next++] : NULL;
}

/* response_done returns the total length of a complete response in |c|->buf,
 * 0 if more bytes are needed, or -1 if it is malformed; *status gets the code. */
static long response_done(struct lconn *c, int *status)
{
	char *end;
	size_t clen = 0, total;

	c->buf[c->have] = '\0';
	end = strstr(c->buf, "\r\n\r\n");
	if (end == NULL)
		return c->have >= sizeof(c->buf) - 1 ? -1 : 0;
	if (strncmp(c->buf, "HTTP/1.1 ", 9) != 0)
		return -1;
	*status = (int)strtol(c->buf + 9, NULL, 10);
	for (char *h = strstr(c->buf, "\r\n"); h != NULL && h < end; h = strstr(h + 2, "\r\n"))
		if (strncasecmp(h + 2, "Content-Length:", 15) == 0)
			clen = strtoul(h + 17, NULL, 10);
	total = (size_t)(end + 4 - c->buf) + clen;
	if (total >= sizeof(c->buf))
		return -1;
	return c->have >= total ? (long)total : 0;
}

/* lconn_send sends what is left of |c|'s request; it asks epoll for EPOLLOUT
 * only while the socket buffer is full. Returns 0 or -1. */
static int lconn_send(int ep, struct lconn *c)
{
	while (c->sent < c->req->len) {
		ssize_t n = send(c->fd, c->req->data + c->sent, c->req->len - c->sent,
				 MSG_NOSIGNAL);

		if (n < 0) {
			if (errno != EAGAIN)
				return -1;
			if (!c->want_out) {
				struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};

				c->want_out = 1;
				return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) == 0 ? 0 : -1;
			}
			return 0;
		}
		c->sent += (size_t)n;
	}
	if (c->want_out) {
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};

		c->want_out = 0;
		return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) == 0 ? 0 : -1;
	}
	return 0;
}

/* add_lat keeps one latency, growing the array by doubling. */
static void add_lat(struct post_result *r, size_t *cap, uint64_t us)
{
	if (r->num_lat == *cap) {
		size_t n = *cap ? 2 * *cap : 4096;
		uint32_t *p = realloc(r->lat_us, n * sizeof(*p));

		if (p == NULL)
			load_die("out of memory");
		r->lat_us = p;
		*cap = n;
	}
	r->lat_us[r->num_lat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* answer handles the complete response of |total| bytes on |c|; returns 0, or
 * -1 if the connection is broken. */
static int answer(const struct post_load *l, struct post_result *r, size_t *cap_lat,
		  struct lconn *c, long total, int status, uint64_t now)
{
	if (status == 200) {
		if (l->ok != NULL)
			l->ok(l->arg, c->req, c->buf);
		r->ok++;
		add_lat(r, cap_lat, (now - c->t0) / 1000);
	} else {
		if (r->failed < 3)
			fprintf(stderr, "%s: %s answered %d: %.300s\n", load_name(), l->what,
				status, c->buf);
		r->failed++;
	}
	if ((size_t)total != c->have)
		return -1; /* we never pipeline: extra bytes are wrong */
	c->have = 0;
	return 0;
}

void post_run(const struct post_load *l, struct post_result *r)
{
	struct lconn *cs = calloc(l->num_conns, sizeof(*cs));
	int ep = epoll_create1(0);
	size_t active = 0, cap_lat = 0;
	uint64_t start, deadline, cpu_s, cpu_c;
	pid_t self = getpid();

	memset(r, 0, sizeof(*r));
	if (cs == NULL || ep < 0)
		post_die(l, "setup failed");
	for (size_t i = 0; i < l->num_conns; i++) {
		struct lconn *c = &cs[i];
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};

		if ((c->fd = connect_nb(l->port)) < 0)
			post_die(l, "cannot connect to the server");
		if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
			post_die(l, "epoll_ctl failed");
	}
	start = mn_mono_ns();
	deadline = start + (uint64_t)(l->seconds * 1e9);
	cpu_s = load_cpu_us(l->server);
	cpu_c = load_cpu_us(self);
	for (size_t i = 0; i < l->num_conns; i++) {
		struct lconn *c = &cs[i];

		if ((c->req = l->next(l->arg, i)) != NULL) {
			c->t0 = mn_mono_ns();
			active++;
			if (lconn_send(ep, c) != 0)
				post_die(l, "send failed");
		}
	}
	while (active > 0) {
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, 10000);

		if (n == 0)
			post_die(l, "no answer for 10 s");
		if (n < 0) {
			if (errno == EINTR)
				continue;
			post_die(l, "epoll_wait failed");
		}
		for (int e = 0; e < n; e++) {
			struct lconn *c = evs[e].data.ptr;
			int status = 0;
			uint64_t now;
			ssize_t k;
			long total;

			if (c->req == NULL)
				continue;
			if ((evs[e].events & EPOLLOUT) && lconn_send(ep, c) != 0)
				goto conn_error;
			if (!(evs[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
				continue;
			k = recv(c->fd, c->buf + c->have, sizeof(c->buf) - 1 - c->have, 0);
			if (k < 0 && errno == EAGAIN)
				continue;
			if (k <= 0)
				goto conn_error;
			c->have += (size_t)k;
			total = response_done(c, &status);
			if (total == 0)
				continue;
			now = mn_mono_ns();
			if (total < 0 || answer(l, r, &cap_lat, c, total, status, now) != 0)
				goto conn_error;
			if (now < deadline && (c->req = l->next(l->arg, (size_t)(c - cs))) != NULL) {
				c->sent = 0;
				c->t0 = now;
				if (lconn_send(ep, c) != 0)
					goto conn_error;
			} else {
				c->req = NULL;
				active--;
			}
			continue;
conn_error:
			r->conn_errors++;
			r->failed++;
			c->req = NULL;
			active--;
			epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
			close(c->fd);
			c->fd = -1;
		}
	}
	r->secs = (double)(mn_mono_ns() - start) / 1e9;
	if (r->ok + r->failed > 0) {
		r->server_us = (double)(load_cpu_us(l->server) - cpu_s) / (double)(r->ok + r->failed);
		r->client_us = (double)(load_cpu_us(self) - cpu_c) / (double)(r->ok + r->failed);
	}
	for (size_t i = 0; i < l->num_conns; i++)
		if (cs[i].fd >= 0)
			close(cs[i].fd);
	close(ep);
	free(cs);
	if (r->num_lat > 0)
		qsort(r->lat_us, r->num_lat, sizeof(uint32_t), cmp_u32);
}
