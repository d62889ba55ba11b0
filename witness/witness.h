/* witness.h: a transparency log witness (c2sp.org/tlog-witness v1.0.0) with
 * cosignature/v1 Ed25519 cosignatures (c2sp.org/tlog-cosignature), without
 * the transport: `mnctl witness serve` (client/witness_serve.c) puts HTTP in
 * front of it.
 *
 * What it promises:
 *   - it cosigns a checkpoint only if it is signed by a key the logs file
 *     lists for its origin and is consistent (RFC 6962 section 2.1.2 proof)
 *     with the last checkpoint it cosigned for that origin;
 *   - so it never cosigns two different roots for one size of a log, and never
 *     a smaller size after a larger one, across threads and across crashes:
 *     the size check and the persisting of the new state happen under one
 *     per-log lock, and an answer is produced only after the new state is
 *     durable (temporary file, fsync, rename, fsync of the directory).
 *
 * Files:
 *   - the logs file: tlog-policy `log VKEY [URL]` lines (entry/tpolicy.h,
 *     TPOLICY_LOGS_ONLY); a log's origin is its vkey's name; several keys may
 *     share one origin (any of them may sign);
 *   - the state directory: one file per origin, named by the lowercase hex
 *     SHA-256 of the origin, holding the last cosigned checkpoint (its text,
 *     the log's signature lines that verified, and this witness's cosignature);
 *     it is also what the monitoring endpoint serves. A state file that does not
 *     parse or names another origin stops witness_new (the witness must not
 *     forget what it cosigned);
 *   - the key file: an Ed25519 private key in PEM, generated (mode 0600) when
 *     missing.
 *
 * Thread-safe: any number of threads may call witness_add_checkpoint and
 * witness_get_checkpoint at once. */
#ifndef MN_WITNESS_WITNESS_H
#define MN_WITNESS_WITNESS_H

#include <stddef.h>
#include <stdint.h>

#include "entry/cosig.h"

struct witness;

/* witness_new loads the logs file |logs_file|, the Ed25519 key |key_file|
 * (written when missing) and the state in |state_dir| (created, mode 0700,
 * when missing), and signs as |name| (note_valid_name). 0, or MN_EINVAL (bad
 * name), MN_EMALFORMED (logs file, key or a state file), MN_EIO, MN_ENOMEM,
 * MN_ECRYPTO, with a reason in |err| (NUL-terminated, at most |err_len|). */
int witness_new(struct witness **out, const char *state_dir, const char *logs_file,
		const char *key_file, const char *name, char *err, size_t err_len);
/* witness_free frees |w|; NULL is a no-op. */
void witness_free(struct witness *w);
/* witness_vkey: the witness's cosigner vkey "name+keyid+base64(0x04||key)"
 * (borrowed, NUL-terminated). */
const char *witness_vkey(const struct witness *w);
/* witness_cosigner: the key it signs with (borrowed). */
const struct cosigner *witness_cosigner(const struct witness *w);

/* An answer: HTTP status, body (malloc'd, free() it; never NULL) and its
 * Content-Type (static). */
struct witness_answer {
	int status;
	uint8_t *body;
	size_t body_len;
	const char *content_type;
};

/* witness_add_checkpoint answers a tlog-witness add-checkpoint request body:
 *   200 cosignature line (text/plain), 400 malformed body or old > size,
 *   403 no or bad signature of a listed key, 404 unknown origin,
 *   409 "N\n" (text/x.tlog.size) when old is not the size last cosigned,
 *   422 size 0 with a non-empty root, a proof given with old 0, a proof that
 *       does not verify, same size and another root,
 *   500 the new state could not be made durable (nothing was cosigned).
 * Error bodies are one line of plain text naming the problem. Returns 0, or
 * MN_ENOMEM when not even an answer could be built (*out then empty). */
int witness_add_checkpoint(struct witness *w, const uint8_t *body, size_t len,
			   struct witness_answer *out);
/* witness_get_checkpoint answers GET /<hex>/checkpoint for |origin_hex| (64
 * lowercase hex digits of SHA-256(origin)): 200 with the last cosigned
 * checkpoint (text/plain), 404 when the origin is unknown or never cosigned.
 * Returns 0 or MN_ENOMEM as witness_add_checkpoint. */
int witness_get_checkpoint(struct witness *w, const char *origin_hex, size_t hex_len,
			   struct witness_answer *out);
/* witness_answer_cleanup frees the body of |a|. */
void witness_answer_cleanup(struct witness_answer *a);

#endif
