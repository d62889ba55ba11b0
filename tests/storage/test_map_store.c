/* test_map_store.c: the lookup map in storage (storage.h, "the lookup map"):
 * mapped batches against a replay of the same keys in memory (map/map.h with
 * map_mem), proofs and lists read back, the map-root leaf each batch ends
 * with, catching up a log that had no map, a batch refused while the map lags,
 * and the open-time check across a reopen. The map's own environment DIR/map
 * (storage/mapenv.c): deleted, left behind the log, corrupted, left open by
 * another boot, or ahead of the log -> discarded or caught up at open, and
 * the map then identical; a map kept in the log's environment by the earlier
 * layout is dropped at open; readers never see a map other than their STH's
 * while batches are committed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "map/map.h"
#include "merkle/merkle.h"
#include "storage/internal.h"
#include "storage/storage.h"

#define NKEYS 40 /* distinct keys the leaves pick from */

struct ref_list {
	struct merkle_range r;
};

struct ctx {
	char dir[64];
	struct store *st;
	struct merkle_hasher *h;
	uint64_t ts;
	uint8_t keys[NKEYS][32];
	/* the reference: per key its list, and the map in memory */
	struct ref_list lists[NKEYS];
	struct map_mem *mem;
	struct map_tiles tiles;
	uint64_t num_keys;
	uint8_t root[32];
	uint8_t last_leaf[64];  /* the map-root leaf of the last batch */
	size_t last_leaf_len;
	int corrupt_root;       /* the hook writes a wrong root into the leaf */
	/* every leaf appended (map-root leaves included), to catch up with */
	struct rec {
		uint8_t lh[32];
		uint8_t keys[4][32];
		size_t nk;
	} *log;
	size_t nlog;
	uint8_t last_lh[32];    /* the map-root leaf's hash */
};

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void open_store(struct ctx *c, int map, int fresh)
{
	struct store_options o = {0};
	if (fresh) {
		strcpy(c->dir, "/tmp/mn-mapst-XXXXXX");
		assert_non_null(mkdtemp(c->dir));
	}
	o.dir = c->dir;
	o.no_sync = 1;
	o.map = map;
	assert_int_equal(store_open(&c->st, &o), 0);
}

static int leaf_hook(void *ctx, uint64_t covered, uint64_t num_keys, const uint8_t root[32],
		     struct store_leaf *out)
{
	struct ctx *c = ctx;

	/* a stand-in map-root leaf: the body is what matters here */
	c->last_leaf[0] = 0x80;
	c->last_leaf[1] = 0x03;
	memcpy(c->last_leaf + 2, &covered, 8);
	memcpy(c->last_leaf + 10, &num_keys, 8);
	memcpy(c->last_leaf + 18, root, 32);
	if (c->corrupt_root)
		c->last_leaf[18] ^= 1;
	c->last_leaf_len = 50;
	out->leaf_input = c->last_leaf;
	out->leaf_input_len = c->last_leaf_len;
	merkle_leaf_hash(c->h, out->leaf_hash, c->last_leaf, c->last_leaf_len);
	memcpy(c->last_lh, out->leaf_hash, 32);
	memcpy(out->dedup_key, out->leaf_hash, 32);
	out->dedup_key[0] ^= 0xff;
	return 0;
}

static int sign_hook(void *ctx, uint64_t tree_size, const uint8_t root[32], struct store_sth *out)
{
	struct ctx *c = ctx;
	memset(out, 0, sizeof(*out));
	out->tree_size = tree_size;
	out->timestamp = ++c->ts;
	memcpy(out->root, root, 32);
	return 0;
}

/* ref_apply files the pairs (key k, leaf index, leaf hash) of a batch in the
 * reference, as storage/map.c must. */
