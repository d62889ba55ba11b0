/* test_proof_batch.c: store_r_inclusion_proofs and store_r_entries_at (the
 * batched reads behind /mn/v1/lookup) give, entry by entry, what
 * store_r_inclusion_proof and store_r_entry give one at a time, and every
 * batched proof verifies on its own against the root of its tree size. The log
 * has NLEAVES leaves, more than one full level-1 tile (65536 leaves), so
 * batches mix leaves that share every tile, share only upper tiles, or share
 * none, and leaves in the incomplete right-edge tiles. Also: batches out of
 * order, with repeats, at older sizes, of 0 and STORE_PROOF_BATCH leaves, and
 * the errors. Works in a mkdtemp directory removed at the end. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/bytes.h"
#include "common/err.h"
#include "merkle/merkle.h"
#include "storage/storage.h"

#define HL MERKLE_HASH_LEN
#define NLEAVES 70001u

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

struct fix {
	char dir[64];
	struct store *s;
	struct merkle_hasher *h;
	uint8_t (*lh)[HL];
	uint8_t (*input)[12];
	uint8_t (*extra)[5];
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct store_options so = {0};
	struct store_leaf *ls;
	struct store_sth sth;
	struct merkle_range range;

	assert_non_null(f);
	f->h = merkle_hasher_new();
	f->lh = malloc((size_t)NLEAVES * HL);
	f->input = malloc((size_t)NLEAVES * sizeof(*f->input));
	f->extra = malloc((size_t)NLEAVES * sizeof(*f->extra));
	ls = calloc(NLEAVES, sizeof(*ls));
	assert_true(f->h && f->lh && f->input && f->extra && ls);
	snprintf(f->dir, sizeof(f->dir), "/tmp/mn-proofbatch-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	so.dir = f->dir;
	so.no_sync = 1;
	so.map_size = 256ull << 20;
	assert_int_equal(store_open(&f->s, &so), 0);
	merkle_range_init(&range);
	for (uint64_t i = 0; i < NLEAVES; i++) {
		mn_put_be64(f->input[i], i);
		memcpy(f->input[i] + 8, "bat", 4);
		memcpy(f->extra[i], "xtra", 4);
		f->extra[i][4] = (uint8_t)i;
		merkle_leaf_hash(f->h, f->lh[i], f->input[i], sizeof(f->input[i]));
		ls[i].leaf_input = f->input[i];
		ls[i].leaf_input_len = sizeof(f->input[i]);
		/* extra and sct of different lengths per leaf */
		ls[i].extra = f->extra[i];
		ls[i].extra_len = 1 + i % 5;
		ls[i].sct = f->extra[i];
		ls[i].sct_len = 5 - i % 5;
		memcpy(ls[i].leaf_hash, f->lh[i], HL);
		memcpy(ls[i].dedup_key, f->lh[i], HL);
		ls[i].dedup_key[0] ^= 0xff;
		assert_int_equal(merkle_range_append(&range, f->h, f->lh[i], NULL, NULL), 0);
	}
	memset(&sth, 0, sizeof(sth));
	sth.tree_size = NLEAVES;
	sth.timestamp = 1;
	merkle_range_root(&range, f->h, sth.root);
	sth.sig_len = 1;
	assert_int_equal(store_append_batch(f->s, ls, NLEAVES, &sth), 0);
	free(ls);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	store_close(f->s);
	assert_int_equal(nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS), 0);
	merkle_hasher_free(f->h);
	free(f->lh);
	free(f->input);
	free(f->extra);
	free(f);
	return 0;
}

static uint8_t proofs[STORE_PROOF_BATCH][MERKLE_MAX_PROOF][HL];

/* check_batch proves index[0..num) at |size| in one batch and checks each
 * proof against the single-proof path and against the root of |size|. */
static void check_batch(struct fix *f, struct store_reader *r, uint64_t size,
			const uint64_t *index, size_t num)
{
	uint8_t one[MERKLE_MAX_PROOF][HL], root[HL];
	size_t nums[STORE_PROOF_BATCH], one_num;

	memset(proofs, 0xee, sizeof(proofs));
	assert_int_equal(store_r_inclusion_proofs(r, size, index, num, proofs, nums), 0);
	assert_int_equal(store_r_root(r, size, root), 0);
	for (size_t i = 0; i < num; i++) {
		assert_int_equal(store_r_inclusion_proof(r, index[i], size, one, &one_num), 0);
		assert_int_equal(nums[i], one_num);
		if (one_num > 0)
			assert_memory_equal(proofs[i], one, one_num * HL);
		assert_true(merkle_verify_inclusion(f->h, f->lh[index[i]], index[i], size,
						    (const uint8_t(*)[HL])proofs[i], nums[i],
						    root));
	}
}

