/* proof.c: the lookup map's proofs (map.h, MapProof): map_prove walks the
 * tiles down a key's path, map_verify checks a proof against a root. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "map/internal.h"

/* prove_end writes the end of a proof at node (j, i) of tile |t|, which is
 * not on the key's path: the compressed node found there. */
static int prove_end(const struct map_tiles *tiles, struct merkle_hasher *h, struct map__tile *t,
		     unsigned j, unsigned i, struct cbb *out)
{
	int ret;

	for (;;) {
		while (j < MAP_TILE_BITS) {
			unsigned l = 2 * i, r = 2 * i + 1;
			if (t->ne[j + 1][l] && t->ne[j + 1][r]) {
				uint8_t pfx[MAP_KEY_LEN];
				map__node_prefix(pfx, t, j, i);
				if (!cbb_add_u8(out, 2) || !cbb_add_u8(out, (uint8_t)(4 * t->s + j)) ||
				    !cbb_add_bytes(out, pfx, 32) ||
				    !cbb_add_bytes(out, t->h[j + 1][l], 32) ||
				    !cbb_add_bytes(out, t->h[j + 1][r], 32))
					return MN_ENOMEM;
				return 0;
			}
			i = t->ne[j + 1][l] ? l : r;
			j++;
		}
		if (t->p[i].kind == MAP__KIND_LEAF) {
			if (!cbb_add_u8(out, 1) || !cbb_add_bytes(out, t->p[i].key, 32) ||
			    !cbb_add_bytes(out, t->p[i].hash, 32))
				return MN_ENOMEM;
			return 0;
		}
		if (t->p[i].kind != MAP__KIND_TREE)
			return MN_ECORRUPT;
		{
			uint8_t child[MAP_KEY_LEN], want[MAP_HASH_LEN];
			unsigned s = t->s;
			memcpy(want, t->p[i].hash, 32);
			map__node_prefix(child, t, MAP_TILE_BITS, i);
			if (s + 1 >= MAP__MAX_STRATA)
				return MN_ECORRUPT;
			ret = map__load_child(tiles, h, t, s + 1, child, want);
			if (ret != 0)
				return ret;
		}
		j = 0;
		i = 0;
	}
}

int map_prove(const struct map_tiles *tiles, struct merkle_hasher *h,
	      const uint8_t key[MAP_KEY_LEN], struct cbb *out, int *out_present,
	      uint8_t out_value[MAP_HASH_LEN])
{
	uint8_t prefix[MAP_KEY_LEN] = {0};
	uint8_t steps[MAP_MAX_STEPS][33];
	size_t num_steps = 0;
	struct map__tile *t = malloc(sizeof(*t));
	struct cbb end;
	uint8_t *end_buf = NULL;
	size_t end_len = 0;
	unsigned s = 0;
	int found, ret;

	*out_present = 0;
	if (t == NULL)
		return MN_ENOMEM;
	if (!cbb_init(&end, 128, 256)) {
		free(t);
		return MN_ENOMEM;
	}
	ret = map__tile_load(tiles, t, 0, prefix, &found);
	if (ret != 0)
		goto out;
	map__tile_compute(t, h);
	if (!t->ne[0][0]) {
		if (!cbb_add_u8(&end, 0))
			ret = MN_ENOMEM;
		goto done;
	}
	for (;;) {
		unsigned i = 0, j;
		for (j = 0; j < MAP_TILE_BITS; j++) {
			unsigned b = map__get_bit(key, 4 * s + j);
			unsigned c = 2 * i + b, o = 2 * i + (b ^ 1);
			if (t->ne[j + 1][c] && t->ne[j + 1][o]) {
				if (num_steps == MAP_MAX_STEPS) {
					ret = MN_ECORRUPT;
					goto out;
				}
				steps[num_steps][0] = (uint8_t)(4 * s + j);
				memcpy(steps[num_steps] + 1, t->h[j + 1][o], 32);
				num_steps++;
				i = c;
			} else if (t->ne[j + 1][c]) {
				i = c;
			} else {
				ret = prove_end(tiles, h, t, j + 1, o, &end);
				goto done;
			}
		}
		if (t->p[i].kind == MAP__KIND_LEAF) {
			if (!cbb_add_u8(&end, 1) || !cbb_add_bytes(&end, t->p[i].key, 32) ||
			    !cbb_add_bytes(&end, t->p[i].hash, 32)) {
				ret = MN_ENOMEM;
				goto out;
			}
			if (memcmp(t->p[i].key, key, 32) == 0) {
				*out_present = 1;
				memcpy(out_value, t->p[i].hash, 32);
			}
			goto done;
		}
		if (t->p[i].kind != MAP__KIND_TREE || s + 1 >= MAP__MAX_STRATA) {
			ret = MN_ECORRUPT;
			goto out;
		}
		{
			uint8_t want[MAP_HASH_LEN];
			memcpy(want, t->p[i].hash, 32);
			map__node_prefix(prefix, t, MAP_TILE_BITS, i);
			s++;
			ret = map__load_child(tiles, h, t, s, prefix, want);
			if (ret != 0)
				goto out;
		}
	}
done:
	if (ret != 0)
		goto out;
	if (!cbb_finish(&end, &end_buf, &end_len)) {
		ret = MN_ENOMEM;
		goto out;
	}
	if (!cbb_add_u8(out, 1) || !cbb_add_u8(out, (uint8_t)num_steps) ||
	    (num_steps > 0 && !cbb_add_bytes(out, &steps[0][0], num_steps * 33)) ||
	    !cbb_add_bytes(out, end_buf, end_len))
		ret = MN_ENOMEM;
out:
	cbb_cleanup(&end);
	free(end_buf);
	free(t);
	return ret;
}

