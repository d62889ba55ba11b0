/* writer.c: the one writer. One write transaction per batch (STYLE.md
 * section 7): leaves, extra, leaf hashes, dedup keys, tree tiles, lookup
 * indexes, the map-root leaf, the compact range and the STH commit together
 * or not at all, so no STH ever references uncommitted data. The map itself
 * (map.c) is derived state in its own environment (mapenv.c): its write
 * transaction is filled first (the map-root leaf needs its root), stays
 * open across the log's durable commit, and is committed (no fsync) right
 * after it; if the log's commit fails it is aborted. So the map never gets
 * ahead of the log; it lags it only between the two commits (readers wait:
 * reader.c) or after a crash there (the sequencer catches it up at start).
 * The writer keeps the compact range in memory and replaces it only after the
 * commit. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "common/bytes.h"
#include "common/err.h"
#include "common/log.h"
#include "storage/internal.h"

/* extra is stored with a u24 length, sct with a u16 one; cap leaf_input the same
 * way (a MerkleTreeLeaf's certificate is u24-prefixed anyway). */
#define MAX_FIELD_LEN ((size_t)0xffffff)

/* The writer's view of level-0 tree hashes while a batch is appended: the
 * stored ones below |size|, the batch's own (not in the tiles yet) from it. */
struct batch_get {
	MDB_txn *txn;
	MDB_dbi tiles;
	struct store__tile_cache cache[STORE__TILE_LEVELS];
	const struct store_leaf *batch;
	uint64_t size;
};

static int batch_get(void *ctx, unsigned level, uint64_t index, uint8_t out[MERKLE_HASH_LEN])
{
	struct batch_get *b = ctx;

	if (level == 0 && index >= b->size) {
		memcpy(out, b->batch[index - b->size].leaf_hash, MERKLE_HASH_LEN);
		return 0;
	}
	return store__get_node(b->txn, b->tiles, b->cache, level, index, out);
}

/* leafhash_find looks, in the writer's |txn|, for a leaf whose hash is |hash|
 * among those whose hash has its prefix, the batch being appended (|batch|,
 * starting at index |size|) included. Returns 0 with *out_index,
 * MN_ENOTFOUND, or an error. */
static int leafhash_find(struct store *s, MDB_txn *txn, const struct store_leaf *batch,
			 uint64_t size, const uint8_t hash[MERKLE_HASH_LEN],
			 uint64_t *out_index)
{
	struct batch_get b;

	memset(&b, 0, sizeof(b));
	b.txn = txn;
	b.tiles = s->dbi[STORE__DBI_TILES];
	b.batch = batch;
	b.size = size;
	return store__leafhash_walk(txn, s->dbi[STORE__DBI_LEAFHASH], hash, UINT64_MAX,
				    batch_get, &b, out_index);
}

/* disk_full returns 1 if the file system holding the data has no free block
 * left for us. */
static int disk_full(struct store *s)
{
	struct statvfs sv;

	return statvfs(s->dir, &sv) == 0 && sv.f_bavail == 0;
}

static const uint8_t empty_bytes[1];

static MDB_val val(const uint8_t *p, size_t len)
{
	MDB_val v;

	v.mv_size = len;
	v.mv_data = (void *)(len == 0 || p == NULL ? empty_bytes : p);
	return v;
}

/* A leaf's 32-byte index key (leaf hash or dedup key) and its batch position;
 * |prefix| is the key's first 8 bytes as a big-endian number, so that most
 * comparisons touch neither the key nor memcmp. */
struct key_order {
	uint64_t prefix;
	const uint8_t *key;
	size_t i;
};

static int key_order_cmp(const void *a, const void *b)
{
	const struct key_order *x = a, *y = b;
	int c;

	if (x->prefix != y->prefix)
		return x->prefix < y->prefix ? -1 : 1;
	c = memcmp(x->key, y->key, 32);
	/* ties (a duplicate in the batch) keep batch order: the later one fails */
	return c != 0 ? c : (x->i > y->i) - (x->i < y->i);
}

/* map_commit commits the map's write txn |mtxn| after the log's commit of
 * tree size |size| (map_pending), and wakes the readers waiting for it. */
