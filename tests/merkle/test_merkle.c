/* test_merkle.c: merkle/ against known answers (FIPS 180 SHA-256, the 8-leaf
 * tree of google/certificate-transparency cpp/merkletree/merkle_tree_test.cc)
 * and against the naive RFC 6962 reference in tests/lib/refmerkle.c for every
 * tree of 1..300 leaves: compact-range roots and node reports, every
 * inclusion and consistency proof, their verification, and the mutations of
 * transparency-dev/merkle testdata (flipped bits, wrong index/size/root,
 * truncated and extended proofs). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/bytes.h"
#include "common/err.h"
#include "merkle/merkle.h"
#include "tests/lib/refmerkle.h"

#define HL MERKLE_HASH_LEN

static size_t unhex(uint8_t *out, size_t cap, const char *hex)
{
	size_t n = strlen(hex) / 2;
	unsigned v;

	assert_true(strlen(hex) % 2 == 0);
	assert_true(n <= cap);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

static void assert_hash_hex(const uint8_t h[HL], const char *hex)
{
	uint8_t want[HL];

	assert_int_equal(unhex(want, sizeof(want), hex), HL);
	assert_memory_equal(h, want, HL);
}

/* ---- an in-memory node table, filled by the range's node callback ---- */

#define TMAX 300
#define TLEVELS 9 /* 2^8 = 256 <= 300 < 512 */

struct table {
	uint8_t hash[TLEVELS][TMAX][HL];
	uint8_t known[TLEVELS][TMAX];
	struct refmerkle *ref; /* to check each report as it arrives */
	uint64_t size_after;   /* size once the current append finishes */
	int next_level;        /* level the next report must have */
	uint64_t reports;
	uint64_t bound; /* get: only nodes inside D[0:bound] exist */
	uint64_t gets;
};

static void table_node(void *ctx, unsigned level, uint64_t index,
		       const uint8_t hash[HL])
{
	struct table *t = ctx;
	uint8_t want[HL];

	/* bottom-up, starting at the leaf, each node ending at the new edge */
	assert_int_equal(level, t->next_level);
	t->next_level++;
	assert_true(level < TLEVELS);
	assert_true(index < TMAX);
	assert_int_equal((index + 1) << level, t->size_after);
	assert_false(t->known[level][index]);
	refmerkle_mth(t->ref, index << level, (index + 1) << level, want);
	assert_memory_equal(hash, want, HL);
	memcpy(t->hash[level][index], hash, HL);
	t->known[level][index] = 1;
	t->reports++;
}

static int table_get(void *ctx, unsigned level, uint64_t index, uint8_t out[HL])
{
	struct table *t = ctx;

	t->gets++;
	if (level >= TLEVELS || index >= TMAX || !t->known[level][index] ||
	    ((index + 1) << level) > t->bound)
		return MN_ENOTFOUND;
	memcpy(out, t->hash[level][index], HL);
	return 0;
}

/* ---- known answers ---- */

