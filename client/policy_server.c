/* policy_server.c: `mnctl policy-server`, the log's TLS policies for Postfix.
 *
 * Postfix asks through smtp_tls_policy_maps = socketmap:inet:HOST:PORT:NAME
 * (socketmap_table(5)): each request is a netstring "LEN:NAME KEY," and each
 * answer a netstring "OK value", "NOTFOUND ", "TEMP reason" or "PERM reason".
 * KEY is the next-hop domain; the answer is the Postfix TLS policy that the
 * logged policy means (policy_fetch.c, table in README.md), NOTFOUND when the
 * log shows none in force, and TEMP whenever the log cannot be reached or its
 * answer does not verify, so that Postfix defers and never downgrades.
 *
 * One libuv loop owns the sockets and the cache; fetches run on libuv's
 * thread pool (uv_queue_work), each pool thread with its own struct mnctl
 * (curl handle, hasher, key), so a slow or dead log blocks no client. Fetches
 * of one domain are coalesced: later askers wait for the fetch in flight.
 * Verified answers (policies and verified absence) are cached for
 * min(--cache-ttl, the log's MMD); TEMP is never cached. With
 * --witness-policy an answer counts as verified only once a checkpoint with
 * the witness quorum covers its tree (witness_check.c); until then it is TEMP.
 * Each decision is one line on stderr. */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "client/listen.h"
#include "client/mnctl.h"
#include "client/policy_server.h"
#include "common/clock.h"
#include "entry/names.h"

#define PS_MAX_REQUEST 1024      /* a netstring's payload: name, space, key */
#define PS_MAX_CONNS 4096
#define PS_IDLE_MS (5 * 60 * 1000)
#define PS_CACHE_SLOTS 4096      /* power of two */
#define PS_THREADS "8"

struct ps_server;

/* A cached verified answer, or a fetch in flight (waiters queued). */
struct ps_entry {
	char domain[254];
	int used;
	int in_flight;
	int detached;              /* not in the table (it was full): freed after the fetch */
	uint64_t expires_ms;       /* 0: nothing cached */
	struct mnctl_policy_answer a;
	struct ps_conn *waiters;   /* connections waiting for this fetch */
};

struct ps_conn {
	uv_tcp_t tcp;
	uv_timer_t timer;
	struct ps_server *s;
	char buf[PS_MAX_REQUEST + 16];
	size_t len;
	int busy;                  /* a request is being answered */
	int reading;               /* uv_read_start is on */
	int close_after;           /* close once the answer is written */
	int closing;
	int handles;               /* open handles (tcp, timer) */
	struct ps_conn *next_waiter;
	uint64_t started_ms;
};

struct ps_fetch {
	uv_work_t work;
	struct ps_server *s;
	struct ps_entry *e;
	struct mnctl_policy_answer a;
	int ret;
};

struct ps_server {
	uv_loop_t *loop;
	uv_tcp_t listener;
	uv_signal_t sigterm, sigint;
	const struct mnctl *tmpl; /* url, config, key file */
	const char *map_name;
	uint64_t ttl_ms;
	size_t num_conns;
	struct ps_entry *cache;   /* PS_CACHE_SLOTS, open addressing */
	uint64_t answers;
};

/* --- per-thread clients --------------------------------------------------- */

static pthread_mutex_t clients_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mnctl *clients[64];
static size_t num_clients;
static _Thread_local struct mnctl *thread_client;

static void client_free(struct mnctl *c)
{
	if (c == NULL)
		return;
	ct_verifier_free(c->v);
	merkle_hasher_free(c->h);
	mnctl_http_free(c->http);
	free(c);
}

/* thread_mnctl returns this pool thread's client, made on first use from the
 * template (the strings are shared, read-only). */
static struct mnctl *thread_mnctl(const struct mnctl *tmpl)
{
	struct mnctl *c = thread_client;