static void ref_apply(struct ctx *c, const uint64_t *idx, uint8_t (*lh)[32],
		      uint8_t (*const *lk)[32], const size_t *nk, size_t num)
{
	struct map_kv kv[NKEYS];
	size_t n = 0;

	for (size_t k = 0; k < NKEYS; k++) {
		int touched = 0;
		for (size_t i = 0; i < num; i++)
			for (size_t j = 0; j < nk[i]; j++)
				if (memcmp(lk[i][j], c->keys[k], 32) == 0) {
					uint8_t item[32];
					map_list_item(c->h, item, idx[i], lh[i]);
					assert_int_equal(merkle_range_append(&c->lists[k].r, c->h, item,
									     NULL, NULL), 0);
					touched = 1;
				}
		if (touched) {
			uint8_t lr[32];
			memcpy(kv[n].key, c->keys[k], 32);
			merkle_range_root(&c->lists[k].r, c->h, lr);
			map_value(c->h, kv[n].value, c->lists[k].r.size, lr);
			n++;
		}
	}
	/* map_update wants them sorted */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && memcmp(kv[j - 1].key, kv[j].key, 32) > 0; j--) {
			struct map_kv t = kv[j];
			kv[j] = kv[j - 1];
			kv[j - 1] = t;
		}
	assert_int_equal(map_update(&c->tiles, c->h, kv, n, &c->num_keys, c->root), 0);
}

