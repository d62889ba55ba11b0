/* cache.c: a cache of hashed tiles for proofs (map.h, map_cache_new), and
 * map__load_child, which reads a child tile through it and checks it against
 * its parent. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "map/internal.h"

struct cache_slot {
	int used;
	uint8_t id[MAP_MAX_TILE_ID];
	size_t id_len;
	struct map__tile t; /* decoded, map__tile_compute done */
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
		     const uint8_t want[MAP_HASH_LEN], struct map__tile *t)
{
	uint8_t id[MAP_MAX_TILE_ID];
	size_t id_len;
	struct cache_slot *sl;
	size_t k;
	int hit;

	if (s == 0 || s > c->max_stratum)
		return 0;
	id_len = map__tile_id(id, s, prefix);
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
static void cache_put(struct map_cache *c, const struct map__tile *t)
{
	uint8_t id[MAP_MAX_TILE_ID];
	size_t id_len, k;
	struct cache_slot *sl;

	if (t->s == 0 || t->s > c->max_stratum)
		return;
	id_len = map__tile_id(id, t->s, t->prefix);
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

/* map__load_child replaces |t| by its child tile (s, prefix), which must hash to
 * |want| (what |t| held for it), computed: from tiles->cache if it is there,
 * else read, hashed, checked and then cached. */
int map__load_child(const struct map_tiles *tiles, struct merkle_hasher *h, struct map__tile *t,
		    unsigned s, const uint8_t prefix[MAP_KEY_LEN],
		    const uint8_t want[MAP_HASH_LEN])
{
	int found, ret;

	if (tiles->cache != NULL && cache_get(tiles->cache, s, prefix, want, t))
		return 0;
	ret = map__tile_load(tiles, t, s, prefix, &found);
	if (ret != 0)
		return ret;
	map__tile_compute(t, h);
	/* the child tile must be what its parent says */
	if (!found || !t->ne[0][0] || memcmp(t->h[0][0], want, 32) != 0)
		return MN_ECORRUPT;
	if (tiles->cache != NULL)
		cache_put(tiles->cache, t);
	return 0;
}
