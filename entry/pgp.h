/* pgp.h: OpenPGP endorsements (DESIGN.md sections 1 and 6), the body of a
 * pgp_endorsement_entry (LogEntryType 0x8001, entry/ct.h).
 *
 * An endorsement is a configured certifier's certification (signature types
 * 0x10-0x13, RFC 4880 section 5.2.1) of one user ID on someone's key, or its
 * certification revocation (0x30). pgp_endorsement_check takes what a client
 * posted to /mn/v1/add-pgp ({"cert", "user_id", "signer"}), checks it with RNP
 * (librnp 0.16; all OpenPGP parsing and every signature verification is RNP's),
 * and builds the canonical leaf body below. No RNP type appears in this header.
 *
 * What is checked, at the caller's |now_s| (RNP is told to use that time):
 *   - |cert| is binary OpenPGP (no armor), every packet header is whole and
 *     definite-length, at most PGP_MAX_PACKETS packets, no secret key packets
 *     (tags 5, 7), exactly one primary key (tag 6) and it comes first; RNP
 *     imports it strictly (any packet RNP cannot parse rejects the input);
 *   - the primary key and every signature used are version 4;
 *   - |signer| is the fingerprint of a configured certifier, the certifier's
 *     configured expiry has not passed, the user ID's domain is in its scope,
 *     its key is neither expired nor revoked, and it is not the endorsed key;
 *   - the key carries a user ID packet equal byte for byte to |user_id|, with an
 *     email address (the part inside the last <...>, or the whole user ID) whose
 *     domain is a valid lowercase-able LDH name;
 *   - a self-certification (0x10-0x13 by the key itself) of that user ID with a
 *     strong hash verifies and is not expired; the latest such one is kept;
 *   - a certification (0x10-0x13) or certification revocation (0x30) of that
 *     user ID by the certifier's primary key, with a strong hash, verifies and is
 *     not expired; the latest one is kept (a revocation wins a tie: it is the
 *     later statement when both carry the same second). RNP 0.16 checks every
 *     certification revocation on a user ID against the key's own primary
 *     key, so a certifier's 0x30 is verified in pgp.c with OpenSSL instead
 *     (RFC 4880 section 5.2.4 hash over key, user ID and hashed part; SHA-256,
 *     SHA-384 or SHA-512; Ed25519 EdDSA, ECDSA on P-256/384/521 or RSA of at
 *     least 2048 bits), with its Issuer Fingerprint / Issuer subpackets naming
 *     the certifier and the same time rules; unknown critical hashed
 *     subpackets reject it;
 *   - weak hashes (MD5, SHA-1, RIPEMD-160) are rejected, on any signature used;
 *   - times: the key, every signature used and the certifier key were created
 *     at most PGP_MAX_SKEW_S after now; signatures are not older than the key
 *     they sign nor than the key that made them;
 *   - for a certification (not for a revocation, which is always worth
 *     recording): the key is not expired, not revoked, and the user ID is not
 *     revoked by its key. An expired key is rejected for both.
 * Encryption-capable subkeys (RNP: usage "encrypt") that are not expired, not
 * revoked and have a valid, strongly hashed binding signature are kept with
 * their latest binding; others are silently dropped (they are not part of the
 * endorsement). More than PGP_MAX_SUBKEYS such subkeys is MN_ETOOBIG.
 * Direct-key signatures, other user IDs, user attributes, third-party
 * signatures, other subkeys and all unhashed subpackets are dropped.
 *
 * Canonical body (TLS presentation language, RFC 8446 section 3):
 *
 *   opaque OpenPGPPacket<1..2^24-1>;  -- one whole packet, RFC 4880 section 4.2
 *                                     -- new-format header, shortest length
 *   struct {
 *       OpenPGPPacket subkey;         -- tag 14, as RNP exported it
 *       OpenPGPPacket binding;        -- tag 2, type 0x18, canonical (below)
 *   } PgpSubkey;
 *
 *   struct {
 *       uint8 version;                -- 1
 *       opaque endorsed_fpr<1..255>;  -- v4 fingerprint (20 bytes) of the key
 *       opaque certifier_fpr<1..255>; -- v4 fingerprint of the certifier
 *       uint8 sig_type;               -- 0x10..0x13, or 0x30 (revocation)
 *       uint64 sig_created;           -- certifier signature's creation, seconds
 *       opaque domain<1..255>;        -- lowercase ASCII, from the user ID
 *       opaque uid_commitment[32];    -- SHA-256("mn-pgp-uid\0" || salt || user_id)
 *       OpenPGPPacket primary_key;    -- tag 6
 *       OpenPGPPacket self_sig;       -- tag 2, the key's certification of the UID
 *       OpenPGPPacket certifier_sig;  -- tag 2, the endorsement itself
 *       PgpSubkey subkeys<0..2^24-1>; -- sorted by subkey fingerprint
 *   } PgpEndorsementBody;
 *
 * The user ID packet is not in the body: an append-only tree must not publish
 * every address for ever. Its opening, salt[32] || user_id, is kept outside the
 * leaf by the caller and handed out by exact-address lookups; with it anyone can
 * rebuild the transferable public key (pgp_body_to_tpk) and check it with any
 * OpenPGP implementation. "\0" above is one zero byte (the label is 11 bytes).
 *
 * A canonical signature packet is the v4 signature (RFC 4880 section 5.2.3)
 * with its unhashed subpacket area replaced by exactly one Issuer subpacket
 * (type 16) naming the signing key's key ID: the unhashed area is not signed,
 * so anything else in it would be free space for spam and a way to make one
 * signature look like many. Everything signed is kept byte for byte.
 *
 * Salt and dedup. The salt is 32 random bytes drawn per call; the caller keeps
 * the first submission's leaf and opening and answers a duplicate with the
 * original SCT, so the first salt stays the only one. Duplicates are found by
 *   dedup_key = SHA-256("mn-dedup-pgp\0" || u8 len || endorsed_fpr ||
 *                       u8 len || certifier_fpr || u32 len || user_id ||
 *                       u32 len || signed_prefix)
 * where signed_prefix is the certifier signature's version, type, public-key
 * and hash algorithms and hashed subpacket area (with its length), i.e. every
 * byte the certifier signed about its statement. It does not depend on the
 * salt, the packet framing, unhashed subpackets, the chosen self-signature,
 * subkeys, or the signature value (ECDSA values are malleable), so re-encoding
 * or decorating a submission cannot make the log record it twice.
 *
 * Errors (negative MN_E*, common/err.h), with a static reason string:
 *   MN_EMALFORMED  unparseable input: bad hex signer, armor/garbage, truncated
 *                  or partial-length packets, secret key material, no or more
 *                  than one primary key, packets RNP cannot parse;
 *   MN_EBADSIG     the certifier's signature does not verify;
 *   MN_EBADCERT    a policy rejection: weak hash, expired or revoked key,
 *                  user ID not on the key or without an email address, missing
 *                  or invalid self-signature, no signature by the signer,
 *                  signer not a configured certifier, out of scope or expired,
 *                  insane times, non-v4 key or signature;
 *   MN_ETOOBIG     more than PGP_MAX_PACKETS packets, PGP_MAX_SUBKEYS subkeys,
 *                  or a body over 2^24-1 bytes;
 *   MN_EINVAL      NULL arguments; MN_ENOMEM; MN_EINTERNAL (RNP misbehaved).
 *
 * Thread safety: a pgp_certifiers is immutable after loading and may be shared
 * by any number of threads; each pgp_endorsement_check call uses its own RNP
 * context. */
