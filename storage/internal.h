/* storage/internal.h: what store.c, tiles.c and reader.c share. Only storage/
 * includes this header (and <lmdb.h>); tests may include it.
 *
 * Tree hashes live in the `tiles` database, grouped like c2sp.org/tlog-tiles
 * tiles of height 8. Tile (L, I) holds, for r = 0..7, the hashes of the level
 * 8L+r nodes with index j in [(256>>r)*I, (256>>r)*(I+1)), at slot
 * start(r) + (j mod (256>>r)), start(r) = 512 - (512>>r). So slots 0..255 are
 * exactly a tlog tile's content, and one mdb_get serves up to 8 levels of a
 * proof. Level 8L+8 belongs to tile level L+1. A value is always
 * STORE__TILE_BYTES long; slots of nodes not yet complete are zero. The key is
 * u8 tile_level || u64 tile_index (big-endian). */
#ifndef MN_STORAGE_INTERNAL_H
#define MN_STORAGE_INTERNAL_H

#include <lmdb.h>
#include <pthread.h>

#include "storage/storage.h"

#define STORE__TILE_HEIGHT 8
#define STORE__TILE_SLOTS 510
#define STORE__TILE_BYTES (STORE__TILE_SLOTS * MERKLE_HASH_LEN)
#define STORE__TILE_KEY_LEN 9
/* The leaf-hash index is keyed by the first 8 bytes of the leaf hash, with
 * the leaf indexes (u64 big-endian) as sorted duplicates: half the pages of
 * a 32-byte key, so a lookup in a big log touches fewer cold pages. A lookup
 * compares the full hash with the leaf's level-0 tree hash, which the
 * inclusion proof that follows reads from the same tile anyway. */
#define STORE__LEAFHASH_PREFIX 8
/* 64 tree levels / 8 per tile. */
#define STORE__TILE_LEVELS 8

/* STH as stored in meta "sth":
 *   uint64 tree_size; uint64 timestamp; opaque root[32];
 *   opaque signature<0..2^16-1> (at most STORE_MAX_SIG_LEN bytes) */
#define STORE__STH_MAX_LEN (8 + 8 + MERKLE_HASH_LEN + 2 + STORE_MAX_SIG_LEN)

enum {
	STORE__DBI_LEAVES,
	STORE__DBI_EXTRA,
	STORE__DBI_LEAFHASH,
	STORE__DBI_TILES,
	STORE__DBI_DEDUP,
	STORE__DBI_META,
	STORE__DBI_IDX_DNS,
	STORE__DBI_IDX_EMAIL,
	STORE__DBI_IDX_PGP,
	STORE__DBI_IDX_POLICY,
	STORE__DBI_IDX_CERT, /* must follow the other indexes: see enum store_index */
	STORE__DBI_POLICY_HEAD,
	STORE__DBI_OPENINGS,
	/* the lookup map (storage/map.c), in the map's own environment DIR/map
	 * (storage/mapenv.c): handles of store.menv, not of store.env */
	STORE__DBI_MAP_TILES,
	STORE__DBI_MAP_ITEMS,
	STORE__DBI_MAP_META,
	STORE__NUM_DBI
};
/* The log environment's databases are those before the map's. */
#define STORE__NUM_LOG_DBI STORE__DBI_MAP_TILES

/* The last tile looked up at each tile level; |data| borrows from the txn. */
struct store__tile_cache {
	int valid;
	uint64_t index;
	const uint8_t *data;
};

/* Right edges kept per reader (see store_reader.edges). */
#define STORE__NUM_EDGES 4
/* The map's tile cache for proofs (map_cache_new): strata 1..3 of the trie
 * are the 4,368 tiles every proof of a map of more than 65,536 keys reads;
 * at most 4,096 slots of ~4.2 KB are touched (17 MB), fewer for small maps. */
#define STORE__MAP_CACHE_SLOTS 4096
#define STORE__MAP_CACHE_STRATA 3

struct store_reader {
	struct store *s;
	MDB_txn *txn;              /* reset (not aborted) while on the free list */
	/* The map environment's snapshot (store.menv; NULL without one), taken
	 * with txn so that the map it shows is the one the STH commits to, or
	 * older while the map lags the log (store_read_begin). */
	MDB_txn *mtxn;
	struct merkle_hasher *h;
	uint64_t tree_size;
	int has_sth;
	struct store_sth sth;
	struct store__tile_cache cache[STORE__TILE_LEVELS];
	struct store_reader *next; /* free list */
	/* The right edges (merkle_edge) of the tree sizes recent proofs asked
	 * for, so that a proof at a cached size reads one node per proof node
	 * and hashes nothing. An edge is a pure function of the size in this
	 * append-only tree, so it outlives the txn: it stays valid while the
	 * reader sits on the free list and across snapshots. Filled for the
	 * snapshot's STH size, and for any other size asked for twice in a row
	 * (a one-off older size would cost more to cache than to prove).
	 * Entries with size 0 are empty (no proof has size 0). */
	struct merkle_edge edges[STORE__NUM_EDGES];
	unsigned next_edge;        /* round-robin victim */
	uint64_t last_miss;        /* the last uncached size not filled */
};

