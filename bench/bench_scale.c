/* bench_scale.c: storage costs as functions of the tree size (the scale issue).
 *
 * One log is built incrementally under BUILD/bench-scale with
 * store_append_batch, batches of up to MAX_BATCH synthetic leaves of LEAF_BYTES bytes
 * (a MerkleTreeLeaf-shaped header, the index, filler; no extra data, no SCT,
 * so "bytes beyond the leaf" is the pure cost of storage: leaf-hash and dedup
 * indexes, tiles, B-tree pages). The build runs with store_options.no_sync
 * (MDB_NOSYNC, benchmarks only): durability is bench_store's subject, this is
 * about read costs. At each size in SIZES it measures, with the page cache
 * warm (the data was just written):
 *   - inclusion proof: store_read_begin + store_r_inclusion_proof +
 *     store_read_end at a uniformly random index, tree size = the whole tree;
 *     median and p99 over PROOFS samples, after as many untimed ones (so the
 *     first touch of each mmap page is mostly out of the figure; the minor
 *     page faults left in the timed pass are reported on stderr);
 *   - consistency proof: random size1 in [1, n), size2 = n, same way;
 *   - get-entries: store_r_entries of 256 entries at random starts (one
 *     snapshot each), touching each leaf's bytes; entries/s (after as many
 *     untimed ones);
 *   - bytes on disk per entry: data.mdb's size / n, and minus the leaf;
 *   - RSS: VmRSS, VmHWM and RssAnon from /proc/self/status. LMDB maps the
 *     whole file, so VmRSS counts every data page this process touched
 *     (RssFile); RssAnon is the process's own memory;
 *   - time to open: store_close, then store_open (which runs the consistency
 *     check of state, STH, leaves and right-edge tree hashes);
 *   - the floor: one read of a random byte of data.mdb through a mapping of
 *     its own, timed like a proof. At 10^4 the file sits in the CPU caches;
 *     at 10^7 (4.8 GB) every such read misses the caches and the TLB, and on
 *     this VM one costs about as much as a whole proof at 10^4. A random
 *     proof at 10^7 must read at least one leaf-level tile (one of n/256), so
 *     no layout brings its time within a small factor of the 10^4 time here:
 *     the row shows how far above that floor the proof is;
 *   - served by logd (the operator's view): logd is started on the log (STHs
 *     are signed with the key it is given, so everything it serves is real),
 *     one proof and one get-entries answer are checked against the builder's
 *     tree, then wrk -t2 -c64 runs get-proof-by-hash of HTTP_REQS random
 *     leaves at the full tree size and get-entries of 256 at random starts
 *     (each after an unreported warm-up: logd maps pages on first touch);
 *     logd's CPU per request (from /proc) is the figure that the machine's
 *     other load disturbs least; logd's RssAnon (its own memory, not the
 *     map) after serving.
 * The series goes to BUILD/bench-scale.dat; bench/scale.gp draws
 * bench/scale.png from it (when gnuplot is installed). Markdown rows go to
 * stdout, progress to stderr. MN_BENCH_SCALE_MAX (e.g. 100000) caps the sizes
 * for a quick run; MN_BENCH_SCALE_KEEP=1 keeps the log, its key and the wrk
 * scripts (BUILD/bench-scale-work) for mdb_stat, perf or wrk by hand. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "bench/lib/load.h"
#include "bench/lib/sth.h"
#include "common/b64.h"
#include "common/bytes.h"
#include "common/clock.h"
#include "common/err.h"
#include "entry/ct.h"
#include "logd/keys.h"
#include "merkle/merkle.h"
#include "storage/storage.h"
#include "tests/lib/proc.h"

#define LEAF_BYTES 100
#define MAX_BATCH 100000
#define PROOFS 20000
#define ENTRY_READS 2000
#define ENTRY_BATCH 256
#define OPENS 3
/* the served phase: requests per wrk script, and run lengths in seconds */
#define HTTP_REQS 20000
#define HTTP_WARMUP_S 2
#define HTTP_RUN_S 4
#define WATCHDOG_S 900
#define NUM_SIZES 4

static const uint64_t SIZES[NUM_SIZES] = {10000, 100000, 1000000, 10000000};
static const char *const SIZE_NAMES[NUM_SIZES] = {"10^4", "10^5", "10^6", "10^7"};

