/* pgp_body.c: the PgpEndorsementBody and its opening (pgp.h): commitments,
 * parsing, and rebuilding the transferable public key. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/err.h"
#include "entry/pgp.h"
#include "entry/pgp_internal.h"

static const uint8_t kUidLabel[] = "mn-pgp-uid";      /* + its NUL: 11 bytes */

void pgp_uid_commitment(uint8_t out[32], const uint8_t salt[PGP_SALT_LEN],
			const uint8_t *user_id, size_t user_id_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(ctx, kUidLabel, sizeof(kUidLabel)) ||
	    !EVP_DigestUpdate(ctx, salt, PGP_SALT_LEN) ||
	    (user_id_len && !EVP_DigestUpdate(ctx, user_id, user_id_len)) ||
	    !EVP_DigestFinal_ex(ctx, out, NULL))
		memset(out, 0, 32); /* only on allocation failure; matches nothing real */
	EVP_MD_CTX_free(ctx);
}

int pgp_opening_matches(const uint8_t commitment[32], const uint8_t *opening,
			size_t opening_len)
{
	uint8_t c[32];
	if (!opening || opening_len < PGP_SALT_LEN)
		return 0;
	pgp_uid_commitment(c, opening, opening + PGP_SALT_LEN, opening_len - PGP_SALT_LEN);
	return CRYPTO_memcmp(c, commitment, 32) == 0;
}

/* --- reading a body back -----------------------------------------------------*/

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
	memset(out, 0, sizeof(*out));
	if (!body)
		return MN_EMALFORMED;
	cbs_init(&c, body, body_len);
	if (!cbs_get_u8(&c, &out->version) || out->version != PGP_BODY_VERSION ||
	    !cbs_get_u8_length_prefixed(&c, &out->endorsed_fpr) ||
	    cbs_len(&out->endorsed_fpr) == 0 ||
	    !cbs_get_u8_length_prefixed(&c, &out->certifier_fpr) ||
	    cbs_len(&out->certifier_fpr) == 0 || !cbs_get_u8(&c, &out->sig_type) ||
	    !((out->sig_type >= 0x10 && out->sig_type <= 0x13) || out->sig_type == 0x30) ||
	    !cbs_get_u64(&c, &out->sig_created) ||
	    !cbs_get_u8_length_prefixed(&c, &out->domain) || cbs_len(&out->domain) == 0 ||
	    !cbs_copy_bytes(&c, out->uid_commitment, 32) ||
	    !get_packet_field(&c, &out->primary_key, 6) ||
	    !get_packet_field(&c, &out->self_sig, 2) ||
	    !get_packet_field(&c, &out->certifier_sig, 2) ||
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
	struct cbb t;
	struct cbs list, k, s;
	int ok;

	if (!out || !out_len || !b || !pgp_opening_matches(b->uid_commitment, opening,
							    opening_len))
		return MN_EINVAL;
	if (!cbb_init(&t, 4096, (size_t)1 << 26))
		return MN_ENOMEM;
	ok = cbb_add_bytes(&t, cbs_data(&b->primary_key), cbs_len(&b->primary_key)) &&
	     pgp_packet_add(&t, 13, opening + PGP_SALT_LEN, opening_len - PGP_SALT_LEN) &&
	     cbb_add_bytes(&t, cbs_data(&b->self_sig), cbs_len(&b->self_sig)) &&
	     cbb_add_bytes(&t, cbs_data(&b->certifier_sig), cbs_len(&b->certifier_sig));
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