struct store {
	MDB_env *env;
	MDB_dbi dbi[STORE__NUM_DBI];
	char *dir;
	int read_only;
	uint64_t max_map_size;

	/* mdb_env_set_mapsize needs every read txn of this process finished. A
	 * counter rather than a pthread_rwlock because a reader may be ended on
	 * another thread than the one that began it (an rwlock would be UB).
	 * The resizer waits for num_active == 0; new readers wait only while the
	 * resize itself runs, not while a resizer waits, so a thread holding two
	 * snapshots cannot deadlock against it (the price: under a constant
	 * overlap of readers a resize waits for a gap). */
	pthread_mutex_t rd_mu;
	pthread_cond_t rd_cond;
	unsigned num_active;       /* readers between read_begin and read_end */
	int resizing;              /* mdb_env_set_mapsize running */
	struct store_reader *free_list;
	unsigned num_free;

	pthread_mutex_t write_mu;  /* one store_append_batch at a time */
	struct merkle_hasher *hasher; /* the writer's (under write_mu) */
	uint8_t *tile_buf;         /* STORE__TILE_LEVELS tiles, the writer's scratch */

	/* Complete upper tiles in memory (upper.c), made by the first reader that
	 * needs one; NULL until then, or for good if it could not be made
	 * (upper_failed). Read with __atomic_load_n; set under rd_mu. */
	struct store__upper *upper;
	int upper_failed;

	int map_on;                /* store_options.map */
	uint32_t format;           /* STORE_FMT_*, fixed at creation */
	/* The map's own LMDB environment, DIR/map (mapenv.c), opened with
	 * MDB_NOSYNC: the map is derived from the log, so its pages need no
	 * fsync per commit. NULL if there is none (a read-only open of a log
	 * without one, or a writable open without .map). */
	MDB_env *menv;
	/* The writer commits the log, then the map (writer.c). Between the two
	 * map_pending is the tree size being committed; readers that see that
	 * STH wait on map_cond (under map_mu) until the map follows. */
	pthread_mutex_t map_mu;
	pthread_cond_t map_cond;
	uint64_t map_pending;
	int map_failed;            /* a map commit failed: it lags until restart */
	/* Hashed upper tiles of the map for proofs (map_cache_new); NULL if it
	 * could not be made (proofs then read and hash every tile). */
	struct map_cache *map_cache;

	pthread_mutex_t state_mu;  /* guards the copies below for other threads */
	struct merkle_range range;
	struct store_sth sth;
	int has_sth;
};

/* store__err maps an LMDB or errno code to MN_E*: MDB_NOTFOUND MN_ENOTFOUND,
 * MDB_KEYEXIST MN_EEXISTS, MDB_MAP_FULL/ENOSPC/EDQUOT MN_ENOSPACE,
 * EACCES/EROFS/EPERM MN_EREADONLY, ENOMEM MN_ENOMEM, MDB_READERS_FULL
 * MN_EBUSY, structural LMDB errors MN_ECORRUPT, anything else MN_EIO. */
int store__err(int rc);

/* store__sth_encode writes |sth| to |out| (STORE__STH_MAX_LEN bytes of room)
 * and returns its length. store__sth_decode returns 1 iff |in| is exactly one
 * well-formed stored STH. */
size_t store__sth_encode(uint8_t out[STORE__STH_MAX_LEN], const struct store_sth *sth);
int store__sth_decode(struct store_sth *out, const uint8_t *in, size_t len);

/* store__tile_key writes the 9-byte key of tile (tile_level, tile_index). */
void store__tile_key(uint8_t key[STORE__TILE_KEY_LEN], unsigned tile_level,
		     uint64_t tile_index);
/* store__node_pos locates node (level, index), level < 64: its tile and the
 * byte offset of its hash inside the tile value. */
void store__node_pos(unsigned level, uint64_t index, unsigned *out_tile_level,
		     uint64_t *out_tile_index, size_t *out_offset);