static int cmp_key(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

/* batch appends |num| leaves, each with 0..4 of the keys; mapped or not */
static int batch(struct ctx *c, size_t num, int mapped)
{
	struct store_leaf *l = calloc(num, sizeof(*l));
	uint8_t (*leaf)[24] = calloc(num, 24);
	uint8_t (*lh)[32] = calloc(num, 32);
	uint8_t (**lk)[32] = calloc(num, sizeof(*lk));
	size_t *nk = calloc(num, sizeof(*nk));
	uint64_t *idx = calloc(num, sizeof(*idx));
	struct merkle_range r;
	struct store_sth sth;
	int ret;

	store_get_range(c->st, &r);
	for (size_t i = 0; i < num; i++) {
		uint64_t x = rnd();
		memcpy(leaf[i], &x, 8);
		memcpy(leaf[i] + 8, &r.size, 8);
		memcpy(leaf[i] + 16, &i, 8);
		l[i].leaf_input = leaf[i];
		l[i].leaf_input_len = 24;
		merkle_leaf_hash(c->h, l[i].leaf_hash, leaf[i], 24);
		memcpy(lh[i], l[i].leaf_hash, 32);
		merkle_sha256(c->h, l[i].dedup_key, leaf[i], 24);
		nk[i] = rnd() % 5;
		lk[i] = calloc(4, 32);
		for (size_t j = 0; j < nk[i]; j++) {
			memcpy(lk[i][j], c->keys[rnd() % NKEYS], 32);
			for (size_t k = 0; k < j; k++)
				if (memcmp(lk[i][k], lk[i][j], 32) == 0) { /* distinct */
					nk[i]--;
					j--;
					break;
				}
		}
		qsort(lk[i], nk[i], 32, cmp_key);
		l[i].map_keys = (const uint8_t(*)[32])lk[i];
		l[i].num_map_keys = nk[i];
		idx[i] = r.size + i;
	}
	if (mapped) {
		struct store_map_commit mc = {leaf_hook, sign_hook, c};
		ret = store_append_mapped(c->st, l, num, &mc, &sth);
	} else {
		uint8_t root[32];
		for (size_t i = 0; i < num; i++)
			assert_int_equal(merkle_range_append(&r, c->h, l[i].leaf_hash, NULL, NULL), 0);
		merkle_range_root(&r, c->h, root);
		sign_hook(c, r.size, root, &sth);
		ret = store_append_batch(c->st, l, num, &sth);
	}
	if (ret == 0) {
		ref_apply(c, idx, lh, (uint8_t(*const *)[32])lk, nk, num);
		c->log = realloc(c->log, (c->nlog + num + 1) * sizeof(*c->log));
		assert_non_null(c->log);
		for (size_t i = 0; i < num; i++) {
			struct rec *e = &c->log[c->nlog++];
			memcpy(e->lh, lh[i], 32);
			memcpy(e->keys, lk[i], nk[i] * 32);
			e->nk = nk[i];
		}
		if (mapped) {
			struct rec *e = &c->log[c->nlog++];
			memcpy(e->lh, c->last_lh, 32);
			e->nk = 0;
		}
	}
	for (size_t i = 0; i < num; i++)
		free(lk[i]);
	free(lk);
	free(nk);
	free(idx);
	free(l);
	free(leaf);
	free(lh);
	return ret;
}

/* check compares the stored map with the reference: state, the last leaf,
 * every key's proof and list. */
static void check(struct ctx *c, int expect_leaf)
{
	struct store_reader *rd;
	uint64_t covered, nkeys;
	uint8_t root[32];
	struct merkle_range r;

	store_get_range(c->st, &r);
	assert_int_equal(store_read_begin(c->st, &rd), 0);
	assert_int_equal(store_r_map(rd, &covered, &nkeys, root), 0);
	assert_int_equal(covered, r.size);
	assert_int_equal(nkeys, c->num_keys);
	assert_memory_equal(root, c->root, 32);
	if (expect_leaf) {
		struct store_entry e;
		assert_int_equal(store_r_entry(rd, r.size - 1, &e), 0);
		assert_int_equal(e.leaf_input_len, 50);
		assert_memory_equal(e.leaf_input + 18, c->root, 32);
		{
			uint64_t cov;
			memcpy(&cov, e.leaf_input + 2, 8);
			assert_int_equal(cov, r.size - 1);
		}
	}
	for (size_t k = 0; k < NKEYS; k++) {
		struct cbb b;
		uint8_t *p, value[32];
		size_t len, n;
		uint64_t count;
		int present;
		struct store_map_item *items;

		assert_true(cbb_init(&b, 256, MAP_MAX_PROOF_LEN));
		assert_int_equal(store_r_map_prove(rd, c->keys[k], &b, &count), 0);
		assert_true(cbb_finish(&b, &p, &len));
		assert_int_equal(map_verify(c->h, root, c->keys[k], p, len, &present, value), 1);
		assert_int_equal(count, c->lists[k].r.size);
		assert_int_equal(present, count > 0);
		free(p);
		assert_int_equal(store_r_map_list(rd, c->keys[k], 1u << 20, &items, &n), 0);
		assert_int_equal(n, count);
		if (n > 0) {
			/* the items rebuild the committed value */
			uint8_t (*ih)[32] = malloc(n * 32), lr[32], v[32];
			for (size_t i = 0; i < n; i++) {
				if (i > 0)
					assert_true(items[i].index > items[i - 1].index);
				map_list_item(c->h, ih[i], items[i].index, items[i].leaf_hash);
			}
			map_list_root(c->h, lr, (const uint8_t(*)[32])ih, n);
			map_value(c->h, v, n, lr);
			assert_memory_equal(v, value, 32);
			free(ih);
		}
		free(items);
	}
	store_read_end(rd);
}

static void setup_ctx(struct ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->h = merkle_hasher_new();
	c->mem = map_mem_new();
	map_mem_tiles(c->mem, &c->tiles);
	for (size_t k = 0; k < NKEYS; k++) {
		char s[16];
		snprintf(s, sizeof(s), "dns:k%zu.example", k);
		map_key(c->h, c->keys[k], (const uint8_t *)s, strlen(s));
		merkle_range_init(&c->lists[k].r);
	}
}

static void teardown_ctx(struct ctx *c)
{
	char cmd[128];
	store_close(c->st);
	merkle_hasher_free(c->h);
	map_mem_free(c->mem);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->dir);
	assert_int_equal(system(cmd), 0);
	free(c->log);
}