static void map_commit(struct store *s, MDB_txn *mtxn, uint64_t size)
{
	int rc = mdb_txn_commit(mtxn);
	DIRBUF;

	pthread_mutex_lock(&s->map_mu);
	s->map_pending = 0;
	if (rc != 0)
		s->map_failed = 1;
	pthread_cond_broadcast(&s->map_cond);
	pthread_mutex_unlock(&s->map_mu);
	if (rc != 0)
		mn_error("store_map_commit_failed", "dir=%s tree_size=%" PRIu64 " reason=\"%s\" "
			 "effect=\"the map lags the log until logd restarts and catches it up\"",
			 DIR_S(s), size, mdb_strerror(rc));
}

/* write_batch runs one write transaction for the batch. On success it commits
 * and sets *out_range to the new range. On MDB_MAP_FULL it sets *out_map_full
 * to 1 (the log's environment) or 2 (the map's), and returns MN_ENOSPACE.
 * Nothing is written on any error. */
static int write_batch(struct store *s, const struct store_leaf *batch, size_t num_batch,
		       struct key_order *order, const struct store_sth *sth_in,
		       const struct store_map_commit *mc, const uint8_t *note, size_t note_len,
		       struct store_sth *out_sth, struct merkle_range *out_range,
		       int *out_map_full)
{
	MDB_txn *txn = NULL, *mtxn = NULL;
	struct store_leaf *leaves = (struct store_leaf *)batch;
	struct store_leaf *all = NULL;
	size_t num = num_batch;
	const struct store_sth *sth = sth_in;
	MDB_val k, v;
	struct store__tile_writer tw;
	struct cbb cbb;
	uint8_t key[8], sthbuf[STORE__STH_MAX_LEN], root[MERKLE_HASH_LEN];
	uint64_t size = s->range.size;
	int rc = 0, err = 0;
	DIRBUF;

	*out_map_full = 0;
	*out_range = s->range;
	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc == MDB_MAP_RESIZED) {
		/* Another process grew the map: adopt its size and retry. */
		err = store__map_resize(s, 0);
		if (err != 0)
			return err;
		rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	}
	if (rc != 0) {
		txn = NULL;
		goto mdb_err;
	}
	store__tile_writer_init(&tw, txn, s->dbi[STORE__DBI_TILES], s->tile_buf);

	if (mc != NULL) {
		/* The map first: its new root goes into the map-root leaf, which
		 * is appended after the batch, in this same transaction. */
		struct store__map_state st;
		int mdb_rc;

		if (s->menv == NULL || s->map_failed) {
			mn_warn("store_append_rejected", "dir=%s reason=\"the map is %s\"", DIR_S(s),
				s->menv == NULL ? "not open" : "behind after a failed commit");
			err = MN_EIO;
			goto err;
		}
		rc = mdb_txn_begin(s->menv, NULL, 0, &mtxn);
		if (rc != 0) {
			mtxn = NULL;
			goto mdb_err;
		}
		err = store__map_get(s, mtxn, &st);
		if (err == MN_ENOTFOUND)
			err = 0; /* no map yet: it covers nothing */
		if (err == 0 && st.covered != size) {
			mn_warn("store_append_rejected", "dir=%s reason=\"map covers %" PRIu64
				" of %" PRIu64 " leaves: catch it up first\"", DIR_S(s),
				st.covered, size);
			err = MN_EINVAL;
		}
		if (err != 0)
			goto err;
		err = store__map_apply(s, mtxn, &st, size, batch, num_batch, &mdb_rc);
		if (err != 0) {
			rc = mdb_rc;
			if (rc == MDB_MAP_FULL)
				goto map_full;
			goto err;
		}
		all = malloc((num_batch + 1) * sizeof(*all));
		if (all == NULL) {
			err = MN_ENOMEM;
			goto err;
		}
		if (num_batch > 0)
			memcpy(all, batch, num_batch * sizeof(*all));
		memset(&all[num_batch], 0, sizeof(*all));
		err = mc->leaf(mc->ctx, st.covered, st.num_keys, st.root, &all[num_batch]);
		if (err != 0)
			goto err;
		/* the map-root leaf has no keys: the map covers it as it is */
		all[num_batch].num_map_keys = 0;
		err = store__map_apply(s, mtxn, &st, size + num_batch, &all[num_batch], 1, &mdb_rc);
		if (err != 0) {
			rc = mdb_rc;
			if (rc == MDB_MAP_FULL)
				goto map_full;
			goto err;
		}
		leaves = all;
		num = num_batch + 1;
	}

	for (size_t i = 0; i < num; i++) {
		const struct store_leaf *l = &leaves[i];
		MDB_val iv;
		uint8_t *p;

		mn_put_be64(key, size + i);
		k = val(key, 8);
		v = val(l->leaf_input, l->leaf_input_len);
		rc = mdb_put(txn, s->dbi[STORE__DBI_LEAVES], &k, &v, MDB_APPEND);
		if (rc == MDB_KEYEXIST)
			goto append_conflict;
		if (rc != 0)
			goto mdb_err;

		/* extra value: u24 extra_len || extra || u16 sct_len || sct */
		v.mv_size = 3 + l->extra_len + 2 + l->sct_len;
		v.mv_data = NULL;
		rc = mdb_put(txn, s->dbi[STORE__DBI_EXTRA], &k, &v, MDB_APPEND | MDB_RESERVE);
		if (rc == MDB_KEYEXIST)
			goto append_conflict;
		if (rc != 0)
			goto mdb_err;
		p = v.mv_data;
		p[0] = (uint8_t)(l->extra_len >> 16);
		p[1] = (uint8_t)(l->extra_len >> 8);
		p[2] = (uint8_t)l->extra_len;
		if (l->extra_len > 0)
			memcpy(p + 3, l->extra, l->extra_len);
		p += 3 + l->extra_len;
		p[0] = (uint8_t)(l->sct_len >> 8);
		p[1] = (uint8_t)l->sct_len;
		if (l->sct_len > 0)
			memcpy(p + 2, l->sct, l->sct_len);

		if (l->opening_len > 0) {
			k = val(key, 8);
			v = val(l->opening, l->opening_len);
			rc = mdb_put(txn, s->dbi[STORE__DBI_OPENINGS], &k, &v, MDB_APPEND);
			if (rc != 0)
				goto mdb_err;
		}
		for (size_t j = 0; j < l->num_keys; j++) {
			const struct store_index_key *ik = &l->keys[j];
			k = val(ik->key, ik->key_len);
			iv = val(key, 8);
			rc = mdb_put(txn, s->dbi[STORE__DBI_IDX_DNS + ik->index], &k, &iv,
				     MDB_NODUPDATA);
			if (rc != 0 && rc != MDB_KEYEXIST) /* the same name twice in one leaf */
				goto mdb_err;
		}
		if (l->policy_key_len > 0) {
			uint8_t hv[16];
			MDB_val cur;
			k = val(l->policy_key, l->policy_key_len);
			rc = mdb_get(txn, s->dbi[STORE__DBI_POLICY_HEAD], &k, &cur);
			if (rc == 0 && (cur.mv_size != 16 ||
					mn_get_be64(cur.mv_data) >= l->policy_serial)) {
				mn_warn("store_append_rejected", "dir=%s index=%" PRIu64
					" reason=\"policy serial not above the current head\"",
					DIR_S(s), size + i);
				err = MN_ERANGE;
				goto err;
			}
			if (rc != 0 && rc != MDB_NOTFOUND)
				goto mdb_err;
			mn_put_be64(hv, l->policy_serial);
			mn_put_be64(hv + 8, size + i);
			v = val(hv, 16);
			rc = mdb_put(txn, s->dbi[STORE__DBI_POLICY_HEAD], &k, &v, 0);
			if (rc != 0)
				goto mdb_err;
		}

		err = merkle_range_append(out_range, s->hasher, l->leaf_hash,
					  store__tile_writer_node, &tw);
		if (err == 0)
			err = tw.err;
		if (err != 0) {
			rc = tw.mdb_rc;
			goto tile_err;
		}
	}
	err = store__tile_writer_finish(&tw);
	if (err != 0) {
		rc = tw.mdb_rc;
		goto tile_err;
	}

	/* The two hash-keyed indexes, each in key order: consecutive inserts
	 * then walk the same or the next B-tree pages, which are already dirty
	 * and in cache, instead of a random page per leaf. */
	for (int d = 0; d < 2 && num > 0; d++) {
		unsigned dbi = d == 0 ? STORE__DBI_LEAFHASH : STORE__DBI_DEDUP;

		for (size_t i = 0; i < num; i++) {
			order[i].key = d == 0 ? leaves[i].leaf_hash : leaves[i].dedup_key;
			order[i].prefix = mn_get_be64(order[i].key);
			order[i].i = i;
		}
		qsort(order, num, sizeof(*order), key_order_cmp);
		for (size_t i = 0; i < num; i++) {
			MDB_val iv;

			mn_put_be64(key, size + order[i].i);
			iv = val(key, 8);
			k = val(order[i].key, d == 0 ? STORE__LEAFHASH_PREFIX : 32);
			rc = mdb_put(txn, s->dbi[dbi], &k, &iv, MDB_NOOVERWRITE);
			if (rc == MDB_KEYEXIST && d == 0) {
				/* another leaf has this prefix: the same hash is
				 * refused, a different one (2^-64 a pair) joins it as
				 * a duplicate */
				uint64_t dup = 0;

				err = leafhash_find(s, txn, leaves, size, order[i].key, &dup);
				if (err == 0) {
					mn_put_be64(key, dup); /* named in the message below */
					iv = val(key, 8);
				} else if (err == MN_ENOTFOUND) {
					err = 0;
					iv = val(key, 8); /* the put above pointed it elsewhere */
					rc = mdb_put(txn, s->dbi[dbi], &k, &iv, MDB_NODUPDATA);
				} else {
					goto err;
				}
			}
			if (rc == MDB_KEYEXIST) {
				mn_warn("store_append_rejected", "dir=%s index=%" PRIu64
					" reason=\"%s already stored at index %" PRIu64 "\"",
					DIR_S(s), size + order[i].i,
					d == 0 ? "leaf hash" : "dedup key",
					mn_get_be64(iv.mv_data));
				err = MN_EEXISTS;
				goto err;
			}
			if (rc != 0)
				goto mdb_err;
		}
	}

	merkle_range_root(out_range, s->hasher, root);
	if (mc != NULL) {
		err = mc->sign(mc->ctx, out_range->size, root, out_sth);
		if (err != 0)
			goto err;
		if (out_sth->tree_size != out_range->size || out_sth->sig_len > STORE_MAX_SIG_LEN ||
		    (s->has_sth && out_sth->timestamp < s->sth.timestamp)) {
			err = MN_EINVAL;
			goto err;
		}
		sth = out_sth;
	}
	if (memcmp(root, sth->root, MERKLE_HASH_LEN) != 0) {
		mn_warn("store_append_rejected", "dir=%s tree_size=%" PRIu64
			" reason=\"STH root is not the root of the new tree\"", DIR_S(s),
			sth->tree_size);
		err = MN_EINVAL;
		goto err;
	}

	{
		uint8_t *state;
		size_t state_len;

		if (!cbb_init(&cbb, 8 + 64 * MERKLE_HASH_LEN, 8 + 64 * MERKLE_HASH_LEN)) {
			err = MN_ENOMEM;
			goto err;
		}
		if (!merkle_range_encode(out_range, &cbb) ||
		    !cbb_finish(&cbb, &state, &state_len)) {
			cbb_cleanup(&cbb);
			err = MN_EINTERNAL;
			goto err;
		}
		k = val((const uint8_t *)META_STATE, sizeof(META_STATE) - 1);
		v = val(state, state_len);
		rc = mdb_put(txn, s->dbi[STORE__DBI_META], &k, &v, 0);
		free(state);
		if (rc != 0)
			goto mdb_err;
	}
	k = val((const uint8_t *)META_STH, sizeof(META_STH) - 1);
	v = val(sthbuf, store__sth_encode(sthbuf, sth));
	rc = mdb_put(txn, s->dbi[STORE__DBI_META], &k, &v, 0);
	if (rc != 0)
		goto mdb_err;
	/* the signed note of exactly this STH, or none: a note never outlives
	 * the STH it was stored with */
	k = val((const uint8_t *)META_NOTE, sizeof(META_NOTE) - 1);
	if (note != NULL) {
		v = val(note, note_len);
		rc = mdb_put(txn, s->dbi[STORE__DBI_META], &k, &v, 0);
	} else {
		rc = mdb_del(txn, s->dbi[STORE__DBI_META], &k, NULL);
		if (rc == MDB_NOTFOUND)
			rc = 0;
	}
	if (rc != 0)
		goto mdb_err;

	if (mtxn != NULL) {
		/* readers that see this STH wait for the map (reader.c) */
		pthread_mutex_lock(&s->map_mu);
		s->map_pending = out_range->size;
		pthread_mutex_unlock(&s->map_mu);
	}
	rc = mdb_txn_commit(txn);
	txn = NULL; /* freed by commit, even on failure */
	if (rc != 0)
		goto mdb_err;
	if (mtxn != NULL)
		map_commit(s, mtxn, out_range->size);
	mtxn = NULL;
	if (mc == NULL && out_sth != NULL)
		*out_sth = *sth;
	free(all);
	return 0;

