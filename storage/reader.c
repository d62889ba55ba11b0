/* reader.c: read snapshots. A store_reader is one LMDB read transaction plus a
 * hasher and a per-tile-level cache of the last tile read, and a read
 * transaction of the map's environment (mapenv.c) when there is one. Readers
 * are kept on a small free list with their txns reset (MDB_NOTLS lets another
 * thread renew them), so a request costs no malloc and no reader-slot setup. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/err.h"
#include "common/log.h"
#include "storage/internal.h"

#define MAX_FREE_READERS 16

static void reader_release(struct store *s)
{
	pthread_mutex_lock(&s->rd_mu);
	if (--s->num_active == 0)
		pthread_cond_broadcast(&s->rd_cond);
	pthread_mutex_unlock(&s->rd_mu);
}

/* reader_free_or_keep puts |r| (txn reset or NULL) back on the free list. */
static void reader_free_or_keep(struct store *s, struct store_reader *r)
{
	pthread_mutex_lock(&s->rd_mu);
	if (s->num_free < MAX_FREE_READERS) {
		r->next = s->free_list;
		s->free_list = r;
		s->num_free++;
		r = NULL;
	}
	pthread_mutex_unlock(&s->rd_mu);
	if (r != NULL) {
		if (r->txn != NULL)
			mdb_txn_abort(r->txn);
		if (r->mtxn != NULL)
			mdb_txn_abort(r->mtxn);
		merkle_hasher_free(r->h);
		free(r);
	}
}

/* map_txn_start begins or renews r->mtxn. On failure r->mtxn is NULL (the
 * reader has no map). */
static void map_txn_start(struct store *s, struct store_reader *r)
{
	int rc;

	if (r->mtxn != NULL) {
		rc = mdb_txn_renew(r->mtxn);
		if (rc == 0)
			return;
		mdb_txn_abort(r->mtxn);
		r->mtxn = NULL;
	}
	rc = mdb_txn_begin(s->menv, NULL, MDB_RDONLY, &r->mtxn);
	if (rc != 0) {
		r->mtxn = NULL;
		mn_warn("store_read_map", "reason=\"%s\" effect=\"this snapshot has no map\"",
			mdb_strerror(rc));
	}
}

/* read_sth reads the STH of r->txn into r. 0 or an MN_E*. */
static int read_sth(struct store *s, struct store_reader *r)
{
	MDB_val k, v;
	int rc;

	r->has_sth = 0;
	r->tree_size = 0;
	k.mv_size = sizeof(META_STH) - 1;
	k.mv_data = (void *)META_STH;
	rc = mdb_get(r->txn, s->dbi[STORE__DBI_META], &k, &v);
	if (rc == 0) {
		if (!store__sth_decode(&r->sth, v.mv_data, v.mv_size)) {
			mn_error("store_corrupt", "what=\"meta sth is malformed\"");
			return MN_ECORRUPT;
		}
		r->has_sth = 1;
		r->tree_size = r->sth.tree_size;
	} else if (rc != MDB_NOTFOUND) {
		return store__err(rc) == MN_ECORRUPT ? MN_ECORRUPT : MN_EIO;
	}
	return 0;
}

/* map_snapshot takes r->mtxn so that its map is the one r's STH commits to:
 * the writer commits the log, then the map (writer.c), so a map behind the
 * STH is waited for while that commit is pending, and a map ahead of it (a
 * batch committed between the two snapshots) makes both be taken again. A
 * map that lags for another reason (being caught up, or a failed commit) is
 * left as it is: its covered size says so (store_r_map). 0 or an MN_E*. */
