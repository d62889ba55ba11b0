/* store.c: the environment, the open-time consistency check, the map size.
 * The writer is in writer.c, the lookup map in map.c, readers in reader.c. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/bytes.h"
#include "common/err.h"
#include "common/log.h"
#include "map/map.h"
#include "storage/internal.h"

#define DEFAULT_MAP_SIZE ((uint64_t)1 << 30)
#define DEFAULT_MAX_MAP_SIZE ((uint64_t)1 << 40)
#define MAX_READERS 512
#define MAX_DBS 24

static const struct {
	const char *name;
	unsigned flags;
} dbs[STORE__NUM_LOG_DBI] = {
	[STORE__DBI_LEAVES] = {"leaves", 0},
	[STORE__DBI_EXTRA] = {"extra", 0},
	/* 8-byte leaf-hash prefix -> indexes (u64 BE), see internal.h */
	[STORE__DBI_LEAFHASH] = {"leafhash8", MDB_DUPSORT | MDB_DUPFIXED},
	[STORE__DBI_TILES] = {"tiles", 0},
	[STORE__DBI_DEDUP] = {"dedup", 0},
	[STORE__DBI_META] = {"meta", 0},
	/* Lookup indexes (DESIGN.md section 5), filled by a later layer. */
	[STORE__DBI_IDX_DNS] = {"idx_dns", MDB_DUPSORT | MDB_DUPFIXED},
	[STORE__DBI_IDX_EMAIL] = {"idx_email", MDB_DUPSORT | MDB_DUPFIXED},
	[STORE__DBI_IDX_PGP] = {"idx_pgp", MDB_DUPSORT | MDB_DUPFIXED},
	[STORE__DBI_IDX_POLICY] = {"idx_policy", MDB_DUPSORT | MDB_DUPFIXED},
	[STORE__DBI_IDX_CERT] = {"idx_cert", MDB_DUPSORT | MDB_DUPFIXED},
	[STORE__DBI_POLICY_HEAD] = {"policy_head", 0},
	[STORE__DBI_OPENINGS] = {"openings", 0},
	/* The lookup map is in its own environment, DIR/map (mapenv.c). */
};

/* The directory name comes from the operator, but keep log lines one line. */
const char *store__safe_dir(const struct store *s, char *buf, size_t len)
{
	return mn_log_sanitize(buf, len, s->dir, strlen(s->dir));
}


static uint64_t leaves_count(MDB_txn *txn, MDB_dbi dbi, int *out_err)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	*out_err = 0;
	rc = mdb_cursor_open(txn, dbi, &cur);
	if (rc != 0) {
		*out_err = store__err(rc);
		return 0;
	}
	rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0) {
		*out_err = store__err(rc);
		return 0;
	}
	if (k.mv_size != 8 || mn_get_be64(k.mv_data) == UINT64_MAX) {
		*out_err = MN_ECORRUPT;
		return 0;
	}
	return mn_get_be64(k.mv_data) + 1;
}

int store__load(struct store *s, MDB_txn *txn, struct merkle_range *out_range,
		struct store_sth *out_sth, int *out_has_sth)
{
	MDB_val k, v;
	struct cbs cbs;
	struct store__tile_cache cache[STORE__TILE_LEVELS];
	uint8_t root[MERKLE_HASH_LEN];
	uint64_t num_leaves, num_extra, start;
	unsigned i;
	int rc, err;
	DIRBUF;

	merkle_range_init(out_range);
	memset(out_sth, 0, sizeof(*out_sth));
	*out_has_sth = 0;

	k.mv_size = sizeof(META_STATE) - 1;
	k.mv_data = (void *)META_STATE;
	rc = mdb_get(txn, s->dbi[STORE__DBI_META], &k, &v);
	if (rc == 0) {
		cbs_init(&cbs, v.mv_data, v.mv_size);
		if (!merkle_range_decode(out_range, &cbs)) {
			mn_error("store_corrupt", "dir=%s what=\"meta state is not a "
				 "compact range\"", DIR_S(s));
			return MN_ECORRUPT;
		}
	} else if (rc != MDB_NOTFOUND) {
		return store__err(rc);
	}

