/* listen.c: see listen.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "client/listen.h"
#include "client/mnctl.h"

static int parse_listen(const char *arg, char *host, size_t cap, int *port)
{
	const char *colon = strrchr(arg, ':');
	char *end;
	long p;

	if (colon == NULL || (size_t)(colon - arg) >= cap || colon == arg || colon[1] == '\0')
		return 0;
	memcpy(host, arg, (size_t)(colon - arg));
	host[colon - arg] = '\0';
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || p < 0 || p > 65535)
		return 0;
	*port = (int)p;
	return 1;
}

int mnctl_listen_addr(const char *arg, struct sockaddr_storage *out)
{
	char host[256];
	int port;

	if (!parse_listen(arg, host, sizeof(host), &port))
		return mnctl_fail(MNCTL_EUSAGE, "--listen wants HOST:PORT");
	memset(out, 0, sizeof(*out));
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)out) != 0 &&
	    uv_ip6_addr(host, port, (struct sockaddr_in6 *)out) != 0)
		return mnctl_fail(MNCTL_EUSAGE, "--listen: %s is not an IP address", host);
	return MNCTL_OK;
}

int mnctl_listen_start(uv_loop_t *loop, uv_tcp_t *tcp, uv_signal_t *sigterm,
		       uv_signal_t *sigint, void *data, struct sockaddr_storage *ss,
		       const char *arg, uv_connection_cb on_conn, uv_signal_cb on_sig,
		       char *shown, size_t shown_cap)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	int namelen = sizeof(*ss), ret;
	char name[64];

	uv_tcp_init(loop, tcp);
	tcp->data = data;
	if ((ret = uv_tcp_bind(tcp, (struct sockaddr *)ss, 0)) != 0 ||
	    (ret = uv_listen((uv_stream_t *)tcp, 511, on_conn)) != 0 ||
	    (ret = uv_tcp_getsockname(tcp, (struct sockaddr *)ss, &namelen)) != 0) {
		ret = mnctl_fail(MNCTL_ELOCAL, "cannot listen on %s: %s", arg, uv_strerror(ret));
		uv_close((uv_handle_t *)tcp, NULL);
		uv_run(loop, UV_RUN_DEFAULT);
		uv_loop_close(loop);
		return ret;
	}
	uv_signal_init(loop, sigterm);
	uv_signal_init(loop, sigint);
	sigterm->data = sigint->data = data;
	uv_signal_start(sigterm, on_sig, SIGTERM);
	uv_signal_start(sigint, on_sig, SIGINT);
	if (ss->ss_family == AF_INET)
		uv_ip4_name(sin, name, sizeof(name));
	else
		uv_ip6_name(sin6, name, sizeof(name));
	snprintf(shown, shown_cap, "%s:%d",
		 name, ntohs(ss->ss_family == AF_INET ? sin->sin_port : sin6->sin6_port));
	return MNCTL_OK;
}

int mnctl_listen_run(uv_loop_t *loop)
{
	int ret;

	uv_run(loop, UV_RUN_DEFAULT);
	ret = uv_loop_close(loop) == 0 ? MNCTL_OK : MNCTL_ELOCAL;
	uv_library_shutdown();
	return ret;
}
