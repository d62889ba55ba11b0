/* map.c: the lookup map's trie: batched updates (map_update, map_update_fn),
 * map_get and map_root. Tiles are in tile.c, proofs in proof.c, lists in
 * list.c, the hashes in hash.c; the format is in map.h. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "map/internal.h"

const uint8_t map__zero_hash[MAP_HASH_LEN] = {0};

/* --- updates ----------------------------------------------------------------- */

/* One key of an update below a tile: a key of the batch (|i| its index), or
 * an existing leaf pushed down into a new tile (|i| NO_INDEX: |value| and
 * |pl| move with it unchanged). A batch key that was a leaf pushed down
 * carries its old payload and |existed|. */
#define NO_INDEX ((size_t)-1)

struct upd {
	const uint8_t *key;
	size_t i;
	const uint8_t *value; /* pushed leaf */
	const uint8_t *pl;
	size_t pl_len;
	int existed;
};

struct upd_ctx {
	map_value_fn fn;
	void *ctx;
};

/* set_leaf makes |p| the leaf of |it|: a pushed leaf as it was, a batch key
 * with what the callback returns for it. */
static int set_leaf(const struct upd_ctx *u, struct map__pos *p, const struct upd *it,
		    const uint8_t *old_pl, size_t old_len, int existed)
{
	uint8_t *buf;
	size_t len = 0;
	int ret;

	if (it->i == NO_INDEX) {
		p->kind = MAP__KIND_LEAF;
		memcpy(p->key, it->key, 32);
		memcpy(p->hash, it->value, 32);
		p->pl = it->pl;
		p->pl_len = it->pl_len;
		return 0;
	}
	buf = malloc(MAP_MAX_PAYLOAD);
	if (buf == NULL)
		return MN_ENOMEM;
	ret = u->fn(u->ctx, it->i, it->key, old_pl, old_len, existed, p->hash, buf, &len);
	if (ret == 0 && len > MAP_MAX_PAYLOAD)
		ret = MN_EINVAL;
	if (ret != 0) {
		free(buf);
		return ret;
	}
	p->kind = MAP__KIND_LEAF;
	memcpy(p->key, it->key, 32);
	free(p->pl_own);
	p->pl_own = buf;
	p->pl = buf;
	p->pl_len = len;
	return 0;
}

/* update_tile applies it[0..num) (sorted, all below the tile's prefix) to tile
 * (s, prefix) and writes it; |fresh| says the tile cannot exist yet. The
 * tile's new top hash (hash(S, 4s)) goes to |out|. |new_keys| counts keys that
 * were not in the map (NULL: the caller counted them). */
