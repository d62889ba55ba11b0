/* bench_publish: sequenced durable appends while publishing to a directory
 * (logd/publish.h), next to the same sequencer without publishing (issue 15:
 * ">= 0.85 of without publishing").
 *
 *   bench_publish [BUILD]   data under BUILD (default build)
 *
 * BENCH_PUBLISH_BARRIER=syncfs: the directory store's round barrier is
 * syncfs(2) instead of the default fsync of each file and directory
 * (objstore.h OBJSTORE_BARRIER_*), to compare the two.
 *
 * The sequencer harness of bench_store (bench/lib/seqload.h): 4 threads keep
 * 4096 submissions in flight to the real sequencer (logd/sequencer.h) of a
 * store of the static-ct-api format (leaf_index SCTs, signed after each
 * commit), map off, durable commits; each leaf a 1.2 KB x509_entry whose
 * extra_data is a one-certificate chain (0.9 KB, the same for every leaf,
 * filed under its issuer key as add-chain files it, so the issuer is
 * published once). Only status-0 completions count; at the end their total
 * must equal the tree size.
 *
 *   reference  the sequencer alone: a warm-up second, then WINDOW seconds;
 *   publish    the same, with a publisher (sct_after: commit) writing every
 *              commit's hash tiles, data tiles (gzip), issuer and checkpoint
 *              (RFC 6962 and Ed25519 signature lines, made by api_static_get
 *              as logd serves them) to a directory, on its own thread, as
 *              logd --config with publish: {dir} runs it: each round's
 *              objects written and renamed, one barrier, then the
 *              checkpoint fsynced and renamed. After the window the publisher must catch up
 *              with the tree (bounded, 60 s): the time it took is printed.
 *
 * The two alternate ROUNDS times on fresh stores, so both see the same
 * machine; the figure is the median of the per-round ratios (and the best of
 * each side). Prints markdown rows on stdout, progress on stderr. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "api/api.h"
#include "bench/lib/seqload.h"
#include "bench/lib/seqstat.h"
#include "common/clock.h"
#include "common/err.h"
#include "entry/ct.h"
#include "entry/note.h"
#include "logd/keys.h"
#include "logd/publish.h"
#include "logd/sequencer.h"
#include "storage/storage.h"

#define LEAF_BYTES 1200
#define ISSUER_BYTES 900
#define WINDOW 6
#define ROUNDS 5
#define ORIGIN "bench.example/publish"

static const char *build = "build";
static int barrier = OBJSTORE_BARRIER_FSYNC;
static char workdir[512];
static uint8_t extra[3 + 3 + ISSUER_BYTES];
static uint8_t issuer_key[33];
static struct store_index_key keys[1];

static void rm_rf(const char *d)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", d);
}

static void die(const char *what)
{
	fprintf(stderr, "bench_publish: %s\n", what);
	if (workdir[0] != '\0')
		rm_rf(workdir);
	exit(1);
}

/* make_extra: certificate_chain<0..2^24-1> holding one ASN.1Cert (RFC 6962
 * section 4.6), and its issuer index key 'i' || SHA-256(cert). */
static void make_extra(void)
{
	uint8_t *cert = extra + 6;

	for (size_t i = 0; i < ISSUER_BYTES; i++)
		cert[i] = (uint8_t)(i * 131 + 7);
	extra[0] = 0, extra[1] = (3 + ISSUER_BYTES) >> 8, extra[2] = (3 + ISSUER_BYTES) & 0xff;
	extra[3] = 0, extra[4] = ISSUER_BYTES >> 8, extra[5] = ISSUER_BYTES & 0xff;
	issuer_key[0] = 'i';
	SHA256(cert, ISSUER_BYTES, issuer_key + 1);
	keys[0].index = STORE_IDX_CERT;
	keys[0].key_len = sizeof(issuer_key);
	keys[0].key = issuer_key;
}

