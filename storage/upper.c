/* upper.c: complete tiles above the leaf tiles, copied into memory.
 *
 * A proof reads one tile per tile level. In a big tree the leaf-level tile is
 * cold whatever we do (it is one of n/256), but the tiles above it are few
 * (n/65536 at tile level 1) and every proof reads one of them: read through
 * LMDB's map each costs a B-tree descent and TLB misses on pages spread over
 * the file. A tile is immutable once complete (append-only tree), so a copy
 * never goes stale and needs no invalidation: readers fill the cache lazily,
 * the first to need a complete tile copies it from its snapshot, and every
 * later proof reads the copy.
 *
 * The copies live in one anonymous mapping reserved at first use (virtual
 * space only; pages are touched as tiles arrive) and advised for transparent
 * huge pages, so the whole upper tree sits in a few TLB entries. Memory is
 * 16 KB per 65536 leaves (0.25 B a leaf: 4 MB at 10^7 leaves, 250 MB at 10^9).
 * Trees beyond UPPER_MAX_LEAVES leaves read the tiles past it from LMDB as
 * before. If the mapping cannot be made, everything reads from LMDB. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "storage/internal.h"

/* Tiles held: tile level 1 up to 2^32 leaves, tile levels 2 and 3 in full
 * below that. */
#define UPPER_MAX_LEAVES_LOG2 32

enum { EMPTY = 0, FILLING = 1, READY = 2 };

struct store__upper {
	uint8_t *region;
	size_t region_len;
	uint64_t first[STORE__TILE_LEVELS]; /* slot of tile 0 of each level */
	uint64_t cap[STORE__TILE_LEVELS];   /* tiles of each level held */
	unsigned char *state;               /* per slot: EMPTY, FILLING, READY */
	uint64_t num_ready;                 /* atomic */
};

struct store__upper *store__upper_new(void)
{
	struct store__upper *u = calloc(1, sizeof(*u));
	uint64_t slots = 0;
	void *p;

	if (u == NULL)
		return NULL;
	for (unsigned tl = 1; tl < STORE__TILE_LEVELS; tl++) {
		unsigned covered = STORE__TILE_HEIGHT * (tl + 1); /* log2 leaves per tile */

		u->first[tl] = slots;
		u->cap[tl] = covered <= UPPER_MAX_LEAVES_LOG2 ?
				     1ull << (UPPER_MAX_LEAVES_LOG2 - covered) : 0;
		slots += u->cap[tl];
	}
	u->region_len = (size_t)slots * STORE__TILE_BYTES;
	u->state = calloc((size_t)slots, 1);
	if (u->state == NULL)
		goto err;
	p = mmap(NULL, u->region_len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		goto err;
	u->region = p;
	(void)madvise(p, u->region_len, MADV_HUGEPAGE); /* a hint: fine if refused */
	return u;
err:
	free(u->state);
	free(u);
	return NULL;
}

void store__upper_free(struct store__upper *u)
{
	if (u == NULL)
		return;
	munmap(u->region, u->region_len);
	free(u->state);
	free(u);
}

static int slot_of(const struct store__upper *u, unsigned tl, uint64_t ti, uint64_t *out)
{
	if (tl == 0 || tl >= STORE__TILE_LEVELS || ti >= u->cap[tl])
		return 0;
	*out = u->first[tl] + ti;
	return 1;
}

const uint8_t *store__upper_get(struct store__upper *u, unsigned tl, uint64_t ti)
{
	uint64_t slot;

	if (!slot_of(u, tl, ti, &slot) ||
	    __atomic_load_n(&u->state[slot], __ATOMIC_ACQUIRE) != READY)
		return NULL;
	return u->region + slot * STORE__TILE_BYTES;
}

const uint8_t *store__upper_put(struct store__upper *u, unsigned tl, uint64_t ti,
				const uint8_t *data)
{
	unsigned char expect = EMPTY;
	uint64_t slot;
	uint8_t *dst;

	if (!slot_of(u, tl, ti, &slot))
		return NULL;
	dst = u->region + slot * STORE__TILE_BYTES;
	/* one thread copies; the others keep reading their snapshot's tile */
	if (!__atomic_compare_exchange_n(&u->state[slot], &expect, FILLING, 0,
					 __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE))
		return expect == READY ? dst : NULL;
	memcpy(dst, data, STORE__TILE_BYTES);
	__atomic_store_n(&u->state[slot], READY, __ATOMIC_RELEASE);
	__atomic_fetch_add(&u->num_ready, 1, __ATOMIC_RELAXED);
	return dst;
}

uint64_t store__upper_count(struct store__upper *u)
{
	return u == NULL ? 0 : __atomic_load_n(&u->num_ready, __ATOMIC_RELAXED);
}