static int update_tile(const struct map_tiles *tiles, const struct upd_ctx *u,
		       struct merkle_hasher *h, unsigned s, const uint8_t prefix[MAP_KEY_LEN],
		       const struct upd *it, size_t num, int fresh, uint64_t *new_keys,
		       uint8_t out[MAP_HASH_LEN])
{
	struct map__tile *t;
	struct upd *merged = NULL;
	uint8_t *raw = NULL;
	size_t a, b;
	int ret = 0;

	if (s >= MAP__MAX_STRATA)
		return MN_ECORRUPT; /* two equal keys: the caller's sort check failed */
	t = malloc(sizeof(*t));
	if (t == NULL)
		return MN_ENOMEM;
	memset(t->p, 0, sizeof(t->p));
	t->s = s;
	memcpy(t->prefix, prefix, MAP_KEY_LEN);
	if (!fresh) {
		/* a copy: the payloads must outlive the puts below */
		uint8_t id[MAP_MAX_TILE_ID];
		const uint8_t *v;
		size_t id_len = map__tile_id(id, s, prefix), v_len;

		ret = tiles->get(tiles->ctx, id, id_len, &v, &v_len);
		if (ret == MN_ENOTFOUND) {
			ret = 0;
		} else if (ret == 0) {
			raw = malloc(v_len ? v_len : 1);
			if (raw == NULL) {
				ret = MN_ENOMEM;
				goto out;
			}
			memcpy(raw, v, v_len);
			ret = map__tile_decode(t, raw, v_len);
		}
		if (ret != 0)
			goto out;
	}
	for (a = 0; a < num; a = b) {
		unsigned i = map__nibble(it[a].key, s);
		struct map__pos *p = &t->p[i];
		uint8_t child[MAP_KEY_LEN];

		for (b = a + 1; b < num && map__nibble(it[b].key, s) == i; b++)
			;
		memcpy(child, prefix, MAP_KEY_LEN);
		for (unsigned k = 0; k < MAP_TILE_BITS; k++)
			map__set_bit(child, 4 * s + k, (i >> (MAP_TILE_BITS - 1 - k)) & 1);

		if (p->kind == MAP__KIND_EMPTY && b - a == 1) {
			ret = set_leaf(u, p, &it[a], it[a].pl, it[a].pl_len, it[a].existed);
			if (new_keys)
				(*new_keys)++;
		} else if (p->kind == MAP__KIND_EMPTY) {
			if (new_keys)
				*new_keys += b - a;
			ret = update_tile(tiles, u, h, s + 1, child, it + a, b - a, 1, NULL, p->hash);
			p->kind = MAP__KIND_TREE;
		} else if (p->kind == MAP__KIND_LEAF && b - a == 1 &&
			   memcmp(p->key, it[a].key, 32) == 0) {
			ret = set_leaf(u, p, &it[a], p->pl, p->pl_len, 1);
		} else if (p->kind == MAP__KIND_LEAF) {
			/* the leaf and the new keys go down into a new tile */
			struct upd old = {p->key, NO_INDEX, p->hash, p->pl, p->pl_len, 1};
			size_t n = 0, k;
			int have = 0;

			merged = malloc((b - a + 1) * sizeof(*merged));
			if (merged == NULL) {
				ret = MN_ENOMEM;
				goto out;
			}
			for (k = a; k < b; k++) {
				int c = memcmp(p->key, it[k].key, 32);
				merged[n] = it[k];
				if (!have && c < 0) {
					merged[n++] = old;
					merged[n] = it[k];
					have = 1;
				} else if (c == 0) {
					/* the batch's key: its callback sees the old leaf */
					merged[n].pl = p->pl;
					merged[n].pl_len = p->pl_len;
					merged[n].existed = 1;
					have = 1;
				}
				n++;
			}
			if (!have)
				merged[n++] = old;
			if (new_keys)
				*new_keys += n - 1;
			ret = update_tile(tiles, u, h, s + 1, child, merged, n, 1, NULL, p->hash);
			free(merged);
			merged = NULL;
			p->kind = MAP__KIND_TREE;
		} else {
			ret = update_tile(tiles, u, h, s + 1, child, it + a, b - a, 0, new_keys,
					  p->hash);
		}
		if (ret != 0)
			goto out;
	}
	map__tile_compute(t, h);
	ret = map__tile_store(tiles, t);
	if (ret == 0)
		memcpy(out, t->h[0][0], 32);
out:
	for (unsigned i = 0; i < MAP_TILE_WIDTH; i++)
		free(t->p[i].pl_own);
	free(raw);
	free(t);
	return ret;
}

/* update runs update_tile from the root over |it| (checked sorted). */
static int update(const struct map_tiles *tiles, const struct upd_ctx *u,
		  struct merkle_hasher *h, const struct upd *it, size_t num,
		  uint64_t *io_num_keys, uint8_t out_root[MAP_HASH_LEN])
{
	uint8_t zero_prefix[MAP_KEY_LEN] = {0};
	uint64_t added = 0;
	int ret;

	for (size_t i = 1; i < num; i++)
		if (memcmp(it[i - 1].key, it[i].key, 32) >= 0)
			return MN_EINVAL;
	if (num == 0)
		return map_root(tiles, h, out_root);
	ret = update_tile(tiles, u, h, 0, zero_prefix, it, num, 0, &added, out_root);
	if (ret == 0)
		*io_num_keys += added;
	return ret;
}