static int map_snapshot(struct store *s, struct store_reader *r)
{
	int rechecked = 0;

	for (int tries = 0;; tries++) {
		struct store__map_state ms;
		int err;

		map_txn_start(s, r);
		if (r->mtxn == NULL || !r->has_sth)
			return 0;
		err = store__map_get(s, r->mtxn, &ms);
		if (err == MN_ENOTFOUND)
			ms.covered = 0; /* no map yet: the first batch's may be pending */
		else if (err != 0)
			return 0; /* store_r_map* will say */
		if (ms.covered == r->tree_size || tries >= 1000)
			return 0;
		mdb_txn_reset(r->mtxn);
		if (ms.covered > r->tree_size) {
			int rc;

			mdb_txn_reset(r->txn);
			rc = mdb_txn_renew(r->txn);
			if (rc != 0) {
				mdb_txn_abort(r->txn);
				r->txn = NULL;
				return store__err(rc) == MN_ECORRUPT ? MN_ECORRUPT : MN_EIO;
			}
			memset(r->cache, 0, sizeof(r->cache));
			err = read_sth(s, r);
			if (err != 0)
				return err;
			rechecked = 0; /* a new STH: its map may be pending too */
			continue;
		}
		if (rechecked) {
			/* behind this STH after its pending commit (if any) was
			 * waited for: the map lags (catch-up, a failed commit);
			 * store_r_map says how far */
			map_txn_start(s, r);
			return 0;
		}
		pthread_mutex_lock(&s->map_mu);
		while (s->map_pending == r->tree_size && !s->map_failed)
			pthread_cond_wait(&s->map_cond, &s->map_mu);
		pthread_mutex_unlock(&s->map_mu);
		rechecked = 1;
	}
}

static int txn_start(struct store *s, struct store_reader *r)
{
	int rc;

	if (r->txn != NULL) {
		rc = mdb_txn_renew(r->txn);
		if (rc != 0) {
			mdb_txn_abort(r->txn);
			r->txn = NULL;
		}
		return rc;
	}
	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &r->txn);
	if (rc != 0)
		r->txn = NULL;
	return rc;
}

int store_read_begin(struct store *s, struct store_reader **out)
{
	struct store_reader *r;
	int rc, err, retried_readers = 0, retried_resize = 0;

	*out = NULL;
	pthread_mutex_lock(&s->rd_mu);
	r = s->free_list;
	if (r != NULL) {
		s->free_list = r->next;
		s->num_free--;
	}
	pthread_mutex_unlock(&s->rd_mu);
	if (r == NULL) {
		r = calloc(1, sizeof(*r));
		if (r == NULL)
			return MN_ENOMEM;
		r->h = merkle_hasher_new();
		if (r->h == NULL) {
			free(r);
			return MN_ENOMEM;
		}
	}
	r->s = s;
	r->next = NULL;

	for (;;) {
		pthread_mutex_lock(&s->rd_mu);
		while (s->resizing)
			pthread_cond_wait(&s->rd_cond, &s->rd_mu);
		s->num_active++;
		pthread_mutex_unlock(&s->rd_mu);

		rc = txn_start(s, r);
		if (rc == 0)
			break;
		reader_release(s);
		if (rc == MDB_READERS_FULL && !retried_readers) {
			int dead = 0;

			retried_readers = 1;
			mdb_reader_check(s->env, &dead);
			continue;
		}
		if (rc == MDB_MAP_RESIZED && !retried_resize) {
			/* Another process grew the map; this thread holds no snapshot
			 * of this store (the caller's contract), so adopt the size. */
			retried_resize = 1;
			if (store__map_resize(s, 0) == 0)
				continue;
		}
		err = rc == MDB_READERS_FULL ? MN_EBUSY : store__err(rc);
		if (err == MN_ENOTFOUND || err == MN_EEXISTS || err == MN_ENOSPACE)
			err = MN_EIO;
		mn_error("store_read_failed", "reason=\"%s\" err=%s", mdb_strerror(rc),
			 mn_err_name(err));
		reader_free_or_keep(s, r);
		return err;
	}

	memset(r->cache, 0, sizeof(r->cache));
	err = read_sth(s, r);
	if (err == 0 && s->menv != NULL)
		err = map_snapshot(s, r);
	if (err != 0)
		goto err;
	*out = r;
	return 0;
err:
	if (r->txn != NULL)
		mdb_txn_reset(r->txn);
	if (r->mtxn != NULL)
		mdb_txn_reset(r->mtxn);
	reader_release(s);
	reader_free_or_keep(s, r);
	return err;
}

void store_read_end(struct store_reader *r)
{
	struct store *s;

	if (r == NULL)
		return;
	s = r->s;
	mdb_txn_reset(r->txn);
	if (r->mtxn != NULL)
		mdb_txn_reset(r->mtxn);
	memset(r->cache, 0, sizeof(r->cache));
	reader_release(s);
	reader_free_or_keep(s, r);
}