	k.mv_size = sizeof(META_STH) - 1;
	k.mv_data = (void *)META_STH;
	rc = mdb_get(txn, s->dbi[STORE__DBI_META], &k, &v);
	if (rc == 0) {
		if (!store__sth_decode(out_sth, v.mv_data, v.mv_size)) {
			mn_error("store_corrupt", "dir=%s what=\"meta sth is malformed\"",
				 DIR_S(s));
			return MN_ECORRUPT;
		}
		*out_has_sth = 1;
	} else if (rc != MDB_NOTFOUND) {
		return store__err(rc);
	}

	num_leaves = leaves_count(txn, s->dbi[STORE__DBI_LEAVES], &err);
	if (err != 0)
		goto bad_count;
	num_extra = leaves_count(txn, s->dbi[STORE__DBI_EXTRA], &err);
	if (err != 0)
		goto bad_count;

	if (!*out_has_sth) {
		if (out_range->size != 0 || num_leaves != 0 || num_extra != 0) {
			mn_error("store_corrupt", "dir=%s what=\"no STH but range size "
				 "%" PRIu64 ", %" PRIu64 " leaves, %" PRIu64 " extra\"",
				 DIR_S(s), out_range->size, num_leaves, num_extra);
			return MN_ECORRUPT;
		}
		return 0;
	}
	if (out_range->size != out_sth->tree_size || num_leaves != out_sth->tree_size ||
	    num_extra != out_sth->tree_size) {
		mn_error("store_corrupt", "dir=%s what=\"sizes disagree: STH %" PRIu64
			 ", range %" PRIu64 ", leaves %" PRIu64 ", extra %" PRIu64 "\"",
			 DIR_S(s), out_sth->tree_size, out_range->size, num_leaves,
			 num_extra);
		return MN_ECORRUPT;
	}
	{
		MDB_stat st;

		rc = mdb_stat(txn, s->dbi[STORE__DBI_LEAFHASH], &st);
		if (rc != 0)
			return store__err(rc);
		if ((uint64_t)st.ms_entries != out_sth->tree_size) {
			mn_error("store_corrupt", "dir=%s what=\"leaf-hash index holds %" PRIu64
				 " entries for %" PRIu64 " leaves\"", DIR_S(s),
				 (uint64_t)st.ms_entries, out_sth->tree_size);
			return MN_ECORRUPT;
		}
	}
	merkle_range_root(out_range, s->hasher, root);
	if (memcmp(root, out_sth->root, MERKLE_HASH_LEN) != 0) {
		mn_error("store_corrupt", "dir=%s what=\"compact range root differs "
			 "from STH root at size %" PRIu64 "\"", DIR_S(s),
			 out_sth->tree_size);
		return MN_ECORRUPT;
	}

	/* The range's hashes are the right-edge perfect subtrees, largest first:
	 * each must be the node stored in the tiles. */
	memset(cache, 0, sizeof(cache));
	start = 0;
	i = 0;
	for (int level = 63; level >= 0; level--) {
		uint64_t bit = (uint64_t)1 << level;
		uint8_t node[MERKLE_HASH_LEN];

		if ((out_range->size & bit) == 0)
			continue;
		err = store__get_node(txn, s->dbi[STORE__DBI_TILES], cache,
				      (unsigned)level, start >> level, node);
		if (err != 0)
			return err;
		if (memcmp(node, out_range->hashes[i], MERKLE_HASH_LEN) != 0) {
			mn_error("store_corrupt", "dir=%s what=\"compact range hash %u "
				 "differs from stored node %d/%" PRIu64 "\"", DIR_S(s),
				 i, level, start >> level);
			return MN_ECORRUPT;
		}
		start += bit;
		i++;
	}
	return 0;

bad_count:
	if (err == MN_ECORRUPT)
		mn_error("store_corrupt", "dir=%s what=\"leaves or extra key is not a "
			 "64-bit index\"", DIR_S(s));
	return err;
}

/* has_leaves says whether the log in |txn| holds any leaf (its leaves database
 * exists and is not empty). */
static int has_leaves(MDB_txn *txn)
{
	MDB_dbi dbi;
	MDB_stat st;

	if (mdb_dbi_open(txn, dbs[STORE__DBI_LEAVES].name, dbs[STORE__DBI_LEAVES].flags,
			 &dbi) != 0)
		return 0;
	return mdb_stat(txn, dbi, &st) != 0 || st.ms_entries > 0;
}

