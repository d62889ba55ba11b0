/* storage.h: the log's durable state in one LMDB environment (and the lookup
 * map, derived from it, in a second one: DIR/map, see "the lookup map"). The
 * only module that includes <lmdb.h>. It stores bytes: it does not parse
 * leaves or sign.
 *
 * Durability contract: store_append_batch returns 0 only after the batch, its
 * tree hashes, indexes and the new STH are committed and fsynced (unless
 * store_options.no_sync, which is for benchmarks only). A batch is all or
 * nothing: on any error nothing of it is visible, now or after a crash.
 * The tree only grows: nothing here deletes or rewrites a leaf.
 *
 * Databases (DESIGN.md section 5; integers are big-endian):
 *   leaves    u64 index -> leaf_input (MerkleTreeLeaf)
 *   extra     u64 index -> u24 extra_len || extra_data || u16 sct_len || sct
 *   leafhash  leaf hash[32] -> u64 index
 *   tiles     u8 tile_level || u64 tile_index -> hashes (layout in internal.h)
 *   dedup     key[32] -> u64 index
 *   meta      "state" -> compact range; "sth" -> latest signed tree head;
 *             "format" -> u32 STORE_FMT_* flags, written once when the log is
 *             created and never changed (a log from before it has none: 0)
 * and in DIR/map (MDB_NOSYNC): map_tiles2, map_items2, meta "map2" (internal.h)
 *
 * Threads: one writer at a time (the sequencer); any number of readers on any
 * threads. A store_reader is one read snapshot, used by one thread at a time;
 * it may be ended on another thread than the one that began it. A thread that
 * calls store_append_batch must not hold a reader of the same store (growing
 * the map waits until no reader is open). */
#ifndef MN_STORAGE_H
#define MN_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include "merkle/merkle.h"

#define STORE_MAX_SIG_LEN 80

struct store;
struct store_reader;

struct store_options {
	const char *dir;        /* created (0700) if missing */
	uint64_t map_size;      /* initial map size; 0 = 1 GiB */
	uint64_t max_map_size;  /* the map doubles on MDB_MAP_FULL up to this; 0 = 1 TiB */
	int no_sync;            /* MDB_NOSYNC: benchmarks only, never in logd */
	int read_only;          /* open for reading only (tools, checks) */
	int map;                /* maintain the lookup map (store_append_mapped) */
	int no_leaf_index;      /* only when this open creates the log: create it
				 * without STORE_FMT_LEAF_INDEX (the RFC 6962
				 * format); an existing log keeps its format */
};

/* Format flags of a log (meta "format"), fixed at creation. The store does not
 * interpret them; its users do.
 *   STORE_FMT_LEAF_INDEX: every leaf i carries the static-ct-api leaf_index
 *   extension with value i (entry/ct.h), in its TimestampedEntry and so in
 *   its SCT. Such a log stores no SCTs (struct store_leaf.sct is empty): an
 *   SCT is signed after its leaf is committed, from the leaf. */
#define STORE_FMT_LEAF_INDEX 1u

/* A signed tree head as stored: |sig| is the encoded DigitallySigned struct. */
struct store_sth {
	uint64_t tree_size;
	uint64_t timestamp;
	uint8_t root[MERKLE_HASH_LEN];
	uint16_t sig_len;
	uint8_t sig[STORE_MAX_SIG_LEN];
};

/* Lookup indexes (DESIGN.md section 5). Keys are at most STORE_MAX_INDEX_KEY
 * bytes; each (key, leaf index) pair is stored once, ordered by key, then by
 * leaf index, so a scan of one key returns its leaves in log order. */
enum store_index {
	STORE_IDX_DNS,    /* reversed DNS labels: "com.example.www." */
	STORE_IDX_EMAIL,  /* "com.example.@alice" (domain reversed, then @local) */
	STORE_IDX_PGP,    /* fingerprints (endorsed keys and certifiers) */
	STORE_IDX_POLICY, /* policy subject key: see entry/policy.h */
	STORE_IDX_CERT,   /* SHA-256 of a logged certificate's DER (x5t#S256), 32
			   * bytes; and 'i' || SHA-256 of an issuer in a logged
			   * chain, 33 bytes (the issuer/<hex> endpoint) */
	STORE_NUM_INDEXES
};
#define STORE_MAX_INDEX_KEY 255