/* store__get_node reads node (level, index) from the tiles in |txn| through
 * |cache| (STORE__TILE_LEVELS entries, zeroed before first use in a txn). The
 * caller checks that the node is complete. Returns 0, MN_ECORRUPT (tile
 * missing, wrong size, or the slot is still zero; logged), or a store__err. */
int store__get_node(MDB_txn *txn, MDB_dbi tiles, struct store__tile_cache *cache,
		    unsigned level, uint64_t index, uint8_t out[MERKLE_HASH_LEN]);

/* The writer's open tiles during one batch. Since node indices only grow, there
 * is at most one open tile per tile level: it is loaded when first touched and
 * put back when the level moves to the next tile and at the end. */
struct store__tile_writer {
	MDB_txn *txn;
	MDB_dbi dbi;
	uint8_t *bufs; /* STORE__TILE_LEVELS * STORE__TILE_BYTES, borrowed */
	struct {
		int open;
		uint64_t index;
	} t[STORE__TILE_LEVELS];
	int err;       /* sticky MN_E* (the node callback cannot return one) */
	int mdb_rc;    /* the LMDB code behind err, for MDB_MAP_FULL */
};
void store__tile_writer_init(struct store__tile_writer *tw, MDB_txn *txn, MDB_dbi dbi,
			     uint8_t *bufs);
/* store__tile_writer_node is a merkle_node_fn: it stores |hash| in its tile. */
void store__tile_writer_node(void *ctx, unsigned level, uint64_t index,
			     const uint8_t hash[MERKLE_HASH_LEN]);
/* store__tile_writer_finish puts back every open tile. Returns 0 or the sticky
 * error. */
int store__tile_writer_finish(struct store__tile_writer *tw);

/* store__leafhash_walk looks among the leaves filed under |hash|'s 8-byte
 * prefix in the leaf-hash index |dbi| of |txn|, lowest index first and below
 * |limit|, for one whose level-0 tree hash, read with |get|, is |hash|.
 * Returns 0 with *out_index, MN_ENOTFOUND, MN_ECORRUPT (a malformed value;
 * logged), get's error, or a store__err code. */
int store__leafhash_walk(MDB_txn *txn, MDB_dbi dbi, const uint8_t hash[MERKLE_HASH_LEN],
			 uint64_t limit, merkle_get_fn get, void *ctx, uint64_t *out_index);

/* store__tile_load points *out at tile (tile_level, tile_index) in |txn|.
 * Returns 0, MN_ECORRUPT (missing or of the wrong size; logged) or a
 * store__err code. */
int store__tile_load(MDB_txn *txn, MDB_dbi tiles, unsigned tile_level,
		     uint64_t tile_index, const uint8_t **out);
/* store__tile_node copies node (level, index), at byte |off| of tile
 * (tile_level, tile_index) |data|, to |out|. Returns 0, or MN_ECORRUPT
 * (logged) if the slot is still zero. */
int store__tile_node(const uint8_t *data, unsigned level, uint64_t index,
		     unsigned tile_level, uint64_t tile_index, size_t off,
		     uint8_t out[MERKLE_HASH_LEN]);

/* Complete tiles of tile level >= 1 kept in memory (upper.c). A tile (L, I)
 * is complete once the tree has (I + 1) << (8 * (L + 1)) leaves; from then on
 * its content never changes, so a copy is good for every later snapshot.
 * store__upper_new returns NULL if memory cannot be had (callers then read
 * LMDB). store__upper_get returns the copy of (L, I) or NULL.
 * store__upper_put offers |data|, the complete tile (L, I) as read from a
 * snapshot; returns the copy if there is one now, else NULL. Both are safe
 * from any number of threads. */
struct store__upper;
struct store__upper *store__upper_new(void);
void store__upper_free(struct store__upper *u);
const uint8_t *store__upper_get(struct store__upper *u, unsigned tile_level,
				uint64_t tile_index);
const uint8_t *store__upper_put(struct store__upper *u, unsigned tile_level,
				uint64_t tile_index, const uint8_t *data);
/* store__upper_count: the tiles held (0 for NULL). */
uint64_t store__upper_count(struct store__upper *u);

/* store__load reads meta "state" and "sth" in |txn| and checks them against
 * each other, the leaves and extra databases and the stored tree hashes of the
 * range's right-edge subtrees. It modifies nothing. Returns 0, MN_ECORRUPT (with
 * a log line saying what disagrees), or a store__err code. This is the check
 * store_open runs on the data on disk. */
