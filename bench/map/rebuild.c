/* rebuild.c: bench_map part 3, the map rebuilt from a log built without it
 * (logd's catch-up), logd's start time warm and cold with and without the
 * map, MapProof bytes from the store and the map's storage per key. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/lib/load.h"
#include "bench/lib/seqstat.h"
#include "bench/map/bench_map.h"
#include "common/bytes.h"
#include "common/clock.h"
#include "entry/mapkeys.h"
#include "logd/sequencer.h"
#include "merkle/merkle.h"

/* --- 3. rebuild from the log, and start time --------------------------------- */

/* evict drops |dir|'s files from the page cache (posix_fadvise DONTNEED; the
 * store is closed and synced, so every page is clean): the next start reads
 * from the disk, as after a reboot. */
static void evict(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[1024];

	if (d == NULL)
		load_die("cannot list the store");
	while ((de = readdir(d)) != NULL) {
		int fd;
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		(void)fdatasync(fd);
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		close(fd);
	}
	closedir(d);
}

/* store_proofs: MapProof bytes and time of 1,000 present keys (map keys of
 * random leaves) and 1,000 absent ones, from the store itself. */
static void store_proofs(struct store *st, struct gen *g, uint64_t n, struct pstat *pp,
			 struct pstat *pa)
{
	struct store_reader *rd;
	struct gleaf *gl = malloc(sizeof(*gl));
	struct store_leaf l;
	const int num = 1000;

	memset(pp, 0, sizeof(*pp));
	memset(pa, 0, sizeof(*pa));
	if (gl == NULL || store_read_begin(st, &rd) != 0)
		load_die("cannot read the store");
	for (int present = 1; present >= 0; present--) {
		struct pstat *p = present ? pp : pa;
		uint64_t t0 = mn_mono_ns();
		for (int k = 0; k < num; k++) {
			uint8_t key[32];
			uint64_t count = 0;
			struct cbb c;
			if (present) {
				uint64_t i = bmap_mix((uint64_t)k + 777) % n;
				bmap_gen_leaf(g, i, gl, &l, 1);
				memcpy(key, gl->mk[bmap_mix(i) % l.num_map_keys], 32);
			} else {
				bmap_rand_key(key, (uint64_t)k, 0x12345678abcdefull);
			}
			if (!cbb_init(&c, 1024, MAP_MAX_PROOF_LEN) ||
			    store_r_map_prove(rd, key, &c, &count) != 0 ||
			    (count > 0) != present)
				load_die("store_r_map_prove failed");
			p->mean += (double)cbb_len(&c) / num;
			if ((double)cbb_len(&c) > p->max)
				p->max = (double)cbb_len(&c);
			cbb_cleanup(&c);
		}
		p->us = load_secs_since(t0) * 1e6 / num;
	}
	store_read_end(rd);
	free(gl);
}

