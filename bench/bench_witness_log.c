/* bench_witness_log: add-chain with three local witnesses at quorum 2
 * (logd/cosign.h, `mnctl witness serve`), next to the same log without them.
 *
 *   bench_witness_log [BUILD]   BUILD holds logd and mnctl (default build)
 *
 * About 60 s, on 127.0.0.1, alternating ROUNDS times, each run on a fresh
 * data directory:
 *
 *   reference  logd --config with one log (map off, sct_after: commit),
 *              add-chain at 64 keep-alive connections (bench/lib/post.c), a
 *              unique [leaf, CA] chain per request, for RUN_SECONDS;
 *   witnessed  the same log with witness_policy: three `mnctl witness serve`
 *              processes on this machine (fresh state each run), quorum 2 of
 *              3, wait mode: after every STH the collector asks all three in
 *              parallel and serves the checkpoint once two cosigned; the
 *              sequencer never waits for them, so the rate should stay
 *              (the issue asks >= 0.95) and SCT latency (commit mode) too.
 *              After the load the served checkpoint must reach get-sth's
 *              size, every served checkpoint must carry two cosignatures or
 *              more (counted from the lines), and the time it took is printed.
 * Every add-chain answer must be 200. Data under BUILD, removed at the end.
 * Prints a markdown row on stdout, progress on stderr. */
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
#include "entry/note.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"
#include "tests/lib/witproc.h"

#define DAY 86400
#define MAX_LEAVES 30000
#define GEN_SECONDS 16
#define RUN_SECONDS 2
#define ROUNDS 4
#define ORIGIN "bench.witness.test/log"

static const char *build = "build";
static char workdir[512];
static struct witproc wits[3];

static void stop_witnesses(void)
{
	for (int i = 0; i < 3; i++)
		witproc_stop(&wits[i], SIGTERM);
}

static void cleanup(void)
{
	stop_witnesses();
	load_kill_children();
	if (workdir[0] != '\0')
		load_rm_tree(workdir);
}

static uint64_t sth_size(uint16_t port)
{
	struct http_resp g;
	const char *at;
	uint64_t size;

	if (http_do(port, "GET", "/w/ct/v1/get-sth", NULL, NULL, 0, &g) != 0 || g.status != 200 ||
	    (at = strstr((char *)g.body, "\"tree_size\":")) == NULL)
		load_die("get-sth failed");
	size = strtoull(at + 12, NULL, 10);
	http_resp_free(&g);
	return size;
}

/* served: the size of /w/checkpoint and its cosignature lines (0 if none) */
static uint64_t served(uint16_t port, size_t *out_cosigs)
{
	struct http_resp g;
	struct note_checkpoint cp;
	uint64_t size = 0;

	*out_cosigs = 0;
	if (http_do(port, "GET", "/w/checkpoint", NULL, NULL, 0, &g) != 0)
		load_die("GET checkpoint failed");
	if (g.status == 200 && note_parse_checkpoint(&cp, g.body, g.body_len) == 0) {
		size = cp.tree_size;
		*out_cosigs = cp.num_sigs >= 2 ? cp.num_sigs - 2 : 0; /* the log's two */
	}
	http_resp_free(&g);
	return size;
}

static void write_config(const char *cfg, const char *dir, const char *roots, const char *policy)
{
	FILE *f = fopen(cfg, "w");

	if (f == NULL)
		load_die("cannot write the config");
	fprintf(f, "listen: 127.0.0.1:0\nlogs:\n  - name: w\n    data: %s/w\n    classes: [tls]\n"
		"    roots: {tls: %s}\n    map: false\n    origin: " ORIGIN "\n", dir, roots);
	if (policy != NULL)
		fprintf(f, "    witness_policy: %s\n", policy);
	if (fclose(f) != 0)
		load_die("cannot write the config");
}