struct store_index_key {
	uint8_t index;      /* enum store_index */
	uint8_t key_len;    /* 1..STORE_MAX_INDEX_KEY */
	const uint8_t *key;
};

/* One leaf to append. All pointers are borrowed for the duration of the call. */
struct store_leaf {
	const uint8_t *leaf_input; /* MerkleTreeLeaf */
	size_t leaf_input_len;
	const uint8_t *extra;      /* extra_data, RFC 6962 section 4.6 */
	size_t extra_len;
	const uint8_t *sct;        /* serialized SignedCertificateTimestamp */
	size_t sct_len;
	uint8_t leaf_hash[MERKLE_HASH_LEN]; /* merkle_leaf_hash(leaf_input); trusted */
	uint8_t dedup_key[32];     /* tagged content hash, see entry/ */
	/* Kept outside the leaf, served only to exact lookups (a PGP user ID's
	 * salted commitment opening); may be empty. */
	const uint8_t *opening;
	size_t opening_len;
	/* Lookup index entries for this leaf. */
	const struct store_index_key *keys;
	size_t num_keys;
	/* A policy statement: its head is replaced if policy_serial is higher than
	 * the stored one for policy_key (else the batch fails with MN_ERANGE). */
	const uint8_t *policy_key;
	size_t policy_key_len;     /* 0 = not a policy; at most STORE_MAX_INDEX_KEY */
	uint64_t policy_serial;
	/* The leaf's map keys (entry/mapkeys.h), sorted, distinct; used only by
	 * store_append_mapped and store_map_catch_up. */
	const uint8_t (*map_keys)[32];
	size_t num_map_keys;
};

/* store_open opens (creating if needed) the environment in opt->dir and checks
 * that the stored leaves, compact range and latest STH agree (tree size equal
 * everywhere, range root == STH root, the range's hashes equal the stored tree
 * hashes). It never repairs. A log with no STH and no leaf yet is new: its
 * format is recorded now (see store_format). Returns 0 and sets *out, or
 * MN_EIO (dir missing and not creatable, permissions), MN_EREADONLY,
 * MN_ECORRUPT (state disagrees, or format flags this version does not know;
 * the log line says how), MN_ENOMEM. */
int store_open(struct store **out, const struct store_options *opt);
/* store_close closes the environment. No reader may be open. NULL is a no-op. */
void store_close(struct store *s);

/* store_get_range copies the current compact range (the writer's view). */
void store_get_range(struct store *s, struct merkle_range *out);
/* store_format returns the log's STORE_FMT_* flags. A log created by this
 * version gets STORE_FMT_LEAF_INDEX unless store_options.no_leaf_index; one
 * that already held an STH or leaves before formats were recorded gets 0. */
uint32_t store_format(struct store *s);
/* store_has_sth returns 1 once an STH has been stored (0 for a new log). */
int store_has_sth(struct store *s);

/* store_append_batch appends |num| leaves (indexes continuing the tree) and
 * replaces the latest STH with |sth| in one durable transaction. |sth| must
 * cover exactly the new tree: sth->tree_size == old size + num and sth->root ==
 * the root after appending the leaf hashes; its timestamp must not be older than
 * the current STH's. |num| may be 0 to store a re-signed STH of the same tree.
 * Returns 0, MN_EINVAL (sth does not match; nothing written), MN_EEXISTS (a
 * leaf hash or dedup key is already stored), MN_ENOSPACE (map at max_map_size or
 * disk full), MN_EREADONLY, MN_EIO. On error nothing is written. */
int store_append_batch(struct store *s, const struct store_leaf *leaves, size_t num,
		       const struct store_sth *sth);

/* store_append_batch_note is store_append_batch that also stores |note| (1 to
 * STORE_MAX_NOTE_LEN bytes, copied), the signed note of |sth| as its signer
 * published it (a mirror: the origin's checkpoint, byte for byte), in the same
 * transaction; store_r_note returns it while |sth| is the latest STH. Every
 * other append (store_append_batch, store_append_mapped) removes the stored
 * note, so a note is never served beside another STH. Errors as
 * store_append_batch (MN_EINVAL also for a note that is empty or too long). */
#define STORE_MAX_NOTE_LEN 65536
int store_append_batch_note(struct store *s, const struct store_leaf *leaves, size_t num,
			    const struct store_sth *sth, const uint8_t *note, size_t note_len);

