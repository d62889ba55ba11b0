/* map.c: the lookup map's trie: hashes, tiles, batched updates, proofs and
 * their verification. The format is in map.h. */
#include "map/map.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#define KIND_EMPTY 0
#define KIND_LEAF 1
#define KIND_TREE 2
#define MAX_STRATA (256 / MAP_TILE_BITS)

static const uint8_t zero_hash[MAP_HASH_LEN];

/* --- hashes ---------------------------------------------------------------- */

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

static unsigned get_bit(const uint8_t *key, unsigned d)
{
	return (key[d >> 3] >> (7 - (d & 7))) & 1;
}

static void set_bit(uint8_t *key, unsigned d, unsigned v)
{
	if (v)
		key[d >> 3] |= (uint8_t)(0x80 >> (d & 7));
	else
		key[d >> 3] &= (uint8_t)~(0x80 >> (d & 7));
}

/* prefix_of: the first |d| bits of |key|, the rest zero. */
static void prefix_of(uint8_t out[MAP_KEY_LEN], const uint8_t *key, unsigned d)
{
	unsigned full = d >> 3;

	memset(out, 0, MAP_KEY_LEN);
	memcpy(out, key, full);
	if (d & 7)
		out[full] = key[full] & (uint8_t)(0xff00 >> (d & 7));
}

/* nibble: the 4 bits of |key| at [4s, 4s + 4). */
static unsigned nibble(const uint8_t *key, unsigned s)
{
	uint8_t b = key[s >> 1];
	return (s & 1) ? (b & 0x0f) : (b >> 4);
}

/* --- tiles ------------------------------------------------------------------- */

struct pos {
	uint8_t kind;
	uint8_t key[MAP_KEY_LEN];  /* leaf */
	uint8_t hash[MAP_HASH_LEN]; /* leaf: value; subtree: its hash */
	/* leaf: its payload (not hashed). Borrowed: from the tile's bytes as
	 * read (valid only while they are; update_tile copies them first), or
	 * from pl_own. NULL for a tile from the proof cache. */
	const uint8_t *pl;
	size_t pl_len;
	uint8_t *pl_own; /* update_tile: a payload the callback made */
};

struct tile {
	unsigned s;                  /* stratum: the tile's top is at depth 4s */
	uint8_t prefix[MAP_KEY_LEN]; /* first 4s bits, rest zero */
	struct pos p[MAP_TILE_WIDTH];
	/* computed: node hashes per level (level 4 = the positions) */
	uint8_t h[MAP_TILE_BITS + 1][MAP_TILE_WIDTH][MAP_HASH_LEN];
	uint8_t ne[MAP_TILE_BITS + 1][MAP_TILE_WIDTH];
};

static size_t tile_id(uint8_t out[MAP_MAX_TILE_ID], unsigned s, const uint8_t *prefix)
{
	size_t n = (4 * s + 7) / 8;

	out[0] = (uint8_t)s;
	memcpy(out + 1, prefix, n);
	return 1 + n;
}

