/* prefixproxy.h: a stand-in for a multi-log server in tests.
 *
 * It listens on 127.0.0.1 (a free port) and serves several logs under URL
 * prefixes, as multi-log logd does (/NAME/ct/v1/...): a request whose target
 * starts with a route's prefix and then '/' is forwarded, with the prefix
 * stripped, to the logd on that route's port (tests/lib/proc.h http_do), and
 * the answer's status and body are sent back with Connection: close. Any
 * other target gets 404 and is counted as unrouted, so a test can check that
 * a client never left its prefix. One connection at a time, on one thread. */
#ifndef MN_TESTS_PREFIXPROXY_H
#define MN_TESTS_PREFIXPROXY_H

#include <stddef.h>
#include <stdint.h>

#define PREFIXPROXY_MAX_ROUTES 8

struct prefix_route {
	const char *prefix; /* "/2027h1": no trailing '/'; copied */
	uint16_t port;      /* the logd behind it, on 127.0.0.1 */
};

struct prefixproxy;

/* prefixproxy_start copies |routes| (at most PREFIXPROXY_MAX_ROUTES) and starts
 * serving. Returns NULL on failure. */
struct prefixproxy *prefixproxy_start(const struct prefix_route *routes, size_t num_routes);
/* prefixproxy_port: the port it listens on. */
uint16_t prefixproxy_port(const struct prefixproxy *p);
/* prefixproxy_count: requests forwarded on route |i| so far. */
unsigned long prefixproxy_count(const struct prefixproxy *p, size_t i);
/* prefixproxy_unrouted: requests that matched no route. */
unsigned long prefixproxy_unrouted(const struct prefixproxy *p);
/* prefixproxy_stop stops the thread and frees |p|; NULL is a no-op. */
void prefixproxy_stop(struct prefixproxy *p);

#endif
