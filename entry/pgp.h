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
 *   - the key carries a user ID packet equal byte for byte to |user_id| (at
 *     most 65535 bytes), with an email address (the part inside the last
 *     <...>, which must close the user ID, or the whole user ID) whose domain
 *     is a valid lowercase-able LDH name and which names_email_normalize
 *     accepts (that normalized address is the one indexed and VRF-hashed);
 *   - a self-certification (0x10-0x13 by the key itself) of that user ID with a
 *     strong hash verifies and is not expired; the latest such one is kept;
 *   - a certification (0x10-0x13) or certification revocation (0x30) of that
 *     user ID by the certifier's primary key, with a strong hash, verifies and is
 *     not expired; the latest one is kept (a revocation wins a tie: it is the
 *     later statement when both carry the same second). RNP 0.16 checks every
 *     certification revocation on a user ID against the key's own primary
 *     key, so a certifier's 0x30 is verified in pgp_revocation.c with
 *     OpenSSL instead (RFC 4880 section 5.2.4 hash over key, user ID and
 *     hashed part; SHA-256, SHA-384 or SHA-512; Ed25519 EdDSA, ECDSA on
 *     P-256/384/521 or RSA of at least 2048 bits), with its Issuer
 *     Fingerprint / Issuer subpackets naming the certifier and the same time
 *     rules; unknown critical hashed subpackets reject it;
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
 * Canonical body (TLS presentation language, RFC 8446 section 3). New entries
 * are version 2; version 1 entries (logged before) stay valid and readable.
 *
 *   opaque OpenPGPPacket<1..2^24-1>;  -- one whole packet, RFC 4880 section 4.2
 *                                     -- new-format header, shortest length
 *   struct {
 *       OpenPGPPacket subkey;         -- tag 14, as RNP exported it
 *       OpenPGPPacket binding;        -- tag 2, type 0x18, canonical (below)
 *   } PgpSubkey;
 *
 *   struct {
 *       uint8 version;                -- 2
 *       opaque endorsed_fpr<1..255>;  -- v4 fingerprint (20 bytes) of the key
 *       opaque certifier_fpr<1..255>; -- v4 fingerprint of the certifier
 *       uint8 sig_type;               -- 0x10..0x13, or 0x30 (revocation)
 *       uint64 sig_created;           -- certifier signature's creation, seconds
 *       opaque domain<1..255>;        -- lowercase ASCII, from the user ID
 *       opaque address_key[32];       -- VRF output of the address (below)
 *       opaque uid_commitment[32];    -- SHA-256("mn-pgp-uid2\0" || PgpOpeningV2)
 *       OpenPGPPacket primary_key;    -- tag 6
 *       PgpSubkey subkeys<0..2^24-1>; -- sorted by subkey fingerprint
 *   } PgpEndorsementBodyV2;
 *
 *   struct {
 *       opaque salt[32];              -- random, per first submission
 *       opaque user_id<1..2^16-1>;    -- the user ID packet's contents
 *       OpenPGPPacket self_sig;       -- tag 2, the key's certification of the UID
 *       OpenPGPPacket certifier_sig;  -- tag 2, the endorsement itself
 *   } PgpOpeningV2;
 *
 * The leaf holds no byte of the user ID and no signature over it: with the
 * signatures in the leaf (version 1) anyone could test a guessed address
 * offline by verifying them, whatever the commitment hid. The opening is kept
 * outside the leaf by the caller and handed out by exact-address lookups only;
 * with it anyone can rebuild the transferable public key (pgp_body_to_tpk) and
 * check it with any OpenPGP implementation. "\0" is one zero byte (the label
 * "mn-pgp-uid2\0" is 12 bytes).
 *
 * address_key is beta = ECVRF-P256-SHA256-TAI(log's VRF key, alpha) (RFC 9381,
 * common/vrf.h) with
 *   alpha = "mn-map-email-pgp\0" || address
 * where address is the user ID's email address (the part inside the last
 * <...> closing the user ID, or the whole user ID) as names_email_normalize
 * writes it (flags 0): the email key the log indexes it under. The VRF makes
 * the map key of an address unlinkable to it without the log's secret key,
 * and provable to a client who knows the address (pgp_address_vrf,
 * pgp_address_vrf_verify). pgp_address_alpha is the one place alpha is built.
 *
 * Version 1 (still parsed, no longer written):
 *
 *   struct {
 *       uint8 version;                -- 1
 *       opaque endorsed_fpr<1..255>;
 *       opaque certifier_fpr<1..255>;
 *       uint8 sig_type;
 *       uint64 sig_created;
 *       opaque domain<1..255>;
 *       opaque uid_commitment[32];    -- SHA-256("mn-pgp-uid\0" || salt || user_id)
 *       OpenPGPPacket primary_key;    -- tag 6
 *       OpenPGPPacket self_sig;       -- tag 2
 *       OpenPGPPacket certifier_sig;  -- tag 2
 *       PgpSubkey subkeys<0..2^24-1>;
 *   } PgpEndorsementBody;
 *   opening (v1) = salt[32] || user_id
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
 *   dedup_key = SHA-256("mn-dedup-pgp2\0" || u8 len || endorsed_fpr ||
 *                       u8 len || certifier_fpr || u32 len || user_id ||
 *                       u32 len || signed_prefix)
 * where signed_prefix is the certifier signature's version, type, public-key
 * and hash algorithms and hashed subpacket area (with its length), i.e. every
 * byte the certifier signed about its statement. It does not depend on the
 * salt, the packet framing, unhashed subpackets, the chosen self-signature,
 * subkeys, or the signature value (ECDSA values are malleable), so re-encoding
 * or decorating a submission cannot make the log record it twice. (Version 1
 * entries used the label "mn-dedup-pgp\0": a version 2 key never equals one.)
 * The dedup key is a store-internal index key, never published: it is a
 * function of the user ID.
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
 *   MN_EINVAL      NULL arguments; MN_ENOMEM; MN_EINTERNAL (RNP misbehaved);
 *                  or whatever the address-key callback returned.
 *
 * Thread safety: a pgp_certifiers is immutable after loading and may be shared
 * by any number of threads; each pgp_endorsement_check call uses its own RNP
 * context. */
