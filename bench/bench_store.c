/* bench_store.c: the durable write path against raw LMDB, and proof cost as the
 * tree grows (issue 3).
 *
 *  (a) sequenced appends/s: 1.2 KB leaves submitted continuously by 4 threads
 *      (4096 in flight, pre-allocated; each completion wakes only its own
 *      submitter) through the real sequencer, durable commits. Only status-0
 *      completions count, and at the end their total must equal the tree size.
 *      Dedup keys are spread like the SHA-256 keys the API computes.
 *      Two log formats, run alternately (RUNS rounds of each, on fresh stores)
 *      so that both see the same machine: the RFC 6962 format, whose SCTs the
 *      submitting threads sign before sequencing (the reference), and the
 *      static-ct-api format (leaf_index SCTs, the default for a new log),
 *      whose SCTs the sequencer's signing threads sign after each commit. The
 *      ratio of the two is issue 14's target (>= 0.9). The rows below (b) and
 *      (c) are the reference format's, as before.
 *  (b) ceiling: a raw LMDB loop appending the same records (a leaf and an
 *      extra+SCT sized value under MDB_APPEND; the 8-byte prefix of a random
 *      leaf hash in a sorted-duplicates database and a random 32-byte dedup
 *      key, each mapped to the index: storage/internal.h's layout) in
 *      transactions of (a)'s average size, durable. It appends exactly the indexes (a) appended in
 *      its measured window (the ones before are appended untimed first), and it
 *      inserts each commit's hash keys in key order, as store_append_batch
 *      does. Both matter: random inserts cost more in a bigger tree (they dirty
 *      more distinct pages per commit), so a ceiling run on a smaller tree than
 *      (a)'s measures cheaper work; and sorting is a technique our path uses,
 *      so the ceiling uses it too.
 *      The ceiling as defined before (unsorted keys, from an empty store, 3x
 *      (a)'s rate in appends) is printed on the next line, from the same run.
 *  (c) CPU per append (all threads, and the submitting threads' share: leaf
 *      encoding, SCT signature, leaf hash), bytes written per append for (a)
 *      and (b) (from /proc/self/io: they should be close, since both write the
 *      same records), and bytes on disk per entry. Inclusion-proof time and
 *      bytes per entry against tree size, 10^4 .. 10^7, are bench_scale's.
 *
 * The raw loop is the one place outside storage/ that includes lmdb.h: it is
 * the ceiling, so it must not go through our code. Data lives under BUILD/. */
#include <inttypes.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>


#include "bench/lib/seqload.h"
#include "bench/lib/seqstat.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/prom.h"
#include "logd/keys.h"
#include "logd/sequencer.h"
#include "merkle/merkle.h"
#include "storage/storage.h"

#define LEAF_BYTES 1200
#define SEQ_SECONDS 8
#define RUNS 5

static char base[512];

static void rm_rf(const char *d)
{
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", d);
}

/* The submitting threads: bench/lib/seqload.h (1.2 KB leaves, 4096 in
 * flight, only status-0 completions counted). */
static uint8_t the_extra[64];


struct seq_run {
	double rate;        /* durable appends/s in the window */
	double batch;       /* average batch size in the window */
	double cpu_us;      /* CPU per append, all threads */
	double cpu_us_sub;  /* of which on the submitting threads (encode, sign, hash) */
	double wbytes;      /* bytes written per append */
	double bytes_per_entry; /* store size / tree size at the end */
	uint64_t start;     /* tree size when the window opened */
	uint64_t n;         /* appends completed in the window */
};

/* (a): the sequencer under continuous submission; a warm-up second, then a
 * SEQ_SECONDS window. |leaf_index|: a log of the static-ct-api format. */
static struct seq_run bench_sequencer(int leaf_index)
{
	char dir[600], key[700];
	struct store_options so = {0};
	struct store *st;
	struct ct_signer *signer;
	uint64_t total, failed;
	struct seq_window win;
	struct store_stats ss;
	struct seq_run r;
	struct seq *the_seq;
	struct seqload *ld;
	struct seqload_options lo = {0};

