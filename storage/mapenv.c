/* mapenv.c: the lookup map's own LMDB environment, DIR/map (internal.h,
 * "the map's environment").
 *
 * The map is derived state: a pure function of the log's leaves
 * (docs/map.md), whose root every batch commits durably in the log as a
 * map-root leaf. So its pages need no fsync per commit: the environment is
 * opened with MDB_NOSYNC, and writer.c commits it right after the log's
 * durable commit. A process crash (kill -9) loses nothing the kernel has
 * (the page cache survives); at worst the map lags the log by the batch
 * whose log commit it followed, and the sequencer catches it up at start
 * (store_map_catch_up). An OS crash can leave a MDB_NOSYNC environment
 * damaged anywhere (LMDB reuses pages freed two transactions back, so even
 * a state synced earlier is not safe), which no cheap check would see. So a
 * small file DIR/map/state says how the map was left:
 *
 *   "open BOOT_ID\n"    written (and fsync'd) at every writable open, before
 *                       any map page is written;
 *   "closed TXNID\n"    written by a clean close, after mdb_env_sync.
 *
 * At open the map is trusted only if it was closed cleanly at the
 * transaction it holds, or left open during this boot (a process crash: the
 * kernel still has every page). Anything else (a reboot after an unclean
 * stop, no state file, an unreadable environment, a map ahead of the log,
 * tiles that do not give the stored root, a root that differs from the one
 * in the log's map-root leaf at that size) discards the map, says so in the
 * log, and it is rebuilt from the log's leaves. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bytes.h"
#include "common/err.h"
#include "common/log.h"
#include "map/map.h"
#include "storage/internal.h"

#define MAP_MAX_DBS 4
#define MAP_MAX_READERS 512
#define DEFAULT_MAP_ENV_SIZE ((uint64_t)1 << 30)

static const struct {
	const char *name;
	unsigned flags;
} map_dbs[STORE__NUM_DBI - STORE__NUM_LOG_DBI] = {
	/* tile id -> tile (a key's list state in its leaf's payload) */
	{"map_tiles2", 0},
	/* map key -> u64 index || leaf hash, in index order, for lists longer
	 * than STORE__MAP_INLINE */
	{"map_items2", MDB_DUPSORT | MDB_DUPFIXED},
	/* "map2": the map's state (internal.h) */
	{"meta", 0},
};

/* path_in writes DIR/map[/name] to |out|; 0 if it does not fit. */
static int path_in(const struct store *s, const char *name, char out[PATH_MAX])
{
	int n = name == NULL ? snprintf(out, PATH_MAX, "%s/map", s->dir)
			     : snprintf(out, PATH_MAX, "%s/map/%s", s->dir, name);

	return n > 0 && n < PATH_MAX;
}

/* boot_id: this boot's id (36 characters) in |out|, or "" if unknown (then
 * an unclean stop is never trusted). */
static void boot_id(char out[64])
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
	size_t n = 0;

	out[0] = '\0';
	if (f == NULL)
		return;
	if (fgets(out, 64, f) != NULL)
		n = strcspn(out, "\n");
	out[n] = '\0';
	fclose(f);
}

static int fsync_fd_path(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -1;
	ret = fsync(fd);
	close(fd);
	return ret;
}

/* state_write replaces DIR/map/state with |text|, durably. 0 or -1. */
static int state_write(const struct store *s, const char *text)
{
	char tmp[PATH_MAX], path[PATH_MAX], dir[PATH_MAX];
	size_t len = strlen(text);
	int fd, ok;

	if (!path_in(s, "state.tmp", tmp) || !path_in(s, "state", path) ||
	    !path_in(s, NULL, dir))
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	ok = write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
	close(fd);
	if (!ok || rename(tmp, path) != 0)
		return -1;
	return fsync_fd_path(dir, O_RDONLY | O_DIRECTORY);
}

/* state_trusted says whether the state file lets a map at transaction
 * |txnid| be used; *out_why says why not. */
