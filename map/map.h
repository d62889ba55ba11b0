/* map.h: the verifiable lookup map (DESIGN.md section 10): for every lookup
 * key, the complete ordered list of the log's leaves under it, committed by
 * one root. Pure computation: tiles are read and written through callbacks
 * (storage/ keeps them in LMDB, mnctl and tests in memory); no I/O here.
 *
 * The map is a function of the SET of (key, value) pairs only, never of the
 * order they were inserted in, so a replayer in any language recomputes the
 * same root from the same leaves. All hashes are SHA-256; integers big-endian.
 *
 *   map key     K = SHA-256("mn-map-key\0" || key string)            (32 bytes)
 *               key strings: entry/mapkeys.h
 *   list item   I = SHA-256(0x00 || u64 leaf_index || leaf_hash[32])
 *   list root   L = RFC 6962 MTH over the items in leaf-index order
 *               (RFC 6962 section 2.1; SHA-256("") for no items)
 *   value       V = SHA-256(0x12 || u64 count || L)
 *   map leaf      SHA-256(0x10 || K || V)
 *   map node      SHA-256(0x11 || u8 depth || prefix[32] || left || right)
 *   empty map     32 zero bytes
 *
 * The tree is a binary trie over the 256 bits of K (bit 0 = the most
 * significant bit of K[0]). With S the set of keys below a position at depth
 * d whose first d bits are P:
 *   hash(S, d) = empty map            if S is empty
 *              = map leaf of its key  if S has one key
 *              = hash(S, d + 1) of the non-empty side, if every key of S has
 *                the same bit d
 *              = map node (d, P, hash(S0, d + 1), hash(S1, d + 1)) else,
 *                P being the prefix with bits d..255 zero
 * and the root is hash(all keys, 0). A node binds its depth and prefix, so a
 * proof cannot move a key to another place in the trie.
 *
 * Proof of one key (MapProof): the split nodes on the key's path from the
 * root, each as (depth, sibling hash), then the end of the path: the key's
 * own leaf (present), another key's leaf sharing the path (absent), a node
 * whose prefix leaves the path (absent), or nothing (empty map).
 *
 *   struct {
 *       uint8 version = 1;
 *       uint8 num_steps;                       -- at most 255
 *       struct { uint8 depth; opaque sibling[32]; } steps[num_steps];  -- root first
 *       uint8 end;                             -- 0 empty, 1 leaf, 2 node
 *       select (end) {
 *           case 1: opaque key[32]; opaque value[32];
 *           case 2: uint8 depth; opaque prefix[32]; opaque left[32]; opaque right[32];
 *       };
 *   } MapProof;
 *
 * Storage layout (what the tile callbacks see): the trie is cut into tiles
 * of MAP_TILE_BITS levels. Tile (s, P) holds the 16 positions at depth 4s+4
 * below the depth-4s prefix P; each position is empty, a leaf (exactly one
 * key below it: key, value) or a subtree (two or more keys: its hash, the
 * keys being in tile (s + 1, P || position)). A tile's id is u8 s || the
 * first ceil(4s / 8) bytes of P; its value:
 *   u16 bitmap of non-empty positions, then per position in order: u8 kind
 *   (1 leaf: key[32] value[32] u16 payload_len payload[payload_len];
 *   2 subtree: hash[32]).
 * A leaf's payload (at most MAP_MAX_PAYLOAD bytes) is opaque storage of the
 * caller's, kept next to the key because the leaf is rewritten anyway when
 * its value changes (storage/ keeps the key's list state there). It is NOT
 * hashed: the map's hashes and proofs are those of the key and value alone.
 * Tile (0, "") always describes the whole map. */
#ifndef MN_MAP_MAP_H
#define MN_MAP_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"
#include "merkle/merkle.h"

#define MAP_KEY_LEN 32
#define MAP_HASH_LEN 32
#define MAP_TILE_BITS 4
#define MAP_TILE_WIDTH 16
#define MAP_MAX_TILE_ID 33               /* u8 stratum || 32 prefix bytes */
#define MAP_MAX_PAYLOAD 4096           /* a leaf's payload, bytes */
#define MAP_MAX_TILE_LEN (2 + MAP_TILE_WIDTH * (67 + MAP_MAX_PAYLOAD))
#define MAP_MAX_STEPS 255
#define MAP_MAX_PROOF_LEN (3 + MAP_MAX_STEPS * 33 + 1 + 97)
#define MAP_KEY_PREFIX "mn-map-key"      /* SHA-256("mn-map-key\0" || string) */

/* map_key derives a map key from a key string (entry/mapkeys.h). */
void map_key(struct merkle_hasher *h, uint8_t out[MAP_KEY_LEN], const uint8_t *str,
	     size_t len);
