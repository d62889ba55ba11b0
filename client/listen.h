/* listen.h: the listening socket of mnctl's servers (policy-server, witness
 * serve): --listen HOST:PORT parsed, bound, listened on, SIGTERM/SIGINT
 * watched, and the loop run to its end. Shared by client/ only; the caller
 * owns every handle and the loop. */
#ifndef MN_CLIENT_LISTEN_H
#define MN_CLIENT_LISTEN_H

#include <stddef.h>
#include <sys/socket.h>

#include <uv.h>

/* mnctl_listen_addr parses |arg| ("HOST:PORT", HOST an IPv4 or IPv6 address,
 * PORT 0..65535) into |*out|. Returns MNCTL_OK, or MNCTL_EUSAGE after
 * printing why (mnctl_fail). */
int mnctl_listen_addr(const char *arg, struct sockaddr_storage *out);

/* mnctl_listen_start initialises |tcp| on |loop|, binds it to |*ss| (as filled
 * by mnctl_listen_addr), listens with |on_conn| and writes the bound address
 * back to |*ss| (port 0 becomes the real one); then starts |sigterm| and
 * |sigint| calling |on_sig|. |data| goes to the three handles' data. "HOST:PORT"
 * as bound is written to |shown| (|shown_cap| bytes, 64 is enough). |arg| is
 * the --listen text, for messages. Returns MNCTL_OK, or MNCTL_ELOCAL after
 * printing why, with |tcp| closed, the loop run and closed, the signals never
 * started. */
int mnctl_listen_start(uv_loop_t *loop, uv_tcp_t *tcp, uv_signal_t *sigterm,
		       uv_signal_t *sigint, void *data, struct sockaddr_storage *ss,
		       const char *arg, uv_connection_cb on_conn, uv_signal_cb on_sig,
		       char *shown, size_t shown_cap);

/* mnctl_listen_run runs |loop| until every handle is closed, closes it and
 * shuts libuv down. Returns MNCTL_OK, or MNCTL_ELOCAL when the loop would not
 * close. */
int mnctl_listen_run(uv_loop_t *loop);

#endif