static void test_mapped_batches(void **state)
{
	struct ctx c;

	(void)state;
	setup_ctx(&c);
	open_store(&c, 1, 1);
	for (int i = 0; i < 60; i++) {
		assert_int_equal(batch(&c, 1 + rnd() % 40, 1), 0);
		/* the map-root leaf has no keys: the map covers it as it is */
		check(&c, 1);
	}
	/* reopen: the open-time check passes and the map is as it was */
	store_close(c.st);
	open_store(&c, 1, 0);
	check(&c, 1);
	/* a store opened without .map refuses mapped batches */
	store_close(c.st);
	open_store(&c, 0, 0);
	{
		struct store_map_commit mc = {leaf_hook, sign_hook, &c};
		struct store_leaf l;
		struct store_sth sth;
		memset(&l, 0, sizeof(l));
		assert_int_equal(store_append_mapped(c.st, &l, 1, &mc, &sth), MN_EINVAL);
	}
	teardown_ctx(&c);
}

static void test_catch_up(void **state)
{
	struct ctx c;
	struct merkle_range r;

	(void)state;
	setup_ctx(&c);
	/* a log without the map, reopened with it: no map yet, and mapped
	 * batches wait for the catch-up */
	open_store(&c, 0, 1);
	for (int i = 0; i < 10; i++)
		assert_int_equal(batch(&c, 1 + rnd() % 30, 0), 0);
	store_close(c.st);
	open_store(&c, 1, 0);
	store_get_range(c.st, &r);
	{
		uint64_t covered;
		int exists;
		store_map_covered(c.st, &covered, &exists);
		assert_int_equal(exists, 0);
	}
	/* a mapped batch before the catch-up is refused: the map lags */
	{
		struct store_map_commit mc = {leaf_hook, sign_hook, &c};
		struct store_leaf l;
		struct store_sth sth;
		memset(&l, 0, sizeof(l));
		l.leaf_input = (const uint8_t *)"x";
		l.leaf_input_len = 1;
		assert_int_equal(store_append_mapped(c.st, &l, 1, &mc, &sth), MN_EINVAL);
	}
	teardown_ctx(&c);

	setup_ctx(&c);
	open_store(&c, 1, 1);
	{
		/* leaves appended without the map, then caught up in two chunks */
		struct store_leaf l[20];
		uint8_t leaf[20][8], keys[20][2][32];
		struct store_sth sth;
		struct merkle_range rr;
		uint8_t root[32], lh[20][32];
		uint8_t (*lkp[20])[32];
		size_t nk[20];
		uint64_t idx[20];

		merkle_range_init(&rr);
		memset(l, 0, sizeof(l));
		for (size_t i = 0; i < 20; i++) {
			uint64_t x = rnd();
			memcpy(leaf[i], &x, 8);
			l[i].leaf_input = leaf[i];
			l[i].leaf_input_len = 8;
			merkle_leaf_hash(c.h, l[i].leaf_hash, leaf[i], 8);
			memcpy(lh[i], l[i].leaf_hash, 32);
			merkle_sha256(c.h, l[i].dedup_key, leaf[i], 8);
			memcpy(keys[i][0], c.keys[i % NKEYS], 32);
			memcpy(keys[i][1], c.keys[(i * 7 + 3) % NKEYS], 32);
			if (memcmp(keys[i][0], keys[i][1], 32) > 0) {
				uint8_t t[32];
				memcpy(t, keys[i][0], 32);
				memcpy(keys[i][0], keys[i][1], 32);
				memcpy(keys[i][1], t, 32);
			}
			l[i].map_keys = (const uint8_t(*)[32])keys[i];
			l[i].num_map_keys = memcmp(keys[i][0], keys[i][1], 32) == 0 ? 1 : 2;
			lkp[i] = keys[i];
			nk[i] = l[i].num_map_keys;
			idx[i] = i;
			assert_int_equal(merkle_range_append(&rr, c.h, l[i].leaf_hash, NULL, NULL), 0);
		}
		merkle_range_root(&rr, c.h, root);
		sign_hook(&c, 20, root, &sth);
		assert_int_equal(store_append_batch(c.st, l, 20, &sth), 0);
		/* not the next leaves: refused */
		assert_int_equal(store_map_catch_up(c.st, 5, l, 5), MN_EINVAL);
		assert_int_equal(store_map_catch_up(c.st, 0, l, 12), 0);
		assert_int_equal(store_map_catch_up(c.st, 12, l + 12, 8), 0);
		ref_apply(&c, idx, lh, (uint8_t(*const *)[32])lkp, nk, 20);
		check(&c, 0);
		/* the caught-up map is committed by a map-root leaf alone */
		{
			struct store_map_commit mc = {leaf_hook, sign_hook, &c};
			struct store_sth sth2;
			assert_int_equal(store_append_mapped(c.st, NULL, 0, &mc, &sth2), 0);
			assert_int_equal(sth2.tree_size, 21);
			check(&c, 1);
		}
		/* now mapped batches go on */
		assert_int_equal(batch(&c, 7, 1), 0);
		check(&c, 1);
	}
	teardown_ctx(&c);
}

