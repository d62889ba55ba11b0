/* test_map.c: map/ against a naive reference written from map.h's definition
 * (recursive hash(S, d) over a sorted set, with OpenSSL's SHA256 directly):
 * roots of random sets built in random batch orders, every key's proof of
 * presence and absence, every single-bit flip of a proof refused, and list
 * page proofs for every range of every list of 1..40 items. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "common/bytes.h"
#include "common/err.h"
#include "map/map.h"

static struct merkle_hasher *H;

static unsigned bit(const uint8_t *k, unsigned d)
{
	return (k[d / 8] >> (7 - d % 8)) & 1;
}

/* ref_hash: hash(S, d) for keys[0..n) (sorted, sharing their first d bits). */
static void ref_hash(uint8_t out[32], const struct map_kv *kv, size_t n, unsigned d)
{
	size_t split = 0;
	uint8_t buf[98], l[32], r[32];

	if (n == 0) {
		memset(out, 0, 32);
		return;
	}
	if (n == 1) {
		buf[0] = 0x10;
		memcpy(buf + 1, kv[0].key, 32);
		memcpy(buf + 33, kv[0].value, 32);
		SHA256(buf, 65, out);
		return;
	}
	while (split < n && bit(kv[split].key, d) == 0)
		split++;
	if (split == 0 || split == n) {
		ref_hash(out, kv, n, d + 1);
		return;
	}
	ref_hash(l, kv, split, d + 1);
	ref_hash(r, kv + split, n - split, d + 1);
	buf[0] = 0x11;
	buf[1] = (uint8_t)d;
	memset(buf + 2, 0, 32);
	for (unsigned b = 0; b < d; b++)
		if (bit(kv[0].key, b))
			buf[2 + b / 8] |= (uint8_t)(0x80 >> (b % 8));
	memcpy(buf + 34, l, 32);
	memcpy(buf + 66, r, 32);
	SHA256(buf, 98, out);
}

