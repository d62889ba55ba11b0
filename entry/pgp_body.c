/* pgp_body.c: the PgpEndorsementBody (versions 1 and 2) and its opening
 * (pgp.h): encoding (version 2 only), parsing, commitments, rebuilding the
 * transferable public key, and the address key (a VRF output). */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/err.h"
#include "common/vrf.h"
#include "entry/ct.h"
#include "entry/names.h"
#include "entry/pgp.h"
#include "entry/pgp_internal.h"

static const uint8_t kUidLabel[] = "mn-pgp-uid";   /* + its NUL: 11 bytes */
static const uint8_t kUid2Label[] = "mn-pgp-uid2"; /* + its NUL: 12 bytes */
static const char kAlphaLabel[] = PGP_ADDRESS_ALPHA_LABEL; /* + its NUL: 17 bytes */

/* --- commitments and openings ---------------------------------------------*/

static void sha256_2(uint8_t out[32], const uint8_t *a, size_t a_len, const uint8_t *b,
		     size_t b_len, const uint8_t *c, size_t c_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(ctx, a, a_len) || (b_len && !EVP_DigestUpdate(ctx, b, b_len)) ||
	    (c_len && !EVP_DigestUpdate(ctx, c, c_len)) || !EVP_DigestFinal_ex(ctx, out, NULL))
		memset(out, 0, 32); /* only on allocation failure; matches nothing real */
	EVP_MD_CTX_free(ctx);
}

void pgp_uid_commitment(uint8_t out[32], const uint8_t salt[PGP_SALT_LEN],
			const uint8_t *user_id, size_t user_id_len)
{
	sha256_2(out, kUidLabel, sizeof(kUidLabel), salt, PGP_SALT_LEN, user_id, user_id_len);
}

void pgp_uid_commitment_v2(uint8_t out[32], const uint8_t *opening, size_t opening_len)
{
	sha256_2(out, kUid2Label, sizeof(kUid2Label), opening, opening_len, NULL, 0);
}

/* get_packet_field reads an OpenPGPPacket<1..2^24-1> holding exactly one
 * packet with tag |tag|. */
static int get_packet_field(struct cbs *c, struct cbs *out, uint8_t tag)
{
	struct cbs f, inner, body;
	uint8_t t;
	if (!cbs_get_u24_length_prefixed(c, &f) || cbs_len(&f) == 0)
		return 0;
	inner = f;
	if (!pgp_packet_get(&inner, &t, &body, NULL) || t != tag || cbs_len(&inner))
		return 0;
	*out = f;
	return 1;
}

/* sig_packet_type: the signature type of a whole v4 signature packet, or -1. */
static int sig_packet_type(const struct cbs *packet)
{
	struct cbs c = *packet, body;
	uint8_t tag, ver, type;

	if (!pgp_packet_get(&c, &tag, &body, NULL) || tag != 2 || !cbs_get_u8(&body, &ver) ||
	    ver != 4 || !cbs_get_u8(&body, &type))
		return -1;
	return type;
}

int pgp_opening_parse(struct pgp_opening *out, uint8_t version, const uint8_t *opening,
		      size_t opening_len)
{
	struct cbs c, salt;

	memset(out, 0, sizeof(*out));
	if (!opening)
		return MN_EMALFORMED;
	cbs_init(&c, opening, opening_len);
	if (!cbs_get_bytes(&c, &salt, PGP_SALT_LEN))
		goto bad;
	out->salt = cbs_data(&salt);
	if (version == PGP_BODY_V1) {
		out->user_id = c;
		return 0;
	}
	if (version != PGP_BODY_V2 || !cbs_get_u16_length_prefixed(&c, &out->user_id) ||
	    cbs_len(&out->user_id) == 0 || !get_packet_field(&c, &out->self_sig, 2) ||
	    !get_packet_field(&c, &out->certifier_sig, 2) || cbs_len(&c) != 0)
		goto bad;
	return 0;
bad:
	memset(out, 0, sizeof(*out));
	return MN_EMALFORMED;
}

int pgp_opening_matches(const struct pgp_body *b, const uint8_t *opening,
			size_t opening_len)
{
	struct pgp_opening o;
	uint8_t c[32];
	int st;

	if (!b || pgp_opening_parse(&o, b->version, opening, opening_len) != 0)
		return 0;
	if (b->version == PGP_BODY_V1) {
		pgp_uid_commitment(c, o.salt, cbs_data(&o.user_id), cbs_len(&o.user_id));
	} else {
		st = sig_packet_type(&o.self_sig);
		if (st < 0x10 || st > 0x13 || sig_packet_type(&o.certifier_sig) != b->sig_type)
			return 0;
		pgp_uid_commitment_v2(c, opening, opening_len);
	}
	return CRYPTO_memcmp(c, b->uid_commitment, 32) == 0;
}

/* --- encoding (version 2) ---------------------------------------------------*/

