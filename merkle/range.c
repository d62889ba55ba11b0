/* range.c: the compact range, the right edge of an RFC 6962 tree.
 *
 * A tree of |size| leaves is, left to right, a sequence of perfect subtrees,
 * one per set bit of |size| from the highest down (RFC 6962 section 2.1 splits
 * at the largest power of two below n, so the left part is always perfect).
 * Appending a leaf is binary increment: the new leaf is a subtree of size 1,
 * and each carry merges the two rightmost subtrees of equal size. */
#include <string.h>

#include "common/err.h"
#include "merkle/merkle.h"

void merkle_range_init(struct merkle_range *r)
{
	memset(r, 0, sizeof(*r));
}

unsigned merkle_range_num_hashes(const struct merkle_range *r)
{
	return (unsigned)__builtin_popcountll(r->size);
}

int merkle_range_append(struct merkle_range *r, struct merkle_hasher *h,
			const uint8_t leaf_hash[MERKLE_HASH_LEN], merkle_node_fn fn,
			void *ctx)
{
	uint64_t old = r->size;
	unsigned pos, level;

	if (old == UINT64_MAX)
		return MN_ERANGE;
	/* popcount(old) <= 63 here, so hashes[pos] exists. */
	pos = merkle_range_num_hashes(r);
	memcpy(r->hashes[pos], leaf_hash, MERKLE_HASH_LEN);
	if (fn != NULL)
		fn(ctx, 0, old, r->hashes[pos]);
	/* Every trailing one bit of |old| is a perfect subtree of size 2^(level-1)
	 * just left of the new one of the same size: merge them. The merged node
	 * at |level| ends at leaf |old|, so its index is old >> level. */
	for (level = 1; (old >> (level - 1)) & 1; level++) {
		pos--;
		merkle_node_hash(h, r->hashes[pos], r->hashes[pos],
				 r->hashes[pos + 1]);
		if (fn != NULL)
			fn(ctx, level, old >> level, r->hashes[pos]);
	}
	r->size = old + 1;
	return 0;
}

void merkle_range_root(const struct merkle_range *r, struct merkle_hasher *h,
		       uint8_t out[MERKLE_HASH_LEN])
{
	unsigned num = merkle_range_num_hashes(r);
	uint8_t acc[MERKLE_HASH_LEN];

	if (num == 0) {
		merkle_empty_root(out);
		return;
	}
	/* Fold right to left: the rightmost (smallest) subtree is the deepest
	 * right child of the final MTH split chain. */
	memcpy(acc, r->hashes[num - 1], MERKLE_HASH_LEN);
	for (unsigned i = num - 1; i-- > 0;)
		merkle_node_hash(h, acc, r->hashes[i], acc);
	memcpy(out, acc, MERKLE_HASH_LEN);
}

/* struct {
 *     uint64 size;
 *     opaque hashes[32][popcount(size)];   largest subtree first
 * } CompactRange; */
int merkle_range_encode(const struct merkle_range *r, struct cbb *out)
{
	unsigned num = merkle_range_num_hashes(r);

	if (!cbb_add_u64(out, r->size))
		return 0;
	for (unsigned i = 0; i < num; i++)
		if (!cbb_add_bytes(out, r->hashes[i], MERKLE_HASH_LEN))
			return 0;
	return 1;
}

int merkle_range_decode(struct merkle_range *r, struct cbs *in)
{
	struct cbs tmp = *in;
	uint64_t size;
	unsigned num;

	if (!cbs_get_u64(&tmp, &size))
		return 0;
	num = (unsigned)__builtin_popcountll(size);
	/* Exactly |num| hashes and nothing after them. */
	if (cbs_len(&tmp) != (size_t)num * MERKLE_HASH_LEN)
		return 0;
	memset(r, 0, sizeof(*r));
	r->size = size;
	for (unsigned i = 0; i < num; i++)
		if (!cbs_copy_bytes(&tmp, r->hashes[i], MERKLE_HASH_LEN))
			return 0; /* not reached: the length was checked */
	*in = tmp;
	return 1;
}
