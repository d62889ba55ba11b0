/* ct.h: the RFC 6962 structures every leaf of the tree is made of, and the log's
 * signatures over them.
 *
 *   enum { x509_entry(0), precert_entry(1), pgp_endorsement_entry(0x8001),
 *          signed_policy_entry(0x8002), map_root_entry(0x8003), (65535) } LogEntryType;
 *
 *   struct {                                   -- section 3.4
 *       uint64 timestamp;
 *       LogEntryType entry_type;
 *       select(entry_type) {
 *           case x509_entry: ASN.1Cert;        -- opaque <1..2^24-1>
 *           case precert_entry: PreCert;       -- opaque issuer_key_hash[32];
 *                                              -- TBSCertificate <1..2^24-1>
 *           case 0x8001, 0x8002, 0x8003: opaque body<1..2^24-1>;   -- DESIGN.md section 6
 *       } signed_entry;
 *       CtExtensions extensions;               -- opaque <0..2^16-1>
 *   } TimestampedEntry;
 *
 *   struct { Version version(0); MerkleLeafType leaf_type(0);
 *            TimestampedEntry timestamped_entry; } MerkleTreeLeaf;
 *
 * Signatures are DigitallySigned (RFC 5246 section 4.7): hash sha256(4),
 * signature ecdsa(3), opaque signature<0..2^16-1> holding an ASN.1 ECDSA-Sig-Value.
 *
 * Structures here borrow their byte fields (pointers into a caller's buffer);
 * nothing is freed by this module except ct_signer / ct_verifier objects. */
#ifndef MN_ENTRY_CT_H
#define MN_ENTRY_CT_H

#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"

enum ct_entry_type {
	CT_X509_ENTRY = 0,
	CT_PRECERT_ENTRY = 1,
	MN_PGP_ENDORSEMENT_ENTRY = 0x8001,
	MN_SIGNED_POLICY_ENTRY = 0x8002,
	MN_MAP_ROOT_ENTRY = 0x8003, /* map/map.h: the lookup map's root, written by the log */
};

#define CT_LOG_ID_LEN 32
#define CT_MAX_SIG_LEN 80 /* P-256 ECDSA-Sig-Value DER is at most 72 bytes */
#define CT_MAX_BODY_LEN ((1u << 24) - 1)

/* ct_entry_type_known returns 1 for the four types above. */
int ct_entry_type_known(uint16_t type);

struct ct_entry {
	uint64_t timestamp;
	uint16_t entry_type;
	uint8_t issuer_key_hash[32]; /* precert_entry only */
	const uint8_t *body;         /* ASN.1Cert, TBSCertificate or opaque body */
	size_t body_len;
	const uint8_t *extensions;   /* CtExtensions, usually empty */
	size_t extensions_len;
};

/* CtExtensions of c2sp.org/static-ct-api (section "SCT Extension"):
 *
 *   enum { leaf_index(0), (255) } ExtensionType;
 *   struct { ExtensionType extension_type; opaque extension_data<0..2^16-1>; }
 *       Extension;
 *   Extension CtExtensions<0..2^16-1>;
 *   uint8 uint40[5]; uint40 LeafIndex;   -- big-endian, the entry's 0-based index
 *
 * A log of this format puts exactly one extension, leaf_index, in every leaf's
 * TimestampedEntry and so in its SCT: 8 bytes, inside the leaf hash, so a log
 * emits it from its first leaf or never (DESIGN.md section 9). */
#define CT_EXT_LEAF_INDEX 0
#define CT_LEAF_INDEX_EXT_LEN 8
#define CT_LEAF_INDEX_MAX ((uint64_t)1 << 40) /* indexes are below this */
/* ct_leaf_index_ext writes the CtExtensions holding only leaf_index = |index|
 * (0x00, 0x00 0x05, then |index| in 5 bytes). 1, or 0 if |index| does not fit
 * in 40 bits. */