static int state_trusted(const struct store *s, uint64_t txnid, const char **out_why)
{
	char path[PATH_MAX], buf[128], boot[64];
	FILE *f;
	size_t n;

	*out_why = "no state file says how the map was left";
	if (!path_in(s, "state", path) || (f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (strncmp(buf, "closed ", 7) == 0) {
		char *end;
		unsigned long long t = strtoull(buf + 7, &end, 10);
		if (end != buf + 7 && *end == '\n' && t == txnid)
			return 1;
		*out_why = "the map was written after its last clean close";
		return 0;
	}
	if (strncmp(buf, "open ", 5) == 0) {
		boot_id(boot);
		n = strcspn(buf + 5, "\n");
		if (boot[0] != '\0' && n == strlen(boot) && memcmp(buf + 5, boot, n) == 0)
			return 1; /* a process crash: the page cache kept every page */
		*out_why = "the map was not closed cleanly before a reboot (unsynced pages may be lost)";
		return 0;
	}
	*out_why = "the map's state file is malformed";
	return 0;
}

/* root_leaf_check: if leaf |covered| - 1 of the log is a map-root leaf
 * (entry/mapkeys.h: a 66-byte MerkleTreeLeaf of entry type 0x8003 whose
 * MapRootBody says covered - 1), the map of [0, covered) has its root and
 * key count (the map-root leaf files no key). 1 if so or if the leaf is not
 * one (a catch-up chunk may end anywhere), 0 if they differ. */
static int root_leaf_check(struct store *s, const struct store__map_state *st)
{
	MDB_txn *txn;
	MDB_val k, v;
	uint8_t key[8];
	int ok = 1;

	if (st->covered == 0)
		return 1;
	if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0)
		return 1; /* store__load just read it: nothing more to learn */
	mn_put_be64(key, st->covered - 1);
	k.mv_size = 8;
	k.mv_data = key;
	if (mdb_get(txn, s->dbi[STORE__DBI_LEAVES], &k, &v) == 0 && v.mv_size == 66) {
		const uint8_t *p = v.mv_data;
		if (p[0] == 0 && p[1] == 0 && p[10] == 0x80 && p[11] == 0x03 && p[12] == 0 &&
		    p[13] == 0 && p[14] == 49 && p[15] == 1 &&
		    mn_get_be64(p + 16) == st->covered - 1)
			ok = mn_get_be64(p + 24) == st->num_keys &&
			     memcmp(p + 32, st->root, MERKLE_HASH_LEN) == 0;
	}
	mdb_txn_abort(txn);
	return ok;
}

static void close_env(struct store *s)
{
	if (s->menv != NULL)
		mdb_env_close(s->menv);
	s->menv = NULL;
	for (unsigned i = STORE__NUM_LOG_DBI; i < STORE__NUM_DBI; i++)
		s->dbi[i] = 0;
}

/* try_open opens DIR/map and its databases; *out_why says what failed. */
static int try_open(struct store *s, int writable, const char **out_why)
{
	char dir[PATH_MAX];
	MDB_envinfo info;
	MDB_txn *txn = NULL;
	uint64_t size;
	int rc;

	*out_why = "the map cannot be opened";
	if (!path_in(s, NULL, dir))
		return 0;
	if (mdb_env_info(s->env, &info) != 0)
		return 0;
	size = info.me_mapsize < DEFAULT_MAP_ENV_SIZE ? info.me_mapsize : DEFAULT_MAP_ENV_SIZE;
	if (size > s->max_map_size)
		size = s->max_map_size;
	if (mdb_env_create(&s->menv) != 0) {
		s->menv = NULL;
		return 0;
	}
	if (mdb_env_set_maxdbs(s->menv, MAP_MAX_DBS) != 0 ||
	    mdb_env_set_maxreaders(s->menv, MAP_MAX_READERS) != 0 ||
	    mdb_env_set_mapsize(s->menv, (size_t)size) != 0)
		goto fail;
	/* MDB_NOTLS as the log's (a reader's txns move between threads);
	 * MDB_NOSYNC: see the top of this file */
	rc = mdb_env_open(s->menv, dir, MDB_NOTLS | (writable ? MDB_NOSYNC : MDB_RDONLY), 0600);
	if (rc != 0) {
		*out_why = rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH || rc == MDB_CORRUPTED ?
				   "the map's file is not a valid LMDB environment" :
				   "the map cannot be opened";
		goto fail;
	}
	if (writable && mdb_env_info(s->menv, &info) == 0 && info.me_mapsize > size &&
	    info.me_mapsize < s->max_map_size) {
		/* leave room, as store_open does for the log */
		uint64_t next = info.me_mapsize > s->max_map_size / 2 ? s->max_map_size :
				(uint64_t)info.me_mapsize * 2;
		if (mdb_env_set_mapsize(s->menv, (size_t)next) != 0)
			goto fail;
	}
	if (mdb_txn_begin(s->menv, NULL, writable ? 0 : MDB_RDONLY, &txn) != 0)
		goto fail;
	for (unsigned i = STORE__NUM_LOG_DBI; i < STORE__NUM_DBI; i++) {
		rc = mdb_dbi_open(txn, map_dbs[i - STORE__NUM_LOG_DBI].name,
				  map_dbs[i - STORE__NUM_LOG_DBI].flags | (writable ? MDB_CREATE : 0),
				  &s->dbi[i]);
		if (rc != 0) {
			*out_why = "the map's databases cannot be opened";
			mdb_txn_abort(txn);
			goto fail;
		}
	}
	if (mdb_txn_commit(txn) != 0) {
		*out_why = "the map's databases cannot be opened";
		goto fail;
	}
	return 1;
fail:
	close_env(s);
	return 0;
}

/* check: the map in DIR/map against the log; *out_why says what disagrees. */
static int check(struct store *s, const char **out_why)
{
	struct store__map_state st;
	MDB_txn *txn;
	int err;

	if (mdb_txn_begin(s->menv, NULL, MDB_RDONLY, &txn) != 0) {
		*out_why = "the map cannot be read";
		return 0;
	}
	err = store__map_check(s, txn, s->range.size, out_why);
	if (err == 0 && store__map_get(s, txn, &st) == 0 && !root_leaf_check(s, &st)) {
		*out_why = "the map's root differs from the log's map-root leaf at its size";
		err = MN_ECORRUPT;
	}
	mdb_txn_abort(txn);
	return err == 0;
}

static void discard(struct store *s)
{
	static const char *const files[] = {"data.mdb", "lock.mdb", "state"};
	char path[PATH_MAX];

	close_env(s);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (path_in(s, files[i], path))
			unlink(path);
}

int store__mapenv_open(struct store *s)
{
	char dir[PATH_MAX], data[PATH_MAX], text[80], boot[64];
	struct stat sb;
	const char *why = NULL;
	DIRBUF;

	if (!path_in(s, NULL, dir) || !path_in(s, "data.mdb", data))
		return MN_EINVAL;
	if (s->read_only) {
		if (stat(data, &sb) != 0)
			return 0; /* no map */
		if (!try_open(s, 0, &why))
			mn_warn("store_map_unavailable", "dir=%s reason=\"%s\"", DIR_S(s),
				why);
		return 0;
	}
	if (!s->map_on)
		return 0;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		mn_error("store_open_failed", "dir=%s op=mkdir_map reason=\"%s\"", DIR_S(s),
			 strerror(errno));
		return MN_EIO;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		int existed = stat(data, &sb) == 0 && sb.st_size > 0;

		why = NULL;
		if (try_open(s, 1, &why)) {
			MDB_envinfo info;
			int trusted = !existed;

			if (existed && mdb_env_info(s->menv, &info) == 0)
				trusted = state_trusted(s, (uint64_t)info.me_last_txnid, &why);
			if (trusted && check(s, &why))
				break;
		}
		if (attempt == 1) {
			mn_error("store_open_failed", "dir=%s reason=\"a new map environment: "
				 "%s\"", DIR_S(s), why);
			close_env(s);
			return MN_EIO;
		}
		mn_warn("store_map_discarded", "dir=%s reason=\"%s\" "
			"action=\"rebuilt from the log's leaves\"", DIR_S(s), why);
		discard(s);
	}
	/* from here on the map may have pages the disk does not */
	boot_id(boot);
	snprintf(text, sizeof(text), "open %s\n", boot);
	if (state_write(s, text) != 0) {
		mn_error("store_open_failed", "dir=%s op=map_state reason=\"%s\"", DIR_S(s),
			 strerror(errno));
		close_env(s);
		return MN_EIO;
	}
	return 0;
}