int store_r_sth(struct store_reader *r, struct store_sth *out)
{
	if (!r->has_sth)
		return MN_ENOTFOUND;
	*out = r->sth;
	return 0;
}

int store_r_note(struct store_reader *r, const uint8_t **out, size_t *out_len)
{
	MDB_val k, v;
	int rc;

	k.mv_size = sizeof(META_NOTE) - 1;
	k.mv_data = (void *)META_NOTE;
	rc = mdb_get(r->txn, r->s->dbi[STORE__DBI_META], &k, &v);
	if (rc == MDB_NOTFOUND)
		return MN_ENOTFOUND;
	if (rc != 0)
		return MN_EIO;
	*out = v.mv_data;
	*out_len = v.mv_size;
	return 0;
}

uint64_t store_r_tree_size(struct store_reader *r)
{
	return r->tree_size;
}

/* decode_entry splits an extra value: u24 extra_len || extra || u16 sct_len ||
 * sct, nothing after. */
static int decode_entry(struct store_entry *out, const MDB_val *leaf, const MDB_val *extra,
			uint64_t index)
{
	struct cbs cbs, ex, sct;

	cbs_init(&cbs, extra->mv_data, extra->mv_size);
	if (!cbs_get_u24_length_prefixed(&cbs, &ex) ||
	    !cbs_get_u16_length_prefixed(&cbs, &sct) || cbs_len(&cbs) != 0) {
		mn_error("store_corrupt", "what=\"extra of index %" PRIu64 " is "
			 "malformed\"", index);
		return MN_ECORRUPT;
	}
	out->leaf_input = leaf->mv_data;
	out->leaf_input_len = leaf->mv_size;
	out->extra = cbs_data(&ex);
	out->extra_len = cbs_len(&ex);
	out->sct = cbs_data(&sct);
	out->sct_len = cbs_len(&sct);
	return 0;
}

static int missing(uint64_t index)
{
	mn_error("store_corrupt", "what=\"index %" PRIu64 " below the tree size is "
		 "missing\"", index);
	return MN_ECORRUPT;
}

int store_r_entry(struct store_reader *r, uint64_t index, struct store_entry *out)
{
	struct store *s = r->s;
	uint8_t key[8];
	MDB_val k = {8, key}, leaf, extra;
	int rc;

	if (index >= r->tree_size)
		return MN_ENOTFOUND;
	mn_put_be64(key, index);
	rc = mdb_get(r->txn, s->dbi[STORE__DBI_LEAVES], &k, &leaf);
	if (rc == 0)
		rc = mdb_get(r->txn, s->dbi[STORE__DBI_EXTRA], &k, &extra);
	if (rc == MDB_NOTFOUND)
		return missing(index);
	if (rc != 0)
		return store__err(rc) == MN_ECORRUPT ? MN_ECORRUPT : MN_EIO;
	return decode_entry(out, &leaf, &extra, index);
}

int store_r_entries(struct store_reader *r, uint64_t start, size_t max,
		    struct store_entry *out, size_t *out_num)
{
	struct store *s = r->s;
	MDB_cursor *lc = NULL, *ec = NULL;
	uint8_t key[8];
	MDB_val lk = {8, key}, ek = {8, key}, lv, ev;
	size_t n = 0;
	int rc, err = 0;