struct point {
	uint64_t n;
	double build_s;      /* cumulative build time to reach n */
	double incl_p50_us, incl_p99_us, incl_minflt;
	double cons_p50_us, cons_p99_us;
	double entries_per_s;
	double file_bpe, used_bpe;
	double rss_mb, hwm_mb, anon_mb;
	double open_ms;
	/* served by logd over HTTP (wrk on 127.0.0.1) */
	double proof_rps, proof_cpu_us, proof_p99_ms;
	double entries_rps, entries_cpu_us, entries_mb_s;
	double logd_rss_mb, logd_anon_mb;
	double touch_p50_us; /* one random read of data.mdb's mapping */
};

static char dir[512], work[512], key_path[600];
static size_t batch = 100000;
static const struct ct_signer *signer;

static void rm_rf(const char *d)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_scale: cannot remove %s\n", d);
}

/* xorshift64*: fast, and good enough to pick indexes. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct_us(uint64_t *ns, size_t num, double p)
{
	size_t i = (size_t)(p * (double)(num - 1) + 0.5);

	return (double)ns[i] / 1e3;
}

static long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

static double status_mb(const char *field)
{
	char line[256];
	size_t flen = strlen(field);
	double kb = 0;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
			kb = strtod(line + flen + 1, NULL);
			break;
		}
	}
	fclose(f);
	return kb / 1024.0;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench_scale: %s failed: %s\n", what, mn_err_name(err));
	exit(1);
}

/* The builder: leaf bodies, their hashes and the compact range. */
struct builder {
	struct merkle_hasher *h;
	struct merkle_range range;
	struct store_leaf *ls;
	uint8_t (*bufs)[LEAF_BYTES];
	uint64_t hash_ns, store_ns;
};

static void make_leaf(uint8_t *b, uint64_t i)
{
	uint64_t x = i * 0x9e3779b97f4a7c15ull + 1;

	/* version 0, timestamped_entry, timestamp, entry type 0x8000, index */
	b[0] = 0;
	b[1] = 0;
	for (int k = 0; k < 8; k++)
		b[2 + k] = (uint8_t)((1700000000000ull + i) >> (56 - 8 * k));
	b[10] = 0x80;
	b[11] = 0;
	for (int k = 0; k < 8; k++)
		b[12 + k] = (uint8_t)(i >> (56 - 8 * k));
	for (int k = 20; k < LEAF_BYTES; k += 8) {
		x ^= x >> 33;
		x *= 0xff51afd7ed558ccdull;
		memcpy(b + k, &x, LEAF_BYTES - k < 8 ? (size_t)(LEAF_BYTES - k) : 8);
	}
}

/* grow appends batches up to |target|, each STH signed with the key logd is
 * given (bench_sign_sth), so the STH it serves is real. */
static void grow(struct builder *bd, struct store *st, uint64_t target)
{
	while (bd->range.size < target) {
		struct store_sth sth = {0};
		uint64_t t0 = mn_mono_ns(), t1;
		size_t k = 0;
		int rc;

		for (; k < batch && bd->range.size < target; k++) {
			uint64_t i = bd->range.size;

			make_leaf(bd->bufs[k], i);
			bd->ls[k].leaf_input = bd->bufs[k];
			bd->ls[k].leaf_input_len = LEAF_BYTES;
			bd->ls[k].extra = bd->bufs[k];
			bd->ls[k].extra_len = 0;
			bd->ls[k].sct = bd->bufs[k];
			bd->ls[k].sct_len = 0;
			merkle_leaf_hash(bd->h, bd->ls[k].leaf_hash, bd->bufs[k], LEAF_BYTES);
			memcpy(bd->ls[k].dedup_key, bd->ls[k].leaf_hash, 32);
			bd->ls[k].dedup_key[0] ^= 0xff;
			merkle_range_append(&bd->range, bd->h, bd->ls[k].leaf_hash, NULL, NULL);
		}
		sth.tree_size = bd->range.size;
		/* now: logd, run on this log between sizes, may have signed an STH
		 * of its own, and a tree head never goes back in time */
		sth.timestamp = mn_now_ms();
		merkle_range_root(&bd->range, bd->h, sth.root);
		bench_sign_sth(signer, &sth);
		t1 = mn_mono_ns();
		rc = store_append_batch(st, bd->ls, k, &sth);
		if (rc != 0)
			die("store_append_batch", rc);
		bd->hash_ns += t1 - t0;
		bd->store_ns += mn_mono_ns() - t1;
	}
}

