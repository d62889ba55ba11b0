/* mapcatch.c: the lookup map built from stored leaves (mapcatch.h). */
#include "logd/mapcatch.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "entry/ct.h"
#include "entry/mapkeys.h"
#include "merkle/merkle.h"
#include "storage/storage.h"

/* The chunk is big because every key
 * dirties a page in each of the map's three B-trees: a commit of 65,536
 * leaves rewrites each page about once where 16 commits of 4,096 rewrite it
 * up to 16 times (bench/RESULTS.md, issue 13: 5,834 -> 22,820 entries/s at
 * 10^6). About 16 MB while it runs. */
int mapcatch_run(struct store *st, struct merkle_hasher *h)
{
	enum { CHUNK = 65536 };
	struct store_leaf *l = NULL;
	uint8_t (*keys)[MAP_KEY_LEN] = NULL;
	uint8_t (**own)[MAP_KEY_LEN] = NULL;
	struct merkle_range r;
	uint64_t covered, t0 = mn_mono_ns(), start;
	int exists, ret = 0;

	store_get_range(st, &r);
	store_map_covered(st, &covered, &exists);
	start = covered;
	if (covered >= r.size)
		return 0; /* the usual start: nothing to allocate */
	l = calloc(CHUNK, sizeof(*l));
	keys = malloc(MAPKEYS_MAX * MAP_KEY_LEN);
	own = calloc(CHUNK, sizeof(*own));
	if (l == NULL || keys == NULL || own == NULL) {
		ret = MN_ENOMEM;
		goto out;
	}
	while (covered < r.size && ret == 0) {
		struct store_reader *rd;
		struct store_entry e[64];
		size_t num = 0, got;

		ret = store_read_begin(st, &rd);
		if (ret != 0)
			break;
		while (num < CHUNK && covered + num < r.size && ret == 0) {
			size_t want = CHUNK - num < 64 ? CHUNK - num : 64;
			ret = store_r_entries(rd, covered + num, want, e, &got);
			if (ret == 0 && got == 0)
				ret = MN_ECORRUPT;
			for (size_t i = 0; i < got && ret == 0; i++, num++) {
				size_t n = 0;
				int cut;
				memset(&l[num], 0, sizeof(l[num]));
				merkle_leaf_hash(h, l[num].leaf_hash, e[i].leaf_input,
						 e[i].leaf_input_len);
				ret = mapkeys_leaf(h, e[i].leaf_input, e[i].leaf_input_len,
						   keys, &n, &cut);
				if (ret == 0 && n > 0) {
					own[num] = malloc(n * MAP_KEY_LEN);
					if (own[num] == NULL)
						ret = MN_ENOMEM;
					else
						memcpy(own[num], keys, n * MAP_KEY_LEN);
				}
				l[num].map_keys = (const uint8_t(*)[32])own[num];
				l[num].num_map_keys = n;
			}
		}
		store_read_end(rd);
		if (ret == 0)
			ret = store_map_catch_up(st, covered, l, num);
		for (size_t i = 0; i < num; i++) {
			free(own[i]);
			own[i] = NULL;
		}
		covered += num;
	}
	if (ret == 0 && covered > start)
		mn_info("map_catch_up", "from=%" PRIu64 " to=%" PRIu64 " seconds=%.3f", start,
			covered, (double)(mn_mono_ns() - t0) / 1e9);
out:
	if (ret != 0)
		mn_error("map_catch_up", "covered=%" PRIu64 " err=%s", covered, mn_err_name(ret));
	free(l);
	free(keys);
	free(own);
	return ret;
}

int mapcatch_verify(struct store *st, char *why, size_t why_len)
{
	struct store_reader *rd;
	struct store_entry se;
	struct ct_entry e;
	struct mapkeys_root mr;
	uint64_t size, covered, num_keys;
	uint8_t root[MERKLE_HASH_LEN];
	int ret;

	if (why != NULL && why_len > 0)
		why[0] = '\0';
	if ((ret = store_read_begin(st, &rd)) != 0)
		return ret;
	size = store_r_tree_size(rd);
	ret = store_r_map(rd, &covered, &num_keys, root);
	if (ret == 0 && covered != size)
		ret = MN_EINVAL;
	if (ret == 0 && size == 0)
		ret = MN_ENOTFOUND;
	if (ret == 0 && store_r_entry(rd, size - 1, &se) != 0)
		ret = MN_ECORRUPT;
	if (ret == 0 && !ct_parse_leaf(&e, se.leaf_input, se.leaf_input_len))
		ret = MN_ENOTFOUND; /* not even a MerkleTreeLeaf of ours */
	if (ret == 0 && e.entry_type != MN_MAP_ROOT_ENTRY)
		ret = MN_ENOTFOUND;
	if (ret == 0) {
		if (!mapkeys_root_parse(&mr, e.body, e.body_len)) {
			snprintf(why, why_len, "leaf %" PRIu64 " is a map-root leaf with a "
				 "malformed body", size - 1);
			ret = MN_EBADSIG;
		} else if (mr.covered != size - 1 || mr.num_keys != num_keys ||
			   memcmp(mr.root, root, MERKLE_HASH_LEN) != 0) {
			snprintf(why, why_len, "the map-root leaf %" PRIu64 " commits to a map "
				 "of %" PRIu64 " leaves and %" PRIu64 " keys that is not the map "
				 "of the verified leaves (%" PRIu64 " leaves, %" PRIu64 " keys, "
				 "another root)", size - 1, mr.covered, mr.num_keys, size - 1,
				 num_keys);
			ret = MN_EBADSIG;
		}
	}
	store_read_end(rd);
	return ret;
}
