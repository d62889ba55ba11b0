/* fuzz_merkle.c: merkle/ on fuzzer-chosen trees, sizes, indexes and proofs.
 *
 * Input: u8 n (1..48 leaves), u8 mode, then n leaf bytes (one byte of data per
 * leaf, so equal leaves are common), then mode-specific parameters. Missing
 * bytes read as zero. Every input also builds the tree with merkle_range and
 * checks its roots, its serialization and merkle_subtree_root against the
 * independent reference tree of tests/lib/refmerkle.c.
 *   mode 0: merkle_range_decode on the rest; a decoded range re-encodes to the
 *           bytes it consumed.
 *   mode 1: merkle_verify_inclusion(leaf, index, size, proof, root) where each
 *           of them is either real (from the tree) or fuzzer-chosen. When the
 *           root is the real MTH(D[0:size]) of a size <= n, it must accept
 *           exactly when index < size, the leaf hash is that of leaf index, and
 *           the proof is PATH(index, D[0:size]) byte for byte (anything else
 *           would take a SHA-256 collision). It must never accept index >= size.
 *   mode 2: merkle_verify_consistency likewise: when root2 is the real
 *           MTH(D[0:size2]), accept exactly when root1 is the real
 *           MTH(D[0:size1]) and the proof is PROOF(size1, D[0:size2]); plus
 *           the RFC 9162 special cases (equal sizes, empty first tree).
 * A root claimed for a size it is not the root of gets no expectation: the
 * verifier sees hashes only, and e.g. MTH(D[0:4]) is also the root of a
 * 2-leaf tree whose "leaves" are the two 2-leaf subtree hashes, so
 * (size1 2, MTH(D[0:4])) is honestly consistent with (size2 3, MTH(D[0:5])).
 * Only the side the verifier trusts (the root for the claimed size) pins
 * everything else, which is the property clients rely on.
 * Proofs built by merkle_inclusion_proof / merkle_consistency_proof must equal
 * the reference PATH / PROOF. */
#include <string.h>

#include "common/bytes.h"
#include "common/err.h"
#include "fuzz/fuzz.h"
#include "merkle/merkle.h"
#include "tests/lib/refmerkle.h"

const char fuzz_target_name[] = "merkle";

#define MAX_LEAVES 48
#define LEVELS 7 /* 2^6 >= MAX_LEAVES */

static struct merkle_hasher *hasher;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	hasher = merkle_hasher_new();
	FUZZ_CHECK(hasher != NULL);
	return 0;
}

struct in {
	const uint8_t *p;
	size_t n;
};

static uint8_t get8(struct in *in)
{
	uint8_t v = 0;

	if (in->n > 0) {
		v = in->p[0];
		in->p++;
		in->n--;
	}
	return v;
}

static uint64_t get64(struct in *in)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | get8(in);
	return v;
}

/* get_num picks a number that is usually near the tree (0..n+1) but can be
 * anything, including 2^64 - 1. */
static uint64_t get_num(struct in *in, size_t n)
{
	uint8_t sel = get8(in);

	if (sel < 0xf0)
		return sel % (n + 2);
	return get64(in);
}

struct tree {
	size_t n;
	uint8_t nodes[LEVELS][MAX_LEAVES][MERKLE_HASH_LEN];
	struct refmerkle *ref;
};

static int tree_get(void *ctx, unsigned level, uint64_t index, uint8_t out[MERKLE_HASH_LEN])
{
	const struct tree *t = ctx;

	/* merkle/ may only ask for perfect subtrees inside the tree */
	if (level >= LEVELS || index >= MAX_LEAVES || ((index + 1) << level) > t->n)
		return MN_ENOTFOUND;
	memcpy(out, t->nodes[level][index], MERKLE_HASH_LEN);
	return 0;
}

/* get_proof fills |proof| per the mode byte: the real proof (from the
 * reference) possibly with one flipped bit or a changed length, or raw bytes. */