	if (c != NULL)
		return c;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->url = tmpl->url;
	c->config_dir = tmpl->config_dir;
	c->log_dir = tmpl->log_dir;
	c->key_file = tmpl->key_file;
	c->timeout_s = tmpl->timeout_s;
	c->max_response = tmpl->max_response;
	c->witness = tmpl->witness; /* shared: thread-safe */
	c->http = mnctl_http_new(c->timeout_s, c->max_response);
	c->h = merkle_hasher_new();
	if (c->http == NULL || c->h == NULL || mnctl_load_key(c) != MNCTL_OK) {
		client_free(c);
		return NULL;
	}
	pthread_mutex_lock(&clients_lock);
	if (num_clients == sizeof(clients) / sizeof(clients[0])) {
		pthread_mutex_unlock(&clients_lock);
		client_free(c);
		return NULL;
	}
	clients[num_clients++] = c;
	pthread_mutex_unlock(&clients_lock);
	thread_client = c;
	return c;
}

/* --- the cache ------------------------------------------------------------ */

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

/* cache_slot finds |domain|'s slot, or claims a free or expired idle one
 * (NULL if the probe finds neither: then the answer is not cached). */
static struct ps_entry *cache_slot(struct ps_server *s, const char *domain, uint64_t now)
{
	uint32_t h = hash_str(domain);
	struct ps_entry *reuse = NULL;

	for (uint32_t i = 0; i < 64; i++) {
		struct ps_entry *e = &s->cache[(h + i) & (PS_CACHE_SLOTS - 1)];
		if (e->used && strcmp(e->domain, domain) == 0)
			return e;
		if (reuse == NULL && (!e->used || (!e->in_flight && e->expires_ms <= now)))
			reuse = e;
		if (!e->used)
			break;
	}
	if (reuse != NULL) {
		memset(reuse, 0, sizeof(*reuse));
		reuse->used = 1;
		snprintf(reuse->domain, sizeof(reuse->domain), "%s", domain);
	}
	return reuse;
}

/* --- answering ------------------------------------------------------------ */

static void on_write(uv_write_t *w, int status)
{
	(void)status;
	free(w);
}

static void conn_close(struct ps_conn *c);
static void conn_process(struct ps_conn *c);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b);

/* reply sends the netstring "LEN:text," and, unless |then_close|, goes on with
 * the next request already buffered. */