int ct_leaf_index_ext(uint8_t out[CT_LEAF_INDEX_EXT_LEN], uint64_t index) MN_WUR;
/* ct_parse_extensions parses CtExtensions |ext| (the contents, without the
 * 2-byte length) as a static-ct-api extension list. Returns 1 if well formed,
 * with *out_has set if it holds a leaf_index and *out_index its value; 0 if
 * malformed: a truncated extension, a leaf_index whose data is not 5 bytes, or
 * two extensions of one type. Unknown types are skipped. Empty is well formed
 * (no leaf_index: a log of the RFC 6962 format). */
int ct_parse_extensions(const uint8_t *ext, size_t ext_len, int *out_has,
			uint64_t *out_index) MN_WUR;
/* ct_extensions_match_index says whether |ext| is what a leaf at |index| of a
 * log of either format carries: nothing, or exactly the one leaf_index
 * extension with value |index|. 1 or 0. */
int ct_extensions_match_index(const uint8_t *ext, size_t ext_len, uint64_t index);

/* ct_write_leaf appends the MerkleTreeLeaf for |e|. Returns 1 or 0. */
int ct_write_leaf(struct cbb *out, const struct ct_entry *e) MN_WUR;
/* ct_parse_leaf parses a whole MerkleTreeLeaf (no trailing bytes); |out| borrows
 * from |in|. Returns 1 or 0 (malformed, unknown version/leaf type, empty body).
 * An unknown entry_type is malformed here: this log writes only known types. */
int ct_parse_leaf(struct ct_entry *out, const uint8_t *in, size_t in_len) MN_WUR;

/* ct_write_sct_input appends the digitally-signed struct of section 3.2:
 * version(0), signature_type certificate_timestamp(0), timestamp, entry_type,
 * signed_entry, extensions. |e| carries the SCT's timestamp and extensions. */
int ct_write_sct_input(struct cbb *out, const struct ct_entry *e) MN_WUR;
/* ct_write_sth_input appends the TreeHeadSignature of section 3.5: version(0),
 * signature_type tree_hash(1), timestamp, tree_size, sha256_root_hash. */
int ct_write_sth_input(struct cbb *out, uint64_t timestamp, uint64_t tree_size,
		       const uint8_t root[32]) MN_WUR;

/* A signature as it travels: the DigitallySigned struct, encoded. */
struct ct_sig {
	uint8_t hash_alg; /* 4 = sha256 */
	uint8_t sig_alg;  /* 3 = ecdsa */
	uint16_t len;
	uint8_t sig[CT_MAX_SIG_LEN];
};
/* ct_write_sig / ct_parse_sig: the DigitallySigned encoding. parse reads one
 * from |in| and advances (it does not require |in| to end). */
int ct_write_sig(struct cbb *out, const struct ct_sig *sig) MN_WUR;
int ct_parse_sig(struct ct_sig *out, struct cbs *in) MN_WUR;

/* struct { Version sct_version(0); LogID id; uint64 timestamp;
 *          CtExtensions extensions; digitally-signed struct {...}; }
 *   SignedCertificateTimestamp;                -- section 3.2 */
struct ct_sct {
	uint8_t version; /* 0 = v1 */
	uint8_t log_id[CT_LOG_ID_LEN];
	uint64_t timestamp;
	const uint8_t *extensions;
	size_t extensions_len;
	struct ct_sig sig;
};
/* ct_write_sct appends the SignedCertificateTimestamp encoding. */
int ct_write_sct(struct cbb *out, const struct ct_sct *sct) MN_WUR;
/* ct_parse_sct parses exactly one whole SCT (no trailing bytes). */
int ct_parse_sct(struct ct_sct *out, const uint8_t *in, size_t in_len) MN_WUR;
/* ct_write_sct_list appends a SignedCertificateTimestampList (section 3.3):
 * opaque SerializedSCT<1..2^16-1>; SerializedSCT sct_list<1..2^16-1>. */
int ct_write_sct_list(struct cbb *out, const struct ct_sct *scts, size_t num) MN_WUR;