/* --- the lookup map (DESIGN.md section 10, map/map.h) ------------------------
 *
 * With store_options.map, every batch also files its leaves' map keys in the
 * map and appends a map-root leaf committing to the new map, in the same
 * transaction: so every STH's last leaf is a map root (while the map is on).
 * The map of leaves [0, covered) is stored as tiles (map/map.h) whose leaves'
 * payloads hold each key's list state (its compact range, and its items while
 * at most STORE__MAP_INLINE: internal.h), and the items (index, leaf hash) of
 * longer lists in map_items2.
 *
 * The map is derived state, so it lives in its own LMDB environment, DIR/map,
 * written without fsync (MDB_NOSYNC) and committed right after the log's
 * durable commit; only the log's commit (the leaves, the map-root leaf, the
 * STH) is durable per batch. A reader's snapshot shows the map its STH
 * commits to (or an older one while the map is being caught up: store_r_map
 * says how far it covers). At open the map is checked against the log and,
 * if it cannot be trusted (deleted, damaged, left by an OS crash without a
 * clean close, ahead of the log, or disagreeing with the log's last map-root
 * leaf), discarded with a log line: it is then absent, and the caller
 * rebuilds it from the leaves with store_map_catch_up (logd does at start).
 * A map kept inside the log's environment by an earlier layout is dropped
 * at open the same way. storage/mapenv.c says how. */

/* store_map_commit: what store_append_mapped asks its caller inside the
 * write transaction, once the map's new root is known. */
struct store_map_commit {
	/* leaf builds the map-root leaf for the map of leaves [0, covered) with
	 * |num_keys| keys and root |map_root|; it will be leaf |covered|. The
	 * pointers in *out must stay valid until store_append_mapped returns.
	 * 0 or an MN_E* that fails the batch. */
	int (*leaf)(void *ctx, uint64_t covered, uint64_t num_keys,
		    const uint8_t map_root[MERKLE_HASH_LEN], struct store_leaf *out);
	/* sign fills *out with the signed tree head of the new tree (tree_size,
	 * root); its timestamp must not be older than the stored STH's. */
	int (*sign)(void *ctx, uint64_t tree_size, const uint8_t root[MERKLE_HASH_LEN],
		    struct store_sth *out);
	void *ctx;
};

/* store_append_mapped appends |num| leaves (0: only a map-root leaf, to commit
 * a map that was caught up), files their map keys,
 * appends the map-root leaf from mc->leaf and the STH from mc->sign, in one
 * durable transaction; *out_sth gets the STH stored. The map must cover the
 * tree already (see store_map_catch_up). Errors as store_append_batch, and
 * MN_EINVAL if the store was not opened with .map or the map lags the tree.
 * On error nothing is written (the hooks may have been called). */
int store_append_mapped(struct store *s, const struct store_leaf *leaves, size_t num,
			const struct store_map_commit *mc, struct store_sth *out_sth);

/* store_map_covered: the number of leaves the map covers now (0 for none)
 * and whether a map exists at all. */
void store_map_covered(struct store *s, uint64_t *out_covered, int *out_exists);

/* store_map_catch_up files the map keys of the stored leaves [covered,
 * covered + num) (l[i] describes leaf covered + i: leaf_hash and map keys;
 * other fields are ignored) in one durable transaction, without a map-root
 * leaf: for building the map of a log that had none, or that ran with the map
 * off. 0, MN_EINVAL (not the next leaves), MN_ENOSPACE, MN_EIO. */
int store_map_catch_up(struct store *s, uint64_t first, const struct store_leaf *l,
		       size_t num);

/* store_r_map: the map state in this snapshot: 0, or MN_ENOTFOUND (none). */
int store_r_map(struct store_reader *r, uint64_t *out_covered, uint64_t *out_num_keys,
		uint8_t out_root[MERKLE_HASH_LEN]);
/* store_r_map_prove appends the MapProof of |key| (map/map.h) to |out| and
 * sets *out_count (the key's number of items, 0 if absent). 0, MN_ENOTFOUND
 * (no map), MN_ECORRUPT, MN_ENOMEM. */
struct cbb;
int store_r_map_prove(struct store_reader *r, const uint8_t key[32], struct cbb *out,
		      uint64_t *out_count);
/* One list item: a leaf filed under a key. */
struct store_map_item {
	uint64_t index;
	uint8_t leaf_hash[MERKLE_HASH_LEN];
};
/* store_r_map_list reads every item of |key|'s list, in index order, into a
 * new array (*out, free()) of *out_num items (0 and NULL if none). Lists
 * longer than |max| give MN_ETOOBIG. 0, MN_ENOMEM, MN_ECORRUPT. */