static const char *const ct_inputs[8] = {
	"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
	"606162636465666768696a6b6c6d6e6f",
};
static const char *const ct_roots[8] = {
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

/* kSHA256Paths, with the file's 1-based leaf numbers made 0-based indices. */
static const struct {
	uint64_t index, size;
	size_t num;
	const char *path[3];
} ct_paths[] = {
	{0, 1, 0, {NULL}},
	{0, 8, 3,
	 {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
	  "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	  "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
	{5, 8, 3,
	 {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
	  "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
	  "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
	{2, 3, 1,
	 {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
	{1, 5, 3,
	 {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	  "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	  "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
};

/* kSHA256Proofs */
static const struct {
	uint64_t size1, size2;
	size_t num;
	const char *proof[3];
} ct_proofs[] = {
	{1, 1, 0, {NULL}},
	{1, 8, 3,
	 {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
	  "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	  "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
	{6, 8, 3,
	 {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
	  "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
	  "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
	{2, 5, 2,
	 {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	  "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
};

static void test_hash_known_answers(void **state)
{
	struct merkle_hasher *h = merkle_hasher_new();
	uint8_t out[HL], ref[HL];

	(void)state;
	assert_non_null(h);
	merkle_empty_root(out);
	assert_hash_hex(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	merkle_sha256(h, out, NULL, 0);
	assert_hash_hex(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	/* FIPS 180-2 appendix B.1 */
	merkle_sha256(h, out, (const uint8_t *)"abc", 3);
	assert_hash_hex(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	/* FIPS 180-2 appendix B.2 (two blocks) */
	merkle_sha256(h, out,
		      (const uint8_t *)"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		      56);
	assert_hash_hex(out, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	merkle_leaf_hash(h, out, NULL, 0);
	assert_hash_hex(out, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
	refmerkle_leaf_hash(ref, NULL, 0);
	assert_memory_equal(out, ref, HL);

	/* node hash against the reference, including |out| aliasing an input */
	{
		uint8_t l[HL], r[HL], want[HL], tmp[HL];

		merkle_leaf_hash(h, l, (const uint8_t *)"left", 4);
		merkle_leaf_hash(h, r, (const uint8_t *)"right", 5);
		refmerkle_node_hash(want, l, r);
		merkle_node_hash(h, tmp, l, r);
		assert_memory_equal(tmp, want, HL);
		memcpy(tmp, l, HL);
		merkle_node_hash(h, tmp, tmp, r);
		assert_memory_equal(tmp, want, HL);
		memcpy(tmp, r, HL);
		merkle_node_hash(h, tmp, l, tmp);
		assert_memory_equal(tmp, want, HL);
		/* order matters */
		merkle_node_hash(h, tmp, r, l);
		assert_memory_not_equal(tmp, want, HL);
	}
	merkle_hasher_free(h);
	merkle_hasher_free(NULL);
}

/* The 8-leaf tree: roots after each append, and the node table for proofs. */
struct ct_tree {
	struct merkle_hasher *h;
	struct merkle_range r;
	uint8_t leaves[8][HL];
	struct table *t;
};

static void ct_tree_build(struct ct_tree *ct)
{
	uint8_t data[16], root[HL];

	ct->h = merkle_hasher_new();
	assert_non_null(ct->h);
	ct->t = calloc(1, sizeof(*ct->t));
	assert_non_null(ct->t);
	merkle_range_init(&ct->r);
	merkle_range_root(&ct->r, ct->h, root);
	assert_hash_hex(root, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	for (int i = 0; i < 8; i++) {
		size_t len = unhex(data, sizeof(data), ct_inputs[i]);

		merkle_leaf_hash(ct->h, ct->leaves[i], data, len);
	}
	ct->t->ref = refmerkle_new((const uint8_t(*)[HL])ct->leaves, 8);
	for (int i = 0; i < 8; i++) {
		ct->t->size_after = (uint64_t)i + 1;
		ct->t->next_level = 0;
		assert_int_equal(merkle_range_append(&ct->r, ct->h, ct->leaves[i],
						     table_node, ct->t),
				 0);
		assert_int_equal(ct->r.size, (uint64_t)i + 1);
		merkle_range_root(&ct->r, ct->h, root);
		assert_hash_hex(root, ct_roots[i]);
	}
	ct->t->bound = 8;
}

static void ct_tree_free(struct ct_tree *ct)
{
	refmerkle_free(ct->t->ref);
	free(ct->t);
	merkle_hasher_free(ct->h);
}

static void test_ct_roots(void **state)
{
	struct ct_tree ct;
	uint8_t root[HL];

	(void)state;
	ct_tree_build(&ct);
	for (uint64_t n = 1; n <= 8; n++) {
		refmerkle_mth(ct.t->ref, 0, n, root);
		assert_hash_hex(root, ct_roots[n - 1]);
		assert_int_equal(merkle_subtree_root(table_get, ct.t, ct.h, 0, n, root), 0);
		assert_hash_hex(root, ct_roots[n - 1]);
	}
	ct_tree_free(&ct);
}

static void test_ct_inclusion_vectors(void **state)
{
	struct ct_tree ct;
	uint8_t proof[MERKLE_MAX_PROOF][HL], want[HL], root[HL];
	size_t num;

	(void)state;
	ct_tree_build(&ct);
	for (size_t i = 0; i < sizeof(ct_paths) / sizeof(ct_paths[0]); i++) {
		ct.t->bound = ct_paths[i].size;
		assert_int_equal(merkle_inclusion_proof(table_get, ct.t, ct.h,
							ct_paths[i].index,
							ct_paths[i].size, proof, &num),
				 0);
		assert_int_equal(num, ct_paths[i].num);
		for (size_t j = 0; j < num; j++) {
			unhex(want, HL, ct_paths[i].path[j]);
			assert_memory_equal(proof[j], want, HL);
		}
		unhex(root, HL, ct_roots[ct_paths[i].size - 1]);
		assert_true(merkle_verify_inclusion(ct.h, ct.leaves[ct_paths[i].index],
						    ct_paths[i].index, ct_paths[i].size,
						    (const uint8_t(*)[HL])proof, num,
						    root));
	}
	ct_tree_free(&ct);
}

static void test_ct_consistency_vectors(void **state)
{
	struct ct_tree ct;
	uint8_t proof[MERKLE_MAX_PROOF][HL], want[HL], root1[HL], root2[HL];
	size_t num;

	(void)state;
	ct_tree_build(&ct);
	for (size_t i = 0; i < sizeof(ct_proofs) / sizeof(ct_proofs[0]); i++) {
		ct.t->bound = ct_proofs[i].size2;
		assert_int_equal(merkle_consistency_proof(table_get, ct.t, ct.h,
							  ct_proofs[i].size1,
							  ct_proofs[i].size2, proof,
							  &num),
				 0);
		assert_int_equal(num, ct_proofs[i].num);
		for (size_t j = 0; j < num; j++) {
			unhex(want, HL, ct_proofs[i].proof[j]);
			assert_memory_equal(proof[j], want, HL);
		}
		unhex(root1, HL, ct_roots[ct_proofs[i].size1 - 1]);
		unhex(root2, HL, ct_roots[ct_proofs[i].size2 - 1]);
		assert_true(merkle_verify_consistency(ct.h, ct_proofs[i].size1,
						      ct_proofs[i].size2, root1, root2,
						      (const uint8_t(*)[HL])proof,
						      num));
	}
	ct_tree_free(&ct);
}

/* ---- the full sweep against the reference ---- */

struct sweep {
	struct merkle_hasher *h;
	uint8_t leaves[TMAX][HL];
	struct table *t;
	struct refmerkle *ref;
};

static int sweep_setup(void **state)
{
	struct sweep *s = calloc(1, sizeof(*s));
	struct merkle_range r;
	uint8_t root[HL], want[HL];

	assert_non_null(s);
	s->h = merkle_hasher_new();
	assert_non_null(s->h);
	s->t = calloc(1, sizeof(*s->t));
	assert_non_null(s->t);
	for (int i = 0; i < TMAX; i++) {
		uint8_t data[3] = {(uint8_t)(i >> 8), (uint8_t)i, 0x5a};

		refmerkle_leaf_hash(s->leaves[i], data, sizeof(data) - (size_t)(i % 2));
		merkle_leaf_hash(s->h, root, data, sizeof(data) - (size_t)(i % 2));
		assert_memory_equal(root, s->leaves[i], HL);
	}
	s->ref = refmerkle_new((const uint8_t(*)[HL])s->leaves, TMAX);
	s->t->ref = s->ref;
	merkle_range_init(&r);
	for (uint64_t n = 1; n <= TMAX; n++) {
		s->t->size_after = n;
		s->t->next_level = 0;
		assert_int_equal(merkle_range_append(&r, s->h, s->leaves[n - 1],
						     table_node, s->t),
				 0);
		assert_int_equal(r.size, n);
		assert_int_equal(merkle_range_num_hashes(&r),
				 (unsigned)__builtin_popcountll(n));
		/* the range holds the roots of the perfect subtrees of D[0:n] */
		for (unsigned i = 0, lvl = 16, lo = 0; lvl-- > 0;) {
			if (!((n >> lvl) & 1))
				continue;
			refmerkle_mth(s->ref, lo, lo + (1u << lvl), want);
			assert_memory_equal(r.hashes[i], want, HL);
			i++;
			lo += 1u << lvl;
		}
		merkle_range_root(&r, s->h, root);
		refmerkle_mth(s->ref, 0, n, want);
		assert_memory_equal(root, want, HL);
	}
	/* every perfect subtree of the 300-leaf tree was reported exactly once */
	{
		uint64_t total = 0;

		for (unsigned lvl = 0; lvl < TLEVELS; lvl++)
			total += TMAX >> lvl;
		assert_int_equal(s->t->reports, total);
	}
	*state = s;
	return 0;
}

static int sweep_teardown(void **state)
{
	struct sweep *s = *state;

	refmerkle_free(s->ref);
	free(s->t);
	merkle_hasher_free(s->h);
	free(s);
	return 0;
}

static void test_sweep_inclusion(void **state)
{
	struct sweep *s = *state;
	uint8_t proof[MERKLE_MAX_PROOF][HL], want[REF_MAX_PROOF][HL], root[HL];
	size_t num, want_num;

	for (uint64_t n = 1; n <= TMAX; n++) {
		s->t->bound = n;
		refmerkle_mth(s->ref, 0, n, root);
		for (uint64_t i = 0; i < n; i++) {
			assert_int_equal(merkle_inclusion_proof(table_get, s->t, s->h,
								i, n, proof, &num),
					 0);
			want_num = refmerkle_path(s->ref, i, n, want);
			assert_int_equal(num, want_num);
			assert_memory_equal(proof, want, num * HL);
			assert_true(merkle_verify_inclusion(
				s->h, s->leaves[i], i, n,
				(const uint8_t(*)[HL])proof, num, root));
		}
	}
}

static void test_sweep_consistency(void **state)
{
	struct sweep *s = *state;
	uint8_t proof[MERKLE_MAX_PROOF][HL], want[REF_MAX_PROOF][HL];
	uint8_t root1[HL], root2[HL];
	size_t num, want_num;

	for (uint64_t n = 1; n <= TMAX; n++) {
		s->t->bound = n;
		refmerkle_mth(s->ref, 0, n, root2);
		for (uint64_t m = 1; m <= n; m++) {
			assert_int_equal(merkle_consistency_proof(table_get, s->t,
								  s->h, m, n, proof,
								  &num),
					 0);
			want_num = refmerkle_proof(s->ref, m, n, want);
			assert_int_equal(num, want_num);
			assert_memory_equal(proof, want, num * HL);
			refmerkle_mth(s->ref, 0, m, root1);
			assert_true(merkle_verify_consistency(
				s->h, m, n, root1, root2,
				(const uint8_t(*)[HL])proof, num));
		}
		/* size1 == 0: empty proof */
		assert_int_equal(merkle_consistency_proof(table_get, s->t, s->h, 0, n,
							  proof, &num),
				 0);
		assert_int_equal(num, 0);
	}
}

/* merkle_subtree_root accepts exactly the ranges [lo, hi) with lo a multiple
 * of the smallest power of two >= hi - lo, and gives MTH(D[lo:hi]). */
static void test_sweep_subtree_root(void **state)
{
	struct sweep *s = *state;
	uint8_t out[HL], want[HL];

	s->t->bound = TMAX;
	for (uint64_t lo = 0; lo <= TMAX; lo++) {
		for (uint64_t hi = 0; hi <= TMAX; hi++) {
			uint64_t p = 1;
			int rc;

			while (hi > lo && p < hi - lo)
				p *= 2;
			rc = merkle_subtree_root(table_get, s->t, s->h, lo, hi, out);
			if (hi <= lo || lo % p != 0) {
				assert_int_equal(rc, MN_EINVAL);
				continue;
			}
			assert_int_equal(rc, 0);
			refmerkle_mth(s->ref, lo, hi, want);
			assert_memory_equal(out, want, HL);
		}
	}
}

/* ---- negative cases ---- */

static const uint8_t zero_hash[HL];

static int verify_incl(struct merkle_hasher *h, const uint8_t leaf[HL],
		       uint64_t i, uint64_t n, uint8_t proof[][HL], size_t num,
		       const uint8_t root[HL])
{
	return merkle_verify_inclusion(h, leaf, i, n, (const uint8_t(*)[HL])proof,
				       num, root);
}

static int verify_cons(struct merkle_hasher *h, uint64_t m, uint64_t n,
		       const uint8_t r1[HL], const uint8_t r2[HL],
		       uint8_t proof[][HL], size_t num)
{
	return merkle_verify_consistency(h, m, n, r1, r2,
					 (const uint8_t(*)[HL])proof, num);
}

static const uint64_t sample_sizes[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17,
					31, 32, 33, 100, 255, 256, 257, 300};
#define NUM_SAMPLE (sizeof(sample_sizes) / sizeof(sample_sizes[0]))

static void inclusion_mutations(struct sweep *s, uint64_t i, uint64_t n)
{
	uint8_t proof[MERKLE_MAX_PROOF + 1][HL], bad[MERKLE_MAX_PROOF + 2][HL];
	uint8_t root[HL], leaf[HL];
	size_t num;
	struct merkle_hasher *h = s->h;

	s->t->bound = n;
	assert_int_equal(merkle_inclusion_proof(table_get, s->t, h, i, n, proof, &num), 0);
	refmerkle_mth(s->ref, 0, n, root);
	memcpy(leaf, s->leaves[i], HL);
	assert_true(verify_incl(h, leaf, i, n, proof, num, root));

	/* every single-bit flip of every proof element, the leaf and the root */
	for (size_t j = 0; j < num; j++) {
		for (unsigned b = 0; b < 8 * HL; b++) {
			proof[j][b / 8] ^= (uint8_t)(1u << (b % 8));
			assert_false(verify_incl(h, leaf, i, n, proof, num, root));
			proof[j][b / 8] ^= (uint8_t)(1u << (b % 8));
		}
	}
	for (unsigned b = 0; b < 8 * HL; b += 7) {
		leaf[b / 8] ^= (uint8_t)(1u << (b % 8));
		assert_false(verify_incl(h, leaf, i, n, proof, num, root));
		leaf[b / 8] ^= (uint8_t)(1u << (b % 8));
		root[b / 8] ^= (uint8_t)(1u << (b % 8));
		assert_false(verify_incl(h, leaf, i, n, proof, num, root));
		root[b / 8] ^= (uint8_t)(1u << (b % 8));
	}
	assert_true(verify_incl(h, leaf, i, n, proof, num, root));
	/* wrong leaf, wrong root */
	if (n > 1)
		assert_false(verify_incl(h, s->leaves[(i + 1) % n], i, n, proof,
					 num, root));
	merkle_empty_root(bad[0]);
	assert_false(verify_incl(h, leaf, i, n, proof, num, bad[0]));
	/* wrong index (the mutations of cpp/merkletree/merkle_tree_test.cc) */
	assert_false(verify_incl(h, leaf, i - 1, n, proof, num, root));
	assert_false(verify_incl(h, leaf, i + 1, n, proof, num, root));
	assert_false(verify_incl(h, leaf, i ^ 2, n, proof, num, root));
	assert_false(verify_incl(h, leaf, n, n, proof, num, root));
	assert_false(verify_incl(h, leaf, n + 5, n, proof, num, root));
	assert_false(verify_incl(h, leaf, UINT64_MAX, n, proof, num, root));
	/* wrong size */
	assert_false(verify_incl(h, leaf, i, n * 2, proof, num, root));
	assert_false(verify_incl(h, leaf, i, n / 2, proof, num, root));
	assert_false(verify_incl(h, leaf, i, 0, proof, num, root));
	/* one element too short */
	if (num > 0)
		assert_false(verify_incl(h, leaf, i, n, proof, num - 1, root));
	/* one too long: trailing garbage, the root, a repeat */
	memcpy(proof[num], zero_hash, HL);
	assert_false(verify_incl(h, leaf, i, n, proof, num + 1, root));
	memcpy(proof[num], root, HL);
	assert_false(verify_incl(h, leaf, i, n, proof, num + 1, root));
	if (num > 0) {
		memcpy(proof[num], proof[num - 1], HL);
		assert_false(verify_incl(h, leaf, i, n, proof, num + 1, root));
	}
	/* leading garbage */
	memcpy(bad[0], zero_hash, HL);
	memcpy(bad + 1, proof, num * HL);
	assert_false(verify_incl(h, leaf, i, n, bad, num + 1, root));
	/* a proof longer than any valid one */
	assert_false(verify_incl(h, leaf, i, n, bad, MERKLE_MAX_PROOF + 1, root));
}

static void test_inclusion_negative(void **state)
{
	struct sweep *s = *state;

	for (size_t k = 0; k < NUM_SAMPLE; k++) {
		uint64_t n = sample_sizes[k];
		uint64_t idx[] = {0, 1, n / 3, n / 2, n - 2, n - 1};

		for (size_t j = 0; j < sizeof(idx) / sizeof(idx[0]); j++)
			if (idx[j] < n)
				inclusion_mutations(s, idx[j], n);
	}
}

static void consistency_mutations(struct sweep *s, uint64_t m, uint64_t n)
{
	uint8_t proof[MERKLE_MAX_PROOF + 1][HL], bad[MERKLE_MAX_PROOF + 2][HL];
	uint8_t root1[HL], root2[HL], wrong[HL];
	size_t num;
	struct merkle_hasher *h = s->h;

	s->t->bound = n;
	assert_int_equal(merkle_consistency_proof(table_get, s->t, h, m, n, proof, &num), 0);
	refmerkle_mth(s->ref, 0, m, root1);
	refmerkle_mth(s->ref, 0, n, root2);
	assert_true(verify_cons(h, m, n, root1, root2, proof, num));
	merkle_empty_root(wrong);

	if (m == n) {
		/* equal sizes: a nonempty proof or unequal roots fail */
		assert_int_equal(num, 0);
		memcpy(proof[0], root1, HL);
		assert_false(verify_cons(h, m, n, root1, root2, proof, 1));
		assert_false(verify_cons(h, m, n, root1, wrong, proof, 0));
		assert_false(verify_cons(h, m, n, wrong, root2, proof, 0));
		/* size1 > size2 */
		assert_false(verify_cons(h, m + 1, n, root1, root2, proof, 0));
		return;
	}
	assert_true(num > 0);
	for (size_t j = 0; j < num; j++) {
		for (unsigned b = 0; b < 8 * HL; b++) {
			proof[j][b / 8] ^= (uint8_t)(1u << (b % 8));
			assert_false(verify_cons(h, m, n, root1, root2, proof, num));
			proof[j][b / 8] ^= (uint8_t)(1u << (b % 8));
		}
	}
	for (unsigned b = 0; b < 8 * HL; b += 7) {
		root1[b / 8] ^= (uint8_t)(1u << (b % 8));
		assert_false(verify_cons(h, m, n, root1, root2, proof, num));
		root1[b / 8] ^= (uint8_t)(1u << (b % 8));
		root2[b / 8] ^= (uint8_t)(1u << (b % 8));
		assert_false(verify_cons(h, m, n, root1, root2, proof, num));
		root2[b / 8] ^= (uint8_t)(1u << (b % 8));
	}
	assert_true(verify_cons(h, m, n, root1, root2, proof, num));
	/* wrong sizes */
	assert_false(verify_cons(h, m - 1, n, root1, root2, proof, num));
	assert_false(verify_cons(h, m + 1, n, root1, root2, proof, num));
	assert_false(verify_cons(h, m ^ 2, n, root1, root2, proof, num));
	assert_false(verify_cons(h, m, n * 2, root1, root2, proof, num));
	assert_false(verify_cons(h, m, n / 2, root1, root2, proof, num));
	assert_false(verify_cons(h, n, m, root2, root1, proof, num));
	assert_false(verify_cons(h, n + 1, n, root1, root2, proof, num));
	assert_false(verify_cons(h, 0, n, root1, root2, proof, num));
	/* wrong and swapped roots */
	assert_false(verify_cons(h, m, n, root1, wrong, proof, num));
	assert_false(verify_cons(h, m, n, wrong, root2, proof, num));
	assert_false(verify_cons(h, m, n, root2, root1, proof, num));
	/* empty, one too short, one too long, leading garbage */
	assert_false(verify_cons(h, m, n, root1, root2, proof, 0));
	assert_false(verify_cons(h, m, n, root1, root2, proof, num - 1));
	memcpy(proof[num], zero_hash, HL);
	assert_false(verify_cons(h, m, n, root1, root2, proof, num + 1));
	memcpy(proof[num], proof[num - 1], HL);
	assert_false(verify_cons(h, m, n, root1, root2, proof, num + 1));
	memcpy(bad[0], zero_hash, HL);
	memcpy(bad + 1, proof, num * HL);
	assert_false(verify_cons(h, m, n, root1, root2, bad, num + 1));
	memcpy(bad[0], proof[0], HL);
	assert_false(verify_cons(h, m, n, root1, root2, bad, num + 1));
	assert_false(verify_cons(h, m, n, root1, root2, bad, MERKLE_MAX_PROOF + 1));
}

static void test_consistency_negative(void **state)
{
	struct sweep *s = *state;

	for (size_t k = 0; k < NUM_SAMPLE; k++) {
		uint64_t n = sample_sizes[k];
		uint64_t ms[] = {1, 2, 3, n / 3, n / 2, n - 1, n};

		for (size_t j = 0; j < sizeof(ms) / sizeof(ms[0]); j++)
			if (ms[j] >= 1 && ms[j] <= n)
				consistency_mutations(s, ms[j], n);
	}
}

/* Edge cases of verification that need no tree (cf. VerifyConsistencyProof in
 * cpp/merkletree/merkle_tree_test.cc). */
static void test_verify_edge_cases(void **state)
{
	struct merkle_hasher *h = merkle_hasher_new();
	uint8_t empty[HL], other[HL], proof[1][HL];

	(void)state;
	assert_non_null(h);
	merkle_empty_root(empty);
	memset(other, 0x42, HL);
	memcpy(proof[0], empty, HL);
	/* always consistent with an empty proof */
	assert_true(verify_cons(h, 0, 0, empty, empty, proof, 0));
	assert_true(verify_cons(h, 0, 1, empty, other, proof, 0));
	assert_true(verify_cons(h, 1, 1, other, other, proof, 0));
	/* time travel */
	assert_false(verify_cons(h, 1, 0, other, empty, proof, 0));
	assert_false(verify_cons(h, 2, 1, other, other, proof, 0));
	assert_false(verify_cons(h, UINT64_MAX, 1, other, other, proof, 0));
	/* empty proof for different nonzero sizes */
	assert_false(verify_cons(h, 1, 2, other, other, proof, 0));
	/* roots differ for equal sizes */
	assert_false(verify_cons(h, 0, 0, empty, other, proof, 0));
	assert_false(verify_cons(h, 1, 1, empty, other, proof, 0));
	/* nonempty proof where none is allowed */
	assert_false(verify_cons(h, 0, 0, empty, empty, proof, 1));
	assert_false(verify_cons(h, 0, 1, empty, empty, proof, 1));
	assert_false(verify_cons(h, 1, 1, empty, empty, proof, 1));
	/* an empty proof is never dereferenced */
	assert_false(merkle_verify_consistency(h, 3, 5, other, other, NULL, 0));
	assert_false(merkle_verify_consistency(h, 4, 5, other, other, NULL, 0));
	assert_false(merkle_verify_inclusion(h, other, 1, 3, NULL, 0, other));
	assert_true(merkle_verify_inclusion(h, other, 0, 1, NULL, 0, other));

	/* inclusion with index >= size */
	assert_false(verify_incl(h, other, 0, 0, proof, 0, other));
	assert_false(verify_incl(h, other, 1, 1, proof, 0, other));
	assert_false(verify_incl(h, other, 2, 1, proof, 0, other));
	/* a single-leaf tree: the leaf is the root, the proof empty */
	assert_true(verify_incl(h, other, 0, 1, proof, 0, other));
	assert_false(verify_incl(h, other, 0, 1, proof, 1, other));
	assert_false(verify_incl(h, other, 0, 1, proof, 0, empty));
	merkle_hasher_free(h);
}

/* ---- argument checks and error propagation ---- */

struct fail_get {
	uint64_t calls, fail_at;
};

static int fail_get(void *ctx, unsigned level, uint64_t index, uint8_t out[HL])
{
	struct fail_get *f = ctx;

	f->calls++;
	if (f->calls == f->fail_at)
		return MN_EIO;
	memset(out, 0, HL);
	out[0] = (uint8_t)level;
	memcpy(out + 1, &index, sizeof(index));
	return 0;
}

static void test_invalid_args(void **state)
{
	struct merkle_hasher *h = merkle_hasher_new();
	struct fail_get f = {0, 0};
	uint8_t proof[MERKLE_MAX_PROOF][HL], out[HL];
	size_t num = 99;

	(void)state;
	assert_non_null(h);
	assert_int_equal(merkle_inclusion_proof(fail_get, &f, h, 0, 0, proof, &num), MN_EINVAL);
	assert_int_equal(num, 0);
	assert_int_equal(merkle_inclusion_proof(fail_get, &f, h, 5, 5, proof, &num), MN_EINVAL);
	assert_int_equal(merkle_inclusion_proof(fail_get, &f, h, UINT64_MAX, 5, proof, &num),
			 MN_EINVAL);
	assert_int_equal(merkle_consistency_proof(fail_get, &f, h, 6, 5, proof, &num), MN_EINVAL);
	assert_int_equal(merkle_consistency_proof(fail_get, &f, h, 1, 0, proof, &num), MN_EINVAL);
	assert_int_equal(merkle_subtree_root(fail_get, &f, h, 3, 3, out), MN_EINVAL);
	assert_int_equal(merkle_subtree_root(fail_get, &f, h, 4, 3, out), MN_EINVAL);
	assert_int_equal(merkle_subtree_root(fail_get, &f, h, 2, 5, out), MN_EINVAL);
	assert_int_equal(merkle_subtree_root(fail_get, &f, h, 1, UINT64_MAX, out), MN_EINVAL);
	assert_int_equal(merkle_subtree_root(fail_get, &f, h, (uint64_t)1 << 62, UINT64_MAX, out),
			 MN_EINVAL);
	assert_int_equal(f.calls, 0);
	/* trivial proofs read nothing */
	num = 99;
	assert_int_equal(merkle_consistency_proof(fail_get, &f, h, 0, 5, proof, &num), 0);
	assert_int_equal(num, 0);
	num = 99;
	assert_int_equal(merkle_consistency_proof(fail_get, &f, h, 5, 5, proof, &num), 0);
	assert_int_equal(num, 0);
	assert_int_equal(merkle_inclusion_proof(fail_get, &f, h, 0, 1, proof, &num), 0);
	assert_int_equal(num, 0);
	assert_int_equal(f.calls, 0);
	/* the widest aligned ranges */
	assert_int_equal(merkle_subtree_root(fail_get, &f, h, 0, UINT64_MAX, out), 0);
	assert_int_equal(f.calls, 64);
	f.calls = 0;
	assert_int_equal(merkle_subtree_root(fail_get, &f, h, (uint64_t)1 << 63, UINT64_MAX, out),
			 0);
	assert_int_equal(f.calls, 63);
	merkle_hasher_free(h);
}

static void test_get_error_propagates(void **state)
{
	struct merkle_hasher *h = merkle_hasher_new();
	uint8_t proof[MERKLE_MAX_PROOF][HL], out[HL];
	size_t num;
	const uint64_t n = 1000003;

	(void)state;
	assert_non_null(h);
	/* fail at each read in turn: the error comes back unchanged */
	for (uint64_t k = 1;; k++) {
		struct fail_get f = {0, k};
		int rc = merkle_inclusion_proof(fail_get, &f, h, 777, n, proof, &num);

		if (f.calls < k) {
			assert_int_equal(rc, 0); /* past the last read */
			break;
		}
		assert_int_equal(rc, MN_EIO);
		assert_int_equal(num, 0);
	}
	for (uint64_t k = 1;; k++) {
		struct fail_get f = {0, k};
		int rc = merkle_consistency_proof(fail_get, &f, h, 777, n, proof, &num);

		if (f.calls < k) {
			assert_int_equal(rc, 0);
			break;
		}
		assert_int_equal(rc, MN_EIO);
		assert_int_equal(num, 0);
	}
	for (uint64_t k = 1;; k++) {
		struct fail_get f = {0, k};
		int rc = merkle_subtree_root(fail_get, &f, h, 0, n, out);

		if (f.calls < k) {
			assert_int_equal(rc, 0);
			break;
		}
		assert_int_equal(rc, MN_EIO);
	}
	merkle_hasher_free(h);
}

/* ---- O(log n) reads on a big synthetic tree ---- */

struct fake_get {
	struct merkle_hasher *h;
	uint64_t size, calls;
};

/* A deterministic fake hash SHA-256(level || index) for every node; checks
 * that only perfect subtrees inside D[0:size] are asked for. */
static int fake_get(void *ctx, unsigned level, uint64_t index, uint8_t out[HL])
{
	struct fake_get *f = ctx;
	uint8_t buf[9];

	f->calls++;
	assert_true(level < 64);
	assert_true(index < (f->size >> level));
	buf[0] = (uint8_t)level;
	mn_put_be64(buf + 1, index);
	merkle_sha256(f->h, out, buf, sizeof(buf));
	return 0;
}

static void test_big_tree_reads(void **state)
{
	static const uint64_t sizes[] = {1000000000000ull, (1ull << 40) - 1,
					 (1ull << 40) + 1, UINT64_MAX,
					 UINT64_MAX - 1, 1ull << 63};
	uint8_t proof[MERKLE_MAX_PROOF][HL];
	struct fake_get f;
	uint64_t lcg = 12345;
	size_t num;

	(void)state;
	f.h = merkle_hasher_new();
	assert_non_null(f.h);
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		uint64_t n = sizes[k];

		f.size = n;
		for (int j = 0; j < 40; j++) {
			uint64_t i, m;

			lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
			switch (j) {
			case 0: i = 0; break;
			case 1: i = n - 1; break;
			case 2: i = n / 2; break;
			case 3: i = n - 2; break;
			default: i = lcg % n;
			}
			f.calls = 0;
			assert_int_equal(merkle_inclusion_proof(fake_get, &f, f.h, i, n,
								proof, &num),
					 0);
			assert_true(num <= 64);
			assert_true(f.calls <= 2 * 64 + 64);
			assert_true(f.calls >= num);

			m = (j == 0) ? 1 : (j == 1) ? n - 1 : i + 1;
			if (m > n)
				m = n;
			f.calls = 0;
			assert_int_equal(merkle_consistency_proof(fake_get, &f, f.h, m,
								  n, proof, &num),
					 0);
			assert_true(num <= 65);
			assert_true(f.calls <= 2 * 64 + 64);
		}
	}
	merkle_hasher_free(f.h);
}

/* ---- compact range edges and serialization ---- */

static void test_range_overflow(void **state)
{
	struct merkle_hasher *h = merkle_hasher_new();
	struct merkle_range r, saved;
	uint8_t leaf[HL];

	(void)state;
	assert_non_null(h);
	memset(leaf, 0x77, HL);
	merkle_range_init(&r);
	for (unsigned i = 0; i < 63; i++)
		memset(r.hashes[i], (int)i + 1, HL);
	r.size = UINT64_MAX - 1; /* 63 set bits */
	assert_int_equal(merkle_range_num_hashes(&r), 63);
	assert_int_equal(merkle_range_append(&r, h, leaf, NULL, NULL), 0);
	assert_int_equal(r.size, UINT64_MAX);
	assert_int_equal(merkle_range_num_hashes(&r), 64);
	assert_memory_equal(r.hashes[63], leaf, HL);
	saved = r;
	assert_int_equal(merkle_range_append(&r, h, leaf, NULL, NULL), MN_ERANGE);
	assert_memory_equal(&r, &saved, sizeof(r));
	merkle_hasher_free(h);
}

static void test_range_encode_decode(void **state)
{
	struct merkle_hasher *h = merkle_hasher_new();
	struct merkle_range r, d;
	uint8_t leaf[HL], *buf;
	size_t len;

	(void)state;
	assert_non_null(h);
	merkle_range_init(&r);
	for (uint64_t n = 0; n <= 70; n++) {
		struct cbb cbb;
		struct cbs cbs;

		if (n > 0) {
			memset(leaf, (int)n, HL);
			assert_int_equal(merkle_range_append(&r, h, leaf, NULL, NULL), 0);
		}
		assert_true(cbb_init(&cbb, 64, 8 + 64 * HL));
		assert_true(merkle_range_encode(&r, &cbb));
		assert_true(cbb_finish(&cbb, &buf, &len));
		assert_int_equal(len, 8 + (size_t)__builtin_popcountll(n) * HL);
		assert_int_equal(mn_get_be64(buf), n);

		/* round trip, consuming everything */
		cbs_init(&cbs, buf, len);
		assert_true(merkle_range_decode(&d, &cbs));
		assert_int_equal(cbs_len(&cbs), 0);
		assert_int_equal(d.size, r.size);
		assert_memory_equal(d.hashes, r.hashes,
				    (size_t)merkle_range_num_hashes(&r) * HL);

		/* every truncation fails */
		for (size_t cut = 0; cut < len; cut++) {
			cbs_init(&cbs, buf, cut);
			assert_false(merkle_range_decode(&d, &cbs));
			assert_int_equal(cbs_len(&cbs), cut);
		}
		/* trailing bytes fail */
		{
			uint8_t *longer = malloc(len + HL);

			assert_non_null(longer);
			memcpy(longer, buf, len);
			memset(longer + len, 0, HL);
			cbs_init(&cbs, longer, len + 1);
			assert_false(merkle_range_decode(&d, &cbs));
			cbs_init(&cbs, longer, len + HL);
			assert_false(merkle_range_decode(&d, &cbs));
			/* a size whose popcount disagrees with the hash count */
			mn_put_be64(longer, n + 1);
			if (__builtin_popcountll(n + 1) != __builtin_popcountll(n)) {
				cbs_init(&cbs, longer, len);
				assert_false(merkle_range_decode(&d, &cbs));
			}
			free(longer);
		}
		free(buf);
	}
	/* the largest range: 64 hashes */
	{
		uint8_t big[8 + 64 * HL];
		struct cbs cbs;

		memset(big, 0xab, sizeof(big));
		mn_put_be64(big, UINT64_MAX);
		cbs_init(&cbs, big, sizeof(big));
		assert_true(merkle_range_decode(&d, &cbs));
		assert_int_equal(d.size, UINT64_MAX);
		assert_int_equal(merkle_range_num_hashes(&d), 64);
		cbs_init(&cbs, big, sizeof(big) - 1);
		assert_false(merkle_range_decode(&d, &cbs));
	}
	merkle_hasher_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_known_answers),
		cmocka_unit_test(test_ct_roots),
		cmocka_unit_test(test_ct_inclusion_vectors),
		cmocka_unit_test(test_ct_consistency_vectors),
		cmocka_unit_test_setup_teardown(test_sweep_inclusion, sweep_setup,
						sweep_teardown),
		cmocka_unit_test_setup_teardown(test_sweep_consistency, sweep_setup,
						sweep_teardown),
		cmocka_unit_test_setup_teardown(test_sweep_subtree_root, sweep_setup,
						sweep_teardown),
		cmocka_unit_test_setup_teardown(test_inclusion_negative, sweep_setup,
						sweep_teardown),
		cmocka_unit_test_setup_teardown(test_consistency_negative,
						sweep_setup, sweep_teardown),
		cmocka_unit_test(test_verify_edge_cases),
		cmocka_unit_test(test_invalid_args),
		cmocka_unit_test(test_get_error_propagates),
		cmocka_unit_test(test_big_tree_reads),
		cmocka_unit_test(test_range_overflow),
		cmocka_unit_test(test_range_encode_decode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
