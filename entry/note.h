/* note.h: checkpoints (c2sp.org/tlog-checkpoint) as signed notes
 * (c2sp.org/signed-note), signed two ways:
 *
 *   - RFC6962NoteSignature (c2sp.org/static-ct-api, signature type 0x05): the
 *     STH's own signature, so a get-sth answer and a checkpoint carry the same
 *     ECDSA signature. Key ID = SHA-256(origin || 0x0A || 0x05 || LogID)[:4],
 *     signature = key ID || u64 timestamp || DigitallySigned (TreeHeadSignature).
 *   - Ed25519 (type 0x01), a second log key, for witnesses. Key ID =
 *     SHA-256(origin || 0x0A || 0x01 || public key)[:4], signature = key ID ||
 *     Ed25519(note text). Its verifier key is "origin+<8 hex key ID>+<base64 of
 *     0x01 || public key>" (Go's sumdb/note vkey).
 *
 * The checkpoint text is "<origin>\n<tree size>\n<base64 root>\n" with no
 * extension lines (static-ct-api forbids them next to a 0x05 signature).
 *
 * Everything here is pure computation: no I/O. */
#ifndef MN_ENTRY_NOTE_H
#define MN_ENTRY_NOTE_H

#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"
#include "entry/ct.h"

#define NOTE_MAX_ORIGIN 255
#define NOTE_KEY_ID_LEN 4
#define NOTE_ED25519_SIG_LEN 64
#define NOTE_MAX_VKEY (NOTE_MAX_ORIGIN + 1 + 8 + 1 + 48)

/* note_signer signs notes with an Ed25519 key under a key name (the origin).
 * Thread-safe. */
struct note_signer;
/* note_signer_new takes a reference on |pkey| (an EVP_PKEY *, Ed25519 private
 * key; void * keeps OpenSSL out of this header) and copies |name| (1 to
 * NOTE_MAX_ORIGIN bytes, no space, '+' or control characters). NULL if the key
 * is not Ed25519, the name is not valid, or on OOM. note_signer_free(NULL) is a
 * no-op. */
struct note_signer *note_signer_new(void *pkey, const char *name, size_t name_len);
/* note_signer_new_typed is note_signer_new for the signature type |type|
 * (NOTE_TYPE_ED25519, as note_signer_new; NOTE_TYPE_COSIG_V1 for a witness's
 * cosigner, entry/cosig.h). */
struct note_signer *note_signer_new_typed(void *pkey, const char *name, size_t name_len,
					  uint8_t type);
void note_signer_free(struct note_signer *s);
/* note_signer_key: its verifier key, parsed (borrowed). */
const struct note_vkey *note_signer_key(const struct note_signer *s);
/* note_signer_sign writes the Ed25519 signature of the |len| bytes of |msg| to
 * |sig|. 0 or MN_ECRYPTO. */
int note_signer_sign(const struct note_signer *s, const uint8_t *msg, size_t len,
		     uint8_t sig[NOTE_ED25519_SIG_LEN]);
/* note_signer_vkey: the verifier key string, NUL-terminated (borrowed). */
const char *note_signer_vkey(const struct note_signer *s);
/* note_signer_name: the key name (the origin), NUL-terminated (borrowed). */
const char *note_signer_name(const struct note_signer *s);

/* note_valid_name returns 1 iff |name| may be a key name / origin line:
 * 1..NOTE_MAX_ORIGIN bytes of printable ASCII other than space and '+'. */
int note_valid_name(const char *name, size_t len);

/* note_checkpoint_text appends the checkpoint body for |origin|. 1 or 0. */
int note_checkpoint_text(struct cbb *out, const char *origin, size_t origin_len,
			 uint64_t tree_size, const uint8_t root[32]) MN_WUR;

/* note_sig_line appends a signature line, "— <name> <base64(sig)>\n", for the
 * |sig_len| bytes of |sig| (key ID first; 140 at most). 1 or 0. */
int note_sig_line(struct cbb *out, const char *name, size_t name_len, const uint8_t *sig,
		  size_t sig_len) MN_WUR;

/* note_rfc6962_key_id: the 0x05 key ID of a log with |log_id| under |origin|. */
uint32_t note_rfc6962_key_id(const char *origin, size_t origin_len,
			     const uint8_t log_id[CT_LOG_ID_LEN]);

/* note_sign_checkpoint appends the whole signed checkpoint: the text, a blank
 * line, the RFC 6962 signature line (|log_id|, the STH's |timestamp| and
 * |sth_sig|), then the Ed25519 line of |ed| (skipped when |ed| is NULL). The
 * origin is ed's name, or |origin| when ed is NULL. 0, MN_EINVAL (bad origin),
 * MN_ECRYPTO or MN_ENOMEM. */