	memset(&r, 0, sizeof(r));
	snprintf(dir, sizeof(dir), "%s/seq", base);
	snprintf(key, sizeof(key), "%s/key.pem", base);
	rm_rf(dir);
	so.dir = dir;
	so.no_leaf_index = !leaf_index;
	if (store_open(&st, &so) != 0 || logd_key_load(&signer, key, 1) != 0 ||
	    (store_format(st) & STORE_FMT_LEAF_INDEX) != (leaf_index ? STORE_FMT_LEAF_INDEX : 0) ||
	    seq_start(&the_seq, st, signer, NULL) != 0) {
		fprintf(stderr, "bench_store: setup failed\n");
		exit(1);
	}
	lo.seq = seq_api(the_seq);
	lo.body_len = LEAF_BYTES;
	lo.extra = the_extra;
	lo.extra_len = sizeof(the_extra);
	ld = seqload_start(&lo);
	bench_seq_window(the_seq, ld, SEQ_SECONDS, &win);
	seqload_stop(ld);
	seq_stop(the_seq); /* commits and answers what is still queued */
	store_get_stats(st, &ss);
	store_close(st);
	ct_signer_free(signer);
	total = seqload_completed(ld, &failed);
	seqload_free(ld);
	/* Every counted completion is a leaf in the tree, and nothing failed. */
	if (failed != 0 || total != ss.tree_size || win.appends == 0) {
		fprintf(stderr, "bench_store: %" PRIu64 " submissions failed, %" PRIu64
			" completed, tree size %" PRIu64 "\n", failed, total, ss.tree_size);
		exit(1);
	}
	r.rate = (double)win.appends / ((double)win.ns / 1e9);
	r.batch = win.batches > 0 ? (double)win.appends / (double)win.batches : 0;
	r.cpu_us = (double)win.proc_cpu_ns / 1e3 / (double)win.appends;
	r.cpu_us_sub = (double)win.submit_cpu_ns / 1e3 / (double)win.appends;
	r.wbytes = (double)win.wbytes / (double)win.appends;
	r.bytes_per_entry = (double)ss.used_bytes / (double)ss.tree_size;
	r.start = win.first;
	r.n = win.appends;
	return r;
}

/* (b): raw LMDB, the same records and commit sizes. A 32-byte index key and
 * the big-endian index it maps to. */
struct raw_key {
	uint8_t key[32];
	uint8_t index[8];
};

static int raw_key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

/* random_key fills a key from splitmix64: random-looking like SHA-256 output,
 * and cheaper than RAND_bytes so that the ceiling spends its time in LMDB. */
static void random_key(uint8_t key[32])
{
	static uint64_t state = 0x5eed;

	for (int i = 0; i < 4; i++) {
		uint64_t z = (state += 0x9e3779b97f4a7c15ull);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		z ^= z >> 31;
		memcpy(key + 8 * i, &z, sizeof(z));
	}
}

struct raw_run {
	double rate;       /* appends/s */
	double cpu_us;     /* CPU per append */
	double wbytes;     /* bytes written per append */
};

/* raw_append appends indexes [from, to) in commits of |batch| leaves, the
 * records store_append_batch writes (storage/internal.h): a leaf and an
 * extra+SCT sized value under MDB_APPEND, the first 8 bytes of a random leaf
 * hash mapped to the index (a sorted-duplicates database, as "leafhash8") and
 * a random 32-byte dedup key mapped to the index (random: what SHA-256 keys
 * look like to the B-tree); with |sorted|, each commit's hash keys go in in
 * key order, as store_append_batch does. */