int store__load(struct store *s, MDB_txn *txn, struct merkle_range *out_range,
		struct store_sth *out_sth, int *out_has_sth);

/* store__map_resize sets the map size to |size| (0: adopt the size another
 * process set) once no reader of this process is active. Called by the writer
 * or a reader that holds no snapshot. Returns 0 or a store__err code.
 * store__env_resize is the same for either environment (env or menv). */
int store__map_resize(struct store *s, uint64_t size);
int store__env_resize(struct store *s, MDB_env *env, uint64_t size);

/* The meta database's keys: the compact range and the latest STH. */
#define META_STATE "state"
#define META_STH "sth"
#define META_NOTE "note" /* store_append_batch_note */
#define META_FORMAT "format"
/* the STORE_FMT_* flags this version knows */
#define STORE__FMT_KNOWN STORE_FMT_LEAF_INDEX

/* store__safe_dir: the data directory, sanitized for one log line, in |buf|. */
const char *store__safe_dir(const struct store *s, char *buf, size_t len);
#define DIRBUF char dirbuf[256]
#define DIR_S(s) store__safe_dir((s), dirbuf, sizeof(dirbuf))

/* store__grow_map doubles the map size (up to max_map_size); the caller holds
 * write_mu. 0 or MN_ENOSPACE. */
int store__grow_map(struct store *s);
/* store__grow_env: the same for |env| (the log's or the map's). */
int store__grow_env(struct store *s, MDB_env *env);

/* --- the lookup map (map.c) --- */

/* A key's leaf payload in map_tiles2 (map/map.h): u64 count, then
 *   count <= STORE__MAP_INLINE: its items (u64 index || leaf hash[32], index
 *     order); the list's compact range is computed from them (<= 4 hashes);
 *   else: its compact range's popcount(count) hashes (so the payload is what
 *     merkle_range_encode writes), the items being in map_items2.
 * At most 8 + 64 * 32 = 2,056 bytes, under MAP_MAX_PAYLOAD. */
#define STORE__MAP_INLINE 4

/* The map's state as stored in meta "map2": u64 covered || u64 num_keys ||
 * root[32]: the map of leaves [0, covered). */
struct store__map_state {
	uint64_t covered;
	uint64_t num_keys;
	uint8_t root[MERKLE_HASH_LEN];
};
/* store__map_get reads the map state in |txn|, a transaction of the map's
 * environment: 0, MN_ENOTFOUND (no map yet), MN_ECORRUPT. */
int store__map_get(struct store *s, MDB_txn *txn, struct store__map_state *out);
/* store__map_check: the stored map state (map txn |txn|) covers at most
 * |tree_size| leaves and its root is what its tiles give (open-time check).
 * 0 or MN_ECORRUPT (with *out_why saying what disagrees). */
int store__map_check(struct store *s, MDB_txn *txn, uint64_t tree_size, const char **out_why);

/* --- the map's environment (mapenv.c) --- */

/* store__mapenv_open opens DIR/map for |s| after the log's environment is
 * loaded: writable (created if missing) when the store is writable and
 * .map is on, read-only when the store is read-only and DIR/map exists,
 * not at all otherwise (s->menv stays NULL). A writable open checks the
 * map against the log and discards it (the map is then rebuilt from the
 * log by store_map_catch_up's caller) when it cannot be trusted: written
 * since a boot that is not this one without a clean close (an OS crash
 * with MDB_NOSYNC may have left it damaged), unreadable, ahead of the log,
 * or disagreeing with its tiles or with the log's last map-root leaf.
 * Returns 0 or an MN_E* (only for what discarding cannot cure). */
int store__mapenv_open(struct store *s);
/* store__mapenv_close syncs the map and records a clean close (writable),
 * then closes it. */
void store__mapenv_close(struct store *s);
/* store__migrate_map drops a map kept in the log environment by an earlier
 * layout (map_tiles2, map_items2, meta "map2", and the first layout's), in
 * the log's write txn |txn| at open. Returns 0 or a store__err code. */
int store__migrate_map(struct store *s, MDB_txn *txn);
/* store__map_apply files the map keys of leaves |l|[0..num) (their indexes
 * first, first + 1, ...) in the map inside |txn| and writes the new state
 * (covered = first + num) to meta. |st| is the state before (covered must be
 * |first|: the map files every leaf, in order).
 * Returns 0, an MN_E* or, with *out_mdb_rc set, the LMDB failure. */
int store__map_apply(struct store *s, MDB_txn *txn, struct store__map_state *st,
		     uint64_t first, const struct store_leaf *l, size_t num,
		     int *out_mdb_rc);

#endif
