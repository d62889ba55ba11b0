/* backup.h: consistent backups of a log while logd serves it.
 *
 * A backup is the log's LMDB environment as one read transaction saw it,
 * compacted (storage/storage.h store_backup), written as DEST/data.mdb. It
 * holds every leaf, tile, index and the latest STH of one commit. It does not
 * hold the signing key nor the VRF key (DIR/log-key.pem, DIR/vrf-key.pem):
 * they are secrets, and they never change, so they are saved once, apart, to
 * wherever the operator keeps secrets (README "Backups").
 *
 * A restored backup may be behind what the log published after it was taken:
 * it must be caught up before it signs again (README "Backups"). */
#ifndef MN_LOGD_BACKUP_H
#define MN_LOGD_BACKUP_H

#include <stdint.h>

#include "merkle/merkle.h"

struct logd_backup_result {
	uint64_t tree_size;               /* of the copy's STH */
	uint64_t timestamp;               /* of the copy's STH, ms */
	uint8_t root[MERKLE_HASH_LEN];    /* of the copy's STH */
};

/* logd_backup copies the log in the data directory |data_dir| into the
 * directory |dest| (created 0700 if missing; must not hold a data.mdb) while a
 * logd may be writing it, then checks the copy: it opens with store_open (the
 * open-time check: leaves, compact range, tree hashes, STH and map agree), and
 * its STH's root equals the live log's root at the copy's size. On success
 * fills |out| (may be NULL) and returns 0; else MN_E* (logged), and a copy that
 * failed its check is removed. The config form (logd backup --config FILE
 * --log NAME DEST) resolves NAME's data directory and calls this. */
int logd_backup(const char *data_dir, const char *dest, struct logd_backup_result *out);

/* logd_check_published is the restore guard: |path| holds the newest STH the
 * log is known to have published (its get-sth answer as saved by a monitor
 * or witness, RFC 6962 section 4.3 JSON). Before logd signs anything it
 * checks that the STH's signature verifies with |signer|'s key and that the
 * store holds that tree: at least tree_size leaves, and the root at
 * tree_size equals sha256_root_hash. A store that is behind (a restored
 * backup not caught up) or that differs (a fork) would sign a tree that
 * contradicts what monitors saw. Returns 0, MN_ERANGE (behind), MN_ECORRUPT
 * (a different tree), MN_EBADSIG, MN_EMALFORMED or MN_EIO (the file); each
 * logged with the path and the sizes. */
struct store;
struct ct_signer;
int logd_check_published(struct store *st, const struct ct_signer *signer, const char *path);

/* logd_backup_main runs "logd backup --data DIR DEST" or "logd backup --config
 * FILE --log NAME DEST" (that log's data directory; argv[0] is "backup"):
 * prints one line "backup DEST tree_size=N root=HEX timestamp=MS" and returns
 * the process exit status (0, 1 failure, 2 usage). */
int logd_backup_main(int argc, char **argv);

#endif
