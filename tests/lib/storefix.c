/* storefix.c: see storefix.h. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/bytes.h"
#include "common/err.h"
#include "merkle/merkle.h"
#include "storage/storage.h"
#include "tests/lib/refmerkle.h"
#include "tests/lib/storefix.h"

#define HL MERKLE_HASH_LEN

uint64_t storefix_seed;

uint64_t storefix_splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rng_state;
uint64_t storefix_rnd(uint64_t n)
{
	return storefix_splitmix(&rng_state) % n;
}

void storefix_rng_init(const char *prog)
{
	const char *e = getenv("MN_TEST_SEED");

	storefix_seed = e != NULL ? strtoull(e, NULL, 0)
				  : (uint64_t)time(NULL) ^ (uint64_t)getpid();
	rng_state = storefix_seed;
	fprintf(stderr, "%s: MN_TEST_SEED=%" PRIu64 "\n", prog, storefix_seed);
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void storefix_make_tmp(char dir[64])
{
	snprintf(dir, 64, "/tmp/mn-storage-XXXXXX");
	assert_non_null(mkdtemp(dir));
}

void storefix_rm_tmp(const char *dir)
{
	chmod(dir, 0700);
	assert_int_equal(nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS), 0);
}

void storefix_fill(uint64_t x, uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)storefix_splitmix(&x);
}

void storefix_gen_leaf(struct storefix_gen *g, uint64_t idx, uint64_t variant)
{
	uint64_t x = idx * 7919 + variant * 104729;

	mn_put_be64(g->input, idx);
	g->input_len = 8 + storefix_splitmix(&x) % 57;
	storefix_fill(x + 1, g->input + 8, g->input_len - 8);
	g->extra_len = storefix_splitmix(&x) % 41;
	storefix_fill(x + 2, g->extra, g->extra_len);
	g->sct_len = 1 + storefix_splitmix(&x) % 20;
	storefix_fill(x + 3, g->sct, g->sct_len);
}

void storefix_dedup_key(uint8_t out[32], uint64_t idx)
{
	memset(out, 0xd0, 32);
	mn_put_be64(out, idx);
}

void storefix_make_leaves(struct store_leaf *leaves, struct storefix_gen *gens,
			  uint64_t start, size_t num, uint64_t variant)
{
	for (size_t i = 0; i < num; i++) {
		struct storefix_gen *g = &gens[i];
		struct store_leaf *l = &leaves[i];

		storefix_gen_leaf(g, start + i, variant);
		memset(l, 0, sizeof(*l));
		l->leaf_input = g->input;
		l->leaf_input_len = g->input_len;
		l->extra = g->extra;
		l->extra_len = g->extra_len;
		l->sct = g->sct;
		l->sct_len = g->sct_len;
		refmerkle_leaf_hash(l->leaf_hash, g->input, g->input_len);
		storefix_dedup_key(l->dedup_key, start + i);
	}
}

void storefix_make_sth(struct store_sth *sth, uint64_t size, uint64_t ts,
		       const uint8_t root[HL])
{
	memset(sth, 0, sizeof(*sth));
	sth->tree_size = size;
	sth->timestamp = ts;
	memcpy(sth->root, root, HL);
	sth->sig_len = (uint16_t)(4 + size % 70); /* signing is another layer */
	storefix_fill(size ^ ts, sth->sig, sth->sig_len);
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

void storefix_check_entry(const struct store_entry *e, uint64_t idx, uint64_t variant)
{
	struct storefix_gen g;

	storefix_gen_leaf(&g, idx, variant);
	assert_int_equal(e->leaf_input_len, g.input_len);
	assert_memory_equal(e->leaf_input, g.input, g.input_len);
	assert_int_equal(e->extra_len, g.extra_len);
	if (g.extra_len > 0)
		assert_memory_equal(e->extra, g.extra, g.extra_len);
	assert_int_equal(e->sct_len, g.sct_len);
	assert_memory_equal(e->sct, g.sct, g.sct_len);
}

uint64_t storefix_tree_size_of(struct store *s)
{
	struct merkle_range r;

	store_get_range(s, &r);
	return r.size;
}

void storefix_model_init(struct storefix_model *m, uint64_t cap, size_t batch_cap)
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

void storefix_model_free(struct storefix_model *m)
{
	free(m->lh);
	free(m->sizes);
	free(m->roots);
}

int storefix_model_append(struct storefix_model *m, struct store *s,
			  struct merkle_hasher *h, size_t num)
{
	struct store_leaf *leaves = calloc(num ? num : 1, sizeof(*leaves));
	struct storefix_gen *gens = calloc(num ? num : 1, sizeof(*gens));
	struct merkle_range next = m->range;
	struct store_sth sth;
	uint8_t root[HL];
	int ret;

	assert_non_null(leaves);
	assert_non_null(gens);
	assert_true(m->size + num <= m->cap);
	storefix_make_leaves(leaves, gens, m->size, num, m->variant);
	for (size_t i = 0; i < num; i++)
		assert_int_equal(merkle_range_append(&next, h, leaves[i].leaf_hash, NULL,
						     NULL), 0);
	merkle_range_root(&next, h, root);
	storefix_make_sth(&sth, m->size + num, m->ts + 1, root);
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

void storefix_check_log(struct store *s, struct storefix_model *m, int thorough)
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
	assert_int_equal(storefix_tree_size_of(s), n);
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
		uint64_t k = 1 + storefix_rnd(n);
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
		size_t sz = 1 + storefix_rnd(small), ix = storefix_rnd(sz);
		size_t sz1 = 1 + storefix_rnd(sz), rn;

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
		uint64_t sz = 1 + storefix_rnd(n), ix = storefix_rnd(sz);

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
		uint64_t s2 = 1 + storefix_rnd(n), s1 = 1 + storefix_rnd(s2);

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
		size_t want = 1 + storefix_rnd(300), got_num;

		assert_err(store_r_entries(r, idx, want, ents, &got_num), 0);
		assert_int_equal(got_num, want < n - idx ? want : n - idx);
		for (size_t j = 0; j < got_num; j++)
			storefix_check_entry(&ents[j], idx + j, m->variant);
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
		idx = storefix_rnd(n);
		assert_err(store_r_entry(r, idx, &e), 0);
		storefix_check_entry(&e, idx, m->variant);
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
		storefix_dedup_key(key, idx);
		found = UINT64_MAX;
		assert_err(store_r_dedup(r, key, &found), 0);
		assert_int_equal(found, idx);
	}
	{
		uint8_t key[32];
		storefix_dedup_key(key, n);
		assert_err(store_r_dedup(r, key, &idx), MN_ENOTFOUND);
		memset(got, 0x5a, HL);
		assert_err(store_r_index_by_hash(r, got, &idx), MN_ENOTFOUND);
	}
	store_read_end(r);
	merkle_hasher_free(h);
}

struct store_options storefix_opts(const char *dir)
{
	struct store_options o;

	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.no_sync = 1;
	return o;
}

void storefix_expect_unchanged(struct store *s, struct storefix_model *m)
{
	struct store_reader *r;
	struct store_sth sth;

	assert_int_equal(storefix_tree_size_of(s), m->size);
	assert_err(store_read_begin(s, &r), 0);
	assert_int_equal(store_r_tree_size(r), m->size);
	assert_err(store_r_sth(r, &sth), 0);
	assert_int_equal(sth.timestamp, m->ts);
	store_read_end(r);
}