map_full:
	*out_map_full = 2;
	err = MN_ENOSPACE;
	goto err;

tile_err:
	if (err != MN_ENOSPACE || rc != MDB_MAP_FULL) {
		if (err != MN_ECORRUPT)
			mn_error("store_append_failed", "dir=%s op=tiles err=%s",
				 DIR_S(s), mn_err_name(err));
		goto err;
	}
	/* fall through: MDB_MAP_FULL */
mdb_err:
	if (rc == MDB_MAP_FULL) {
		*out_map_full = 1;
		err = MN_ENOSPACE;
		goto err;
	}
	err = store__err(rc);
	if (err == MN_ENOTFOUND || err == MN_EEXISTS || err == MN_EBUSY)
		err = MN_EIO;
	if (rc == EIO && disk_full(s)) {
		/* LMDB reports a short write as EIO ("filesystem full?" in
		 * mdb_page_flush); a disk with no free block is that case. */
		err = MN_ENOSPACE;
		mn_error("store_append_failed", "dir=%s reason=\"disk full (short write)\" "
			 "err=%s", DIR_S(s), mn_err_name(err));
		goto err;
	}
	mn_error("store_append_failed", "dir=%s reason=\"%s\" err=%s", DIR_S(s),
		 mdb_strerror(rc), mn_err_name(err));
	goto err;