/* format_get reads meta "format" in |txn| into *out: 0, MN_ENOTFOUND (a log
 * from before formats were recorded, or a new one), MN_ECORRUPT (malformed or
 * flags this version does not know: it must not write such a log). */
static int format_get(struct store *s, MDB_txn *txn, uint32_t *out)
{
	MDB_val k = {sizeof(META_FORMAT) - 1, (void *)META_FORMAT}, v;
	int rc = mdb_get(txn, s->dbi[STORE__DBI_META], &k, &v);
	uint32_t f;
	DIRBUF;

	*out = 0;
	if (rc != 0)
		return store__err(rc);
	if (v.mv_size != 4) {
		mn_error("store_corrupt", "dir=%s what=\"meta format is not 4 bytes\"",
			 DIR_S(s));
		return MN_ECORRUPT;
	}
	{
		const uint8_t *p = v.mv_data;
		f = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	}
	if ((f & ~(uint32_t)STORE__FMT_KNOWN) != 0) {
		mn_error("store_corrupt", "dir=%s what=\"unknown format flags 0x%x: written "
			 "by a newer version\"", DIR_S(s), (unsigned)f);
		return MN_ECORRUPT;
	}
	*out = f;
	return 0;
}

/* format_init records the format of a new log (no STH, no leaf) in |txn|, the
 * open's first write transaction, so it is there before anything is signed;
 * a log that has one keeps it, and an older log without one stays format 0. */
static int format_init(struct store *s, MDB_txn *txn, const struct store_options *opt)
{
	MDB_val k = {sizeof(META_FORMAT) - 1, (void *)META_FORMAT};
	MDB_val sk = {sizeof(META_STH) - 1, (void *)META_STH}, v;
	MDB_stat st;
	uint8_t buf[4];
	int rc, err = format_get(s, txn, &s->format);

	if (err != MN_ENOTFOUND)
		return err;
	rc = mdb_get(txn, s->dbi[STORE__DBI_META], &sk, &v);
	if (rc != MDB_NOTFOUND)
		return rc == 0 ? 0 : store__err(rc); /* an older log: format 0 */
	rc = mdb_stat(txn, s->dbi[STORE__DBI_LEAVES], &st);
	if (rc != 0)
		return store__err(rc);
	if (st.ms_entries > 0)
		return 0; /* leaves but no STH: store__load refuses it */
	s->format = opt->no_leaf_index ? 0 : STORE_FMT_LEAF_INDEX;
	buf[0] = (uint8_t)(s->format >> 24);
	buf[1] = (uint8_t)(s->format >> 16);
	buf[2] = (uint8_t)(s->format >> 8);
	buf[3] = (uint8_t)s->format;
	v.mv_size = sizeof(buf);
	v.mv_data = buf;
	rc = mdb_put(txn, s->dbi[STORE__DBI_META], &k, &v, 0);
	return rc == 0 ? 0 : store__err(rc);
}

static int open_env_error(struct store *s, const char *what, int rc)
{
	int err = store__err(rc);
	DIRBUF;

	if (err == MN_ENOTFOUND || err == MN_EEXISTS || err == MN_ENOSPACE ||
	    err == MN_EBUSY)
		err = MN_EIO;
	mn_error("store_open_failed", "dir=%s op=%s reason=\"%s\"", DIR_S(s), what,
		 mdb_strerror(rc));
	return err;
}

static int make_dir(const char *dir, int read_only)
{
	struct stat st;
	char buf[256];

	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			mn_error("store_open_failed", "dir=%s reason=\"not a directory\"",
				 mn_log_sanitize(buf, sizeof(buf), dir, strlen(dir)));
			return MN_EIO;
		}
		return 0;
	}
	if (errno != ENOENT || read_only || mkdir(dir, 0700) != 0) {
		int e = errno;
		mn_error("store_open_failed", "dir=%s reason=\"%s\"",
			 mn_log_sanitize(buf, sizeof(buf), dir, strlen(dir)),
			 read_only && e == ENOENT ? "does not exist" : strerror(e));
		return MN_EIO;
	}
	return 0;
}