	*out_num = 0;
	if (start >= r->tree_size || max == 0)
		return 0;
	if ((uint64_t)max > r->tree_size - start)
		max = (size_t)(r->tree_size - start);
	rc = mdb_cursor_open(r->txn, s->dbi[STORE__DBI_LEAVES], &lc);
	if (rc == 0)
		rc = mdb_cursor_open(r->txn, s->dbi[STORE__DBI_EXTRA], &ec);
	if (rc != 0) {
		err = MN_EIO;
		goto out;
	}
	mn_put_be64(key, start);
	rc = mdb_cursor_get(lc, &lk, &lv, MDB_SET_KEY);
	if (rc == 0)
		rc = mdb_cursor_get(ec, &ek, &ev, MDB_SET_KEY);
	while (rc == 0) {
		if (lk.mv_size != 8 || ek.mv_size != 8 ||
		    mn_get_be64(lk.mv_data) != start + n ||
		    mn_get_be64(ek.mv_data) != start + n) {
			err = missing(start + n);
			goto out;
		}
		err = decode_entry(&out[n], &lv, &ev, start + n);
		if (err != 0)
			goto out;
		if (++n == max)
			break;
		rc = mdb_cursor_get(lc, &lk, &lv, MDB_NEXT);
		if (rc == 0)
			rc = mdb_cursor_get(ec, &ek, &ev, MDB_NEXT);
	}
	if (n < max) {
		err = rc == MDB_NOTFOUND ? missing(start + n) :
		      (store__err(rc) == MN_ECORRUPT ? MN_ECORRUPT : MN_EIO);
		goto out;
	}
	*out_num = n;
out:
	if (lc != NULL)
		mdb_cursor_close(lc);
	if (ec != NULL)
		mdb_cursor_close(ec);
	return err;
}

/* prefetch_value starts loading the lines of an entry's value. */
static void prefetch_value(const MDB_val *v)
{
	const char *p = v->mv_data;

	for (size_t off = 0; off < v->mv_size; off += 64)
		__builtin_prefetch(p + off);
}

/* get_value reads |index| from the leaves or extra database. 0, or the
 * MN_E* code store_r_entry gives. */
static int get_value(struct store_reader *r, int dbi, uint64_t index, MDB_val *out)
{
	uint8_t key[8];
	MDB_val k = {8, key};
	int rc;

	mn_put_be64(key, index);
	rc = mdb_get(r->txn, r->s->dbi[dbi], &k, out);
	if (rc == MDB_NOTFOUND)
		return missing(index);
	if (rc != 0)
		return store__err(rc) == MN_ECORRUPT ? MN_ECORRUPT : MN_EIO;
	return 0;
}

int store_r_entries_at(struct store_reader *r, const uint64_t *index, size_t num,
		       struct store_entry *out)
{
	MDB_val leaf, extra;
	size_t i;
	int err;

	for (i = 0; i < num; i++)
		if (index[i] >= r->tree_size)
			return MN_ENOTFOUND;
	/* The leaves first, then the extras: each B-tree's branch pages stay hot
	 * through its loop, and the value lines of one entry load while the next
	 * one is searched. */
	for (i = 0; i < num; i++) {
		if ((err = get_value(r, STORE__DBI_LEAVES, index[i], &leaf)) != 0)
			return err;
		prefetch_value(&leaf);
		out[i].leaf_input = leaf.mv_data;
		out[i].leaf_input_len = leaf.mv_size;
	}
	for (i = 0; i < num; i++) {
		if ((err = get_value(r, STORE__DBI_EXTRA, index[i], &extra)) != 0)
			return err;
		prefetch_value(&extra);
		leaf.mv_data = (void *)out[i].leaf_input;
		leaf.mv_size = out[i].leaf_input_len;
		if ((err = decode_entry(&out[i], &leaf, &extra, index[i])) != 0)
			return err;
	}
	return 0;
}

static int lookup_index(struct store_reader *r, MDB_dbi dbi, const uint8_t *key,
			size_t key_len, uint64_t *out_index)
{
	MDB_val k = {key_len, (void *)key}, v;
	uint64_t idx;
	int rc;

	rc = mdb_get(r->txn, dbi, &k, &v);
	if (rc == MDB_NOTFOUND)
		return MN_ENOTFOUND;
	if (rc != 0)
		return store__err(rc) == MN_ECORRUPT ? MN_ECORRUPT : MN_EIO;
	if (v.mv_size != 8 || (idx = mn_get_be64(v.mv_data)) >= r->tree_size) {
		mn_error("store_corrupt", "what=\"index value malformed or beyond the "
			 "tree\"");
		return MN_ECORRUPT;
	}
	*out_index = idx;
	return 0;
}

static int reader_get(void *ctx, unsigned level, uint64_t index,
		      uint8_t out[MERKLE_HASH_LEN]);

