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
 *     check of state, STH, leaves and right-edge tree hashes).
 * The series goes to BUILD/bench-scale.dat; bench/scale.gp draws
 * bench/scale.png from it (when gnuplot is installed). Markdown rows go to
 * stdout, progress to stderr. MN_BENCH_SCALE_MAX (e.g. 100000) caps the sizes
 * for a quick run; MN_BENCH_SCALE_KEEP=1 keeps the log for mdb_stat or perf. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
#include "merkle/merkle.h"
#include "storage/storage.h"

#define LEAF_BYTES 100
#define MAX_BATCH 100000
#define PROOFS 20000
#define ENTRY_READS 2000
#define ENTRY_BATCH 256
#define OPENS 3
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
};

static char dir[512];
static size_t batch = 100000;

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
		sth.timestamp = 1700000000000ull + bd->range.size;
		merkle_range_root(&bd->range, bd->h, sth.root);
		sth.sig_len = 1;
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
		   "anon_mb open_ms incl_minflt_per_proof\n");
	for (int i = 0; i < num; i++)
		fprintf(f, "%" PRIu64 " %.2f %.3f %.3f %.3f %.3f %.0f %.1f %.1f %.1f %.1f %.1f "
			   "%.3f %.3f\n",
			pts[i].n, pts[i].build_s, pts[i].incl_p50_us, pts[i].incl_p99_us,
			pts[i].cons_p50_us, pts[i].cons_p99_us, pts[i].entries_per_s,
			pts[i].file_bpe, pts[i].used_bpe, pts[i].rss_mb, pts[i].hwm_mb,
			pts[i].anon_mb, pts[i].open_ms, pts[i].incl_minflt);
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
	snprintf(dir, sizeof(dir), "%s/bench-scale", build);
	rm_rf(dir);
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
		for (int o = 0; o < OPENS; o++) {
			double ms;

			store_close(st);
			st = open_store(&ms);
			if (ms < best)
				best = ms;
		}
		pt->open_ms = best;
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
	SERIES(cons_p50_us);
	row("consistency proof p50 (random size1, size2 = n)", "us", 2, v, num);
	SERIES(entries_per_s);
	row("get-entries, store_r_entries of 256 at random starts", "entries/s", 0, v,
	    num);
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
	if (getenv("MN_BENCH_SCALE_KEEP") == NULL)
		rm_rf(dir);
	merkle_hasher_free(bd.h);
	free(bd.ls);
	free(bd.bufs);
	free(ns);
	return 0;
}