static void reply(struct ps_conn *c, const char *text, int then_close)
{
	size_t tl = strlen(text);
	uv_write_t *w = malloc(sizeof(*w) + tl + 32);
	char *p = (char *)(w + 1);
	int n;
	uv_buf_t b;

	c->busy = 0;
	if (c->closing) {
		free(w);
		return;
	}
	c->s->answers++;
	if (w == NULL) {
		conn_close(c);
		return;
	}
	n = snprintf(p, tl + 32, "%zu:%s,", tl, text);
	b = uv_buf_init(p, (unsigned)n);
	if (uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
		free(w);
		conn_close(c);
		return;
	}
	if (then_close || c->close_after) {
		conn_close(c);
		return;
	}
	uv_timer_again(&c->timer);
	if (!c->reading && uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
		c->reading = 1;
	conn_process(c);
}

/* decide answers |c| from a verified answer |a| (or |ret| != MNCTL_OK: TEMP)
 * and logs the decision in one line. */
static void decide(struct ps_conn *c, const char *domain, const struct mnctl_policy_answer *a,
		   int ret, const char *source)
{
	char text[2200];
	const char *absence = "";
	uint64_t ms = mn_now_ms() - c->started_ms;

	if (ret != MNCTL_OK) {
		snprintf(text, sizeof(text), "TEMP metanotary: %s",
			 ret == MNCTL_EVERIFY	 ? "the log's answer does not verify"
			 : ret == MNCTL_EWITNESS ? "no checkpoint meeting the witness quorum covers "
						   "the log's answer"
						 : "the log cannot be reached");
		fprintf(stderr, "policy-server: domain=%s answer=TEMP source=%s reason=%s ms=%" PRIu64
			"\n", domain, source,
			ret == MNCTL_EVERIFY	 ? "verification-failed"
			: ret == MNCTL_EWITNESS ? "witness-quorum-not-met"
						: "log-error",
			ms);
	} else if (a->verdict == PF_ENFORCE) {
		snprintf(text, sizeof(text), "OK %s", a->value);
		fprintf(stderr, "policy-server: domain=%s answer=OK policy=\"%s\" serial=%" PRIu64
			" leaf=%" PRIu64 " tree_size=%" PRIu64 " source=%s ms=%" PRIu64 "\n", domain,
			a->value, a->serial, a->leaf_index, a->tree_size, source, ms);
	} else if (!a->map_present) {
		/* absence without a map proves nothing: the log may have hidden it */
		snprintf(text, sizeof(text), "TEMP metanotary: the log cannot prove there is no policy");
		fprintf(stderr, "policy-server: domain=%s answer=TEMP reason=no-map absence=not-proven "
			"tree_size=%" PRIu64 " source=%s ms=%" PRIu64 "\n", domain, a->tree_size, source,
			ms);
	} else {
		snprintf(text, sizeof(text), "NOTFOUND ");
		absence = a->absence_proven ? "proven" : "not-proven";
		fprintf(stderr, "policy-server: domain=%s answer=NOTFOUND reason=%s absence=%s "
			"tree_size=%" PRIu64 " source=%s ms=%" PRIu64 "\n", domain,
			a->verdict == PF_TESTING ? "testing-mode" : "no-policy-in-force", absence,
			a->tree_size, source, ms);
	}
	reply(c, text, 0);
}

static void fetch_work(uv_work_t *w)
{
	struct ps_fetch *f = w->data;
	struct mnctl *m = thread_mnctl(f->s->tmpl);

	if (m == NULL) {
		f->ret = MNCTL_ELOCAL;
		return;
	}
	f->ret = mnctl_policy_fetch(m, f->e->domain, &f->a);
}

static void fetch_done(uv_work_t *w, int status)
{
	struct ps_fetch *f = w->data;
	struct ps_entry *e = f->e;
	struct ps_conn *c = e->waiters, *next;
	uint64_t now = mn_now_ms();
	int ret = status == 0 ? f->ret : MNCTL_ELOCAL;

	e->in_flight = 0;
	e->waiters = NULL;
	/* Cache what verified, for no longer than the MMD: a withdrawal or a
	 * new policy reaches every server within the cache time. */
	if (ret == MNCTL_OK && !e->detached && (f->a.verdict != PF_NONE || f->a.map_present)) {
		e->a = f->a;
		e->expires_ms = now + f->s->ttl_ms;
	}
	for (; c != NULL; c = next) {
		next = c->next_waiter;
		c->next_waiter = NULL;
		decide(c, e->domain, &f->a, ret, "log");
	}
	if (e->detached)
		free(e);
	free(f);
}

/* lookup answers a valid "NAME KEY" request. */
static void lookup(struct ps_conn *c, const char *req, size_t len)
{
	struct ps_server *s = c->s;
	const char *sp = memchr(req, ' ', len);
	size_t nl = strlen(s->map_name);
	char norm[NAMES_MAX_DNS_LEN + 1], key[512];
	struct ps_entry *e;
	struct ps_fetch *f;
	uint64_t now = mn_now_ms();
	int n;

	if (sp == NULL || (size_t)(sp - req) != nl || memcmp(req, s->map_name, nl) != 0) {
		fprintf(stderr, "policy-server: answer=PERM reason=unknown-map-name\n");
		reply(c, "PERM unknown map name", 0);
		return;
	}
	len -= nl + 1;
	req = sp + 1;
	mnctl_sanitize(key, sizeof(key), (const uint8_t *)req, len);
	if (len > NAMES_MAX_DNS_LEN + 1) {
		fprintf(stderr, "policy-server: answer=PERM reason=key-too-long len=%zu\n", len);
		reply(c, "PERM key too long", 0);
		return;
	}
	/* A next hop that is not a domain ("[192.0.2.1]:25", "example.com:2525",
	 * ".example.com") names no mail domain whose policy could be logged. */
	n = names_dns_normalize(norm, sizeof(norm), req, len, NAMES_QUERY);
	if (n < 0) {
		fprintf(stderr, "policy-server: key=\"%s\" answer=NOTFOUND reason=not-a-domain\n", key);
		reply(c, "NOTFOUND ", 0);
		return;
	}
	e = cache_slot(s, norm, now);
	if (e != NULL && e->expires_ms > now && !e->in_flight) {
		decide(c, norm, &e->a, MNCTL_OK, "cache");
		return;
	}
	if (e != NULL && e->in_flight) {
		c->next_waiter = e->waiters;
		e->waiters = c;
		return;
	}
	if (e == NULL) {
		/* the 64 slots around this hash hold fresh answers or fetches:
		 * fetch this one without caching it */
		e = calloc(1, sizeof(*e));
		if (e != NULL) {
			e->detached = 1;
			snprintf(e->domain, sizeof(e->domain), "%s", norm);
		}
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL || e == NULL) {
		if (e != NULL && e->detached)
			free(e);
		free(f);
		reply(c, "TEMP metanotary: out of memory", 0);
		return;
	}
	e->in_flight = 1;
	c->next_waiter = NULL;
	e->waiters = c;
	f->s = s;
	f->e = e;
	f->work.data = f;
	if (uv_queue_work(s->loop, &f->work, fetch_work, fetch_done) != 0) {
		e->in_flight = 0;
		e->waiters = NULL;
		if (e->detached)
			free(e);
		free(f);
		reply(c, "TEMP metanotary: cannot start a lookup", 0);
	}
}

/* conn_process parses one netstring from the buffer, if complete, and answers
 * it. Malformed or oversized input gets PERM and the connection is closed:
 * after a framing error nothing that follows can be trusted to be framed. */
static void conn_process(struct ps_conn *c)
{
	size_t i = 0, len = 0, consumed;
	char req[PS_MAX_REQUEST + 1];

	if (c->busy || c->closing || c->len == 0)
		return;
	while (i < c->len && c->buf[i] >= '0' && c->buf[i] <= '9') {
		len = len * 10 + (size_t)(c->buf[i] - '0');
		if (++i > 5 || len > PS_MAX_REQUEST) {
			fprintf(stderr, "policy-server: answer=PERM reason=request-too-long\n");
			c->busy = 1;
			reply(c, "PERM request too long", 1);
			return;
		}
	}
	if (i == c->len)
		return; /* more digits may come */
	if (i == 0 || c->buf[i] != ':') {
		fprintf(stderr, "policy-server: answer=PERM reason=malformed-netstring\n");
		c->busy = 1;
		reply(c, "PERM malformed netstring", 1);
		return;
	}
	if (c->len < i + 1 + len + 1)
		return; /* incomplete */
	if (c->buf[i + 1 + len] != ',') {
		fprintf(stderr, "policy-server: answer=PERM reason=malformed-netstring\n");
		c->busy = 1;
		reply(c, "PERM malformed netstring", 1);
		return;
	}
	memcpy(req, c->buf + i + 1, len);
	req[len] = '\0';
	consumed = i + 1 + len + 1;
	memmove(c->buf, c->buf + consumed, c->len - consumed);
	c->len -= consumed;
	c->busy = 1;
	c->started_ms = mn_now_ms();
	if (memchr(req, '\0', len) != NULL) {
		fprintf(stderr, "policy-server: answer=PERM reason=nul-in-request\n");
		reply(c, "PERM malformed request", 1);
		return;
	}
	lookup(c, req, len);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct ps_conn *c = h->data;

	if (--c->handles == 0) {
		c->s->num_conns--;
		free(c);
	}
}

/* conn_close closes |c|, or, while its answer is being fetched (it sits in a
 * waiter list), stops reading and closes it once the answer is written. */
static void conn_close(struct ps_conn *c)
{
	if (c->closing)
		return;
	if (c->busy) {
		c->close_after = 1;
		if (c->reading)
			uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = 0;
		return;
	}
	c->closing = 1;
	uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
	uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct ps_conn *c = h->data;

	(void)suggested;
	*b = uv_buf_init(c->buf + c->len, (unsigned)(sizeof(c->buf) - c->len));
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
	struct ps_conn *c = st->data;

	(void)b;
	if (nread == 0)
		return;
	if (nread == UV_ENOBUFS) {
		/* the buffer is full of pipelined requests while one is being
		 * answered: read again after the answer */
		uv_read_stop(st);
		c->reading = 0;
		return;
	}
	if (nread < 0) {
		conn_close(c); /* EOF or error; a busy one closes after its answer */
		return;
	}
	c->len += (size_t)nread;
	uv_timer_again(&c->timer);
	conn_process(c);
}

static void on_idle(uv_timer_t *t)
{
	struct ps_conn *c = t->data;

	if (!c->busy)
		conn_close(c);
}

static void on_connection(uv_stream_t *l, int status)
{
	struct ps_server *s = l->data;
	struct ps_conn *c;

	if (status != 0)
		return;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return;
	c->s = s;
	uv_tcp_init(s->loop, &c->tcp);
	uv_timer_init(s->loop, &c->timer);
	c->tcp.data = c->timer.data = c;
	c->handles = 2;
	s->num_conns++;
	if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0 || s->num_conns > PS_MAX_CONNS) {
		conn_close(c);
		return;
	}
	uv_timer_start(&c->timer, on_idle, PS_IDLE_MS, PS_IDLE_MS);
	c->reading = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0;
}

