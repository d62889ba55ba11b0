/* hash.c: the lookup map's hash functions (map.h, "hashes"): map keys, list
 * items, values, and the trie's leaf and node hashes. */
#include "map/map.h"

#include <stdlib.h>
#include <string.h>

void map_key(struct merkle_hasher *h, uint8_t out[MAP_KEY_LEN], const uint8_t *str,
	     size_t len)
{
	uint8_t buf[11 + 512];
	uint8_t *p = buf, *big = NULL;

	if (len > sizeof(buf) - 11) {
		big = malloc(11 + len);
		if (big == NULL) /* keys are short; a huge one is a caller's bug */
			abort();
		p = big;
	}
	memcpy(p, MAP_KEY_PREFIX, 10);
	p[10] = 0;
	if (len > 0)
		memcpy(p + 11, str, len);
	merkle_sha256(h, out, p, 11 + len);
	free(big);
}

void map_list_item(struct merkle_hasher *h, uint8_t out[MAP_HASH_LEN], uint64_t index,
		   const uint8_t leaf_hash[MERKLE_HASH_LEN])
{
	uint8_t buf[8 + 32];

	mn_put_be64(buf, index);
	memcpy(buf + 8, leaf_hash, 32);
	merkle_leaf_hash(h, out, buf, sizeof(buf));
}

void map_value(struct merkle_hasher *h, uint8_t out[MAP_HASH_LEN], uint64_t count,
	       const uint8_t list_root[MAP_HASH_LEN])
{
	uint8_t buf[1 + 8 + 32];

	buf[0] = 0x12;
	mn_put_be64(buf + 1, count);
	memcpy(buf + 9, list_root, 32);
	merkle_sha256(h, out, buf, sizeof(buf));
}

void map_leaf_hash(struct merkle_hasher *h, uint8_t out[MAP_HASH_LEN],
		   const uint8_t key[MAP_KEY_LEN], const uint8_t value[MAP_HASH_LEN])
{
	uint8_t buf[1 + 32 + 32];

	buf[0] = 0x10;
	memcpy(buf + 1, key, 32);
	memcpy(buf + 33, value, 32);
	merkle_sha256(h, out, buf, sizeof(buf));
}

void map_node_hash(struct merkle_hasher *h, uint8_t out[MAP_HASH_LEN], unsigned depth,
		   const uint8_t prefix[MAP_KEY_LEN], const uint8_t left[MAP_HASH_LEN],
		   const uint8_t right[MAP_HASH_LEN])
{
	uint8_t buf[2 + 32 + 32 + 32];

	buf[0] = 0x11;
	buf[1] = (uint8_t)depth;
	memcpy(buf + 2, prefix, 32);
	memcpy(buf + 34, left, 32);
	memcpy(buf + 66, right, 32);
	merkle_sha256(h, out, buf, sizeof(buf));
}