static int tile_decode(struct tile *t, const uint8_t *in, size_t len)
{
	struct cbs c;
	uint16_t bitmap;

	cbs_init(&c, in, len);
	if (!cbs_get_u16(&c, &bitmap))
		return MN_ECORRUPT;
	for (unsigned i = 0; i < MAP_TILE_WIDTH; i++) {
		struct pos *p = &t->p[i];
		uint8_t kind;

		p->kind = KIND_EMPTY;
		if (!(bitmap & (0x8000u >> i)))
			continue;
		if (!cbs_get_u8(&c, &kind))
			return MN_ECORRUPT;
		if (kind == KIND_LEAF) {
			uint16_t pl_len;
			struct cbs pl;
			if (!cbs_copy_bytes(&c, p->key, 32) || !cbs_copy_bytes(&c, p->hash, 32) ||
			    !cbs_get_u16(&c, &pl_len) || pl_len > MAP_MAX_PAYLOAD ||
			    !cbs_get_bytes(&c, &pl, pl_len))
				return MN_ECORRUPT;
			p->pl = cbs_data(&pl);
			p->pl_len = pl_len;
			/* a leaf must sit where its key says */
			if (t->s < MAX_STRATA &&
			    (nibble(p->key, t->s) != i ||
			     memcmp(p->key, t->prefix, (4 * t->s) / 8) != 0))
				return MN_ECORRUPT;
		} else if (kind == KIND_TREE) {
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
static size_t tile_len(const struct tile *t)
{
	size_t n = 2;

	for (unsigned i = 0; i < MAP_TILE_WIDTH; i++) {
		if (t->p[i].kind == KIND_LEAF)
			n += 1 + 64 + 2 + t->p[i].pl_len;
		else if (t->p[i].kind == KIND_TREE)
			n += 1 + 32;
	}
	return n;
}

static size_t tile_encode(const struct tile *t, uint8_t *out)
{
	uint16_t bitmap = 0;
	size_t n = 2;

	for (unsigned i = 0; i < MAP_TILE_WIDTH; i++) {
		const struct pos *p = &t->p[i];
		if (p->kind == KIND_EMPTY)
			continue;
		bitmap |= (uint16_t)(0x8000u >> i);
		out[n++] = p->kind;
		if (p->kind == KIND_LEAF) {
			memcpy(out + n, p->key, 32);
			n += 32;
		}
		memcpy(out + n, p->hash, 32);
		n += 32;
		if (p->kind == KIND_LEAF) {
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

/* node_prefix: the prefix of node |i| on level |j| of tile |t|. */
static void node_prefix(uint8_t out[MAP_KEY_LEN], const struct tile *t, unsigned j,
			unsigned i)
{
	memcpy(out, t->prefix, MAP_KEY_LEN);
	for (unsigned b = 0; b < j; b++)
		set_bit(out, 4 * t->s + b, (i >> (j - 1 - b)) & 1);
}

/* tile_compute fills t->h and t->ne from the positions (hash(S, d) of map.h). */
static void tile_compute(struct tile *t, struct merkle_hasher *h)
{
	for (unsigned i = 0; i < MAP_TILE_WIDTH; i++) {
		const struct pos *p = &t->p[i];
		t->ne[MAP_TILE_BITS][i] = p->kind != KIND_EMPTY;
		if (p->kind == KIND_LEAF)
			map_leaf_hash(h, t->h[MAP_TILE_BITS][i], p->key, p->hash);
		else if (p->kind == KIND_TREE)
			memcpy(t->h[MAP_TILE_BITS][i], p->hash, 32);
	}
	for (unsigned j = MAP_TILE_BITS; j-- > 0;) {
		for (unsigned i = 0; i < (1u << j); i++) {
			unsigned l = 2 * i, r = 2 * i + 1;
			uint8_t ne_l = t->ne[j + 1][l], ne_r = t->ne[j + 1][r];

			t->ne[j][i] = ne_l | ne_r;
			if (ne_l && ne_r) {
				uint8_t pfx[MAP_KEY_LEN];
				node_prefix(pfx, t, j, i);
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

/* tile_load reads tile (s, prefix); a missing tile is empty (*found 0). */
static int tile_load(const struct map_tiles *tiles, struct tile *t, unsigned s,
		     const uint8_t prefix[MAP_KEY_LEN], int *found)
{
	uint8_t id[MAP_MAX_TILE_ID];
	const uint8_t *v;
	size_t id_len, v_len;
	int ret;

	memset(t->p, 0, sizeof(t->p));
	t->s = s;
	memcpy(t->prefix, prefix, MAP_KEY_LEN);
	id_len = tile_id(id, s, prefix);
	ret = tiles->get(tiles->ctx, id, id_len, &v, &v_len);
	*found = ret == 0;
	if (ret == MN_ENOTFOUND)
		return 0;
	if (ret != 0)
		return ret;
	return tile_decode(t, v, v_len);
}

static int tile_store(const struct map_tiles *tiles, const struct tile *t)
{
	uint8_t id[MAP_MAX_TILE_ID], small[2 + MAP_TILE_WIDTH * 67], *buf = small;
	size_t id_len = tile_id(id, t->s, t->prefix);
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

/* --- a cache of hashed tiles for proofs ------------------------------------ */

struct cache_slot {
	int used;
	uint8_t id[MAP_MAX_TILE_ID];
	size_t id_len;
	struct tile t; /* decoded, tile_compute done */
};

struct map_cache {
	size_t mask;
	unsigned max_stratum;
	pthread_mutex_t *locks;   /* one per slot, apart: initializing them */
	struct cache_slot *slots; /* touches none of the slots' pages */
};

struct map_cache *map_cache_new(size_t num_slots, unsigned max_stratum)
{
	struct map_cache *c = calloc(1, sizeof(*c));
	size_t n = 1;

	if (c == NULL)
		return NULL;
	while (n * 2 <= num_slots)
		n *= 2;
	/* calloc: the pages of slots never used are never touched */
	c->slots = calloc(n, sizeof(*c->slots));
	c->locks = malloc(n * sizeof(*c->locks));
	if (c->slots == NULL || c->locks == NULL) {
		free(c->slots);
		free(c->locks);
		free(c);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		pthread_mutex_init(&c->locks[i], NULL);
	c->mask = n - 1;
	c->max_stratum = max_stratum;
	return c;
}

void map_cache_free(struct map_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i <= c->mask; i++)
		pthread_mutex_destroy(&c->locks[i]);
	free(c->locks);
	free(c->slots);
	free(c);
}

static size_t cache_slot(const struct map_cache *c, const uint8_t *id, size_t id_len)
{
	uint64_t x = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < id_len; i++)
		x = (x ^ id[i]) * 0x100000001b3ull;
	return (size_t)(x ^ (x >> 29)) & c->mask;
}

/* cache_get copies the cached tile (s, prefix) into |t| if its top hash is
 * |want|; 1 if so, else 0 (|t| untouched). */
static int cache_get(struct map_cache *c, unsigned s, const uint8_t prefix[MAP_KEY_LEN],
		     const uint8_t want[MAP_HASH_LEN], struct tile *t)
{
	uint8_t id[MAP_MAX_TILE_ID];
	size_t id_len;
	struct cache_slot *sl;
	size_t k;
	int hit;

	if (s == 0 || s > c->max_stratum)
		return 0;
	id_len = tile_id(id, s, prefix);
	k = cache_slot(c, id, id_len);
	sl = &c->slots[k];
	pthread_mutex_lock(&c->locks[k]);
	hit = sl->used && sl->id_len == id_len && memcmp(sl->id, id, id_len) == 0 &&
	      sl->t.ne[0][0] && memcmp(sl->t.h[0][0], want, MAP_HASH_LEN) == 0;
	if (hit)
		memcpy(t, &sl->t, sizeof(*t));
	pthread_mutex_unlock(&c->locks[k]);
	return hit;
}

/* cache_put keeps a copy of |t| (decoded, computed, checked against its
 * parent). */
static void cache_put(struct map_cache *c, const struct tile *t)
{
	uint8_t id[MAP_MAX_TILE_ID];
	size_t id_len, k;
	struct cache_slot *sl;

	if (t->s == 0 || t->s > c->max_stratum)
		return;
	id_len = tile_id(id, t->s, t->prefix);
	k = cache_slot(c, id, id_len);
	sl = &c->slots[k];
	pthread_mutex_lock(&c->locks[k]);
	memcpy(sl->id, id, id_len);
	sl->id_len = id_len;
	memcpy(&sl->t, t, sizeof(*t));
	for (unsigned i = 0; i < MAP_TILE_WIDTH; i++) { /* they point into a txn */
		sl->t.p[i].pl = NULL;
		sl->t.p[i].pl_len = 0;
		sl->t.p[i].pl_own = NULL;
	}
	sl->used = 1;
	pthread_mutex_unlock(&c->locks[k]);
}

/* load_child replaces |t| by its child tile (s, prefix), which must hash to
 * |want| (what |t| held for it), computed: from tiles->cache if it is there,
 * else read, hashed, checked and then cached. */
static int load_child(const struct map_tiles *tiles, struct merkle_hasher *h, struct tile *t,
		      unsigned s, const uint8_t prefix[MAP_KEY_LEN],
		      const uint8_t want[MAP_HASH_LEN])
{
	int found, ret;

	if (tiles->cache != NULL && cache_get(tiles->cache, s, prefix, want, t))
		return 0;
	ret = tile_load(tiles, t, s, prefix, &found);
	if (ret != 0)
		return ret;
	tile_compute(t, h);
	/* the child tile must be what its parent says */
	if (!found || !t->ne[0][0] || memcmp(t->h[0][0], want, 32) != 0)
		return MN_ECORRUPT;
	if (tiles->cache != NULL)
		cache_put(tiles->cache, t);
	return 0;
}

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
static int set_leaf(const struct upd_ctx *u, struct pos *p, const struct upd *it,
		    const uint8_t *old_pl, size_t old_len, int existed)
{
	uint8_t *buf;
	size_t len = 0;
	int ret;

	if (it->i == NO_INDEX) {
		p->kind = KIND_LEAF;
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
	p->kind = KIND_LEAF;
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
	struct tile *t;
	struct upd *merged = NULL;
	uint8_t *raw = NULL;
	size_t a, b;
	int ret = 0;

	if (s >= MAX_STRATA)
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
		size_t id_len = tile_id(id, s, prefix), v_len;

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
			ret = tile_decode(t, raw, v_len);
		}
		if (ret != 0)
			goto out;
	}
	for (a = 0; a < num; a = b) {
		unsigned i = nibble(it[a].key, s);
		struct pos *p = &t->p[i];
		uint8_t child[MAP_KEY_LEN];

		for (b = a + 1; b < num && nibble(it[b].key, s) == i; b++)
			;
		memcpy(child, prefix, MAP_KEY_LEN);
		for (unsigned k = 0; k < MAP_TILE_BITS; k++)
			set_bit(child, 4 * s + k, (i >> (MAP_TILE_BITS - 1 - k)) & 1);

		if (p->kind == KIND_EMPTY && b - a == 1) {
			ret = set_leaf(u, p, &it[a], it[a].pl, it[a].pl_len, it[a].existed);
			if (new_keys)
				(*new_keys)++;
		} else if (p->kind == KIND_EMPTY) {
			if (new_keys)
				*new_keys += b - a;
			ret = update_tile(tiles, u, h, s + 1, child, it + a, b - a, 1, NULL, p->hash);
			p->kind = KIND_TREE;
		} else if (p->kind == KIND_LEAF && b - a == 1 &&
			   memcmp(p->key, it[a].key, 32) == 0) {
			ret = set_leaf(u, p, &it[a], p->pl, p->pl_len, 1);
		} else if (p->kind == KIND_LEAF) {
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
			p->kind = KIND_TREE;
		} else {
			ret = update_tile(tiles, u, h, s + 1, child, it + a, b - a, 0, new_keys,
					  p->hash);
		}
		if (ret != 0)
			goto out;
	}
	tile_compute(t, h);
	ret = tile_store(tiles, t);
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
	struct tile *t = malloc(sizeof(*t));
	int found, ret;

	*out_present = 0;
	if (out_len != NULL)
		*out_len = 0;
	if (t == NULL)
		return MN_ENOMEM;
	for (unsigned s = 0;; s++) {
		const struct pos *p;
		ret = tile_load(tiles, t, s, prefix, &found);
		if (ret != 0)
			break;
		if (!found) {
			if (s > 0)
				ret = MN_ECORRUPT; /* its parent says it exists */
			break;
		}
		p = &t->p[nibble(key, s)];
		if (p->kind == KIND_LEAF) {
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
		if (p->kind != KIND_TREE)
			break;
		if (s + 1 >= MAX_STRATA) {
			ret = MN_ECORRUPT;
			break;
		}
		node_prefix(prefix, t, MAP_TILE_BITS, nibble(key, s));
	}
	free(t);
	return ret;
}

int map_root(const struct map_tiles *tiles, struct merkle_hasher *h,
	     uint8_t out_root[MAP_HASH_LEN])
{
	uint8_t zero_prefix[MAP_KEY_LEN] = {0};
	struct tile *t = malloc(sizeof(*t));
	int found, ret;

	if (t == NULL)
		return MN_ENOMEM;
	ret = tile_load(tiles, t, 0, zero_prefix, &found);
	if (ret == 0) {
		tile_compute(t, h);
		memcpy(out_root, t->ne[0][0] ? t->h[0][0] : zero_hash, 32);
	}
	free(t);
	return ret;
}

/* --- proofs ------------------------------------------------------------------ */

/* prove_end writes the end of a proof at node (j, i) of tile |t|, which is
 * not on the key's path: the compressed node found there. */
static int prove_end(const struct map_tiles *tiles, struct merkle_hasher *h, struct tile *t,
		     unsigned j, unsigned i, struct cbb *out)
{
	int ret;

	for (;;) {
		while (j < MAP_TILE_BITS) {
			unsigned l = 2 * i, r = 2 * i + 1;
			if (t->ne[j + 1][l] && t->ne[j + 1][r]) {
				uint8_t pfx[MAP_KEY_LEN];
				node_prefix(pfx, t, j, i);
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
		if (t->p[i].kind == KIND_LEAF) {
			if (!cbb_add_u8(out, 1) || !cbb_add_bytes(out, t->p[i].key, 32) ||
			    !cbb_add_bytes(out, t->p[i].hash, 32))
				return MN_ENOMEM;
			return 0;
		}
		if (t->p[i].kind != KIND_TREE)
			return MN_ECORRUPT;
		{
			uint8_t child[MAP_KEY_LEN], want[MAP_HASH_LEN];
			unsigned s = t->s;
			memcpy(want, t->p[i].hash, 32);
			node_prefix(child, t, MAP_TILE_BITS, i);
			if (s + 1 >= MAX_STRATA)
				return MN_ECORRUPT;
			ret = load_child(tiles, h, t, s + 1, child, want);
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
	struct tile *t = malloc(sizeof(*t));
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
	ret = tile_load(tiles, t, 0, prefix, &found);
	if (ret != 0)
		goto out;
	tile_compute(t, h);
	if (!t->ne[0][0]) {
		if (!cbb_add_u8(&end, 0))
			ret = MN_ENOMEM;
		goto done;
	}
	for (;;) {
		unsigned i = 0, j;
		for (j = 0; j < MAP_TILE_BITS; j++) {
			unsigned b = get_bit(key, 4 * s + j);
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
		if (t->p[i].kind == KIND_LEAF) {
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
		if (t->p[i].kind != KIND_TREE || s + 1 >= MAX_STRATA) {
			ret = MN_ECORRUPT;
			goto out;
		}
		{
			uint8_t want[MAP_HASH_LEN];
			memcpy(want, t->p[i].hash, 32);
			node_prefix(prefix, t, MAP_TILE_BITS, i);
			s++;
			ret = load_child(tiles, h, t, s, prefix, want);
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
		if (num != 0 || cbs_len(&c) != 0 || memcmp(root, zero_hash, 32) != 0)
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
				if (get_bit(k2, (unsigned)d) != get_bit(key, (unsigned)d))
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
		prefix_of(want, px, d);
		if (memcmp(want, px, 32) != 0)
			return 0; /* bits past the depth must be zero */
		for (int b = 0; b < (int)d; b++) {
			unsigned x = get_bit(px, (unsigned)b), y = get_bit(key, (unsigned)b);
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
		prefix_of(pfx, key, d);
		if (get_bit(key, d) == 0)
			map_node_hash(h, cur, d, pfx, cur, st + 1);
		else
			map_node_hash(h, cur, d, pfx, st + 1, cur);
	}
	if (memcmp(cur, root, 32) != 0)
		return 0;
	*out_present = present;
	return 1;
}

/* --- lists ------------------------------------------------------------------- */

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
