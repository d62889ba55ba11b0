/* bench_store.c: the durable write path against raw LMDB, and proof cost as the
 * tree grows (issue 3).
 *
 *  (a) sequenced appends/s: 1.2 KB leaves submitted continuously by 4 threads
 *      (4096 in flight) through the real sequencer, durable commits;
 *  (b) ceiling: a raw LMDB loop appending the same records (leaf + extra + SCT
 *      sized values, plus the 32-byte leaf-hash and dedup index entries) with
 *      MDB_APPEND where the key order allows it, in
 *      transactions of the same average size, durable;
 *  (c) bytes on disk per entry (inclusion-proof time and bytes per entry
 *      against tree size, 10^4 .. 10^7, are measured by bench_scale).
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

#include <openssl/rand.h>

#include "common/clock.h"
#include "common/err.h"
#include "logd/keys.h"
#include "logd/sequencer.h"
#include "merkle/merkle.h"
#include "storage/storage.h"

#define LEAF_BYTES 1200
#define IN_FLIGHT 4096
#define SEQ_SECONDS 8

static char base[512];

static void rm_rf(const char *d)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", d);
}

struct bsub {
	struct api_submission s;
	uint8_t body[LEAF_BYTES];
	uint8_t extra[64];
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static uint64_t completed, in_flight, failed;
static int stop_submitting;
static struct seq *the_seq;
static uint64_t next_id;

static void fill(struct bsub *b)
{
	uint64_t id;
	pthread_mutex_lock(&mu);
	id = next_id++;
	pthread_mutex_unlock(&mu);
	memcpy(b->body, &id, sizeof(id));
	memcpy(b->s.dedup_key, &id, sizeof(id));
	memset(b->s.dedup_key + 8, 0x5a, 24);
	b->s.entry.entry_type = 0;
	b->s.entry.body = b->body;
	b->s.entry.body_len = sizeof(b->body);
	b->s.extra = b->extra;
	b->s.extra_len = sizeof(b->extra);
}

static void on_done(struct api_submission *s, int status, const uint8_t *sct, size_t len,
		    uint64_t index)
{
	(void)sct;
	(void)len;
	(void)index;
	pthread_mutex_lock(&mu);
	completed++;
	if (status != 0)
		failed++;
	in_flight--;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	free(s);
}

static void *submitter(void *arg)
{
	(void)arg;
	for (;;) {
		struct bsub *b;
		pthread_mutex_lock(&mu);
		while (in_flight >= IN_FLIGHT / 4 * 4 && !stop_submitting)
			pthread_cond_wait(&cv, &mu);
		if (stop_submitting) {
			pthread_mutex_unlock(&mu);
			return NULL;
		}
		in_flight++;
		pthread_mutex_unlock(&mu);
		b = calloc(1, sizeof(*b));
		memset(b->body, 0x42, sizeof(b->body));
		fill(b);
		b->s.done = on_done;
		while (seq_submit(the_seq, &b->s) == MN_EBUSY)
			sched_yield();
	}
}

/* metric finds the sample line "\nNAME VALUE" (not the # TYPE line). */
static uint64_t metric(const char *text, const char *name)
{
	char pat[128];
	const char *p;

	snprintf(pat, sizeof(pat), "\n%s ", name);
	p = strstr(text, pat);
	if (p == NULL)
		return 0;
	return strtoull(p + strlen(pat), NULL, 10);
}

