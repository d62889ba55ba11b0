/* test_edge.c: merkle_edge (merkle_edge_from_range, merkle_edge_compute) and
 * the proofs that take one, against the naive RFC 6962 reference in
 * tests/lib/refmerkle.c for every tree of 1..300 leaves; on huge synthetic
 * trees, that an edge of the proof's size makes a proof one read per node
 * (none for the node taken from the edge) and no hashing, and that an edge of another size changes nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/err.h"
#include "merkle/merkle.h"
#include "tests/lib/refmerkle.h"

#define HL MERKLE_HASH_LEN
#define TMAX 300

struct fix {
	struct merkle_hasher *h;
	struct refmerkle *ref;
	uint8_t leaves[TMAX][HL];
	uint64_t bound; /* tree size the getter serves */
	uint64_t calls;
};

/* ref_get serves perfect subtrees of D[0:bound] from the reference. */
static int ref_get(void *ctx, unsigned level, uint64_t index, uint8_t out[HL])
{
	struct fix *f = ctx;

	f->calls++;
	assert_true(level < 16);
	assert_true(index < (f->bound >> level));
	refmerkle_mth(f->ref, index << level, (index + 1) << level, out);
	return 0;
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->h = merkle_hasher_new();
	assert_non_null(f->h);
	for (int i = 0; i < TMAX; i++) {
		uint8_t data[2] = {(uint8_t)(i >> 8), (uint8_t)i};

		refmerkle_leaf_hash(f->leaves[i], data, sizeof(data));
	}
	f->ref = refmerkle_new((const uint8_t(*)[HL])f->leaves, TMAX);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	refmerkle_free(f->ref);
	merkle_hasher_free(f->h);
	free(f);
	return 0;
}

/* check_edge: roots[j] == MTH(D[start_j:n]) for every set bit j of n. */
static void check_edge(struct fix *f, const struct merkle_edge *e, uint64_t n)
{
	uint8_t want[HL];

	assert_int_equal(e->size, n);
	for (unsigned j = 0; j < 64; j++) {
		uint64_t start;

		if (!((n >> j) & 1))
			continue;
		start = n & ~(((uint64_t)2 << j) - 1);
		refmerkle_mth(f->ref, start, n, want);
		assert_memory_equal(e->roots[j], want, HL);
	}
}

static void test_edge_sweep(void **state)
{
	struct fix *f = *state;
	struct merkle_range r;
	struct merkle_edge e1, e2, other;
	uint8_t proof[MERKLE_MAX_PROOF][HL], want[REF_MAX_PROOF][HL];
	size_t num, want_num;

	merkle_range_init(&r);
	memset(&other, 0xa5, sizeof(other));
	for (uint64_t n = 1; n <= TMAX; n++) {
		assert_int_equal(merkle_range_append(&r, f->h, f->leaves[n - 1], NULL,
						     NULL),
				 0);
		f->bound = n;
		merkle_edge_from_range(&e1, &r, f->h);
		check_edge(f, &e1, n);
		f->calls = 0;
		assert_int_equal(merkle_edge_compute(&e2, ref_get, f, f->h, n), 0);
		assert_int_equal(f->calls, (uint64_t)__builtin_popcountll(n));
		check_edge(f, &e2, n);
		/* an edge of a bigger tree (wrong size, garbage roots) is ignored */
		other.size = n + 1;
		for (uint64_t i = 0; i < n; i++) {
			const struct merkle_edge *edges[3] = {&e1, NULL, &other};

			want_num = refmerkle_path(f->ref, i, n, want);
			for (int k = 0; k < 3; k++) {
				f->calls = 0;
				assert_int_equal(merkle_inclusion_proof_edge(
							 ref_get, f, f->h, edges[k], i, n,
							 proof, &num),
						 0);
				assert_int_equal(num, want_num);
				assert_memory_equal(proof, want, num * HL);
				if (k == 0) /* a read per node but one from the edge */
					assert_true(f->calls <= num && f->calls + 1 >= num);
			}
		}
		for (uint64_t m = 1; m <= n; m++) {
			const struct merkle_edge *edges[3] = {&e2, NULL, &other};

			want_num = refmerkle_proof(f->ref, m, n, want);
			for (int k = 0; k < 3; k++) {
				f->calls = 0;
				assert_int_equal(merkle_consistency_proof_edge(
							 ref_get, f, f->h, edges[k], m, n,
							 proof, &num),
						 0);
				assert_int_equal(num, want_num);
				assert_memory_equal(proof, want, num * HL);
				if (k == 0)
					assert_true(f->calls <= num && f->calls + 1 >= num);
			}
		}
		/* errors as the plain functions */
		assert_int_equal(merkle_inclusion_proof_edge(ref_get, f, f->h, &e1, n, n,
							     proof, &num),
				 MN_EINVAL);
		assert_int_equal(num, 0);
		assert_int_equal(merkle_consistency_proof_edge(ref_get, f, f->h, &e1,
							       n + 1, n, proof, &num),
				 MN_EINVAL);
		assert_int_equal(merkle_consistency_proof_edge(ref_get, f, f->h, &e1, 0,
							       n, proof, &num),
				 0);
		assert_int_equal(num, 0);
	}
	assert_int_equal(merkle_edge_compute(&e1, ref_get, f, f->h, 0), MN_EINVAL);
	merkle_range_init(&r);
	merkle_edge_from_range(&e1, &r, f->h);
	assert_int_equal(e1.size, 0);
}

