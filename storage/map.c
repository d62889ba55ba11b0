/* map.c: the lookup map in LMDB (storage.h, "the lookup map"). The trie's
 * tiles live in map_tiles, each key's list as its compact range in map_data
 * and the list items (u64 index || leaf hash, index order) in map_items; the
 * state (covered, keys, root) in meta "map". Everything is written inside the
 * caller's write transaction, so the map and the log commit together. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/err.h"
#include "common/log.h"
#include "map/map.h"
#include "storage/internal.h"

static const char META_MAP[] = "map";

struct txn_tiles {
	MDB_txn *txn;
	MDB_dbi dbi;
	int mdb_rc; /* the LMDB failure behind an MN_E*, for MDB_MAP_FULL */
};

static int tiles_get(void *ctx, const uint8_t *id, size_t id_len, const uint8_t **out,
		     size_t *out_len)
{
	struct txn_tiles *t = ctx;
	MDB_val k = {id_len, (void *)id}, v;
	int rc = mdb_get(t->txn, t->dbi, &k, &v);

	if (rc == MDB_NOTFOUND)
		return MN_ENOTFOUND;
	if (rc != 0) {
		t->mdb_rc = rc;
		return store__err(rc);
	}
	*out = v.mv_data;
	*out_len = v.mv_size;
	return 0;
}

static int tiles_put(void *ctx, const uint8_t *id, size_t id_len, const uint8_t *val,
		     size_t val_len)
{
	struct txn_tiles *t = ctx;
	MDB_val k = {id_len, (void *)id}, v = {val_len, (void *)val};
	int rc = mdb_put(t->txn, t->dbi, &k, &v, 0);

	if (rc != 0) {
		t->mdb_rc = rc;
		return rc == MDB_MAP_FULL ? MN_ENOSPACE : store__err(rc);
	}
	return 0;
}

int store__map_get(struct store *s, MDB_txn *txn, struct store__map_state *out)
{
	MDB_val k = {sizeof(META_MAP) - 1, (void *)META_MAP}, v;
	int rc;

	memset(out, 0, sizeof(*out));
	if (s->dbi[STORE__DBI_MAP_TILES] == 0)
		return MN_ENOTFOUND;
	rc = mdb_get(txn, s->dbi[STORE__DBI_META], &k, &v);
	if (rc == MDB_NOTFOUND)
		return MN_ENOTFOUND;
	if (rc != 0)
		return store__err(rc);
	if (v.mv_size != 16 + MERKLE_HASH_LEN)
		return MN_ECORRUPT;
	out->covered = mn_get_be64(v.mv_data);
	out->num_keys = mn_get_be64((const uint8_t *)v.mv_data + 8);
	memcpy(out->root, (const uint8_t *)v.mv_data + 16, MERKLE_HASH_LEN);
	return 0;
}

/* One (key, leaf) pair of a batch, sorted by key then index. */
struct pair {
	const uint8_t *key;
	uint64_t index;
	const uint8_t *leaf_hash;
};

static int pair_cmp(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;
	int c = memcmp(x->key, y->key, 32);

	if (c != 0)
		return c;
	return (x->index > y->index) - (x->index < y->index);
}