int pgp__opening_v2_encode(uint8_t **out, size_t *out_len, const uint8_t salt[PGP_SALT_LEN],
			   const uint8_t *user_id, size_t user_id_len,
			   const struct cbs *self_sig, const struct cbs *certifier_sig)
{
	struct cbb b, f;

	*out = NULL;
	*out_len = 0;
	if (user_id_len == 0 || user_id_len > 0xffff)
		return MN_ETOOBIG;
	if (!cbb_init(&b, PGP_SALT_LEN + 2 + user_id_len + 6 + cbs_len(self_sig) +
				  cbs_len(certifier_sig),
		      CT_MAX_BODY_LEN))
		return MN_ENOMEM;
	if (!cbb_add_bytes(&b, salt, PGP_SALT_LEN) || !cbb_add_u16_length_prefixed(&b, &f) ||
	    !cbb_add_bytes(&f, user_id, user_id_len) || !cbb_add_u24_length_prefixed(&b, &f) ||
	    !cbb_add_bytes(&f, cbs_data(self_sig), cbs_len(self_sig)) ||
	    !cbb_add_u24_length_prefixed(&b, &f) ||
	    !cbb_add_bytes(&f, cbs_data(certifier_sig), cbs_len(certifier_sig)) ||
	    !cbb_finish(&b, out, out_len)) {
		cbb_cleanup(&b);
		return MN_ETOOBIG;
	}
	return 0;
}

int pgp__body_v2_encode(uint8_t **out, size_t *out_len, const struct pgp_result *r,
			const struct cbs *primary_key, const struct cbs *subkeys)
{
	struct cbb b, f;
	size_t dlen = strlen(r->domain);

	*out = NULL;
	*out_len = 0;
	if (!cbb_init(&b, 128 + cbs_len(primary_key) + cbs_len(subkeys), CT_MAX_BODY_LEN))
		return MN_ENOMEM;
	if (!cbb_add_u8(&b, PGP_BODY_V2) || !cbb_add_u8_length_prefixed(&b, &f) ||
	    !cbb_add_bytes(&f, r->endorsed_fpr, r->endorsed_fpr_len) ||
	    !cbb_add_u8_length_prefixed(&b, &f) ||
	    !cbb_add_bytes(&f, r->certifier_fpr, r->certifier_fpr_len) ||
	    !cbb_add_u8(&b, r->sig_type) || !cbb_add_u64(&b, r->sig_created_s) ||
	    !cbb_add_u8_length_prefixed(&b, &f) ||
	    !cbb_add_bytes(&f, (const uint8_t *)r->domain, dlen) ||
	    !cbb_add_bytes(&b, r->address_key, PGP_ADDRESS_KEY_LEN) ||
	    !cbb_add_bytes(&b, r->uid_commitment, 32) || !cbb_add_u24_length_prefixed(&b, &f) ||
	    !cbb_add_bytes(&f, cbs_data(primary_key), cbs_len(primary_key)) ||
	    !cbb_add_u24_length_prefixed(&b, &f) ||
	    !cbb_add_bytes(&f, cbs_data(subkeys), cbs_len(subkeys)) ||
	    !cbb_finish(&b, out, out_len)) {
		cbb_cleanup(&b);
		return MN_ETOOBIG;
	}
	return 0;
}

/* --- reading a body back -----------------------------------------------------*/

int pgp_body_next_subkey(struct cbs *subkeys, struct cbs *out_subkey,
			 struct cbs *out_binding)
{
	struct cbs c = *subkeys;
	if (!get_packet_field(&c, out_subkey, 14) || !get_packet_field(&c, out_binding, 2))
		return 0;
	*subkeys = c;
	return 1;
}

int pgp_body_parse(struct pgp_body *out, const uint8_t *body, size_t body_len)
{
	struct cbs c, list, a, b;
	int v2;

	memset(out, 0, sizeof(*out));
	if (!body)
		return MN_EMALFORMED;
	cbs_init(&c, body, body_len);
	if (!cbs_get_u8(&c, &out->version) ||
	    (out->version != PGP_BODY_V1 && out->version != PGP_BODY_V2))
		goto bad;
	v2 = out->version == PGP_BODY_V2;
	if (!cbs_get_u8_length_prefixed(&c, &out->endorsed_fpr) ||
	    cbs_len(&out->endorsed_fpr) == 0 ||
	    !cbs_get_u8_length_prefixed(&c, &out->certifier_fpr) ||
	    cbs_len(&out->certifier_fpr) == 0 || !cbs_get_u8(&c, &out->sig_type) ||
	    !((out->sig_type >= 0x10 && out->sig_type <= 0x13) || out->sig_type == 0x30) ||
	    !cbs_get_u64(&c, &out->sig_created) ||
	    !cbs_get_u8_length_prefixed(&c, &out->domain) || cbs_len(&out->domain) == 0 ||
	    (v2 && !cbs_copy_bytes(&c, out->address_key, PGP_ADDRESS_KEY_LEN)) ||
	    !cbs_copy_bytes(&c, out->uid_commitment, 32) ||
	    !get_packet_field(&c, &out->primary_key, 6) ||
	    (!v2 && (!get_packet_field(&c, &out->self_sig, 2) ||
		     !get_packet_field(&c, &out->certifier_sig, 2))) ||
	    !cbs_get_u24_length_prefixed(&c, &out->subkeys) || cbs_len(&c) != 0)
		goto bad;
	list = out->subkeys;
	while (cbs_len(&list)) {
		if (!pgp_body_next_subkey(&list, &a, &b))
			goto bad;
		out->num_subkeys++;
	}
	return 0;
bad:
	memset(out, 0, sizeof(*out));
	return MN_EMALFORMED;
}

