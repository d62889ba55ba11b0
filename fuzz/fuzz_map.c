/* fuzz_map.c: the lookup map's parsers and verifiers on fuzzer-chosen bytes.
 *
 * Input: u8 mode, then mode-specific bytes.
 *   mode 0: u8 k, then a MapProof. Against the root of a fixed map of 24 keys
 *           (built once), map_verify for key k (k < 24: one of the map's keys;
 *           else a key not in it, derived from k). If it accepts, its answer
 *           must be the truth (present with the right value, or absent):
 *           anything else would take a SHA-256 collision. The honest proof of
 *           the key must verify and say the same, and every proof that
 *           map_prove writes re-parses.
 *   mode 1: the rest is stored as tile 0 of an empty tile store, then
 *           map_root, map_prove, map_get and map_update run on it: a malformed tile is
 *           an error, never a crash, and an update that succeeds leaves a
 *           store whose proofs verify against the root it returned.
 *   mode 2: u16 entry type, then the body of a MerkleTreeLeaf of that type:
 *           mapkeys_walk gives only key strings of the documented kinds, and
 *           mapkeys_leaf distinct sorted keys.
 *   mode 3: u8 n (1..40), u8 start, u8 end, then a range proof: if
 *           map_list_range_root accepts for the real items [start, end) of a
 *           list of n items and yields the real root, the proof is the
 *           honest one. */
#include <string.h>

#include "common/bytes.h"
#include "common/err.h"
#include "entry/ct.h"
#include "entry/mapkeys.h"
#include "fuzz/fuzz.h"
#include "map/map.h"

const char fuzz_target_name[] = "map";

#define NKEYS 24

static struct merkle_hasher *h;
static struct map_mem *mem;
static struct map_tiles tiles;
static struct map_kv kv[NKEYS];
static uint8_t root[MAP_HASH_LEN];

static int kv_cmp(const void *a, const void *b)
{
	return memcmp(((const struct map_kv *)a)->key, ((const struct map_kv *)b)->key, 32);
}

/* key_cmp: bsearch's key is a bare 32-byte key, not a struct map_kv */
static int key_cmp(const void *key, const void *elem)
{
	return memcmp(key, ((const struct map_kv *)elem)->key, 32);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint64_t nk = 0;

	(void)argc;
	(void)argv;
	h = merkle_hasher_new();
	mem = map_mem_new();
	FUZZ_CHECK(h != NULL && mem != NULL);
	map_mem_tiles(mem, &tiles);
	for (int i = 0; i < NKEYS; i++) {
		char s[32];
		int n = snprintf(s, sizeof(s), "dns:fuzz%d.example", i);
		map_key(h, kv[i].key, (const uint8_t *)s, (size_t)n);
		merkle_sha256(h, kv[i].value, (const uint8_t *)s, (size_t)n);
	}
	/* two keys sharing a long prefix: a deep tile */
	memcpy(kv[1].key, kv[0].key, 30);
	qsort(kv, NKEYS, sizeof(kv[0]), kv_cmp);
	FUZZ_CHECK(map_update(&tiles, h, kv, NKEYS, &nk, root) == 0 && nk == NKEYS);
	return 0;
}

static void key_for(uint8_t out[32], uint8_t k)
{
	if (k < NKEYS) {
		memcpy(out, kv[k].key, 32);
	} else {
		memcpy(out, kv[k % NKEYS].key, 32);
		out[31 - (k % 32)] ^= (uint8_t)(1u << (k % 8)); /* next to a real one */
	}
}

static const struct map_kv *find(const uint8_t key[32])
{
	return bsearch(key, kv, NKEYS, sizeof(kv[0]), key_cmp);
}

static void mode_verify(const uint8_t *p, size_t n)
{
	uint8_t key[32], val[32], *honest;
	const struct map_kv *truth;
	size_t hl;
	int present = -1;
	struct cbb c;

	if (n < 1)
		return;
	key_for(key, p[0]);
	truth = find(key);
	if (map_verify(h, root, key, p + 1, n - 1, &present, val) == 1) {
		FUZZ_CHECK(present == (truth != NULL));
		if (present)
			FUZZ_CHECK(memcmp(val, truth->value, 32) == 0);
	}
	FUZZ_CHECK(cbb_init(&c, 256, MAP_MAX_PROOF_LEN));
	FUZZ_CHECK(map_prove(&tiles, h, key, &c, &present, val) == 0);
	FUZZ_CHECK(cbb_finish(&c, &honest, &hl));
	FUZZ_CHECK(present == (truth != NULL));
	present = -1;
	FUZZ_CHECK(map_verify(h, root, key, honest, hl, &present, val) == 1);
	FUZZ_CHECK(present == (truth != NULL));
	free(honest);
}

