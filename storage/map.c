/* map.c: the lookup map in LMDB (storage.h, "the lookup map"). The trie's
 * tiles live in map_tiles2; each key's list state (compact range, and its
 * items while short: internal.h, STORE__MAP_INLINE) in its leaf's payload;
 * the items of longer lists (u64 index || leaf hash, index order) in
 * map_items2; the state (covered, keys, root) in meta "map2". All three
 * are in the map's own environment (mapenv.c), written in the caller's
 * write transaction of that environment, which writer.c commits right after
 * the log's. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/err.h"
#include "common/log.h"
#include "map/map.h"
#include "storage/internal.h"

static const char META_MAP[] = "map2"; /* the payload layout (store.c) */

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
	if (s->menv == NULL || txn == NULL)
		return MN_ENOTFOUND;
	rc = mdb_get(txn, s->dbi[STORE__DBI_MAP_META], &k, &v);
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

/* The map_value_fn of store__map_apply: key i's pairs are
 * pairs[start[i] .. start[i + 1]). */
struct apply_ctx {
	struct store *s;
	MDB_txn *txn;
	const struct pair *pairs;
	const size_t *start;
	int mdb_rc;
};

/* payload_split parses a key's payload (internal.h): *out_count, and its
 * inline items (*out_items, *out_num) while count <= STORE__MAP_INLINE.
 * |range|, if not NULL, gets the list's compact range: from the items
 * (hashing them) or as stored. 1, or 0 if malformed. */
static int payload_split(struct merkle_hasher *h, const uint8_t *pl, size_t len,
			 uint64_t *out_count, struct merkle_range *range,
			 const uint8_t **out_items, size_t *out_num)
{
	uint64_t count;
	struct cbs c;

	if (len < 8)
		return 0;
	count = mn_get_be64(pl);
	*out_count = count;
	*out_items = pl + 8;
	*out_num = 0;
	if (count <= STORE__MAP_INLINE) {
		if (len != 8 + count * 40)
			return 0;
		*out_num = (size_t)count;
		if (range != NULL) {
			merkle_range_init(range);
			for (size_t k = 0; k < count; k++) {
				uint8_t item[MERKLE_HASH_LEN];
				map_list_item(h, item, mn_get_be64(pl + 8 + 40 * k), pl + 16 + 40 * k);
				if (merkle_range_append(range, h, item, NULL, NULL) != 0)
					return 0;
			}
		}
		return 1;
	}
	cbs_init(&c, pl, len);
	return range == NULL || merkle_range_decode(range, &c);
}

static int items_put(struct apply_ctx *a, const uint8_t key[32], const uint8_t iv[40],
		     uint64_t index)
{
	MDB_val k = {32, (void *)key}, v = {40, (void *)iv};
	int rc = mdb_put(a->txn, a->s->dbi[STORE__DBI_MAP_ITEMS], &k, &v, MDB_NODUPDATA);

	if (rc == MDB_KEYEXIST) {
		mn_error("store_corrupt", "what=\"map item %" PRIu64 " filed twice\"", index);
		return MN_ECORRUPT;
	}
	if (rc != 0) {
		a->mdb_rc = rc;
		return MN_EIO;
	}
	return 0;
}

