/* cosig.h: witness cosignatures (c2sp.org/tlog-cosignature v1.0.x, the
 * Ed25519 "cosignature/v1" type) and the bodies of the witness protocol's
 * add-checkpoint call (c2sp.org/tlog-witness v1.0.0).
 *
 * A cosignature is a note signature line on a checkpoint:
 *
 *   — <cosigner name> base64(key ID || u64 timestamp || Ed25519 signature)
 *
 * with key ID = SHA-256(name || 0x0A || 0x04 || public key)[:4] (note_key_id)
 * and the signature over
 *
 *   "cosignature/v1\ntime <timestamp>\n" || the checkpoint's note text
 *
 * (origin, size, root and any extension lines, with the final newline). Its
 * verifier key is a note vkey of type 0x04 (note.h, struct note_vkey). A v1
 * cosignature says: as of <timestamp>, the largest consistent tree this
 * cosigner saw for the origin has this root.
 *
 * Everything here is pure computation: no I/O. */
#ifndef MN_ENTRY_COSIG_H
#define MN_ENTRY_COSIG_H

#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"
#include "entry/note.h"

#define COSIG_SIG_LEN (8 + 64)            /* timestamp || signature, after the key ID */
#define COSIG_MAX_TIMESTAMP INT64_MAX     /* "MUST NOT exceed 2^63 - 1" */

/* cosigner: a witness's Ed25519 key under its name. Thread-safe. */
struct cosigner;
/* cosigner_new takes a reference on |pkey| (EVP_PKEY *, Ed25519 private key)
 * and copies |name| (note_valid_name). NULL if the key is not Ed25519, the
 * name is not valid, or on OOM. cosigner_free(NULL) is a no-op. */
struct cosigner *cosigner_new(void *pkey, const char *name, size_t name_len);
void cosigner_free(struct cosigner *c);
/* cosigner_vkey: "name+keyid+base64(0x04 || key)", NUL-terminated (borrowed). */
const char *cosigner_vkey(const struct cosigner *c);
/* cosigner_key: the same key parsed (for verifying with cosig_verify). */
const struct note_vkey *cosigner_key(const struct cosigner *c);

/* cosig_message appends the signed message for |text| at |timestamp|. 1 or 0. */
int cosig_message(struct cbb *out, const char *text, size_t text_len,
		  uint64_t timestamp) MN_WUR;

/* cosigner_sign appends the whole cosignature line (with its U+2014 and final
 * newline) over the note text |text| at |timestamp| (seconds since the Epoch,
 * at most COSIG_MAX_TIMESTAMP). 0, MN_EINVAL, MN_ECRYPTO or MN_ENOMEM. */
int cosigner_sign(const struct cosigner *c, struct cbb *out, const char *text, size_t text_len,
		  uint64_t timestamp);

/* cosig_verify checks |cp| for a cosignature by |k| (type 0x04): 1 if a line
 * with k's name and key ID verifies (*out_ts, when not NULL, gets its
 * timestamp), 0 if no line has k's name and key ID, -1 if one does and does not
 * verify or is malformed (wrong length, timestamp above 2^63 - 1). */
int cosig_verify(const struct note_checkpoint *cp, const struct note_vkey *k, uint64_t *out_ts);

/* --- tlog-witness add-checkpoint bodies ------------------------------------ */

#define WIT_MAX_PROOF 63                 /* proof lines a client may send */
#define WIT_MAX_BODY (64 * 1024)         /* a request body we accept */

struct wit_request {
	uint64_t old_size;
	size_t proof_len;
	uint8_t proof[WIT_MAX_PROOF][32];
	const uint8_t *note;             /* the checkpoint (borrowed from the body) */
	size_t note_len;
};
/* wit_parse_request parses "old N\n", up to 63 base64 hash lines, "\n", then
 * the checkpoint (not parsed here). 0 or MN_EMALFORMED (*why, when not NULL,
 * gets a static reason). */
int wit_parse_request(struct wit_request *out, const uint8_t *body, size_t len,
		      const char **why);
/* wit_format_request appends a request body. 1 or 0. */
int wit_format_request(struct cbb *out, uint64_t old_size, const uint8_t (*proof)[32],
		       size_t proof_len, const uint8_t *note, size_t note_len) MN_WUR;
/* wit_parse_size parses a 409 body of type text/x.tlog.size ("N\n"). 0 or
 * MN_EMALFORMED. */
int wit_parse_size(const uint8_t *body, size_t len, uint64_t *out);
/* wit_split_lines checks that |body| is one or more signature lines ("— name
 * b64\n" each) and nothing else, as a 200 answer must be. 1 or 0. */
int wit_valid_sig_lines(const uint8_t *body, size_t len);

#endif