int store__map_apply(struct store *s, MDB_txn *txn, struct store__map_state *st,
		     uint64_t first, const struct store_leaf *l, size_t num,
		     int *out_mdb_rc)
{
	struct txn_tiles tt = {txn, s->dbi[STORE__DBI_MAP_TILES], 0};
	struct map_tiles tiles = {tiles_get, tiles_put, &tt, NULL};
	struct pair *pairs = NULL;
	struct map_kv *kv = NULL;
	size_t num_pairs = 0, num_kv = 0, i, j;
	uint8_t state[16 + MERKLE_HASH_LEN];
	MDB_val k, v;
	int rc = 0, err = 0;

	*out_mdb_rc = 0;
	if (st->covered != first)
		return MN_EINVAL; /* the map files every leaf, in order */
	for (i = 0; i < num; i++) {
		if (l[i].num_map_keys > 0 && l[i].map_keys == NULL)
			return MN_EINVAL;
		num_pairs += l[i].num_map_keys;
	}
	if (num_pairs > 0) {
		pairs = malloc(num_pairs * sizeof(*pairs));
		kv = malloc(num_pairs * sizeof(*kv));
		if (pairs == NULL || kv == NULL) {
			err = MN_ENOMEM;
			goto out;
		}
	}
	num_pairs = 0;
	for (i = 0; i < num; i++)
		for (j = 0; j < l[i].num_map_keys; j++) {
			pairs[num_pairs].key = l[i].map_keys[j];
			pairs[num_pairs].index = first + i;
			pairs[num_pairs].leaf_hash = l[i].leaf_hash;
			num_pairs++;
		}
	if (num_pairs > 1)
		qsort(pairs, num_pairs, sizeof(*pairs), pair_cmp);

	/* Each key's list: append the items, keep its compact range, and the
	 * value the trie holds for it. Keys in order: neighbouring B-tree pages. */
	for (i = 0; i < num_pairs; i = j) {
		struct merkle_range range;
		uint8_t root[MERKLE_HASH_LEN], item[MERKLE_HASH_LEN], iv[40];
		struct cbs c;
		struct cbb out;
		uint8_t *enc;
		size_t enc_len;

		for (j = i + 1; j < num_pairs && memcmp(pairs[j].key, pairs[i].key, 32) == 0; j++)
			;
		k.mv_size = 32;
		k.mv_data = (void *)pairs[i].key;
		rc = mdb_get(txn, s->dbi[STORE__DBI_MAP_DATA], &k, &v);
		if (rc == MDB_NOTFOUND) {
			merkle_range_init(&range);
		} else if (rc != 0) {
			goto mdb_err;
		} else {
			cbs_init(&c, v.mv_data, v.mv_size);
			if (!merkle_range_decode(&range, &c) || cbs_len(&c) != 0) {
				err = MN_ECORRUPT;
				goto out;
			}
		}
		for (size_t p = i; p < j; p++) {
			if (p > i && pairs[p].index == pairs[p - 1].index)
				continue; /* a key twice in one leaf (sorted keys prevent it) */
			map_list_item(s->hasher, item, pairs[p].index, pairs[p].leaf_hash);
			err = merkle_range_append(&range, s->hasher, item, NULL, NULL);
			if (err != 0)
				goto out;
			mn_put_be64(iv, pairs[p].index);
			memcpy(iv + 8, pairs[p].leaf_hash, 32);
			v.mv_size = 40;
			v.mv_data = iv;
			rc = mdb_put(txn, s->dbi[STORE__DBI_MAP_ITEMS], &k, &v, MDB_NODUPDATA);
			if (rc == MDB_KEYEXIST) {
				mn_error("store_corrupt", "what=\"map item %" PRIu64 " filed twice\"",
					 pairs[p].index);
				err = MN_ECORRUPT;
				goto out;
			}
			if (rc != 0)
				goto mdb_err;
		}
		merkle_range_root(&range, s->hasher, root);
		if (!cbb_init(&out, 8 + 64 * MERKLE_HASH_LEN, 8 + 64 * MERKLE_HASH_LEN) ||
		    !merkle_range_encode(&range, &out) || !cbb_finish(&out, &enc, &enc_len)) {
			cbb_cleanup(&out);
			err = MN_ENOMEM;
			goto out;
		}
		v.mv_size = enc_len;
		v.mv_data = enc;
		rc = mdb_put(txn, s->dbi[STORE__DBI_MAP_DATA], &k, &v, 0);
		free(enc);
		if (rc != 0)
			goto mdb_err;
		memcpy(kv[num_kv].key, pairs[i].key, 32);
		map_value(s->hasher, kv[num_kv].value, range.size, root);
		num_kv++;
	}
	if (num_kv > 0) {
		err = map_update(&tiles, s->hasher, kv, num_kv, &st->num_keys, st->root);
		if (err != 0) {
			rc = tt.mdb_rc;
			if (rc != 0)
				goto mdb_err;
			goto out;
		}
	}
	st->covered = first + num;
	mn_put_be64(state, st->covered);
	mn_put_be64(state + 8, st->num_keys);
	memcpy(state + 16, st->root, MERKLE_HASH_LEN);
	k.mv_size = sizeof(META_MAP) - 1;
	k.mv_data = (void *)META_MAP;
	v.mv_size = sizeof(state);
	v.mv_data = state;
	rc = mdb_put(txn, s->dbi[STORE__DBI_META], &k, &v, 0);
	if (rc != 0)
		goto mdb_err;
	goto out;
mdb_err:
	*out_mdb_rc = rc;
	err = rc == MDB_MAP_FULL ? MN_ENOSPACE : store__err(rc);
	if (err == MN_ENOTFOUND || err == MN_EEXISTS)
		err = MN_EIO;
out:
	free(pairs);
	free(kv);
	return err;
}

void store_map_covered(struct store *s, uint64_t *out_covered, int *out_exists)
{
	struct store__map_state st;
	MDB_txn *txn;

	*out_covered = 0;
	*out_exists = 0;
	if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0)
		return;
	if (store__map_get(s, txn, &st) == 0) {
		*out_covered = st.covered;
		*out_exists = 1;
	}
	mdb_txn_abort(txn);
}

int store_map_catch_up(struct store *s, uint64_t first, const struct store_leaf *l,
		       size_t num)
{
	struct store__map_state st;
	MDB_txn *txn = NULL;
	int rc, err, mdb_rc;

	if (s->read_only)
		return MN_EREADONLY;
	pthread_mutex_lock(&s->write_mu);
	for (;;) {
		rc = mdb_txn_begin(s->env, NULL, 0, &txn);
		if (rc != 0) {
			err = store__err(rc);
			break;
		}
		err = store__map_get(s, txn, &st);
		if (err == MN_ENOTFOUND)
			err = 0;
		if (err == 0 && (st.covered != first || first + num > s->range.size))
			err = MN_EINVAL;
		if (err == 0)
			err = store__map_apply(s, txn, &st, first, l, num, &mdb_rc);
		if (err != 0) {
			mdb_txn_abort(txn);
			if (err == MN_ENOSPACE && mdb_rc == MDB_MAP_FULL &&
			    store__grow_map(s) == 0)
				continue;
			break;
		}
		rc = mdb_txn_commit(txn);
		err = rc == 0 ? 0 : store__err(rc);
		break;
	}
	pthread_mutex_unlock(&s->write_mu);
	return err;
}