static struct store *open_store(double *out_ms)
{
	struct store_options so = {0};
	struct store *st;
	uint64_t t0;
	int rc;

	so.dir = dir;
	so.no_sync = 1;
	so.map_size = 8ull << 30;
	t0 = mn_mono_ns();
	rc = store_open(&st, &so);
	if (rc != 0)
		die("store_open", rc);
	if (out_ms != NULL)
		*out_ms = (double)(mn_mono_ns() - t0) / 1e6;
	return st;
}

static void measure_proofs(struct store *st, struct point *pt, uint64_t *ns)
{
	uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	uint64_t n = pt->n;
	long f0 = 0;
	size_t num;
	int rc;

	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1)
			f0 = minflt();
		for (int p = 0; p < PROOFS; p++) {
			struct store_reader *rd;
			uint64_t idx = rnd() % n, t0 = mn_mono_ns();

			if ((rc = store_read_begin(st, &rd)) != 0)
				die("store_read_begin", rc);
			rc = store_r_inclusion_proof(rd, idx, n, proof, &num);
			store_read_end(rd);
			ns[p] = mn_mono_ns() - t0;
			if (rc != 0)
				die("store_r_inclusion_proof", rc);
		}
	}
	pt->incl_minflt = (double)(minflt() - f0) / PROOFS;
	qsort(ns, PROOFS, sizeof(*ns), cmp_u64);
	pt->incl_p50_us = pct_us(ns, PROOFS, 0.5);
	pt->incl_p99_us = pct_us(ns, PROOFS, 0.99);

	for (int pass = 0; pass < 2; pass++) {
		for (int p = 0; p < PROOFS; p++) {
			struct store_reader *rd;
			uint64_t size1 = 1 + rnd() % (n - 1), t0 = mn_mono_ns();

			if ((rc = store_read_begin(st, &rd)) != 0)
				die("store_read_begin", rc);
			rc = store_r_consistency_proof(rd, size1, n, proof, &num);
			store_read_end(rd);
			ns[p] = mn_mono_ns() - t0;
			if (rc != 0)
				die("store_r_consistency_proof", rc);
		}
	}
	qsort(ns, PROOFS, sizeof(*ns), cmp_u64);
	pt->cons_p50_us = pct_us(ns, PROOFS, 0.5);
	pt->cons_p99_us = pct_us(ns, PROOFS, 0.99);
}

static void measure_entries(struct store *st, struct point *pt)
{
	static struct store_entry es[ENTRY_BATCH];
	uint64_t total = 0, t0 = 0, sum = 0;
	size_t num;
	int rc;

	for (int i = 0; i < 2 * ENTRY_READS; i++) {
		if (i == ENTRY_READS)
			t0 = mn_mono_ns(), total = 0;
		struct store_reader *rd;
		uint64_t start = rnd() % (pt->n - ENTRY_BATCH + 1);

		if ((rc = store_read_begin(st, &rd)) != 0)
			die("store_read_begin", rc);
		rc = store_r_entries(rd, start, ENTRY_BATCH, es, &num);
		if (rc != 0 || num != ENTRY_BATCH)
			die("store_r_entries", rc != 0 ? rc : MN_EIO);
		for (size_t j = 0; j < num; j++)
			for (size_t b = 0; b < es[j].leaf_input_len; b += 8)
				sum += es[j].leaf_input[b];
		store_read_end(rd);
		total += num;
	}
	pt->entries_per_s = (double)total / ((double)(mn_mono_ns() - t0) / 1e9);
	if (sum == 42) /* keep the reads */
		fprintf(stderr, " ");
}

/* measure_touch times one read of a random byte of data.mdb through a mapping
 * of our own (as LMDB maps it), after as many untimed reads: the floor under
 * any lookup that lands on a random page of a file this big. At 10^4 the file
 * sits in the CPU caches; at 10^7 each such read is a cache and TLB miss. */