int store_r_map_list(struct store_reader *r, const uint8_t key[32], size_t max,
		     struct store_map_item **out, size_t *out_num);

/* store_read_begin opens a read snapshot. Returns 0, MN_EBUSY (reader table
 * full after a stale-reader check), MN_EIO. */
int store_read_begin(struct store *s, struct store_reader **out);
/* store_read_end closes the snapshot; everything borrowed from it dies. */
void store_read_end(struct store_reader *r);

/* store_r_sth: the latest STH in this snapshot. 0 or MN_ENOTFOUND (new log). */
int store_r_sth(struct store_reader *r, struct store_sth *out);
/* store_r_note: the signed note stored with this snapshot's STH
 * (store_append_batch_note), borrowed until store_read_end. 0, MN_ENOTFOUND
 * (none), MN_EIO. */
int store_r_note(struct store_reader *r, const uint8_t **out, size_t *out_len);
/* store_r_tree_size: tree size in this snapshot. */
uint64_t store_r_tree_size(struct store_reader *r);

/* A stored entry; pointers borrowed until store_read_end. */
struct store_entry {
	const uint8_t *leaf_input;
	size_t leaf_input_len;
	const uint8_t *extra;
	size_t extra_len;
	const uint8_t *sct;
	size_t sct_len;
};
/* store_r_entry: 0, MN_ENOTFOUND (index >= tree size), MN_ECORRUPT. */
int store_r_entry(struct store_reader *r, uint64_t index, struct store_entry *out);
/* store_r_entries fills up to |max| consecutive entries from |start|, stopping at
 * the tree's end; *out_num gets how many (0 if start >= tree size). One cursor
 * walk. 0, MN_ECORRUPT or MN_EIO. */
int store_r_entries(struct store_reader *r, uint64_t start, size_t max,
		    struct store_entry *out, size_t *out_num);
/* store_r_entries_at fills out[i] with entry index[i] for i < num, as
 * store_r_entry does (borrowed until store_read_end), but reads them all
 * before the caller touches any, so that the cache misses of scattered entries
 * overlap. Same errors; on error |out| is unspecified. */
int store_r_entries_at(struct store_reader *r, const uint64_t *index, size_t num,
		       struct store_entry *out);
/* store_r_index_by_hash: 0 or MN_ENOTFOUND. */
int store_r_index_by_hash(struct store_reader *r, const uint8_t hash[MERKLE_HASH_LEN],
			  uint64_t *out_index);
/* store_r_opening: the opening stored with leaf |index| (borrowed until
 * store_read_end). 0 or MN_ENOTFOUND. */
int store_r_opening(struct store_reader *r, uint64_t index, const uint8_t **out,
		    size_t *out_len);
/* store_r_policy_head: the current head (highest serial) for a policy key.
 * 0 or MN_ENOTFOUND. */
int store_r_policy_head(struct store_reader *r, const uint8_t *key, size_t key_len,
			uint64_t *out_serial, uint64_t *out_index);
/* store_index_fn is called for each (key, leaf index) found by a scan, in
 * order; it returns 0 to go on or 1 to stop. |key| is borrowed for the call. */
typedef int (*store_index_fn)(void *ctx, const uint8_t *key, size_t key_len,
			      uint64_t index);
/* store_r_index_scan visits, in (key, index) order, the entries of index |idx|
 * whose key equals |key| (|prefix| == 0) or starts with it (|prefix| != 0),
 * starting at (after_key, after_index) exclusive when |after_key| is not NULL
 * (a paging cursor), and only leaves below the snapshot's tree size.
 * Returns 0 (also when nothing matched), MN_EINVAL, MN_EIO. */
int store_r_index_scan(struct store_reader *r, enum store_index idx, const uint8_t *key,
		       size_t key_len, int prefix, const uint8_t *after_key,
		       size_t after_key_len, uint64_t after_index, store_index_fn fn,
		       void *ctx);
/* store_r_dedup: 0 or MN_ENOTFOUND. */
int store_r_dedup(struct store_reader *r, const uint8_t key[32], uint64_t *out_index);
/* store_r_leaf_hash: the hash of leaf |index|. 0 or MN_ENOTFOUND. */
int store_r_leaf_hash(struct store_reader *r, uint64_t index,
		      uint8_t out[MERKLE_HASH_LEN]);
