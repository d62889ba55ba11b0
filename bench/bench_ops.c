/* bench_ops.c: what the operations features cost (branch ops2).
 *
 *  (a) the trust set on the request path: a request that validates a chain
 *      takes the current set with api__trust_get / api__trust_put (two
 *      atomic increments and a decrement on one shared cache line, no lock).
 *      Reference in the same run: the lock a simpler design would take, one
 *      pthread mutex lock/unlock pair on a shared mutex, by as many threads.
 *      Both are tiny next to the validation they guard (tens of
 *      microseconds), so the ratio matters less than the absolute figure.
 *  (b) store_backup (LMDB's compacting copy in one read transaction) of a
 *      store of NUM_LEAVES 1.2 KB leaves, against the ceiling of copying the
 *      same data.mdb with read/write (a cp), in the same run; and the copy's
 *      size against the file's.
 * Data lives under BUILD/. Prints markdown table rows. */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "api/internal.h"
#include "common/clock.h"
#include "common/err.h"
#include "merkle/merkle.h"
#include "storage/storage.h"

#define NUM_THREADS 2
#define TRUST_NS 500000000ull
#define NUM_LEAVES 100000
#define BATCH 1000
#define LEAF_LEN 1200

/* --- (a) ------------------------------------------------------------------ */

static struct api *the_api;
static pthread_mutex_t shared_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int go;

struct worker {
	pthread_t th;
	int use_mutex;
	uint64_t ops, ns;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t t0, n = 0;
	volatile const void *sink;

	while (!atomic_load(&go))
		;
	t0 = mn_mono_ns();
	do {
		for (int i = 0; i < 1000; i++) {
			if (w->use_mutex) {
				pthread_mutex_lock(&shared_mu);
				sink = &shared_mu;
				pthread_mutex_unlock(&shared_mu);
			} else {
				unsigned slot;
				sink = api__trust_get(the_api, &slot);
				api__trust_put(the_api, slot);
			}
		}
		n += 1000;
	} while (mn_mono_ns() - t0 < TRUST_NS);
	(void)sink;
	w->ns = mn_mono_ns() - t0;
	w->ops = n;
	return NULL;
}

/* ns_per_op runs |threads| workers; returns the mean ns per operation per
 * thread. */
static double ns_per_op(int threads, int use_mutex)
{
	struct worker w[NUM_THREADS];
	double sum = 0;

	atomic_store(&go, 0);
	for (int i = 0; i < threads; i++) {
		w[i].use_mutex = use_mutex;
		if (pthread_create(&w[i].th, NULL, worker_main, &w[i]) != 0)
			exit(1);
	}
	atomic_store(&go, 1);
	for (int i = 0; i < threads; i++) {
		pthread_join(w[i].th, NULL);
		sum += (double)w[i].ns / (double)w[i].ops;
	}
	return sum / threads;
}

/* --- (b) ------------------------------------------------------------------ */

static void fill(struct store *st)
{
	static uint8_t leaf[BATCH][LEAF_LEN];
	static struct store_leaf l[BATCH];
	struct merkle_hasher *h = merkle_hasher_new();
	struct merkle_range r;
	struct store_sth sth;
	uint64_t n = 0;

	merkle_range_init(&r);
	while (n < NUM_LEAVES) {
		for (size_t i = 0; i < BATCH; i++, n++) {
			memset(&l[i], 0, sizeof(l[i]));
			for (size_t k = 0; k < LEAF_LEN; k += 8)
				memcpy(leaf[i] + k, &n, 8);
			leaf[i][LEAF_LEN - 1] = (uint8_t)i;
			l[i].leaf_input = leaf[i];
			l[i].leaf_input_len = LEAF_LEN;
			l[i].extra = leaf[i];
			l[i].extra_len = 16;
			l[i].sct = leaf[i];
			l[i].sct_len = 16;
			merkle_leaf_hash(h, l[i].leaf_hash, leaf[i], LEAF_LEN);
			merkle_sha256(h, l[i].dedup_key, l[i].leaf_hash, 32);
			merkle_range_append(&r, h, l[i].leaf_hash, NULL, NULL);
		}
		memset(&sth, 0, sizeof(sth));
		sth.tree_size = r.size;
		sth.timestamp = n;
		sth.sig_len = 8;
		merkle_range_root(&r, h, sth.root);
		if (store_append_batch(st, l, BATCH, &sth) != 0) {
			fprintf(stderr, "bench_ops: append failed\n");
			exit(1);
		}
	}
	merkle_hasher_free(h);
}

static uint64_t file_size(const char *p)
{
	struct stat s;

	return stat(p, &s) == 0 ? (uint64_t)s.st_size : 0;
}

/* plain_copy copies |from| to |to| with read/write and fsyncs it. */
static void plain_copy(const char *from, const char *to)
{
	static char buf[1 << 20];
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ssize_t n;

	if (in < 0 || out < 0)
		exit(1);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			exit(1);
	fsync(out);
	close(in);
	close(out);
}

int main(int argc, char **argv)
{
	const char *b = argc > 1 ? argv[1] : "build";
	char dir[512], dest[600], file[700], cmd[1400];
	struct api_config ac = {0};
	struct store_options so = {0};
	struct store *st;
	double t1, m1, t2, m2;
	uint64_t t0, backup_ns, cp_ns;

	the_api = api_new(&ac);
	if (the_api == NULL)
		return 1;
	t1 = ns_per_op(1, 0);
	m1 = ns_per_op(1, 1);
	t2 = ns_per_op(NUM_THREADS, 0);
	m2 = ns_per_op(NUM_THREADS, 1);
	api_free(the_api);
	printf("| ops2: trust set get+put per request, 1 thread | %.1f ns | mutex lock+unlock %.1f ns | %.2f |\n",
	       t1, m1, t1 / m1);
	printf("| ops2: trust set get+put per request, %d threads at once | %.1f ns | mutex lock+unlock %.1f ns | %.2f |\n",
	       NUM_THREADS, t2, m2, t2 / m2);

	snprintf(dir, sizeof(dir), "%s/bench-ops", b);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	snprintf(dest, sizeof(dest), "%s/copy", dir);
	so.dir = dir;
	so.no_sync = 1; /* filling only; the copies below are fsynced */
	if (store_open(&st, &so) != 0)
		return 1;
	fill(st);
	t0 = mn_mono_ns();
	if (store_backup(st, dest) != 0)
		return 1;
	backup_ns = mn_mono_ns() - t0;
	snprintf(file, sizeof(file), "%s/data.mdb", dir);
	snprintf(cmd, sizeof(cmd), "%s/plain.mdb", dir);
	t0 = mn_mono_ns();
	plain_copy(file, cmd);
	cp_ns = mn_mono_ns() - t0;
	store_close(st);
	{
		char cf[700];
		uint64_t fs = file_size(file), cs;
		snprintf(cf, sizeof(cf), "%s/data.mdb", dest);
		cs = file_size(cf);
		printf("| ops2: store_backup of %d leaves (%.0f MB file) | %.0f ms | cp + fsync %.0f ms | %.2f |\n",
		       NUM_LEAVES, (double)fs / 1e6, (double)backup_ns / 1e6, (double)cp_ns / 1e6,
		       (double)backup_ns / (double)cp_ns);
		printf("| ops2: backup size / data.mdb size | %.1f MB | %.1f MB | %.2f |\n",
		       (double)cs / 1e6, (double)fs / 1e6, (double)cs / (double)fs);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) != 0;
}