static void measure_touch(struct point *pt, uint64_t *ns)
{
	char path[600];
	struct stat sb;
	volatile uint8_t sink = 0;
	const uint8_t *map;
	size_t pages;
	int fd;

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &sb) != 0 || sb.st_size < 4096)
		die("open data.mdb", MN_EIO);
	map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		die("mmap data.mdb", MN_EIO);
	pages = (size_t)sb.st_size / 4096;
	for (int pass = 0; pass < 2; pass++)
		for (int p = 0; p < PROOFS; p++) {
			size_t off = (size_t)(rnd() % pages) * 4096 + (size_t)(rnd() % 64) * 64;
			uint64_t t0 = mn_mono_ns();

			sink += map[off];
			ns[p] = mn_mono_ns() - t0;
		}
	munmap((void *)map, (size_t)sb.st_size);
	qsort(ns, PROOFS, sizeof(*ns), cmp_u64);
	pt->touch_p50_us = pct_us(ns, PROOFS, 0.5);
	(void)sink;
}

static void measure_disk(struct store *st, struct point *pt)
{
	char path[600];
	struct stat sb;
	struct store_stats ss;

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	if (stat(path, &sb) != 0)
		die("stat data.mdb", MN_EIO);
	store_get_stats(st, &ss);
	pt->file_bpe = (double)sb.st_size / (double)pt->n;
	pt->used_bpe = (double)ss.used_bytes / (double)pt->n;
}

/* --- the served phase: logd on the same log, wrk on 127.0.0.1 --- */

/* leaf_hash_of computes the leaf hash of synthetic leaf |i|. */
static void leaf_hash_of(struct merkle_hasher *h, uint64_t i, uint8_t out[MERKLE_HASH_LEN])
{
	uint8_t b[LEAF_BYTES];

	make_leaf(b, i);
	merkle_leaf_hash(h, out, b, LEAF_BYTES);
}

/* write_script writes a wrk script whose reqs table holds HTTP_REQS paths:
 * get-proof-by-hash of random leaves at tree size n (proof != 0), or
 * get-entries of 256 at random starts. */
static void write_script(const char *path, struct merkle_hasher *h, uint64_t n, int proof)
{
	FILE *f = fopen(path, "w");
	char enc[3 * 48 + 1];
	uint8_t lh[MERKLE_HASH_LEN];

	if (f == NULL)
		die("writing a wrk script", MN_EIO);
	fputs("local paths = {\n", f);
	for (int i = 0; i < HTTP_REQS; i++) {
		if (proof) {
			leaf_hash_of(h, rnd() % n, lh);
			load_b64_urlenc(enc, lh, sizeof(lh));
			fprintf(f, "\"/ct/v1/get-proof-by-hash?hash=%s&tree_size=%" PRIu64 "\",\n",
				enc, n);
		} else {
			uint64_t start = rnd() % (n - ENTRY_BATCH + 1);

			fprintf(f, "\"/ct/v1/get-entries?start=%" PRIu64 "&end=%" PRIu64 "\",\n",
				start, start + ENTRY_BATCH - 1);
		}
	}
	fprintf(f, "}\n"
		   "reqs = {}\n"
		   "init = function(args)\n"
		   "  math.randomseed(seed or 1)\n"
		   "  for k, p in ipairs(paths) do reqs[k] = wrk.format(\"GET\", p) end\n"
		   "end\n%s",
		load_lua_random_request);
	if (fclose(f) != 0)
		die("writing a wrk script", MN_EIO);
}

/* check_served asks logd for the proof of one random leaf and for one
 * get-entries batch, and checks them against the builder's tree: a benchmark
 * of wrong answers would measure nothing. */