append_conflict:
	mn_error("store_corrupt", "dir=%s what=\"index %" PRIu64 " already stored "
		 "beyond the compact range\"", DIR_S(s), size);
	err = MN_ECORRUPT;
err:
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (mtxn != NULL) {
		mdb_txn_abort(mtxn);
		pthread_mutex_lock(&s->map_mu);
		s->map_pending = 0;
		pthread_cond_broadcast(&s->map_cond);
		pthread_mutex_unlock(&s->map_mu);
	}
	free(all);
	return err;
}

static int append(struct store *s, const struct store_leaf *leaves, size_t num,
		  const struct store_sth *sth, const struct store_map_commit *mc,
		  const uint8_t *note, size_t note_len, struct store_sth *out_sth);

int store_append_batch(struct store *s, const struct store_leaf *leaves, size_t num,
		       const struct store_sth *sth)
{
	if (sth == NULL)
		return MN_EINVAL;
	return append(s, leaves, num, sth, NULL, NULL, 0, NULL);
}

int store_append_batch_note(struct store *s, const struct store_leaf *leaves, size_t num,
			    const struct store_sth *sth, const uint8_t *note, size_t note_len)
{
	if (sth == NULL || note == NULL || note_len == 0 || note_len > STORE_MAX_NOTE_LEN)
		return MN_EINVAL;
	return append(s, leaves, num, sth, NULL, note, note_len, NULL);
}

