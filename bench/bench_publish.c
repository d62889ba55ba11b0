/* bench_publish: sequenced durable appends while publishing to a directory
 * (logd/publish.h), next to the same log without publishing.
 *
 *   bench_publish [BUILD]   BUILD holds logd (default build)
 *
 * About 40 s, on 127.0.0.1:
 *
 *   reference  logd --config with one log (map off), add-chain at 64
 *              keep-alive connections (bench/lib/post.c), each request a
 *              unique [leaf, CA] chain, for RUN_SECONDS;
 *   publish    the same with publish: {dir} (sct_after: commit): every
 *              commit's tiles, data tiles, issuers and checkpoint are written
 *              to a directory (fsynced) by the publisher thread meanwhile;
 *              the ratio publish / reference is the figure (the issue asks
 *              >= 0.85);
 *   (the two alternate, ROUNDS times on fresh data directories: the best of
 *              each and the ratio of each round are printed). After each
 *              publish run the published checkpoint must reach the log's size.
 * Every add-chain answer must be 200. Data under BUILD, removed at the end.
 * Prints markdown rows on stdout, progress on stderr. */
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
#include "common/b64.h"
#include "common/clock.h"
#include "entry/note.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

#define DAY 86400
#define MAX_LEAVES 30000
#define GEN_SECONDS 8
#define RUN_SECONDS 4
#define ROUNDS 3

static const char *build = "build";
static char workdir[512];

static void cleanup(void)
{
	load_kill_children();
	if (workdir[0] != '\0')
		load_rm_tree(workdir);
}

/* published_size: the size of DIR/checkpoint, or 0 */
static uint64_t published_size(const char *pub)
{
	char path[800];
	uint8_t buf[4096];
	struct note_checkpoint cp;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/checkpoint", pub);
	f = fopen(path, "rb");
	if (f == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return note_parse_checkpoint(&cp, buf, n) == 0 ? cp.tree_size : 0;
}

static void run(const char *name, const char *roots, int publish, struct post_req *reqs,
		size_t num, struct post_result *r)
{
	char dir[700], cfg[760], pub[760];
	const char *args[] = {"--config", cfg, NULL};
	struct logd_proc lp;
	struct post_list list = {reqs, 0, num};
	struct post_load l = {"add-chain", 0, 0, 64, RUN_SECONDS, post_list_next, NULL, &list};
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/%s", workdir, name);
	snprintf(cfg, sizeof(cfg), "%s/%s.yaml", workdir, name);
	snprintf(pub, sizeof(pub), "%s/%s-pub", workdir, name);
	if (mkdir(dir, 0700) != 0)
		load_die("cannot create a data directory");
	f = fopen(cfg, "w");
	if (f == NULL)
		load_die("cannot write the config");
	fprintf(f, "listen: 127.0.0.1:0\nlogs:\n  - name: p\n    data: %s/p\n    classes: [tls]\n"
		"    roots: {tls: %s}\n    map: false\n", dir, roots);
	if (publish)
		fprintf(f, "    publish: {dir: %s}\n", pub);
	if (fclose(f) != 0)
		load_die("cannot write the config");
	load_logd_run(&lp, build, args);
	l.port = lp.port;
	l.server = lp.pid;
	post_run(&l, r);
	if (publish) {
		/* the publisher catches up (bounded: 30 s) */
		uint64_t size = 0, t0 = mn_mono_ns();
		struct http_resp g;
		const char *ts_at;
		if (http_do(lp.port, "GET", "/p/ct/v1/get-sth", NULL, NULL, 0, &g) != 0 ||
		    g.status != 200 || (ts_at = strstr((char *)g.body, "\"tree_size\":")) == NULL)
			load_die("get-sth failed");
		size = strtoull(ts_at + 12, NULL, 10);
		http_resp_free(&g);
		struct timespec ts = {0, 20 * 1000 * 1000};
		while (published_size(pub) < size && load_secs_since(t0) < 30)
			nanosleep(&ts, NULL);
		if (published_size(pub) < size)
			load_die("the publisher did not catch up");
		fprintf(stderr, "bench_publish: published %llu in %.1f s after the load\n",
			(unsigned long long)size, load_secs_since(t0));
	}
	if (load_logd_stop(&lp, SIGTERM) != 0 || r->failed > 0 || r->ok == 0)
		load_die("a run failed (logd status or a non-200 answer)");
	fprintf(stderr, "bench_publish: %s: %.0f /s (%zu in %.1f s)\n", name, post_rate(r), r->ok,
		r->secs);
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

	if (argc > 1)
		build = argv[1];
	atexit(cleanup);
	load_init("bench_publish", 300);
	snprintf(workdir, sizeof(workdir), "%s/bench-publish.XXXXXX", build);
	if (mkdtemp(workdir) == NULL) {
		workdir[0] = '\0';
		load_die("cannot create the work directory under BUILD");
	}
	snprintf(roots, sizeof(roots), "%s/roots.pem", workdir);
	chain_ca(now, roots, &root, &ca);
	ca_b64 = load_xmalloc(mn_b64_encoded_len(ca->der_len) + 1);
	mn_b64_encode(ca_b64, ca->der, ca->der_len);
	t0 = mn_mono_ns();
	while (num < MAX_LEAVES && load_secs_since(t0) < GEN_SECONDS) {
		char dns[96], *b64;
		const char *d[1] = {dns};
		struct pki_cert *l;
		snprintf(dns, sizeof(dns), "p%zu-%lld.publish.bench.example", num, (long long)now);
		l = pki_issue(ca, dns, d, 1, 0, now - DAY, now + 90 * DAY);
		if (l == NULL)
			load_die("cannot issue a leaf");
		b64 = load_xmalloc(mn_b64_encoded_len(l->der_len) + 1);
		mn_b64_encode(b64, l->der, l->der_len);
		chain_req_to(&reqs[num], "/p/ct/v1/add-chain", b64, ca_b64);
		free(b64);
		pki_free(l);
		num++;
	}
	fprintf(stderr, "bench_publish: %zu leaves\n", num);

	double best0 = 0, best1 = 0, ratios[ROUNDS];
	for (int k = 0; k < ROUNDS; k++) {
		char n0[16], n1[16];
		struct post_result a, b;
		snprintf(n0, sizeof(n0), "ref%d", k);
		snprintf(n1, sizeof(n1), "pub%d", k);
		run(n0, roots, 0, reqs, num, &a);
		run(n1, roots, 1, reqs, num, &b);
		ratios[k] = post_rate(&b) / post_rate(&a);
		if (post_rate(&a) > best0) {
			post_result_cleanup(&r0);
			r0 = a, best0 = post_rate(&a);
		} else {
			post_result_cleanup(&a);
		}
		if (post_rate(&b) > best1) {
			post_result_cleanup(&r1);
			r1 = b, best1 = post_rate(&b);
		} else {
			post_result_cleanup(&b);
		}
	}
	printf("| add-chain, 64 connections, publishing every commit to a directory (fsynced), "
	       "best of %d | %.0f /s (%zu in %.1f s); SCT p50 %.1f ms, p99 %.1f ms | the same log "
	       "without publishing, best of %d: %.0f /s; p50 %.1f ms, p99 %.1f ms | %.2f "
	       "(per round:", ROUNDS, post_rate(&r1), r1.ok, r1.secs, post_pct_ms(&r1, 0.5),
	       post_pct_ms(&r1, 0.99), ROUNDS, post_rate(&r0), post_pct_ms(&r0, 0.5),
	       post_pct_ms(&r0, 0.99), best0 > 0 ? best1 / best0 : 0);
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