static void check_served(uint16_t port, struct merkle_hasher *h, uint64_t n,
			 const uint8_t root[MERKLE_HASH_LEN])
{
	uint64_t idx = rnd() % n, start = rnd() % (n - ENTRY_BATCH + 1);
	uint8_t lh[MERKLE_HASH_LEN], proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	char enc[3 * 48 + 1], target[256];
	struct http_resp r;
	json_t *j, *path, *entries, *e;
	size_t num = 0;
	int ok;

	leaf_hash_of(h, idx, lh);
	load_b64_urlenc(enc, lh, sizeof(lh));
	snprintf(target, sizeof(target), "/ct/v1/get-proof-by-hash?hash=%s&tree_size=%" PRIu64,
		 enc, n);
	if (http_do(port, "GET", target, NULL, NULL, 0, &r) != 0 || r.status != 200)
		die("logd's get-proof-by-hash", MN_EIO);
	j = json_loadb((const char *)r.body, r.body_len, 0, NULL);
	path = json_object_get(j, "audit_path");
	ok = json_integer_value(json_object_get(j, "leaf_index")) == (json_int_t)idx &&
	     json_is_array(path) && json_array_size(path) <= MERKLE_MAX_PROOF;
	for (size_t i = 0; ok && i < json_array_size(path); i++) {
		const char *b = json_string_value(json_array_get(path, i));
		uint8_t *d = NULL;
		size_t dl = 0;

		ok = b != NULL && mn_b64_decode(&d, &dl, b, strlen(b), 64) == 0 &&
		     dl == MERKLE_HASH_LEN;
		if (ok)
			memcpy(proof[num++], d, MERKLE_HASH_LEN);
		free(d);
	}
	ok = ok && merkle_verify_inclusion(h, lh, idx, n, proof, num, root);
	json_decref(j);
	http_resp_free(&r);
	if (!ok)
		die("logd's proof does not verify", MN_EIO);

	snprintf(target, sizeof(target), "/ct/v1/get-entries?start=%" PRIu64 "&end=%" PRIu64,
		 start, start + ENTRY_BATCH - 1);
	if (http_do(port, "GET", target, NULL, NULL, 0, &r) != 0 || r.status != 200)
		die("logd's get-entries", MN_EIO);
	j = json_loadb((const char *)r.body, r.body_len, 0, NULL);
	entries = json_object_get(j, "entries");
	ok = json_is_array(entries) && json_array_size(entries) == ENTRY_BATCH;
	for (size_t i = 0; ok && i < ENTRY_BATCH; i++) {
		const char *b;
		uint8_t *d = NULL, want[LEAF_BYTES];
		size_t dl = 0;

		e = json_array_get(entries, i);
		b = json_string_value(json_object_get(e, "leaf_input"));
		make_leaf(want, start + i);
		ok = b != NULL && mn_b64_decode(&d, &dl, b, strlen(b), 4096) == 0 &&
		     dl == LEAF_BYTES && memcmp(d, want, LEAF_BYTES) == 0;
		free(d);
	}
	json_decref(j);
	http_resp_free(&r);
	if (!ok)
		die("logd's get-entries answer is not the log's leaves", MN_EIO);
}

static void wrk_or_die(const char *url, const char *script, int threads, int conns,
		       int seconds, pid_t server, struct load_wrk *w)
{
	if (load_wrk_run(url, script, threads, conns, seconds, server, w) != 0)
		die("wrk", MN_EIO);
	if (w->non2xx != 0 || w->sock_errors != 0 || w->requests == 0) {
		fprintf(stderr, "bench_scale: %s: %lu non-2xx, %lu socket errors of %lu\n",
			script, w->non2xx, w->sock_errors, w->requests);
		die("wrk saw failed requests", MN_EIO);
	}
}

/* measure_http serves the log (closed by the caller) with logd and measures
 * what a monitor sees: get-proof-by-hash under 64 connections (rate and logd's
 * CPU per request) and over one connection (latency without queueing), and
 * get-entries of 256 under 64 connections; then logd's memory. */
