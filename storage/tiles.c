/* tiles.c: tree hashes grouped in tiles of height 8 (see storage/internal.h for
 * the layout), and the small encoders the other storage files share. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "common/bytes.h"
#include "common/err.h"
#include "common/log.h"
#include "storage/internal.h"

int store__err(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return 0;
	case MDB_NOTFOUND:
		return MN_ENOTFOUND;
	case MDB_KEYEXIST:
		return MN_EEXISTS;
	case MDB_MAP_FULL:
	case ENOSPC:
	case EDQUOT:
		return MN_ENOSPACE;
	case EACCES:
	case EROFS:
	case EPERM:
		return MN_EREADONLY;
	case ENOMEM:
		return MN_ENOMEM;
	case MDB_READERS_FULL:
		return MN_EBUSY;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
	case MDB_INCOMPATIBLE:
	case MDB_BAD_VALSIZE:
		return MN_ECORRUPT;
	default:
		return MN_EIO;
	}
}

size_t store__sth_encode(uint8_t out[STORE__STH_MAX_LEN], const struct store_sth *sth)
{
	size_t n = 0;

	mn_put_be64(out + n, sth->tree_size);
	n += 8;
	mn_put_be64(out + n, sth->timestamp);
	n += 8;
	memcpy(out + n, sth->root, MERKLE_HASH_LEN);
	n += MERKLE_HASH_LEN;
	out[n++] = (uint8_t)(sth->sig_len >> 8);
	out[n++] = (uint8_t)sth->sig_len;
	memcpy(out + n, sth->sig, sth->sig_len);
	return n + sth->sig_len;
}

int store__sth_decode(struct store_sth *out, const uint8_t *in, size_t len)
{
	struct cbs cbs, sig;

	memset(out, 0, sizeof(*out));
	cbs_init(&cbs, in, len);
	if (!cbs_get_u64(&cbs, &out->tree_size) || !cbs_get_u64(&cbs, &out->timestamp) ||
	    !cbs_copy_bytes(&cbs, out->root, MERKLE_HASH_LEN) ||
	    !cbs_get_u16_length_prefixed(&cbs, &sig) || cbs_len(&cbs) != 0 ||
	    cbs_len(&sig) > STORE_MAX_SIG_LEN)
		return 0;
	out->sig_len = (uint16_t)cbs_len(&sig);
	memcpy(out->sig, cbs_data(&sig), cbs_len(&sig));
	return 1;
}

void store__tile_key(uint8_t key[STORE__TILE_KEY_LEN], unsigned tile_level,
		     uint64_t tile_index)
{
	key[0] = (uint8_t)tile_level;
	mn_put_be64(key + 1, tile_index);
}

void store__node_pos(unsigned level, uint64_t index, unsigned *out_tile_level,
		     uint64_t *out_tile_index, size_t *out_offset)
{
	unsigned r = level % STORE__TILE_HEIGHT;
	uint64_t width = 256u >> r; /* level-r nodes per tile */
	size_t start = 512 - (512u >> r);

	*out_tile_level = level / STORE__TILE_HEIGHT;
	*out_tile_index = index >> (8 - r);
	*out_offset = (start + (size_t)(index & (width - 1))) * MERKLE_HASH_LEN;
}

static int is_zero(const uint8_t *p, size_t len)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < len; i++)
		acc |= p[i];
	return acc == 0;
}

int store__tile_load(MDB_txn *txn, MDB_dbi tiles, unsigned tl, uint64_t ti,
		     const uint8_t **out)
{
	uint8_t key[STORE__TILE_KEY_LEN];
	MDB_val k = {sizeof(key), key}, v;
	int rc;

	store__tile_key(key, tl, ti);
	rc = mdb_get(txn, tiles, &k, &v);
	if (rc == MDB_NOTFOUND || (rc == 0 && v.mv_size != STORE__TILE_BYTES)) {
		mn_error("store_corrupt", "what=\"tile %u/%" PRIu64 " missing or "
			 "of wrong size\"", tl, ti);
		return MN_ECORRUPT;
	}
	if (rc != 0)
		return store__err(rc);
	*out = v.mv_data;
	return 0;
}

int store__tile_node(const uint8_t *data, unsigned level, uint64_t index, unsigned tl,
		     uint64_t ti, size_t off, uint8_t out[MERKLE_HASH_LEN])
{
	if (is_zero(data + off, MERKLE_HASH_LEN)) {
		mn_error("store_corrupt", "what=\"node %u/%" PRIu64 " not stored in tile "
			 "%u/%" PRIu64 "\"", level, index, tl, ti);
		return MN_ECORRUPT;
	}
	memcpy(out, data + off, MERKLE_HASH_LEN);
	return 0;
}

int store__get_node(MDB_txn *txn, MDB_dbi tiles, struct store__tile_cache *cache,
		    unsigned level, uint64_t index, uint8_t out[MERKLE_HASH_LEN])
{
	unsigned tl;
	uint64_t ti;
	size_t off;
	struct store__tile_cache *c;

	store__node_pos(level, index, &tl, &ti, &off);
	c = &cache[tl];
	if (!c->valid || c->index != ti) {
		int err = store__tile_load(txn, tiles, tl, ti, &c->data);

		if (err != 0) {
			c->valid = 0;
			return err;
		}
		c->valid = 1;
		c->index = ti;
	}
	return store__tile_node(c->data, level, index, tl, ti, off, out);
}

