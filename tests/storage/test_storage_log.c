/* test_storage_log.c: the log storage/ keeps, against independent
 * computations (tests/lib/storefix): an empty store, notes stored with their
 * STH, 100k leaves appended in random batches, upper tiles copied by the
 * readers that prove against them, and the leaf-hash index's 8-byte prefixes.
 * Every test works in its own mkdtemp directory, removed at the end. Set
 * MN_TEST_SEED to replay a run. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/bytes.h"
#include "common/err.h"
#include "merkle/merkle.h"
#include "storage/storage.h"
#include "tests/lib/refmerkle.h"
#include "tests/lib/storefix.h"

#define HL MERKLE_HASH_LEN

static void test_empty(void **state)
{
	char dir[64], sub[128];
	struct store *s;
	struct store_options o;
	struct storefix_model m;

	(void)state;
	storefix_make_tmp(dir);
	snprintf(sub, sizeof(sub), "%s/new", dir); /* created by store_open */
	o = storefix_opts(sub);
	storefix_model_init(&m, 1, 1);
	assert_err(store_open(&s, &o), 0);
	assert_int_equal(store_has_sth(s), 0);
	storefix_check_log(s, &m, 0);
	store_close(s);
	assert_err(store_open(&s, &o), 0);
	assert_int_equal(store_has_sth(s), 0);
	assert_int_equal(storefix_tree_size_of(s), 0);
	{
		/* The first STH of a new log: size 0, the empty root. */
		struct store_sth sth, got;
		struct store_reader *r;
		uint8_t root[HL];

		memset(root, 0, HL);
		storefix_make_sth(&sth, 0, 5, root);
		assert_err(store_append_batch(s, NULL, 0, &sth), MN_EINVAL);
		merkle_empty_root(root);
		storefix_make_sth(&sth, 0, 5, root);
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
	storefix_model_free(&m);
	storefix_rm_tmp(dir);
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
	storefix_make_tmp(dir);
	o = storefix_opts(dir);
	assert_err(store_open(&s, &o), 0);
	merkle_empty_root(root);
	storefix_make_sth(&sth, 0, 5, root);
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
	storefix_make_sth(&sth, 0, 6, root);
	assert_err(store_append_batch_note(s, NULL, 0, &sth, (const uint8_t *)n2, sizeof(n2) - 1),
		   0);
	assert_err(store_read_begin(s, &r), 0);
	assert_err(store_r_note(r, &got, &got_len), 0);
	assert_int_equal(got_len, sizeof(n2) - 1);
	assert_memory_equal(got, n2, got_len);
	store_read_end(r);
	storefix_make_sth(&sth, 0, 7, root);
	assert_err(store_append_batch(s, NULL, 0, &sth), 0);
	assert_err(store_read_begin(s, &r), 0);
	assert_err(store_r_note(r, &got, &got_len), MN_ENOTFOUND);
	store_read_end(r);
	store_close(s);
	storefix_rm_tmp(dir);
}

static void test_append_100k(void **state)
{
	char dir[64];
	struct store *s;
	struct store_options o;
	struct merkle_hasher *h = merkle_hasher_new();
	struct storefix_model m;
	const uint64_t total = 100000;

	(void)state;
	storefix_make_tmp(dir);
	o = storefix_opts(dir);
	storefix_model_init(&m, total + 10, 1000);
	assert_err(store_open(&s, &o), 0);
	while (m.size < total) {
		size_t num = 1 + storefix_rnd(2000);

		if (num > total - m.size)
			num = total - m.size;
		assert_err(storefix_model_append(&m, s, h, num), 0);
		assert_int_equal(storefix_tree_size_of(s), m.size);
	}
	assert_int_equal(store_has_sth(s), 1);
	storefix_check_log(s, &m, 1);
	store_close(s);

	/* Reopen: the open-time check passes and everything still holds; the
	 * writer continues where it stopped. */
	assert_err(store_open(&s, &o), 0);
	storefix_check_log(s, &m, 0);
	assert_err(storefix_model_append(&m, s, h, 7), 0);
	storefix_check_log(s, &m, 0);
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
	storefix_model_free(&m);
	merkle_hasher_free(h);
	storefix_rm_tmp(dir);
}


/* append_with_hashes appends |num| leaves (from make_leaves at the model's
 * size) whose leaf hashes are |lh| instead of their own, with a right STH;
 * returns store_append_batch's answer and, on success, moves the model. */
static int append_with_hashes(struct storefix_model *m, struct store *s, struct merkle_hasher *h,
			      const uint8_t (*lh)[HL], size_t num)
{
	struct store_leaf leaves[4];
	struct storefix_gen gens[4];
	struct store_sth sth;
	struct merkle_range next = m->range;
	uint8_t root[HL];
	int rc;

	storefix_make_leaves(leaves, gens, m->size, num, 0);
	for (size_t i = 0; i < num; i++) {
		memcpy(leaves[i].leaf_hash, lh[i], HL);
		assert_int_equal(merkle_range_append(&next, h, lh[i], NULL, NULL), 0);
	}
	merkle_range_root(&next, h, root);
	storefix_make_sth(&sth, m->size + num, m->ts + 1, root);
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
	struct storefix_model m;
	struct store_reader *old, *r;
	uint8_t lh[5][HL], other[HL], fresh[HL];
	uint64_t idx;

	(void)state;
	storefix_make_tmp(dir);
	o = storefix_opts(dir);
	storefix_model_init(&m, 100, 100);
	assert_err(store_open(&s, &o), 0);
	assert_err(storefix_model_append(&m, s, h, 10), 0);
	for (int i = 0; i < 5; i++) {
		memset(lh[i], 0xa5, 8);         /* one prefix for all */
		storefix_fill(1000 + (uint64_t)i, lh[i] + 8, HL - 8);
	}
	memcpy(other, lh[0], 8);
	storefix_fill(2000, other + 8, HL - 8);

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
	storefix_expect_unchanged(s, &m);

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
	storefix_check_log(s, &m, 0);
	store_close(s);
	storefix_model_free(&m);
	merkle_hasher_free(h);
	storefix_rm_tmp(dir);
}

/* raw_db_exists / raw_drop_db: the store's file through LMDB itself. */

struct upper_ctx {
	struct store *s;
	const struct storefix_model *m;
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
		const struct storefix_model *m = c->m;
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
	struct storefix_model m;
	struct upper_ctx c[4];
	pthread_t th[4];
	struct store_stats st;
	const uint64_t total = 140000;

	(void)state;
	storefix_make_tmp(dir);
	o = storefix_opts(dir);
	storefix_model_init(&m, total, 100);
	assert_err(store_open(&s, &o), 0);
	while (m.size < total)
		assert_err(storefix_model_append(&m, s, h, (size_t)(total / 50)), 0);
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
	storefix_model_free(&m);
	merkle_hasher_free(h);
	storefix_rm_tmp(dir);
}

/* expect_unchanged: the store still shows exactly the model's log. */

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_note),
		cmocka_unit_test(test_append_100k),
		cmocka_unit_test(test_upper_tiles),
		cmocka_unit_test(test_leafhash_prefix),
	};

	storefix_rng_init("test_storage_log");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