/* ---- huge synthetic trees ---- */

struct fake {
	struct merkle_hasher *h;
	uint64_t size, calls, fail_at;
};

/* fake_get: SHA-256(level || index) for every perfect node inside D[0:size];
 * fails with MN_EIO at call number fail_at (0: never). */
static int fake_get(void *ctx, unsigned level, uint64_t index, uint8_t out[HL])
{
	struct fake *f = ctx;
	uint8_t buf[9];

	f->calls++;
	assert_true(level < 64);
	assert_true(index < (f->size >> level));
	if (f->calls == f->fail_at)
		return MN_EIO;
	buf[0] = (uint8_t)level;
	mn_put_be64(buf + 1, index);
	merkle_sha256(f->h, out, buf, sizeof(buf));
	return 0;
}

static void test_edge_big(void **state)
{
	static const uint64_t sizes[] = {1000000000000ull, (1ull << 40) - 1,
					 (1ull << 40) + 1, UINT64_MAX,
					 UINT64_MAX - 1, 1ull << 63, 10000000};
	uint8_t p1[MERKLE_MAX_PROOF][HL], p2[MERKLE_MAX_PROOF][HL], root[HL];
	struct merkle_edge e;
	struct fake f = {0};
	uint64_t lcg = 99;
	size_t n1, n2;

	(void)state;
	f.h = merkle_hasher_new();
	assert_non_null(f.h);
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		uint64_t n = sizes[s];

		f.size = n;
		f.calls = 0;
		assert_int_equal(merkle_edge_compute(&e, fake_get, &f, f.h, n), 0);
		assert_int_equal(f.calls, (uint64_t)__builtin_popcountll(n));
		/* the top suffix is the tree's root */
		assert_int_equal(merkle_subtree_root(fake_get, &f, f.h, 0, n, root), 0);
		assert_memory_equal(e.roots[63 - __builtin_clzll(n)], root, HL);
		/* a failing read comes back, at each read in turn */
		for (uint64_t k = 1; k <= (uint64_t)__builtin_popcountll(n); k++) {
			struct merkle_edge tmp;

			f.fail_at = k;
			f.calls = 0;
			assert_int_equal(merkle_edge_compute(&tmp, fake_get, &f, f.h, n),
					 MN_EIO);
		}
		f.fail_at = 0;
		for (int j = 0; j < 40; j++) {
			uint64_t i, m;

			lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
			i = j == 0 ? 0 : j == 1 ? n - 1 : j == 2 ? n - 2 : lcg % n;
			assert_int_equal(merkle_inclusion_proof(fake_get, &f, f.h, i, n,
								p1, &n1),
					 0);
			f.calls = 0;
			assert_int_equal(merkle_inclusion_proof_edge(fake_get, &f, f.h, &e,
								     i, n, p2, &n2),
					 0);
			assert_int_equal(n1, n2);
			assert_true(f.calls <= n2 && f.calls + 1 >= n2);
			assert_memory_equal(p1, p2, n1 * HL);

			m = j == 0 ? 1 : j == 1 ? n - 1 : i + 1;
			assert_int_equal(merkle_consistency_proof(fake_get, &f, f.h, m, n,
								  p1, &n1),
					 0);
			f.calls = 0;
			assert_int_equal(merkle_consistency_proof_edge(fake_get, &f, f.h,
								       &e, m, n, p2, &n2),
					 0);
			assert_int_equal(n1, n2);
			assert_true(f.calls <= n2 && f.calls + 1 >= n2);
			assert_memory_equal(p1, p2, n1 * HL);
		}
	}
	merkle_hasher_free(f.h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_edge_sweep, setup, teardown),
		cmocka_unit_test(test_edge_big),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
