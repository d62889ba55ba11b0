/* test_storage.c: storage/ against independent computations.
 *
 * Roots are checked against a naive RFC 6962 section 2.1 MTH built on
 * tests/lib/refmerkle (OpenSSL one-shot hashing, no merkle/ code) and, per
 * batch, against a compact range kept by the test; proofs are compared with
 * refmerkle's PATH/PROOF for small trees and verified with
 * merkle_verify_* for large ones. Every test works in its own mkdtemp
 * directory, removed at the end. Set MN_TEST_SEED to replay a run. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/bytes.h"
#include "common/err.h"
#include "merkle/merkle.h"
#include "storage/internal.h" /* lmdb.h, to damage a store by hand */
#include "storage/storage.h"
#include "tests/lib/refmerkle.h"

#define HL MERKLE_HASH_LEN

/* ---- helpers -------------------------------------------------------------- */

static uint64_t seed;

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rng_state;
static uint64_t rnd(uint64_t n) /* uniform-ish in [0, n) */
{
	return splitmix(&rng_state) % n;
}

static void rng_init(void)
{
	const char *e = getenv("MN_TEST_SEED");

	seed = e != NULL ? strtoull(e, NULL, 0) : (uint64_t)time(NULL) ^ (uint64_t)getpid();
	rng_state = seed;
	fprintf(stderr, "test_storage: MN_TEST_SEED=%" PRIu64 "\n", seed);
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void make_tmp(char dir[64])
{
	snprintf(dir, 64, "/tmp/mn-storage-XXXXXX");
	assert_non_null(mkdtemp(dir));
}

static void rm_tmp(const char *dir)
{
	chmod(dir, 0700);
	assert_int_equal(nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS), 0);
}

#define assert_err(got, want)                                                   \
	do {                                                                    \
		int got_ = (got), want_ = (want);                               \
		if (got_ != want_)                                              \
			fail_msg("%s: got %s, want %s", #got, mn_err_name(got_), \
				 mn_err_name(want_));                           \
	} while (0)

/* Deterministic leaf |idx|: leaf_input = be64(idx) || 0..56 bytes, extra 0..40
 * bytes, sct 1..20 bytes, all derived from (idx, variant). */
struct gen {
	uint8_t input[64];
	size_t input_len;
	uint8_t extra[40];
	size_t extra_len;
	uint8_t sct[20];
	size_t sct_len;
};

static void fill(uint64_t x, uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)splitmix(&x);
}

static void gen_leaf(struct gen *g, uint64_t idx, uint64_t variant)
{
	uint64_t x = idx * 7919 + variant * 104729;

	mn_put_be64(g->input, idx);
	g->input_len = 8 + splitmix(&x) % 57;
	fill(x + 1, g->input + 8, g->input_len - 8);
	g->extra_len = splitmix(&x) % 41;
	fill(x + 2, g->extra, g->extra_len);
	g->sct_len = 1 + splitmix(&x) % 20;
	fill(x + 3, g->sct, g->sct_len);
}

static void dedup_key(uint8_t out[32], uint64_t idx)
{
	memset(out, 0xd0, 32);
	mn_put_be64(out, idx);
}

/* make_leaves fills |leaves| (and |gens|, which they borrow) for indexes
 * [start, start + num). */
static void make_leaves(struct store_leaf *leaves, struct gen *gens, uint64_t start,
			size_t num, uint64_t variant)
{
	for (size_t i = 0; i < num; i++) {
		struct gen *g = &gens[i];
		struct store_leaf *l = &leaves[i];

		gen_leaf(g, start + i, variant);
		memset(l, 0, sizeof(*l));
		l->leaf_input = g->input;
		l->leaf_input_len = g->input_len;
		l->extra = g->extra;
		l->extra_len = g->extra_len;
		l->sct = g->sct;
		l->sct_len = g->sct_len;
		refmerkle_leaf_hash(l->leaf_hash, g->input, g->input_len);
		dedup_key(l->dedup_key, start + i);
	}
}

static void make_sth(struct store_sth *sth, uint64_t size, uint64_t ts,
		     const uint8_t root[HL])
{
	memset(sth, 0, sizeof(*sth));
	sth->tree_size = size;
	sth->timestamp = ts;
	memcpy(sth->root, root, HL);
	sth->sig_len = (uint16_t)(4 + size % 70); /* signing is another layer */
	fill(size ^ ts, sth->sig, sth->sig_len);
}

/* naive_mth: MTH(D[0:n]) from RFC 6962 section 2.1, recursively, n >= 1. */
static void naive_mth(const uint8_t (*lh)[HL], uint64_t n, uint8_t out[HL])
{
	uint8_t l[HL], r[HL];
	uint64_t k = 1;

	if (n == 1) {
		memcpy(out, lh[0], HL);
		return;
	}
	while (k << 1 < n)
		k <<= 1;
	naive_mth(lh, k, l);
	naive_mth(lh + k, n - k, r);
	refmerkle_node_hash(out, l, r);
}

static void check_entry(const struct store_entry *e, uint64_t idx, uint64_t variant)
{
	struct gen g;

	gen_leaf(&g, idx, variant);
	assert_int_equal(e->leaf_input_len, g.input_len);
	assert_memory_equal(e->leaf_input, g.input, g.input_len);
	assert_int_equal(e->extra_len, g.extra_len);
	if (g.extra_len > 0)
		assert_memory_equal(e->extra, g.extra, g.extra_len);
	assert_int_equal(e->sct_len, g.sct_len);
	assert_memory_equal(e->sct, g.sct, g.sct_len);
}

static uint64_t tree_size_of(struct store *s)
{
	struct merkle_range r;

	store_get_range(s, &r);
	return r.size;
}

/* A log built by the test: its leaf hashes and, per batch, the size and the
 * root the test computed on its own. */
struct model {
	uint8_t (*lh)[HL];
	uint64_t size, cap;
	uint64_t *sizes;
	uint8_t (*roots)[HL];
	size_t num_batches, batch_cap;
	struct merkle_range range; /* the test's own copy */
	uint64_t ts;
	uint64_t variant;
};

static void model_init(struct model *m, uint64_t cap, size_t batch_cap)
{
	memset(m, 0, sizeof(*m));
	m->lh = malloc(cap * HL);
	m->cap = cap;
	m->sizes = malloc(batch_cap * sizeof(*m->sizes));
	m->roots = malloc(batch_cap * HL);
	m->batch_cap = batch_cap;
	assert_non_null(m->lh);
	assert_non_null(m->sizes);
	assert_non_null(m->roots);
	merkle_range_init(&m->range);
	m->ts = 1000;
}

static void model_free(struct model *m)
{
	free(m->lh);
	free(m->sizes);
	free(m->roots);
}

/* model_append appends |num| generated leaves through store_append_batch and
 * returns its result; on success the model follows. */
