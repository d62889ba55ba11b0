/* appends.c: bench_map part 1, durable appends with and without the map
 * (store_append_mapped against store_append_batch; bench/bench_map.c says
 * what is timed). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/lib/load.h"
#include "bench/lib/seqstat.h"
#include "bench/map/bench_map.h"
#include "common/bytes.h"
#include "common/clock.h"
#include "common/err.h"
#include "entry/ct.h"
#include "entry/mapkeys.h"
#include "merkle/merkle.h"

/* --- the map-root leaf and the STH (as logd/sequencer.c makes them) ---------- */

struct hook_ctx {
	struct merkle_hasher *h;
	uint64_t ts;
	uint8_t leaf[256];
};

static int leaf_hook(void *ctx, uint64_t covered, uint64_t num_keys,
		     const uint8_t map_root[MERKLE_HASH_LEN], struct store_leaf *out)
{
	struct hook_ctx *c = ctx;
	struct mapkeys_root mr;

	mr.covered = covered;
	mr.num_keys = num_keys;
	memcpy(mr.root, map_root, 32);
	mapkeys_root_leaf(c->leaf, c->ts, &mr);
	out->leaf_input = c->leaf;
	out->leaf_input_len = MAPKEYS_ROOT_LEAF_LEN;
	merkle_leaf_hash(c->h, out->leaf_hash, c->leaf, out->leaf_input_len);
	mapkeys_root_dedup(c->h, out->dedup_key, out->leaf_hash);
	return 0;
}

static int sign_hook(void *ctx, uint64_t tree_size, const uint8_t root[MERKLE_HASH_LEN],
		     struct store_sth *out)
{
	struct hook_ctx *c = ctx;

	bmap_sign_sth(out, tree_size, root, c->ts);
	return 0;
}

/* --- 1. durable appends, with and without the map --------------------------- */

struct arun {
	double rate;      /* leaves/s over the timed sections */
	double cpu_us;    /* this thread's CPU per leaf in them */
	double wbytes;    /* bytes written per leaf (wchar) */
	double bytes_per_entry;
	double map_bytes_per_entry;
	double keys_per_leaf;
	uint64_t tree_size;
};

static struct arun append_run(const char *name, int mapped, size_t batch, uint64_t n)
{
	char dir[700];
	struct store_options so = {0};
	struct store *st;
	struct gen g;
	struct gleaf *gl = malloc(batch * sizeof(*gl));
	struct store_leaf *ls = malloc(batch * sizeof(*ls));
	struct merkle_range r;
	struct store_stats ss;
	struct arun a = {0};
	uint64_t wall = 0, cpu = 0, w = 0, leaves = 0;

	snprintf(dir, sizeof(dir), "%s/%s", bmap_base, name);
	load_rm_tree(dir);
	so.dir = dir;
	so.map = mapped;
	so.map_size = 4ull << 30;
	if (gl == NULL || ls == NULL || store_open(&st, &so) != 0)
		load_die("cannot open the store");
	bmap_gen_init(&g, n / 2);
	merkle_range_init(&r);
	for (uint64_t i = 0; i < n;) {
		size_t k;
		uint64_t t0, c0, w0;
		int ret;

		for (k = 0; k < batch && i < n; k++, i++)
			bmap_gen_leaf(&g, i, &gl[k], &ls[k], mapped);
		t0 = mn_mono_ns();
		c0 = bench_cpu_ns(CLOCK_THREAD_CPUTIME_ID);
		w0 = bench_wchar();
		if (mapped) {
			struct hook_ctx hc = {g.h, bmap_base_ms + i, {0}};
			struct store_map_commit mc = {leaf_hook, sign_hook, &hc};
			struct store_sth out;
			ret = store_append_mapped(st, ls, k, &mc, &out);
		} else {
			struct store_sth sth;
			uint8_t root[32];
			for (size_t j = 0; j < k; j++)
				if (merkle_range_append(&r, g.h, ls[j].leaf_hash, NULL, NULL) != 0)
					load_die("merkle_range_append failed");
			merkle_range_root(&r, g.h, root);
			bmap_sign_sth(&sth, r.size, root, bmap_base_ms + i);
			ret = store_append_batch(st, ls, k, &sth);
		}
		w += bench_wchar() - w0;
		cpu += bench_cpu_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
		wall += mn_mono_ns() - t0;
		if (ret != 0) {
			fprintf(stderr, "bench_map: append at %" PRIu64 ": %s\n", i, mn_strerror(ret));
			load_die("append failed");
		}
		leaves += k;
	}
	store_get_stats(st, &ss);
	a.rate = (double)leaves / ((double)wall / 1e9);
	a.cpu_us = (double)cpu / 1e3 / (double)leaves;
	a.wbytes = (double)w / (double)leaves;
	a.bytes_per_entry = (double)ss.used_bytes / (double)leaves;
	a.map_bytes_per_entry =
		(double)(ss.map_tiles_bytes + ss.map_data_bytes + ss.map_items_bytes) /
		(double)leaves;
	a.keys_per_leaf = mapped ? (double)g.num_map_keys / (double)leaves : 0;
	a.tree_size = ss.tree_size;
	fprintf(stderr, "bench_map: %s: %" PRIu64 " leaves in batches of %zu: %.0f /s, %.1f us "
		"CPU, %.0f B written, %.0f B/entry (map %.0f), tree %" PRIu64 "\n", name, leaves,
		batch, a.rate, a.cpu_us, a.wbytes, a.bytes_per_entry, a.map_bytes_per_entry,
		a.tree_size);
	store_close(st);
	load_rm_tree(dir);
	bmap_gen_cleanup(&g);
	free(gl);
	free(ls);
	return a;
}

void bmap_appends(uint64_t n)
{
	static const size_t batches[] = {512, 2048};

	for (size_t b = 0; b < sizeof(batches) / sizeof(batches[0]); b++) {
		char nb[64], nm[64];
		struct arun plain, mapped;

		snprintf(nb, sizeof(nb), "plain-%zu", batches[b]);
		snprintf(nm, sizeof(nm), "mapped-%zu", batches[b]);
		plain = append_run(nb, 0, batches[b], n);
		mapped = append_run(nm, 1, batches[b], n);
		printf("| map: durable appends with the map (store_append_mapped), 1 KB "
		       "certificates, %.1f map keys per entry, batches of %zu, %" PRIu64
		       " entries from empty | %.0f /s; CPU %.1f us per append; %.0f B written "
		       "per append; store %.0f B per entry (map %.0f B) | the same appends "
		       "without the map (store_append_batch): %.0f /s; CPU %.1f us; %.0f B "
		       "written; %.0f B per entry | %.2f (CPU %.2f) |\n",
		       mapped.keys_per_leaf, batches[b], n, mapped.rate, mapped.cpu_us,
		       mapped.wbytes, mapped.bytes_per_entry, mapped.map_bytes_per_entry,
		       plain.rate, plain.cpu_us, plain.wbytes, plain.bytes_per_entry,
		       mapped.rate / plain.rate, plain.cpu_us / mapped.cpu_us);
		fflush(stdout);
	}
}
