/* restore.h: `logd restore` rebuilds a log's LMDB environment from its
 * published objects (logd/publish.h): a directory, an s3:// bucket or an
 * http(s):// URL (logd/objstore.h).
 *
 * It trusts nothing it reads: the checkpoint's RFC 6962 note signature must
 * verify with the log's key (and its Ed25519 note signature with --note-vkey
 * when given); every data tile is parsed, its leaves hashed and appended, the
 * issuers each names fetched and checked against their SHA-256, the leaves
 * must carry the leaf_index of their position, and the tree they make must have
 * the checkpoint's root; every hash tile of the checkpoint's size is then
 * compared byte for byte with the restored tree's. Anything that does not
 * verify stops the restore with a message naming the object, and no
 * environment is left behind. The result passes store_open's check, holds the
 * checkpoint's STH (so get-sth answers the published tree head), the leaves,
 * their extra_data as get-entries served it, and the issuer index.
 *
 * Not restored (not published): dedup keys (a certificate logged before is
 * accepted again as a new entry) and the lookup indexes other than issuers;
 * the lookup map is rebuilt by logd at its first start with map: true. Only
 * logs of the leaf_index format can be restored (an RFC 6962-format log stores
 * SCTs that are not published). */
#ifndef MN_LOGD_RESTORE_H
#define MN_LOGD_RESTORE_H

/* logd_restore_main runs "logd restore --from SRC --data DIR [--key PEM]
 * [--note-vkey VKEY] [--endpoint URL] [--region R] [--credentials FILE]"
 * (argv[0] is "restore"). --key is the log's signing key (default
 * DIR/log-key.pem). Prints "restore DIR tree_size=N root=HEX" and returns 0;
 * 1 when something does not verify or fails (the reason on stderr), 2 usage. */
int logd_restore_main(int argc, char **argv);

#endif
