/* pgp_packet.c: OpenPGP packet framing (RFC 4880 section 4.2), v4
 * fingerprints (section 12.2) and canonical signature packets (pgp.h): the
 * little packet-level work done without RNP, to reject truncation and secret
 * key packets before RNP sees them and to split what RNP exports. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/err.h"
#include "entry/ct.h"
#include "entry/pgp.h"
#include "entry/pgp_internal.h"

/* --- packet framing ------------------------------------------------------ */

int pgp_packet_get(struct cbs *cbs, uint8_t *out_tag, struct cbs *out_body,
		   struct cbs *out_packet)
{
	struct cbs c = *cbs, body;
	uint8_t b, tag;
	uint32_t len = 0;

	if (!cbs_get_u8(&c, &b) || !(b & 0x80))
		return 0;
	if (b & 0x40) { /* new format, section 4.2.2 */
		uint8_t l1, l2;
		tag = b & 0x3f;
		if (!cbs_get_u8(&c, &l1))
			return 0;
		if (l1 < 192) {
			len = l1;
		} else if (l1 < 224) {
			if (!cbs_get_u8(&c, &l2))
				return 0;
			len = ((uint32_t)(l1 - 192) << 8) + l2 + 192;
		} else if (l1 == 255) {
			if (!cbs_get_u32(&c, &len))
				return 0;
		} else {
			return 0; /* partial body length: never valid in a key */
		}
	} else { /* old format, section 4.2.1 */
		tag = (b >> 2) & 0x0f;
		switch (b & 3) {
		case 0: {
			uint8_t v;
			if (!cbs_get_u8(&c, &v))
				return 0;
			len = v;
			break;
		}
		case 1: {
			uint16_t v;
			if (!cbs_get_u16(&c, &v))
				return 0;
			len = v;
			break;
		}
		case 2:
			if (!cbs_get_u32(&c, &len))
				return 0;
			break;
		default:
			return 0; /* indeterminate length */
		}
	}
	if (tag == 0)
		return 0;
	if (!cbs_get_bytes(&c, &body, len))
		return 0;
	if (out_packet)
		cbs_init(out_packet, cbs->data, cbs->len - c.len);
	*out_tag = tag;
	*out_body = body;
	*cbs = c;
	return 1;
}

int pgp_packet_add(struct cbb *cbb, uint8_t tag, const uint8_t *body,
		   size_t body_len)
{
	if (tag == 0 || tag > 63 || body_len > UINT32_MAX)
		return 0;
	if (!cbb_add_u8(cbb, 0xc0 | tag))
		return 0;
	if (body_len < 192) {
		if (!cbb_add_u8(cbb, (uint8_t)body_len))
			return 0;
	} else if (body_len < 8384) {
		size_t v = body_len - 192;
		if (!cbb_add_u8(cbb, (uint8_t)((v >> 8) + 192)) ||
		    !cbb_add_u8(cbb, (uint8_t)v))
			return 0;
	} else if (!cbb_add_u8(cbb, 255) || !cbb_add_u32(cbb, (uint32_t)body_len)) {
		return 0;
	}
	return cbb_add_bytes(cbb, body, body_len);
}

static int sha_digest(const char *name, uint8_t *out, const uint8_t *a,
		      size_t a_len, const uint8_t *b, size_t b_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_get_digestbyname(name), NULL) &&
		 EVP_DigestUpdate(ctx, a, a_len) &&
		 (b_len == 0 || EVP_DigestUpdate(ctx, b, b_len)) &&
		 EVP_DigestFinal_ex(ctx, out, NULL);
	EVP_MD_CTX_free(ctx);
	return ok;
}

/* pgp__v4_fingerprint: RFC 4880 section 12.2, SHA-1(0x99 || u16 len || key body).
 * SHA-1 is what the v4 format defines; it names a key, it signs nothing. */
int pgp__v4_fingerprint(uint8_t out[V4_FPR_LEN], const struct cbs *key_body)
{
	uint8_t hdr[3];
	if (cbs_len(key_body) < 1 || cbs_data(key_body)[0] != 4 ||
	    cbs_len(key_body) > 0xffff)
		return 0;
	hdr[0] = 0x99;
	hdr[1] = (uint8_t)(cbs_len(key_body) >> 8);
	hdr[2] = (uint8_t)cbs_len(key_body);
	return sha_digest("SHA1", out, hdr, 3, cbs_data(key_body), cbs_len(key_body));
}

/* canonical_sig appends the canonical form of the v4 signature |body| (see
 * pgp.h) as a whole packet, naming |issuer_fpr| in the unhashed area, and
 * returns its signed prefix in |out_prefix| (borrowing from |body|).
 *
 *   version(4) type pkalg hashalg u16 hashed_len hashed[] u16 unhashed_len
 *   unhashed[] left16[2] signature_value     -- RFC 4880 section 5.2.3 */
int pgp__canonical_sig(struct cbb *out, struct cbs *out_prefix,
			 const struct cbs *body, const uint8_t issuer_fpr[V4_FPR_LEN])
{
	struct cbs c = *body, hashed, unhashed, left, rest;
	uint8_t ver, hdr[3];
	struct cbb pkt;
	uint8_t *buf = NULL;
	size_t len;
	int ok;

	if (!cbs_get_u8(&c, &ver) || ver != 4 || !cbs_get_u8(&c, &hdr[0]) ||
	    !cbs_get_u8(&c, &hdr[1]) || !cbs_get_u8(&c, &hdr[2]) ||
	    !cbs_get_u16_length_prefixed(&c, &hashed))
		return 0;
	cbs_init(out_prefix, cbs_data(body), cbs_len(body) - cbs_len(&c));
	if (!cbs_get_u16_length_prefixed(&c, &unhashed) || !cbs_get_bytes(&c, &left, 2) ||
	    cbs_len(&c) == 0)
		return 0;
	rest = c;
	if (!cbb_init(&pkt, cbs_len(body) + 16, CT_MAX_BODY_LEN))
		return 0;
	ok = cbb_add_bytes(&pkt, cbs_data(out_prefix), cbs_len(out_prefix)) &&
	     cbb_add_u16(&pkt, 10) &&
	     cbb_add_u8(&pkt, 9) &&  /* subpacket length: type + 8 */
	     cbb_add_u8(&pkt, 16) && /* Issuer, section 5.2.3.5 */
	     cbb_add_bytes(&pkt, issuer_fpr + V4_FPR_LEN - 8, 8) &&
	     cbb_add_bytes(&pkt, cbs_data(&left), 2) &&
	     cbb_add_bytes(&pkt, cbs_data(&rest), cbs_len(&rest)) &&
	     cbb_finish(&pkt, &buf, &len);
	if (!ok) {
		cbb_cleanup(&pkt);
		return 0;
	}
	ok = pgp_packet_add(out, 2, buf, len);
	free(buf);
	return ok;
}