/* --- the map's environment, DIR/map --- */

/* sh runs |cmd| with every "@" replaced by |dir| */
static void sh(const char *cmd, const char *dir)
{
	char buf[512];
	size_t n = 0;
	for (const char *p = cmd; *p != '\0'; p++) {
		size_t add = *p == '@' ? strlen(dir) : 1;
		assert_true(n + add < sizeof(buf));
		memcpy(buf + n, *p == '@' ? dir : p, add);
		n += add;
	}
	buf[n] = '\0';
	assert_int_equal(system(buf), 0);
}

/* covered: the leaves the map covers now, -1 if there is no map */
static int64_t covered(struct ctx *c)
{
	uint64_t cov;
	int exists;
	store_map_covered(c->st, &cov, &exists);
	return exists ? (int64_t)cov : -1;
}

/* catch_up files the recorded leaves the map lacks, 7 at a time (what the
 * sequencer does at start from the leaves' own keys). */
static void catch_up(struct ctx *c)
{
	int64_t cov = covered(c);
	uint64_t from = cov < 0 ? 0 : (uint64_t)cov;

	while (from < c->nlog) {
		struct store_leaf l[7];
		size_t n = c->nlog - from < 7 ? c->nlog - from : 7;
		memset(l, 0, sizeof(l));
		for (size_t i = 0; i < n; i++) {
			memcpy(l[i].leaf_hash, c->log[from + i].lh, 32);
			l[i].map_keys = (const uint8_t(*)[32])c->log[from + i].keys;
			l[i].num_map_keys = c->log[from + i].nk;
		}
		assert_int_equal(store_map_catch_up(c->st, from, l, n), 0);
		from += n;
	}
}

static void mapped_batches(struct ctx *c, int n)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(batch(c, 1 + rnd() % 30, 1), 0);
}

static void test_env_deleted(void **state)
{
	struct ctx c;

	(void)state;
	setup_ctx(&c);
	open_store(&c, 1, 1);
	mapped_batches(&c, 12);
	check(&c, 1);
	store_close(c.st);
	sh("rm -rf '@/map'", c.dir);
	open_store(&c, 1, 0);
	assert_int_equal(covered(&c), -1);
	catch_up(&c);
	check(&c, 1); /* the same root, proofs and lists as before */
	mapped_batches(&c, 3);
	check(&c, 1);
	teardown_ctx(&c);
}

static void test_env_behind(void **state)
{
	struct ctx c;
	uint64_t old;

	(void)state;
	setup_ctx(&c);
	open_store(&c, 1, 1);
	mapped_batches(&c, 8);
	store_close(c.st);
	old = c.nlog;
	sh("cp -a '@/map' '@/map.old'", c.dir);
	open_store(&c, 1, 0);
	mapped_batches(&c, 8);
	store_close(c.st);
	sh("rm -rf '@/map' && mv '@/map.old' '@/map'", c.dir);
	/* closed cleanly, behind the log: kept, and caught up */
	open_store(&c, 1, 0);
	assert_int_equal(covered(&c), (int64_t)old);
	{
		/* a mapped batch waits for the catch-up */
		struct store_map_commit mc = {leaf_hook, sign_hook, &c};
		struct store_sth sth;
		assert_int_equal(store_append_mapped(c.st, NULL, 0, &mc, &sth), MN_EINVAL);
	}
	catch_up(&c);
	check(&c, 1);
	mapped_batches(&c, 2);
	check(&c, 1);
	teardown_ctx(&c);
}