static size_t get_proof(struct in *in, uint8_t proof[][MERKLE_HASH_LEN],
			const uint8_t real[][MERKLE_HASH_LEN], size_t real_num)
{
	uint8_t sel = get8(in);
	size_t num, i;

	switch (sel & 3) {
	case 0: /* the real proof */
		memcpy(proof, real, real_num * MERKLE_HASH_LEN);
		return real_num;
	case 1: /* one bit flipped */
		memcpy(proof, real, real_num * MERKLE_HASH_LEN);
		if (real_num > 0) {
			size_t bit = get8(in) | (size_t)get8(in) << 8;
			bit %= real_num * MERKLE_HASH_LEN * 8;
			proof[bit / 256][(bit % 256) / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		return real_num;
	case 2: /* truncated or extended with fuzzer bytes */
		num = get8(in) % (MERKLE_MAX_PROOF + 1);
		memcpy(proof, real, (num < real_num ? num : real_num) * MERKLE_HASH_LEN);
		for (i = real_num; i < num; i++)
			for (size_t j = 0; j < MERKLE_HASH_LEN; j++)
				proof[i][j] = get8(in);
		return num;
	default: /* raw */
		num = get8(in) % (MERKLE_MAX_PROOF + 1);
		for (i = 0; i < num; i++)
			for (size_t j = 0; j < MERKLE_HASH_LEN; j++)
				proof[i][j] = get8(in);
		return num;
	}
}

static int proof_equal(const uint8_t a[][MERKLE_HASH_LEN], size_t na,
		       const uint8_t b[][MERKLE_HASH_LEN], size_t nb)
{
	return na == nb && memcmp(a, b, na * MERKLE_HASH_LEN) == 0;
}

/* get_hash: a real root/leaf hash per |sel|, or fuzzer bytes */
static void get_hash(struct in *in, uint8_t out[MERKLE_HASH_LEN], struct tree *t, int leaf)
{
	uint8_t sel = get8(in);

	if (sel >= 0xf8) {
		for (size_t j = 0; j < MERKLE_HASH_LEN; j++)
			out[j] = get8(in);
	} else if (leaf) {
		memcpy(out, t->nodes[0][sel % t->n], MERKLE_HASH_LEN);
	} else {
		refmerkle_mth(t->ref, 0, sel % (t->n + 1), out);
	}
}

static void check_inclusion(struct in *in, struct tree *t)
{
	uint64_t index = get_num(in, t->n), size = get_num(in, t->n);
	uint8_t leaf[MERKLE_HASH_LEN], root[MERKLE_HASH_LEN], want[MERKLE_HASH_LEN];
	uint8_t real[MERKLE_MAX_PROOF][MERKLE_HASH_LEN], lib[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	size_t real_num = 0, lib_num = 0, num;
	int valid = index < size && size <= t->n, expect, got, ret;

	get_hash(in, leaf, t, 1);
	get_hash(in, root, t, 0);
	if (valid) {
		real_num = refmerkle_path(t->ref, index, size, real);
		ret = merkle_inclusion_proof(tree_get, t, hasher, index, size, lib, &lib_num);
		FUZZ_CHECK(ret == 0);
		FUZZ_CHECK(proof_equal(lib, lib_num, real, real_num));
	} else {
		/* beyond the tree the get function may fail or not (a proof for
		 * the last leaf needs no node right of it); index >= size is EINVAL */
		ret = merkle_inclusion_proof(tree_get, t, hasher, index, size, lib, &lib_num);
		if (index >= size)
			FUZZ_CHECK(ret == MN_EINVAL);
		else if (ret == 0)
			FUZZ_CHECK(lib_num <= MERKLE_MAX_PROOF);
	}
	num = get_proof(in, proof, real, real_num);
	got = merkle_verify_inclusion(hasher, leaf, index, size,
				      (const uint8_t(*)[MERKLE_HASH_LEN])proof, num, root);
	if (index >= size)
		FUZZ_CHECK(got == 0);
	if (size == 0 || size > t->n)
		return;
	refmerkle_mth(t->ref, 0, size, want);
	if (memcmp(root, want, MERKLE_HASH_LEN) != 0)
		return; /* a root of another size: see the top of the file */
	expect = index < size && memcmp(leaf, t->nodes[0][index], MERKLE_HASH_LEN) == 0 &&
		 proof_equal(proof, num, real, real_num);
	FUZZ_CHECK(got == expect);
}

static void check_consistency(struct in *in, struct tree *t)
{
	uint64_t size1 = get_num(in, t->n), size2 = get_num(in, t->n);
	uint8_t root1[MERKLE_HASH_LEN], root2[MERKLE_HASH_LEN];
	uint8_t want1[MERKLE_HASH_LEN], want2[MERKLE_HASH_LEN];
	uint8_t real[MERKLE_MAX_PROOF][MERKLE_HASH_LEN], lib[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	size_t real_num = 0, lib_num = 0, num;
	int valid = size1 <= size2 && size2 <= t->n, expect, got, ret;

	get_hash(in, root1, t, 0);
	get_hash(in, root2, t, 0);
	if (valid) {
		if (size1 > 0 && size1 < size2)
			real_num = refmerkle_proof(t->ref, size1, size2, real);
		ret = merkle_consistency_proof(tree_get, t, hasher, size1, size2, lib, &lib_num);
		FUZZ_CHECK(ret == 0);
		FUZZ_CHECK(proof_equal(lib, lib_num, real, real_num));
	} else if (size1 > size2) {
		ret = merkle_consistency_proof(tree_get, t, hasher, size1, size2, lib, &lib_num);
		FUZZ_CHECK(ret == MN_EINVAL);
	}
	num = get_proof(in, proof, real, real_num);
	got = merkle_verify_consistency(hasher, size1, size2, root1, root2,
					(const uint8_t(*)[MERKLE_HASH_LEN])proof, num);
	if (size1 > size2)
		expect = 0;
	else if (size1 == size2)
		expect = num == 0 && memcmp(root1, root2, MERKLE_HASH_LEN) == 0;
	else if (size1 == 0)
		expect = num == 0;
	else if (!valid)
		return; /* size2 beyond the tree: no real root to compare with */
	else {
		refmerkle_mth(t->ref, 0, size2, want2);
		if (memcmp(root2, want2, MERKLE_HASH_LEN) != 0)
			return; /* a root of another size: see the top of the file */
		refmerkle_mth(t->ref, 0, size1, want1);
		expect = memcmp(root1, want1, MERKLE_HASH_LEN) == 0 &&
			 proof_equal(proof, num, real, real_num);
	}
	FUZZ_CHECK(got == expect);
}

static void check_range_decode(struct in *in)
{
	struct merkle_range r;
	struct cbs c;
	struct cbb b;
	uint8_t *out = NULL, root[MERKLE_HASH_LEN];
	size_t out_len = 0;

	cbs_init(&c, in->p, in->n);
	if (!merkle_range_decode(&r, &c))
		return;
	/* "consumes it all" */
	FUZZ_CHECK(cbs_len(&c) == 0);
	FUZZ_CHECK(merkle_range_num_hashes(&r) == (unsigned)__builtin_popcountll(r.size));
	merkle_range_root(&r, hasher, root);
	FUZZ_CHECK(cbb_init(&b, 64, 1 << 16));
	FUZZ_CHECK(merkle_range_encode(&r, &b));
	FUZZ_CHECK(cbb_finish(&b, &out, &out_len));
	FUZZ_CHECK(out_len == in->n && memcmp(out, in->p, out_len) == 0);
	free(out);
	/* appending to a decoded range of any size must not crash */
	if (merkle_range_append(&r, hasher, root, NULL, NULL) == 0)
		merkle_range_root(&r, hasher, root);
	else
		FUZZ_CHECK(r.size == UINT64_MAX);
}

/* on_node records the nodes merkle_range_append reports. */
static void on_node(void *ctx, unsigned level, uint64_t index,
		    const uint8_t hash[MERKLE_HASH_LEN])
{
	struct tree *t = ctx;

	FUZZ_CHECK(level < LEVELS && index < MAX_LEAVES);
	FUZZ_CHECK(((index + 1) << level) <= t->n + 1);
	memcpy(t->nodes[level][index], hash, MERKLE_HASH_LEN);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tree t;
	struct in in = {data, size};
	struct merkle_range r;
	uint8_t mode, root[MERKLE_HASH_LEN], want[MERKLE_HASH_LEN];
	uint8_t leaves[MAX_LEAVES][MERKLE_HASH_LEN];
	size_t i;

	memset(&t, 0, sizeof(t));
	t.n = 1 + get8(&in) % MAX_LEAVES;
	mode = get8(&in) % 3;
	merkle_range_init(&r);
	merkle_range_root(&r, hasher, root);
	merkle_empty_root(want);
	FUZZ_CHECK(memcmp(root, want, MERKLE_HASH_LEN) == 0);
	for (i = 0; i < t.n; i++) {
		uint8_t b = get8(&in);
		merkle_leaf_hash(hasher, leaves[i], &b, 1);
		refmerkle_leaf_hash(want, &b, 1);
		FUZZ_CHECK(memcmp(leaves[i], want, MERKLE_HASH_LEN) == 0);
		/* n grows as we append: on_node checks against the current size */
		t.n = i;
		FUZZ_CHECK(merkle_range_append(&r, hasher, leaves[i], on_node, &t) == 0);
		t.n = 1 + (size_t)(data[0] % MAX_LEAVES);
	}
	t.ref = refmerkle_new((const uint8_t(*)[REF_HASH_LEN])leaves, t.n);
	FUZZ_CHECK(r.size == t.n);
	merkle_range_root(&r, hasher, root);
	refmerkle_mth(t.ref, 0, t.n, want);
	FUZZ_CHECK(memcmp(root, want, MERKLE_HASH_LEN) == 0);
	/* a subtree root for an aligned range [lo, hi) */
	{
		uint64_t lo = get8(&in) % t.n, hi, k = 1;
		while (lo % (k * 2) == 0 && k * 2 <= t.n && lo != 0)
			k *= 2;
		if (lo == 0)
			k = t.n;
		hi = lo + 1 + get8(&in) % k;
		if (hi > t.n)
			hi = t.n;
		FUZZ_CHECK(merkle_subtree_root(tree_get, &t, hasher, lo, hi, root) == 0);
		refmerkle_mth(t.ref, lo, hi, want);
		FUZZ_CHECK(memcmp(root, want, MERKLE_HASH_LEN) == 0);
	}
	switch (mode) {
	case 0:
		check_range_decode(&in);
		break;
	case 1:
		check_inclusion(&in, &t);
		break;
	default:
		check_consistency(&in, &t);
		break;
	}
	refmerkle_free(t.ref);
	return 0;
}