int store_open(struct store **out, const struct store_options *opt)
{
	struct store *s;
	MDB_txn *txn = NULL;
	uint64_t map_size;
	unsigned flags;
	int rc, err;

	*out = NULL;
	if (opt == NULL || opt->dir == NULL || opt->dir[0] == '\0')
		return MN_EINVAL;
	err = make_dir(opt->dir, opt->read_only);
	if (err != 0)
		return err;

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return MN_ENOMEM;
	pthread_mutex_init(&s->rd_mu, NULL);
	pthread_cond_init(&s->rd_cond, NULL);
	pthread_mutex_init(&s->write_mu, NULL);
	pthread_mutex_init(&s->state_mu, NULL);
	pthread_mutex_init(&s->map_mu, NULL);
	pthread_cond_init(&s->map_cond, NULL);
	s->read_only = opt->read_only != 0;
	s->map_on = opt->map != 0;
	s->max_map_size = opt->max_map_size ? opt->max_map_size : DEFAULT_MAX_MAP_SIZE;
	if (s->max_map_size > SIZE_MAX)
		s->max_map_size = SIZE_MAX;
	map_size = opt->map_size ? opt->map_size : DEFAULT_MAP_SIZE;
	if (map_size > s->max_map_size)
		map_size = s->max_map_size;
	s->dir = strdup(opt->dir);
	s->hasher = merkle_hasher_new();
	s->map_cache = map_cache_new(STORE__MAP_CACHE_SLOTS, STORE__MAP_CACHE_STRATA);
	if (!s->read_only)
		s->tile_buf = malloc((size_t)STORE__TILE_LEVELS * STORE__TILE_BYTES);
	if (s->dir == NULL || s->hasher == NULL || (!s->read_only && s->tile_buf == NULL)) {
		err = MN_ENOMEM;
		goto err;
	}

	rc = mdb_env_create(&s->env);
	if (rc != 0) {
		s->env = NULL;
		err = open_env_error(s, "mdb_env_create", rc);
		goto err;
	}
	if ((rc = mdb_env_set_maxdbs(s->env, MAX_DBS)) != 0 ||
	    (rc = mdb_env_set_maxreaders(s->env, MAX_READERS)) != 0 ||
	    (rc = mdb_env_set_mapsize(s->env, (size_t)map_size)) != 0) {
		err = open_env_error(s, "mdb_env_set", rc);
		goto err;
	}
	/* MDB_NOTLS: a read txn is not tied to its thread (a reader may be reused
	 * from the free list by another thread). */
	flags = MDB_NOTLS | (opt->no_sync ? MDB_NOSYNC : 0) |
		(s->read_only ? MDB_RDONLY : 0);
	rc = mdb_env_open(s->env, s->dir, flags, 0600);
	if (rc != 0) {
		err = open_env_error(s, "mdb_env_open", rc);
		goto err;
	}

	if (!s->read_only) {
		MDB_envinfo info;

		/* A map smaller than the data is raised by LMDB to exactly the
		 * data's size, so the first batch would hit MDB_MAP_FULL: leave
		 * room now, within max_map_size. */
		mdb_env_info(s->env, &info);
		if (info.me_mapsize > map_size && info.me_mapsize < s->max_map_size) {
			uint64_t next = info.me_mapsize > s->max_map_size / 2 ?
					s->max_map_size : (uint64_t)info.me_mapsize * 2;
			rc = mdb_env_set_mapsize(s->env, (size_t)next);
			if (rc != 0) {
				err = open_env_error(s, "mdb_env_set_mapsize", rc);
				goto err;
			}
		}
	}

	/* Open every DBI once, in the first transaction (LMDB intro.doc). Creating
	 * existing DBIs dirties nothing, so this commit writes nothing then. */
	rc = mdb_txn_begin(s->env, NULL, s->read_only ? MDB_RDONLY : 0, &txn);
	if (rc != 0) {
		txn = NULL;
		err = open_env_error(s, "mdb_txn_begin", rc);
		goto err;
	}
	/* A database is created only in a log that holds no leaf yet: one that
	 * is missing from a log with leaves (a damaged file, or one written by
	 * another layout) is refused before anything is written. */
	for (int pass = 0; pass < 2; pass++) {
		int missing = 0;

		for (unsigned i = 0; i < STORE__NUM_LOG_DBI; i++) {
			rc = mdb_dbi_open(txn, dbs[i].name,
					  dbs[i].flags | (pass == 1 ? MDB_CREATE : 0),
					  &s->dbi[i]);
			if (rc == MDB_NOTFOUND && pass == 0 && !s->read_only &&
			    !has_leaves(txn)) {
				missing = 1;
				continue;
			}
			if (rc == MDB_NOTFOUND) {
				DIRBUF;
				mn_error("store_corrupt", "dir=%s what=\"database %s missing\"",
					 DIR_S(s), dbs[i].name);
				err = MN_ECORRUPT;
				goto err;
			}
			if (rc != 0) {
				err = open_env_error(s, "mdb_dbi_open", rc);
				goto err;
			}
		}
		if (!missing)
			break;
	}
	if (!s->read_only && (err = format_init(s, txn, opt)) != 0)
		goto err;
	if (!s->read_only && s->map_on && (err = store__migrate_map(s, txn)) != 0)
		goto err;
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc != 0) {
		err = open_env_error(s, "mdb_txn_commit", rc);
		goto err;
	}

	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0) {
		txn = NULL;
		err = open_env_error(s, "mdb_txn_begin", rc);
		goto err;
	}
	err = format_get(s, txn, &s->format);
	if (err == MN_ENOTFOUND)
		err = 0;
	if (err == 0)
		err = store__load(s, txn, &s->range, &s->sth, &s->has_sth);
	mdb_txn_abort(txn);
	txn = NULL;
	if (err == 0)
		err = store__mapenv_open(s);
	if (err != 0)
		goto err;
	*out = s;
	return 0;