static void measure_http(struct point *pt, struct merkle_hasher *h,
			 const uint8_t root[MERKLE_HASH_LEN])
{
	char proof_lua[600], entries_lua[600], url[64];
	const char *args[] = {"--data", dir, "--key", key_path, "--mmd", "86400", NULL};
	struct logd_proc lp;
	struct load_wrk w;

	snprintf(proof_lua, sizeof(proof_lua), "%s/proof.lua", work);
	snprintf(entries_lua, sizeof(entries_lua), "%s/entries.lua", work);
	write_script(proof_lua, h, pt->n, 1);
	write_script(entries_lua, h, pt->n, 0);
	if (logd_start(&lp, args) != 0) {
		if (lp.pid > 0)
			logd_stop(&lp, SIGKILL);
		die("starting logd", MN_EIO);
	}
	load_track(lp.pid);
	check_served(lp.port, h, pt->n, root);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", lp.port);

	/* warm-up, unreported: logd maps the store's pages on first touch */
	wrk_or_die(url, proof_lua, 2, 64, HTTP_WARMUP_S, lp.pid, &w);
	wrk_or_die(url, proof_lua, 2, 64, HTTP_RUN_S, lp.pid, &w);
	pt->proof_rps = w.rps;
	pt->proof_cpu_us = w.server_us;
	pt->proof_p99_ms = w.p99_ms;
	wrk_or_die(url, entries_lua, 2, 64, HTTP_WARMUP_S, lp.pid, &w);
	wrk_or_die(url, entries_lua, 2, 64, HTTP_RUN_S, lp.pid, &w);
	pt->entries_rps = w.rps;
	pt->entries_cpu_us = w.server_us;
	pt->entries_mb_s = w.mb_per_s;
	pt->logd_rss_mb = load_status_kb(lp.pid, "VmRSS") / 1024;
	pt->logd_anon_mb = load_status_kb(lp.pid, "RssAnon") / 1024;
	load_untrack(lp.pid);
	if (logd_stop(&lp, SIGTERM) != 0)
		die("logd did not stop cleanly", MN_EIO);
	fprintf(stderr, "bench_scale: served %" PRIu64 ": get-proof-by-hash %.0f req/s "
		"(%.1f us CPU, p99 %.2f ms); get-entries %.0f req/s "
		"(%.0f us CPU, %.0f MB/s); logd RSS %.0f MB, anon %.1f MB\n",
		pt->n, pt->proof_rps, pt->proof_cpu_us, pt->proof_p99_ms, pt->entries_rps, pt->entries_cpu_us, pt->entries_mb_s,
		pt->logd_rss_mb, pt->logd_anon_mb);
}