static void mode_tile(const uint8_t *p, size_t n)
{
	struct map_mem *m = map_mem_new();
	struct map_tiles t;
	uint8_t id[1] = {0}, r[32], r2[32], key[32], val[32];
	uint64_t nk = 0;
	struct cbb c;
	int present;

	FUZZ_CHECK(m != NULL);
	map_mem_tiles(m, &t);
	if (n > MAP_MAX_TILE_LEN || t.put(t.ctx, id, 1, p, n) != 0) {
		map_mem_free(m);
		return;
	}
	(void)map_root(&t, h, r);
	key_for(key, n > 0 ? p[0] : 0);
	if (cbb_init(&c, 256, MAP_MAX_PROOF_LEN)) {
		(void)map_prove(&t, h, key, &c, &present, val);
		cbb_cleanup(&c);
	}
	{
		/* the leaves' payloads parse, or the tile is refused */
		static uint8_t pl[MAP_MAX_PAYLOAD];
		size_t pl_len;
		if (map_get(&t, key, &present, val, pl, &pl_len) == 0 && present)
			FUZZ_CHECK(pl_len <= MAP_MAX_PAYLOAD);
	}
	{
		struct map_kv one = kv[(n > 0 ? p[n - 1] : 0) % NKEYS];
		if (map_update(&t, h, &one, 1, &nk, r) == 0 && map_root(&t, h, r2) == 0) {
			uint8_t *pr;
			size_t pl;
			/* a successful update leaves a store that proves the key */
			FUZZ_CHECK(memcmp(r, r2, 32) == 0);
			FUZZ_CHECK(cbb_init(&c, 256, MAP_MAX_PROOF_LEN));
			if (map_prove(&t, h, one.key, &c, &present, val) == 0) {
				FUZZ_CHECK(cbb_finish(&c, &pr, &pl));
				FUZZ_CHECK(present && memcmp(val, one.value, 32) == 0);
				FUZZ_CHECK(map_verify(h, r, one.key, pr, pl, &present, val) == 1);
				free(pr);
			} else {
				cbb_cleanup(&c);
			}
		}
	}
	map_mem_free(m);
}

static int key_ok(void *ctx, const char *key, size_t len)
{
	static const char *const kinds[] = {"dns:", "under:", "email:", "pgp:", "pgpaddr:",
					    "cert:", "policy:"};
	int ok = 0;

	(void)ctx;
	FUZZ_CHECK(len > 0 && len < MAPKEYS_MAX_STR);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (len > strlen(kinds[i]) && memcmp(key, kinds[i], strlen(kinds[i])) == 0)
			ok = 1;
	FUZZ_CHECK(ok);
	return 0;
}

static void mode_keys(const uint8_t *p, size_t n)
{
	struct ct_entry e;
	struct cbb c;
	uint8_t *leaf;
	size_t len, num;
	int cut;
	static uint8_t keys[MAPKEYS_MAX][MAP_KEY_LEN];

	if (n < 3)
		return;
	memset(&e, 0, sizeof(e));
	e.entry_type = (uint16_t)(p[0] << 8 | p[1]);
	e.body = p + 2;
	e.body_len = n - 2;
	if (!ct_entry_type_known(e.entry_type) || !cbb_init(&c, n + 64, SIZE_MAX))
		return;
	if (!ct_write_leaf(&c, &e) || !cbb_finish(&c, &leaf, &len)) {
		cbb_cleanup(&c);
		return;
	}
	FUZZ_CHECK(mapkeys_walk(leaf, len, key_ok, NULL) == 0);
	FUZZ_CHECK(mapkeys_leaf(h, leaf, len, keys, &num, &cut) == 0);
	for (size_t i = 1; i < num; i++)
		FUZZ_CHECK(memcmp(keys[i - 1], keys[i], MAP_KEY_LEN) < 0);
	free(leaf);
}

static void mode_range(const uint8_t *p, size_t n)
{
	uint8_t items[40][32], proof[128][32], honest[128][32], real[32], got[32];
	size_t num, s, e, pn, hn;

	if (n < 3)
		return;
	num = 1 + p[0] % 40;
	s = p[1] % num;
	e = s + 1 + p[2] % (num - s);
	for (size_t i = 0; i < num; i++) {
		uint8_t lh[32] = {(uint8_t)i};
		map_list_item(h, items[i], 1000 + i, lh);
	}
	map_list_root(h, real, (const uint8_t(*)[32])items, num);
	pn = (n - 3) / 32;
	if (pn > 128)
		pn = 128;
	memcpy(proof, p + 3, pn * 32);
	hn = map_list_range_proof(h, (const uint8_t(*)[32])items, num, s, e, honest, 128);
	FUZZ_CHECK(hn != (size_t)-1);
	if (map_list_range_root(h, got, num, s, e, (const uint8_t(*)[32])(items + s),
				(const uint8_t(*)[32])proof, pn) &&
	    memcmp(got, real, 32) == 0)
		FUZZ_CHECK(pn == hn && memcmp(proof, honest, pn * 32) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0: mode_verify(data + 1, size - 1); break;
	case 1: mode_tile(data + 1, size - 1); break;
	case 2: mode_keys(data + 1, size - 1); break;
	default: mode_range(data + 1, size - 1); break;
	}
	return 0;
}