static void raw_append(MDB_env *env, const MDB_dbi dbi[4], size_t batch, int sorted,
		       uint64_t from, uint64_t to, struct raw_key *hk, struct raw_key *dk)
{
	uint8_t leaf[LEAF_BYTES + 17], ex[64 + 3 + 2 + 120];
	uint64_t i = from;

	memset(leaf, 0x42, sizeof(leaf));
	memset(ex, 0x17, sizeof(ex));
	while (i < to) {
		MDB_txn *txn;
		size_t num = to - i < batch ? (size_t)(to - i) : batch;

		if (mdb_txn_begin(env, NULL, 0, &txn) != 0)
			goto fail;
		for (size_t j = 0; j < num; j++) {
			MDB_val k = {8, hk[j].index}, v = {sizeof(leaf), leaf};
			MDB_val e = {sizeof(ex), ex};

			mn_put_be64(hk[j].index, i + j);
			memcpy(dk[j].index, hk[j].index, 8);
			random_key(hk[j].key);
			random_key(dk[j].key);
			memcpy(leaf, hk[j].index, 8);
			if (mdb_put(txn, dbi[0], &k, &v, MDB_APPEND) ||
			    mdb_put(txn, dbi[1], &k, &e, MDB_APPEND))
				goto fail;
		}
		if (sorted) {
			qsort(hk, num, sizeof(*hk), raw_key_cmp);
			qsort(dk, num, sizeof(*dk), raw_key_cmp);
		}
		for (size_t j = 0; j < num; j++) {
			MDB_val hkv = {8, hk[j].key}, hiv = {8, hk[j].index};
			MDB_val dkv = {32, dk[j].key}, div = {8, dk[j].index};

			if (mdb_put(txn, dbi[2], &hkv, &hiv, MDB_NOOVERWRITE) ||
			    mdb_put(txn, dbi[3], &dkv, &div, MDB_NOOVERWRITE))
				goto fail;
		}
		if (mdb_txn_commit(txn) != 0)
			goto fail;
		i += num;
	}
	return;
fail:
	fprintf(stderr, "bench_store: raw lmdb append failed\n");
	exit(1);
}

