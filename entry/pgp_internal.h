/* pgp_internal.h: what the entry/pgp*.c files share (STYLE.md section 1:
 * cross-file internals take a double underscore). Not a public header.
 *
 *   pgp_packet.c      packet framing (RFC 4880 section 4.2), v4 fingerprints,
 *                     canonical signature packets
 *   pgp_certifiers.c  the configured certifiers and their policy file; RNP
 *                     helpers shared with the check
 *   pgp_body.c        the leaf body and the opening: encoding, parsing,
 *                     commitments, rebuilding the transferable public key
 *   pgp.c             checking a submission with RNP: pgp_endorsement_check
 *                     and the leaf it builds
 *   pgp_sigs.c        the check's choice of signatures and subkeys, judging
 *                     what RNP verified
 *   pgp_revocation.c  the certifier's certification revocation, verified
 *                     with OpenSSL
 *   pgp_export.c      the chosen packets found in RNP's export of the key */
#ifndef MN_ENTRY_PGP_INTERNAL_H
#define MN_ENTRY_PGP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <rnp/rnp.h>

#include "common/bytes.h"
#include "entry/pgp.h"

#define V4_FPR_LEN 20

struct certifier {
	uint8_t fpr[PGP_MAX_FPR_LEN];
	size_t fpr_len;
	char fpr_hex[2 * PGP_MAX_FPR_LEN + 1];
	uint8_t *key; /* binary transferable public key */
	size_t key_len;
	char **scopes;
	size_t num_scopes;
	uint64_t expires;
	int has_policy;
};

struct pgp_certifiers {
	struct certifier *v;
	size_t num;
};

/* pgp__hex_decode decodes exactly |len| hex characters into |out| (cap |cap|).
 * Returns the byte count, or 0 on any bad character, odd length or overflow. */
size_t pgp__hex_decode(uint8_t *out, size_t cap, const char *hex, size_t len);
/* pgp__hex_encode writes 2 * |len| uppercase hex digits and a NUL to |out|. */
void pgp__hex_encode(char *out, const uint8_t *in, size_t len);
/* pgp__domain_normalize checks an LDH domain name and writes it lowercased and
 * NUL-terminated to |out|. Returns 1 or 0. */
int pgp__domain_normalize(char out[256], const uint8_t *d, size_t len);
/* pgp__v4_fingerprint: RFC 4880 section 12.2 of a v4 key packet body. 1 or 0. */
int pgp__v4_fingerprint(uint8_t out[V4_FPR_LEN], const struct cbs *key_body);
/* pgp__canonical_sig appends the canonical packet of the v4 signature |body|
 * (pgp.h) and sets |out_prefix| to its signed prefix. Returns 1 or 0. */
int pgp__canonical_sig(struct cbb *out, struct cbs *out_prefix, const struct cbs *body,
		       const uint8_t issuer_fpr[V4_FPR_LEN]);
/* pgp__opening_v2_encode writes the PgpOpeningV2 (pgp.h) of |salt|, the user
 * ID contents and the two whole signature packets to a new buffer (*out,
 * free()). Returns 0, MN_ETOOBIG (user ID over 65535 bytes, or too big) or
 * MN_ENOMEM. */
int pgp__opening_v2_encode(uint8_t **out, size_t *out_len, const uint8_t salt[PGP_SALT_LEN],
			   const uint8_t *user_id, size_t user_id_len,
			   const struct cbs *self_sig, const struct cbs *certifier_sig);
/* pgp__body_v2_encode writes the PgpEndorsementBodyV2 (pgp.h) from |r|'s
 * fields (fingerprints, sig_type, sig_created_s, domain, address_key,
 * uid_commitment), the whole primary key packet and the encoded PgpSubkey
 * list to a new buffer (*out, free()). Returns 0, MN_ETOOBIG or MN_ENOMEM. */
int pgp__body_v2_encode(uint8_t **out, size_t *out_len, const struct pgp_result *r,
			const struct cbs *primary_key, const struct cbs *subkeys);