#ifndef MN_ENTRY_PGP_H
#define MN_ENTRY_PGP_H

#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"
#include "common/vrf.h"
#include "entry/names.h"

#define PGP_MAX_PACKETS 4096
#define PGP_MAX_SUBKEYS 8
#define PGP_MAX_SKEW_S 600         /* clock skew tolerated for creation times */
#define PGP_MAX_CERT_LEN (16u << 20)
#define PGP_SALT_LEN 32
#define PGP_MAX_FPR_LEN 32
#define PGP_BODY_V1 1
#define PGP_BODY_V2 2
#define PGP_BODY_VERSION PGP_BODY_V2 /* what pgp_endorsement_check writes */
#define PGP_ADDRESS_KEY_LEN 32       /* VRF_OUTPUT_LEN */
#define PGP_ADDRESS_ALPHA_LABEL "mn-map-email-pgp" /* + its NUL: 17 bytes */
#define PGP_MAX_ALPHA_LEN (sizeof(PGP_ADDRESS_ALPHA_LABEL) + NAMES_MAX_EMAIL_LEN)

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
	uint8_t *body;          /* PgpEndorsementBodyV2, malloc'd */
	size_t body_len;
	uint8_t *opening;       /* PgpOpeningV2, malloc'd; never in the leaf */
	size_t opening_len;
	uint8_t dedup_key[32];
	uint8_t uid_commitment[32];
	uint8_t address_key[PGP_ADDRESS_KEY_LEN];
	char domain[256];       /* lowercase, NUL-terminated */
	char address[NAMES_MAX_EMAIL_LEN + 1]; /* names_email_normalize'd, NUL-ended */
	size_t address_len;
	uint8_t endorsed_fpr[PGP_MAX_FPR_LEN];
	size_t endorsed_fpr_len;
	uint8_t certifier_fpr[PGP_MAX_FPR_LEN];
	size_t certifier_fpr_len;
	int revocation;         /* 1 iff the certifier signature is 0x30 */
	uint8_t sig_type;
	uint64_t sig_created_s;
};