struct run {
	double rate;       /* durable appends/s in the window */
	double batch;      /* average batch in the window */
	uint64_t size;     /* tree size at the end */
	double catch_up;   /* publish: seconds from the end of the load to the
			    * checkpoint of the final tree being stored */
	double at_end;     /* publish: published size / tree size when the load
			    * ended */
	double pub_rate;   /* publish: entries published per second, from the
			    * start of the load to the final checkpoint */
};

static double secs(uint64_t ns)
{
	return (double)ns / 1e9;
}

/* published_size: the tree size of DIR/checkpoint, or 0 */
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

static struct run run(const char *name, int publish)
{
	char dir[700], key[700], nkey[700], pub[760];
	struct store_options so = {0};
	struct store *st;
	struct ct_signer *signer;
	struct note_signer *note;
	struct seq *q;
	struct api *api = NULL;
	struct publisher *p = NULL;
	struct seqload *ld;
	struct seqload_options lo = {0};
	struct api_config ac = {0};
	struct store_stats ss;
	uint64_t total, failed, start, pub_end = 0;
	struct seq_window win;
	struct run r;

	memset(&r, 0, sizeof(r));
	snprintf(dir, sizeof(dir), "%s/%s", workdir, name);
	snprintf(pub, sizeof(pub), "%s/%s-pub", workdir, name);
	snprintf(key, sizeof(key), "%s/log-key.pem", workdir);
	snprintf(nkey, sizeof(nkey), "%s/note-key.pem", workdir);
	so.dir = dir;
	if (store_open(&st, &so) != 0 || logd_key_load(&signer, key, 1) != 0 ||
	    logd_note_key_load(&note, nkey, 1, ORIGIN) != 0 ||
	    !(store_format(st) & STORE_FMT_LEAF_INDEX) || seq_start(&q, st, signer, NULL) != 0)
		die("setup failed");
	if (publish) {
		struct publish_options po = {0};
		po.store.url = pub;
		po.store.barrier = barrier;
		if (publish_new(&p, st, &po) != 0)
			die("cannot make the publisher");
		ac.store = st;
		ac.signer = signer;
		ac.note = note;
		ac.origin = ORIGIN;
		ac.seq = publish_wrap(p, seq_api(q)); /* sct_after: commit: seq_api(q) */
		ac.max_entries = 256;
		api = api_new(&ac);
		if (api == NULL || publish_start(p, api) != 0)
			die("cannot start the publisher");
	}
	lo.seq = seq_api(q);
	lo.body_len = LEAF_BYTES;
	lo.extra = extra;
	lo.extra_len = sizeof(extra);
	lo.keys = keys;
	lo.num_keys = 1;
	ld = seqload_start(&lo);
	start = mn_mono_ns();
	bench_seq_window(q, ld, WINDOW, &win);
	if (publish)
		pub_end = published_size(pub);
	seqload_stop(ld);
	seq_stop(q); /* commits and answers what is still queued */
	store_get_stats(st, &ss);
	total = seqload_completed(ld, &failed);
	if (failed != 0 || total != ss.tree_size || win.appends == 0)
		die("a submission failed, or the tree is not the completed appends");
	r.rate = (double)win.appends / secs(win.ns);
	r.batch = win.batches > 0 ? (double)win.appends / (double)win.batches : 0;
	r.size = ss.tree_size;
	if (publish) {
		uint64_t e0 = mn_mono_ns();
		struct timespec ts = {0, 5 * 1000 * 1000};
		while (published_size(pub) < r.size && secs(mn_mono_ns() - e0) < 60)
			nanosleep(&ts, NULL);
		r.catch_up = secs(mn_mono_ns() - e0);
		r.at_end = (double)pub_end / (double)r.size;
		r.pub_rate = (double)r.size / secs(mn_mono_ns() - start);
		if (published_size(pub) != r.size)
			die("the publisher did not catch up with the tree");
		publish_stop(p);
		api_free(api);
	}
	seqload_free(ld);
	store_close(st);
	ct_signer_free(signer);
	note_signer_free(note);
	rm_rf(dir);
	rm_rf(pub);
	fprintf(stderr, "bench_publish: %s: %.0f appends/s (batch %.0f, tree %" PRIu64 ")\n",
		name, r.rate, r.batch, r.size);
	if (publish)
		fprintf(stderr, "bench_publish: %s: %.0f%% published when the load ended, the "
			"final tree %.2f s later; %.0f entries/s published\n", name,
			100 * r.at_end, r.catch_up, r.pub_rate);
	return r;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct run ref[ROUNDS], pub[ROUNDS];
	double ratios[ROUNDS], sorted[ROUNDS], best_ref = 0, best_pub = 0, worst_catch = 0;
	double batch_ref = 0, batch_pub = 0, pub_rate = 0, min_at_end = 1;
	char load[64] = "?";
	FILE *f;