/* pgp__export_key writes |key| (with subkeys, public parts only) to a
 * malloc'd buffer. Returns 0, MN_ENOMEM or MN_EINTERNAL. */
int pgp__export_key(rnp_key_handle_t key, uint8_t **out, size_t *out_len);
/* pgp__quiet_ffi sends RNP's diagnostics for |ffi| to /dev/null. */
void pgp__quiet_ffi(rnp_ffi_t ffi);

/* --- the check (pgp.c and the files of its steps) ------------------------ */

/* The state of one check; everything RNP-owned is released in check_free
 * (pgp.c). */
struct pgp__check {
	rnp_ffi_t ffi;
	rnp_key_handle_t key, cert_key;
	uint32_t key_created, cert_key_created;
	char key_hex[2 * V4_FPR_LEN + 1];
	const struct certifier *ct;
	uint64_t now;
	const char *reason;
};

/* Reasons for one role (self-signature, certifier signature, binding). */
struct pgp__role {
	const char *weak, *future, *older, *expired, *bad;
};

/* The signature pgp__pick_uid_sigs chose for one role: its index among the
 * user ID's signatures, creation time and type; or the first failure. */
struct pgp__pick {
	int found;
	size_t idx;
	uint32_t created;
	int type;
	int err;
	const char *reason;
};

/* An encryption subkey pgp__pick_subkeys kept; pgp__split_export fills in
 * its packets and fingerprint. */
struct pgp__sub_pick {
	size_t sub_idx;    /* rnp_key_get_subkey_at index */
	size_t sig_idx;    /* binding: rnp_key_get_signature_at index on the subkey */
	uint8_t fpr[V4_FPR_LEN];
	struct cbs key;    /* exported subkey packet body */
	struct cbs binding; /* exported binding signature body */
};

/* pgp__fail records |reason| in |ck| and returns |code| (pgp.c). */
int pgp__fail(struct pgp__check *ck, int code, const char *reason);

/* ---- pgp_sigs.c ---- */

/* pgp__certifier_role: the reasons given for the certifier's signature. */
extern const struct pgp__role pgp__certifier_role;
/* pgp__pick_uid_sigs chooses the self-signature and the certifier signature
 * over |uid|; |sigs| is RNP's export positioned at its first signature. */
int pgp__pick_uid_sigs(struct pgp__check *ck, rnp_uid_handle_t uid, struct cbs sigs,
		       const struct cbs *key_body, const uint8_t *user_id,
		       size_t user_id_len, struct pgp__pick *self, struct pgp__pick *cert);
/* pgp__pick_subkeys selects the encryption subkeys worth keeping (pgp.h). */
int pgp__pick_subkeys(struct pgp__check *ck, struct pgp__sub_pick *out, size_t *out_num);

/* ---- pgp_revocation.c ---- */

/* pgp__verify_revocation judges the certifier's 0x30 |sig| over |user_id| on
 * the key |key_body| with OpenSSL. Returns 0 (|*out_created| set) or a
 * negative code with the reason in |ck|. */
int pgp__verify_revocation(struct pgp__check *ck, const struct cbs *sig,
			   const struct cbs *key_body, const uint8_t *user_id,
			   size_t user_id_len, uint32_t *out_created);

/* ---- pgp_export.c ---- */

/* pgp__find_uid_sigs positions |out| at the first signature packet of user
 * ID |uid_idx| in RNP's export |exp| of ck->key. */
int pgp__find_uid_sigs(struct pgp__check *ck, const uint8_t *exp, size_t exp_len,
		       size_t uid_idx, struct cbs *out);
/* pgp__split_export picks the primary key packet, the two chosen signatures
 * and the chosen subkeys' packets out of RNP's export |exp| of ck->key. */
int pgp__split_export(struct pgp__check *ck, const uint8_t *exp, size_t exp_len,
		      size_t uid_idx, size_t self_idx, size_t cert_idx,
		      int self_type, int cert_type, struct cbs *out_key,
		      struct cbs *out_self, struct cbs *out_cert,
		      struct pgp__sub_pick *subs, size_t num_subs);

#endif