static uint64_t cpu_ns(clockid_t c)
{
	struct timespec ts;

	if (clock_gettime(c, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CPU time per append in the measured window: all threads, and the part of
 * it spent on the submitting threads (encode, SCT signature, leaf hash). */
static double cpu_us_all, cpu_us_submit, raw_cpu_us;

/* (a): returns appends/s and the average batch size */
static double bench_sequencer(double *out_batch, double *out_bytes_per_entry)
{
	char dir[600], key[700], text[8192];
	struct store_options so = {0};
	struct store *st;
	struct ct_signer *signer;
	pthread_t th[4];
	uint64_t t0, t1, c0, c1, b0, b1, p0, p1, s0 = 0, s1 = 0;
	clockid_t clk[4];
	struct store_stats ss;

	snprintf(dir, sizeof(dir), "%s/seq", base);
	snprintf(key, sizeof(key), "%s/key.pem", base);
	so.dir = dir;
	if (store_open(&st, &so) != 0 || logd_key_load(&signer, key, 1) != 0 ||
	    seq_start(&the_seq, st, signer, NULL) != 0) {
		fprintf(stderr, "bench_store: setup failed\n");
		exit(1);
	}
	for (int i = 0; i < 4; i++) {
		pthread_create(&th[i], NULL, submitter, NULL);
		pthread_getcpuclockid(th[i], &clk[i]);
	}
	/* warm up one second, then measure */
	t0 = mn_mono_ns();
	while (mn_mono_ns() - t0 < 1000000000ull)
		usleep(10000);
	seq_metrics(the_seq, text, sizeof(text));
	b0 = metric(text, "mn_sequencer_batches_total");
	pthread_mutex_lock(&mu);
	c0 = completed;
	pthread_mutex_unlock(&mu);
	p0 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
	for (int i = 0; i < 4; i++)
		s0 += cpu_ns(clk[i]);
	t0 = mn_mono_ns();
	while (mn_mono_ns() - t0 < SEQ_SECONDS * 1000000000ull)
		usleep(10000);
	t1 = mn_mono_ns();
	p1 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
	for (int i = 0; i < 4; i++)
		s1 += cpu_ns(clk[i]);
	pthread_mutex_lock(&mu);
	c1 = completed;
	stop_submitting = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	seq_metrics(the_seq, text, sizeof(text));
	b1 = metric(text, "mn_sequencer_batches_total");
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	seq_stop(the_seq);
	store_get_stats(st, &ss);
	*out_bytes_per_entry = ss.tree_size ? (double)ss.used_bytes / (double)ss.tree_size : 0;
	store_close(st);
	ct_signer_free(signer);
	if (failed)
		fprintf(stderr, "bench_store: %" PRIu64 " submissions failed\n", failed);
	*out_batch = b1 > b0 ? (double)(c1 - c0) / (double)(b1 - b0) : 0;
	if (c1 > c0) {
		cpu_us_all = (double)(p1 - p0) / 1e3 / (double)(c1 - c0);
		cpu_us_submit = (double)(s1 - s0) / 1e3 / (double)(c1 - c0);
	}
	return (double)(c1 - c0) / ((double)(t1 - t0) / 1e9);
}

/* (b): raw LMDB with the same record sizes and commit sizes */
static double bench_raw(size_t batch, uint64_t n)
{
	char dir[600];
	MDB_env *env;
	MDB_dbi leaves, extra, hashes, dedup;
	MDB_txn *txn;
	uint8_t leaf[LEAF_BYTES + 16], ex[64 + 3 + 2 + 120], key[8], hk[32], dk[32];
	uint64_t i = 0, t0, c0;

	snprintf(dir, sizeof(dir), "%s/raw", base);
	mkdir(dir, 0700);
	memset(leaf, 0x42, sizeof(leaf));
	memset(ex, 0x17, sizeof(ex));
	if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 8) ||
	    mdb_env_set_mapsize(env, 1ull << 34) || mdb_env_open(env, dir, 0, 0600)) {
		fprintf(stderr, "bench_store: raw lmdb setup failed\n");
		exit(1);
	}
	mdb_txn_begin(env, NULL, 0, &txn);
	mdb_dbi_open(txn, "leaves", MDB_CREATE, &leaves);
	mdb_dbi_open(txn, "extra", MDB_CREATE, &extra);
	mdb_dbi_open(txn, "hashes", MDB_CREATE, &hashes);
	mdb_dbi_open(txn, "dedup", MDB_CREATE, &dedup);
	mdb_txn_commit(txn);
	t0 = mn_mono_ns();
	c0 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
	while (i < n) {
		mdb_txn_begin(env, NULL, 0, &txn);
		for (size_t j = 0; j < batch && i < n; j++, i++) {
			MDB_val k = {8, key}, v = {sizeof(leaf), leaf}, e = {sizeof(ex), ex};
			MDB_val hkv = {32, hk}, iv = {8, key}, dkv = {32, dk};
			for (int b = 7; b >= 0; b--)
				key[7 - b] = (uint8_t)(i >> (8 * b));
			RAND_bytes(hk, sizeof(hk));
			RAND_bytes(dk, sizeof(dk));
			memcpy(leaf, key, 8);
			if (mdb_put(txn, leaves, &k, &v, MDB_APPEND) ||
			    mdb_put(txn, extra, &k, &e, MDB_APPEND) ||
			    mdb_put(txn, hashes, &hkv, &iv, 0) ||
			    mdb_put(txn, dedup, &dkv, &iv, 0)) {
				fprintf(stderr, "bench_store: raw put failed\n");
				exit(1);
			}
		}
		mdb_txn_commit(txn);
	}
	{
		double r = (double)n / ((double)(mn_mono_ns() - t0) / 1e9);
		raw_cpu_us = (double)(cpu_ns(CLOCK_THREAD_CPUTIME_ID) - c0) / 1e3 / (double)n;
		mdb_env_close(env);
		return r;
	}
}

int main(int argc, char **argv)
{
	double seq_rate, batch, raw_rate, bpe;

	snprintf(base, sizeof(base), "%s/bench-store", argc > 1 ? argv[1] : "build");
	rm_rf(base);
	mkdir(base, 0700);
	seq_rate = bench_sequencer(&batch, &bpe);
	raw_rate = bench_raw(batch < 1 ? 1 : (size_t)(batch + 0.5),
			     (uint64_t)(seq_rate * 3 > 20000 ? seq_rate * 3 : 20000));
	printf("| sequenced durable appends, 1.2 KB leaves (4 threads, %d in flight; avg batch %.0f) "
	       "| %.0f /s | raw LMDB MDB_APPEND, same records and commit size: %.0f /s | %.2f |\n",
	       IN_FLIGHT, batch, seq_rate, raw_rate, seq_rate / raw_rate);
	printf("| CPU per append (all threads; submitters' share) | %.1f us; %.1f us | raw loop: %.1f us | |\n",
	       cpu_us_all, cpu_us_submit, raw_cpu_us);
	printf("| store bytes per 1.2 KB entry, all databases | %.0f B | leaf + extra + SCT ~ %d B | |\n",
	       bpe, LEAF_BYTES + 80 + 64 + 120);
	/* Proof cost against tree size (10^4 .. 10^7) is bench_scale's. */
	rm_rf(base);
	return 0;
}