	if (argc > 1)
		build = argv[1];
	if (getenv("BENCH_PUBLISH_BARRIER") != NULL &&
	    strcmp(getenv("BENCH_PUBLISH_BARRIER"), "syncfs") == 0)
		barrier = OBJSTORE_BARRIER_SYNCFS;
	f = fopen("/proc/loadavg", "r");
	if (f != NULL) {
		if (fgets(load, sizeof(load), f) != NULL)
			load[strcspn(load, " ")] = '\0';
		fclose(f);
	}
	snprintf(workdir, sizeof(workdir), "%s/bench-publish.XXXXXX", build);
	if (mkdtemp(workdir) == NULL) {
		workdir[0] = '\0';
		die("cannot create the work directory under BUILD");
	}
	make_extra();
	for (int k = 0; k < ROUNDS; k++) {
		char n0[16], n1[16];
		snprintf(n0, sizeof(n0), "ref%d", k);
		snprintf(n1, sizeof(n1), "pub%d", k);
		/* alternate which goes first, so neither always follows the other */
		if (k % 2 == 0) {
			ref[k] = run(n0, 0);
			pub[k] = run(n1, 1);
		} else {
			pub[k] = run(n1, 1);
			ref[k] = run(n0, 0);
		}
		ratios[k] = sorted[k] = pub[k].rate / ref[k].rate;
		if (ref[k].rate > best_ref)
			best_ref = ref[k].rate, batch_ref = ref[k].batch;
		if (pub[k].rate > best_pub)
			best_pub = pub[k].rate, batch_pub = pub[k].batch;
		if (pub[k].catch_up > worst_catch)
			worst_catch = pub[k].catch_up;
		if (pub[k].at_end < min_at_end)
			min_at_end = pub[k].at_end;
		pub_rate += pub[k].pub_rate / ROUNDS;
	}
	qsort(sorted, ROUNDS, sizeof(sorted[0]), cmp_double);
	printf("| sequenced durable appends (1.2 KB leaves, 4 threads, %d in flight, leaf_index "
	       "format) while publishing every commit to a directory (barrier: %s), best of %d | "
	       "%.0f /s (avg batch %.0f); final tree published %.2f s after the load at most | "
	       "the same sequencer without publishing, best of %d: %.0f /s (avg batch %.0f) | "
	       "%.2f median (per round:", SEQLOAD_IN_FLIGHT,
	       barrier == OBJSTORE_BARRIER_SYNCFS ? "syncfs" : "fsync", ROUNDS, best_pub, batch_pub,
	       worst_catch, ROUNDS, best_ref, batch_ref, sorted[ROUNDS / 2]);
	for (int k = 0; k < ROUNDS; k++)
		printf(" %.2f", ratios[k]);
	printf("; best/best %.2f; load average %s at the start) |\n", best_pub / best_ref, load);
	printf("| the publisher in those runs: entries published per second, load start to final "
	       "checkpoint, mean of %d | %.0f /s; at least %.0f%% of the tree published when the "
	       "load ended, the rest within %.2f s | the sequencer's appends, best: %.0f /s | "
	       "%.2f |\n", ROUNDS, pub_rate, 100 * min_at_end, worst_catch, best_pub,
	       pub_rate / best_pub);
	rm_rf(workdir);
	return 0;
}
