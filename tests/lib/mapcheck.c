/* mapcheck.c: see mapcheck.h. */
#include "tests/lib/mapcheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "entry/ct.h"
#include "entry/mapkeys.h"
#include "map/map.h"
#include "merkle/merkle.h"

static int b64_fixed(const json_t *s, uint8_t *out, size_t len)
{
	uint8_t *p;
	size_t n;

	if (!json_is_string(s) ||
	    mn_b64_decode(&p, &n, json_string_value(s), json_string_length(s), 1 << 20) != 0)
		return -1;
	if (n != len) {
		free(p);
		return -1;
	}
	memcpy(out, p, len);
	free(p);
	return 0;
}

static int hashes(const json_t *arr, uint8_t (*out)[32], size_t cap, size_t *out_num)
{
	size_t n = json_array_size(arr);

	if (!json_is_array(arr) || n > cap)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (b64_fixed(json_array_get(arr, i), out[i], 32) != 0)
			return -1;
	*out_num = n;
	return 0;
}

#define FAIL(...)                                                                        \
	do {                                                                             \
		fprintf(stderr, "mapcheck %s: ", key);                                   \
		fprintf(stderr, __VA_ARGS__);                                            \
		fprintf(stderr, "\n");                                                   \
		goto out;                                                                \
	} while (0)

int mapcheck_lookup(const json_t *answer, const char *key, uint64_t *out_count,
		    uint64_t *out_items, size_t cap, size_t *out_num)
{
	const json_t *sth = json_object_get(answer, "sth"), *map = json_object_get(answer, "map");
	const json_t *keys = json_object_get(map, "keys"), *k = NULL, *items;
	struct merkle_hasher *h = merkle_hasher_new();
	uint8_t sth_root[32], lh[32], mk[MAP_KEY_LEN], value[32], list_root[32], v[32];
	uint8_t path[MERKLE_MAX_PROOF][32], (*ih)[32] = NULL, (*rp)[32] = NULL;
	uint8_t *leaf = NULL, *proof = NULL;
	size_t leaf_len, proof_len, np, nrp, n;
	uint64_t size, index, count, start;
	struct ct_entry e;
	struct mapkeys_root mr;
	int present, ret = -1;

	*out_num = 0;
	*out_count = 0;
	if (h == NULL)
		return -1;
	if (!json_is_object(map))
		FAIL("no map section");
	size = (uint64_t)json_integer_value(json_object_get(sth, "tree_size"));
	index = (uint64_t)json_integer_value(json_object_get(map, "leaf_index"));
	if (b64_fixed(json_object_get(sth, "sha256_root_hash"), sth_root, 32) != 0)
		FAIL("bad STH");
	if (size == 0 || index != size - 1)
		FAIL("map-root leaf %llu is not the last of tree size %llu",
		     (unsigned long long)index, (unsigned long long)size);
	/* the map-root leaf, and that it is in the STH's tree */
	{
		const json_t *li = json_object_get(map, "leaf_input");
		if (!json_is_string(li) ||
		    mn_b64_decode(&leaf, &leaf_len, json_string_value(li), json_string_length(li),
				  1 << 16) != 0 ||
		    !ct_parse_leaf(&e, leaf, leaf_len) || e.entry_type != MN_MAP_ROOT_ENTRY ||
		    !mapkeys_root_parse(&mr, e.body, e.body_len) || mr.covered != index ||
		    !ct_extensions_match_index(e.extensions, e.extensions_len, index))
			FAIL("leaf %llu is not a map-root leaf covering itself",
			     (unsigned long long)index);
	}
	merkle_leaf_hash(h, lh, leaf, leaf_len);
	if (hashes(json_object_get(map, "audit_path"), path, MERKLE_MAX_PROOF, &np) != 0 ||
	    !merkle_verify_inclusion(h, lh, index, size, (const uint8_t(*)[32])path, np,
				     sth_root))
		FAIL("the map-root leaf's audit path does not verify");
	/* the key's proof */
	for (size_t i = 0; i < json_array_size(keys); i++) {
		const json_t *ki = json_array_get(keys, i);
		if (json_is_string(json_object_get(ki, "key")) &&
		    strcmp(json_string_value(json_object_get(ki, "key")), key) == 0)
			k = ki;
	}
	if (k == NULL)
		FAIL("not in the map section");
	map_key(h, mk, (const uint8_t *)key, strlen(key));
	count = (uint64_t)json_integer_value(json_object_get(k, "count"));
	start = (uint64_t)json_integer_value(json_object_get(k, "start"));
	{
		const json_t *p = json_object_get(k, "proof");
		if (!json_is_string(p) ||
		    mn_b64_decode(&proof, &proof_len, json_string_value(p), json_string_length(p),
				  MAP_MAX_PROOF_LEN) != 0 ||
		    !map_verify(h, mr.root, mk, proof, proof_len, &present, value))
			FAIL("the MapProof does not lead to the committed map root");
	}
	if (present != (count > 0))
		FAIL("count %llu but the proof says %s", (unsigned long long)count,
		     present ? "present" : "absent");
	items = json_object_get(k, "items");
	n = json_array_size(items);
	if (count > 0) {
		ih = malloc((n + 1) * sizeof(*ih));
		rp = malloc(2 * 64 * sizeof(*rp));
		if (ih == NULL || rp == NULL || n == 0 || start + n > count)
			FAIL("items [%llu, +%zu) of %llu", (unsigned long long)start, n,
			     (unsigned long long)count);
		for (size_t i = 0; i < n; i++) {
			const json_t *it = json_array_get(items, i);
			uint8_t ilh[32];
			uint64_t ii = (uint64_t)json_integer_value(json_object_get(it, "leaf_index"));
			if (b64_fixed(json_object_get(it, "leaf_hash"), ilh, 32) != 0)
				FAIL("bad item %zu", i);
			if (ii >= index)
				FAIL("item %llu beyond the map's %llu leaves", (unsigned long long)ii,
				     (unsigned long long)index);
			map_list_item(h, ih[i], ii, ilh);
			if (i < cap)
				out_items[(*out_num)++] = ii;
		}
		if (hashes(json_object_get(k, "range_proof"), rp, 2 * 64, &nrp) != 0 ||
		    !map_list_range_root(h, list_root, (size_t)count, (size_t)start,
					 (size_t)(start + n), (const uint8_t(*)[32])ih,
					 (const uint8_t(*)[32])rp, nrp))
			FAIL("the items and range proof do not make a list root");
		map_value(h, v, count, list_root);
		if (memcmp(v, value, 32) != 0)
			FAIL("the items are not the list the map commits");
	} else if (n != 0) {
		FAIL("an absent key with items");
	}
	*out_count = count;
	ret = 0;
out:
	free(leaf);
	free(proof);
	free(ih);
	free(rp);
	merkle_hasher_free(h);
	return ret;
}