static void run(const char *name, const char *roots, int witnessed, struct post_req *reqs,
		size_t num, struct post_result *r, double *out_catchup, uint64_t *out_rounds)
{
	char dir[700], cfg[760], policy[760], logs[760], wd[800], wname[32], vkey[512];
	const char *args[] = {"--config", cfg, NULL};
	struct logd_proc lp;
	struct post_list list = {reqs, 0, num};
	struct post_load l = {"add-chain", 0, 0, 64, RUN_SECONDS, post_list_next, NULL, &list};

	snprintf(dir, sizeof(dir), "%s/%s", workdir, name);
	snprintf(cfg, sizeof(cfg), "%s/%s.yaml", workdir, name);
	snprintf(policy, sizeof(policy), "%s/%s.policy", workdir, name);
	snprintf(logs, sizeof(logs), "%s/%s.logs", workdir, name);
	if (mkdir(dir, 0700) != 0)
		load_die("cannot create a data directory");
	/* the log's keys first (a short run without witnesses), the same way for
	 * both kinds of run */
	write_config(cfg, dir, roots, NULL);
	load_logd_run(&lp, build, args);
	{
		const char *k = strstr(lp.log_line, "\"note_vkey\":\""), *e = NULL;
		if (k == NULL || (e = strchr(k + 13, '"')) == NULL || e - (k + 13) >= 512)
			load_die("no note_vkey in the log line");
		memcpy(vkey, k + 13, (size_t)(e - (k + 13)));
		vkey[e - (k + 13)] = '\0';
	}
	if (load_logd_stop(&lp, SIGTERM) != 0)
		load_die("logd did not stop cleanly");
	if (witnessed) {
		if (witproc_logs(logs, vkey) != 0)
			load_die("cannot write the logs file");
		for (int i = 0; i < 3; i++) {
			snprintf(wd, sizeof(wd), "%s/%s-w%d", workdir, name, i + 1);
			snprintf(wname, sizeof(wname), "w%d.bench.test", i + 1);
			if (witproc_start(&wits[i], wd, wname, logs, NULL) != 0)
				load_die("cannot start a witness");
			load_track(wits[i].pid);
		}
		if (witproc_policy(policy, vkey, wits, 3, 2) != 0)
			load_die("cannot write the policy");
		write_config(cfg, dir, roots, policy);
	}
	load_logd_run(&lp, build, args);
	l.port = lp.port;
	l.server = lp.pid;
	post_run(&l, r);
	*out_catchup = 0;
	*out_rounds = 0;
	if (witnessed) {
		/* the served checkpoint catches up (bounded: 30 s) */
		uint64_t size = sth_size(lp.port), t0 = mn_mono_ns(), got;
		size_t cosigs = 0;
		struct timespec ts = {0, 10 * 1000 * 1000};
		while ((got = served(lp.port, &cosigs)) < size && load_secs_since(t0) < 30)
			nanosleep(&ts, NULL);
		if (got < size)
			load_die("the witnessed checkpoint did not catch up");
		if (cosigs < 2)
			load_die("a served checkpoint has fewer than 2 cosignatures");
		*out_catchup = load_secs_since(t0);
		{
			struct http_resp m;
			const char *at;
			if (http_do(lp.port, "GET", "/metrics", NULL, NULL, 0, &m) == 0 &&
			    (at = strstr((char *)m.body, "mn_witness_cosignatures_total{log=\"w\","
					 "witness=\"w1\"} ")) != NULL)
				*out_rounds = strtoull(strchr(at, '}') + 2, NULL, 10);
			if (m.body != NULL)
				http_resp_free(&m);
		}
		fprintf(stderr, "bench_witness_log: witnessed %llu (%zu cosignatures) %.3f s after "
			"the load; w1 cosigned %llu checkpoints\n", (unsigned long long)size, cosigs,
			*out_catchup, (unsigned long long)*out_rounds);
	}
	if (load_logd_stop(&lp, SIGTERM) != 0 || r->failed > 0 || r->ok == 0)
		load_die("a run failed (logd status or a non-200 answer)");
	if (witnessed) {
		for (int i = 0; i < 3; i++)
			load_untrack(wits[i].pid);
		stop_witnesses();
	}
	fprintf(stderr, "bench_witness_log: %s: %.0f /s (%zu in %.1f s), p50 %.1f ms, p99 %.1f ms\n",
		name, post_rate(r), r->ok, r->secs, post_pct_ms(r, 0.5), post_pct_ms(r, 0.99));
}

