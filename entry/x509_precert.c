/* x509_precert.c: precertificates (RFC 6962 section 3.1): the poison
 * extension, and the TBSCertificate that is logged for one (section 3.2). */
#include <stdlib.h>
#include <string.h>

#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "common/err.h"
#include "entry/ct.h"
#include "entry/x509_internal.h"

static const uint8_t kPoisonValue[] = {0x05, 0x00}; /* ASN.1 NULL */
/* id-ce-authorityKeyIdentifier 2.5.29.35 and the poison 1.3.6.1.4.1.11129.2.4.3,
 * as OBJECT IDENTIFIER contents. */
static const uint8_t kAkiOid[] = {0x55, 0x1d, 0x23};
static const uint8_t kPoisonOid[] = {0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x03};

const char *x509__poison_problem(const STACK_OF(X509_EXTENSION) *exts, int precert)
{
	int poison = X509v3_get_ext_by_NID(exts, NID_ct_precert_poison, -1);
	if (!precert)
		return poison >= 0 ? "precertificate (poison extension) submitted to add-chain"
				   : NULL;
	if (poison < 0)
		return "add-pre-chain needs a precertificate (no poison extension)";
	X509_EXTENSION *ext = X509v3_get_ext(exts, poison);
	const ASN1_OCTET_STRING *val = X509_EXTENSION_get_data(ext);
	if (!X509_EXTENSION_get_critical(ext))
		return "precertificate poison extension is not critical";
	if (ASN1_STRING_length(val) != (int)sizeof(kPoisonValue) ||
	    memcmp(ASN1_STRING_get0_data(val), kPoisonValue, sizeof(kPoisonValue)) != 0)
		return "precertificate poison extension is not NULL";
	if (X509v3_get_ext_by_NID(exts, NID_ct_precert_poison, poison) >= 0)
		return "precertificate has two poison extensions";
	return NULL;
}

/* precert_tbs_slow edits |leaf| (already verified, owned by the caller) into the
 * TBSCertificate to log (RFC 6962 section 3.2) and returns it malloc'd. */
static int precert_tbs_slow(X509 *leaf, const struct xcert *psc, uint8_t **out,
		       size_t *out_len, const char **reason)
{
	int idx = X509_get_ext_by_NID(leaf, NID_ct_precert_poison, -1);
	X509_EXTENSION_free(X509_delete_ext(leaf, idx));
	if (psc != NULL) {
		/* "If the Precertificate is not signed with the CA certificate that
		 * will issue the final certificate, then the TBSCertificate also has
		 * its issuer changed to that of the CA that will issue the final
		 * certificate" and, when present, its authority key identifier
		 * changed to match (RFC 6962 section 3.2). */
		if (!X509_set_issuer_name(leaf, X509_get_issuer_name(psc->x)))
			return MN_ENOMEM;
		int aki = X509_get_ext_by_NID(leaf, NID_authority_key_identifier, -1);
		if (aki >= 0) {
			int psc_aki = X509_get_ext_by_NID(psc->x, NID_authority_key_identifier, -1);
			if (psc_aki < 0) {
				*reason = "precertificate has an authority key identifier but "
					  "its signing certificate has none";
				return MN_EBADCHAIN;
			}
			X509_EXTENSION *dst = X509_get_ext(leaf, aki);
			X509_EXTENSION *src = X509_get_ext(psc->x, psc_aki);
			if (!X509_EXTENSION_set_data(dst, X509_EXTENSION_get_data(src)))
				return MN_ENOMEM;
		}
	}
	unsigned char *tbs = NULL;
	int tbs_len = i2d_re_X509_tbs(leaf, &tbs);
	if (tbs_len <= 0)
		return MN_ECRYPTO;
	*out = malloc((size_t)tbs_len);
	if (*out == NULL) {
		OPENSSL_free(tbs);
		return MN_ENOMEM;
	}
	memcpy(*out, tbs, (size_t)tbs_len);
	*out_len = (size_t)tbs_len;
	OPENSSL_free(tbs);
	return 0;
}
/* add_der appends one DER element: |tag|, the minimal definite length of
 * |len| (X.690 section 8.1.3), and |len| bytes of |data| (NULL: none yet). */