/* map_list_item: I = SHA-256(0x00 || u64 index || leaf_hash). */
void map_list_item(struct merkle_hasher *h, uint8_t out[MAP_HASH_LEN], uint64_t index,
		   const uint8_t leaf_hash[MERKLE_HASH_LEN]);
/* map_value: V = SHA-256(0x12 || u64 count || list_root). */
void map_value(struct merkle_hasher *h, uint8_t out[MAP_HASH_LEN], uint64_t count,
	       const uint8_t list_root[MAP_HASH_LEN]);
/* map_leaf_hash: SHA-256(0x10 || key || value). */
void map_leaf_hash(struct merkle_hasher *h, uint8_t out[MAP_HASH_LEN],
		   const uint8_t key[MAP_KEY_LEN], const uint8_t value[MAP_HASH_LEN]);
/* map_node_hash: SHA-256(0x11 || depth || prefix || left || right); |prefix|
 * must already have its bits from |depth| on zeroed. |out| may alias. */
void map_node_hash(struct merkle_hasher *h, uint8_t out[MAP_HASH_LEN], unsigned depth,
		   const uint8_t prefix[MAP_KEY_LEN], const uint8_t left[MAP_HASH_LEN],
		   const uint8_t right[MAP_HASH_LEN]);

struct map_cache;

/* Tile I/O. get returns 0 with the tile's bytes (borrowed until the next call
 * on ctx that writes), MN_ENOTFOUND for a tile never written, or another MN_E*
 * that fails the whole operation. put stores a tile (copying |val|). cache,
 * if not NULL, is used by map_prove only (see map_cache_new). */
struct map_tiles {
	int (*get)(void *ctx, const uint8_t *id, size_t id_len, const uint8_t **out,
		   size_t *out_len);
	int (*put)(void *ctx, const uint8_t *id, size_t id_len, const uint8_t *val,
		   size_t val_len);
	void *ctx;
	struct map_cache *cache;
};

/* map_cache_new makes a cache of decoded and hashed tiles for map_prove:
 * |num_slots| (rounded down to a power of two, at least 1) direct-mapped
 * slots, holding tiles of strata 1 .. |max_stratum| (the upper ones, which
 * every proof reads). A tile is found by its id AND the hash its parent holds
 * for it, which the proof reads first: so a hit needs neither a get nor any
 * hashing, and a tile that has changed since (its parent then holds another
 * hash) is never served: no invalidation is needed, and one cache may serve
 * every snapshot of a store. The root tile is never cached. Slots are
 * allocated lazily (calloc) and each has its own lock: thread-safe. About
 * 4.2 KB per slot used. NULL on allocation failure. */
struct map_cache *map_cache_new(size_t num_slots, unsigned max_stratum);
/* map_cache_free frees |c|; NULL is a no-op. No proof may be using it. */
void map_cache_free(struct map_cache *c);

/* One new value for a key. */
struct map_kv {
	uint8_t key[MAP_KEY_LEN];
	uint8_t value[MAP_HASH_LEN];
};

/* map_update sets the values of |num| keys (|kv| sorted by key, no key twice;
 * it is reordered in place only if unsorted: callers should sort) and writes
 * the new root to |out_root|; |*io_num_keys| (the map's key count) grows by the
 * number of new keys. Every tile it changes is written with tiles->put; a
 * failing get or put fails it (then the tiles written so far are garbage the
 * caller must discard, as an aborted transaction does). Returns 0, MN_EINVAL
 * (unsorted or repeated keys), MN_ECORRUPT (a stored tile does not parse or
 * disagrees with its place), MN_ENOMEM, or the callbacks' errors. */
int map_update(const struct map_tiles *tiles, struct merkle_hasher *h,
	       const struct map_kv *kv, size_t num, uint64_t *io_num_keys,
	       uint8_t out_root[MAP_HASH_LEN]);

/* map_value_fn gives the new value (and payload) of batch key |i| (|key|),
 * called once per key of a map_update_fn batch when the update reaches the
 * key's leaf: |existed| says the key was in the map, its leaf's payload then
 * being old_payload[0..old_len) (borrowed for the call). It writes the value
 * to |out_value| and up to MAP_MAX_PAYLOAD bytes to |out_payload|, their
 * number to |out_len|. Nonzero fails the update with that error. */
typedef int (*map_value_fn)(void *ctx, size_t i, const uint8_t key[MAP_KEY_LEN],
			    const uint8_t *old_payload, size_t old_len, int existed,
			    uint8_t out_value[MAP_HASH_LEN], uint8_t *out_payload,
			    size_t *out_len);