int store_append_mapped(struct store *s, const struct store_leaf *leaves, size_t num,
			const struct store_map_commit *mc, struct store_sth *out_sth)
{
	if (!s->map_on || mc == NULL || out_sth == NULL || (num > 0 && leaves == NULL))
		return MN_EINVAL;
	return append(s, leaves, num, NULL, mc, NULL, 0, out_sth);
}

static int append(struct store *s, const struct store_leaf *leaves, size_t num,
		  const struct store_sth *sth, const struct store_map_commit *mc,
		  const uint8_t *note, size_t note_len, struct store_sth *out_sth)
{
	struct store_sth mapped_sth;
	struct merkle_range next;
	struct key_order *order = NULL;
	int err, map_full;
	DIRBUF;

	if (s->read_only) {
		mn_warn("store_append_rejected", "dir=%s reason=\"opened read-only\"",
			DIR_S(s));
		return MN_EREADONLY;
	}
	if ((num > 0 && leaves == NULL) || (sth != NULL && sth->sig_len > STORE_MAX_SIG_LEN))
		return MN_EINVAL;
	for (size_t i = 0; i < num; i++) {
		const struct store_leaf *l = &leaves[i];

		if (l->num_map_keys > 0 && l->map_keys == NULL)
			return MN_EINVAL;
		if (l->leaf_input_len > MAX_FIELD_LEN || l->extra_len > MAX_FIELD_LEN ||
		    l->opening_len > MAX_FIELD_LEN || (l->opening_len > 0 && l->opening == NULL) ||
		    l->policy_key_len > STORE_MAX_INDEX_KEY ||
		    (l->policy_key_len > 0 && l->policy_key == NULL) ||
		    (l->num_keys > 0 && l->keys == NULL) ||
		    l->sct_len > 0xffff || (l->leaf_input_len > 0 && l->leaf_input == NULL) ||
		    (l->extra_len > 0 && l->extra == NULL) ||
		    (l->sct_len > 0 && l->sct == NULL))
			return MN_EINVAL;
		for (size_t j = 0; j < l->num_keys; j++)
			if (l->keys[j].index >= STORE_NUM_INDEXES || l->keys[j].key_len == 0 ||
			    l->keys[j].key == NULL)
				return MN_EINVAL;
	}

	if (num > 0 || mc != NULL) {
		if (num > SIZE_MAX / sizeof(*order) - 1)
			return MN_EINVAL;
		/* one more for a map-root leaf */
		order = malloc((num + 1) * sizeof(*order));
		if (order == NULL)
			return MN_ENOMEM;
	}

	pthread_mutex_lock(&s->write_mu);
	/* Only this function changes range and sth, under write_mu: read them
	 * without state_mu here. */
	if (num > UINT64_MAX - 2 - s->range.size) {
		err = MN_EINVAL;
		goto out;
	}
	if (sth != NULL && sth->tree_size != s->range.size + num) {
		mn_warn("store_append_rejected", "dir=%s reason=\"STH tree size %" PRIu64
			" != %" PRIu64 " + %zu\"", DIR_S(s), sth->tree_size,
			s->range.size, num);
		err = MN_EINVAL;
		goto out;
	}
	if (sth != NULL && s->has_sth && sth->timestamp < s->sth.timestamp) {
		mn_warn("store_append_rejected", "dir=%s reason=\"STH timestamp %" PRIu64
			" older than stored %" PRIu64 "\"", DIR_S(s), sth->timestamp,
			s->sth.timestamp);
		err = MN_EINVAL;
		goto out;
	}
	for (;;) {
		err = write_batch(s, leaves, num, order, sth, mc, note, note_len, &mapped_sth, &next,
				  &map_full);
		if (!map_full)
			break;
		err = store__grow_env(s, map_full == 2 ? s->menv : s->env);
		if (err != 0)
			break;
	}
	if (err == 0) {
		pthread_mutex_lock(&s->state_mu);
		s->range = next;
		s->sth = mapped_sth;
		s->has_sth = 1;
		pthread_mutex_unlock(&s->state_mu);
		if (out_sth != NULL)
			*out_sth = mapped_sth;
	}
out:
	pthread_mutex_unlock(&s->write_mu);
	free(order);
	return err;
}

