/* proof.c: inclusion and consistency proofs (RFC 6962 sections 2.1.1 and
 * 2.1.2), generated from perfect-subtree hashes read through a merkle_get_fn.
 *
 * Both proofs walk the RFC's recursion from the root down, recording one
 * sibling subtree hash per level; the RFC emits them leaf-side first, so the
 * walk fills |out| top-down and reverses it at the end. A left sibling is
 * always a perfect subtree (one read). A right sibling [lo + k, hi) can be
 * incomplete only while hi is still the tree's right edge, i.e. at the first
 * step that goes left; every later range is perfect. So a proof costs at most
 * 64 + 63 reads. */
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

int merkle_subtree_root(merkle_get_fn get, void *ctx, struct merkle_hasher *h,
			uint64_t lo, uint64_t hi, uint8_t out[MERKLE_HASH_LEN])
{
	uint8_t parts[64][MERKLE_HASH_LEN];
	uint64_t n, pos;
	unsigned num = 0, top;
	int rc;

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
	/* MTH splits off the largest power of two below n, which is the top set
	 * bit of n when n is not a power of two; the remainder is split the same
	 * way. So [lo, hi) is one perfect subtree per set bit of n, largest
	 * first, each aligned to its size. */
	pos = lo;
	for (unsigned level = 64; level-- > 0;) {
		if (!((n >> level) & 1))
			continue;
		rc = get(ctx, level, pos >> level, parts[num]);
		if (rc < 0)
			return rc;
		num++;
		pos += (uint64_t)1 << level;
	}
	for (unsigned i = num - 1; i-- > 0;)
		merkle_node_hash(h, parts[num - 1], parts[i], parts[num - 1]);
	memcpy(out, parts[num - 1], MERKLE_HASH_LEN);
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
 *   PATH(0, {d(0)}) = {} */
int merkle_inclusion_proof(merkle_get_fn get, void *ctx, struct merkle_hasher *h,
			   uint64_t index, uint64_t size,
			   uint8_t out[][MERKLE_HASH_LEN], size_t *out_num)
{
	uint64_t lo = 0, hi = size, k;
	size_t num = 0;
	int rc;

	*out_num = 0;
	if (index >= size)
		return MN_EINVAL;
	while (hi - lo > 1) {
		k = split(hi - lo);
		if (index - lo < k) {
			rc = merkle_subtree_root(get, ctx, h, lo + k, hi, out[num]);
			hi = lo + k;
		} else {
			rc = merkle_subtree_root(get, ctx, h, lo, lo + k, out[num]);
			lo += k;
		}
		if (rc < 0)
			return rc;
		num++;
	}
	reverse(out, num);
	*out_num = num;
	return 0;
}

/* RFC 6962 section 2.1.2, with D[lo:hi] the current subtree and m counted
 * from lo:
 *   PROOF(m, D[n]) = SUBPROOF(m, D[n], true)
 *   SUBPROOF(m, D[m], true) = {}
 *   SUBPROOF(m, D[m], false) = {MTH(D[m])}
 *   SUBPROOF(m, D[n], b) = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])        m <= k
 *   SUBPROOF(m, D[n], b) = SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k]) m > k */
int merkle_consistency_proof(merkle_get_fn get, void *ctx, struct merkle_hasher *h,
			     uint64_t size1, uint64_t size2,
			     uint8_t out[][MERKLE_HASH_LEN], size_t *out_num)
{
	uint64_t lo = 0, hi = size2, k;
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
			rc = merkle_subtree_root(get, ctx, h, lo + k, hi, out[num]);
			hi = lo + k;
		} else {
			rc = merkle_subtree_root(get, ctx, h, lo, lo + k, out[num]);
			lo += k;
			b = 0;
		}
		if (rc < 0)
			return rc;
		num++;
	}
	if (!b) {
		rc = merkle_subtree_root(get, ctx, h, lo, hi, out[num]);
		if (rc < 0)
			return rc;
		num++;
	}
	reverse(out, num);
	*out_num = num;
	return 0;
}