int store_r_index_by_hash(struct store_reader *r, const uint8_t hash[MERKLE_HASH_LEN],
			  uint64_t *out_index)
{
	MDB_val k = {STORE__LEAFHASH_PREFIX, (void *)hash}, v;
	int rc, err;

	/* the common case, one leaf under the prefix: mdb_get gives the first
	 * (lowest) index without a cursor */
	rc = mdb_get(r->txn, r->s->dbi[STORE__DBI_LEAFHASH], &k, &v);
	if (rc == MDB_NOTFOUND)
		return MN_ENOTFOUND;
	if (rc != 0)
		return store__err(rc) == MN_ECORRUPT ? MN_ECORRUPT : MN_EIO;
	if (v.mv_size == 8) {
		uint8_t node[MERKLE_HASH_LEN];
		uint64_t idx = mn_get_be64(v.mv_data);

		if (idx >= r->tree_size)
			return MN_ENOTFOUND; /* the lowest is after this snapshot */
		err = reader_get(r, 0, idx, node);
		if (err != 0)
			return err;
		if (memcmp(node, hash, MERKLE_HASH_LEN) == 0) {
			*out_index = idx;
			return 0;
		}
	}
	/* more than one leaf under the prefix (or damage): walk them all */
	err = store__leafhash_walk(r->txn, r->s->dbi[STORE__DBI_LEAFHASH], hash,
				   r->tree_size, reader_get, r, out_index);
	return err == 0 || err == MN_ENOTFOUND || err == MN_ECORRUPT ? err : MN_EIO;
}

int store_r_dedup(struct store_reader *r, const uint8_t key[32], uint64_t *out_index)
{
	return lookup_index(r, r->s->dbi[STORE__DBI_DEDUP], key, 32, out_index);
}

/* reader_upper returns the store's in-memory upper tiles, making them on first
 * use, or NULL if they cannot be had. */
static struct store__upper *reader_upper(struct store *s)
{
	struct store__upper *u = __atomic_load_n(&s->upper, __ATOMIC_ACQUIRE);

	if (u != NULL || __atomic_load_n(&s->upper_failed, __ATOMIC_RELAXED))
		return u;
	pthread_mutex_lock(&s->rd_mu);
	if (s->upper == NULL && !s->upper_failed) {
		u = store__upper_new();
		if (u == NULL)
			__atomic_store_n(&s->upper_failed, 1, __ATOMIC_RELAXED);
		else
			__atomic_store_n(&s->upper, u, __ATOMIC_RELEASE);
	}
	u = s->upper;
	pthread_mutex_unlock(&s->rd_mu);
	return u;
}

/* reader_tile points |c| at tile (tl, ti): the in-memory copy when the tile
 * is complete in this snapshot and above the leaf tiles (making the copy if it
 * is the first to need it), else the snapshot's own. */
static int reader_tile(struct store_reader *r, struct store__tile_cache *c, unsigned tl,
		       uint64_t ti)
{
	unsigned covered = STORE__TILE_HEIGHT * (tl + 1);
	struct store__upper *u = NULL;
	const uint8_t *data;
	int err;

	if (tl > 0 && covered < 64 && ti < (r->tree_size >> covered)) {
		/* complete: (ti + 1) << covered <= tree_size */
		u = reader_upper(r->s);
		if (u != NULL && (data = store__upper_get(u, tl, ti)) != NULL)
			goto found;
	}
	err = store__tile_load(r->txn, r->s->dbi[STORE__DBI_TILES], tl, ti, &data);
	if (err != 0) {
		c->valid = 0;
		return err;
	}
	if (u != NULL) {
		const uint8_t *copy = store__upper_put(u, tl, ti, data);

		if (copy != NULL)
			data = copy;
	}
found:
	c->valid = 1;
	c->index = ti;
	c->data = data;
	return 0;
}

/* reader_get is the merkle_get_fn over this snapshot's tiles: only nodes
 * complete within the snapshot's tree exist. */
static int reader_get(void *ctx, unsigned level, uint64_t index,
		      uint8_t out[MERKLE_HASH_LEN])
{
	struct store_reader *r = ctx;
	unsigned tl;
	uint64_t ti;
	size_t off;
	int err;

	if (level >= 64 || index >= (r->tree_size >> level))
		return MN_EINVAL;
	store__node_pos(level, index, &tl, &ti, &off);
	if (!r->cache[tl].valid || r->cache[tl].index != ti) {
		err = reader_tile(r, &r->cache[tl], tl, ti);
		if (err != 0)
			return err;
	}
	return store__tile_node(r->cache[tl].data, level, index, tl, ti, off, out);
}

