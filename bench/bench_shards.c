/* bench_shards: logd --config with several logs (shards), next to one log.
 *
 *   bench_shards [BUILD]   BUILD holds logd (default build)
 *
 * About a minute, on 127.0.0.1:
 *
 *   reference  logd --config with ONE log (no window) under add-chain at 64
 *              keep-alive connections (bench/lib/post.c), each request a
 *              unique [leaf, CA] chain;
 *   shards     logd --config with THREE logs with consecutive NotAfter
 *              windows, the same leaves, the same load, each request sent to
 *              the shard of its leaf's NotAfter (an even mix, round robin);
 *              the ratio shards / reference is the figure (the issue asks
 *              >= 0.9: three sequencers must not cost throughput);
 *   (the two alternate, ROUNDS times on fresh data directories: the best
 *              of each and the ratio of each round are printed);
 *   idle RSS   VmRSS of logd with 1 and with 9 idle logs (a few requests
 *              each, so every log has been touched): (RSS9 - RSS1) / 8 is the
 *              memory of one more idle shard, next to the whole one-log
 *              process.
 * Every add-chain answer must be 200. Data under BUILD, removed at the end;
 * logd is killed on failure and by a watchdog (bench/lib/load.h). Prints
 * markdown rows on stdout, progress on stderr. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench/lib/chain.h"
#include "bench/lib/load.h"
#include "bench/lib/post.h"
#include "common/clock.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

#define DAY 86400
#define MAX_LEAVES 30000
#define GEN_SECONDS 12
#define RUN_SECONDS 4
#define ROUNDS 3
#define IDLE_SHARDS 9

static const char *build = "build";
static char workdir[512];

static void cleanup(void)
{
	load_kill_children();
	if (workdir[0] != '\0')
		load_rm_tree(workdir);
}

static void fmt_time(char out[32], int64_t secs)
{
	time_t t = (time_t)secs;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* write_config: |n| logs "s0".."s<n-1>" under |dir|; with |windows| (n == 3)
 * each has the window [now + lo[i], now + hi[i]). */
static void write_config(const char *path, const char *dir, const char *roots, int n,
			 int windows, int64_t now)
{
	static const int lo[3] = {-180, 30, 210}, hi[3] = {30, 210, 390};
	FILE *f = fopen(path, "w");
	char a[32], b[32];

	if (f == NULL)
		load_die("cannot write the config");
	fprintf(f, "listen: 127.0.0.1:0\nlogs:\n");
	for (int i = 0; i < n; i++) {
		fprintf(f, "  - name: s%d\n    data: %s/s%d\n    classes: [tls]\n"
			"    roots: {tls: %s}\n", i, dir, i, roots);
		if (windows) {
			fmt_time(a, now + lo[i] * DAY);
			fmt_time(b, now + hi[i] * DAY);
			fprintf(f, "    not_after: {start: %s, limit: %s}\n", a, b);
		}
	}
	if (fclose(f) != 0)
		load_die("cannot write the config");
}

static void start(struct logd_proc *lp, const char *name, const char *roots, int n,
		  int windows, int64_t now)
{
	char dir[700], cfg[760];
	const char *args[] = {"--config", cfg, NULL};

	snprintf(dir, sizeof(dir), "%s/%s", workdir, name);
	snprintf(cfg, sizeof(cfg), "%s/%s.yaml", workdir, name);
	if (mkdir(dir, 0700) != 0)
		load_die("cannot create a data directory");
	write_config(cfg, dir, roots, n, windows, now);
	load_logd_run(lp, build, args);
}

static void run(const char *name, const char *roots, int n, int windows, int64_t now,
		struct post_req *reqs, size_t num, struct post_result *r)
{
	struct logd_proc lp;
	struct post_list list = {reqs, 0, num};
	struct post_load l = {"add-chain", 0, 0, 64, RUN_SECONDS, post_list_next, NULL, &list};

	start(&lp, name, roots, n, windows, now);
	l.port = lp.port;
	l.server = lp.pid;
	post_run(&l, r);
	if (load_logd_stop(&lp, SIGTERM) != 0 || r->failed > 0 || r->ok == 0)
		load_die("a run failed (logd status or a non-200 answer)");
	fprintf(stderr, "bench_shards: %s: %.0f /s (%zu in %.1f s)\n", name, post_rate(r), r->ok,
		r->secs);
}

