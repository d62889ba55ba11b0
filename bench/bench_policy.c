/* bench_policy: `mnctl policy-server` answering Postfix socketmap lookups
 * (issue 18) against a local logd, on 127.0.0.1.
 *
 *   bench_policy [BUILD]      BUILD holds logd and mnctl (default build)
 *
 * About 20 s. A logd holds an smtp policy for each of d0..d99.bench.example
 * (ES256, x5c); n0..n99.bench.example have none. Two policy servers: one
 * caching verified answers (--cache-ttl 60), one not caching (--cache-ttl 0).
 *
 *   cache hits     CONNS client threads, one connection each, one request at a
 *                  time as Postfix's smtp processes ask, for RUN_S seconds,
 *                  over the 200 domains (all cached after a warm-up); the
 *                  ceiling is the same server answering a request it refuses
 *                  before any lookup (an unknown map name: framing, one
 *                  write, one read), with the same clients;
 *   cache misses   one client, MISSES requests in turn over the 200 domains on
 *                  the non-caching server: each is a resolve through the log
 *                  and its verification (STH signature, history, audit paths
 *                  of the policy, the items and the map-root leaf, the
 *                  recomputed advice); latency p50/p99 next to the same
 *                  resolve GET sent straight to logd over one keep-alive
 *                  connection without any verification.
 *
 * Prints markdown rows for bench/RESULTS.md on stdout. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/lib/load.h"
#include "common/clock.h"
#include "tests/lib/ctclient.h"
#include "tests/lib/mnfix.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

#define DOMAINS 100
#define CONNS 32
#define RUN_S 3
#define MISSES 2000

static uint16_t g_port;
static atomic_int g_stop;
static int g_perm; /* ask with an unknown map name */

static int sm_connect(uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		load_die("cannot connect to the policy server");
	return fd;
}