static int model_append(struct model *m, struct store *s, struct merkle_hasher *h,
			size_t num)
{
	struct store_leaf *leaves = calloc(num ? num : 1, sizeof(*leaves));
	struct gen *gens = calloc(num ? num : 1, sizeof(*gens));
	struct merkle_range next = m->range;
	struct store_sth sth;
	uint8_t root[HL];
	int ret;

	assert_non_null(leaves);
	assert_non_null(gens);
	assert_true(m->size + num <= m->cap);
	make_leaves(leaves, gens, m->size, num, m->variant);
	for (size_t i = 0; i < num; i++)
		assert_int_equal(merkle_range_append(&next, h, leaves[i].leaf_hash, NULL,
						     NULL), 0);
	merkle_range_root(&next, h, root);
	make_sth(&sth, m->size + num, m->ts + 1, root);
	ret = store_append_batch(s, leaves, num, &sth);
	if (ret == 0) {
		for (size_t i = 0; i < num; i++)
			memcpy(m->lh[m->size + i], leaves[i].leaf_hash, HL);
		m->size += num;
		m->range = next;
		m->ts++;
		if (m->num_batches < m->batch_cap) {
			m->sizes[m->num_batches] = m->size;
			memcpy(m->roots[m->num_batches], root, HL);
			m->num_batches++;
		}
	}
	free(leaves);
	free(gens);
	return ret;
}

/* check_log checks everything a reader can see against the model. |thorough|
 * selects how many samples. */
static void check_log(struct store *s, struct model *m, int thorough)
{
	struct merkle_hasher *h = merkle_hasher_new();
	struct store_reader *r;
	struct store_sth sth;
	struct store_entry *ents;
	struct refmerkle *ref;
	uint8_t proof[MERKLE_MAX_PROOF][HL], refproof[REF_MAX_PROOF][HL];
	uint8_t root[HL], root2[HL], got[HL];
	uint64_t n = m->size, idx;
	size_t np, small = n < 600 ? n : 600, samples = thorough ? 1500 : 200;

	assert_non_null(h);
	assert_int_equal(tree_size_of(s), n);
	assert_err(store_read_begin(s, &r), 0);
	assert_int_equal(store_r_tree_size(r), n);
	if (n == 0) {
		assert_err(store_r_sth(r, &sth), MN_ENOTFOUND);
		store_read_end(r);
		merkle_hasher_free(h);
		return;
	}
	assert_err(store_r_sth(r, &sth), 0);
	assert_int_equal(sth.tree_size, n);
	assert_int_equal(sth.timestamp, m->ts);

	/* Roots: the full tree against the naive MTH, every batch's size against
	 * the root the test computed then (these sizes go through the tiles). */
	naive_mth((const uint8_t(*)[HL])m->lh, n, root);
	assert_memory_equal(sth.root, root, HL);
	assert_err(store_r_root(r, n, got), 0);
	assert_memory_equal(got, root, HL);
	for (size_t b = 0; b < m->num_batches; b++) {
		assert_err(store_r_root(r, m->sizes[b], got), 0);
		assert_memory_equal(got, m->roots[b], HL);
	}
	for (int i = 0; i < (thorough ? 8 : 2); i++) {
		uint64_t k = 1 + rnd(n);
		naive_mth((const uint8_t(*)[HL])m->lh, k, root);
		assert_err(store_r_root(r, k, got), 0);
		assert_memory_equal(got, root, HL);
	}
	assert_err(store_r_root(r, 0, got), 0);
	merkle_empty_root(root);
	assert_memory_equal(got, root, HL);
	assert_err(store_r_root(r, n + 1, got), MN_EINVAL);

	/* Small trees: proofs equal the reference PATH and PROOF exactly. */
	ref = refmerkle_new((const uint8_t(*)[REF_HASH_LEN])m->lh, small);
	for (size_t i = 0; i < samples; i++) {
		size_t sz = 1 + rnd(small), ix = rnd(sz), sz1 = 1 + rnd(sz), rn;

		assert_err(store_r_inclusion_proof(r, ix, sz, proof, &np), 0);
		rn = refmerkle_path(ref, ix, sz, refproof);
		assert_int_equal(np, rn);
		if (np > 0)
			assert_memory_equal(proof, refproof, np * HL);
		assert_err(store_r_consistency_proof(r, sz1, sz, proof, &np), 0);
		rn = refmerkle_proof(ref, sz1, sz, refproof);
		assert_int_equal(np, rn);
		if (np > 0)
			assert_memory_equal(proof, refproof, np * HL);
	}
	refmerkle_free(ref);

	/* Any tree: inclusion proofs verify against store_r_root(size), and fail
	 * for a neighbouring index. */
	for (size_t i = 0; i < samples; i++) {
		uint64_t sz = 1 + rnd(n), ix = rnd(sz);

		assert_err(store_r_inclusion_proof(r, ix, sz, proof, &np), 0);
		assert_err(store_r_root(r, sz, root), 0);
		assert_true(merkle_verify_inclusion(h, m->lh[ix], ix, sz,
						    (const uint8_t(*)[HL])proof, np, root));
		if (sz > 1) {
			uint64_t other = (ix + 1) % sz;
			assert_false(merkle_verify_inclusion(h, m->lh[other], ix, sz,
							     (const uint8_t(*)[HL])proof,
							     np, root));
		}
	}
	assert_err(store_r_inclusion_proof(r, 0, n + 1, proof, &np), MN_EINVAL);
	assert_err(store_r_inclusion_proof(r, n, n, proof, &np), MN_EINVAL);

	/* Consistency between successive batch sizes (roots from the model) and
	 * random pairs. */
	for (size_t b = 1; b < m->num_batches; b++) {
		assert_err(store_r_consistency_proof(r, m->sizes[b - 1], m->sizes[b],
						     proof, &np), 0);
		assert_true(merkle_verify_consistency(h, m->sizes[b - 1], m->sizes[b],
						      m->roots[b - 1], m->roots[b],
						      (const uint8_t(*)[HL])proof, np));
	}
	for (size_t i = 0; i < samples / 3; i++) {
		uint64_t s2 = 1 + rnd(n), s1 = 1 + rnd(s2);

		assert_err(store_r_consistency_proof(r, s1, s2, proof, &np), 0);
		assert_err(store_r_root(r, s1, root), 0);
		assert_err(store_r_root(r, s2, root2), 0);
		assert_true(merkle_verify_consistency(h, s1, s2, root, root2,
						      (const uint8_t(*)[HL])proof, np));
	}
	assert_err(store_r_consistency_proof(r, 1, n + 1, proof, &np), MN_EINVAL);

	/* Entries: the whole log with store_r_entries in random chunks, a sample
	 * with store_r_entry; every leaf hash and dedup key is found. */
	ents = calloc(300, sizeof(*ents));
	assert_non_null(ents);
	for (idx = 0; idx < n;) {
		size_t want = 1 + rnd(300), got_num;

		assert_err(store_r_entries(r, idx, want, ents, &got_num), 0);
		assert_int_equal(got_num, want < n - idx ? want : n - idx);
		for (size_t j = 0; j < got_num; j++)
			check_entry(&ents[j], idx + j, m->variant);
		idx += got_num;
	}
	{
		size_t got_num = 1;
		assert_err(store_r_entries(r, n, 10, ents, &got_num), 0);
		assert_int_equal(got_num, 0);
	}
	free(ents);
	for (size_t i = 0; i < samples; i++) {
		struct store_entry e;
		idx = rnd(n);
		assert_err(store_r_entry(r, idx, &e), 0);
		check_entry(&e, idx, m->variant);
		assert_err(store_r_leaf_hash(r, idx, got), 0);
		assert_memory_equal(got, m->lh[idx], HL);
	}
	{
		struct store_entry e;
		assert_err(store_r_entry(r, n, &e), MN_ENOTFOUND);
		assert_err(store_r_leaf_hash(r, n, got), MN_ENOTFOUND);
	}
	for (idx = 0; idx < n; idx++) {
		uint8_t key[32];
		uint64_t found = UINT64_MAX;

		assert_err(store_r_index_by_hash(r, m->lh[idx], &found), 0);
		assert_int_equal(found, idx);
		dedup_key(key, idx);
		found = UINT64_MAX;
		assert_err(store_r_dedup(r, key, &found), 0);
		assert_int_equal(found, idx);
	}
	{
		uint8_t key[32];
		dedup_key(key, n);
		assert_err(store_r_dedup(r, key, &idx), MN_ENOTFOUND);
		memset(got, 0x5a, HL);
		assert_err(store_r_index_by_hash(r, got, &idx), MN_ENOTFOUND);
	}
	store_read_end(r);
	merkle_hasher_free(h);
}

