/* nginx.h: run Debian's nginx as a caching proxy in front of logd in a test.
 *
 * nginx_start makes a private prefix under |dir| (dir/nginx/: nginx.conf, the
 * pid file, error.log, access.log, the temp directories and the proxy cache),
 * writes an http block that listens on 127.0.0.1 (a free port), proxies to
 * the logd on 127.0.0.1:|upstream_port| and includes contrib/nginx-logd.conf
 * (the snippet the README documents) in `location /`, then runs
 * `nginx -p PREFIX -e PREFIX/error.log -c PREFIX/nginx.conf` in the foreground
 * (`daemon off`) and polls its port until it accepts, with a timeout. The
 * binary is $MN_NGINX, else /usr/sbin/nginx; the snippet is
 * $MN_SRC/contrib/nginx-logd.conf, else ./contrib/nginx-logd.conf.
 *
 *   struct nginx_proc n;
 *   if (nginx_start(&n, dir, logd.port) != 0) ... ;
 *   http_do(n.port, "GET", "/tile/0/000", NULL, NULL, 0, &r);  (proc.h)
 *   nginx_stop(&n);
 *
 * nginx runs in its own process group with /dev/null as stdin and
 * PREFIX/stderr.log as stdout and stderr. A watchdog process kills that group
 * when nginx_stop is done or when the test exits or dies in any way, so no
 * nginx worker outlives the test. */
#ifndef MN_TESTS_NGINX_H
#define MN_TESTS_NGINX_H

#include <stdint.h>
#include <sys/types.h>

struct nginx_proc {
	pid_t pid;        /* the master; its process group is nginx's */
	pid_t watchdog;   /* kills that group when the test goes (nginx.c) */
	int watchdog_fd;
	uint16_t port;
	char prefix[256]; /* dir/nginx, no trailing '/' */
};

/* nginx_start returns 0, or -1 (nginx missing, did not start or did not listen
 * within 10 s; its error.log is copied to stderr). */
int nginx_start(struct nginx_proc *n, const char *dir, uint16_t upstream_port);
/* nginx_stop asks for a graceful stop (SIGQUIT), escalates to SIGKILL after
 * 10 s, waits, and kills whatever is left of its process group. Returns the
 * master's exit status, or 128+signal; a no-op (-1) if it is not running. */
int nginx_stop(struct nginx_proc *n);
/* nginx_cache_status returns the X-Cache-Status value of a response's
 * |headers| (proc.h http_resp.headers) copied into |out| ("HIT", "MISS", ...),
 * or "" when the header is absent or empty. */
const char *nginx_cache_status(const char *headers, char out[16]);

#endif
