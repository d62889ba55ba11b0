/* proof.c: inclusion and consistency proofs (RFC 6962 sections 2.1.1 and
 * 2.1.2), generated from perfect-subtree hashes read through a merkle_get_fn.
 *
 * Both proofs walk the RFC's recursion from the root down, recording one
 * sibling subtree hash per level; the RFC emits them leaf-side first, so the
 * walk fills |out| top-down and reverses it at the end. A left sibling is
 * always a perfect subtree (one read). A right sibling [lo + k, hi) can be
 * incomplete only while hi is still the tree's right edge, i.e. at the first
 * step that goes left; every later range is perfect. So a proof costs at most
 * 64 + 63 reads, and with a merkle_edge of its size (the roots of every
 * right-edge suffix [start, size)) exactly one read per perfect node and no
 * hashing at all. */
#include <string.h>

#include "common/err.h"
#include "merkle/merkle.h"

/* floor_log2 of a nonzero |x|. */
static unsigned floor_log2(uint64_t x)
{
	return 63u - (unsigned)__builtin_clzll(x);
}

/* split: the largest power of two smaller than |n| (n >= 2), the k of RFC 6962
 * section 2.1. */
static uint64_t split(uint64_t n)
{
	return (uint64_t)1 << floor_log2(n - 1);
}

/* fold computes MTH(D[hi - n:hi]) for n >= 1 with hi - n suitably aligned:
 * MTH splits off the largest power of two below n, which is the top set bit of
 * n when n is not a power of two, and the remainder is split the same way. So
 * the range is one perfect subtree per set bit of n, largest first, each
 * aligned to its size; fold reads them smallest (rightmost) first and hashes
 * each one onto the accumulated right part, without a buffer of parts. */
static int fold(merkle_get_fn get, void *ctx, struct merkle_hasher *h, uint64_t hi,
		uint64_t n, uint8_t out[MERKLE_HASH_LEN])
{
	uint8_t left[MERKLE_HASH_LEN];
	unsigned level = (unsigned)__builtin_ctzll(n);
	uint64_t pos = hi - ((uint64_t)1 << level);
	int rc;

	rc = get(ctx, level, pos >> level, out);
	if (rc < 0)
		return rc;
	for (n &= n - 1; n != 0; n &= n - 1) {
		level = (unsigned)__builtin_ctzll(n);
		pos -= (uint64_t)1 << level;
		rc = get(ctx, level, pos >> level, left);
		if (rc < 0)
			return rc;
		merkle_node_hash(h, out, left, out);
	}
	return 0;
}

/* subtree computes MTH(D[lo:hi]) for a range a proof walk produces: one read if
 * it is perfect, a copy from |edge| if it is a right-edge suffix of the edge's
 * tree, otherwise a fold of its perfect parts. */
static int subtree(merkle_get_fn get, void *ctx, struct merkle_hasher *h,
		   const struct merkle_edge *edge, uint64_t lo, uint64_t hi,
		   uint8_t out[MERKLE_HASH_LEN])
{
	uint64_t n = hi - lo;
	unsigned j;

	if ((n & (n - 1)) == 0) {
		j = (unsigned)__builtin_ctzll(n);
		return get(ctx, j, lo >> j, out);
	}
	if (edge != NULL && hi == edge->size) {
		/* [lo, hi) = [start_j, size) iff lo is hi with bits 0..j cleared,
		 * j the top bit of n (then bit j of hi is set). 2 << 63 wraps to
		 * 0, giving start 0. */
		j = floor_log2(n);
		if (lo == (hi & ~(((uint64_t)2 << j) - 1))) {
			memcpy(out, edge->roots[j], MERKLE_HASH_LEN);
			return 0;
		}
	}
	return fold(get, ctx, h, hi, n, out);
}

int merkle_subtree_root(merkle_get_fn get, void *ctx, struct merkle_hasher *h,
			uint64_t lo, uint64_t hi, uint8_t out[MERKLE_HASH_LEN])
{
	uint64_t n;
	unsigned top;

	if (hi <= lo)
		return MN_EINVAL;
	n = hi - lo;
	/* lo must be a multiple of the smallest power of two >= n; for
	 * n > 2^63 that power is 2^64, so only lo == 0 qualifies. */
	top = floor_log2(n);
	if ((n & (n - 1)) != 0)
		top++;
	if (top == 64 ? lo != 0 : (lo & (((uint64_t)1 << top) - 1)) != 0)
		return MN_EINVAL;
	return subtree(get, ctx, h, NULL, lo, hi, out);
}

/* edge_fill completes |e| given roots[j] = the perfect subtree of bit j of
 * e->size for every set bit j: each suffix root is that subtree hashed onto
 * the suffix of the lower bits. */
static void edge_fill(struct merkle_edge *e, struct merkle_hasher *h)
{
	uint64_t bits = e->size;
	unsigned prev = (unsigned)__builtin_ctzll(bits), j;

	for (bits &= bits - 1; bits != 0; bits &= bits - 1) {
		j = (unsigned)__builtin_ctzll(bits);
		merkle_node_hash(h, e->roots[j], e->roots[j], e->roots[prev]);
		prev = j;
	}
}

void merkle_edge_from_range(struct merkle_edge *e, const struct merkle_range *r,
			    struct merkle_hasher *h)
{
	uint64_t bits = r->size;
	unsigned i = 0, j;