int store__leafhash_walk(MDB_txn *txn, MDB_dbi dbi, const uint8_t hash[MERKLE_HASH_LEN],
			 uint64_t limit, merkle_get_fn get, void *ctx, uint64_t *out_index)
{
	MDB_cursor *cur;
	MDB_val k = {STORE__LEAFHASH_PREFIX, (void *)hash}, v;
	int rc, err = MN_ENOTFOUND;

	rc = mdb_cursor_open(txn, dbi, &cur);
	if (rc != 0)
		return store__err(rc);
	/* duplicates sort by index: the first match is the lowest index */
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP)) {
		uint8_t node[MERKLE_HASH_LEN];
		uint64_t idx;

		if (v.mv_size != 8) {
			mn_error("store_corrupt", "what=\"leaf-hash index value malformed\"");
			err = MN_ECORRUPT;
			break;
		}
		idx = mn_get_be64(v.mv_data);
		if (idx >= limit)
			break; /* and every later one */
		err = get(ctx, 0, idx, node);
		if (err != 0)
			break;
		err = MN_ENOTFOUND;
		if (memcmp(node, hash, MERKLE_HASH_LEN) == 0) {
			*out_index = idx;
			err = 0;
			break;
		}
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		err = store__err(rc);
	mdb_cursor_close(cur);
	return err;
}

void store__tile_writer_init(struct store__tile_writer *tw, MDB_txn *txn, MDB_dbi dbi,
			     uint8_t *bufs)
{
	memset(tw, 0, sizeof(*tw));
	tw->txn = txn;
	tw->dbi = dbi;
	tw->bufs = bufs;
}

static void tile_fail(struct store__tile_writer *tw, int rc)
{
	tw->mdb_rc = rc;
	tw->err = store__err(rc);
}

static int tile_put(struct store__tile_writer *tw, unsigned tl)
{
	uint8_t key[STORE__TILE_KEY_LEN];
	MDB_val k = {sizeof(key), key};
	MDB_val v = {STORE__TILE_BYTES, tw->bufs + (size_t)tl * STORE__TILE_BYTES};
	int rc;

	store__tile_key(key, tl, tw->t[tl].index);
	rc = mdb_put(tw->txn, tw->dbi, &k, &v, 0);
	if (rc != 0) {
		tile_fail(tw, rc);
		return -1;
	}
	tw->t[tl].open = 0;
	return 0;
}

void store__tile_writer_node(void *ctx, unsigned level, uint64_t index,
			     const uint8_t hash[MERKLE_HASH_LEN])
{
	struct store__tile_writer *tw = ctx;
	unsigned tl;
	uint64_t ti;
	size_t off;
	uint8_t *buf;

	if (tw->err != 0)
		return;
	store__node_pos(level, index, &tl, &ti, &off);
	buf = tw->bufs + (size_t)tl * STORE__TILE_BYTES;
	if (!tw->t[tl].open || tw->t[tl].index != ti) {
		uint8_t key[STORE__TILE_KEY_LEN];
		MDB_val k = {sizeof(key), key}, v;
		int rc;

		if (tw->t[tl].open && tile_put(tw, tl) != 0)
			return;
		store__tile_key(key, tl, ti);
		rc = mdb_get(tw->txn, tw->dbi, &k, &v);
		if (rc == MDB_NOTFOUND) {
			memset(buf, 0, STORE__TILE_BYTES);
		} else if (rc != 0) {
			tile_fail(tw, rc);
			return;
		} else if (v.mv_size != STORE__TILE_BYTES) {
			mn_error("store_corrupt", "what=\"tile %u/%" PRIu64 " has %zu "
				 "bytes\"", tl, ti, v.mv_size);
			tw->err = MN_ECORRUPT;
			return;
		} else {
			memcpy(buf, v.mv_data, STORE__TILE_BYTES);
		}
		tw->t[tl].open = 1;
		tw->t[tl].index = ti;
	}
	memcpy(buf + off, hash, MERKLE_HASH_LEN);
}

int store__tile_writer_finish(struct store__tile_writer *tw)
{
	for (unsigned tl = 0; tl < STORE__TILE_LEVELS && tw->err == 0; tl++)
		if (tw->t[tl].open)
			(void)tile_put(tw, tl);
	return tw->err;
}

int store_r_tile(struct store_reader *r, unsigned tile_level, uint64_t tile_index,
		 unsigned width, const uint8_t **out)
{
	uint64_t have;
	const uint8_t *data;
	int ret;

	if (tile_level >= STORE__TILE_LEVELS || width == 0 || width > 256)
		return MN_EINVAL;
	/* complete hashes at level 8 * tile_level in this snapshot */
	have = r->tree_size >> (STORE__TILE_HEIGHT * tile_level);
	if (tile_index > (UINT64_MAX >> 8) || have < tile_index * 256 + width)
		return MN_ENOTFOUND;
	ret = store__tile_load(r->txn, r->s->dbi[STORE__DBI_TILES], tile_level, tile_index,
			       &data);
	if (ret != 0)
		return ret;
	if (is_zero(data + (size_t)(width - 1) * MERKLE_HASH_LEN, MERKLE_HASH_LEN)) {
		mn_error("store_corrupt", "what=\"tile %u/%" PRIu64 " slot %u empty\"",
			 tile_level, tile_index, width - 1);
		return MN_ECORRUPT;
	}
	*out = data;
	return 0;
}
