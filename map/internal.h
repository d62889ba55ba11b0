/* map/internal.h: what the lookup map's files (map.c, tile.c, cache.c,
 * proof.c) share: a tile in memory, its positions, bit helpers over keys, and
 * the tile functions. Only map/ includes this header; the format is in map.h. */
#ifndef MN_MAP_INTERNAL_H
#define MN_MAP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "map/map.h"

#define MAP__KIND_EMPTY 0
#define MAP__KIND_LEAF 1
#define MAP__KIND_TREE 2
#define MAP__MAX_STRATA (256 / MAP_TILE_BITS)

/* The root of the empty map: 32 zero bytes (map.h). */
extern const uint8_t map__zero_hash[MAP_HASH_LEN];

/* --- bits of a key ------------------------------------------------------------ */

static inline unsigned map__get_bit(const uint8_t *key, unsigned d)
{
	return (key[d >> 3] >> (7 - (d & 7))) & 1;
}

static inline void map__set_bit(uint8_t *key, unsigned d, unsigned v)
{
	if (v)
		key[d >> 3] |= (uint8_t)(0x80 >> (d & 7));
	else
		key[d >> 3] &= (uint8_t)~(0x80 >> (d & 7));
}

/* map__prefix_of: the first |d| bits of |key|, the rest zero. */
static inline void map__prefix_of(uint8_t out[MAP_KEY_LEN], const uint8_t *key, unsigned d)
{
	unsigned full = d >> 3;

	memset(out, 0, MAP_KEY_LEN);
	memcpy(out, key, full);
	if (d & 7)
		out[full] = key[full] & (uint8_t)(0xff00 >> (d & 7));
}

/* map__nibble: the 4 bits of |key| at [4s, 4s + 4). */
static inline unsigned map__nibble(const uint8_t *key, unsigned s)
{
	uint8_t b = key[s >> 1];
	return (s & 1) ? (b & 0x0f) : (b >> 4);
}

/* --- a tile in memory (tile.c) ------------------------------------------------ */

struct map__pos {
	uint8_t kind;
	uint8_t key[MAP_KEY_LEN];  /* leaf */
	uint8_t hash[MAP_HASH_LEN]; /* leaf: value; subtree: its hash */
	/* leaf: its payload (not hashed). Borrowed: from the tile's bytes as
	 * read (valid only while they are; map.c's update_tile copies them
	 * first), or from pl_own. NULL for a tile from the proof cache. */
	const uint8_t *pl;
	size_t pl_len;
	uint8_t *pl_own; /* update_tile: a payload the callback made */
};

struct map__tile {
	unsigned s;                  /* stratum: the tile's top is at depth 4s */
	uint8_t prefix[MAP_KEY_LEN]; /* first 4s bits, rest zero */
	struct map__pos p[MAP_TILE_WIDTH];
	/* computed: node hashes per level (level 4 = the positions) */
	uint8_t h[MAP_TILE_BITS + 1][MAP_TILE_WIDTH][MAP_HASH_LEN];
	uint8_t ne[MAP_TILE_BITS + 1][MAP_TILE_WIDTH];
};

/* map__tile_id writes the id of tile (s, prefix) to |out|; returns its length. */
size_t map__tile_id(uint8_t out[MAP_MAX_TILE_ID], unsigned s, const uint8_t *prefix);
/* map__tile_decode fills t->p from the tile bytes |in| (t->s and t->prefix
 * set); leaf payloads point into |in|. 0 or MN_ECORRUPT. */
int map__tile_decode(struct map__tile *t, const uint8_t *in, size_t len);
/* map__node_prefix: the prefix of node |i| on level |j| of tile |t|. */
void map__node_prefix(uint8_t out[MAP_KEY_LEN], const struct map__tile *t, unsigned j,
		      unsigned i);
/* map__tile_compute fills t->h and t->ne from the positions (hash(S, d) of
 * map.h). */
void map__tile_compute(struct map__tile *t, struct merkle_hasher *h);
/* map__tile_load reads tile (s, prefix); a missing tile is empty (*found 0).
 * Leaf payloads point into the store's bytes. */
int map__tile_load(const struct map_tiles *tiles, struct map__tile *t, unsigned s,
		   const uint8_t prefix[MAP_KEY_LEN], int *found);
/* map__tile_store writes |t| (encoded) through tiles->put. */
int map__tile_store(const struct map_tiles *tiles, const struct map__tile *t);

/* --- the proof cache (cache.c) ------------------------------------------------ */

/* map__load_child replaces |t| by its child tile (s, prefix), which must hash
 * to |want| (what |t| held for it), computed: from tiles->cache if it is
 * there, else read, hashed, checked and then cached. */
int map__load_child(const struct map_tiles *tiles, struct merkle_hasher *h,
		    struct map__tile *t, unsigned s, const uint8_t prefix[MAP_KEY_LEN],
		    const uint8_t want[MAP_HASH_LEN]);

#endif