#ifndef MN_ENTRY_PGP_H
#define MN_ENTRY_PGP_H

#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"

#define PGP_MAX_PACKETS 4096
#define PGP_MAX_SUBKEYS 8
#define PGP_MAX_SKEW_S 600         /* clock skew tolerated for creation times */
#define PGP_MAX_CERT_LEN (16u << 20)
#define PGP_SALT_LEN 32
#define PGP_MAX_FPR_LEN 32
#define PGP_BODY_VERSION 1

/* --- certifiers (configured like roots; listed by /mn/v1/get-certifiers) --- */

struct pgp_certifiers;

/* pgp_certifiers_load builds the certifier set from |keys| (|keys_len| bytes: a
 * binary or ASCII-armored keyring of public keys; every primary key in it is a
 * certifier) and an optional policy text |policy| (|policy_len| bytes, may be
 * NULL/0). Policy lines ('#' starts a comment, blank lines ignored):
 *
 *   <40 hex digits fingerprint> [scope=example.com,example.org] [expires=2027-01-01]
 *
 * scope: the certifier may endorse only user IDs whose domain equals one of
 * the listed domains or is a subdomain of one; no scope means any domain.
 * expires: from 00:00:00 UTC that day on, its endorsements are refused.
 * Certifiers are listed sorted by fingerprint. On success sets |*out| (free with
 * pgp_certifiers_free) and returns 0. Returns MN_EMALFORMED if the keyring does
 * not parse, MN_EINVAL for secret key material in it or a bad policy line (an
 * unknown fingerprint, bad domain or date, duplicate line), MN_ENOTFOUND if it
 * holds no key, MN_ENOMEM, MN_EINTERNAL. */