int store_r_map(struct store_reader *r, uint64_t *out_covered, uint64_t *out_num_keys,
		uint8_t out_root[MERKLE_HASH_LEN])
{
	struct store__map_state st;
	int err = store__map_get(r->s, r->txn, &st);

	if (err != 0)
		return err;
	*out_covered = st.covered;
	*out_num_keys = st.num_keys;
	memcpy(out_root, st.root, MERKLE_HASH_LEN);
	return 0;
}

int store_r_map_prove(struct store_reader *r, const uint8_t key[32], struct cbb *out,
		      uint64_t *out_count)
{
	struct txn_tiles tt = {r->txn, r->s->dbi[STORE__DBI_MAP_TILES], 0};
	struct map_tiles tiles = {tiles_get, tiles_put, &tt, r->s->map_cache};
	uint8_t value[MERKLE_HASH_LEN];
	int present = 0, err;

	*out_count = 0;
	if (r->s->dbi[STORE__DBI_MAP_TILES] == 0)
		return MN_ENOTFOUND;
	err = map_prove(&tiles, r->h, key, out, &present, value);
	if (err != 0 || !present)
		return err;
	{
		MDB_val k = {32, (void *)key}, v;
		int rc = mdb_get(r->txn, r->s->dbi[STORE__DBI_MAP_DATA], &k, &v);
		if (rc != 0 || v.mv_size < 8)
			return MN_ECORRUPT; /* the trie has it: so must the data */
		*out_count = mn_get_be64(v.mv_data);
	}
	return 0;
}

int store_r_map_list(struct store_reader *r, const uint8_t key[32], size_t max,
		     struct store_map_item **out, size_t *out_num)
{
	MDB_cursor *cur = NULL;
	MDB_val k = {32, (void *)key}, v;
	struct store_map_item *items = NULL;
	size_t n = 0, count;
	int rc, err = 0;

	*out = NULL;
	*out_num = 0;
	if (r->s->dbi[STORE__DBI_MAP_ITEMS] == 0)
		return MN_ENOTFOUND;
	rc = mdb_cursor_open(r->txn, r->s->dbi[STORE__DBI_MAP_ITEMS], &cur);
	if (rc != 0)
		return store__err(rc);
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
	if (rc == MDB_NOTFOUND)
		goto out;
	if (rc != 0 || mdb_cursor_count(cur, &count) != 0) {
		err = MN_EIO;
		goto out;
	}
	if (count > max) {
		err = MN_ETOOBIG;
		goto out;
	}
	items = malloc(count * sizeof(*items));
	if (items == NULL) {
		err = MN_ENOMEM;
		goto out;
	}
	/* DUPFIXED: whole pages of values at a time */
	rc = mdb_cursor_get(cur, &k, &v, MDB_GET_MULTIPLE);
	while (rc == 0) {
		if (v.mv_size % 40 != 0) {
			err = MN_ECORRUPT;
			goto out;
		}
		for (size_t off = 0; off < v.mv_size && n < count; off += 40, n++) {
			const uint8_t *p = (const uint8_t *)v.mv_data + off;
			items[n].index = mn_get_be64(p);
			memcpy(items[n].leaf_hash, p + 8, 32);
		}
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_MULTIPLE);
	}
	if (rc != MDB_NOTFOUND || n != count) {
		err = rc == MDB_NOTFOUND ? MN_ECORRUPT : MN_EIO;
		goto out;
	}
	*out = items;
	*out_num = n;
	items = NULL;
out:
	free(items);
	mdb_cursor_close(cur);
	return err;
}

int store__map_check(struct store *s, MDB_txn *txn, uint64_t tree_size)
{
	struct txn_tiles tt = {txn, s->dbi[STORE__DBI_MAP_TILES], 0};
	struct map_tiles tiles = {tiles_get, tiles_put, &tt, NULL};
	struct store__map_state st;
	uint8_t root[MERKLE_HASH_LEN];
	int err = store__map_get(s, txn, &st);

	if (err == MN_ENOTFOUND)
		return 0;
	if (err != 0)
		return err;
	if (st.covered > tree_size) {
		mn_error("store_corrupt", "what=\"the map covers %" PRIu64 " leaves of %" PRIu64 "\"",
			 st.covered, tree_size);
		return MN_ECORRUPT;
	}
	err = map_root(&tiles, s->hasher, root);
	if (err != 0)
		return err;
	if (memcmp(root, st.root, MERKLE_HASH_LEN) != 0) {
		mn_error("store_corrupt", "what=\"the map's tiles do not give its stored root\"");
		return MN_ECORRUPT;
	}
	return 0;
}