void bmap_rebuild(uint64_t n)
{
	char dir[700];
	struct store_options so = {0};
	struct store *st;
	struct seq *q;
	struct seq_options qo = {0};
	struct gen g;
	const size_t batch = 10000;
	struct gleaf *gl = malloc(batch * sizeof(*gl));
	struct store_leaf *ls = malloc(batch * sizeof(*ls));
	struct merkle_range r;
	struct store_stats ss;
	uint64_t t0, tb, c0;
	double build_s, catch_s, catch_cpu, mem_s, start_map[3], start_plain[3];
	uint64_t num_map_keys;

	snprintf(dir, sizeof(dir), "%s/rebuild", bmap_base);
	load_rm_tree(dir);
	so.dir = dir;
	so.no_sync = 1;
	so.map_size = 8ull << 30;
	if (gl == NULL || ls == NULL || store_open(&st, &so) != 0)
		load_die("cannot open the store");
	bmap_gen_init(&g, n / 2);
	merkle_range_init(&r);
	tb = mn_mono_ns();
	for (uint64_t i = 0; i < n;) {
		size_t k;
		struct store_sth sth;
		uint8_t root[32];
		for (k = 0; k < batch && i < n; k++, i++) {
			bmap_gen_leaf(&g, i, &gl[k], &ls[k], 0);
			if (merkle_range_append(&r, g.h, ls[k].leaf_hash, NULL, NULL) != 0)
				load_die("merkle_range_append failed");
		}
		merkle_range_root(&r, g.h, root);
		bmap_sign_sth(&sth, r.size, root, bmap_base_ms + i);
		if (store_append_batch(st, ls, k, &sth) != 0)
			load_die("store_append_batch failed");
	}
	build_s = load_secs_since(tb);
	store_close(st);
	fprintf(stderr, "bench_map: built %" PRIu64 " entries without the map in %.1f s\n", n,
		build_s);

	/* the map on map_mem alone: mapkeys_leaf + map_update, no LMDB (the leaves
	 * are made again, untimed; their keys and the trie update timed) */
	{
		struct map_mem *m = map_mem_new();
		struct map_tiles tiles;
		struct map_kv *kv = malloc(batch * MAX_KEYS * sizeof(*kv));
		uint64_t nk = 0, spent = 0;
		uint8_t mroot[32];
		struct gen g2;

		bmap_gen_init(&g2, n / 2);
		if (m == NULL || kv == NULL)
			load_die("out of memory");
		map_mem_tiles(m, &tiles);
		for (uint64_t i = 0; i < n;) {
			size_t k, nkv = 0, out = 0;
			uint64_t ts;
			for (k = 0; k < batch && i + k < n; k++)
				bmap_gen_leaf(&g2, i + k, &gl[k], &ls[k], 0);
			ts = mn_mono_ns();
			for (size_t j = 0; j < k; j++) {
				size_t cnt;
				int cut;
				if (mapkeys_leaf(g2.h, ls[j].leaf_input, ls[j].leaf_input_len, g2.kbuf,
						 &cnt, &cut) != 0)
					load_die("mapkeys_leaf failed");
				for (size_t x = 0; x < cnt; x++) {
					/* the value stands in for the list's new value: one
					 * item hash and one value hash per key, as storage
					 * computes them */
					uint8_t item[32];
					memcpy(kv[nkv].key, g2.kbuf[x], 32);
					map_list_item(g2.h, item, i + j, ls[j].leaf_hash);
					map_value(g2.h, kv[nkv].value, 1, item);
					nkv++;
				}
			}
			qsort(kv, nkv, sizeof(*kv), bmap_kv_cmp);
			for (size_t x = 0; x < nkv; x++)
				if (out == 0 || memcmp(kv[out - 1].key, kv[x].key, 32) != 0)
					kv[out++] = kv[x];
			if (map_update(&tiles, g2.h, kv, out, &nk, mroot) != 0)
				load_die("map_update failed");
			spent += mn_mono_ns() - ts;
			i += k;
		}
		mem_s = (double)spent / 1e9;
		fprintf(stderr, "bench_map: map_mem rebuild of %" PRIu64 " entries: %.1f s, %" PRIu64
			" keys\n", n, mem_s, nk);
		map_mem_free(m);
		free(kv);
		bmap_gen_cleanup(&g2);
	}

	/* catch-up as logd's start does it */
	so.no_sync = 0;
	so.map = 1;
	t0 = mn_mono_ns();
	c0 = bench_cpu_ns(CLOCK_THREAD_CPUTIME_ID);
	qo.map = 1;
	if (store_open(&st, &so) != 0 || seq_start(&q, st, bmap_signer, &qo) != 0)
		load_die("catch-up failed");
	catch_s = load_secs_since(t0);
	catch_cpu = (double)(bench_cpu_ns(CLOCK_THREAD_CPUTIME_ID) - c0) / 1e9;
	seq_stop(q);
	store_get_stats(st, &ss);
	{
		struct store_reader *rd;
		uint64_t cov;
		uint8_t mr[32];
		if (store_read_begin(st, &rd) != 0 || store_r_map(rd, &cov, &num_map_keys, mr) != 0)
			load_die("no map after the catch-up");
		store_read_end(rd);
	}
	store_close(st);
	fprintf(stderr, "bench_map: catch-up of %" PRIu64 " entries: %.1f s (CPU %.1f s), %" PRIu64
		" keys\n", n, catch_s, catch_cpu, num_map_keys);

	/* start: store_open (its consistency check) + seq_start, warm page cache,
	 * three times each, best kept */
	for (int k = 0; k < 3; k++) {
		for (int mp = 0; mp < 2; mp++) {
			so.map = mp;
			qo.map = mp;
			t0 = mn_mono_ns();
			if (store_open(&st, &so) != 0 || seq_start(&q, st, bmap_signer, &qo) != 0)
				load_die("reopen failed");
			(mp ? start_map : start_plain)[k] = load_secs_since(t0) * 1e3;
			seq_stop(q);
			store_close(st);
		}
	}
	for (int k = 1; k < 3; k++) {
		if (start_map[k] < start_map[0])
			start_map[0] = start_map[k];
		if (start_plain[k] < start_plain[0])
			start_plain[0] = start_plain[k];
	}
	printf("| map: rebuild from the log (logd start with the map on a log of %" PRIu64
	       " %zu/%zu-byte %s certificate entries built without it: seq_start's map_catch_up, "
	       "read + mapkeys_leaf + store_map_catch_up, 65,536 per durable commit) | %.0f "
	       "entries/s (%.1f s, %.1f s CPU, %" PRIu64 " keys) | mapkeys_leaf + map_update "
	       "on map_mem, same leaves: %.0f entries/s; building the log itself (no_sync): "
	       "%.0f entries/s | %.2f |\n",
	       n, bmap_tmpls[0].len, bmap_tmpls[1].len, bmap_p256 ? "P-256" : "RSA",
	       (double)n / catch_s, catch_s, catch_cpu, num_map_keys, (double)n / mem_s,
	       (double)n / build_s, mem_s / catch_s);
	printf("| map: logd start (store_open + seq_start, warm cache, best of 3) with the map, "
	       "nothing to catch up, %" PRIu64 " entries | %.2f ms | without the map, same log: "
	       "%.2f ms | %.2f |\n", n, start_map[0], start_plain[0],
	       start_map[0] / start_plain[0]);
	printf("| map: map storage at %" PRIu64 " entries, %" PRIu64 " keys, %" PRIu64
	       " items in map_items2 (LMDB pages of map_tiles2 + map_items2; lists of <= 4 items "
	       "inline in the tiles) | %.0f B per key, %.0f "
	       "B per entry (tiles %.0f, data %.0f, items %.0f per entry) | whole store %.0f B "
	       "per entry | %.2f of the store |\n",
	       n, num_map_keys, ss.map_items_records,
	       (double)(ss.map_tiles_bytes + ss.map_data_bytes + ss.map_items_bytes) /
		       (double)num_map_keys,
	       (double)(ss.map_tiles_bytes + ss.map_data_bytes + ss.map_items_bytes) / (double)n,
	       (double)ss.map_tiles_bytes / (double)n, (double)ss.map_data_bytes / (double)n,
	       (double)ss.map_items_bytes / (double)n, (double)ss.used_bytes / (double)n,
	       (double)(ss.map_tiles_bytes + ss.map_data_bytes + ss.map_items_bytes) /
		       (double)ss.used_bytes);
	fflush(stdout);

	/* cold start: the store's pages dropped from the page cache first */
	{
		double cold_map[3], cold_plain[3];
		struct pstat pp, pa;
		for (int k = 0; k < 3; k++) {
			for (int mp = 1; mp >= 0; mp--) {
				so.map = mp;
				qo.map = mp;
				evict(dir);
				t0 = mn_mono_ns();
				if (store_open(&st, &so) != 0 ||
				    seq_start(&q, st, bmap_signer, &qo) != 0)
					load_die("reopen failed");
				(mp ? cold_map : cold_plain)[k] = load_secs_since(t0) * 1e3;
				seq_stop(q);
				store_close(st);
			}
		}
		printf("| map: logd start (store_open + seq_start, COLD page cache: the store's "
		       "files evicted with posix_fadvise first, 3 runs) with the map, nothing to "
		       "catch up, %" PRIu64 " entries | %.1f, %.1f, %.1f ms | without the map: "
		       "%.1f, %.1f, %.1f ms | |\n", n, cold_map[0], cold_map[1], cold_map[2],
		       cold_plain[0], cold_plain[1], cold_plain[2]);
		so.map = 1;
		if (store_open(&st, &so) != 0)
			load_die("reopen failed");
		store_proofs(st, &g, n, &pp, &pa);
		store_close(st);
		printf("| map: MapProof bytes of one key from the store (store_r_map_prove, "
		       "%" PRIu64 " keys, %" PRIu64 " entries): present (mean, max of 1,000 map "
		       "keys of random leaves) / absent (mean, max of 1,000) | %.0f (max %.0f) / "
		       "%.0f (max %.0f) B; %.1f / %.1f us each, the tiles mostly on disk (the "
		       "cold runs evicted them) | aim: 1024 B at 10^7 keys | %.2f |\n",
		       num_map_keys, n, pp.mean, pp.max, pa.mean, pa.max, pp.us, pa.us,
		       pp.mean / 1024.0);
		fflush(stdout);
	}
	if (getenv("BENCH_MAP_KEEP") == NULL)
		load_rm_tree(dir);
	bmap_gen_cleanup(&g);
	free(gl);
	free(ls);
}