/* sm_ask sends one request and reads one netstring answer into |out|. */
static int sm_ask(int fd, const char *name, const char *key, char *out, size_t cap)
{
	char req[512];
	size_t len = 0, got = 0;
	int n = snprintf(req, sizeof(req), "%zu:%s %s,", strlen(name) + 1 + strlen(key), name, key);
	char c;

	if (write(fd, req, (size_t)n) != n)
		return -1;
	for (;;) {
		if (read(fd, &c, 1) != 1)
			return -1;
		if (c == ':')
			break;
		len = len * 10 + (size_t)(c - '0');
	}
	if (len + 1 > cap)
		return -1;
	while (got < len + 1) {
		ssize_t r = read(fd, out + got, len + 1 - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	out[len] = '\0';
	return 0;
}

static void domain_name(char *out, size_t cap, size_t i)
{
	snprintf(out, cap, "%c%zu.bench.example", i % 2 ? 'n' : 'd', (i / 2) % DOMAINS);
}

static void *hit_client(void *arg)
{
	uint64_t *count = arg, n = 0;
	int fd = sm_connect(g_port);
	char key[64], out[512];

	for (size_t i = (size_t)(uintptr_t)count; !atomic_load(&g_stop); i++) {
		domain_name(key, sizeof(key), i);
		if (sm_ask(fd, g_perm ? "nomap" : "metanotary", key, out, sizeof(out)) != 0)
			load_die("a socketmap request failed");
		if (!g_perm && strncmp(out, "OK ", 3) != 0 && strncmp(out, "NOTFOUND", 8) != 0)
			load_die("unexpected answer under load");
		n++;
	}
	close(fd);
	*count = n;
	return NULL;
}

static double hits_per_s(uint16_t port, int perm, pid_t server, double *cpu_us)
{
	pthread_t th[CONNS];
	uint64_t counts[CONNS], total = 0, t0, cpu0;

	g_port = port;
	g_perm = perm;
	atomic_store(&g_stop, 0);
	cpu0 = load_cpu_us(server);
	t0 = mn_mono_ns();
	for (size_t i = 0; i < CONNS; i++) {
		counts[i] = i * 7;
		pthread_create(&th[i], NULL, hit_client, &counts[i]);
	}
	sleep(RUN_S);
	atomic_store(&g_stop, 1);
	for (size_t i = 0; i < CONNS; i++) {
		pthread_join(th[i], NULL);
		total += counts[i];
	}
	*cpu_us = (double)(load_cpu_us(server) - cpu0) / (double)total;
	return (double)total / load_secs_since(t0);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static pid_t ps_start(const char *build, const char *cfg, const char *key, const char *url,
		      const char *ttl, uint16_t *port)
{
	char bin[256], line[256];
	int fd;
	unsigned p;
	FILE *f;
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s/mnctl", build);
	{
		char *argv[] = {bin, "--config", (char *)cfg, "--key", (char *)key, "--log",
				(char *)url, "policy-server", "--listen", "127.0.0.1:0",
				"--cache-ttl", (char *)ttl, NULL};
		pid = load_spawn(argv, &fd, 1);
	}
	f = fdopen(fd, "r");
	if (f == NULL || fgets(line, sizeof(line), f) == NULL ||
	    sscanf(line, "policy-server listening on 127.0.0.1:%u", &p) != 1)
		load_die("the policy server did not start");
	/* keep the pipe open: the server's stdout stays valid */
	*port = (uint16_t)p;
	return pid;
}

int main(int argc, char **argv)
{
	const char *build = argc > 1 ? argv[1] : "build";
	char dir[256], data[300], roots[300], cfg[300], keyf[300], url[64], key[64], out[512];
	struct logd_proc lp;
	struct pki_cert *root, *ca;
	int64_t now = pki_now();
	uint16_t port_c, port_n;
	pid_t ps_c, ps_n;
	double hit, perm, hit_cpu, perm_cpu;
	uint64_t *lat, *raw;
	FILE *f;

	load_init("bench_policy", 300);
	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "%s/bench-policy-%d", build, (int)getpid());
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(roots, sizeof(roots), "%s/roots.pem", dir);
	snprintf(cfg, sizeof(cfg), "%s/config", dir);
	snprintf(keyf, sizeof(keyf), "%s/key.der", dir);
	root = pki_root("Bench Policy Root", 0);
	ca = pki_issue(root, "Bench Policy CA", NULL, 0, PKI_CA, now - 86400, now + 86400 * 365);
	if (root == NULL || ca == NULL || mkdir(dir, 0700) != 0)
		load_die("setup");
	{
		const struct pki_cert *r[1] = {root};
		if (pki_write_pem(roots, r, 1) != 0)
			load_die("roots");
	}
	{
		const char *a[] = {"--data", data, "--tls-roots", roots, NULL};
		load_logd_start(&lp, build, data, a);
	}
	f = fopen(keyf, "wb");
	if (f == NULL || fwrite(lp.spki, 1, lp.spki_len, f) != lp.spki_len)
		load_die("key file");
	fclose(f);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", lp.port);
	for (size_t i = 0; i < DOMAINS; i++) {
		char name[64], payload[1024], *jws, *req;
		const char *dns[1] = {name};
		struct pki_cert *c;
		struct http_resp r;
		snprintf(name, sizeof(name), "d%zu.bench.example", i);
		c = pki_issue(ca, name, dns, 1, 0, now - 3600, now + 86400 * 30);
		snprintf(payload, sizeof(payload),
			 "{\"exp\":%lld,\"iat\":%lld,\"mode\":\"enforce\",\"mx\":[\"mx1.%s\",\"*.mx.%s\"],"
			 "\"protocol\":\"smtp\",\"serial\":1,\"subject\":{\"domain\":\"%s\"},"
			 "\"tls\":{\"min\":\"1.2\",\"transport\":\"starttls\"},\"v\":1}",
			 (long long)now + 86400, (long long)now - 60, name, name, name);
		jws = c ? mnfix_x5c_jws(c, ca, payload) : NULL;
		req = jws ? mnfix_policy_request(jws) : NULL;
		if (req == NULL || http_do(lp.port, "POST", "/mn/v1/add-policy",
					   "Content-Type: application/json\r\n", req, strlen(req), &r) != 0 ||
		    r.status != 200)
			load_die("add-policy");
		http_resp_free(&r);
		free(req);
		free(jws);
		pki_free(c);
	}
	ps_c = ps_start(build, cfg, keyf, url, "60", &port_c);
	ps_n = ps_start(build, cfg, keyf, url, "0", &port_n);

	/* warm the cache, then hits, then the framing ceiling */
	{
		int fd = sm_connect(port_c);
		for (size_t i = 0; i < 2 * DOMAINS; i++) {
			domain_name(key, sizeof(key), i);
			if (sm_ask(fd, "metanotary", key, out, sizeof(out)) != 0 ||
			    (i % 2 == 0 && strncmp(out, "OK secure match=", 16) != 0))
				load_die("warm-up answer");
		}
		close(fd);
	}
	hit = hits_per_s(port_c, 0, ps_c, &hit_cpu);
	perm = hits_per_s(port_c, 1, ps_c, &perm_cpu);

	/* misses: verified fetches, one at a time; the raw resolve beside */
	lat = load_xmalloc(MISSES * sizeof(*lat));
	raw = load_xmalloc(MISSES * sizeof(*raw));
	{
		int fd = sm_connect(port_n);
		struct kconn kc;
		char path[128];
		for (size_t i = 0; i < MISSES; i++) {
			uint64_t t0 = mn_mono_ns();
			domain_name(key, sizeof(key), i);
			if (sm_ask(fd, "metanotary", key, out, sizeof(out)) != 0 ||
			    strncmp(out, "TEMP", 4) == 0)
				load_die("miss answer");
			lat[i] = mn_mono_ns() - t0;
		}
		close(fd);
		if (kc_open(&kc, lp.port, 10000) != 0)
			load_die("keep-alive connection");
		for (size_t i = 0; i < MISSES; i++) {
			struct http_resp r;
			uint64_t t0 = mn_mono_ns();
			domain_name(key, sizeof(key), i);
			snprintf(path, sizeof(path), "/mn/v1/resolve?domain=%s&protocol=smtp", key);
			if (kc_request(&kc, "GET", path, NULL, 0, 1, &r) != 0 || r.status != 200)
				load_die("raw resolve");
			http_resp_free(&r);
			raw[i] = mn_mono_ns() - t0;
		}
		kc_close(&kc);
	}
	qsort(lat, MISSES, sizeof(*lat), cmp_u64);
	qsort(raw, MISSES, sizeof(*raw), cmp_u64);

	printf("| policy-server answers from cache (%d Postfix-like connections, one request at a "
	       "time, 200 domains) | %.0f /s; policy-server CPU %.1f us per answer | same server "
	       "refusing an unknown map name before any lookup: %.0f /s, %.1f us | %.2f |\n",
	       CONNS, hit, hit_cpu, perm, perm_cpu, hit / perm);
	printf("| policy-server cache miss (resolve through logd + full verification), 1 client, %d "
	       "in turn | p50 %.2f ms, p99 %.2f ms | the same resolve GET straight to logd, no "
	       "verification: p50 %.2f ms, p99 %.2f ms | p99 %.2fx |\n",
	       MISSES, (double)lat[MISSES / 2] / 1e6, (double)lat[MISSES * 99 / 100] / 1e6,
	       (double)raw[MISSES / 2] / 1e6, (double)raw[MISSES * 99 / 100] / 1e6,
	       (double)lat[MISSES * 99 / 100] / (double)raw[MISSES * 99 / 100]);
	free(lat);
	free(raw);
	kill(ps_c, SIGTERM);
	kill(ps_n, SIGTERM);
	load_wait(ps_c);
	load_wait(ps_n);
	load_logd_stop(&lp, SIGTERM);
	pki_free(ca);
	pki_free(root);
	load_rm_tree(dir);
	return 0;
}
