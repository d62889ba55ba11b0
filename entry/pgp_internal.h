/* pgp_internal.h: what the entry/pgp*.c files share (STYLE.md section 1:
 * cross-file internals take a double underscore). Not a public header.
 *
 *   pgp_packet.c      packet framing (RFC 4880 section 4.2), v4 fingerprints,
 *                     canonical signature packets
 *   pgp_certifiers.c  the configured certifiers and their policy file; RNP
 *                     helpers shared with the check
 *   pgp_body.c        the leaf body and the opening: encoding, parsing,
 *                     commitments, rebuilding the transferable public key
 *   pgp.c             checking a submission with RNP */
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

#endif