static void test_env_corrupt(void **state)
{
	struct ctx c;

	(void)state;
	setup_ctx(&c);
	open_store(&c, 1, 1);
	mapped_batches(&c, 10);
	store_close(c.st);
	/* both meta pages and the first data pages overwritten */
	sh("head -c 16384 /dev/urandom | dd of='@/map/data.mdb' conv=notrunc status=none", c.dir);
	open_store(&c, 1, 0);
	assert_int_equal(covered(&c), -1); /* discarded */
	catch_up(&c);
	check(&c, 1);
	store_close(c.st);

	/* a state file that says it was left open in another boot (an OS crash
	 * with unsynced pages): discarded too */
	sh("printf 'open 00000000-0000-0000-0000-000000000000\n' > '@/map/state'", c.dir);
	open_store(&c, 1, 0);
	assert_int_equal(covered(&c), -1);
	catch_up(&c);
	check(&c, 1);
	store_close(c.st);

	/* tiles that do not give the stored root: a different map's meta */
	{
		MDB_env *env;
		MDB_txn *txn;
		MDB_dbi dbi;
		MDB_val k = {4, (void *)"map2"}, v;
		uint8_t st[48];
		char path[128];

		snprintf(path, sizeof(path), "%s/map", c.dir);
		assert_int_equal(mdb_env_create(&env), 0);
		assert_int_equal(mdb_env_set_maxdbs(env, 4), 0);
		assert_int_equal(mdb_env_open(env, path, 0, 0600), 0);
		assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
		assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
		assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
		assert_int_equal(v.mv_size, 48);
		memcpy(st, v.mv_data, 48);
		st[47] ^= 1;
		v.mv_data = st;
		assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
		assert_int_equal(mdb_txn_commit(txn), 0);
		mdb_env_close(env);
	}
	/* (its state file no longer matches its transaction either: trust it
	 * as a process crash in this boot, so that the root check decides) */
	{
		char boot[64] = "", path[128];
		FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
		assert_non_null(f);
		assert_non_null(fgets(boot, sizeof(boot), f));
		fclose(f);
		snprintf(path, sizeof(path), "%s/map/state", c.dir);
		f = fopen(path, "w");
		assert_non_null(f);
		fprintf(f, "open %s", boot);
		fclose(f);
	}
	open_store(&c, 1, 0);
	assert_int_equal(covered(&c), -1);
	catch_up(&c);
	check(&c, 1);
	teardown_ctx(&c);
}

static void test_env_ahead(void **state)
{
	struct ctx c;
	char old[96];

	(void)state;
	setup_ctx(&c);
	open_store(&c, 1, 1);
	mapped_batches(&c, 5);
	store_close(c.st);
	snprintf(old, sizeof(old), "%s.old", c.dir);
	sh("cp -a '@' '@.old'", c.dir);
	open_store(&c, 1, 0);
	mapped_batches(&c, 5);
	store_close(c.st);
	/* the older log with the newer map: discarded */
	sh("rm -rf '@.old/map' && cp -a '@/map' '@.old/map'", c.dir);
	{
		struct store_options o = {0};
		struct store *st;
		uint64_t cov;
		int exists;
		o.dir = old;
		o.no_sync = 1;
		o.map = 1;
		assert_int_equal(store_open(&st, &o), 0);
		store_map_covered(st, &cov, &exists);
		assert_int_equal(exists, 0);
		store_close(st);
	}
	sh("rm -rf '@.old'", c.dir);
	open_store(&c, 1, 0);
	check(&c, 1); /* this one is kept */
	teardown_ctx(&c);
}

/* A map kept in the log's environment (the layout before DIR/map) is dropped
 * at open and the map rebuilt. */