int store_r_leaf_hash(struct store_reader *r, uint64_t index,
		      uint8_t out[MERKLE_HASH_LEN])
{
	if (index >= r->tree_size)
		return MN_ENOTFOUND;
	return reader_get(r, 0, index, out);
}

/* find_edge returns the cached right edge of |size| (1 <= size <= tree_size)
 * or NULL. */
static const struct merkle_edge *find_edge(const struct store_reader *r, uint64_t size)
{
	for (unsigned i = 0; i < STORE__NUM_EDGES; i++)
		if (r->edges[i].size == size)
			return &r->edges[i];
	return NULL;
}

/* reader_edge returns the right edge of |size| for a proof at that size,
 * filling the cache as store_reader.edges says, or NULL: then the proof folds
 * its one incomplete subtree itself. Computing an edge costs popcount(size)
 * reads near the right edge (hot tiles) and popcount(size) - 1 hashes, about
 * what one proof's incomplete subtree costs. A failed read is not cached and
 * not reported here: the proof meets it again if it needs that node. */
static const struct merkle_edge *reader_edge(struct store_reader *r, uint64_t size)
{
	const struct merkle_edge *found = find_edge(r, size);
	struct merkle_edge *e;

	if (found != NULL)
		return found;
	if (size != r->tree_size && size != r->last_miss) {
		r->last_miss = size;
		return NULL;
	}
	e = &r->edges[r->next_edge];
	if (merkle_edge_compute(e, reader_get, r, r->h, size) != 0) {
		e->size = 0;
		return NULL;
	}
	r->next_edge = (r->next_edge + 1) % STORE__NUM_EDGES;
	return e;
}

/* prefetch_path starts loading, for every tile whose 8 levels the proof of
 * |index| at |size| reads in full (the tile is complete), the slots of the 8
 * siblings the proof will read from it. The merkle walk goes top-down and reads
 * them one by one; the leaf-side tiles are the cold ones in a big tree, and
 * their misses then overlap instead of queueing. It loads each such tile's
 * address by reading its top sibling (which the proof reads first anyway); an
 * error is left for the proof to meet. */
static void prefetch_path(struct store_reader *r, uint64_t index, uint64_t size)
{
	uint8_t tmp[MERKLE_HASH_LEN];
	unsigned tl;
	uint64_t ti;
	size_t off;

	for (unsigned t = 0; t < STORE__TILE_LEVELS - 1; t++) {
		unsigned base = STORE__TILE_HEIGHT * t, top = base + STORE__TILE_HEIGHT;

		/* the subtree of 2^top leaves around index must be complete */
		if ((index >> top) >= (size >> top))
			return;
		if (reader_get(r, top - 1, (index >> (top - 1)) ^ 1, tmp) != 0)
			return;
		for (unsigned l = base; l < top - 1; l++) {
			store__node_pos(l, (index >> l) ^ 1, &tl, &ti, &off);
			__builtin_prefetch(r->cache[tl].data + off);
		}
	}
}

int store_r_inclusion_proof(struct store_reader *r, uint64_t index, uint64_t size,
			    uint8_t out[][MERKLE_HASH_LEN], size_t *out_num)
{
	*out_num = 0;
	if (size > r->tree_size || index >= size)
		return MN_EINVAL;
	prefetch_path(r, index, size);
	return merkle_inclusion_proof_edge(reader_get, r, r->h, reader_edge(r, size),
					   index, size, out, out_num);
}

/* A proof of a batch reads the tiles through its own per-level cache. */
struct batch_get {
	struct store_reader *r;
	struct store__tile_cache *cache;
};

static int batch_get(void *ctx, unsigned level, uint64_t index,
		     uint8_t out[MERKLE_HASH_LEN])
{
	const struct batch_get *b = ctx;
	struct store_reader *r = b->r;

	if (level >= 64 || index >= (r->tree_size >> level))
		return MN_EINVAL;
	return store__get_node(r->txn, r->s->dbi[STORE__DBI_TILES], b->cache, level, index,
			       out);
}