int note_sign_checkpoint(struct cbb *out, const struct note_signer *ed,
			 const char *origin, size_t origin_len,
			 const uint8_t log_id[CT_LOG_ID_LEN], uint64_t tree_size,
			 const uint8_t root[32], uint64_t timestamp,
			 const struct ct_sig *sth_sig);

/* A parsed checkpoint. Pointers borrow from the parsed buffer. Up to
 * NOTE_MAX_SIGS signature lines: the log's two and the cosignatures of up to 62
 * witnesses (tlog-policy recommends supporting 32). */
#define NOTE_MAX_SIGS 64
struct note_checkpoint {
	const char *text;       /* the signed text, with its final newline */
	size_t text_len;
	const char *origin;
	size_t origin_len;
	uint64_t tree_size;
	uint8_t root[32];
	size_t num_sigs;
	struct {
		const char *name;
		size_t name_len;
		uint32_t key_id;
		uint8_t sig[128];  /* without the key ID */
		size_t sig_len;
	} sigs[NOTE_MAX_SIGS];
};
/* note_parse_checkpoint parses a signed checkpoint (no extension lines are
 * accepted, signatures are not verified). 0 or MN_EMALFORMED. */
int note_parse_checkpoint(struct note_checkpoint *out, const uint8_t *in, size_t len);
/* note_parse_checkpoint_ext: the same, but extension lines (non-empty lines
 * after the root, tlog-checkpoint) are accepted and are part of cp->text. For a
 * witness, which cosigns any log's checkpoint. */
int note_parse_checkpoint_ext(struct note_checkpoint *out, const uint8_t *in, size_t len);

/* A verifier key (signed-note "vkeys"): "<name>+<8 hex key ID>+<base64 of
 * type || public key>". Types: 0x01 a note's Ed25519 key (a log's note key),
 * 0x04 an Ed25519 cosigner (tlog-cosignature, a witness). */
#define NOTE_TYPE_ED25519 0x01
#define NOTE_TYPE_COSIG_V1 0x04
struct note_vkey {
	char name[NOTE_MAX_ORIGIN + 1]; /* NUL-terminated */
	size_t name_len;
	uint32_t key_id;
	uint8_t type;
	uint8_t pub[32];
};
/* note_vkey_parse parses |vkey| of type 0x01 or 0x04 (Ed25519 keys) and checks
 * that its key ID is the one its name, type and key give. 0, or MN_EMALFORMED
 * (anything else, including another signature type). */
int note_vkey_parse(struct note_vkey *out, const char *vkey, size_t len);
/* note_vkey_from_pkey fills |out| for the Ed25519 private or public key
 * |pkey| (an EVP_PKEY *, borrowed) under the key name |name| with signature
 * type |type| (NOTE_TYPE_ED25519 or NOTE_TYPE_COSIG_V1): the name, the raw
 * public key and the key ID. 0, or MN_EINVAL when |pkey| is NULL or not
 * Ed25519, or |name| is not a valid key name. */
int note_vkey_from_pkey(struct note_vkey *out, void *pkey, const char *name, size_t name_len,
			uint8_t type);
/* note_vkey_format writes "<name>+<id>+<base64>" and a NUL to |out| (at least
 * NOTE_MAX_VKEY + 1 bytes). */
void note_vkey_format(char *out, const struct note_vkey *k);
/* note_key_id: SHA-256(name || 0x0A || type || key)[:4] (signed-note). */
uint32_t note_key_id(const char *name, size_t name_len, uint8_t type, const uint8_t *key,
		     size_t key_len);
/* note_verify_vkey checks |cp| against a type 0x01 key: 1 if a signature line
 * with k's name and key ID verifies over cp->text (and none with them fails),
 * 0 if no line has them, -1 if one does and fails to verify (signed-note: such
 * a note is malformed; a witness answers 403). */
int note_verify_vkey(const struct note_checkpoint *cp, const struct note_vkey *k);

/* note_verify_rfc6962 returns 1 iff |cp| has a 0x05 signature line under its
 * origin by the log |v| that verifies over its size and root; *out_timestamp
 * gets the STH timestamp. */
int note_verify_rfc6962(const struct note_checkpoint *cp, const struct ct_verifier *v,
			uint64_t *out_timestamp);
/* note_verify_ed25519 returns 1 iff |cp| carries a valid signature by the
 * verifier key |vkey| ("name+hexid+base64"), whose name is the origin. */
int note_verify_ed25519(const struct note_checkpoint *cp, const char *vkey, size_t vkey_len);

#endif