int map_verify(struct merkle_hasher *h, const uint8_t root[MAP_HASH_LEN],
	       const uint8_t key[MAP_KEY_LEN], const uint8_t *proof, size_t proof_len,
	       int *out_present, uint8_t out_value[MAP_HASH_LEN])
{
	struct cbs c, steps;
	uint8_t version, num, end, cur[MAP_HASH_LEN], pfx[MAP_KEY_LEN];
	int last = -1, present = 0;

	cbs_init(&c, proof, proof_len);
	if (!cbs_get_u8(&c, &version) || version != 1 || !cbs_get_u8(&c, &num) ||
	    !cbs_get_bytes(&c, &steps, (size_t)num * 33) || !cbs_get_u8(&c, &end))
		return 0;
	/* depths strictly increasing from the root */
	for (size_t k = 0; k < num; k++) {
		int d = cbs_data(&steps)[k * 33];
		if (d <= last)
			return 0;
		last = d;
	}
	if (end == 0) {
		if (num != 0 || cbs_len(&c) != 0 || memcmp(root, map__zero_hash, 32) != 0)
			return 0;
		*out_present = 0;
		return 1;
	} else if (end == 1) {
		uint8_t k2[MAP_KEY_LEN], v2[MAP_HASH_LEN];
		if (!cbs_copy_bytes(&c, k2, 32) || !cbs_copy_bytes(&c, v2, 32) || cbs_len(&c) != 0)
			return 0;
		if (memcmp(k2, key, 32) == 0) {
			present = 1;
			memcpy(out_value, v2, 32);
		} else {
			/* the other key must lie on our path down to the last split,
			 * that split's bit included: that subtree holds only it */
			for (int d = 0; d <= last; d++)
				if (map__get_bit(k2, (unsigned)d) != map__get_bit(key, (unsigned)d))
					return 0;
		}
		map_leaf_hash(h, cur, k2, v2);
	} else if (end == 2) {
		uint8_t d, px[MAP_KEY_LEN], l[MAP_HASH_LEN], r[MAP_HASH_LEN], want[MAP_KEY_LEN];
		int differs = 0;
		if (!cbs_get_u8(&c, &d) || !cbs_copy_bytes(&c, px, 32) ||
		    !cbs_copy_bytes(&c, l, 32) || !cbs_copy_bytes(&c, r, 32) || cbs_len(&c) != 0)
			return 0;
		if ((int)d <= last)
			return 0;
		map__prefix_of(want, px, d);
		if (memcmp(want, px, 32) != 0)
			return 0; /* bits past the depth must be zero */
		for (int b = 0; b < (int)d; b++) {
			unsigned x = map__get_bit(px, (unsigned)b);
			unsigned y = map__get_bit(key, (unsigned)b);
			if (b <= last && x != y)
				return 0; /* not below our path */
			if (b > last && x != y)
				differs = 1;
		}
		if (!differs)
			return 0; /* the path goes on below this node: not an end */
		map_node_hash(h, cur, d, px, l, r);
	} else {
		return 0;
	}
	for (size_t k = num; k-- > 0;) {
		const uint8_t *st = cbs_data(&steps) + k * 33;
		unsigned d = st[0];
		map__prefix_of(pfx, key, d);
		if (map__get_bit(key, d) == 0)
			map_node_hash(h, cur, d, pfx, cur, st + 1);
		else
			map_node_hash(h, cur, d, pfx, st + 1, cur);
	}
	if (memcmp(cur, root, 32) != 0)
		return 0;
	*out_present = present;
	return 1;
}