static int add_der(struct cbb *out, uint8_t tag, const uint8_t *data, size_t len)
{
	uint8_t hdr[6];
	size_t n = 0;
	hdr[n++] = tag;
	if (len < 0x80) {
		hdr[n++] = (uint8_t)len;
	} else {
		size_t bytes = 0;
		for (size_t l = len; l > 0; l >>= 8)
			bytes++;
		if (bytes > 4)
			return 0;
		hdr[n++] = (uint8_t)(0x80 | bytes);
		for (size_t k = bytes; k-- > 0;)
			hdr[n++] = (uint8_t)(len >> (8 * k));
	}
	return cbb_add_bytes(out, hdr, n) && (data == NULL || cbb_add_bytes(out, data, len));
}

/* der_hdr_len: the length of a DER header (one tag byte) for |len| bytes. */
static size_t der_hdr_len(size_t len)
{
	size_t n = 2;
	if (len >= 0x80)
		for (size_t l = len; l > 0; l >>= 8)
			n++;
	return n;
}

/* psc_aki finds the authorityKeyIdentifier extnValue of |psc| as found in its
 * encoding (OpenSSL keeps it as decoded, which for DER is the same bytes). */
static int psc_aki(const struct xcert *psc, const uint8_t **out, size_t *out_len)
{
	int i = X509_get_ext_by_NID(psc->x, NID_authority_key_identifier, -1);
	if (i < 0)
		return 0;
	const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(X509_get_ext(psc->x, i));
	*out = ASN1_STRING_get0_data(v);
	*out_len = (size_t)ASN1_STRING_length(v);
	return 1;
}

/* precert_tbs_fast edits the TBSCertificate |lf->tbs| as found (RFC 5280
 * section 4.1; leaf_parse_fast has checked its shape: version 3, no unique
 * identifiers, extensions last) into |out|:
 *   - the poison extension is dropped,
 *   - with a PSC, issuer is the PSC's issuer Name (its DER as found) and the
 *     authorityKeyIdentifier's extnValue is the PSC's,
 * everything else copied byte for byte. That is what i2d_re_X509_tbs makes of
 * the same edit on a DER certificate, which x509_precert's tests and the
 * x509_diff fuzz target check. Returns 1 on success, 0 when it must not
 * decide (an explicit critical FALSE, which OpenSSL would drop; no extension
 * left after the poison), -1 when the chain is bad (|*reason| set), -2 on
 * OOM. */