static int kv_cmp(const void *a, const void *b)
{
	return memcmp(((const struct map_kv *)a)->key, ((const struct map_kv *)b)->key, 32);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void rnd_bytes(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

static void test_known(void **state)
{
	struct map_mem *m = map_mem_new();
	struct map_tiles t;
	struct map_kv kv[2];
	uint8_t root[32], want[32], zero[32] = {0};
	uint64_t nk = 0;

	(void)state;
	map_mem_tiles(m, &t);
	assert_int_equal(map_root(&t, H, root), 0);
	assert_memory_equal(root, zero, 32);
	/* one key: the root is its leaf */
	memset(kv, 0, sizeof(kv));
	kv[0].key[0] = 0x00;
	kv[0].value[0] = 1;
	kv[1].key[0] = 0x80; /* differs at bit 0 */
	kv[1].value[0] = 2;
	assert_int_equal(map_update(&t, H, kv, 1, &nk, root), 0);
	ref_hash(want, kv, 1, 0);
	assert_memory_equal(root, want, 32);
	assert_int_equal(nk, 1);
	assert_int_equal(map_update(&t, H, kv + 1, 1, &nk, root), 0);
	ref_hash(want, kv, 2, 0);
	assert_memory_equal(root, want, 32);
	assert_int_equal(nk, 2);
	/* an unsorted batch is refused */
	{
		struct map_kv bad[2] = {kv[1], kv[0]};
		assert_int_equal(map_update(&t, H, bad, 2, &nk, root), MN_EINVAL);
	}
	map_mem_free(m);
}

static void prove_and_check(const struct map_tiles *t, const uint8_t root[32],
			    const uint8_t key[32], int want_present, const uint8_t *want_value)
{
	struct cbb c;
	uint8_t *p, val[32];
	size_t len;
	int present = -1;

	assert_true(cbb_init(&c, 256, MAP_MAX_PROOF_LEN));
	assert_int_equal(map_prove(t, H, key, &c, &present, val), 0);
	assert_int_equal(present, want_present);
	assert_true(cbb_finish(&c, &p, &len));
	present = -1;
	assert_int_equal(map_verify(H, root, key, p, len, &present, val), 1);
	assert_int_equal(present, want_present);
	if (want_present)
		assert_memory_equal(val, want_value, 32);
	/* every single-bit flip is refused, and so are trailing and missing bytes */
	for (size_t i = 0; i < len; i++) {
		for (unsigned b = 0; b < 8; b++) {
			int pr;
			p[i] ^= (uint8_t)(1u << b);
			assert_int_equal(map_verify(H, root, key, p, len, &pr, val), 0);
			p[i] ^= (uint8_t)(1u << b);
		}
	}
	{
		int pr;
		uint8_t *q = malloc(len + 1);
		memcpy(q, p, len);
		q[len] = 0;
		assert_int_equal(map_verify(H, root, key, q, len + 1, &pr, val), 0);
		assert_int_equal(map_verify(H, root, key, q, len - 1, &pr, val), 0);
		free(q);
	}
	free(p);
}

static void test_random_sets(void **state)
{
	(void)state;
	for (int round = 0; round < 30; round++) {
		size_t n = 1 + rnd() % (round < 10 ? 40 : 700);
		struct map_kv *all = calloc(n, sizeof(*all));
		struct map_mem *m1 = map_mem_new(), *m2 = map_mem_new();
		struct map_tiles t1, t2;
		uint8_t r1[32], r2[32], want[32];
		uint64_t nk1 = 0, nk2 = 0;
		size_t i;

		map_mem_tiles(m1, &t1);
		map_mem_tiles(m2, &t2);
		for (i = 0; i < n; i++) {
			rnd_bytes(all[i].key, 32);
			if (round % 3 == 0 && i > 0 && rnd() % 4 == 0) {
				/* keys sharing long prefixes: deep tiles */
				memcpy(all[i].key, all[i - 1].key, 20 + rnd() % 12);
			}
			rnd_bytes(all[i].value, 32);
		}
		qsort(all, n, sizeof(*all), kv_cmp);
		for (i = 1; i < n; i++)
			assert_true(memcmp(all[i - 1].key, all[i].key, 32) != 0);
		ref_hash(want, all, n, 0);
		/* m1: one batch; m2: random batches (random subsets, in order) */
		assert_int_equal(map_update(&t1, H, all, n, &nk1, r1), 0);
		assert_memory_equal(r1, want, 32);
		assert_int_equal(nk1, n);
		{
			/* insert in a shuffled order, in batches of random size */
			size_t *perm = malloc(n * sizeof(*perm));
			for (i = 0; i < n; i++)
				perm[i] = i;
			for (i = n; i > 1; i--) {
				size_t j = rnd() % i, x = perm[i - 1];
				perm[i - 1] = perm[j];
				perm[j] = x;
			}
			for (i = 0; i < n;) {
				size_t b = 1 + rnd() % 50, k;
				struct map_kv *batch;
				if (b > n - i)
					b = n - i;
				batch = malloc(b * sizeof(*batch));
				for (k = 0; k < b; k++)
					batch[k] = all[perm[i + k]];
				qsort(batch, b, sizeof(*batch), kv_cmp);
				assert_int_equal(map_update(&t2, H, batch, b, &nk2, r2), 0);
				free(batch);
				i += b;
			}
			free(perm);
		}
		assert_memory_equal(r2, want, 32);
		assert_int_equal(nk2, n);
		/* updating values of existing keys: same as the reference */
		for (i = 0; i < n; i += 3)
			rnd_bytes(all[i].value, 32);
		{
			size_t m = 0;
			struct map_kv *upd = malloc(n * sizeof(*upd));
			for (i = 0; i < n; i += 3)
				upd[m++] = all[i];
			assert_int_equal(map_update(&t2, H, upd, m, &nk2, r2), 0);
			free(upd);
		}
		ref_hash(want, all, n, 0);
		assert_memory_equal(r2, want, 32);
		assert_int_equal(nk2, n);
		assert_int_equal(map_root(&t2, H, r1), 0);
		assert_memory_equal(r1, want, 32);
		/* proofs: a few present keys, absent keys (random, and next to
		 * present ones) */
		for (i = 0; i < n && i < 40; i++) {
			size_t k = rnd() % n;
			uint8_t absent[32];
			prove_and_check(&t2, want, all[k].key, 1, all[k].value);
			memcpy(absent, all[k].key, 32);
			absent[31 - rnd() % 8] ^= (uint8_t)(1u << (rnd() % 8));
			if (bsearch(absent, all, n, sizeof(*all), kv_cmp) == NULL)
				prove_and_check(&t2, want, absent, 0, NULL);
			rnd_bytes(absent, 32);
			prove_and_check(&t2, want, absent, 0, NULL);
		}
		/* a proof for one key proves nothing for another */
		if (n > 1) {
			struct cbb c;
			uint8_t *p, val[32];
			size_t len;
			int pr;
			assert_true(cbb_init(&c, 256, MAP_MAX_PROOF_LEN));
			assert_int_equal(map_prove(&t2, H, all[0].key, &c, &pr, val), 0);
			assert_true(cbb_finish(&c, &p, &len));
			pr = -1;
			/* all[1] present: a proof ending at all[0]'s leaf cannot
			 * say all[1] is absent unless it really is off the path */
			if (map_verify(H, want, all[1].key, p, len, &pr, val) == 1)
				fail_msg("a proof of key 0 verified for key 1 (present=%d)", pr);
			free(p);
		}
		map_mem_free(m1);
		map_mem_free(m2);
		free(all);
	}
}

static void test_empty_map_proof(void **state)
{
	struct map_mem *m = map_mem_new();
	struct map_tiles t;
	uint8_t root[32] = {0}, key[32] = {1};

	(void)state;
	map_mem_tiles(m, &t);
	prove_and_check(&t, root, key, 0, NULL);
	map_mem_free(m);
}

static void ref_mth(uint8_t out[32], uint8_t (*items)[32], size_t n)
{
	size_t k = 1;
	uint8_t buf[65];

	if (n == 1) {
		memcpy(out, items[0], 32);
		return;
	}
	while (k * 2 < n)
		k *= 2;
	buf[0] = 1;
	ref_mth(buf + 1, items, k);
	ref_mth(buf + 33, items + k, n - k);
	SHA256(buf, 65, out);
}

static void test_list_ranges(void **state)
{
	uint8_t items[40][32], proof[128][32], root[32], want[32];

	(void)state;
	for (size_t n = 1; n <= 40; n++) {
		for (size_t i = 0; i < n; i++) {
			uint8_t lh[32];
			uint8_t buf[41];
			rnd_bytes(lh, 32);
			map_list_item(H, items[i], 1000 + i, lh);
			buf[0] = 0;
			mn_put_be64(buf + 1, 1000 + i);
			memcpy(buf + 9, lh, 32);
			SHA256(buf, 41, want);
			assert_memory_equal(items[i], want, 32);
		}
		map_list_root(H, root, (const uint8_t(*)[32])items, n);
		ref_mth(want, items, n);
		assert_memory_equal(root, want, 32);
		for (size_t s = 0; s < n; s++) {
			for (size_t e = s + 1; e <= n; e++) {
				size_t pn = map_list_range_proof(H, (const uint8_t(*)[32])items, n, s,
								 e, proof, 128);
				assert_true(pn != (size_t)-1);
				assert_int_equal(map_list_range_verify(H, root, n, s, e,
							(const uint8_t(*)[32])(items + s),
							(const uint8_t(*)[32])proof, pn), 1);
				/* a gap (one item fewer), a shifted range, a wrong count */
				if (e - s > 1)
					assert_int_equal(map_list_range_verify(H, root, n, s, e - 1,
							(const uint8_t(*)[32])(items + s),
							(const uint8_t(*)[32])proof, pn), 0);
				if (e < n)
					assert_int_equal(map_list_range_verify(H, root, n, s + 1, e + 1,
							(const uint8_t(*)[32])(items + s),
							(const uint8_t(*)[32])proof, pn), 0);
				/* (a wrong count can rebuild the same root: the count is
				 * bound by the value hash V, not by the range proof) */
				if (pn > 0) {
					proof[pn - 1][0] ^= 1;
					assert_int_equal(map_list_range_verify(H, root, n, s, e,
							(const uint8_t(*)[32])(items + s),
							(const uint8_t(*)[32])proof, pn), 0);
					proof[pn - 1][0] ^= 1;
					assert_int_equal(map_list_range_verify(H, root, n, s, e,
							(const uint8_t(*)[32])(items + s),
							(const uint8_t(*)[32])proof, pn - 1), 0);
				}
			}
		}
	}
}

/* proof_bytes: map_prove of |key| as bytes (malloc'd, *len). */
static uint8_t *proof_bytes(const struct map_tiles *t, const uint8_t key[32], size_t *len)
{
	struct cbb c;
	uint8_t *p, val[32];
	int present;

	assert_true(cbb_init(&c, 256, MAP_MAX_PROOF_LEN));
	assert_int_equal(map_prove(t, H, key, &c, &present, val), 0);
	assert_true(cbb_finish(&c, &p, len));
	return p;
}

/* A proof through the tile cache is the proof without it, also after the
 * tiles it holds have changed (a stale tile is never served), and with a
 * cache so small that tiles evict each other. */
static void test_cache(void **state)
{
	(void)state;
	for (int round = 0; round < 4; round++) {
		struct map_mem *m = map_mem_new();
		struct map_cache *cache = map_cache_new(round == 3 ? 2 : 1024, 3);
		struct map_tiles t, tc;
		size_t n = 3000, batch = 500;
		struct map_kv *kv = calloc(batch, sizeof(*kv));
		uint8_t (*keys)[32] = calloc(n + 100, 32);
		uint8_t root[32];
		uint64_t nk = 0;

		assert_non_null(cache);
		map_mem_tiles(m, &t);
		tc = t;
		tc.cache = cache;
		for (size_t i = 0; i < n + 100; i++)
			rnd_bytes(keys[i], 32);
		for (size_t done = 0; done < n; done += batch) {
			for (size_t i = 0; i < batch; i++) {
				/* new keys and new values of earlier ones */
				size_t k = done > 0 && i % 3 == 0 ? rnd() % done : done + i;
				memcpy(kv[i].key, keys[k], 32);
				rnd_bytes(kv[i].value, 32);
			}
			qsort(kv, batch, sizeof(*kv), kv_cmp);
			{
				size_t out = 0;
				for (size_t i = 0; i < batch; i++)
					if (out == 0 || memcmp(kv[out - 1].key, kv[i].key, 32) != 0)
						kv[out++] = kv[i];
				assert_int_equal(map_update(&t, H, kv, out, &nk, root), 0);
			}
			/* twice through the cache (fill, then hit), once without;
			 * present keys and absent ones */
			for (size_t i = 0; i < done + batch + 100; i += 7) {
				const uint8_t *key = keys[i < done + batch ? i : n + i % 100];
				size_t l0, l1, l2;
				uint8_t *p0 = proof_bytes(&t, key, &l0);
				uint8_t *p1 = proof_bytes(&tc, key, &l1);
				uint8_t *p2 = proof_bytes(&tc, key, &l2);
				int present;
				uint8_t val[32];
				assert_int_equal(l0, l1);
				assert_int_equal(l0, l2);
				assert_memory_equal(p0, p1, l0);
				assert_memory_equal(p0, p2, l0);
				assert_int_equal(map_verify(H, root, key, p2, l2, &present, val), 1);
				free(p0);
				free(p1);
				free(p2);
			}
		}
		map_cache_free(cache);
		map_mem_free(m);
		free(kv);
		free(keys);
	}
	map_cache_free(NULL);
}


/* --- payloads: kept per key, moved with pushed-down leaves, never hashed --- */

#define PL_KEYS 300

struct pl_model {
	uint8_t keys[PL_KEYS][32];
	uint32_t gen[PL_KEYS]; /* updates so far; 0: not in the map */
	const size_t *batch;   /* batch position -> key number */
	struct map_kv *kv;     /* the values the callback gave, by batch position */
	int calls;
};

/* pl_make: the payload of key |k| after |gen| updates. */
static size_t pl_make(uint8_t *out, size_t k, uint32_t gen)
{
	size_t len = (k * 13 + gen * 7) % 300;

	for (size_t i = 0; i < len; i++)
		out[i] = (uint8_t)(k + gen + i);
	if (len >= 4) {
		out[0] = (uint8_t)(gen >> 8);
		out[1] = (uint8_t)gen;
	}
	return len;
}

static int pl_fn(void *ctx, size_t i, const uint8_t key[32], const uint8_t *old_payload,
		 size_t old_len, int existed, uint8_t out_value[32], uint8_t *out_payload,
		 size_t *out_len)
{
	struct pl_model *m = ctx;
	size_t k = m->batch[i];
	uint8_t want[MAP_MAX_PAYLOAD];

	assert_memory_equal(key, m->keys[k], 32);
	assert_int_equal(existed, m->gen[k] > 0);
	if (existed) {
		size_t wl = pl_make(want, k, m->gen[k]);
		assert_int_equal(old_len, wl);
		if (wl > 0)
			assert_memory_equal(old_payload, want, wl);
	}
	m->gen[k]++;
	memset(out_value, 0, 32);
	memcpy(out_value, &k, sizeof(k));
	memcpy(out_value + 16, &m->gen[k], sizeof(m->gen[k]));
	memcpy(m->kv[i].key, key, 32);
	memcpy(m->kv[i].value, out_value, 32);
	*out_len = pl_make(out_payload, k, m->gen[k]);
	m->calls++;
	return 0;
}

static int key_num_cmp(const void *a, const void *b, void *ctx)
{
	const struct pl_model *m = ctx;
	return memcmp(m->keys[*(const size_t *)a], m->keys[*(const size_t *)b], 32);
}

static void test_payloads(void **state)
{
	struct map_mem *m1 = map_mem_new(), *m2 = map_mem_new();
	struct map_tiles t1, t2;
	struct pl_model *md = calloc(1, sizeof(*md));
	uint64_t nk1 = 0, nk2 = 0;
	uint8_t r1[32], r2[32], keys[PL_KEYS][32];
	size_t batch[PL_KEYS];
	struct map_kv kv[PL_KEYS];
	uint32_t rnd = 7;

	(void)state;
	assert_non_null(md);
	map_mem_tiles(m1, &t1);
	map_mem_tiles(m2, &t2);
	for (size_t k = 0; k < PL_KEYS; k++) {
		for (int b = 0; b < 32; b++) {
			rnd = rnd * 1103515245u + 12345u;
			md->keys[k][b] = (uint8_t)(rnd >> 16);
		}
		if (k % 3 == 1) /* long shared prefixes: deep tiles, leaves pushed down */
			memcpy(md->keys[k], md->keys[k - 1], 3 + k % 5);
	}
	md->batch = batch;
	md->kv = kv;
	for (int round = 0; round < 30; round++) {
		size_t n = 0;
		for (size_t k = 0; k < PL_KEYS; k++) {
			rnd = rnd * 1103515245u + 12345u;
			if ((rnd >> 16) % 8 < (unsigned)(1 + round % 4))
				batch[n++] = k;
		}
		qsort_r(batch, n, sizeof(batch[0]), key_num_cmp, md);
		for (size_t i = 0; i < n; i++)
			memcpy(keys[i], md->keys[batch[i]], 32);
		md->calls = 0;
		assert_int_equal(map_update_fn(&t1, H, (const uint8_t(*)[32])keys, n, pl_fn, md,
					       &nk1, r1), 0);
		assert_int_equal(md->calls, (int)n);
		/* the same values without payloads: the same root */
		assert_int_equal(map_update(&t2, H, kv, n, &nk2, r2), 0);
		assert_memory_equal(r1, r2, 32);
		assert_int_equal(nk1, nk2);
		for (size_t k = 0; k < PL_KEYS; k++) {
			uint8_t pl[MAP_MAX_PAYLOAD], want[MAP_MAX_PAYLOAD], val[32];
			size_t len = 99, wl;
			int present = -1;
			assert_int_equal(map_get(&t1, md->keys[k], &present, val, pl, &len), 0);
			assert_int_equal(present, md->gen[k] > 0);
			if (!present)
				continue;
			wl = pl_make(want, k, md->gen[k]);
			assert_int_equal(len, wl);
			if (wl > 0)
				assert_memory_equal(pl, want, wl);
			prove_and_check(&t1, r1, md->keys[k], 1, val);
		}
	}
	map_mem_free(m1);
	map_mem_free(m2);
	free(md);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known),
		cmocka_unit_test(test_random_sets),
		cmocka_unit_test(test_empty_map_proof),
		cmocka_unit_test(test_list_ranges),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_payloads),
	};
	int ret;

	H = merkle_hasher_new();
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	merkle_hasher_free(H);
	return ret;
}