/* pgp_addr_key_fn computes the address key (the VRF output, see the top of
 * this file) of the normalized address |addr| (|addr_len| bytes, no NUL) into
 * |out|. Returns 0 or a negative MN_E* code (MN_ENOMEM, MN_ECRYPTO: a server
 * fault, not the client's). pgp_addr_key_vrf is the one logd uses. */
typedef int (*pgp_addr_key_fn)(void *ctx, uint8_t out[PGP_ADDRESS_KEY_LEN], const char *addr,
			       size_t addr_len);

/* pgp_endorsement_check checks the submission (see the top of this file):
 * |addr_key| (called with |addr_key_ctx|, once, after every other check has
 * passed) fills the body's address_key; if it fails the check returns its
 * code with the reason "cannot compute the address key". |cert| is the binary
 * transferable public key, |user_id| the exact user ID
 * (bytes, not NUL-terminated), |signer_hex| the certifier's fingerprint in hex
 * (|signer_hex_len| characters, either case, no spaces), |now_s| the time to
 * judge at (seconds since the epoch). On success fills |out| (release with
 * pgp_result_cleanup) and returns 0. On failure returns a negative MN_E* code
 * (listed at the top), sets |*out_reason| (may be NULL) to a static string
 * naming the problem, and leaves |out| empty (cleanup is still safe). */
int pgp_endorsement_check(const struct pgp_certifiers *c, pgp_addr_key_fn addr_key,
			  void *addr_key_ctx, struct pgp_result *out,
			  const char **out_reason, const uint8_t *cert,
			  size_t cert_len, const uint8_t *user_id,
			  size_t user_id_len, const char *signer_hex,
			  size_t signer_hex_len, uint64_t now_s);
/* pgp_result_cleanup frees the buffers of |r| and zeroes it. */
void pgp_result_cleanup(struct pgp_result *r);

/* --- reading a body back -------------------------------------------------- */

/* A parsed PgpEndorsementBody (version 1) or PgpEndorsementBodyV2; byte
 * fields borrow from the parsed buffer. Packet fields hold whole packets
 * (header included). */
struct pgp_body {
	uint8_t version;        /* PGP_BODY_V1 or PGP_BODY_V2 */
	struct cbs endorsed_fpr, certifier_fpr;
	uint8_t sig_type;
	uint64_t sig_created;
	struct cbs domain;
	uint8_t address_key[PGP_ADDRESS_KEY_LEN]; /* v2; zero in v1 */
	uint8_t uid_commitment[32];
	struct cbs primary_key;
	struct cbs self_sig, certifier_sig; /* v1 only; empty in v2 (in the opening) */
	struct cbs subkeys; /* the PgpSubkey list; walk with pgp_body_next_subkey */
	size_t num_subkeys;
};

/* pgp_body_parse parses a whole body of either version (no trailing bytes),
 * checking field ranges and that each OpenPGPPacket is exactly one packet of
 * the right tag. Returns 0 or MN_EMALFORMED. Does not verify signatures. */
int pgp_body_parse(struct pgp_body *out, const uint8_t *body, size_t body_len);
/* pgp_body_next_subkey reads the next PgpSubkey from |subkeys| (a copy of
 * pgp_body.subkeys, advanced). Returns 1, or 0 at the end or on error. */
int pgp_body_next_subkey(struct cbs *subkeys, struct cbs *out_subkey,
			 struct cbs *out_binding) MN_WUR;