/* store_r_inclusion_proof / store_r_consistency_proof: as merkle_*_proof over
 * the snapshot's tree; sizes beyond the snapshot's tree size give MN_EINVAL. */
int store_r_inclusion_proof(struct store_reader *r, uint64_t index, uint64_t size,
			    uint8_t out[][MERKLE_HASH_LEN], size_t *out_num);
int store_r_consistency_proof(struct store_reader *r, uint64_t size1, uint64_t size2,
			      uint8_t out[][MERKLE_HASH_LEN], size_t *out_num);
/* store_r_inclusion_proofs writes the inclusion proofs of leaves index[i],
 * i < num (num <= STORE_PROOF_BATCH), at |size|: out[i] and out_num[i] are
 * what store_r_inclusion_proof(r, index[i], size, ...) gives, each a full
 * proof. The tiles of all of them are located and their slots prefetched
 * before the first is built, and a tile shared by neighbours is looked up
 * once. MN_EINVAL if num is too big or any proof would be (out_num all 0
 * then, unless num is too big: then untouched); else the first proof's error,
 * if any. */
#define STORE_PROOF_BATCH 16
int store_r_inclusion_proofs(struct store_reader *r, uint64_t size, const uint64_t *index,
			     size_t num, uint8_t (*out)[MERKLE_MAX_PROOF][MERKLE_HASH_LEN],
			     size_t *out_num);
/* store_r_tile points *out at the first |width| (1..256) hashes of tlog tile
 * (tile_level, tile_index) (c2sp.org/tlog-tiles: level-8*tile_level tree
 * nodes [256 * tile_index, 256 * tile_index + width)), borrowed until
 * store_read_end; those nodes must be complete in this snapshot. 0,
 * MN_EINVAL (level >= 8 or width out of range), MN_ENOTFOUND (not complete
 * yet: the tile or that partial width is beyond the snapshot's tree),
 * MN_ECORRUPT. */
int store_r_tile(struct store_reader *r, unsigned tile_level, uint64_t tile_index,
		 unsigned width, const uint8_t **out);
/* store_r_root: MTH of the first |size| leaves (size <= tree size). */
int store_r_root(struct store_reader *r, uint64_t size, uint8_t out[MERKLE_HASH_LEN]);

struct store_stats {
	uint64_t map_size;      /* current map size (the log's environment) */
	/* pages in use * page size, and the size of data.mdb on disk: the log's
	 * environment plus the lookup map's (DIR/map) when it is open */
	uint64_t used_bytes;
	uint64_t file_bytes;
	uint64_t tree_size;
	uint64_t upper_tiles;   /* complete upper tiles copied into memory */
	/* the lookup map's databases: pages in use (branch, leaf, overflow) *
	 * page size, and their records; 0 without a map (map_data: always 0
	 * since the lists' state moved into the tiles' leaf payloads) */
	uint64_t map_tiles_bytes, map_data_bytes, map_items_bytes;
	uint64_t map_tiles_records, map_data_records, map_items_records;
};
void store_get_stats(struct store *s, struct store_stats *out);

/* store_metrics adds the store's families (map, used and file bytes, upper
 * tiles, the lookup map's bytes) to |w| (common/prom.h), each sample with the
 * label list |labels| (log="2027h1"; "" or NULL for none). Thread-safe. */
struct prom;
void store_metrics(struct store *s, struct prom *w, const char *labels);

/* store_backup writes a compacting copy (LMDB's mdb_env_copy2 with
 * MDB_CP_COMPACT) of |s| into the directory |dest| as dest/data.mdb: the
 * environment exactly as one read transaction sees it, so it is consistent
 * (every leaf, tile, index and the STH of one commit) while the writer, in
 * this process or another, goes on. Only pages in use are written. |dest| is
 * created (0700) if missing and must not hold a data.mdb; the file is fsynced.
 * Only the log's environment: the key files are not in it, nor the lookup
 * map's DIR/map (derived from the leaves: logd rebuilds it when it starts on
 * the restored copy, at the rate bench/RESULTS.md gives). Like a reader, it must
 * not be called on a thread holding a reader of |s|. Returns 0, MN_EINVAL,
 * MN_EEXISTS (dest/data.mdb exists), MN_EIO, MN_ENOSPACE, MN_ENOMEM (each
 * logged with the reason); on error no partial copy is left. */
int store_backup(struct store *s, const char *dest);

#endif