/* ct_signer signs with the log's ECDSA P-256 private key. Thread-safe: signing
 * may run on several threads at once. */
struct ct_signer;
/* ct_signer_new takes a reference on |pkey| (an EVP_PKEY *, passed as void * so
 * OpenSSL types stay out of this header) and computes the log ID, SHA-256 of the
 * DER SubjectPublicKeyInfo. Returns NULL if the key is not a P-256 private key
 * or on OOM. ct_signer_free(NULL) is a no-op. */
struct ct_signer *ct_signer_new(void *pkey);
void ct_signer_free(struct ct_signer *s);
const uint8_t *ct_signer_log_id(const struct ct_signer *s);
/* ct_signer_spki returns the DER SubjectPublicKeyInfo (borrowed). */
const uint8_t *ct_signer_spki(const struct ct_signer *s, size_t *out_len);
/* ct_sign signs SHA-256(|in|) into |out|. Returns 0 or MN_ECRYPTO. */
int ct_sign(const struct ct_signer *s, struct ct_sig *out, const uint8_t *in,
	    size_t in_len);
/* ct_sign_sct fills |out| (version, log_id, timestamp, extensions from |e|) and
 * signs the section 3.2 input for |e|. |out->extensions| borrows from |e|.
 * Returns 0, MN_EINVAL (unknown entry type, empty or oversized body or
 * extensions), MN_ECRYPTO or MN_ENOMEM. */
int ct_sign_sct(const struct ct_signer *s, struct ct_sct *out,
		const struct ct_entry *e);
/* ct_sign_leaf_sct signs the SCT of the MerkleTreeLeaf |leaf| (whole, as
 * stored): its timestamp and extensions are the leaf's. The section 3.2 input
 * is byte for byte the MerkleTreeLeaf (version v1(0) and leaf_type
 * timestamped_entry(0) there, sct_version v1(0) and signature_type
 * certificate_timestamp(0) here, then the same TimestampedEntry fields), so
 * the leaf is signed as it is. |out->extensions| borrows from |leaf|. Returns
 * 0, MN_EINVAL (not a well-formed leaf), MN_ECRYPTO. */
int ct_sign_leaf_sct(const struct ct_signer *s, struct ct_sct *out, const uint8_t *leaf,
		     size_t leaf_len);
/* ct_sign_sth signs the section 3.5 input. Returns 0, MN_ECRYPTO or MN_ENOMEM. */
int ct_sign_sth(const struct ct_signer *s, struct ct_sig *out, uint64_t timestamp,
		uint64_t tree_size, const uint8_t root[32]);

/* ct_verifier checks log signatures with a public key given as DER
 * SubjectPublicKeyInfo (what get-roots-style configs and /mn/v1/info carry). */
struct ct_verifier;
/* ct_verifier_new returns NULL unless |spki| is exactly one DER
 * SubjectPublicKeyInfo of a P-256 key (no trailing bytes); the log ID is SHA-256
 * of |spki|. Nothing is borrowed. ct_verifier_free(NULL) is a no-op. */
struct ct_verifier *ct_verifier_new(const uint8_t *spki, size_t spki_len);
void ct_verifier_free(struct ct_verifier *v);
const uint8_t *ct_verifier_log_id(const struct ct_verifier *v);
/* ct_verify returns 1 iff |sig| is a valid sha256/ecdsa signature over |in|. */
int ct_verify(const struct ct_verifier *v, const struct ct_sig *sig,
	      const uint8_t *in, size_t in_len);
/* ct_verify_sct returns 1 iff |sct| is this log's valid SCT for |e| (whose
 * timestamp and extensions are taken from |sct|). */
int ct_verify_sct(const struct ct_verifier *v, const struct ct_sct *sct,
		  const struct ct_entry *e);
/* ct_verify_sth returns 1 iff |sig| is a valid TreeHeadSignature. */
int ct_verify_sth(const struct ct_verifier *v, const struct ct_sig *sig,
		  uint64_t timestamp, uint64_t tree_size, const uint8_t root[32]);

#endif