/* locate_tile points |c| at tile (tl, ti) without touching the tile's data.
 * A failed read leaves |c| as it was: the proof meets (and reports) the error
 * when it reads the node. */
static void locate_tile(struct store_reader *r, struct store__tile_cache *c, unsigned tl,
			uint64_t ti)
{
	struct store__tile_cache found = {0};

	if (c->valid && c->index == ti)
		return;
	if (reader_tile(r, &found, tl, ti) == 0)
		*c = found;
}

int store_r_inclusion_proofs(struct store_reader *r, uint64_t size, const uint64_t *index,
			     size_t num, uint8_t (*out)[MERKLE_MAX_PROOF][MERKLE_HASH_LEN],
			     size_t *out_num)
{
	struct store__tile_cache cache[STORE_PROOF_BATCH][STORE__TILE_LEVELS];
	const struct merkle_edge *edge;
	size_t i;
	int rc;

	if (num > STORE_PROOF_BATCH || size > r->tree_size)
		return MN_EINVAL;
	for (i = 0; i < num; i++)
		out_num[i] = 0;
	for (i = 0; i < num; i++)
		if (index[i] >= size)
			return MN_EINVAL;
	edge = reader_edge(r, size);
	/* Locate the tiles holding the leaf's complete ancestors (a tile holding
	 * a complete node exists) and, in each tile
	 * whose 8 levels the proof reads in full (as prefetch_path), prefetch
	 * the slots it will read. A proof starts from the previous one's tiles,
	 * so a tile shared with it (the upper ones) is not looked up again. Only
	 * then build the proofs: their misses have overlapped. */
	for (i = 0; i < num; i++) {
		memcpy(cache[i], i == 0 ? r->cache : cache[i - 1], sizeof(cache[i]));
		for (unsigned t = 0; t < STORE__TILE_LEVELS; t++) {
			unsigned base = STORE__TILE_HEIGHT * t, top = base + STORE__TILE_HEIGHT;
			uint64_t ti = index[i] >> base >> STORE__TILE_HEIGHT;

			if ((index[i] >> base) >= (size >> base))
				break; /* the ancestors from here up are incomplete */
			locate_tile(r, &cache[i][t], t, ti);
			if (!cache[i][t].valid || cache[i][t].index != ti ||
			    t == STORE__TILE_LEVELS - 1 || ti >= (size >> top))
				continue; /* incomplete: read as the proof needs */
			for (unsigned l = base; l < top; l++) {
				unsigned tl;
				uint64_t tix;
				size_t off;
				store__node_pos(l, (index[i] >> l) ^ 1, &tl, &tix, &off);
				__builtin_prefetch(cache[i][t].data + off);
			}
		}
	}
	for (i = 0; i < num; i++) {
		struct batch_get b = {r, cache[i]};
		rc = merkle_inclusion_proof_edge(batch_get, &b, r->h, edge, index[i], size,
						 out[i], &out_num[i]);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int store_r_consistency_proof(struct store_reader *r, uint64_t size1, uint64_t size2,
			      uint8_t out[][MERKLE_HASH_LEN], size_t *out_num)
{
	*out_num = 0;
	if (size2 > r->tree_size || size1 > size2)
		return MN_EINVAL;
	if (size1 == 0 || size1 == size2)
		return 0; /* empty proof: no edge needed */
	return merkle_consistency_proof_edge(reader_get, r, r->h,
					     reader_edge(r, size2), size1, size2, out,
					     out_num);
}

int store_r_root(struct store_reader *r, uint64_t size, uint8_t out[MERKLE_HASH_LEN])
{
	const struct merkle_edge *e;

	if (size > r->tree_size)
		return MN_EINVAL;
	if (size == 0) {
		merkle_empty_root(out);
		return 0;
	}
	if (r->has_sth && size == r->sth.tree_size) {
		/* Checked against the tree when it was stored. */
		memcpy(out, r->sth.root, MERKLE_HASH_LEN);
		return 0;
	}
	e = find_edge(r, size);
	if (e != NULL) {
		memcpy(out, e->roots[63 - __builtin_clzll(size)], MERKLE_HASH_LEN);
		return 0;
	}
	return merkle_subtree_root(reader_get, r, r->h, 0, size, out);
}

int store_r_opening(struct store_reader *r, uint64_t index, const uint8_t **out,
		    size_t *out_len)
{
	uint8_t key[8];
	MDB_val k = {8, key}, v;
	int rc;

	if (index >= r->tree_size)
		return MN_ENOTFOUND;
	mn_put_be64(key, index);
	rc = mdb_get(r->txn, r->s->dbi[STORE__DBI_OPENINGS], &k, &v);
	if (rc == MDB_NOTFOUND)
		return MN_ENOTFOUND;
	if (rc != 0)
		return MN_EIO;
	*out = v.mv_data;
	*out_len = v.mv_size;
	return 0;
}

int store_r_policy_head(struct store_reader *r, const uint8_t *key, size_t key_len,
			uint64_t *out_serial, uint64_t *out_index)
{
	MDB_val k = {key_len, (void *)key}, v;
	int rc;

	if (key_len == 0 || key_len > STORE_MAX_INDEX_KEY)
		return MN_EINVAL;
	rc = mdb_get(r->txn, r->s->dbi[STORE__DBI_POLICY_HEAD], &k, &v);
	if (rc == MDB_NOTFOUND)
		return MN_ENOTFOUND;
	if (rc != 0)
		return MN_EIO;
	if (v.mv_size != 16) {
		mn_error("store_corrupt", "what=\"policy head value malformed\"");
		return MN_ECORRUPT;
	}
	*out_serial = mn_get_be64(v.mv_data);
	*out_index = mn_get_be64((const uint8_t *)v.mv_data + 8);
	/* A head written after this snapshot's tree is not visible: it cannot be,
	 * the head and its leaf commit together. */
	return *out_index < r->tree_size ? 0 : MN_ENOTFOUND;
}

int store_r_index_scan(struct store_reader *r, enum store_index idx, const uint8_t *key,
		       size_t key_len, int prefix, const uint8_t *after_key,
		       size_t after_key_len, uint64_t after_index, store_index_fn fn,
		       void *ctx)
{
	MDB_cursor *c;
	MDB_val k, v;
	uint8_t ib[8];
	int rc, ret = 0;

	if ((unsigned)idx >= STORE_NUM_INDEXES || key_len == 0 ||
	    key_len > STORE_MAX_INDEX_KEY || after_key_len > STORE_MAX_INDEX_KEY)
		return MN_EINVAL;
	rc = mdb_cursor_open(r->txn, r->s->dbi[STORE__DBI_IDX_DNS + idx], &c);
	if (rc != 0)
		return MN_EIO;
	if (after_key != NULL) {
		/* resume just after (after_key, after_index) */
		k.mv_size = after_key_len;
		k.mv_data = (void *)after_key;
		mn_put_be64(ib, after_index);
		v.mv_size = 8;
		v.mv_data = ib;
		rc = mdb_cursor_get(c, &k, &v, MDB_GET_BOTH_RANGE);
		if (rc == 0 && v.mv_size == 8 && mn_get_be64(v.mv_data) == after_index)
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
		else if (rc == MDB_NOTFOUND) {
			/* the key has no index >= after_index: go to the next key */
			k.mv_size = after_key_len;
			k.mv_data = (void *)after_key;
			rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
			if (rc == 0 && k.mv_size == after_key_len &&
			    memcmp(k.mv_data, after_key, after_key_len) == 0)
				rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_NODUP);
		}
	} else {
		k.mv_size = key_len;
		k.mv_data = (void *)key;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	}
	for (; rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		uint64_t leaf;

		if (k.mv_size < key_len || memcmp(k.mv_data, key, key_len) != 0)
			break; /* past every key with this prefix */
		if (!prefix && k.mv_size != key_len) {
			/* keys sort by bytes: an exact key comes before its extensions */
			break;
		}
		if (v.mv_size != 8) {
			ret = MN_ECORRUPT;
			break;
		}
		leaf = mn_get_be64(v.mv_data);
		if (leaf >= r->tree_size)
			continue; /* committed after this snapshot's STH */
		if (fn(ctx, k.mv_data, k.mv_size, leaf) != 0)
			break;
	}
	if (rc != 0 && rc != MDB_NOTFOUND && ret == 0)
		ret = MN_EIO;
	mdb_cursor_close(c);
	return ret;
}
