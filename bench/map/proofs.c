/* proofs.c: bench_map part 2, MapProof bytes of one key against the number of
 * keys, in map_mem, with and without the tile cache. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/lib/load.h"
#include "bench/map/bench_map.h"
#include "common/bytes.h"
#include "common/clock.h"
#include "merkle/merkle.h"

/* --- 2. proof bytes against the number of keys ------------------------------ */

static int log10_u64(uint64_t v)
{
	int d = 0;

	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

static struct pstat proof_stats(const struct map_tiles *tiles, struct merkle_hasher *h,
				uint64_t num_keys, int present)
{
	struct pstat p = {0, 0, 0};
	uint64_t t0 = mn_mono_ns();
	const int n = 1000;

	for (int k = 0; k < n; k++) {
		uint8_t key[32], val[32];
		struct cbb c;
		int pres;
		if (present)
			bmap_rand_key(key, bmap_mix((uint64_t)k) % num_keys, 0);
		else
			bmap_rand_key(key, (uint64_t)k, 0x12345678abcdefull);
		if (!cbb_init(&c, 1024, MAP_MAX_PROOF_LEN) ||
		    map_prove(tiles, h, key, &c, &pres, val) != 0 || pres != present)
			load_die("map_prove failed");
		p.mean += (double)cbb_len(&c) / n;
		if ((double)cbb_len(&c) > p.max)
			p.max = (double)cbb_len(&c);
		cbb_cleanup(&c);
	}
	p.us = load_secs_since(t0) * 1e6 / n;
	return p;
}

void bmap_proofs(uint64_t max_keys)
{
	struct map_mem *m = map_mem_new();
	struct map_tiles tiles;
	struct merkle_hasher *h = merkle_hasher_new();
	const size_t chunk = 1 << 16;
	struct map_kv *kv = malloc(chunk * sizeof(*kv));
	uint64_t have = 0, num_keys = 0, t0 = mn_mono_ns();
	uint8_t root[32];
	char sizes[256] = "", present[512] = "", absent[512] = "", mem[256] = "";
	char cached[512] = "";
	size_t ls = 0, lp = 0, la = 0, lm = 0, lc = 0;
	struct pstat last = {0, 0, 0};

	if (m == NULL || h == NULL || kv == NULL)
		load_die("out of memory");
	map_mem_tiles(m, &tiles);
	for (uint64_t target = 10000; target <= max_keys; target *= 10) {
		struct pstat pp, pa;
		while (have < target) {
			size_t k = target - have < chunk ? (size_t)(target - have) : chunk;
			for (size_t j = 0; j < k; j++) {
				bmap_rand_key(kv[j].key, have + j, 0);
				bmap_rand_key(kv[j].value, have + j, 99);
			}
			qsort(kv, k, sizeof(*kv), bmap_kv_cmp);
			if (map_update(&tiles, h, kv, k, &num_keys, root) != 0)
				load_die("map_update failed");
			have += k;
		}
		pp = proof_stats(&tiles, h, have, 1);
		pa = proof_stats(&tiles, h, have, 0);
		last = pp;
		{
			/* the same proofs through the tile cache logd's store uses
			 * (storage/internal.h: 4,096 slots, strata 1..3), warm */
			struct map_cache *cache = map_cache_new(4096, 3);
			struct map_tiles tc = tiles;
			struct pstat pc;
			if (cache == NULL)
				load_die("out of memory");
			tc.cache = cache;
			(void)proof_stats(&tc, h, have, 1);
			pc = proof_stats(&tc, h, have, 1);
			lc += (size_t)snprintf(cached + lc, sizeof(cached) - lc, "%s%.1f / %.1f",
					       lc ? ", " : "", pp.us, pc.us);
			map_cache_free(cache);
		}
		fprintf(stderr, "bench_map: %" PRIu64 " keys (%.0f s): proof present %.0f B "
			"(max %.0f, %.1f us), absent %.0f B (max %.0f), map_mem %.0f B/key\n", have,
			load_secs_since(t0), pp.mean, pp.max, pp.us, pa.mean, pa.max,
			(double)map_mem_bytes(m) / (double)have);
		ls += (size_t)snprintf(sizes + ls, sizeof(sizes) - ls, "%s10^%d",
				       ls ? " / " : "", log10_u64(have));
		lp += (size_t)snprintf(present + lp, sizeof(present) - lp, "%s%.0f (max %.0f)",
				       lp ? " / " : "", pp.mean, pp.max);
		la += (size_t)snprintf(absent + la, sizeof(absent) - la, "%s%.0f", la ? " / " : "",
				       pa.mean);
		lm += (size_t)snprintf(mem + lm, sizeof(mem) - lm, "%s%.0f", lm ? " / " : "",
				       (double)map_mem_bytes(m) / (double)have);
		if (num_keys != have)
			load_die("map key count wrong");
	}
	printf("| map: MapProof bytes of one key, present (mean, max of 1,000) at %s random "
	       "keys (map_mem) | %s B | aim: 1024 B at 10^7 | %.2f |\n", sizes, present,
	       last.mean / 1024.0);
	printf("| map: MapProof bytes of an absent key (mean of 1,000) at %s keys | %s B | | |\n",
	       sizes, absent);
	printf("| map: map_prove of a present key in map_mem (no LMDB), us, without / with "
	       "the tile cache (4,096 slots, strata 1-3, warm), at %s keys | %s | | |\n", sizes,
	       cached);
	printf("| map: trie tiles in memory (map_mem: tile bytes and ids) per key at %s keys "
	       "| %s B | | |\n", sizes, mem);
	fflush(stdout);
	map_mem_free(m);
	merkle_hasher_free(h);
	free(kv);
}
