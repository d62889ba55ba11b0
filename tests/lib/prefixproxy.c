/* prefixproxy.c: see prefixproxy.h. */
#include "tests/lib/prefixproxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/lib/proc.h"

#define MAX_REQUEST (2u << 20)

struct prefixproxy {
	int lfd;
	uint16_t port;
	pthread_t thr;
	struct {
		char prefix[128];
		uint16_t port;
		atomic_ulong count;
	} routes[PREFIXPROXY_MAX_ROUTES];
	size_t num_routes;
	atomic_ulong unrouted;
};

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void reply(int fd, int status, const void *body, size_t len)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d Proxied\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, len);

	if (write_all(fd, head, (size_t)n) == 0)
		write_all(fd, body, len);
}

/* serve reads one request from |fd| and answers it. */
static void serve(struct prefixproxy *p, int fd)
{
	char *buf = malloc(MAX_REQUEST + 1), *end, *cl, method[8], target[4096];
	size_t len = 0, body_len = 0, head_len;
	struct http_resp r;

	if (buf == NULL)
		return;
	for (;;) {
		ssize_t n = read(fd, buf + len, MAX_REQUEST - len);
		if (n <= 0)
			goto out;
		len += (size_t)n;
		buf[len] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL)
			break;
		if (len == MAX_REQUEST)
			goto out;
	}
	head_len = (size_t)(end - buf) + 4;
	for (cl = buf; (cl = strchr(cl, '\n')) != NULL && cl < end;) {
		cl++;
		if (strncasecmp(cl, "Content-Length:", 15) == 0)
			body_len = strtoul(cl + 15, NULL, 10);
	}
	if (body_len > MAX_REQUEST - head_len)
		goto out;
	while (len < head_len + body_len) {
		ssize_t n = read(fd, buf + len, head_len + body_len - len);
		if (n <= 0)
			goto out;
		len += (size_t)n;
	}
	if (sscanf(buf, "%7s %4095s", method, target) != 2)
		goto out;
	for (size_t i = 0; i < p->num_routes; i++) {
		size_t pl = strlen(p->routes[i].prefix);
		if (strncmp(target, p->routes[i].prefix, pl) != 0 || target[pl] != '/')
			continue;
		atomic_fetch_add(&p->routes[i].count, 1);
		if (http_do(p->routes[i].port, method, target + pl,
			    body_len ? "Content-Type: application/json\r\n" : NULL,
			    buf + head_len, body_len, &r) != 0) {
			reply(fd, 502, "{}", 2);
			goto out;
		}
		reply(fd, r.status, r.body, r.body_len);
		http_resp_free(&r);
		goto out;
	}
	atomic_fetch_add(&p->unrouted, 1);
	{
		static const char nf[] = "{\"error_code\":\"notFound\","
					 "\"error_message\":\"no log under this path\"}";
		reply(fd, 404, nf, sizeof(nf) - 1);
	}
out:
	free(buf);
}

static void *run(void *arg)
{
	struct prefixproxy *p = arg;

	for (;;) {
		int fd = accept(p->lfd, NULL, NULL);
		if (fd < 0)
			break;
		serve(p, fd);
		close(fd);
	}
	return NULL;
}

struct prefixproxy *prefixproxy_start(const struct prefix_route *routes, size_t num_routes)
{
	struct prefixproxy *p;
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t al = sizeof(a);

	if (num_routes > PREFIXPROXY_MAX_ROUTES || (p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	for (size_t i = 0; i < num_routes; i++) {
		snprintf(p->routes[i].prefix, sizeof(p->routes[i].prefix), "%s", routes[i].prefix);
		p->routes[i].port = routes[i].port;
	}
	p->num_routes = num_routes;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	p->lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (p->lfd < 0 || bind(p->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(p->lfd, 16) != 0 || getsockname(p->lfd, (struct sockaddr *)&a, &al) != 0 ||
	    pthread_create(&p->thr, NULL, run, p) != 0) {
		if (p->lfd >= 0)
			close(p->lfd);
		free(p);
		return NULL;
	}
	p->port = ntohs(a.sin_port);
	return p;
}

uint16_t prefixproxy_port(const struct prefixproxy *p)
{
	return p->port;
}

unsigned long prefixproxy_count(const struct prefixproxy *p, size_t i)
{
	return i < p->num_routes ? atomic_load(&p->routes[i].count) : 0;
}

unsigned long prefixproxy_unrouted(const struct prefixproxy *p)
{
	return atomic_load(&p->unrouted);
}

void prefixproxy_stop(struct prefixproxy *p)
{
	if (p == NULL)
		return;
	shutdown(p->lfd, SHUT_RDWR);
	pthread_join(p->thr, NULL);
	close(p->lfd);
	free(p);
}