static int apply_value(void *ctx, size_t i, const uint8_t key[MAP_KEY_LEN],
		       const uint8_t *old_pl, size_t old_len, int existed,
		       uint8_t out_value[MAP_HASH_LEN], uint8_t *out_pl, size_t *out_len)
{
	struct apply_ctx *a = ctx;
	struct merkle_range range;
	const uint8_t *old_items = NULL;
	size_t num_old = 0, n, p;
	uint8_t root[MERKLE_HASH_LEN], item[MERKLE_HASH_LEN];
	int err;

	if (existed) {
		uint64_t old_count;
		if (!payload_split(a->s->hasher, old_pl, old_len, &old_count, &range, &old_items,
				   &num_old)) {
			mn_error("store_corrupt", "what=\"a map leaf's payload does not parse\"");
			return MN_ECORRUPT;
		}
	} else {
		merkle_range_init(&range);
	}
	for (p = a->start[i]; p < a->start[i + 1]; p++) {
		if (p > a->start[i] && a->pairs[p].index == a->pairs[p - 1].index)
			continue; /* a key twice in one leaf (sorted keys prevent it) */
		map_list_item(a->s->hasher, item, a->pairs[p].index, a->pairs[p].leaf_hash);
		err = merkle_range_append(&range, a->s->hasher, item, NULL, NULL);
		if (err != 0)
			return err;
	}
	/* u64 count, then the items while they stay inline, else the range's
	 * hashes (merkle_range_encode's form): at most 8 + 64 * 32 bytes */
	mn_put_be64(out_pl, range.size);
	n = 8;
	if (range.size > STORE__MAP_INLINE) {
		for (unsigned hh = 0; hh < (unsigned)__builtin_popcountll(range.size); hh++) {
			memcpy(out_pl + n, range.hashes[hh], 32);
			n += 32;
		}
		/* the list outgrows its leaf: its items move to map_items2 */
		for (size_t k = 0; k < num_old; k++)
			if ((err = items_put(a, key, old_items + 40 * k,
					     mn_get_be64(old_items + 40 * k))) != 0)
				return err;
	} else if (num_old > 0) {
		memcpy(out_pl + n, old_items, num_old * 40);
		n += num_old * 40;
	}
	for (p = a->start[i]; p < a->start[i + 1]; p++) {
		uint8_t iv[40];
		if (p > a->start[i] && a->pairs[p].index == a->pairs[p - 1].index)
			continue;
		mn_put_be64(iv, a->pairs[p].index);
		memcpy(iv + 8, a->pairs[p].leaf_hash, 32);
		if (range.size > STORE__MAP_INLINE) {
			if ((err = items_put(a, key, iv, a->pairs[p].index)) != 0)
				return err;
		} else {
			memcpy(out_pl + n, iv, 40);
			n += 40;
		}
	}
	*out_len = n;
	merkle_range_root(&range, a->s->hasher, root);
	map_value(a->s->hasher, out_value, range.size, root);
	return 0;
}