static void write_dat(const char *build, const struct point *pts, int num)
{
	char path[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/bench-scale.dat", build);
	f = fopen(path, "w");
	if (f == NULL)
		return;
	fprintf(f, "# n build_s incl_p50_us incl_p99_us cons_p50_us cons_p99_us "
		   "entries_per_s file_bytes_per_entry used_bytes_per_entry rss_mb hwm_mb "
		   "anon_mb open_ms incl_minflt_per_proof proof_rps proof_cpu_us "
		   "proof_p99_ms entries_rps entries_cpu_us entries_mb_s "
		   "logd_rss_mb logd_anon_mb touch_p50_us\n");
	for (int i = 0; i < num; i++)
		fprintf(f, "%" PRIu64 " %.2f %.3f %.3f %.3f %.3f %.0f %.1f %.1f %.1f %.1f %.1f "
			   "%.3f %.3f %.0f %.2f %.3f %.1f %.1f %.1f %.1f %.1f %.3f\n",
			pts[i].n, pts[i].build_s, pts[i].incl_p50_us, pts[i].incl_p99_us,
			pts[i].cons_p50_us, pts[i].cons_p99_us, pts[i].entries_per_s,
			pts[i].file_bpe, pts[i].used_bpe, pts[i].rss_mb, pts[i].hwm_mb,
			pts[i].anon_mb, pts[i].open_ms, pts[i].incl_minflt, pts[i].proof_rps,
			pts[i].proof_cpu_us, pts[i].proof_p99_ms,
			pts[i].entries_rps, pts[i].entries_cpu_us, pts[i].entries_mb_s,
			pts[i].logd_rss_mb, pts[i].logd_anon_mb, pts[i].touch_p50_us);
	fclose(f);
	if (access("bench/scale.gp", R_OK) == 0 && access("/usr/bin/gnuplot", X_OK) == 0) {
		char arg[700];
		pid_t pid;

		snprintf(arg, sizeof(arg), "dat='%s'", path);
		pid = fork();
		if (pid == 0) {
			int fd = open("/dev/null", O_WRONLY);

			if (fd >= 0)
				dup2(fd, 1);
			execl("/usr/bin/gnuplot", "gnuplot", "-e", arg, "bench/scale.gp",
			      (char *)NULL);
			_exit(127);
		}
		if (pid > 0)
			waitpid(pid, NULL, 0);
	}
}

/* row prints one metric's series; the ceiling column holds the first sizes'
 * values, the ratio is last / first (and last / second). */
static void row(const char *what, const char *unit, int dec, const double *v,
		int num)
{
	char val[64];

	printf("| scale: %s at ", what);
	for (int i = 0; i < num; i++)
		printf("%s%s", i ? " / " : "", SIZE_NAMES[i]);
	printf(" entries | ");
	for (int i = 0; i < num; i++) {
		snprintf(val, sizeof(val), "%.*f", dec, v[i]);
		printf("%s%s", i ? " / " : "", val);
	}
	printf(" %s | ", unit);
	snprintf(val, sizeof(val), "%.*f", dec, v[0]);
	printf("%s: %s %s", SIZE_NAMES[0], val, unit);
	if (num > 1) {
		snprintf(val, sizeof(val), "%.*f", dec, v[1]);
		printf(" (%s: %s %s)", SIZE_NAMES[1], val, unit);
	}
	printf(" | ");
	if (num > 1) {
		printf("%.2f", v[num - 1] / v[0]);
		if (num > 2)
			printf(" (vs %s: %.2f)", SIZE_NAMES[1], v[num - 1] / v[1]);
	}
	printf(" |\n");
}

int main(int argc, char **argv)
{
	const char *build = argc > 1 ? argv[1] : "build";
	struct point pts[NUM_SIZES];
	struct builder bd;
	struct store *st;
	uint64_t *ns = calloc(PROOFS, sizeof(*ns)), t_start, cap = UINT64_MAX;
	int num = 0;
	double v[NUM_SIZES] = {0};

	if (getenv("MN_BENCH_SCALE_MAX") != NULL)
		cap = strtoull(getenv("MN_BENCH_SCALE_MAX"), NULL, 10);
	if (getenv("MN_BENCH_SCALE_BATCH") != NULL)
		batch = strtoul(getenv("MN_BENCH_SCALE_BATCH"), NULL, 10);
	if (batch == 0 || batch > MAX_BATCH)
		batch = MAX_BATCH;
	struct ct_signer *key;

	load_init("bench_scale", WATCHDOG_S);
	snprintf(dir, sizeof(dir), "%s/bench-scale", build);
	snprintf(work, sizeof(work), "%s/bench-scale-work", build);
	snprintf(key_path, sizeof(key_path), "%s/log-key.pem", work);
	rm_rf(dir);
	rm_rf(work);
	if (mkdir(work, 0700) != 0 || logd_key_load(&key, key_path, 1) != 0)
		die("making the log key", MN_EIO);
	signer = key;
	setenv("MN_BUILD", build, 1);
	memset(&bd, 0, sizeof(bd));
	bd.h = merkle_hasher_new();
	bd.ls = calloc(MAX_BATCH, sizeof(*bd.ls));
	bd.bufs = calloc(MAX_BATCH, sizeof(*bd.bufs));
	if (ns == NULL || bd.h == NULL || bd.ls == NULL || bd.bufs == NULL)
		die("allocation", MN_ENOMEM);
	merkle_range_init(&bd.range);
	st = open_store(NULL);
	t_start = mn_mono_ns();
	for (int i = 0; i < NUM_SIZES && SIZES[i] <= cap; i++) {
		struct point *pt = &pts[num++];
		double best = 1e30;

		memset(pt, 0, sizeof(*pt));
		pt->n = SIZES[i];
		grow(&bd, st, pt->n);
		pt->build_s = (double)(bd.hash_ns + bd.store_ns) / 1e9;
		fprintf(stderr, "bench_scale: %s leaves built, %.1f s (hashing %.1f s, "
			"store_append_batch %.1f s)\n", SIZE_NAMES[i], pt->build_s,
			(double)bd.hash_ns / 1e9, (double)bd.store_ns / 1e9);
		measure_proofs(st, pt, ns);
		measure_entries(st, pt);
		measure_disk(st, pt);
		pt->rss_mb = status_mb("VmRSS");
		pt->hwm_mb = status_mb("VmHWM");
		pt->anon_mb = status_mb("RssAnon");
		measure_touch(pt, ns); /* its own mapping: after the RSS figures */
		for (int o = 0; o < OPENS; o++) {
			double ms;

			store_close(st);
			st = open_store(&ms);
			if (ms < best)
				best = ms;
		}
		pt->open_ms = best;
		{
			uint8_t root[MERKLE_HASH_LEN];

			merkle_range_root(&bd.range, bd.h, root);
			store_close(st);
			measure_http(pt, bd.h, root);
			st = open_store(NULL);
		}
		fprintf(stderr, "bench_scale: %s: proof p50 %.2f p99 %.2f us (%.2f minor "
			"faults/proof), consistency p50 %.2f p99 %.2f us, %.0f entries/s, "
			"%.1f B/entry on disk, RSS %.0f MB (HWM %.0f, anon %.1f), open %.2f "
			"ms\n", SIZE_NAMES[i], pt->incl_p50_us, pt->incl_p99_us,
			pt->incl_minflt, pt->cons_p50_us, pt->cons_p99_us, pt->entries_per_s,
			pt->file_bpe, pt->rss_mb, pt->hwm_mb, pt->anon_mb, pt->open_ms);
	}
	fprintf(stderr, "bench_scale: whole run %.0f s\n",
		(double)(mn_mono_ns() - t_start) / 1e9);
	write_dat(build, pts, num);

#define SERIES(field)                          \
	do {                                   \
		for (int i = 0; i < num; i++)  \
			v[i] = pts[i].field;   \
	} while (0)
	SERIES(incl_p50_us);
	row("inclusion proof p50 (read_begin + proof + read_end)", "us", 2, v, num);
	SERIES(incl_p99_us);
	row("inclusion proof p99", "us", 2, v, num);
	SERIES(touch_p50_us);
	row("floor: one read of a random byte of data.mdb's mapping, p50", "us", 2, v, num);
	SERIES(cons_p50_us);
	row("consistency proof p50 (random size1, size2 = n)", "us", 2, v, num);
	SERIES(entries_per_s);
	row("get-entries, store_r_entries of 256 at random starts", "entries/s", 0, v,
	    num);
	SERIES(proof_cpu_us);
	row("served get-proof-by-hash (random leaves), logd CPU per request, wrk -t2 -c64",
	    "us", 1, v, num);
	SERIES(proof_rps);
	row("served get-proof-by-hash, wrk -t2 -c64 (logd and wrk share the 2 cores)",
	    "req/s", 0, v, num);
	SERIES(entries_rps);
	for (int i = 0; i < num; i++)
		v[i] *= ENTRY_BATCH;
	row("served get-entries (256 at random starts), wrk -t2 -c64", "entries/s", 0, v,
	    num);
	SERIES(entries_cpu_us);
	row("served get-entries, logd CPU per request of 256", "us", 0, v, num);
	SERIES(logd_anon_mb);
	row("logd RssAnon (own memory) after serving", "MB", 1, v, num);
	SERIES(file_bpe);
	for (int i = 0; i < num; i++)
		v[i] -= LEAF_BYTES;
	row("data.mdb bytes per entry beyond the " "100" "-byte leaf (no extra, no SCT)",
	    "B", 0, v, num);
	SERIES(rss_mb);
	row("process VmRSS (counts mapped LMDB pages touched)", "MB", 0, v, num);
	SERIES(anon_mb);
	row("process RssAnon (own memory, not the map)", "MB", 1, v, num);
	SERIES(open_ms);
	row("store_open incl. consistency check (warm page cache)", "ms", 2, v, num);
	if (num > 0)
		printf("| scale: building %s entries, batches of %zu, no_sync | %.0f s "
		       "(%.0f entries/s; hashing %.0f%%) | | |\n",
		       SIZE_NAMES[num - 1], batch, pts[num - 1].build_s,
		       (double)pts[num - 1].n / pts[num - 1].build_s,
		       100.0 * (double)bd.hash_ns / (double)(bd.hash_ns + bd.store_ns));
	store_close(st);
	if (getenv("MN_BENCH_SCALE_KEEP") == NULL) {
		rm_rf(dir);
		rm_rf(work);
	}
	ct_signer_free(key);
	merkle_hasher_free(bd.h);
	free(bd.ls);
	free(bd.bufs);
	free(ns);
	return 0;
}