err:
	if (txn != NULL)
		mdb_txn_abort(txn);
	store_close(s);
	return err;
}

void store_close(struct store *s)
{
	struct store_reader *r, *next;

	if (s == NULL)
		return;
	for (r = s->free_list; r != NULL; r = next) {
		next = r->next;
		if (r->txn != NULL)
			mdb_txn_abort(r->txn);
		if (r->mtxn != NULL)
			mdb_txn_abort(r->mtxn);
		merkle_hasher_free(r->h);
		free(r);
	}
	store__mapenv_close(s);
	if (s->env != NULL)
		mdb_env_close(s->env);
	merkle_hasher_free(s->hasher);
	store__upper_free(s->upper);
	map_cache_free(s->map_cache);
	free(s->tile_buf);
	free(s->dir);
	pthread_mutex_destroy(&s->rd_mu);
	pthread_cond_destroy(&s->rd_cond);
	pthread_mutex_destroy(&s->write_mu);
	pthread_mutex_destroy(&s->state_mu);
	pthread_mutex_destroy(&s->map_mu);
	pthread_cond_destroy(&s->map_cond);
	free(s);
}

void store_get_range(struct store *s, struct merkle_range *out)
{
	pthread_mutex_lock(&s->state_mu);
	*out = s->range;
	pthread_mutex_unlock(&s->state_mu);
}

uint32_t store_format(struct store *s)
{
	return s->format; /* set by store_open, never changed */
}

int store_has_sth(struct store *s)
{
	int has;

	pthread_mutex_lock(&s->state_mu);
	has = s->has_sth;
	pthread_mutex_unlock(&s->state_mu);
	return has;
}

int store__map_resize(struct store *s, uint64_t size)
{
	return store__env_resize(s, s->env, size);
}

int store__env_resize(struct store *s, MDB_env *env, uint64_t size)
{
	int rc;

	pthread_mutex_lock(&s->rd_mu);
	while (s->num_active > 0 || s->resizing)
		pthread_cond_wait(&s->rd_cond, &s->rd_mu);
	s->resizing = 1;
	pthread_mutex_unlock(&s->rd_mu);

	rc = mdb_env_set_mapsize(env, (size_t)size);

	pthread_mutex_lock(&s->rd_mu);
	s->resizing = 0;
	pthread_cond_broadcast(&s->rd_cond);
	pthread_mutex_unlock(&s->rd_mu);
	return rc == 0 ? 0 : store__err(rc);
}

/* grow_map doubles the map after MDB_MAP_FULL, up to max_map_size. */
int store__grow_map(struct store *s)
{
	return store__grow_env(s, s->env);
}