int store__map_apply(struct store *s, MDB_txn *txn, struct store__map_state *st,
		     uint64_t first, const struct store_leaf *l, size_t num,
		     int *out_mdb_rc)
{
	struct txn_tiles tt = {txn, s->dbi[STORE__DBI_MAP_TILES], 0};
	struct map_tiles tiles = {tiles_get, tiles_put, &tt, NULL};
	struct apply_ctx a = {s, txn, NULL, NULL, 0};
	struct pair *pairs = NULL;
	uint8_t (*keys)[MAP_KEY_LEN] = NULL;
	size_t *start = NULL;
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
		keys = malloc(num_pairs * sizeof(*keys));
		start = malloc((num_pairs + 1) * sizeof(*start));
		if (pairs == NULL || keys == NULL || start == NULL) {
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

	/* Each key's list is appended to where the trie update finds its leaf
	 * (apply_value): its state is that leaf's payload. */
	for (i = 0; i < num_pairs; i = j) {
		for (j = i + 1; j < num_pairs && memcmp(pairs[j].key, pairs[i].key, 32) == 0; j++)
			;
		memcpy(keys[num_kv], pairs[i].key, 32);
		start[num_kv++] = i;
	}
	if (num_kv > 0) {
		start[num_kv] = num_pairs;
		a.pairs = pairs;
		a.start = start;
		err = map_update_fn(&tiles, s->hasher, (const uint8_t(*)[MAP_KEY_LEN])keys, num_kv,
				    apply_value, &a, &st->num_keys, st->root);
		if (err != 0) {
			rc = tt.mdb_rc != 0 ? tt.mdb_rc : a.mdb_rc;
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
	rc = mdb_put(txn, s->dbi[STORE__DBI_MAP_META], &k, &v, 0);
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
	free(keys);
	free(start);
	return err;
}

void store_map_covered(struct store *s, uint64_t *out_covered, int *out_exists)
{
	struct store__map_state st;
	MDB_txn *txn;

	*out_covered = 0;
	*out_exists = 0;
	if (s->menv == NULL || mdb_txn_begin(s->menv, NULL, MDB_RDONLY, &txn) != 0)
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
	if (s->menv == NULL)
		return MN_EINVAL;
	pthread_mutex_lock(&s->write_mu);
	for (;;) {
		/* the map's environment only: no fsync (mapenv.c) */
		rc = mdb_txn_begin(s->menv, NULL, 0, &txn);
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
			    store__grow_env(s, s->menv) == 0)
				continue;
			break;
		}
		rc = mdb_txn_commit(txn);
		err = rc == 0 ? 0 : store__err(rc);
		break;
	}
	if (err == 0) {
		pthread_mutex_lock(&s->map_mu);
		s->map_failed = 0;
		pthread_cond_broadcast(&s->map_cond);
		pthread_mutex_unlock(&s->map_mu);
	}
	pthread_mutex_unlock(&s->write_mu);
	return err;
}

int store_r_map(struct store_reader *r, uint64_t *out_covered, uint64_t *out_num_keys,
		uint8_t out_root[MERKLE_HASH_LEN])
{
	struct store__map_state st;
	int err = store__map_get(r->s, r->mtxn, &st);

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
	struct txn_tiles tt = {r->mtxn, r->s->dbi[STORE__DBI_MAP_TILES], 0};
	struct map_tiles tiles = {tiles_get, tiles_put, &tt, r->s->map_cache};
	uint8_t value[MERKLE_HASH_LEN];
	int present = 0, err;

	*out_count = 0;
	if (r->mtxn == NULL)
		return MN_ENOTFOUND;
	err = map_prove(&tiles, r->h, key, out, &present, value);
	if (err != 0 || !present)
		return err;
	{
		/* the count: the first 8 bytes of the leaf's payload */
		uint8_t *pl = malloc(MAP_MAX_PAYLOAD);
		size_t len = 0;
		if (pl == NULL)
			return MN_ENOMEM;
		err = map_get(&tiles, key, &present, NULL, pl, &len);
		if (err == 0 && (!present || len < 8))
			err = MN_ECORRUPT; /* the proof found it: so must the payload */
		if (err == 0)
			*out_count = mn_get_be64(pl);
		free(pl);
	}
	return err;
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
	if (r->mtxn == NULL)
		return MN_ENOTFOUND;
	{
		/* a short list is in the leaf's payload */
		struct txn_tiles tt = {r->mtxn, r->s->dbi[STORE__DBI_MAP_TILES], 0};
		struct map_tiles tiles = {tiles_get, tiles_put, &tt, NULL};
		const uint8_t *inl;
		uint8_t *pl = malloc(MAP_MAX_PAYLOAD);
		size_t len = 0, num_inl = 0;
		uint64_t num = 0;
		int present = 0;

		if (pl == NULL)
			return MN_ENOMEM;
		err = map_get(&tiles, key, &present, NULL, pl, &len);
		if (err == 0 && present &&
		    !payload_split(r->h, pl, len, &num, NULL, &inl, &num_inl))
			err = MN_ECORRUPT;
		if (err == 0 && present && num <= STORE__MAP_INLINE) {
			if (num_inl > max)
				err = MN_ETOOBIG;
			else if (num_inl > 0 && (items = malloc(num_inl * sizeof(*items))) == NULL)
				err = MN_ENOMEM;
			for (size_t q = 0; err == 0 && q < num_inl; q++) {
				items[q].index = mn_get_be64(inl + 40 * q);
				memcpy(items[q].leaf_hash, inl + 40 * q + 8, 32);
			}
			if (err == 0) {
				*out = items;
				*out_num = num_inl;
			}
			free(pl);
			return err;
		}
		free(pl);
		if (err != 0)
			return err;
		if (!present)
			return 0;
	}
	rc = mdb_cursor_open(r->mtxn, r->s->dbi[STORE__DBI_MAP_ITEMS], &cur);
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

int store__map_check(struct store *s, MDB_txn *txn, uint64_t tree_size, const char **out_why)
{
	struct txn_tiles tt = {txn, s->dbi[STORE__DBI_MAP_TILES], 0};
	struct map_tiles tiles = {tiles_get, tiles_put, &tt, NULL};
	struct store__map_state st;
	uint8_t root[MERKLE_HASH_LEN];
	int err = store__map_get(s, txn, &st);

	*out_why = NULL;
	if (err == MN_ENOTFOUND)
		return 0;
	if (err != 0) {
		*out_why = "the map's state is unreadable";
		return MN_ECORRUPT;
	}
	if (st.covered > tree_size) {
		*out_why = "the map is ahead of the log";
		return MN_ECORRUPT;
	}
	err = map_root(&tiles, s->hasher, root);
	if (err != 0) {
		*out_why = "the map's tiles are unreadable";
		return MN_ECORRUPT;
	}
	if (memcmp(root, st.root, MERKLE_HASH_LEN) != 0) {
		*out_why = "the map's tiles do not give its stored root";
		return MN_ECORRUPT;
	}
	return 0;
}
