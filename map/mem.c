/* mem.c: an in-memory tile store for the map (an open-addressing table keyed
 * by tile id). For the auditor in mnctl, tests and the rebuild benchmark; the
 * log keeps its tiles in LMDB (storage/). */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "map/map.h"

struct slot {
	uint8_t id_len; /* 0 = free */
	uint8_t id[MAP_MAX_TILE_ID];
	uint16_t len;
	uint8_t *val;
};

struct map_mem {
	struct slot *slots;
	size_t cap, num, bytes;
};

static uint64_t id_hash(const uint8_t *id, size_t len)
{
	uint64_t x = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++)
		x = (x ^ id[i]) * 0x100000001b3ull;
	return x;
}

static struct slot *find(struct slot *slots, size_t cap, const uint8_t *id, size_t len)
{
	size_t i = (size_t)id_hash(id, len) & (cap - 1);

	for (;; i = (i + 1) & (cap - 1)) {
		struct slot *s = &slots[i];
		if (s->id_len == 0 || (s->id_len == len && memcmp(s->id, id, len) == 0))
			return s;
	}
}

struct map_mem *map_mem_new(void)
{
	struct map_mem *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->cap = 1024;
	m->slots = calloc(m->cap, sizeof(*m->slots));
	if (m->slots == NULL) {
		free(m);
		return NULL;
	}
	return m;
}

void map_mem_free(struct map_mem *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].val);
	free(m->slots);
	free(m);
}

static int grow(struct map_mem *m)
{
	size_t cap = m->cap * 2;
	struct slot *n = calloc(cap, sizeof(*n));

	if (n == NULL)
		return MN_ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		struct slot *s = &m->slots[i];
		if (s->id_len != 0)
			*find(n, cap, s->id, s->id_len) = *s;
	}
	free(m->slots);
	m->slots = n;
	m->cap = cap;
	return 0;
}

static int mem_get(void *ctx, const uint8_t *id, size_t id_len, const uint8_t **out,
		   size_t *out_len)
{
	struct map_mem *m = ctx;
	struct slot *s = find(m->slots, m->cap, id, id_len);

	if (s->id_len == 0)
		return MN_ENOTFOUND;
	*out = s->val;
	*out_len = s->len;
	return 0;
}

static int mem_put(void *ctx, const uint8_t *id, size_t id_len, const uint8_t *val,
		   size_t val_len)
{
	struct map_mem *m = ctx;
	struct slot *s;
	uint8_t *v;

	if (id_len == 0 || id_len > MAP_MAX_TILE_ID || val_len > MAP_MAX_TILE_LEN)
		return MN_EINVAL;
	if (2 * (m->num + 1) > m->cap && grow(m) != 0)
		return MN_ENOMEM;
	v = malloc(val_len ? val_len : 1);
	if (v == NULL)
		return MN_ENOMEM;
	memcpy(v, val, val_len);
	s = find(m->slots, m->cap, id, id_len);
	if (s->id_len == 0) {
		s->id_len = (uint8_t)id_len;
		memcpy(s->id, id, id_len);
		m->num++;
		m->bytes += id_len;
	} else {
		m->bytes -= s->len;
		free(s->val);
	}
	s->val = v;
	s->len = (uint16_t)val_len;
	m->bytes += val_len;
	return 0;
}

void map_mem_tiles(struct map_mem *m, struct map_tiles *out)
{
	out->get = mem_get;
	out->put = mem_put;
	out->ctx = m;
	out->cache = NULL;
}

size_t map_mem_bytes(const struct map_mem *m)
{
	return m->bytes;
}

size_t map_mem_count(const struct map_mem *m)
{
	return m->num;
}