static void test_env_migrate(void **state)
{
	struct ctx c;

	(void)state;
	setup_ctx(&c);
	open_store(&c, 0, 1);
	for (int i = 0; i < 5; i++)
		assert_int_equal(batch(&c, 1 + rnd() % 20, 0), 0);
	store_close(c.st);
	{
		MDB_env *env;
		MDB_txn *txn;
		MDB_dbi tiles, items, meta;
		MDB_val k = {4, (void *)"map2"}, v = {3, (void *)"old"};
		MDB_stat ms;

		assert_int_equal(mdb_env_create(&env), 0);
		assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
		assert_int_equal(mdb_env_open(env, c.dir, 0, 0600), 0);
		assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
		assert_int_equal(mdb_dbi_open(txn, "map_tiles2", MDB_CREATE, &tiles), 0);
		assert_int_equal(mdb_dbi_open(txn, "map_items2",
					      MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED, &items), 0);
		assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
		assert_int_equal(mdb_put(txn, tiles, &k, &v, 0), 0);
		assert_int_equal(mdb_put(txn, items, &k, &v, 0), 0);
		assert_int_equal(mdb_put(txn, meta, &k, &v, 0), 0);
		assert_int_equal(mdb_txn_commit(txn), 0);
		mdb_env_close(env);

		open_store(&c, 1, 0);
		assert_int_equal(covered(&c), -1);
		catch_up(&c);
		check(&c, 0);
		store_close(c.st);

		/* the old databases and state are gone from the log's environment */
		assert_int_equal(mdb_env_create(&env), 0);
		assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
		assert_int_equal(mdb_env_open(env, c.dir, MDB_RDONLY, 0600), 0);
		assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
		assert_int_equal(mdb_dbi_open(txn, "map_tiles2", 0, &tiles), MDB_NOTFOUND);
		assert_int_equal(mdb_dbi_open(txn, "map_items2", 0, &items), MDB_NOTFOUND);
		assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
		assert_int_equal(mdb_get(txn, meta, &k, &v), MDB_NOTFOUND);
		assert_int_equal(mdb_stat(txn, meta, &ms), 0);
		mdb_txn_abort(txn);
		mdb_env_close(env);
	}
	open_store(&c, 1, 0);
	check(&c, 0);
	teardown_ctx(&c);
}

/* Readers while batches commit: each snapshot's map is its STH's. */
struct writer_arg {
	struct ctx *c;
	volatile int done;
};

static void *writer_main(void *p)
{
	struct writer_arg *w = p;
	for (int i = 0; i < 150; i++)
		if (batch(w->c, 1 + rnd() % 30, 1) != 0)
			break;
	w->done = 1;
	return NULL;
}

static void test_env_readers(void **state)
{
	struct ctx c;
	struct writer_arg w;
	pthread_t th;
	uint64_t reads = 0;

	(void)state;
	setup_ctx(&c);
	open_store(&c, 1, 1);
	w.c = &c;
	w.done = 0;
	assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);
	while (!w.done) {
		struct store_reader *rd;
		uint64_t cov, nk;
		uint8_t root[32];
		struct store_entry e;
		uint64_t size;

		assert_int_equal(store_read_begin(c.st, &rd), 0);
		size = store_r_tree_size(rd);
		if (size > 0) {
			assert_int_equal(store_r_map(rd, &cov, &nk, root), 0);
			assert_int_equal(cov, size);
			/* the root the STH's last leaf commits to */
			assert_int_equal(store_r_entry(rd, size - 1, &e), 0);
			assert_int_equal(e.leaf_input_len, 50);
			assert_memory_equal(e.leaf_input + 18, root, 32);
			reads++;
		}
		store_read_end(rd);
	}
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_true(reads > 0);
	check(&c, 1);
	teardown_ctx(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mapped_batches),
		cmocka_unit_test(test_catch_up),
		cmocka_unit_test(test_env_deleted),
		cmocka_unit_test(test_env_behind),
		cmocka_unit_test(test_env_corrupt),
		cmocka_unit_test(test_env_ahead),
		cmocka_unit_test(test_env_migrate),
		cmocka_unit_test(test_env_readers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
