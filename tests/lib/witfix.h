/* witfix.h: a test log for witness tests and benchmarks: an origin, its
 * Ed25519 note key and an ECDSA P-256 log key, and a reference tree
 * (refmerkle.h, independent of merkle/) of leaves "SEED:i"; it signs
 * checkpoints of any prefix and builds add-checkpoint bodies with the reference
 * consistency proof. Aborts on any failure (test code only). */
#ifndef MN_TESTS_WITFIX_H
#define MN_TESTS_WITFIX_H

#include <stddef.h>
#include <stdint.h>

struct witfix;

/* witfix_new: a log |origin| with new keys and |num_leaves| leaves of |seed|. */
struct witfix *witfix_new(const char *origin, size_t num_leaves, const char *seed);
/* witfix_fork: the same origin and keys as |f| (a log that forks), other leaves. */
struct witfix *witfix_fork(const struct witfix *f, size_t num_leaves, const char *seed);
void witfix_free(struct witfix *f);
/* witfix_vkey: the log's note vkey (borrowed). */
const char *witfix_vkey(const struct witfix *f);
/* witfix_root: MTH of the first |n| leaves. */
void witfix_root(struct witfix *f, size_t n, uint8_t out[32]);
/* witfix_checkpoint: the signed checkpoint (text, RFC 6962 line, Ed25519 line)
 * of size |n| with |root| (NULL: the tree's root). malloc'd. */
uint8_t *witfix_checkpoint(struct witfix *f, size_t n, const uint8_t *root, size_t *len);
/* witfix_cosigned: the signed checkpoint of size |n| (witfix_checkpoint, the
 * tree's root) followed by the |answer_len| bytes of |answer| (a witness's
 * cosignature lines): the note a client checks. malloc'd. */
uint8_t *witfix_cosigned(struct witfix *f, size_t n, const uint8_t *answer, size_t answer_len,
			 size_t *len);
/* witfix_proof: PROOF(old, D[0:n]) into |out| (room for 66); 0 when old is 0
 * or old == n. Returns its length. */
size_t witfix_proof(struct witfix *f, size_t old, size_t n, uint8_t out[][32]);
/* witfix_body: the add-checkpoint body "old OLD", the proof, the checkpoint
 * of size |n|. malloc'd. */
uint8_t *witfix_body(struct witfix *f, size_t old, size_t n, size_t *len);
/* witfix_write_logs writes "log VKEY\n" for each of |num| fixtures to |path|. */
void witfix_write_logs(const char *path, struct witfix *const *fs, size_t num);

#endif