static int precert_tbs_fast(const struct leaf *lf, const struct xcert *psc, struct cbb *out,
			    const char **reason)
{
	struct cbs tbs = lf->tbs, in, f, exts, seq, ext, oid, crit, val;
	const uint8_t *aki = NULL;
	size_t aki_len = 0, num_left = 0;
	struct cbb body;
	int ret = -2;

	if (!cbs_get_asn1(&tbs, &in, CBS_ASN1_SEQUENCE))
		return 0;
	/* version, serialNumber, signature: copied */
	const uint8_t *start = cbs_data(&in);
	for (int k = 0; k < 3; k++)
		if (!cbs_get_any_asn1_element(&in, &f, NULL, NULL))
			return 0;
	struct cbs head;
	cbs_init(&head, start, (size_t)(cbs_data(&in) - start));
	struct cbs issuer;
	if (!cbs_get_asn1_element(&in, &issuer, CBS_ASN1_SEQUENCE))
		return 0;
	/* validity, subject, subjectPublicKeyInfo: copied */
	start = cbs_data(&in);
	for (int k = 0; k < 3; k++)
		if (!cbs_get_any_asn1_element(&in, &f, NULL, NULL))
			return 0;
	struct cbs mid;
	cbs_init(&mid, start, (size_t)(cbs_data(&in) - start));
	if (!cbs_get_asn1(&in, &exts, 0xa3) || cbs_len(&in) != 0 ||
	    !cbs_get_asn1(&exts, &seq, CBS_ASN1_SEQUENCE) || cbs_len(&exts) != 0)
		return 0;
	if (psc != NULL && !psc_aki(psc, &aki, &aki_len))
		aki = NULL;

	if (!cbb_init(&body, cbs_len(&lf->tbs) + 64 + aki_len, CT_MAX_BODY_LEN))
		return -2;
	/* the new Extensions' contents first, to know their length */
	struct cbs walk = seq;
	while (cbs_len(&walk) > 0) {
		struct cbs el;
		if (!cbs_get_asn1_element(&walk, &el, CBS_ASN1_SEQUENCE))
			goto undecided;
		ext = el;
		if (!cbs_get_asn1(&ext, &ext, CBS_ASN1_SEQUENCE) ||
		    !cbs_get_asn1(&ext, &oid, CBS_ASN1_OBJECT))
			goto undecided;
		int has_crit = cbs_peek_asn1_tag(&ext, CBS_ASN1_BOOLEAN);
		if (has_crit &&
		    (!cbs_get_asn1_element(&ext, &crit, CBS_ASN1_BOOLEAN) || cbs_len(&crit) != 3 ||
		     cbs_data(&crit)[2] != 0xff))
			goto undecided; /* not DER TRUE: OpenSSL would re-encode it */
		if (!cbs_get_asn1(&ext, &val, CBS_ASN1_OCTETSTRING) || cbs_len(&ext) != 0)
			goto undecided;
		if (cbs_mem_equal(&oid, kPoisonOid, sizeof(kPoisonOid)))
			continue;
		num_left++;
		if (psc == NULL || !cbs_mem_equal(&oid, kAkiOid, sizeof(kAkiOid))) {
			if (!cbb_add_bytes(&body, cbs_data(&el), cbs_len(&el)))
				goto err;
			continue;
		}
		if (aki == NULL) {
			*reason = "precertificate has an authority key identifier but its "
				  "signing certificate has none";
			ret = -1;
			goto err;
		}
		/* Extension ::= SEQUENCE { extnID, critical DEFAULT FALSE, extnValue } */
		size_t inner = der_hdr_len(cbs_len(&oid)) + cbs_len(&oid) + (has_crit ? 3 : 0) +
			       der_hdr_len(aki_len) + aki_len;
		if (!add_der(&body, CBS_ASN1_SEQUENCE, NULL, inner) ||
		    !add_der(&body, CBS_ASN1_OBJECT, cbs_data(&oid), cbs_len(&oid)) ||
		    (has_crit && !cbb_add_bytes(&body, cbs_data(&crit), cbs_len(&crit))) ||
		    !add_der(&body, CBS_ASN1_OCTETSTRING, aki, aki_len))
			goto err;
	}
	if (num_left == 0)
		goto undecided;
	/* now the TBSCertificate around them */
	{
		const uint8_t *iss = cbs_data(&issuer);
		size_t iss_len = cbs_len(&issuer);
		if (psc != NULL) {
			/* the PSC's issuer Name as found in the PSC's DER */
			const X509_NAME *pn = X509_get_issuer_name(psc->x);
			size_t pl;
			const unsigned char *pd;
			if (!X509_NAME_get0_der((X509_NAME *)pn, &pd, &pl))
				goto err;
			iss = pd;
			iss_len = pl;
		}
		size_t ext_len = cbb_len(&body);
		size_t exp_len = der_hdr_len(ext_len) + ext_len;
		size_t total = cbs_len(&head) + iss_len + cbs_len(&mid) + der_hdr_len(exp_len) +
			       exp_len;
		if (!add_der(out, CBS_ASN1_SEQUENCE, NULL, total) ||
		    !cbb_add_bytes(out, cbs_data(&head), cbs_len(&head)) ||
		    !cbb_add_bytes(out, iss, iss_len) ||
		    !cbb_add_bytes(out, cbs_data(&mid), cbs_len(&mid)) ||
		    !add_der(out, 0xa3, NULL, exp_len) ||
		    !add_der(out, CBS_ASN1_SEQUENCE, cbb_data(&body), ext_len))
			goto err;
	}
	cbb_cleanup(&body);
	return 1;
undecided:
	ret = 0;
err:
	cbb_cleanup(&body);
	return ret;
}

int x509__precert_tbs(struct leaf *lf, const struct xcert *psc, uint8_t **out,
		      size_t *out_len, const char **reason)
{
	if (lf->fast) {
		struct cbb cbb;
		if (!cbb_init(&cbb, cbs_len(&lf->tbs) + 256, CT_MAX_BODY_LEN))
			return MN_ENOMEM;
		int r = precert_tbs_fast(lf, psc, &cbb, reason);
		if (r == 1) {
			if (!cbb_finish(&cbb, out, out_len))
				return MN_ENOMEM;
			return 0;
		}
		cbb_cleanup(&cbb);
		if (r == -1)
			return MN_EBADCHAIN;
		if (r == -2)
			return MN_ENOMEM;
	}
	if (lf->x == NULL && (lf->x = x509__d2i_exact(lf->der, lf->der_len)) == NULL)
		return MN_ENOMEM; /* the fast parse accepted it: d2i fails only for memory */
	return precert_tbs_slow(lf->x, psc, out, out_len, reason);
}