int pgp_body_to_tpk(uint8_t **out, size_t *out_len, const struct pgp_body *b,
		    const uint8_t *opening, size_t opening_len)
{
	struct pgp_opening o;
	const struct cbs *self, *cert;
	struct cbb t;
	struct cbs list, k, s;
	int ok;

	if (!out || !out_len || !b || !pgp_opening_matches(b, opening, opening_len) ||
	    pgp_opening_parse(&o, b->version, opening, opening_len) != 0)
		return MN_EINVAL;
	self = b->version == PGP_BODY_V1 ? &b->self_sig : &o.self_sig;
	cert = b->version == PGP_BODY_V1 ? &b->certifier_sig : &o.certifier_sig;
	if (!cbb_init(&t, 4096, (size_t)1 << 26))
		return MN_ENOMEM;
	ok = cbb_add_bytes(&t, cbs_data(&b->primary_key), cbs_len(&b->primary_key)) &&
	     pgp_packet_add(&t, 13, cbs_data(&o.user_id), cbs_len(&o.user_id)) &&
	     cbb_add_bytes(&t, cbs_data(self), cbs_len(self)) &&
	     cbb_add_bytes(&t, cbs_data(cert), cbs_len(cert));
	list = b->subkeys;
	while (ok && cbs_len(&list)) {
		ok = pgp_body_next_subkey(&list, &k, &s) &&
		     cbb_add_bytes(&t, cbs_data(&k), cbs_len(&k)) &&
		     cbb_add_bytes(&t, cbs_data(&s), cbs_len(&s));
	}
	if (!ok || !cbb_finish(&t, out, out_len)) {
		cbb_cleanup(&t);
		return MN_ENOMEM;
	}
	return 0;
}

/* --- the address key ---------------------------------------------------------*/

int pgp_address_alpha(uint8_t *out, size_t cap, const char *addr, size_t addr_len)
{
	char norm[NAMES_MAX_EMAIL_LEN + 1];
	int n;

	if (!out || (!addr && addr_len))
		return MN_EINVAL;
	n = names_email_normalize(norm, sizeof(norm), addr, addr_len, 0);
	if (n < 0)
		return MN_EMALFORMED;
	if (cap < sizeof(kAlphaLabel) + (size_t)n)
		return MN_EINVAL;
	memcpy(out, kAlphaLabel, sizeof(kAlphaLabel)); /* with its NUL */
	memcpy(out + sizeof(kAlphaLabel), norm, (size_t)n);
	return (int)(sizeof(kAlphaLabel) + (size_t)n);
}

int pgp_address_vrf(const struct vrf_key *k, uint8_t beta[PGP_ADDRESS_KEY_LEN],
		    uint8_t proof[VRF_PROOF_LEN], const char *addr, size_t addr_len)
{
	uint8_t alpha[PGP_MAX_ALPHA_LEN];
	int n = pgp_address_alpha(alpha, sizeof(alpha), addr, addr_len), ret;

	if (n < 0)
		return n;
	if (proof == NULL)
		return vrf_hash(k, beta, alpha, (size_t)n);
	ret = vrf_prove(k, proof, alpha, (size_t)n);
	return ret != 0 ? ret : vrf_proof_to_hash(beta, proof);
}

int pgp_address_vrf_verify(uint8_t beta[PGP_ADDRESS_KEY_LEN], const uint8_t pub[VRF_PUBLIC_LEN],
			   const uint8_t proof[VRF_PROOF_LEN], const char *addr,
			   size_t addr_len)
{
	uint8_t alpha[PGP_MAX_ALPHA_LEN];
	int n = pgp_address_alpha(alpha, sizeof(alpha), addr, addr_len);

	return n > 0 && vrf_verify(beta, pub, proof, alpha, (size_t)n) == 1;
}

int pgp_addr_key_vrf(void *ctx, uint8_t out[PGP_ADDRESS_KEY_LEN], const char *addr,
		     size_t addr_len)
{
	if (ctx == NULL)
		return MN_EINVAL;
	return pgp_address_vrf(ctx, out, NULL, addr, addr_len);
}
