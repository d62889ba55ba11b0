/* tile.c: the lookup map's tiles (map.h, "tiles"): a tile's id, its bytes
 * (decoding checks a leaf sits where its key says), its node hashes, and
 * reading and writing it through struct map_tiles. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "map/internal.h"

size_t map__tile_id(uint8_t out[MAP_MAX_TILE_ID], unsigned s, const uint8_t *prefix)
{
	size_t n = (4 * s + 7) / 8;

	out[0] = (uint8_t)s;
	memcpy(out + 1, prefix, n);
	return 1 + n;
}

int map__tile_decode(struct map__tile *t, const uint8_t *in, size_t len)
{
	struct cbs c;
	uint16_t bitmap;

	cbs_init(&c, in, len);
	if (!cbs_get_u16(&c, &bitmap))
		return MN_ECORRUPT;
	for (unsigned i = 0; i < MAP_TILE_WIDTH; i++) {
		struct map__pos *p = &t->p[i];
		uint8_t kind;

		p->kind = MAP__KIND_EMPTY;
		if (!(bitmap & (0x8000u >> i)))
			continue;
		if (!cbs_get_u8(&c, &kind))
			return MN_ECORRUPT;
		if (kind == MAP__KIND_LEAF) {
			uint16_t pl_len;
			struct cbs pl;
			if (!cbs_copy_bytes(&c, p->key, 32) || !cbs_copy_bytes(&c, p->hash, 32) ||
			    !cbs_get_u16(&c, &pl_len) || pl_len > MAP_MAX_PAYLOAD ||
			    !cbs_get_bytes(&c, &pl, pl_len))
				return MN_ECORRUPT;
			p->pl = cbs_data(&pl);
			p->pl_len = pl_len;
			/* a leaf must sit where its key says */
			if (t->s < MAP__MAX_STRATA &&
			    (map__nibble(p->key, t->s) != i ||
			     memcmp(p->key, t->prefix, (4 * t->s) / 8) != 0))
				return MN_ECORRUPT;
		} else if (kind == MAP__KIND_TREE) {
			if (!cbs_copy_bytes(&c, p->hash, 32))
				return MN_ECORRUPT;
		} else {
			return MN_ECORRUPT;
		}
		p->kind = kind;
	}
	return cbs_len(&c) == 0 ? 0 : MN_ECORRUPT;
}

/* tile_encode writes |t| to |out| (at least tile_len(t) bytes). */
static size_t tile_len(const struct map__tile *t)
{
	size_t n = 2;

	for (unsigned i = 0; i < MAP_TILE_WIDTH; i++) {
		if (t->p[i].kind == MAP__KIND_LEAF)
			n += 1 + 64 + 2 + t->p[i].pl_len;
		else if (t->p[i].kind == MAP__KIND_TREE)
			n += 1 + 32;
	}
	return n;
}

static size_t tile_encode(const struct map__tile *t, uint8_t *out)
{
	uint16_t bitmap = 0;
	size_t n = 2;

	for (unsigned i = 0; i < MAP_TILE_WIDTH; i++) {
		const struct map__pos *p = &t->p[i];
		if (p->kind == MAP__KIND_EMPTY)
			continue;
		bitmap |= (uint16_t)(0x8000u >> i);
		out[n++] = p->kind;
		if (p->kind == MAP__KIND_LEAF) {
			memcpy(out + n, p->key, 32);
			n += 32;
		}
		memcpy(out + n, p->hash, 32);
		n += 32;
		if (p->kind == MAP__KIND_LEAF) {
			out[n++] = (uint8_t)(p->pl_len >> 8);
			out[n++] = (uint8_t)p->pl_len;
			if (p->pl_len > 0)
				memcpy(out + n, p->pl, p->pl_len);
			n += p->pl_len;
		}
	}
	out[0] = (uint8_t)(bitmap >> 8);
	out[1] = (uint8_t)bitmap;
	return n;
}

/* map__node_prefix: the prefix of node |i| on level |j| of tile |t|. */
void map__node_prefix(uint8_t out[MAP_KEY_LEN], const struct map__tile *t, unsigned j,
		      unsigned i)
{
	memcpy(out, t->prefix, MAP_KEY_LEN);
	for (unsigned b = 0; b < j; b++)
		map__set_bit(out, 4 * t->s + b, (i >> (j - 1 - b)) & 1);
}

/* map__tile_compute fills t->h and t->ne from the positions (hash(S, d) of map.h). */
void map__tile_compute(struct map__tile *t, struct merkle_hasher *h)
{
	for (unsigned i = 0; i < MAP_TILE_WIDTH; i++) {
		const struct map__pos *p = &t->p[i];
		t->ne[MAP_TILE_BITS][i] = p->kind != MAP__KIND_EMPTY;
		if (p->kind == MAP__KIND_LEAF)
			map_leaf_hash(h, t->h[MAP_TILE_BITS][i], p->key, p->hash);
		else if (p->kind == MAP__KIND_TREE)
			memcpy(t->h[MAP_TILE_BITS][i], p->hash, 32);
	}
	for (unsigned j = MAP_TILE_BITS; j-- > 0;) {
		for (unsigned i = 0; i < (1u << j); i++) {
			unsigned l = 2 * i, r = 2 * i + 1;
			uint8_t ne_l = t->ne[j + 1][l], ne_r = t->ne[j + 1][r];

			t->ne[j][i] = ne_l | ne_r;
			if (ne_l && ne_r) {
				uint8_t pfx[MAP_KEY_LEN];
				map__node_prefix(pfx, t, j, i);
				map_node_hash(h, t->h[j][i], 4 * t->s + j, pfx, t->h[j + 1][l],
					      t->h[j + 1][r]);
			} else if (ne_l) {
				memcpy(t->h[j][i], t->h[j + 1][l], 32);
			} else if (ne_r) {
				memcpy(t->h[j][i], t->h[j + 1][r], 32);
			}
		}
	}
}

/* map__tile_load reads tile (s, prefix); a missing tile is empty (*found 0). */
int map__tile_load(const struct map_tiles *tiles, struct map__tile *t, unsigned s,
		   const uint8_t prefix[MAP_KEY_LEN], int *found)
{
	uint8_t id[MAP_MAX_TILE_ID];
	const uint8_t *v;
	size_t id_len, v_len;
	int ret;

	memset(t->p, 0, sizeof(t->p));
	t->s = s;
	memcpy(t->prefix, prefix, MAP_KEY_LEN);
	id_len = map__tile_id(id, s, prefix);
	ret = tiles->get(tiles->ctx, id, id_len, &v, &v_len);
	*found = ret == 0;
	if (ret == MN_ENOTFOUND)
		return 0;
	if (ret != 0)
		return ret;
	return map__tile_decode(t, v, v_len);
}

int map__tile_store(const struct map_tiles *tiles, const struct map__tile *t)
{
	uint8_t id[MAP_MAX_TILE_ID], small[2 + MAP_TILE_WIDTH * 67], *buf = small;
	size_t id_len = map__tile_id(id, t->s, t->prefix);
	size_t len = tile_len(t);
	int ret;

	if (len > sizeof(small) && (buf = malloc(len)) == NULL)
		return MN_ENOMEM;
	len = tile_encode(t, buf);
	ret = tiles->put(tiles->ctx, id, id_len, buf, len);
	if (buf != small)
		free(buf);
	return ret;
}