int main(int argc, char **argv)
{
	struct pki_cert *root, *ca;
	char roots[600], *ca_b64;
	static struct post_req reqs[MAX_LEAVES];
	struct post_result r0 = {0}, r1 = {0};
	size_t num = 0;
	int64_t now = pki_now();
	uint64_t t0;
	double ratios[ROUNDS], catchup[ROUNDS];
	uint64_t rounds[ROUNDS];

	if (argc > 1)
		build = argv[1];
	atexit(cleanup);
	load_init("bench_witness_log", 400);
	load_workdir(workdir, sizeof(workdir), build, "bench-witness-log");
	snprintf(roots, sizeof(roots), "%s/roots.pem", workdir);
	chain_ca(now, roots, &root, &ca);
	ca_b64 = chain_b64(ca, NULL);
	t0 = mn_mono_ns();
	while (num < MAX_LEAVES && load_secs_since(t0) < GEN_SECONDS) {
		char dns[96], *b64;
		const char *d[1] = {dns};
		struct pki_cert *lf;
		snprintf(dns, sizeof(dns), "w%zu-%lld.witness.bench.example", num, (long long)now);
		lf = pki_issue(ca, dns, d, 1, 0, now - DAY, now + 90 * DAY);
		if (lf == NULL)
			load_die("cannot issue a leaf");
		b64 = chain_b64(lf, NULL);
		chain_req_to(&reqs[num], "/w/ct/v1/add-chain", b64, ca_b64);
		free(b64);
		pki_free(lf);
		num++;
	}
	fprintf(stderr, "bench_witness_log: %zu leaves\n", num);

	for (int k = 0; k < ROUNDS; k++) {
		char n0[16], n1[16];
		struct post_result a, b;
		double unused;
		uint64_t unused_rounds;
		snprintf(n0, sizeof(n0), "ref%d", k);
		snprintf(n1, sizeof(n1), "wit%d", k);
		run(n0, roots, 0, reqs, num, &a, &unused, &unused_rounds);
		run(n1, roots, 1, reqs, num, &b, &catchup[k], &rounds[k]);
		ratios[k] = post_rate(&b) / post_rate(&a);
		post_keep_best(&r0, &a);
		post_keep_best(&r1, &b);
	}
	printf("| add-chain, 64 connections, 3 local witnesses (`mnctl witness serve`) at quorum 2, "
	       "wait mode, sct_after: commit, best of %d | %.0f /s (%zu in %.1f s); SCT p50 %.1f "
	       "ms, p99 %.1f ms; witnessed checkpoint caught up", ROUNDS, post_rate(&r1), r1.ok,
	       r1.secs, post_pct_ms(&r1, 0.5), post_pct_ms(&r1, 0.99));
	for (int k = 0; k < ROUNDS; k++)
		printf(" %.2f", catchup[k]);
	printf(" s after the load; w1 cosigned");
	for (int k = 0; k < ROUNDS; k++)
		printf(" %llu", (unsigned long long)rounds[k]);
	printf(" checkpoints per run | the same log without witnesses, best of %d: %.0f /s; p50 %.1f "
	       "ms, p99 %.1f ms | %.2f (per round:", ROUNDS, post_rate(&r0), post_pct_ms(&r0, 0.5),
	       post_pct_ms(&r0, 0.99), post_rate(&r0) > 0 ? post_rate(&r1) / post_rate(&r0) : 0);
	for (int k = 0; k < ROUNDS; k++)
		printf(" %.2f", ratios[k]);
	printf(") |\n");
	for (size_t i = 0; i < num; i++)
		free(reqs[i].data);
	post_result_cleanup(&r0);
	post_result_cleanup(&r1);
	free(ca_b64);
	pki_free(ca);
	pki_free(root);
	return 0;
}
