/* verify.c: proof verification exactly as RFC 9162 sections 2.1.3.2 and
 * 2.1.4.2 give it. fn walks the path of the leaf (or of the last leaf of the
 * first tree), sn that of the last leaf of the tree; a proof of the wrong
 * length makes sn reach 0 too early (step "if sn is 0, fail") or not at all
 * (final "sn is 0" check). */
#include <string.h>

#include "merkle/merkle.h"

/* shift_to_set: "right-shift both fn and sn equally until either LSB(fn) is
 * set or fn is 0". */
static void shift_to_set(uint64_t *fn, uint64_t *sn)
{
	while ((*fn & 1) == 0 && *fn != 0) {
		*fn >>= 1;
		*sn >>= 1;
	}
}

/* RFC 9162 section 2.1.3.2. */
int merkle_verify_inclusion(struct merkle_hasher *h,
			    const uint8_t leaf_hash[MERKLE_HASH_LEN], uint64_t index,
			    uint64_t size, const uint8_t proof[][MERKLE_HASH_LEN],
			    size_t num, const uint8_t root[MERKLE_HASH_LEN])
{
	uint8_t r[MERKLE_HASH_LEN];
	uint64_t fn, sn;

	/* 1. leaf_index >= tree_size fails. */
	if (index >= size || num > MERKLE_MAX_PROOF)
		return 0;
	/* 2., 3. */
	fn = index;
	sn = size - 1;
	memcpy(r, leaf_hash, MERKLE_HASH_LEN);
	/* 4. */
	for (size_t i = 0; i < num; i++) {
		if (sn == 0)
			return 0;
		if ((fn & 1) || fn == sn) {
			merkle_node_hash(h, r, proof[i], r);
			if (!(fn & 1))
				shift_to_set(&fn, &sn);
		} else {
			merkle_node_hash(h, r, r, proof[i]);
		}
		fn >>= 1;
		sn >>= 1;
	}
	/* 5. */
	return sn == 0 && memcmp(r, root, MERKLE_HASH_LEN) == 0;
}

/* RFC 9162 section 2.1.4.2, plus the cases it leaves to the caller: equal
 * sizes need an empty proof and equal roots; an empty first tree is a prefix
 * of every tree and needs an empty proof (its root is not checked, as in
 * transparency-dev/merkle's VerifyConsistency). */
int merkle_verify_consistency(struct merkle_hasher *h, uint64_t size1,
			      uint64_t size2, const uint8_t root1[MERKLE_HASH_LEN],
			      const uint8_t root2[MERKLE_HASH_LEN],
			      const uint8_t proof[][MERKLE_HASH_LEN], size_t num)
{
	uint8_t fr[MERKLE_HASH_LEN], sr[MERKLE_HASH_LEN];
	uint64_t fn, sn;
	size_t i;

	if (size1 > size2 || num > MERKLE_MAX_PROOF)
		return 0;
	if (size1 == size2)
		return num == 0 && memcmp(root1, root2, MERKLE_HASH_LEN) == 0;
	if (size1 == 0)
		return num == 0;
	/* 1. An empty consistency_path fails. */
	if (num == 0)
		return 0;
	/* 2., 5. If first is a power of two, first_hash is prepended: it becomes
	 * the starting value and every proof element is a "subsequent value". */
	if ((size1 & (size1 - 1)) == 0) {
		memcpy(fr, root1, MERKLE_HASH_LEN);
		i = 0;
	} else {
		memcpy(fr, proof[0], MERKLE_HASH_LEN);
		i = 1;
	}
	memcpy(sr, fr, MERKLE_HASH_LEN);
	/* 3. */
	fn = size1 - 1;
	sn = size2 - 1;
	/* 4. */
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	/* 6. */
	for (; i < num; i++) {
		if (sn == 0)
			return 0;
		if ((fn & 1) || fn == sn) {
			merkle_node_hash(h, fr, proof[i], fr);
			merkle_node_hash(h, sr, proof[i], sr);
			if (!(fn & 1))
				shift_to_set(&fn, &sn);
		} else {
			merkle_node_hash(h, sr, sr, proof[i]);
		}
		fn >>= 1;
		sn >>= 1;
	}
	/* 7. */
	return sn == 0 && memcmp(fr, root1, MERKLE_HASH_LEN) == 0 &&
	       memcmp(sr, root2, MERKLE_HASH_LEN) == 0;
}