void store__mapenv_close(struct store *s)
{
	MDB_envinfo info;
	char text[40];
	DIRBUF;

	if (s->menv == NULL)
		return;
	if (!s->read_only) {
		if (mdb_env_sync(s->menv, 1) == 0 && mdb_env_info(s->menv, &info) == 0) {
			snprintf(text, sizeof(text), "closed %" PRIu64 "\n",
				 (uint64_t)info.me_last_txnid);
			if (state_write(s, text) != 0)
				mn_warn("store_map_close", "dir=%s reason=\"state not written: "
					"the map will be rebuilt after a reboot\"", DIR_S(s));
		}
	}
	close_env(s);
}

int store__migrate_map(struct store *s, MDB_txn *txn)
{
	/* the layouts before DIR/map: "2" (map_tiles2, map_items2, meta map2)
	 * and the first (map_tiles, map_data, map_items, meta map) */
	static const struct {
		const char *name;
		unsigned flags;
	} old[] = {
		{"map_tiles2", 0}, {"map_items2", MDB_DUPSORT | MDB_DUPFIXED},
		{"map_tiles", 0},  {"map_data", 0},
		{"map_items", MDB_DUPSORT | MDB_DUPFIXED},
	};
	static const char *const old_meta[] = {"map2", "map"};
	int dropped = 0, rc;
	DIRBUF;

	for (size_t i = 0; i < sizeof(old) / sizeof(old[0]); i++) {
		MDB_dbi dbi;

		rc = mdb_dbi_open(txn, old[i].name, old[i].flags, &dbi);
		if (rc == MDB_NOTFOUND)
			continue;
		if (rc == 0)
			rc = mdb_drop(txn, dbi, 1);
		if (rc != 0)
			return store__err(rc);
		dropped = 1;
	}
	for (size_t i = 0; i < sizeof(old_meta) / sizeof(old_meta[0]); i++) {
		MDB_val k = {strlen(old_meta[i]), (void *)old_meta[i]};

		rc = mdb_del(txn, s->dbi[STORE__DBI_META], &k, NULL);
		if (rc != 0 && rc != MDB_NOTFOUND)
			return store__err(rc);
	}
	if (dropped)
		mn_info("store_map_migrated", "dir=%s what=\"the map moved to DIR/map: the "
			"old one is dropped and the map rebuilt from the log's leaves\"",
			DIR_S(s));
	return 0;
}