static struct store_options opts(const char *dir)
{
	struct store_options o;

	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.no_sync = 1;
	return o;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_empty(void **state)
{
	char dir[64], sub[128];
	struct store *s;
	struct store_options o;
	struct model m;

	(void)state;
	make_tmp(dir);
	snprintf(sub, sizeof(sub), "%s/new", dir); /* created by store_open */
	o = opts(sub);
	model_init(&m, 1, 1);
	assert_err(store_open(&s, &o), 0);
	assert_int_equal(store_has_sth(s), 0);
	check_log(s, &m, 0);
	store_close(s);
	assert_err(store_open(&s, &o), 0);
	assert_int_equal(store_has_sth(s), 0);
	assert_int_equal(tree_size_of(s), 0);
	{
		/* The first STH of a new log: size 0, the empty root. */
		struct store_sth sth, got;
		struct store_reader *r;
		uint8_t root[HL];

		memset(root, 0, HL);
		make_sth(&sth, 0, 5, root);
		assert_err(store_append_batch(s, NULL, 0, &sth), MN_EINVAL);
		merkle_empty_root(root);
		make_sth(&sth, 0, 5, root);
		assert_err(store_append_batch(s, NULL, 0, &sth), 0);
		assert_int_equal(store_has_sth(s), 1);
		store_close(s);
		assert_err(store_open(&s, &o), 0);
		assert_int_equal(store_has_sth(s), 1);
		assert_err(store_read_begin(s, &r), 0);
		assert_err(store_r_sth(r, &got), 0);
		assert_memory_equal(&got, &sth, sizeof(got));
		assert_int_equal(store_r_tree_size(r), 0);
		assert_err(store_r_root(r, 0, root), 0);
		assert_memory_equal(root, sth.root, HL);
		store_read_end(r);
	}
	store_close(s);
	store_close(NULL);
	{
		struct stat st;
		assert_int_equal(stat(sub, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0700);
	}
	model_free(&m);
	rm_tmp(dir);
}

/* store_append_batch_note: the note is stored with its STH, read back in the
 * snapshot, survives a reopen, is replaced by the next note and removed by an
 * append without one; bad notes are refused with nothing written. */
static void test_note(void **state)
{
	char dir[64];
	struct store *s;
	struct store_options o;
	struct store_sth sth;
	struct store_reader *r;
	const uint8_t *got;
	size_t got_len;
	uint8_t root[HL], *big;
	static const char n1[] = "log.example\n0\nroot\n\n— log.example sig1\n",
			  n2[] = "log.example\n0\nroot\n\n— log.example sig1\n— w cosig\n";

	(void)state;
	make_tmp(dir);
	o = opts(dir);
	assert_err(store_open(&s, &o), 0);
	merkle_empty_root(root);
	make_sth(&sth, 0, 5, root);
	assert_err(store_append_batch_note(s, NULL, 0, &sth, (const uint8_t *)n1, 0), MN_EINVAL);
	big = calloc(1, STORE_MAX_NOTE_LEN + 1);
	assert_non_null(big);
	assert_err(store_append_batch_note(s, NULL, 0, &sth, big, STORE_MAX_NOTE_LEN + 1),
		   MN_EINVAL);
	free(big);
	assert_int_equal(store_has_sth(s), 0);
	assert_err(store_append_batch_note(s, NULL, 0, &sth, (const uint8_t *)n1, sizeof(n1) - 1),
		   0);
	store_close(s);
	assert_err(store_open(&s, &o), 0);
	assert_err(store_read_begin(s, &r), 0);
	assert_err(store_r_note(r, &got, &got_len), 0);
	assert_int_equal(got_len, sizeof(n1) - 1);
	assert_memory_equal(got, n1, got_len);
	store_read_end(r);
	make_sth(&sth, 0, 6, root);
	assert_err(store_append_batch_note(s, NULL, 0, &sth, (const uint8_t *)n2, sizeof(n2) - 1),
		   0);
	assert_err(store_read_begin(s, &r), 0);
	assert_err(store_r_note(r, &got, &got_len), 0);
	assert_int_equal(got_len, sizeof(n2) - 1);
	assert_memory_equal(got, n2, got_len);
	store_read_end(r);
	make_sth(&sth, 0, 7, root);
	assert_err(store_append_batch(s, NULL, 0, &sth), 0);
	assert_err(store_read_begin(s, &r), 0);
	assert_err(store_r_note(r, &got, &got_len), MN_ENOTFOUND);
	store_read_end(r);
	store_close(s);
	rm_tmp(dir);
}

static void test_append_100k(void **state)
{
	char dir[64];
	struct store *s;
	struct store_options o;
	struct merkle_hasher *h = merkle_hasher_new();
	struct model m;
	const uint64_t total = 100000;

	(void)state;
	make_tmp(dir);
	o = opts(dir);
	model_init(&m, total + 10, 1000);
	assert_err(store_open(&s, &o), 0);
	while (m.size < total) {
		size_t num = 1 + rnd(2000);

		if (num > total - m.size)
			num = total - m.size;
		assert_err(model_append(&m, s, h, num), 0);
		assert_int_equal(tree_size_of(s), m.size);
	}
	assert_int_equal(store_has_sth(s), 1);
	check_log(s, &m, 1);
	store_close(s);

	/* Reopen: the open-time check passes and everything still holds; the
	 * writer continues where it stopped. */
	assert_err(store_open(&s, &o), 0);
	check_log(s, &m, 0);
	assert_err(model_append(&m, s, h, 7), 0);
	check_log(s, &m, 0);
	{
		struct store_stats st;
		store_get_stats(s, &st);
		assert_int_equal(st.tree_size, m.size);
		assert_true(st.used_bytes > 0 && st.used_bytes <= st.map_size);
		assert_true(st.file_bytes >= st.used_bytes);
		/* 100007 leaves: tile (1, 0) is complete, and the proofs above
		 * read it from its in-memory copy */
		assert_int_equal(st.upper_tiles, 1);
	}
	store_close(s);
	model_free(&m);
	merkle_hasher_free(h);
	rm_tmp(dir);
}

static void expect_unchanged(struct store *s, struct model *m);

/* append_with_hashes appends |num| leaves (from make_leaves at the model's
 * size) whose leaf hashes are |lh| instead of their own, with a right STH;
 * returns store_append_batch's answer and, on success, moves the model. */
static int append_with_hashes(struct model *m, struct store *s, struct merkle_hasher *h,
			      const uint8_t (*lh)[HL], size_t num)
{
	struct store_leaf leaves[4];
	struct gen gens[4];
	struct store_sth sth;
	struct merkle_range next = m->range;
	uint8_t root[HL];
	int rc;

	make_leaves(leaves, gens, m->size, num, 0);
	for (size_t i = 0; i < num; i++) {
		memcpy(leaves[i].leaf_hash, lh[i], HL);
		assert_int_equal(merkle_range_append(&next, h, lh[i], NULL, NULL), 0);
	}
	merkle_range_root(&next, h, root);
	make_sth(&sth, m->size + num, m->ts + 1, root);
	rc = store_append_batch(s, leaves, num, &sth);
	if (rc == 0) {
		for (size_t i = 0; i < num; i++)
			memcpy(m->lh[m->size + i], lh[i], HL);
		m->range = next;
		m->size += num;
		m->ts++;
	}
	return rc;
}

/* The leaf-hash index is keyed by 8-byte prefixes: leaves whose hashes share
 * a prefix (made here on purpose; 2^-64 a pair in real life) are each found
 * by their own full hash, across batches and within one, a hash sharing only
 * the prefix is not found, a full duplicate is still refused, a snapshot does
 * not see a later leaf under the same prefix, and the store reopens. */
static void test_leafhash_prefix(void **state)
{
	char dir[64];
	struct store *s;
	struct store_options o;
	struct merkle_hasher *h = merkle_hasher_new();
	struct model m;
	struct store_reader *old, *r;
	uint8_t lh[5][HL], other[HL], fresh[HL];
	uint64_t idx;

	(void)state;
	make_tmp(dir);
	o = opts(dir);
	model_init(&m, 100, 100);
	assert_err(store_open(&s, &o), 0);
	assert_err(model_append(&m, s, h, 10), 0);
	for (int i = 0; i < 5; i++) {
		memset(lh[i], 0xa5, 8);         /* one prefix for all */
		fill(1000 + (uint64_t)i, lh[i] + 8, HL - 8);
	}
	memcpy(other, lh[0], 8);
	fill(2000, other + 8, HL - 8);

	assert_err(append_with_hashes(&m, s, h, (const uint8_t(*)[HL])lh, 1), 0); /* 10 */
	assert_err(store_read_begin(s, &old), 0);
	/* two more under the same prefix in one batch, after a normal leaf */
	{
		uint8_t b[3][HL];
		memcpy(b[0], m.lh[3], HL);
		b[0][31] ^= 0x77;               /* a fresh hash, another prefix */
		b[0][0] ^= 0x5a;
		memcpy(fresh, b[0], HL);
		memcpy(b[1], lh[1], HL);
		memcpy(b[2], lh[2], HL);
		assert_err(append_with_hashes(&m, s, h, (const uint8_t(*)[HL])b, 3), 0); /* 11..13 */
	}
	/* the same full hash again: across batches, and twice in one batch */
	assert_err(append_with_hashes(&m, s, h, (const uint8_t(*)[HL])&lh[2], 1), MN_EEXISTS);
	{
		uint8_t b[2][HL];
		memcpy(b[0], lh[3], HL);
		memcpy(b[1], lh[3], HL);
		assert_err(append_with_hashes(&m, s, h, (const uint8_t(*)[HL])b, 2), MN_EEXISTS);
	}
	expect_unchanged(s, &m);

	assert_err(store_read_begin(s, &r), 0);
	assert_err(store_r_index_by_hash(r, lh[0], &idx), 0);
	assert_int_equal(idx, 10);
	assert_err(store_r_index_by_hash(r, lh[1], &idx), 0);
	assert_int_equal(idx, 12);
	assert_err(store_r_index_by_hash(r, lh[2], &idx), 0);
	assert_int_equal(idx, 13);
	assert_err(store_r_index_by_hash(r, other, &idx), MN_ENOTFOUND);
	assert_err(store_r_index_by_hash(r, lh[3], &idx), MN_ENOTFOUND);
	store_read_end(r);
	/* the snapshot taken before 11..13 sees only 10 */
	assert_err(store_r_index_by_hash(old, lh[0], &idx), 0);
	assert_int_equal(idx, 10);
	assert_err(store_r_index_by_hash(old, lh[1], &idx), MN_ENOTFOUND);
	assert_err(store_r_index_by_hash(old, fresh, &idx), MN_ENOTFOUND);
	store_read_end(old);
	assert_err(store_read_begin(s, &r), 0);
	assert_err(store_r_index_by_hash(r, fresh, &idx), 0);
	assert_int_equal(idx, 11);
	store_read_end(r);

	store_close(s);
	assert_err(store_open(&s, &o), 0);
	check_log(s, &m, 0);
	store_close(s);
	model_free(&m);
	merkle_hasher_free(h);
	rm_tmp(dir);
}

/* raw_db_exists / raw_drop_db: the store's file through LMDB itself. */
static int raw_db(const char *dir, const char *name, int drop)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	int rc;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	rc = mdb_dbi_open(txn, name, 0, &dbi);
	if (rc == 0 && drop)
		assert_int_equal(mdb_drop(txn, dbi, 1), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	return rc == 0;
}

/* A log with leaves whose leaf-hash index database is missing (a damaged
 * file, or one written by another layout) is refused, and the refusal writes
 * nothing: the database is not created behind the operator's back. A log
 * without leaves gets its missing databases made. */
static void test_missing_database(void **state)
{
	char dir[64];
	struct store *s;
	struct store_options o;
	struct merkle_hasher *h = merkle_hasher_new();
	struct model m;

	(void)state;
	make_tmp(dir);
	o = opts(dir);
	model_init(&m, 100, 100);
	assert_err(store_open(&s, &o), 0);
	assert_err(model_append(&m, s, h, 10), 0);
	store_close(s);

	assert_true(raw_db(dir, "leafhash8", 1));
	assert_false(raw_db(dir, "leafhash8", 0));
	assert_err(store_open(&s, &o), MN_ECORRUPT);
	assert_false(raw_db(dir, "leafhash8", 0));
	o.read_only = 1;
	assert_err(store_open(&s, &o), MN_ECORRUPT);
	rm_tmp(dir);

	/* no leaves yet: the missing database is made */
	make_tmp(dir);
	o = opts(dir);
	assert_err(store_open(&s, &o), 0);
	store_close(s);
	assert_true(raw_db(dir, "openings", 1));
	assert_err(store_open(&s, &o), 0);
	store_close(s);
	assert_true(raw_db(dir, "openings", 0));
	model_free(&m);
	merkle_hasher_free(h);
	rm_tmp(dir);
}

/* raw_meta_put writes meta |key| = |val| (len bytes) into the store's file;
 * raw_meta_del deletes it. */
static void raw_meta(const char *dir, const char *key, const void *val, size_t len, int del)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = {strlen(key), (void *)key}, v = {len, (void *)val};

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	if (del)
		assert_int_equal(mdb_del(txn, dbi, &k, NULL), 0);
	else
		assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/* The log's format (meta "format") is recorded when the store is created:
 * leaf_index unless no_leaf_index asked otherwise, and never changed by a
 * later open with other options. A log that has an STH but no format (made
 * before formats were recorded) is format 0 and stays so. Flags this version
 * does not know, or a malformed value, are refused, read-only too. */
static void test_format(void **state)
{
	char dir[64];
	struct store *s;
	struct store_options o;
	struct model m;
	struct merkle_hasher *h = merkle_hasher_new();
	static const uint8_t unknown[4] = {0, 0, 0, 3}, shortv[3] = {0, 0, 1};

	(void)state;
	model_init(&m, 10, 10);
	for (int legacy = 0; legacy < 2; legacy++) {
		make_tmp(dir);
		o = opts(dir);
		o.no_leaf_index = legacy;
		assert_err(store_open(&s, &o), 0);
		assert_int_equal(store_format(s), legacy ? 0 : STORE_FMT_LEAF_INDEX);
		store_close(s);
		o.no_leaf_index = !legacy;
		assert_err(store_open(&s, &o), 0);
		assert_int_equal(store_format(s), legacy ? 0 : STORE_FMT_LEAF_INDEX);
		store_close(s);
		o.read_only = 1;
		assert_err(store_open(&s, &o), 0);
		assert_int_equal(store_format(s), legacy ? 0 : STORE_FMT_LEAF_INDEX);
		store_close(s);
		rm_tmp(dir);
	}
	/* an older log: an STH and leaves, no format recorded: format 0 */
	make_tmp(dir);
	o = opts(dir);
	assert_err(store_open(&s, &o), 0);
	assert_err(model_append(&m, s, h, 5), 0);
	store_close(s);
	raw_meta(dir, "format", NULL, 0, 1);
	assert_err(store_open(&s, &o), 0);
	assert_int_equal(store_format(s), 0);
	store_close(s);
	raw_meta(dir, "format", unknown, sizeof(unknown), 0);
	assert_err(store_open(&s, &o), MN_ECORRUPT);
	o.read_only = 1;
	assert_err(store_open(&s, &o), MN_ECORRUPT);
	o.read_only = 0;
	raw_meta(dir, "format", shortv, sizeof(shortv), 0);
	assert_err(store_open(&s, &o), MN_ECORRUPT);
	rm_tmp(dir);
	model_free(&m);
	merkle_hasher_free(h);
}

struct upper_ctx {
	struct store *s;
	const struct model *m;
	unsigned seed;
	int bad;
};

static void *upper_prover(void *arg)
{
	struct upper_ctx *c = arg;
	struct merkle_hasher *h = merkle_hasher_new();
	uint8_t proof[MERKLE_MAX_PROOF][HL];
	size_t np;

	for (int i = 0; i < 400 && h != NULL; i++) {
		const struct model *m = c->m;
		size_t b = rand_r(&c->seed) % m->num_batches;
		uint64_t sz = m->sizes[b], ix = (uint64_t)rand_r(&c->seed) % sz;
		uint64_t s1 = 1 + (uint64_t)rand_r(&c->seed) % sz;
		struct store_reader *r;

		if (store_read_begin(c->s, &r) != 0) {
			c->bad++;
			continue;
		}
		if (store_r_inclusion_proof(r, ix, sz, proof, &np) != 0 ||
		    !merkle_verify_inclusion(h, m->lh[ix], ix, sz, (const uint8_t(*)[HL])proof,
					     np, m->roots[b]))
			c->bad++;
		if (s1 < sz && (store_r_consistency_proof(r, s1, sz, proof, &np) != 0 ||
				store_r_root(r, s1, proof[0]) != 0))
			c->bad++;
		store_read_end(r);
	}
	merkle_hasher_free(h);
	return NULL;
}

/* Complete upper tiles are copied into memory by whichever reader needs one
 * first. Four threads prove against a freshly opened store (no copies yet):
 * every proof, made while the copies are being made by the threads
 * themselves, verifies against the model's roots; afterwards the store holds
 * exactly the complete tiles (two at 140000 leaves), and a tile that is not
 * yet complete (tile (1, 2), leaves 131072..) is never copied. */
static void test_upper_tiles(void **state)
{
	char dir[64];
	struct store *s;
	struct store_options o;
	struct merkle_hasher *h = merkle_hasher_new();
	struct model m;
	struct upper_ctx c[4];
	pthread_t th[4];
	struct store_stats st;
	const uint64_t total = 140000;

	(void)state;
	make_tmp(dir);
	o = opts(dir);
	model_init(&m, total, 100);
	assert_err(store_open(&s, &o), 0);
	while (m.size < total)
		assert_err(model_append(&m, s, h, (size_t)(total / 50)), 0);
	store_close(s);
	assert_err(store_open(&s, &o), 0);
	store_get_stats(s, &st);
	assert_int_equal(st.upper_tiles, 0);
	for (int i = 0; i < 4; i++) {
		c[i] = (struct upper_ctx){s, &m, 17u + (unsigned)i, 0};
		assert_int_equal(pthread_create(&th[i], NULL, upper_prover, &c[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(c[i].bad, 0);
	}
	store_get_stats(s, &st);
	assert_int_equal(st.upper_tiles, 2);
	store_close(s);
	model_free(&m);
	merkle_hasher_free(h);
	rm_tmp(dir);
}

/* expect_unchanged: the store still shows exactly the model's log. */
static void expect_unchanged(struct store *s, struct model *m)
{
	struct store_reader *r;
	struct store_sth sth;

	assert_int_equal(tree_size_of(s), m->size);
	assert_err(store_read_begin(s, &r), 0);
	assert_int_equal(store_r_tree_size(r), m->size);
	assert_err(store_r_sth(r, &sth), 0);
	assert_int_equal(sth.timestamp, m->ts);
	store_read_end(r);
}

static void test_rejects(void **state)
{
	char dir[64];
	struct store *s;
	struct store_options o;
	struct merkle_hasher *h = merkle_hasher_new();
	struct model m;
	struct store_leaf leaves[4];
	struct gen gens[4];
	struct store_sth sth;
	struct merkle_range next;
	struct store_reader *r;
	uint8_t root[HL];
	uint64_t idx;

	(void)state;
	make_tmp(dir);
	o = opts(dir);
	model_init(&m, 100, 100);
	assert_err(store_open(&s, &o), 0);
	assert_err(model_append(&m, s, h, 10), 0);

	/* A wrong root. */
	make_leaves(leaves, gens, 10, 3, 0);
	next = m.range;
	for (int i = 0; i < 3; i++)
		assert_int_equal(merkle_range_append(&next, h, leaves[i].leaf_hash, NULL, NULL), 0);
	merkle_range_root(&next, h, root);
	root[5] ^= 1;
	make_sth(&sth, 13, m.ts + 1, root);
	assert_err(store_append_batch(s, leaves, 3, &sth), MN_EINVAL);
	expect_unchanged(s, &m);
	assert_err(store_read_begin(s, &r), 0);
	assert_err(store_r_index_by_hash(r, leaves[0].leaf_hash, &idx), MN_ENOTFOUND);
	assert_err(store_r_dedup(r, leaves[0].dedup_key, &idx), MN_ENOTFOUND);
	store_read_end(r);

	/* A wrong tree size (root right for 3 leaves). */
	root[5] ^= 1;
	make_sth(&sth, 14, m.ts + 1, root);
	assert_err(store_append_batch(s, leaves, 3, &sth), MN_EINVAL);
	expect_unchanged(s, &m);

	/* An older STH timestamp, everything else right. */
	make_sth(&sth, 13, m.ts - 1, root);
	assert_err(store_append_batch(s, leaves, 3, &sth), MN_EINVAL);
	expect_unchanged(s, &m);

	/* A leaf hash already in the log (root computed with it, so only the
	 * duplicate is wrong). */
	make_leaves(leaves, gens, 10, 3, 0);
	memcpy(leaves[2].leaf_hash, m.lh[4], HL);
	next = m.range;
	for (int i = 0; i < 3; i++)
		assert_int_equal(merkle_range_append(&next, h, leaves[i].leaf_hash, NULL, NULL), 0);
	merkle_range_root(&next, h, root);
	make_sth(&sth, 13, m.ts + 1, root);
	assert_err(store_append_batch(s, leaves, 3, &sth), MN_EEXISTS);
	expect_unchanged(s, &m);

	/* The same leaf hash twice in one batch. */
	make_leaves(leaves, gens, 10, 3, 0);
	memcpy(leaves[2].leaf_hash, leaves[0].leaf_hash, HL);
	next = m.range;
	for (int i = 0; i < 3; i++)
		assert_int_equal(merkle_range_append(&next, h, leaves[i].leaf_hash, NULL, NULL), 0);
	merkle_range_root(&next, h, root);
	make_sth(&sth, 13, m.ts + 1, root);
	assert_err(store_append_batch(s, leaves, 3, &sth), MN_EEXISTS);
	expect_unchanged(s, &m);

	/* A dedup key already in the log. */
	make_leaves(leaves, gens, 10, 3, 0);
	dedup_key(leaves[1].dedup_key, 3);
	next = m.range;
	for (int i = 0; i < 3; i++)
		assert_int_equal(merkle_range_append(&next, h, leaves[i].leaf_hash, NULL, NULL), 0);
	merkle_range_root(&next, h, root);
	make_sth(&sth, 13, m.ts + 1, root);
	assert_err(store_append_batch(s, leaves, 3, &sth), MN_EEXISTS);
	expect_unchanged(s, &m);
	assert_err(store_read_begin(s, &r), 0);
	assert_err(store_r_index_by_hash(r, leaves[0].leaf_hash, &idx), MN_ENOTFOUND);
	store_read_end(r);

	/* The same dedup key twice in one batch (the index inserts are sorted:
	 * the two land next to each other, and the batch still fails whole). */
	make_leaves(leaves, gens, 10, 3, 0);
	memcpy(leaves[0].dedup_key, leaves[2].dedup_key, 32);
	next = m.range;
	for (int i = 0; i < 3; i++)
		assert_int_equal(merkle_range_append(&next, h, leaves[i].leaf_hash, NULL, NULL), 0);
	merkle_range_root(&next, h, root);
	make_sth(&sth, 13, m.ts + 1, root);
	assert_err(store_append_batch(s, leaves, 3, &sth), MN_EEXISTS);
	expect_unchanged(s, &m);
	assert_err(store_read_begin(s, &r), 0);
	assert_err(store_r_index_by_hash(r, leaves[1].leaf_hash, &idx), MN_ENOTFOUND);
	assert_err(store_r_dedup(r, leaves[2].dedup_key, &idx), MN_ENOTFOUND);
	store_read_end(r);

	/* Bad arguments. */
	make_leaves(leaves, gens, 10, 3, 0);
	leaves[1].sct_len = 70000;
	assert_err(store_append_batch(s, leaves, 3, &sth), MN_EINVAL);
	assert_err(store_append_batch(s, NULL, 3, &sth), MN_EINVAL);
	assert_err(store_append_batch(s, leaves, 3, NULL), MN_EINVAL);
	expect_unchanged(s, &m);

	/* num == 0: a re-signed STH of the same tree; a wrong root is refused. */
	merkle_range_root(&m.range, h, root);
	make_sth(&sth, m.size, m.ts + 5, root);
	sth.sig[0] ^= 0xff;
	assert_err(store_append_batch(s, NULL, 0, &sth), 0);
	m.ts += 5;
	expect_unchanged(s, &m);
	{
		struct store_sth got;
		assert_err(store_read_begin(s, &r), 0);
		assert_err(store_r_sth(r, &got), 0);
		assert_memory_equal(&got, &sth, sizeof(got));
		store_read_end(r);
	}
	root[0] ^= 1;
	make_sth(&sth, m.size, m.ts + 1, root);
	assert_err(store_append_batch(s, NULL, 0, &sth), MN_EINVAL);
	expect_unchanged(s, &m);

	/* After all the refusals the writer goes on normally, and the log
	 * reopens. */
	assert_err(model_append(&m, s, h, 5), 0);
	check_log(s, &m, 0);
	store_close(s);
	assert_err(store_open(&s, &o), 0);
	check_log(s, &m, 0);
	store_close(s);
	model_free(&m);
	merkle_hasher_free(h);
	rm_tmp(dir);
}

static void test_map_full(void **state)
{
	char dir[64];
	struct store *s;
	struct store_options o;
	struct merkle_hasher *h = merkle_hasher_new();
	struct model m;
	struct store_stats st;
	int ret = 0, i;

	(void)state;
	make_tmp(dir);
	o = opts(dir);
	o.map_size = o.max_map_size = 1 << 20;
	model_init(&m, 100000, 10000);
	assert_err(store_open(&s, &o), 0);
	for (i = 0; i < 10000; i++) {
		ret = model_append(&m, s, h, 50);
		if (ret != 0)
			break;
	}
	assert_err(ret, MN_ENOSPACE);
	assert_true(m.size > 0);
	store_get_stats(s, &st);
	assert_int_equal(st.map_size, 1 << 20);
	check_log(s, &m, 0);
	/* Small batches still do not fit, or fit, but never corrupt. */
	for (i = 0; i < 20; i++) {
		ret = model_append(&m, s, h, 1);
		assert_true(ret == 0 || ret == MN_ENOSPACE);
	}
	check_log(s, &m, 0);
	store_close(s);

	assert_err(store_open(&s, &o), 0);
	check_log(s, &m, 0);
	store_close(s);

	/* A bigger max: appending resumes. */
	o.max_map_size = 16 << 20;
	assert_err(store_open(&s, &o), 0);
	for (i = 0; i < 40; i++)
		assert_err(model_append(&m, s, h, 50), 0);
	store_get_stats(s, &st);
	assert_true(st.map_size > (1 << 20));
	check_log(s, &m, 0);
	store_close(s);
	model_free(&m);
	merkle_hasher_free(h);
	rm_tmp(dir);
}

/* A thread that reads the whole time the writer grows the map. */
struct reader_loop {
	struct store *s;
	volatile int stop;
	uint64_t reads;
	int failed;
};

static void *reader_main(void *arg)
{
	struct reader_loop *rl = arg;

	while (!__atomic_load_n(&rl->stop, __ATOMIC_ACQUIRE)) {
		struct store_reader *r;
		struct store_entry e;
		uint64_t n;

		if (store_read_begin(rl->s, &r) != 0) {
			rl->failed = 1;
			break;
		}
		n = store_r_tree_size(r);
		if (n > 0) {
			uint64_t idx = (n * 2654435761u) % n;
			struct gen g;

			if (store_r_entry(r, idx, &e) != 0) {
				rl->failed = 1;
			} else {
				gen_leaf(&g, idx, 1);
				if (e.leaf_input_len != g.input_len ||
				    memcmp(e.leaf_input, g.input, g.input_len) != 0)
					rl->failed = 1;
			}
		}
		store_read_end(r);
		rl->reads++;
	}
	return NULL;
}

static void test_map_growth(void **state)
{
	char dir[64];
	struct store *s;
	struct store_options o;
	struct merkle_hasher *h = merkle_hasher_new();
	struct model m;
	struct store_stats st;
	struct reader_loop rl;
	pthread_t th;

	(void)state;
	make_tmp(dir);
	o = opts(dir);
	o.map_size = 1 << 20;
	o.max_map_size = 64 << 20;
	model_init(&m, 200000, 10000);
	m.variant = 1;
	assert_err(store_open(&s, &o), 0);
	memset(&rl, 0, sizeof(rl));
	rl.s = s;
	assert_int_equal(pthread_create(&th, NULL, reader_main, &rl), 0);
	for (;;) {
		struct store_reader *r;

		store_get_stats(s, &st);
		if (st.used_bytes >= (10u << 20))
			break;
		/* A snapshot taken and released between batches. */
		assert_err(store_read_begin(s, &r), 0);
		assert_int_equal(store_r_tree_size(r), m.size);
		store_read_end(r);
		assert_err(model_append(&m, s, h, 500), 0);
	}
	__atomic_store_n(&rl.stop, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(th, NULL), 0);
	fprintf(stderr, "growth: reads=%" PRIu64 " map=%" PRIu64 " used=%" PRIu64 " size=%" PRIu64 "\n", rl.reads, st.map_size, st.used_bytes, m.size);
	assert_int_equal(rl.failed, 0);
	assert_true(rl.reads > 0);
	assert_true(st.map_size >= (10u << 20) && st.map_size <= (64u << 20));
	check_log(s, &m, 0);
	store_close(s);
	assert_err(store_open(&s, &o), 0);
	check_log(s, &m, 0);
	store_close(s);
	model_free(&m);
	merkle_hasher_free(h);
	rm_tmp(dir);
}

static void test_read_only_and_bad_dirs(void **state)
{
	char dir[64], path[160];
	struct store *s;
	struct store_options o;
	struct merkle_hasher *h = merkle_hasher_new();
	struct model m;
	int fd;

	(void)state;
	make_tmp(dir);
	snprintf(path, sizeof(path), "%s/log", dir);
	o = opts(path);
	model_init(&m, 100, 100);
	assert_err(store_open(&s, &o), 0);
	assert_err(model_append(&m, s, h, 20), 0);
	store_close(s);

	/* A log in a directory without write permission, opened read-only:
	 * reads work, appends fail cleanly. (Tests run as root, which ignores
	 * the mode, hence opt.read_only.) */
	assert_int_equal(chmod(path, 0500), 0);
	o.read_only = 1;
	assert_err(store_open(&s, &o), 0);
	check_log(s, &m, 0);
	assert_err(model_append(&m, s, h, 3), MN_EREADONLY);
	{
		struct store_sth sth;
		uint8_t root[HL];
		merkle_range_root(&m.range, h, root);
		make_sth(&sth, m.size, m.ts + 1, root);
		assert_err(store_append_batch(s, NULL, 0, &sth), MN_EREADONLY);
	}
	check_log(s, &m, 0);
	store_close(s);
	assert_int_equal(chmod(path, 0700), 0);

	/* Read-only open of a missing directory: not created. */
	snprintf(path, sizeof(path), "%s/missing", dir);
	o = opts(path);
	o.read_only = 1;
	s = (struct store *)1;
	assert_err(store_open(&s, &o), MN_EIO);
	assert_null(s);
	assert_int_equal(access(path, F_OK), -1);

	/* A directory that cannot be created (under a regular file), and a path
	 * that is a regular file. */
	snprintf(path, sizeof(path), "%s/file", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	o = opts(path);
	assert_err(store_open(&s, &o), MN_EIO);
	snprintf(path, sizeof(path), "%s/file/sub", dir);
	o = opts(path);
	assert_err(store_open(&s, &o), MN_EIO);
	o = opts(NULL);
	assert_err(store_open(&s, &o), MN_EINVAL);

	model_free(&m);
	merkle_hasher_free(h);
	rm_tmp(dir);
}

/* ---- corruption: patch data.mdb bytes, as a disk or a bad copy would ------ */

static uint8_t *read_file(const char *path, size_t *out_len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long len;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	assert_true(len > 0);
	rewind(f);
	buf = malloc((size_t)len);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	*out_len = (size_t)len;
	return buf;
}

static void write_file(const char *path, const uint8_t *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* patch_all finds each |pat| in |buf|; where |skip_prefix| (if not NULL) does
 * not come right before it, xors |buf| at match + |at| with |x|. Returns how
 * many it patched. */
static size_t patch_all(uint8_t *buf, size_t len, const uint8_t *pat, size_t pat_len,
			const uint8_t *skip_prefix, size_t skip_len, size_t at, uint8_t x)
{
	size_t n = 0;

	for (size_t i = 0; i + pat_len <= len; i++) {
		if (memcmp(buf + i, pat, pat_len) != 0)
			continue;
		if (skip_prefix != NULL && i >= skip_len &&
		    memcmp(buf + i - skip_len, skip_prefix, skip_len) == 0)
			continue;
		buf[i + at] ^= x;
		n++;
	}
	return n;
}

/* open_copy writes |data| as data.mdb of a fresh directory and opens it; the
 * file must be unchanged afterwards, whatever the result. */
static int open_copy(const char *base, const char *name, const uint8_t *data,
		     size_t len, int read_only)
{
	char d[160], f[200];
	struct store *s = NULL;
	struct store_options o;
	uint8_t *after;
	size_t after_len;
	int ret;

	snprintf(d, sizeof(d), "%s/%s", base, name);
	assert_int_equal(mkdir(d, 0700), 0);
	snprintf(f, sizeof(f), "%s/data.mdb", d);
	write_file(f, data, len);
	o = opts(d);
	o.read_only = read_only;
	ret = store_open(&s, &o);
	if (ret == 0)
		store_close(s);
	else
		assert_null(s);
	after = read_file(f, &after_len);
	assert_int_equal(after_len, len);
	assert_memory_equal(after, data, len);
	free(after);
	return ret;
}

static void test_corruption(void **state)
{
	char dir[64], logdir[100], f[160];
	struct store *s;
	struct store_options o;
	struct merkle_hasher *h = merkle_hasher_new();
	struct model m;
	struct merkle_range range;
	uint8_t *orig, *buf, pat[8 + 8 + HL], sizekey[8];
	size_t len;
	struct store_sth sth;
	struct store_reader *r;

	(void)state;
	make_tmp(dir);
	snprintf(logdir, sizeof(logdir), "%s/log", dir);
	o = opts(logdir);
	model_init(&m, 2000, 100);
	assert_err(store_open(&s, &o), 0);
	/* Batches ending at 1000 = 512+256+128+64+32+8: not a power of two, so
	 * the root is not itself a stored node. */
	assert_err(model_append(&m, s, h, 300), 0);
	assert_err(model_append(&m, s, h, 300), 0);
	assert_err(model_append(&m, s, h, 400), 0);
	store_get_range(s, &range);
	assert_int_equal(range.size, 1000);
	assert_err(store_read_begin(s, &r), 0);
	assert_err(store_r_sth(r, &sth), 0);
	store_read_end(r);
	store_close(s);
	snprintf(f, sizeof(f), "%s/data.mdb", logdir);
	orig = read_file(f, &len);
	buf = malloc(len);
	assert_non_null(buf);

	/* The untouched copy opens (control). */
	assert_err(open_copy(dir, "ok", orig, len, 0), 0);

	/* The STH as stored: be64 size || be64 timestamp || root. */
	mn_put_be64(pat, sth.tree_size);
	mn_put_be64(pat + 8, sth.timestamp);
	memcpy(pat + 16, sth.root, HL);

	/* 1. A flipped bit in the stored STH root. */
	memcpy(buf, orig, len);
	assert_true(patch_all(buf, len, pat, sizeof(pat), NULL, 0, 16 + 7, 0x10) >= 1);
	assert_err(open_copy(dir, "root", buf, len, 0), MN_ECORRUPT);
	assert_err(open_copy(dir, "root-ro", buf, len, 1), MN_ECORRUPT);

	/* 2. The STH's tree size off by one. */
	memcpy(buf, orig, len);
	assert_true(patch_all(buf, len, pat, sizeof(pat), NULL, 0, 7, 0x01) >= 1);
	assert_err(open_copy(dir, "size", buf, len, 0), MN_ECORRUPT);

	/* 3. The stored tree node of the range's largest subtree (level 9,
	 * index 0) differs from the range's copy in meta "state" (the one
	 * right after be64(1000)). */
	memcpy(buf, orig, len);
	mn_put_be64(sizekey, 1000);
	assert_true(patch_all(buf, len, range.hashes[0], HL, sizekey, 8, 3, 0x80) >= 1);
	assert_err(open_copy(dir, "tile", buf, len, 0), MN_ECORRUPT);

	/* 4. The compact range in meta "state" differs from the tiles (and so
	 * its root from the STH's): patch its smallest hash only. */
	memcpy(buf, orig, len);
	{
		uint8_t state_pat[8 + 6 * HL];
		memcpy(state_pat, sizekey, 8);
		memcpy(state_pat + 8, range.hashes, 6 * HL);
		assert_true(patch_all(buf, len, state_pat, sizeof(state_pat), NULL, 0,
				      8 + 5 * HL + 1, 0x04) >= 1);
	}
	assert_err(open_copy(dir, "state", buf, len, 0), MN_ECORRUPT);

	/* 5. Garbage data.mdb: a clear error, no crash. */
	memset(buf, 0xa5, len);
	{
		int ret = open_copy(dir, "garbage", buf, len, 0);
		assert_true(ret == MN_ECORRUPT || ret == MN_EIO);
	}

	free(buf);
	free(orig);
	model_free(&m);
	merkle_hasher_free(h);
	rm_tmp(dir);
}

/* ---- crash safety: SIGKILL a durable writer at random moments ------------- */

static void crash_child(const char *dir, int fd)
{
	struct store *s;
	struct store_options o;
	struct merkle_hasher *h = merkle_hasher_new();
	struct store_reader *r;
	struct store_sth sth;
	struct store_leaf leaves[20];
	struct gen gens[20];
	struct merkle_range range;
	uint8_t root[HL];
	uint64_t x = seed ^ (uint64_t)getpid(), ts = 1;

	memset(&o, 0, sizeof(o));
	o.dir = dir; /* durable: no_sync = 0 */
	o.map_size = 1 << 20; /* grow now and then, under the kills too */
	if (h == NULL || store_open(&s, &o) != 0)
		_exit(2);
	if (store_read_begin(s, &r) != 0)
		_exit(3);
	if (store_r_sth(r, &sth) == 0)
		ts = sth.timestamp + 1;
	store_read_end(r);
	for (;;) {
		size_t num = 1 + splitmix(&x) % 20;
		uint64_t size;

		store_get_range(s, &range);
		size = range.size;
		make_leaves(leaves, gens, size, num, 2);
		for (size_t i = 0; i < num; i++)
			if (merkle_range_append(&range, h, leaves[i].leaf_hash, NULL, NULL) != 0)
				_exit(4);
		merkle_range_root(&range, h, root);
		make_sth(&sth, size + num, ts++, root);
		if (store_append_batch(s, leaves, num, &sth) != 0)
			_exit(5);
		size += num;
		if (write(fd, &size, sizeof(size)) != (ssize_t)sizeof(size))
			_exit(6);
	}
}

static void check_after_crash(const char *dir, uint64_t acked)
{
	struct store *s;
	struct store_options o;
	struct store_reader *r;
	struct store_sth sth;
	struct store_entry ents[256];
	struct merkle_hasher *h = merkle_hasher_new();
	struct merkle_range range;
	uint8_t root[HL], lh[HL];
	uint64_t n, idx = 0;

	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.read_only = 1; /* look without touching */
	assert_err(store_open(&s, &o), 0);
	assert_err(store_read_begin(s, &r), 0);
	n = store_r_tree_size(r);
	assert_true(n >= acked);
	assert_err(store_r_sth(r, &sth), 0);
	merkle_range_init(&range);
	while (idx < n) {
		size_t got;
		assert_err(store_r_entries(r, idx, 256, ents, &got), 0);
		assert_true(got > 0);
		for (size_t j = 0; j < got; j++) {
			uint64_t found;

			check_entry(&ents[j], idx + j, 2);
			refmerkle_leaf_hash(lh, ents[j].leaf_input, ents[j].leaf_input_len);
			assert_int_equal(merkle_range_append(&range, h, lh, NULL, NULL), 0);
			assert_err(store_r_index_by_hash(r, lh, &found), 0);
			assert_int_equal(found, idx + j);
		}
		idx += got;
	}
	merkle_range_root(&range, h, root);
	assert_memory_equal(root, sth.root, HL);
	store_read_end(r);
	store_close(s);
	merkle_hasher_free(h);
}

static void test_crash(void **state)
{
	char dir[64], logdir[100];
	uint64_t acked = 0;
	struct timespec t0, t1;
	int rounds = 0;

	(void)state;
	make_tmp(dir);
	snprintf(logdir, sizeof(logdir), "%s/log", dir);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int fds[2], status;
		pid_t pid;
		uint64_t v, want = 1 + rnd(50), got = 0;
		ssize_t nr;

		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			crash_child(logdir, fds[1]);
			_exit(7);
		}
		close(fds[1]);
		while (got < want) {
			nr = read(fds[0], &v, sizeof(v));
			if (nr < 0 && errno == EINTR)
				continue;
			assert_int_equal(nr, sizeof(v));
			assert_true(v > acked);
			acked = v;
			got++;
		}
		assert_int_equal(kill(pid, SIGKILL), 0);
		/* Acknowledgements written before the kill count too. */
		while ((nr = read(fds[0], &v, sizeof(v))) != 0) {
			if (nr < 0 && errno == EINTR)
				continue;
			assert_int_equal(nr, sizeof(v));
			acked = v;
		}
		close(fds[0]);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		check_after_crash(logdir, acked);
		rounds++;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (rounds >= 40 || (rounds >= 20 && t1.tv_sec - t0.tv_sec > 20))
			break;
	}
	fprintf(stderr, "crash: rounds=%d acked=%" PRIu64 "\n", rounds, acked);
	assert_true(rounds >= 20);
	assert_true(acked > 0);
	rm_tmp(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_note),
		cmocka_unit_test(test_append_100k),
		cmocka_unit_test(test_upper_tiles),
		cmocka_unit_test(test_leafhash_prefix),
		cmocka_unit_test(test_missing_database),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_map_full),
		cmocka_unit_test(test_map_growth),
		cmocka_unit_test(test_read_only_and_bad_dirs),
		cmocka_unit_test(test_corruption),
		cmocka_unit_test(test_crash),
	};

	rng_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
