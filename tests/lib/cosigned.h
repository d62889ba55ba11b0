/* cosigned.h: checkpoints with witness cosignatures, made by a test for the
 * clients' --witness-policy (tests/client/test_witness_client.c,
 * test_policy_server.c). The signatures are real: the log's own Ed25519 note
 * key (logd's DIR/note-key.pem) and fresh cosignature/v1 keys of test
 * witnesses (entry/cosig.h); only the delivery (tests/lib/liar.h,
 * liar_checkpoint) stands in for logd collecting them.
 *
 *   struct cosigned *c = cosigned_new(note_key_path, origin, 4);
 *   cosigned_write_policy(c, "policy.txt", 3, 2);   w0..w2, 2 of 3
 *   note = cosigned_add(c, checkpoint, len, 1u << 0 | 1u << 1, &note_len);
 *
 * Functions never abort; those returning a pointer return NULL on failure
 * (a malloc'd result: free() it). */
#ifndef MN_TESTS_COSIGNED_H
#define MN_TESTS_COSIGNED_H

#include <stddef.h>
#include <stdint.h>

#define COSIGNED_MAX_WITNESSES 8

struct cosigned;

/* cosigned_new loads the log's Ed25519 note key (PEM private key) at
 * |note_key_path| under |origin| and makes |num_witnesses| witness keys
 * named "w<i>.witness.example" (policy names "w<i>"). */
struct cosigned *cosigned_new(const char *note_key_path, const char *origin,
			      size_t num_witnesses);
void cosigned_free(struct cosigned *c);
/* cosigned_log_vkey / cosigned_witness_vkey: the vkeys (borrowed). */
const char *cosigned_log_vkey(const struct cosigned *c);
const char *cosigned_witness_vkey(const struct cosigned *c, size_t i);
/* cosigned_write_policy writes a tlog-policy file to |path|: the log line,
 * witnesses w0 .. w<num_in_policy - 1>, "group q <k> w0 ...", "quorum q".
 * 0 or -1. */
int cosigned_write_policy(const struct cosigned *c, const char *path, size_t num_in_policy,
			  size_t k);
/* cosigned_add returns the signed checkpoint |note| (|len| bytes: logd's
 * /checkpoint) with a cosignature line by each witness i whose bit is set in
 * |mask| appended; *out_len gets its length (it is also NUL-terminated). */
char *cosigned_add(const struct cosigned *c, const char *note, size_t len, unsigned mask,
		   size_t *out_len);
/* cosigned_fork returns a checkpoint of another tree, (|size|, |root|), under
 * the origin, signed by the log's note key (Ed25519) and cosigned by the
 * witnesses of |mask|: what a log that forks could show with its own key.
 * Its RFC 6962 (0x05) line carries |log_id| and a signature that is not
 * valid; clients with a witness policy go by the note key. */
char *cosigned_fork(const struct cosigned *c, const uint8_t log_id[32], uint64_t size,
		    const uint8_t root[32], unsigned mask, size_t *out_len);
/* cosigned_tamper flips one bit of the signature in witness |i|'s cosignature
 * line of |note| (NUL-terminated, changed in place; the base64 stays valid).
 * 0, or -1 if there is no such line. */
int cosigned_tamper(const struct cosigned *c, char *note, size_t i);

#endif