/* idle_rss: VmRSS of logd with |n| idle logs, after one get-sth each. */
static double idle_rss(const char *name, const char *roots, int n, int64_t now)
{
	struct logd_proc lp;
	double kb;

	start(&lp, name, roots, n, 0, now);
	for (int i = 0; i < n; i++) {
		char target[64];
		struct http_resp r;
		snprintf(target, sizeof(target), "/s%d/ct/v1/get-sth", i);
		if (http_do(lp.port, "GET", target, NULL, NULL, 0, &r) != 0 || r.status != 200)
			load_die("get-sth failed");
		http_resp_free(&r);
	}
	kb = load_status_kb(lp.pid, "VmRSS");
	load_logd_stop(&lp, SIGTERM);
	return kb;
}

int main(int argc, char **argv)
{
	struct pki_cert *root, *ca;
	char roots[600], *ca_b64;
	static struct post_req one[MAX_LEAVES], three[MAX_LEAVES];
	struct post_result r1 = {0}, r3 = {0};
	size_t num = 0;
	int64_t now = pki_now();
	uint64_t t0;

	if (argc > 1)
		build = argv[1];
	atexit(cleanup);
	load_init("bench_shards", 300);
	load_workdir(workdir, sizeof(workdir), build, "bench-shards");
	snprintf(roots, sizeof(roots), "%s/roots.pem", workdir);
	chain_ca(now, roots, &root, &ca);
	ca_b64 = chain_b64(ca, NULL);

	/* leaves, NotAfter cycling through the three windows */
	t0 = mn_mono_ns();
	while (num < MAX_LEAVES && load_secs_since(t0) < GEN_SECONDS) {
		static const int na[3] = {10, 100, 300};
		char dns[96], path[64], *b64;
		const char *d[1] = {dns};
		int w = (int)(num % 3);
		struct pki_cert *l;
		snprintf(dns, sizeof(dns), "s%zu-%lld.shards.bench.example", num, (long long)now);
		l = pki_issue(ca, dns, d, 1, 0, now - DAY, now + na[w] * DAY);
		if (l == NULL)
			load_die("cannot issue a leaf");
		b64 = chain_b64(l, NULL);
		chain_req_to(&one[num], "/s0/ct/v1/add-chain", b64, ca_b64);
		snprintf(path, sizeof(path), "/s%d/ct/v1/add-chain", w);
		chain_req_to(&three[num], path, b64, ca_b64);
		free(b64);
		pki_free(l);
		num++;
	}
	fprintf(stderr, "bench_shards: %zu leaves\n", num);

	/* alternate the two, ROUNDS times, each on fresh data directories: this
	 * machine is shared, so each figure is the best of its rounds and the
	 * ratio is also given per round */
	double ratios[ROUNDS];
	for (int k = 0; k < ROUNDS; k++) {
		char n1[16], n3[16];
		struct post_result a, b;
		snprintf(n1, sizeof(n1), "one%d", k);
		snprintf(n3, sizeof(n3), "three%d", k);
		run(n1, roots, 1, 0, now, one, num, &a);
		run(n3, roots, 3, 1, now, three, num, &b);
		ratios[k] = post_rate(&b) / post_rate(&a);
		post_keep_best(&r1, &a);
		post_keep_best(&r3, &b);
	}
	double rss1 = idle_rss("idle1", roots, 1, now);
	double rss9 = idle_rss("idle9", roots, IDLE_SHARDS, now);
	double per = (rss9 - rss1) / (IDLE_SHARDS - 1);

	printf("| add-chain, 64 connections, 3 shards by NotAfter (even mix), logd --config, "
	       "best of %d | %.0f /s (%zu in %.1f s); SCT p50 %.1f ms, p99 %.1f ms | one log, "
	       "same leaves and load, best of %d: %.0f /s; p50 %.1f ms, p99 %.1f ms | %.2f "
	       "(per round:", ROUNDS, post_rate(&r3), r3.ok, r3.secs, post_pct_ms(&r3, 0.5),
	       post_pct_ms(&r3, 0.99), ROUNDS, post_rate(&r1), post_pct_ms(&r1, 0.5),
	       post_pct_ms(&r1, 0.99), post_rate(&r1) > 0 ? post_rate(&r3) / post_rate(&r1) : 0);
	for (int k = 0; k < ROUNDS; k++)
		printf(" %.2f", ratios[k]);
	printf(") |\n");
	printf("| RSS of one more idle shard (logd with %d vs 1 idle logs) | %.0f KiB | the whole "
	       "one-log process: %.0f KiB | %.2f |\n",
	       IDLE_SHARDS, per, rss1, rss1 > 0 ? per / rss1 : 0);
	for (size_t i = 0; i < num; i++) {
		free(one[i].data);
		free(three[i].data);
	}
	post_result_cleanup(&r1);
	post_result_cleanup(&r3);
	free(ca_b64);
	pki_free(ca);
	pki_free(root);
	return 0;
}