/* map_update_fn is map_update with values and payloads from |fn|, for the
 * |num| keys |keys| (sorted, no key twice). A leaf pushed down into a new
 * tile keeps its value and payload. map_update is map_update_fn with the
 * values of |kv| and empty payloads. */
int map_update_fn(const struct map_tiles *tiles, struct merkle_hasher *h,
		  const uint8_t (*keys)[MAP_KEY_LEN], size_t num, map_value_fn fn, void *ctx,
		  uint64_t *io_num_keys, uint8_t out_root[MAP_HASH_LEN]);

/* map_get finds |key|'s leaf without hashing or proving anything: sets
 * *out_present and, if present, |out_value| and the payload to
 * |out_payload| (room for MAP_MAX_PAYLOAD bytes) and *out_len (each may be
 * NULL). 0, MN_ECORRUPT, MN_ENOMEM or the callback's error. */
int map_get(const struct map_tiles *tiles, const uint8_t key[MAP_KEY_LEN], int *out_present,
	    uint8_t out_value[MAP_HASH_LEN], uint8_t *out_payload, size_t *out_len);

/* map_root reads the current root (the empty map's zeros if tile 0 is absent). */
int map_root(const struct map_tiles *tiles, struct merkle_hasher *h,
	     uint8_t out_root[MAP_HASH_LEN]);

/* map_prove appends the MapProof of |key| to |out| and sets *out_present (and
 * |out_value| if present). 0, MN_ECORRUPT, MN_ENOMEM or the callback's error. */
int map_prove(const struct map_tiles *tiles, struct merkle_hasher *h,
	      const uint8_t key[MAP_KEY_LEN], struct cbb *out, int *out_present,
	      uint8_t out_value[MAP_HASH_LEN]);

/* map_verify checks the MapProof |proof| for |key| against |root|. Returns 1
 * if it proves the key present with *out_value, or absent (*out_present 0);
 * 0 if the proof is malformed, has trailing bytes, or does not lead to |root|. */
int map_verify(struct merkle_hasher *h, const uint8_t root[MAP_HASH_LEN],
	       const uint8_t key[MAP_KEY_LEN], const uint8_t *proof, size_t proof_len,
	       int *out_present, uint8_t out_value[MAP_HASH_LEN]);

/* --- lists: a key's items, and proofs of a page of them ------------------- */

/* map_list_root: the list root L of |num| item hashes. */
void map_list_root(struct merkle_hasher *h, uint8_t out[MAP_HASH_LEN],
		   const uint8_t (*items)[MAP_HASH_LEN], size_t num);

/* map_list_range_proof writes the proof that items [start, end) are those
 * positions of a list of |num| items: the hashes of the subtrees of the
 * list's MTH that lie wholly outside the range, in the order map_list_range
 * verify consumes them (a recursive walk, left before right). At most
 * 2 * 64 hashes. 0 <= start < end <= num. Returns the number written, or
 * (size_t)-1 if the range is invalid or |cap| too small. */
size_t map_list_range_proof(struct merkle_hasher *h, const uint8_t (*items)[MAP_HASH_LEN],
			    size_t num, size_t start, size_t end,
			    uint8_t (*out)[MAP_HASH_LEN], size_t cap);
/* map_list_range_verify computes the list root from the items [start, end)
 * and the proof, checks that every proof hash was used, and compares with
 * |root|. 1 if it matches, else 0. */
/* map_list_range_root: the same walk, writing the list root it leads to (for
 * a client that knows the value V, not the list root: it then checks
 * map_value(count, root) == V). 1, or 0 if the range or proof is malformed. */
int map_list_range_root(struct merkle_hasher *h, uint8_t out[MAP_HASH_LEN], size_t num,
			size_t start, size_t end, const uint8_t (*range_items)[MAP_HASH_LEN],
			const uint8_t (*proof)[MAP_HASH_LEN], size_t proof_num);
int map_list_range_verify(struct merkle_hasher *h, const uint8_t root[MAP_HASH_LEN],
			  size_t num, size_t start, size_t end,
			  const uint8_t (*range_items)[MAP_HASH_LEN],
			  const uint8_t (*proof)[MAP_HASH_LEN], size_t proof_num);

/* --- an in-memory tile store (mnctl's auditor, tests, rebuild benchmarks) -- */

struct map_mem;
struct map_mem *map_mem_new(void);
void map_mem_free(struct map_mem *m);
/* map_mem_tiles: callbacks over |m| for map_update / map_prove. */
void map_mem_tiles(struct map_mem *m, struct map_tiles *out);
/* map_mem_bytes: bytes held (tiles and their ids), for reports. */
size_t map_mem_bytes(const struct map_mem *m);
size_t map_mem_count(const struct map_mem *m);

#endif