int store__grow_env(struct store *s, MDB_env *env)
{
	MDB_envinfo info;
	uint64_t cur, next;
	int err;
	DIRBUF;

	mdb_env_info(env, &info);
	cur = info.me_mapsize;
	if (cur >= s->max_map_size) {
		mn_error("store_full", "dir=%s map_size=%" PRIu64 " max_map_size=%" PRIu64
			 " reason=\"map is at its maximum; raise max_map_size\"",
			 DIR_S(s), cur, s->max_map_size);
		return MN_ENOSPACE;
	}
	next = cur > s->max_map_size / 2 ? s->max_map_size : cur * 2;
	err = store__env_resize(s, env, next);
	if (err != 0) {
		mn_error("store_grow_failed", "dir=%s map_size=%" PRIu64 " err=%s",
			 DIR_S(s), next, mn_err_name(err));
		return err;
	}
	mdb_env_info(env, &info);
	if (info.me_mapsize <= cur) {
		/* LMDB refused to grow: do not loop on MDB_MAP_FULL. */
		mn_error("store_full", "dir=%s map_size=%" PRIu64 " reason=\"map did "
			 "not grow\"", DIR_S(s), (uint64_t)info.me_mapsize);
		return MN_ENOSPACE;
	}
	mn_info("store_grow", "dir=%s env=%s map_size=%" PRIu64, DIR_S(s),
		env == s->env ? "log" : "map", (uint64_t)info.me_mapsize);
	return 0;
}

void store_get_stats(struct store *s, struct store_stats *out)
{
	MDB_envinfo info;
	MDB_stat st;
	struct stat fst;
	char path[PATH_MAX];

	memset(out, 0, sizeof(*out));
	/* mdb_env_stat reads the map: not while it is being resized. */
	pthread_mutex_lock(&s->rd_mu);
	while (s->resizing)
		pthread_cond_wait(&s->rd_cond, &s->rd_mu);
	s->num_active++;
	pthread_mutex_unlock(&s->rd_mu);

	if (mdb_env_info(s->env, &info) == 0 && mdb_env_stat(s->env, &st) == 0) {
		out->map_size = info.me_mapsize;
		out->used_bytes = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
	}
	if (s->menv != NULL && mdb_env_info(s->menv, &info) == 0 &&
	    mdb_env_stat(s->menv, &st) == 0)
		out->used_bytes += ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
	if (s->menv != NULL) {
		static const unsigned which[2] = {STORE__DBI_MAP_TILES, STORE__DBI_MAP_ITEMS};
		uint64_t *bytes[2] = {&out->map_tiles_bytes, &out->map_items_bytes};
		uint64_t *recs[2] = {&out->map_tiles_records, &out->map_items_records};
		MDB_txn *txn;

		if (mdb_txn_begin(s->menv, NULL, MDB_RDONLY, &txn) == 0) {
			for (int i = 0; i < 2; i++) {
				MDB_stat ds;
				if (mdb_stat(txn, s->dbi[which[i]], &ds) != 0)
					continue;
				*bytes[i] = (uint64_t)(ds.ms_branch_pages + ds.ms_leaf_pages +
						       ds.ms_overflow_pages) * ds.ms_psize;
				*recs[i] = ds.ms_entries;
			}
			mdb_txn_abort(txn);
		}
	}

	pthread_mutex_lock(&s->rd_mu);
	if (--s->num_active == 0)
		pthread_cond_broadcast(&s->rd_cond);
	pthread_mutex_unlock(&s->rd_mu);

	if ((size_t)snprintf(path, sizeof(path), "%s/data.mdb", s->dir) < sizeof(path) &&
	    stat(path, &fst) == 0)
		out->file_bytes = (uint64_t)fst.st_size;
	if (s->menv != NULL &&
	    (size_t)snprintf(path, sizeof(path), "%s/map/data.mdb", s->dir) < sizeof(path) &&
	    stat(path, &fst) == 0)
		out->file_bytes += (uint64_t)fst.st_size;
	pthread_mutex_lock(&s->state_mu);
	out->tree_size = s->range.size;
	pthread_mutex_unlock(&s->state_mu);
	out->upper_tiles = store__upper_count(__atomic_load_n(&s->upper, __ATOMIC_ACQUIRE));
}