	e->size = r->size;
	if (bits == 0)
		return;
	/* range hashes are largest first: walk the set bits from the top */
	for (; bits != 0; bits &= ~((uint64_t)1 << j)) {
		j = floor_log2(bits);
		memcpy(e->roots[j], r->hashes[i++], MERKLE_HASH_LEN);
	}
	edge_fill(e, h);
}

int merkle_edge_compute(struct merkle_edge *e, merkle_get_fn get, void *ctx,
			struct merkle_hasher *h, uint64_t size)
{
	int rc;

	if (size == 0)
		return MN_EINVAL;
	e->size = size;
	for (uint64_t bits = size; bits != 0; bits &= bits - 1) {
		unsigned j = (unsigned)__builtin_ctzll(bits);

		/* the bit-j subtree ends where the lower bits begin */
		rc = get(ctx, j, (size >> j) - 1, e->roots[j]);
		if (rc < 0)
			return rc;
	}
	edge_fill(e, h);
	return 0;
}

static void reverse(uint8_t out[][MERKLE_HASH_LEN], size_t num)
{
	uint8_t tmp[MERKLE_HASH_LEN];

	for (size_t i = 0; i < num / 2; i++) {
		memcpy(tmp, out[i], MERKLE_HASH_LEN);
		memcpy(out[i], out[num - 1 - i], MERKLE_HASH_LEN);
		memcpy(out[num - 1 - i], tmp, MERKLE_HASH_LEN);
	}
}

/* RFC 6962 section 2.1.1, with D[lo:hi] the current subtree and m the leaf's
 * offset from lo:
 *   PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n])      for m < k
 *   PATH(m, D[n]) = PATH(m - k, D[k:n]) : MTH(D[0:k])  for m >= k
 *   PATH(0, {d(0)}) = {}
 * Once D[lo:hi] is perfect, of height L, the rest of the path is the sibling
 * of the leaf's ancestor at each level L-1..0. */
int merkle_inclusion_proof_edge(merkle_get_fn get, void *ctx, struct merkle_hasher *h,
				const struct merkle_edge *edge, uint64_t index,
				uint64_t size, uint8_t out[][MERKLE_HASH_LEN],
				size_t *out_num)
{
	uint64_t lo = 0, hi = size, k;
	unsigned level;
	size_t num = 0;
	int rc;

	*out_num = 0;
	if (index >= size)
		return MN_EINVAL;
	while (((hi - lo) & (hi - lo - 1)) != 0) {
		k = split(hi - lo);
		level = floor_log2(k);
		if (index - lo < k) {
			rc = subtree(get, ctx, h, edge, lo + k, hi, out[num]);
			hi = lo + k;
		} else {
			rc = get(ctx, level, lo >> level, out[num]);
			lo += k;
		}
		if (rc < 0)
			return rc;
		num++;
	}
	for (level = floor_log2(hi - lo); level-- > 0;) {
		rc = get(ctx, level, (index >> level) ^ 1, out[num]);
		if (rc < 0)
			return rc;
		num++;
	}
	reverse(out, num);
	*out_num = num;
	return 0;
}

int merkle_inclusion_proof(merkle_get_fn get, void *ctx, struct merkle_hasher *h,
			   uint64_t index, uint64_t size,
			   uint8_t out[][MERKLE_HASH_LEN], size_t *out_num)
{
	return merkle_inclusion_proof_edge(get, ctx, h, NULL, index, size, out,
					   out_num);
}

/* RFC 6962 section 2.1.2, with D[lo:hi] the current subtree and m counted
 * from lo:
 *   PROOF(m, D[n]) = SUBPROOF(m, D[n], true)
 *   SUBPROOF(m, D[m], true) = {}
 *   SUBPROOF(m, D[m], false) = {MTH(D[m])}
 *   SUBPROOF(m, D[n], b) = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])        m <= k
 *   SUBPROOF(m, D[n], b) = SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k]) m > k */
int merkle_consistency_proof_edge(merkle_get_fn get, void *ctx,
				  struct merkle_hasher *h,
				  const struct merkle_edge *edge, uint64_t size1,
				  uint64_t size2, uint8_t out[][MERKLE_HASH_LEN],
				  size_t *out_num)
{
	uint64_t lo = 0, hi = size2, k;
	unsigned level;
	size_t num = 0;
	int b = 1, rc;

	*out_num = 0;
	if (size1 > size2)
		return MN_EINVAL;
	if (size1 == 0 || size1 == size2)
		return 0;
	/* Invariant: lo < size1 <= hi. */
	while (size1 != hi) {
		k = split(hi - lo);
		if (size1 - lo <= k) {
			rc = subtree(get, ctx, h, edge, lo + k, hi, out[num]);
			hi = lo + k;
		} else {
			level = floor_log2(k);
			rc = get(ctx, level, lo >> level, out[num]);
			lo += k;
			b = 0;
		}
		if (rc < 0)
			return rc;
		num++;
	}
	if (!b) {
		/* hi became lo + k for a power of two k: perfect */
		level = floor_log2(hi - lo);
		rc = get(ctx, level, lo >> level, out[num]);
		if (rc < 0)
			return rc;
		num++;
	}
	reverse(out, num);
	*out_num = num;
	return 0;
}

int merkle_consistency_proof(merkle_get_fn get, void *ctx, struct merkle_hasher *h,
			     uint64_t size1, uint64_t size2,
			     uint8_t out[][MERKLE_HASH_LEN], size_t *out_num)
{
	return merkle_consistency_proof_edge(get, ctx, h, NULL, size1, size2, out,
					     out_num);
}
