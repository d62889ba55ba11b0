/* list.c: a key's list of items (map.h, "lists"): its root, and proofs of a
 * range of it (RFC 6962 trees of the item hashes). */
#include <string.h>

#include "map/map.h"

static size_t split_point(size_t n)
{
	size_t k = 1;
	while (k << 1 < n)
		k <<= 1;
	return k;
}

static void mth(struct merkle_hasher *h, uint8_t out[MAP_HASH_LEN],
		const uint8_t (*items)[MAP_HASH_LEN], size_t n)
{
	uint8_t l[MAP_HASH_LEN], r[MAP_HASH_LEN];
	size_t k;

	if (n == 1) {
		memcpy(out, items[0], 32);
		return;
	}
	k = split_point(n);
	mth(h, l, items, k);
	mth(h, r, items + k, n - k);
	merkle_node_hash(h, out, l, r);
}

void map_list_root(struct merkle_hasher *h, uint8_t out[MAP_HASH_LEN],
		   const uint8_t (*items)[MAP_HASH_LEN], size_t num)
{
	if (num == 0)
		merkle_empty_root(out);
	else
		mth(h, out, items, num);
}

static int range_prove(struct merkle_hasher *h, const uint8_t (*items)[MAP_HASH_LEN],
		       size_t lo, size_t hi, size_t start, size_t end,
		       uint8_t (*out)[MAP_HASH_LEN], size_t cap, size_t *n)
{
	size_t k;

	if (hi <= start || lo >= end) {
		if (*n == cap)
			return 0;
		mth(h, out[(*n)++], items + lo, hi - lo);
		return 1;
	}
	if (lo >= start && hi <= end)
		return 1;
	k = lo + split_point(hi - lo);
	return range_prove(h, items, lo, k, start, end, out, cap, n) &&
	       range_prove(h, items, k, hi, start, end, out, cap, n);
}

size_t map_list_range_proof(struct merkle_hasher *h, const uint8_t (*items)[MAP_HASH_LEN],
			    size_t num, size_t start, size_t end,
			    uint8_t (*out)[MAP_HASH_LEN], size_t cap)
{
	size_t n = 0;

	if (!(start < end && end <= num))
		return (size_t)-1;
	if (!range_prove(h, items, 0, num, start, end, out, cap, &n))
		return (size_t)-1;
	return n;
}

static int range_verify(struct merkle_hasher *h, size_t lo, size_t hi, size_t start,
			size_t end, const uint8_t (*range_items)[MAP_HASH_LEN],
			const uint8_t (*proof)[MAP_HASH_LEN], size_t proof_num, size_t *used,
			uint8_t out[MAP_HASH_LEN])
{
	uint8_t l[MAP_HASH_LEN], r[MAP_HASH_LEN];
	size_t k;

	if (hi <= start || lo >= end) {
		if (*used == proof_num)
			return 0;
		memcpy(out, proof[(*used)++], 32);
		return 1;
	}
	if (lo >= start && hi <= end) {
		mth(h, out, range_items + (lo - start), hi - lo);
		return 1;
	}
	k = lo + split_point(hi - lo);
	if (!range_verify(h, lo, k, start, end, range_items, proof, proof_num, used, l) ||
	    !range_verify(h, k, hi, start, end, range_items, proof, proof_num, used, r))
		return 0;
	merkle_node_hash(h, out, l, r);
	return 1;
}

int map_list_range_root(struct merkle_hasher *h, uint8_t out[MAP_HASH_LEN], size_t num,
			size_t start, size_t end, const uint8_t (*range_items)[MAP_HASH_LEN],
			const uint8_t (*proof)[MAP_HASH_LEN], size_t proof_num)
{
	size_t used = 0;

	if (num == 0) {
		if (start != 0 || end != 0 || proof_num != 0)
			return 0;
		merkle_empty_root(out);
		return 1;
	}
	if (!(start < end && end <= num))
		return 0;
	if (!range_verify(h, 0, num, start, end, range_items, proof, proof_num, &used, out))
		return 0;
	return used == proof_num;
}

int map_list_range_verify(struct merkle_hasher *h, const uint8_t root[MAP_HASH_LEN],
			  size_t num, size_t start, size_t end,
			  const uint8_t (*range_items)[MAP_HASH_LEN],
			  const uint8_t (*proof)[MAP_HASH_LEN], size_t proof_num)
{
	uint8_t got[MAP_HASH_LEN];

	return map_list_range_root(h, got, num, start, end, range_items, proof, proof_num) &&
	       memcmp(got, root, 32) == 0;
}