int pgp_certifiers_load(struct pgp_certifiers **out, const uint8_t *keys,
			size_t keys_len, const char *policy, size_t policy_len);
/* pgp_certifiers_load_file is pgp_certifiers_load on the file at |path| (at most
 * 64 MiB) and, if it exists, the policy file |path| + ".policy". Also returns
 * MN_EIO if a file cannot be read, MN_ETOOBIG. */
int pgp_certifiers_load_file(struct pgp_certifiers **out, const char *path);
/* pgp_certifiers_free frees |c|; NULL is a no-op. */
void pgp_certifiers_free(struct pgp_certifiers *c);
size_t pgp_certifiers_count(const struct pgp_certifiers *c);
/* The accessors below return NULL/0 when |i| is out of range; returned pointers
 * are borrowed and live as long as |c|. */
/* pgp_certifiers_fpr_hex: certifier |i|'s fingerprint, uppercase hex, NUL-ended. */
const char *pgp_certifiers_fpr_hex(const struct pgp_certifiers *c, size_t i);
/* pgp_certifiers_fpr: the fingerprint bytes, length in |*out_len|. */
const uint8_t *pgp_certifiers_fpr(const struct pgp_certifiers *c, size_t i,
				  size_t *out_len);
/* pgp_certifiers_key: the certifier's binary transferable public key as RNP
 * exports it (primary key, user IDs, subkeys, signatures). */
const uint8_t *pgp_certifiers_key(const struct pgp_certifiers *c, size_t i,
				  size_t *out_len);
/* pgp_certifiers_num_scopes / _scope: the configured scope domains (0 = any). */
size_t pgp_certifiers_num_scopes(const struct pgp_certifiers *c, size_t i);
const char *pgp_certifiers_scope(const struct pgp_certifiers *c, size_t i,
				 size_t j);
/* pgp_certifiers_expires: configured expiry (seconds since the epoch), 0 none. */
uint64_t pgp_certifiers_expires(const struct pgp_certifiers *c, size_t i);

/* --- checking a submission ----------------------------------------------- */

struct pgp_result {
	uint8_t *body;          /* PgpEndorsementBody, malloc'd */
	size_t body_len;
	uint8_t *opening;       /* salt[32] || user_id, malloc'd; never in the leaf */
	size_t opening_len;
	uint8_t dedup_key[32];
	uint8_t uid_commitment[32];
	char domain[256];       /* lowercase, NUL-terminated */
	uint8_t endorsed_fpr[PGP_MAX_FPR_LEN];
	size_t endorsed_fpr_len;
	uint8_t certifier_fpr[PGP_MAX_FPR_LEN];
	size_t certifier_fpr_len;
	int revocation;         /* 1 iff the certifier signature is 0x30 */
	uint8_t sig_type;
	uint64_t sig_created_s;
};