/* bench_raw appends |skip| leaves untimed, then times |n| more. */
static struct raw_run bench_raw(const char *name, size_t batch, int sorted, uint64_t skip,
				uint64_t n)
{
	char dir[600];
	MDB_env *env;
	MDB_dbi dbi[4];
	MDB_txn *txn;
	struct raw_key *hk = calloc(batch, sizeof(*hk)), *dk = calloc(batch, sizeof(*dk));
	struct raw_run r;
	uint64_t t0, c0, w0;
	static const char *const names[4] = {"leaves", "extra", "leafhash8", "dedup"};
	static const unsigned flags[4] = {0, 0, MDB_DUPSORT | MDB_DUPFIXED, 0};

	snprintf(dir, sizeof(dir), "%s/%s", base, name);
	mkdir(dir, 0700);
	if (hk == NULL || dk == NULL || mdb_env_create(&env) || mdb_env_set_maxdbs(env, 8) ||
	    mdb_env_set_mapsize(env, 1ull << 36) || mdb_env_open(env, dir, 0, 0600) ||
	    mdb_txn_begin(env, NULL, 0, &txn)) {
		fprintf(stderr, "bench_store: raw lmdb setup failed\n");
		exit(1);
	}
	for (int d = 0; d < 4; d++)
		if (mdb_dbi_open(txn, names[d], MDB_CREATE | flags[d], &dbi[d]) != 0) {
			fprintf(stderr, "bench_store: raw lmdb setup failed\n");
			exit(1);
		}
	mdb_txn_commit(txn);
	raw_append(env, dbi, batch, sorted, 0, skip, hk, dk);
	t0 = mn_mono_ns();
	c0 = bench_cpu_ns(CLOCK_THREAD_CPUTIME_ID);
	w0 = bench_wchar();
	raw_append(env, dbi, batch, sorted, skip, skip + n, hk, dk);
	r.rate = (double)n / ((double)(mn_mono_ns() - t0) / 1e9);
	r.cpu_us = (double)(bench_cpu_ns(CLOCK_THREAD_CPUTIME_ID) - c0) / 1e3 / (double)n;
	r.wbytes = (double)(bench_wchar() - w0) / (double)n;
	mdb_env_close(env);
	free(hk);
	free(dk);
	rm_rf(dir);
	return r;
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

int main(int argc, char **argv)
{
	struct seq_run a, runs[2][RUNS];
	struct raw_run b, old;
	double rates[2][RUNS], med[2], cpu[2] = {0, 0}, sub[2] = {0, 0};
	size_t batch;

	snprintf(base, sizeof(base), "%s/bench-store", argc > 1 ? argv[1] : "build");
	rm_rf(base);
	mkdir(base, 0700);
	/* reference and leaf_index alternately, RUNS rounds. For a profile of
	 * one of them: BENCH_STORE_ONLY=rfc6962 or leaf_index runs just that
	 * one, once, and prints its row. */
	if (getenv("BENCH_STORE_ONLY") != NULL) {
		int m = strcmp(getenv("BENCH_STORE_ONLY"), "leaf_index") == 0;
		a = bench_sequencer(m);
		printf("| sequenced durable appends, %s only (avg batch %.0f) | %.0f /s | CPU "
		       "%.1f us (submitters %.1f us) | |\n", m ? "leaf_index" : "rfc6962", a.batch,
		       a.rate, a.cpu_us, a.cpu_us_sub);
		rm_rf(base);
		return 0;
	}
	for (int r = 0; r < RUNS; r++)
		for (int m = 0; m < 2; m++) {
			runs[m][r] = bench_sequencer(m);
			rates[m][r] = runs[m][r].rate;
			cpu[m] += runs[m][r].cpu_us / RUNS;
			sub[m] += runs[m][r].cpu_us_sub / RUNS;
		}
	for (int m = 0; m < 2; m++) {
		qsort(rates[m], RUNS, sizeof(double), cmp_double);
		med[m] = rates[m][RUNS / 2];
	}
	printf("| sequenced durable appends, leaf_index SCTs signed after the commit (median of "
	       "%d, alternating) | %.0f /s | SCTs signed before sequencing (RFC 6962 format, the "
	       "reference), same run: %.0f /s | %.2f |\n", RUNS, med[1], med[0], med[1] / med[0]);
	printf("| (those runs, in order: reference / leaf_index) |");
	for (int r = 0; r < RUNS; r++)
		printf(" %.0f / %.0f%s", runs[0][r].rate, runs[1][r].rate, r + 1 < RUNS ? "," : "");
	printf(" | | |\n");
	printf("| CPU per sequenced append, all threads: leaf_index (its submitters' share) | "
	       "%.1f us (%.1f us) | reference: %.1f us (%.1f us) | |\n", cpu[1], sub[1], cpu[0],
	       sub[0]);
	/* the rows below are the reference's, from its median run */
	a = runs[0][0];
	for (int r = 0; r < RUNS; r++)
		if (runs[0][r].rate == med[0])
			a = runs[0][r];
	batch = a.batch < 1 ? 1 : (size_t)(a.batch + 0.5);
	/* the ceiling appends exactly the indexes (a) appended in its window */
	b = bench_raw("raw", batch, 1, a.start, a.n);
	/* the ceiling as measured before (for comparison with older results) */
	old = bench_raw("raw-old", batch, 0, 0, a.n * 3 / 8 > 20000 ? a.n * 3 / 8 : 20000);
	printf("| sequenced durable appends, 1.2 KB leaves (4 threads, %d in flight; avg batch %.0f) "
	       "| %.0f /s | raw LMDB, same records, indexes and commit size: %.0f /s | %.2f |\n",
	       SEQLOAD_IN_FLIGHT, a.batch, a.rate, b.rate, a.rate / b.rate);
	printf("| (same run) the raw ceiling as defined before: unsorted keys, from an empty "
	       "store | | %.0f /s | %.2f |\n", old.rate, a.rate / old.rate);
	printf("| CPU per sequenced append, all threads (submitters' share) | %.1f us (%.1f us) "
	       "| raw loop: %.1f us | |\n", a.cpu_us, a.cpu_us_sub, b.cpu_us);
	printf("| bytes written per append | %.0f B | raw loop: %.0f B | |\n", a.wbytes,
	       b.wbytes);
	printf("| store bytes per 1.2 KB entry, all databases | %.0f B | leaf + extra + SCT ~ %d B | |\n",
	       a.bytes_per_entry, LEAF_BYTES + 80 + 64 + 120);
	/* Proof cost against tree size (10^4 .. 10^7) is bench_scale's. */
	rm_rf(base);
	return 0;
}