static void test_proofs(void **state)
{
	struct fix *f = *state;
	struct store_reader *r;
	/* leaves 100000 / 16 apart over the tree, like a domain's matches */
	uint64_t spread[STORE_PROOF_BATCH];
	/* one leaf per level-0 tile, some sharing level-1 tiles, some not */
	static const uint64_t tiles[] = {0, 255, 256, 511, 65535, 65536, 65791, 69999};
	/* the same tile, neighbours, a repeat, and descending order */
	static const uint64_t mixed[] = {70000, 12, 13, 12, 69888, 69887, 40000, 1, 0};
	/* leaves in the incomplete right-edge tiles only */
	static const uint64_t edge[] = {69632, 69900, 69990, 70000};
	static const uint64_t sizes[] = {1, 2, 3, 255, 256, 257, 65535, 65536, 65537,
					 69999, NLEAVES};
	size_t nums[STORE_PROOF_BATCH];

	for (size_t i = 0; i < STORE_PROOF_BATCH; i++)
		spread[i] = (12345 + i * 4375) % NLEAVES;
	assert_int_equal(store_read_begin(f->s, &r), 0);
	check_batch(f, r, NLEAVES, spread, STORE_PROOF_BATCH);
	check_batch(f, r, NLEAVES, tiles, sizeof(tiles) / sizeof(tiles[0]));
	check_batch(f, r, NLEAVES, mixed, sizeof(mixed) / sizeof(mixed[0]));
	check_batch(f, r, NLEAVES, edge, sizeof(edge) / sizeof(edge[0]));
	check_batch(f, r, NLEAVES, spread, 1);
	check_batch(f, r, NLEAVES, spread, 0);
	/* older sizes: every leaf below the size, from each list */
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		uint64_t idx[STORE_PROOF_BATCH];
		size_t n = 0;
		const uint64_t *lists[] = {spread, tiles, mixed, edge};
		const size_t lens[] = {STORE_PROOF_BATCH, sizeof(tiles) / sizeof(tiles[0]),
				       sizeof(mixed) / sizeof(mixed[0]),
				       sizeof(edge) / sizeof(edge[0])};
		for (size_t l = 0; l < 4; l++)
			for (size_t i = 0; i < lens[l] && n < STORE_PROOF_BATCH; i++)
				if (lists[l][i] < sizes[s])
					idx[n++] = lists[l][i];
		idx[n < STORE_PROOF_BATCH ? n++ : n - 1] = sizes[s] - 1;
		check_batch(f, r, sizes[s], idx, n);
	}
	/* errors: nothing written, every out_num zero */
	memset(nums, 0xee, sizeof(nums));
	assert_int_equal(store_r_inclusion_proofs(r, NLEAVES, spread, STORE_PROOF_BATCH + 1,
						  proofs, nums),
			 MN_EINVAL);
	{
		uint64_t bad[3] = {5, NLEAVES, 7};
		memset(nums, 0xee, sizeof(nums));
		assert_int_equal(store_r_inclusion_proofs(r, NLEAVES, bad, 3, proofs, nums),
				 MN_EINVAL);
		assert_true(nums[0] == 0 && nums[1] == 0);
		bad[1] = 300;
		assert_int_equal(store_r_inclusion_proofs(r, 300, bad, 3, proofs, nums),
				 MN_EINVAL);
		assert_int_equal(store_r_inclusion_proofs(r, NLEAVES + 1, bad, 1, proofs, nums),
				 MN_EINVAL);
	}
	store_read_end(r);
}

static void test_entries(void **state)
{
	struct fix *f = *state;
	struct store_reader *r;
	static const uint64_t idx[] = {70000, 0, 1, 65536, 12345, 12345, 69999, 4, 3, 2};
	struct store_entry got[16], one;

	assert_int_equal(store_read_begin(f->s, &r), 0);
	memset(got, 0, sizeof(got));
	assert_int_equal(store_r_entries_at(r, idx, sizeof(idx) / sizeof(idx[0]), got), 0);
	for (size_t i = 0; i < sizeof(idx) / sizeof(idx[0]); i++) {
		uint64_t k = idx[i];
		assert_int_equal(store_r_entry(r, k, &one), 0);
		assert_int_equal(got[i].leaf_input_len, sizeof(f->input[k]));
		assert_memory_equal(got[i].leaf_input, f->input[k], sizeof(f->input[k]));
		assert_int_equal(got[i].extra_len, 1 + k % 5);
		assert_memory_equal(got[i].extra, f->extra[k], got[i].extra_len);
		assert_int_equal(got[i].sct_len, 5 - k % 5);
		assert_memory_equal(got[i].sct, f->extra[k], got[i].sct_len);
		assert_ptr_equal(got[i].leaf_input, one.leaf_input);
		assert_ptr_equal(got[i].extra, one.extra);
	}
	assert_int_equal(store_r_entries_at(r, idx, 0, got), 0);
	{
		const uint64_t bad[] = {1, NLEAVES};
		assert_int_equal(store_r_entries_at(r, bad, 2, got), MN_ENOTFOUND);
	}
	store_read_end(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proofs),
		cmocka_unit_test(test_entries),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