/* pgp_endorsement_check checks the submission (see the top of this file):
 * |cert| is the binary transferable public key, |user_id| the exact user ID
 * (bytes, not NUL-terminated), |signer_hex| the certifier's fingerprint in hex
 * (|signer_hex_len| characters, either case, no spaces), |now_s| the time to
 * judge at (seconds since the epoch). On success fills |out| (release with
 * pgp_result_cleanup) and returns 0. On failure returns a negative MN_E* code
 * (listed at the top), sets |*out_reason| (may be NULL) to a static string
 * naming the problem, and leaves |out| empty (cleanup is still safe). */
int pgp_endorsement_check(const struct pgp_certifiers *c, struct pgp_result *out,
			  const char **out_reason, const uint8_t *cert,
			  size_t cert_len, const uint8_t *user_id,
			  size_t user_id_len, const char *signer_hex,
			  size_t signer_hex_len, uint64_t now_s);
/* pgp_result_cleanup frees the buffers of |r| and zeroes it. */
void pgp_result_cleanup(struct pgp_result *r);

/* --- reading a body back -------------------------------------------------- */

/* A parsed PgpEndorsementBody; byte fields borrow from the parsed buffer.
 * Packet fields hold whole packets (header included). */
struct pgp_body {
	uint8_t version;
	struct cbs endorsed_fpr, certifier_fpr;
	uint8_t sig_type;
	uint64_t sig_created;
	struct cbs domain;
	uint8_t uid_commitment[32];
	struct cbs primary_key, self_sig, certifier_sig;
	struct cbs subkeys; /* the PgpSubkey list; walk with pgp_body_next_subkey */
	size_t num_subkeys;
};

/* pgp_body_parse parses a whole body (no trailing bytes), checking field
 * ranges and that each OpenPGPPacket is exactly one packet of the right tag.
 * Returns 0 or MN_EMALFORMED. Does not verify signatures. */
int pgp_body_parse(struct pgp_body *out, const uint8_t *body, size_t body_len);
/* pgp_body_next_subkey reads the next PgpSubkey from |subkeys| (a copy of
 * pgp_body.subkeys, advanced). Returns 1, or 0 at the end or on error. */
int pgp_body_next_subkey(struct cbs *subkeys, struct cbs *out_subkey,
			 struct cbs *out_binding) MN_WUR;
/* pgp_uid_commitment computes SHA-256("mn-pgp-uid\0" || salt || user_id). */
void pgp_uid_commitment(uint8_t out[32], const uint8_t salt[PGP_SALT_LEN],
			const uint8_t *user_id, size_t user_id_len);
/* pgp_opening_matches returns 1 iff |opening| (salt || user_id, at least
 * PGP_SALT_LEN bytes) opens |commitment|, else 0. Constant-time compare. */
int pgp_opening_matches(const uint8_t commitment[32], const uint8_t *opening,
			size_t opening_len);
/* pgp_body_to_tpk rebuilds the transferable public key: primary key, user ID
 * packet (from |opening|), self-signature, certifier signature, then each
 * subkey and binding. Sets |*out| (malloc'd, free() it) and |*out_len|.
 * Returns 0, MN_EINVAL if |opening| does not open the commitment, MN_ENOMEM. */
int pgp_body_to_tpk(uint8_t **out, size_t *out_len, const struct pgp_body *b,
		    const uint8_t *opening, size_t opening_len);

/* --- packet framing (RFC 4880 section 4.2) ------------------------------- */

/* pgp_packet_get reads one packet from |cbs|: old or new format header with a
 * definite length (partial and indeterminate lengths are refused). Sets
 * |*out_tag|, |out_body| (contents) and |out_packet| (header and contents; may
 * be NULL). Returns 1, or 0 (cursor unchanged) if malformed or truncated. */
int pgp_packet_get(struct cbs *cbs, uint8_t *out_tag, struct cbs *out_body,
		   struct cbs *out_packet) MN_WUR;
/* pgp_packet_add appends a packet with tag |tag| and contents |body| using a
 * new-format header with the shortest length encoding. Returns 1 or 0. */
int pgp_packet_add(struct cbb *cbb, uint8_t tag, const uint8_t *body,
		   size_t body_len) MN_WUR;

#endif