static void on_walk_close(uv_handle_t *h, void *arg)
{
	struct ps_server *s = arg;

	if (uv_is_closing(h) || h->type == UV_TIMER) /* timers close with their conn */
		return;
	if (h->type == UV_TCP && h != (uv_handle_t *)&s->listener)
		conn_close(h->data);
	else
		uv_close(h, NULL);
}

static void on_signal(uv_signal_t *sig, int signum)
{
	struct ps_server *s = sig->data;

	fprintf(stderr, "policy-server: signal %d, stopping\n", signum);
	uv_walk(s->loop, on_walk_close, s);
}

int mnctl_cmd_policy_server(struct mnctl *m, int argc, char **argv)
{
	struct ps_server s = {.tmpl = m};
	struct sockaddr_storage ss;
	char shown[80];
	uint64_t mmd;
	int ret;

	(void)argv;
	if (argc != 0 || mnctl_opts.listen == NULL)
		return mnctl_fail(MNCTL_EUSAGE, "policy-server --listen HOST:PORT");
	if ((ret = mnctl_listen_addr(mnctl_opts.listen, &ss)) != MNCTL_OK)
		return ret;
	ret = mnctl_load_key(m);
	if (ret != MNCTL_OK)
		return ret;
	mmd = mnctl_log_mmd(m);
	s.ttl_ms = (mnctl_opts.cache_ttl_s != 0 && mnctl_opts.cache_ttl_s < mmd
		    ? mnctl_opts.cache_ttl_s : mmd) * 1000;
	if (mnctl_opts.cache_ttl_set && mnctl_opts.cache_ttl_s == 0)
		s.ttl_ms = 0;
	s.map_name = mnctl_opts.map_name ? mnctl_opts.map_name : "metanotary";
	s.cache = calloc(PS_CACHE_SLOTS, sizeof(*s.cache));
	if (s.cache == NULL)
		return mnctl_fail(MNCTL_ELOCAL, "out of memory");
	setenv("UV_THREADPOOL_SIZE", PS_THREADS, 0);
	signal(SIGPIPE, SIG_IGN);
	s.loop = uv_default_loop();
	ret = mnctl_listen_start(s.loop, &s.listener, &s.sigterm, &s.sigint, &s, &ss,
				 mnctl_opts.listen, on_connection, on_signal, shown,
				 sizeof(shown));
	if (ret != MNCTL_OK) {
		free(s.cache);
		return ret;
	}
	printf("policy-server listening on %s map %s cache %" PRIu64 " s log %s\n", shown,
	       s.map_name, s.ttl_ms / 1000, m->url);
	fflush(stdout);
	ret = mnctl_listen_run(s.loop);
	for (size_t i = 0; i < num_clients; i++)
		client_free(clients[i]);
	num_clients = 0;
	free(s.cache);
	return ret;
}
