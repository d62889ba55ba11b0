/* bench/lib/post.h: a load generator for POST submissions (add-chain, add-pgp,
 * add-policy): one thread, epoll, keep-alive connections to 127.0.0.1, one
 * request in flight per connection (no pipelining: a response with extra bytes
 * after it is an error), each answer's latency kept, and the server's CPU and
 * this process's CPU per submission measured over the run.
 *
 * A fatal error (cannot connect, no answer for 10 s) is load_die(). */
#ifndef MN_BENCH_POST_H
#define MN_BENCH_POST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One submission: the whole HTTP/1.1 request, head and body. The caller owns
 * |data|; it must stay valid until post_run returns. */
struct post_req {
	char *data;
	size_t len;
};

/* post_req_json fills |r| with a POST of the JSON |body| (NUL-terminated) to
 * |path|, keep-alive; r->data is malloc'd (load_die if not), the caller frees
 * it. */
void post_req_json(struct post_req *r, const char *path, const char *body);

/* post_next_fn gives the next request to send on connection |conn| (0 ..
 * num_conns - 1), or NULL if there is none for it: the connection then stops.
 * Called only while the run's time is not up. */
typedef const struct post_req *(*post_next_fn)(void *arg, size_t conn);

/* post_ok_fn sees each 200 answer to |req|: |resp| is the whole response, head
 * and body, NUL-terminated, valid during the call only. */
typedef void (*post_ok_fn)(void *arg, const struct post_req *req, const char *resp);

struct post_load {
	const char *what;   /* names the requests in messages ("add-chain") */
	uint16_t port;      /* on 127.0.0.1 */
	pid_t server;       /* whose CPU is measured */
	size_t num_conns;
	double seconds;     /* no request starts after this; those in flight finish */
	post_next_fn next;  /* the requests */
	post_ok_fn ok;      /* NULL: none */
	void *arg;          /* for next and ok */
};

struct post_result {
	size_t ok;          /* answered 200 */
	size_t failed;      /* answered otherwise, or lost with their connection */
	size_t conn_errors; /* connections lost: closed, malformed answer, extra bytes */
	double secs;        /* from the first request to the last answer */
	double server_us;   /* the server's CPU per submission (ok + failed), us */
	double client_us;   /* this process's CPU per submission, us */
	uint32_t *lat_us;   /* the 200 answers' latencies, sorted; malloc'd */
	size_t num_lat;
};

/* post_run connects |load|->num_conns connections, sends |load|->next's
 * requests over them for |load|->seconds or until it runs dry, waits for the
 * answers in flight, and fills |out|, which the caller releases with
 * post_result_cleanup. */
void post_run(const struct post_load *load, struct post_result *out);
/* post_result_cleanup frees |r|'s latencies. */
void post_result_cleanup(struct post_result *r);
/* post_rate is |r|'s 200 answers per second (0 for an empty run). */
double post_rate(const struct post_result *r);
/* post_keep_best keeps the faster of |*best| and |*r| (post_rate) in |*best|
 * and cleans up the other; |*best| may start zeroed (no run yet). */
void post_keep_best(struct post_result *best, struct post_result *r);
/* post_pct_ms is the |q| quantile (0 .. 1) of |r|'s latencies, in ms. */
double post_pct_ms(const struct post_result *r, double q);

/* A source of requests taken in order, reqs[next .. limit): post_list_next is
 * its post_next_fn (the arg is the struct post_list), advancing next. */
struct post_list {
	const struct post_req *reqs;
	size_t next, limit;
};
const struct post_req *post_list_next(void *list, size_t conn);

#endif