int map_update_fn(const struct map_tiles *tiles, struct merkle_hasher *h,
		  const uint8_t (*keys)[MAP_KEY_LEN], size_t num, map_value_fn fn, void *ctx,
		  uint64_t *io_num_keys, uint8_t out_root[MAP_HASH_LEN])
{
	struct upd_ctx u = {fn, ctx};
	struct upd *it = NULL;
	int ret;

	if (num > 0 && (it = calloc(num, sizeof(*it))) == NULL)
		return MN_ENOMEM;
	for (size_t i = 0; i < num; i++) {
		it[i].key = keys[i];
		it[i].i = i;
	}
	ret = update(tiles, &u, h, it, num, io_num_keys, out_root);
	free(it);
	return ret;
}

static int kv_value(void *ctx, size_t i, const uint8_t key[MAP_KEY_LEN],
		    const uint8_t *old_payload, size_t old_len, int existed,
		    uint8_t out_value[MAP_HASH_LEN], uint8_t *out_payload, size_t *out_len)
{
	const struct map_kv *kv = ctx;

	(void)key, (void)old_payload, (void)old_len, (void)existed, (void)out_payload;
	memcpy(out_value, kv[i].value, MAP_HASH_LEN);
	*out_len = 0;
	return 0;
}

int map_update(const struct map_tiles *tiles, struct merkle_hasher *h,
	       const struct map_kv *kv, size_t num, uint64_t *io_num_keys,
	       uint8_t out_root[MAP_HASH_LEN])
{
	struct upd_ctx u = {kv_value, (void *)kv};
	struct upd *it = NULL;
	int ret;

	if (num > 0 && (it = calloc(num, sizeof(*it))) == NULL)
		return MN_ENOMEM;
	for (size_t i = 0; i < num; i++) {
		it[i].key = kv[i].key;
		it[i].i = i;
	}
	ret = update(tiles, &u, h, it, num, io_num_keys, out_root);
	free(it);
	return ret;
}

/* map_get: see map.h. */
int map_get(const struct map_tiles *tiles, const uint8_t key[MAP_KEY_LEN], int *out_present,
	    uint8_t out_value[MAP_HASH_LEN], uint8_t *out_payload, size_t *out_len)
{
	uint8_t prefix[MAP_KEY_LEN] = {0};
	struct map__tile *t = malloc(sizeof(*t));
	int found, ret;

	*out_present = 0;
	if (out_len != NULL)
		*out_len = 0;
	if (t == NULL)
		return MN_ENOMEM;
	for (unsigned s = 0;; s++) {
		const struct map__pos *p;
		ret = map__tile_load(tiles, t, s, prefix, &found);
		if (ret != 0)
			break;
		if (!found) {
			if (s > 0)
				ret = MN_ECORRUPT; /* its parent says it exists */
			break;
		}
		p = &t->p[map__nibble(key, s)];
		if (p->kind == MAP__KIND_LEAF) {
			if (memcmp(p->key, key, 32) == 0) {
				*out_present = 1;
				if (out_value != NULL)
					memcpy(out_value, p->hash, 32);
				if (out_payload != NULL && p->pl_len > 0)
					memcpy(out_payload, p->pl, p->pl_len);
				if (out_len != NULL)
					*out_len = p->pl_len;
			}
			break;
		}
		if (p->kind != MAP__KIND_TREE)
			break;
		if (s + 1 >= MAP__MAX_STRATA) {
			ret = MN_ECORRUPT;
			break;
		}
		map__node_prefix(prefix, t, MAP_TILE_BITS, map__nibble(key, s));
	}
	free(t);
	return ret;
}

int map_root(const struct map_tiles *tiles, struct merkle_hasher *h,
	     uint8_t out_root[MAP_HASH_LEN])
{
	uint8_t zero_prefix[MAP_KEY_LEN] = {0};
	struct map__tile *t = malloc(sizeof(*t));
	int found, ret;

	if (t == NULL)
		return MN_ENOMEM;
	ret = map__tile_load(tiles, t, 0, zero_prefix, &found);
	if (ret == 0) {
		map__tile_compute(t, h);
		memcpy(out_root, t->ne[0][0] ? t->h[0][0] : map__zero_hash, 32);
	}
	free(t);
	return ret;
}