/* A parsed opening; fields borrow from the opening's buffer. */
struct pgp_opening {
	const uint8_t *salt;               /* PGP_SALT_LEN bytes */
	struct cbs user_id;
	struct cbs self_sig, certifier_sig; /* v2 only (whole packets); empty in v1 */
};

/* pgp_opening_parse parses |opening| as the opening of a body of version
 * |version| (v1: salt || user_id; v2: PgpOpeningV2, no trailing bytes).
 * Returns 0 or MN_EMALFORMED. Does not check it against a commitment. */
int pgp_opening_parse(struct pgp_opening *out, uint8_t version, const uint8_t *opening,
		      size_t opening_len);
/* pgp_uid_commitment computes the v1 commitment,
 * SHA-256("mn-pgp-uid\0" || salt || user_id). */
void pgp_uid_commitment(uint8_t out[32], const uint8_t salt[PGP_SALT_LEN],
			const uint8_t *user_id, size_t user_id_len);
/* pgp_uid_commitment_v2 computes SHA-256("mn-pgp-uid2\0" || opening). */
void pgp_uid_commitment_v2(uint8_t out[32], const uint8_t *opening, size_t opening_len);
/* pgp_opening_matches returns 1 iff |opening| parses as an opening of |b|'s
 * version and opens b->uid_commitment (constant-time compare); for v2 the
 * opening's signatures must also be a certification (0x10-0x13) and a
 * signature of b->sig_type. Else 0. */
int pgp_opening_matches(const struct pgp_body *b, const uint8_t *opening,
			size_t opening_len);
/* pgp_body_to_tpk rebuilds the transferable public key: primary key, user ID
 * packet, self-signature, certifier signature (from the body in v1, from the
 * opening in v2), then each subkey and binding. Sets |*out| (malloc'd, free()
 * it) and |*out_len|. Returns 0, MN_EINVAL if |opening| does not open the
 * commitment, MN_ENOMEM. */
int pgp_body_to_tpk(uint8_t **out, size_t *out_len, const struct pgp_body *b,
		    const uint8_t *opening, size_t opening_len);

/* --- the address key (a VRF output) --------------------------------------- */

/* pgp_address_alpha writes the VRF input of the email address |addr|:
 * "mn-map-email-pgp\0" || names_email_normalize(addr), into |out| (|cap| >=
 * PGP_MAX_ALPHA_LEN is always enough). Returns its length, MN_EMALFORMED if
 * |addr| is not an address names_email_normalize accepts, MN_EINVAL if |cap|
 * is too small. Normalizing here keeps every caller's alpha the same. */
int pgp_address_alpha(uint8_t *out, size_t cap, const char *addr, size_t addr_len);
/* pgp_address_vrf computes the address key |beta| of |addr| with the log's
 * VRF key |k|, and if |proof| is not NULL the VRF proof of it (for a lookup
 * answer; without a proof it costs one scalar multiplication instead of
 * three). Returns 0, MN_EMALFORMED (not an address), MN_ENOMEM, MN_ECRYPTO. */
int pgp_address_vrf(const struct vrf_key *k, uint8_t beta[PGP_ADDRESS_KEY_LEN],
		    uint8_t proof[VRF_PROOF_LEN], const char *addr, size_t addr_len);
/* pgp_address_vrf_verify returns 1 and sets |beta| iff |proof| proves the
 * address key of |addr| under the VRF public key |pub|, else 0. */
int pgp_address_vrf_verify(uint8_t beta[PGP_ADDRESS_KEY_LEN], const uint8_t pub[VRF_PUBLIC_LEN],
			   const uint8_t proof[VRF_PROOF_LEN], const char *addr,
			   size_t addr_len);
/* pgp_addr_key_vrf is a pgp_addr_key_fn: |ctx| is the const struct vrf_key *
 * to hash with (pgp_address_vrf without a proof). */
int pgp_addr_key_vrf(void *ctx, uint8_t out[PGP_ADDRESS_KEY_LEN], const char *addr,
		     size_t addr_len);

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
