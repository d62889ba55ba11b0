/* test_proof_cache.c: proofs through a reader's cached right edges
 * (store_reader.edges, storage/reader.c) equal RFC 6962 PATH and PROOF from
 * the naive reference in tests/lib/refmerkle.c (no merkle/ code): at the
 * snapshot's size, at an older size asked for twice (cached) or once (not),
 * after the cache evicts, and with readers reused from the free list across
 * later snapshots (an edge cached at an old size must still be right). Works in
 * a mkdtemp directory removed at the end. */
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
#include "tests/lib/refmerkle.h"

#define HL MERKLE_HASH_LEN
#define NLEAVES 700

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
	struct refmerkle *ref;
	uint8_t lh[NLEAVES][HL];
	uint8_t input[NLEAVES][12];
	uint64_t size;
};

/* append leaves [f->size, n) with the reference root as the STH root */
static void append_to(struct fix *f, uint64_t n)
{
	struct store_leaf ls[NLEAVES];
	struct store_sth sth;
	size_t num = 0;

	memset(ls, 0, sizeof(ls));
	memset(&sth, 0, sizeof(sth));
	for (uint64_t i = f->size; i < n; i++, num++) {
		ls[num].leaf_input = f->input[i];
		ls[num].leaf_input_len = sizeof(f->input[i]);
		ls[num].extra = f->input[i];
		ls[num].sct = f->input[i];
		ls[num].sct_len = 1;
		memcpy(ls[num].leaf_hash, f->lh[i], HL);
		memcpy(ls[num].dedup_key, f->lh[i], HL);
		ls[num].dedup_key[0] ^= 0xff;
	}
	sth.tree_size = n;
	sth.timestamp = n;
	refmerkle_mth(f->ref, 0, n, sth.root);
	sth.sig_len = 1;
	assert_int_equal(store_append_batch(f->s, ls, num, &sth), 0);
	f->size = n;
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct store_options so = {0};

	assert_non_null(f);
	for (uint64_t i = 0; i < NLEAVES; i++) {
		mn_put_be64(f->input[i], i);
		memcpy(f->input[i] + 8, "edge", 4);
		refmerkle_leaf_hash(f->lh[i], f->input[i], sizeof(f->input[i]));
	}
	f->ref = refmerkle_new((const uint8_t(*)[HL])f->lh, NLEAVES);
	snprintf(f->dir, sizeof(f->dir), "/tmp/mn-proofcache-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	so.dir = f->dir;
	so.no_sync = 1;
	so.map_size = 64ull << 20;
	assert_int_equal(store_open(&f->s, &so), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	store_close(f->s);
	assert_int_equal(nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS), 0);
	refmerkle_free(f->ref);
	free(f);
	return 0;
}

/* check_size checks every inclusion proof (or a stride of them), consistency
 * proofs from every size1 (or a stride) and the root, all at |n|. */
static void check_size(struct fix *f, struct store_reader *r, uint64_t n)
{
	uint8_t proof[MERKLE_MAX_PROOF][HL], want[REF_MAX_PROOF][HL], root[HL];
	uint64_t step = n / 64 + 1;
	size_t num, want_num;

	for (uint64_t i = 0; i < n; i += step) {
		assert_int_equal(store_r_inclusion_proof(r, i, n, proof, &num), 0);
		want_num = refmerkle_path(f->ref, i, n, want);
		assert_int_equal(num, want_num);
		if (num > 0)
			assert_memory_equal(proof, want, num * HL);
	}
	assert_int_equal(store_r_inclusion_proof(r, n - 1, n, proof, &num), 0);
	want_num = refmerkle_path(f->ref, n - 1, n, want);
	assert_int_equal(num, want_num);
	if (num > 0)
		assert_memory_equal(proof, want, num * HL);
	for (uint64_t m = 1; m <= n; m += step) {
		assert_int_equal(store_r_consistency_proof(r, m, n, proof, &num), 0);
		want_num = refmerkle_proof(f->ref, m, n, want);
		assert_int_equal(num, want_num);
		if (num > 0)
			assert_memory_equal(proof, want, num * HL);
	}
	assert_int_equal(store_r_root(r, n, root), 0);
	refmerkle_mth(f->ref, 0, n, want[0]);
	assert_memory_equal(root, want[0], HL);
}

static void test_cached_edges(void **state)
{
	static const uint64_t sizes[] = {1, 2, 3, 7, 8, 13, 64, 100, 255, 256, 257,
					 300, 511, 601, 699, NLEAVES};
	struct fix *f = *state;
	struct store_reader *r;
	uint8_t proof[MERKLE_MAX_PROOF][HL];
	size_t num;

	for (size_t b = 0; b < sizeof(sizes) / sizeof(sizes[0]); b++) {
		uint64_t n = sizes[b];

		append_to(f, n);
		assert_int_equal(store_read_begin(f->s, &r), 0);
		assert_int_equal(store_r_tree_size(r), n);
		/* the snapshot's size (cached at the first proof), twice */
		check_size(f, r, n);
		check_size(f, r, n);
		/* every older size: the first proof misses, later ones hit; sizes
		 * come back after more than STORE__NUM_EDGES others evicted them,
		 * and from readers reused over earlier snapshots */
		for (size_t a = 0; a < b; a++)
			check_size(f, r, sizes[a]);
		for (size_t a = b; a-- > 0;)
			check_size(f, r, sizes[a]);
		/* out of range as before */
		assert_int_equal(store_r_inclusion_proof(r, 0, n + 1, proof, &num),
				 MN_EINVAL);
		assert_int_equal(store_r_consistency_proof(r, 1, n + 1, proof, &num),
				 MN_EINVAL);
		store_read_end(r);
	}
	/* many readers at once (beyond the free list), each with its own cache */
	{
		struct store_reader *rs[20];

		for (int i = 0; i < 20; i++) {
			assert_int_equal(store_read_begin(f->s, &rs[i]), 0);
			check_size(f, rs[i], NLEAVES - (uint64_t)i % 3);
		}
		for (int i = 0; i < 20; i++)
			store_read_end(rs[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cached_edges, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
