/* x509_leaf.c: the leaf of a submitted chain, parsed with cursors when it
 * can be (the fast path) or by d2i_X509, and its signature. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "entry/x509_internal.h"

int x509__is_one_der_element(const uint8_t *der, size_t len)
{
	struct cbs in, elem;
	cbs_init(&in, der, len);
	return cbs_get_asn1_element(&in, &elem, CBS_ASN1_SEQUENCE) && cbs_len(&in) == 0;
}

X509 *x509__d2i_exact(const uint8_t *der, size_t len)
{
	if (len == 0 || len > LONG_MAX)
		return NULL;
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	if (x != NULL && p != der + len) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* --- the leaf ------------------------------------------------------------ */

/* d2i_X509 costs OpenSSL 3.0 more than everything else a submission needs put
 * together, nearly all of it in decoding the subject's public key through the
 * provider decoders, and a log never uses the leaf's key. So a leaf is first
 * parsed with cursors (leaf_parse_fast), handing to OpenSSL only the parts that
 * validation reads (names, dates, extensions), each decoded by the same ASN.1
 * item that d2i_X509 would use for it, so each decodes as it would inside an
 * X509. The fast parse accepts a strict subset of what d2i_X509 accepts: DER
 * framing, version 3, no unique identifiers, a structurally sound
 * SubjectPublicKeyInfo (not the key inside: d2i_X509 tolerates a key it cannot
 * decode), a signature algorithm from kSigAlgs with the same encoding inside
 * and outside the TBSCertificate, and extensions that OpenSSL's own check
 * (ossl_x509v3_cache_extensions, EXFLAG_INVALID) certainly passes. Anything
 * else takes the slow path: a full d2i_X509, as before (and everything does
 * with x509_limits.slow). A precertificate takes the fast path too
 * (x509_precert.c edits its TBSCertificate as found). A signature that does
 * not verify on the fast path is checked again by X509_verify on a full
 * decode. Both paths fill the same fields and answer the same questions, so
 * the outcome and its reason do not depend on the path, only the cost does:
 * test_pkits and fuzz_x509_diff check that. */


#define RSA_ALG(last)                                                                \
	{0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, (last), \
	 0x05, 0x00}
#define ECDSA_ALG(last) {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, (last)}
/* RFC 4055 section 5 (parameters NULL), RFC 5758 section 3.2 (parameters
 * absent), RFC 8410 section 3 (parameters absent). */
static const uint8_t kSha1Rsa[] = RSA_ALG(0x05), kSha256Rsa[] = RSA_ALG(0x0b), kSha384Rsa[] = RSA_ALG(0x0c),
		     kSha512Rsa[] = RSA_ALG(0x0d), kEcdsaSha256[] = ECDSA_ALG(0x02),
		     kEcdsaSha384[] = ECDSA_ALG(0x03), kEcdsaSha512[] = ECDSA_ALG(0x04),
		     kEd25519[] = {0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70};
#undef RSA_ALG
#undef ECDSA_ALG

static const struct sig_alg kSigAlgs[] = {
	{kEcdsaSha256, sizeof(kEcdsaSha256), "SHA256", "EC"},
	{kSha256Rsa, sizeof(kSha256Rsa), "SHA256", "RSA"},
	{kEcdsaSha384, sizeof(kEcdsaSha384), "SHA384", "EC"},
	{kSha384Rsa, sizeof(kSha384Rsa), "SHA384", "RSA"},
	{kSha512Rsa, sizeof(kSha512Rsa), "SHA512", "RSA"},
	{kEcdsaSha512, sizeof(kEcdsaSha512), "SHA512", "EC"},
	{kEd25519, sizeof(kEd25519), NULL, "ED25519"},
	/* still in old chains (and in PKITS); X509_verify accepts it too */
	{kSha1Rsa, sizeof(kSha1Rsa), "SHA1", "RSA"},
};


void x509__leaf_cleanup(struct leaf *lf)
{
	X509_free(lf->x);
	X509_NAME_free(lf->own_issuer);
	X509_NAME_free(lf->own_subject);
	sk_X509_EXTENSION_pop_free(lf->own_exts, X509_EXTENSION_free);
	ASN1_TIME_free(lf->own_not_before);
	ASN1_TIME_free(lf->own_not_after);
	memset(lf, 0, sizeof(*lf));
}

/* d2i_item decodes exactly the DER element |el| as |it|, or returns NULL. */
static void *d2i_item(const ASN1_ITEM *it, const struct cbs *el)
{
	const unsigned char *p = cbs_data(el);
	if (cbs_len(el) > LONG_MAX)
		return NULL;
	ASN1_VALUE *val = ASN1_item_d2i(NULL, &p, (long)cbs_len(el), it);
	if (val != NULL && p != cbs_data(el) + cbs_len(el)) {
		ASN1_item_free(val, it);
		return NULL;
	}
	return val;
}

/* der_integer_ok: a non-empty, minimally encoded INTEGER's contents (X.690
 * section 8.3.2), which OpenSSL's c2i_ASN1_INTEGER accepts. */
static int der_integer_ok(const struct cbs *c)
{
	const uint8_t *p = cbs_data(c);
	if (cbs_len(c) == 0)
		return 0;
	if (cbs_len(c) == 1)
		return 1;
	return !(p[0] == 0x00 && !(p[1] & 0x80)) && !(p[0] == 0xff && (p[1] & 0x80));
}

/* der_oid_ok: OBJECT IDENTIFIER contents as X.690 section 8.19 and OpenSSL's
 * c2i_ASN1_OBJECT want them: non-empty, the last subidentifier complete, no
 * subidentifier with a leading 0x80. */
static int der_oid_ok(const struct cbs *c)
{
	const uint8_t *p = cbs_data(c);
	size_t len = cbs_len(c);
	if (len == 0 || (p[len - 1] & 0x80))
		return 0;
	for (size_t i = 0; i < len; i++)
		if (p[i] == 0x80 && (i == 0 || !(p[i - 1] & 0x80)))
			return 0;
	return 1;
}

/* spki_ok reads a SubjectPublicKeyInfo (RFC 5280 section 4.1.2.7) that d2i_X509
 * certainly accepts: AlgorithmIdentifier { OID, NULL or OID or SEQUENCE or
 * nothing }, then a BIT STRING with no unused bits. The key is not decoded:
 * d2i_X509 does not fail when it cannot decode a key either. */
static int spki_ok(struct cbs *tbs)
{
	struct cbs spki, alg, oid, key, param;
	if (!cbs_get_asn1(tbs, &spki, CBS_ASN1_SEQUENCE) ||
	    !cbs_get_asn1(&spki, &alg, CBS_ASN1_SEQUENCE) ||
	    !cbs_get_asn1(&alg, &oid, CBS_ASN1_OBJECT) || !der_oid_ok(&oid) ||
	    !cbs_get_asn1(&spki, &key, CBS_ASN1_BITSTRING) || cbs_len(&spki) != 0 ||
	    cbs_len(&key) == 0 || cbs_data(&key)[0] != 0)
		return 0;
	if (cbs_len(&alg) == 0)
		return 1;
	if (cbs_peek_asn1_tag(&alg, 0x05))
		return cbs_get_asn1(&alg, &param, 0x05) && cbs_len(&param) == 0 &&
		       cbs_len(&alg) == 0;
	if (cbs_peek_asn1_tag(&alg, CBS_ASN1_OBJECT))
		return cbs_get_asn1(&alg, &param, CBS_ASN1_OBJECT) && der_oid_ok(&param) &&
		       cbs_len(&alg) == 0;
	return cbs_get_asn1(&alg, &param, CBS_ASN1_SEQUENCE) && cbs_len(&alg) == 0;
}

/* get_time decodes a Time (RFC 5280 section 4.1.2.5) as X509_VAL would. */
static ASN1_TIME *get_time(struct cbs *val)
{
	struct cbs el;
	unsigned tag;
	if (!cbs_get_any_asn1_element(val, &el, &tag, NULL) ||
	    (tag != V_ASN1_UTCTIME && tag != V_ASN1_GENERALIZEDTIME))
		return NULL;
	return d2i_item(ASN1_ITEM_rptr(ASN1_TIME), &el);
}

/* ext_decodes: |nid| is absent from |exts|, or present once and decodes, i.e.
 * ossl_x509v3_cache_extensions' X509_get_ext_d2i finds nothing wrong. */
static int ext_decodes(const STACK_OF(X509_EXTENSION) *exts, int nid)
{
	int crit;
	const X509V3_EXT_METHOD *m = X509V3_EXT_get_nid(nid);
	if (m == NULL || m->it == NULL)
		return 0;
	void *d = X509V3_get_d2i(exts, nid, &crit, NULL);
	if (d == NULL)
		return crit == -1;
	ASN1_item_free(d, ASN1_ITEM_ptr(m->it));
	return 1;
}

/* exts_certainly_valid returns 1 if OpenSSL's ossl_x509v3_cache_extensions
 * would certainly not set EXFLAG_INVALID for a certificate with |exts|, and
 * sets |*email_eku| as X509_get_extended_key_usage would report XKU_SMIME. It
 * replays each check that can set the flag with the same decoder
 * (X509V3_get_d2i, which also reports a duplicate), and returns 0 (let the
 * slow path decide) for what it does not replay: proxy certificates, RFC 3779
 * blocks, and CRL distribution points other than plain fullName ones. */
static int exts_certainly_valid(const STACK_OF(X509_EXTENSION) *exts, int *email_eku)
{
	static const int kJustDecode[] = {
		NID_netscape_cert_type, NID_subject_key_identifier,
		NID_authority_key_identifier, NID_subject_alt_name, NID_name_constraints,
	};
	int crit, ok = 0;
	BASIC_CONSTRAINTS *bc = NULL;
	ASN1_BIT_STRING *ku = NULL;
	EXTENDED_KEY_USAGE *eku = NULL;
	CRL_DIST_POINTS *dps = NULL;

	*email_eku = 0;
	if (X509v3_get_ext_by_NID(exts, NID_proxyCertInfo, -1) >= 0 ||
	    X509v3_get_ext_by_NID(exts, NID_sbgp_ipAddrBlock, -1) >= 0 ||
	    X509v3_get_ext_by_NID(exts, NID_sbgp_autonomousSysNum, -1) >= 0)
		return 0;
	for (size_t i = 0; i < sizeof(kJustDecode) / sizeof(kJustDecode[0]); i++)
		if (!ext_decodes(exts, kJustDecode[i]))
			return 0;
	bc = X509V3_get_d2i(exts, NID_basic_constraints, &crit, NULL);
	if (bc == NULL ? crit != -1
		       : bc->pathlen != NULL && bc->pathlen->type == V_ASN1_NEG_INTEGER)
		goto out;
	ku = X509V3_get_d2i(exts, NID_key_usage, &crit, NULL);
	if (ku == NULL ? crit != -1
		       : ASN1_STRING_length(ku) < 1 ||
				 (ASN1_STRING_get0_data(ku)[0] == 0 &&
				  (ASN1_STRING_length(ku) < 2 || ASN1_STRING_get0_data(ku)[1] == 0)))
		goto out; /* an empty key usage is invalid (RFC 5280 section 4.2.1.3) */
	eku = X509V3_get_d2i(exts, NID_ext_key_usage, &crit, NULL);
	if (eku == NULL && crit != -1)
		goto out;
	for (int i = 0; i < sk_ASN1_OBJECT_num(eku); i++)
		if (OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)) == NID_email_protect)
			*email_eku = 1;
	dps = X509V3_get_d2i(exts, NID_crl_distribution_points, &crit, NULL);
	if (dps == NULL && crit != -1)
		goto out;
	for (int i = 0; i < sk_DIST_POINT_num(dps); i++) {
		const DIST_POINT *dp = sk_DIST_POINT_value(dps, i);
		if (dp->distpoint == NULL || dp->distpoint->type != 0)
			goto out;
	}
	ok = 1;
out:
	BASIC_CONSTRAINTS_free(bc);
	ASN1_BIT_STRING_free(ku);
	EXTENDED_KEY_USAGE_free(eku);
	CRL_DIST_POINTS_free(dps);
	return ok;
}

/* leaf_parse_fast fills |lf| from the Certificate (RFC 5280 section 4.1)
 *   Certificate ::= SEQUENCE { tbsCertificate TBSCertificate,
 *       signatureAlgorithm AlgorithmIdentifier, signatureValue BIT STRING }
 *   TBSCertificate ::= SEQUENCE { version [0] EXPLICIT Version DEFAULT v1,
 *       serialNumber CertificateSerialNumber, signature AlgorithmIdentifier,
 *       issuer Name, validity Validity, subject Name,
 *       subjectPublicKeyInfo SubjectPublicKeyInfo,
 *       issuerUniqueID [1] IMPLICIT UniqueIdentifier OPTIONAL,
 *       subjectUniqueID [2] IMPLICIT UniqueIdentifier OPTIONAL,
 *       extensions [3] EXPLICIT Extensions OPTIONAL }
 * and returns 1, or returns 0 (|lf| holding nothing) when the slow path must
 * decide: see "the leaf" above. */
static int leaf_parse_fast(struct leaf *lf)
{
	static const uint8_t kV3[] = {0x02, 0x01, 0x02};
	struct cbs in, cert, tbs, alg, sig, f;
	cbs_init(&in, lf->der, lf->der_len);
	if (!cbs_get_asn1(&in, &cert, CBS_ASN1_SEQUENCE) || cbs_len(&in) != 0 ||
	    !cbs_get_asn1_element(&cert, &lf->tbs, CBS_ASN1_SEQUENCE) ||
	    !cbs_get_asn1_element(&cert, &alg, CBS_ASN1_SEQUENCE) ||
	    !cbs_get_asn1(&cert, &sig, CBS_ASN1_BITSTRING) || cbs_len(&cert) != 0)
		return 0;
	for (size_t i = 0; i < sizeof(kSigAlgs) / sizeof(kSigAlgs[0]); i++)
		if (cbs_mem_equal(&alg, kSigAlgs[i].der, kSigAlgs[i].der_len))
			lf->alg = &kSigAlgs[i];
	/* ASN1_item_verify refuses a signature with unused bits. */
	if (lf->alg == NULL || cbs_len(&sig) < 2 || cbs_data(&sig)[0] != 0)
		goto slow;
	cbs_init(&lf->sig, cbs_data(&sig) + 1, cbs_len(&sig) - 1);

	tbs = lf->tbs;
	if (!cbs_get_asn1(&tbs, &tbs, CBS_ASN1_SEQUENCE) ||
	    !cbs_get_asn1(&tbs, &f, 0xa0) || !cbs_mem_equal(&f, kV3, sizeof(kV3)) ||
	    !cbs_get_asn1(&tbs, &f, CBS_ASN1_INTEGER) || !der_integer_ok(&f) ||
	    /* X509_verify insists the two AlgorithmIdentifiers match. */
	    !cbs_get_asn1_element(&tbs, &f, CBS_ASN1_SEQUENCE) ||
	    !cbs_mem_equal(&f, cbs_data(&alg), cbs_len(&alg)) ||
	    !cbs_get_asn1_element(&tbs, &f, CBS_ASN1_SEQUENCE) ||
	    (lf->own_issuer = d2i_item(ASN1_ITEM_rptr(X509_NAME), &f)) == NULL ||
	    !cbs_get_asn1(&tbs, &f, CBS_ASN1_SEQUENCE) ||
	    (lf->own_not_before = get_time(&f)) == NULL ||
	    (lf->own_not_after = get_time(&f)) == NULL || cbs_len(&f) != 0 ||
	    !cbs_get_asn1_element(&tbs, &f, CBS_ASN1_SEQUENCE) ||
	    (lf->own_subject = d2i_item(ASN1_ITEM_rptr(X509_NAME), &f)) == NULL ||
	    !spki_ok(&tbs))
		goto slow;
	if (cbs_len(&tbs) > 0) {
		struct cbs el;
		if (!cbs_get_asn1(&tbs, &f, 0xa3) ||
		    !cbs_get_asn1_element(&f, &el, CBS_ASN1_SEQUENCE) || cbs_len(&f) != 0 ||
		    cbs_len(&tbs) != 0 ||
		    (lf->own_exts = d2i_item(ASN1_ITEM_rptr(X509_EXTENSIONS), &el)) == NULL)
			goto slow;
	}
	if (!exts_certainly_valid(lf->own_exts, &lf->email_eku))
		goto slow;
	lf->fast = 1;
	lf->issuer = lf->own_issuer;
	lf->subject = lf->own_subject;
	lf->exts = lf->own_exts;
	lf->not_before = lf->own_not_before;
	lf->not_after = lf->own_not_after;
	return 1;
slow:;
	const uint8_t *der = lf->der;
	size_t der_len = lf->der_len;
	x509__leaf_cleanup(lf);
	lf->der = der;
	lf->der_len = der_len;
	return 0;
}

int x509__leaf_parse(struct leaf *lf, const uint8_t *der, size_t len, int slow)
{
	memset(lf, 0, sizeof(*lf));
	lf->der = der;
	lf->der_len = len;
	if (!slow && leaf_parse_fast(lf))
		return 1;
	if ((lf->x = x509__d2i_exact(der, len)) == NULL)
		return 0;
	lf->issuer = X509_get_issuer_name(lf->x);
	lf->subject = X509_get_subject_name(lf->x);
	lf->exts = X509_get0_extensions(lf->x);
	lf->not_before = X509_get0_notBefore(lf->x);
	lf->not_after = X509_get0_notAfter(lf->x);
	uint32_t exf = X509_get_extension_flags(lf->x);
	lf->invalid = (exf & EXFLAG_INVALID) != 0;
	/* X509_get_extended_key_usage is what the S/MIME rule was written
	 * against; the fast path replays it in exts_certainly_valid. */
	lf->email_eku =
		(exf & EXFLAG_XKUSAGE) && (X509_get_extended_key_usage(lf->x) & XKU_SMIME);
	return 1;
}

/* leaf_verify: X509_verify(leaf, pkey) == 1, computed over the TBSCertificate
 * as found when the fast path can; a failure there is checked again by
 * X509_verify itself, so the answer never depends on the path. */
int x509__leaf_verify(struct leaf *lf, EVP_PKEY *pkey)
{
	if (lf->fast && EVP_PKEY_is_a(pkey, lf->alg->key_type)) {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		int ok = ctx != NULL &&
			 EVP_DigestVerifyInit_ex(ctx, NULL, lf->alg->md, NULL, NULL, pkey,
						 NULL) == 1 &&
			 EVP_DigestVerify(ctx, cbs_data(&lf->sig), cbs_len(&lf->sig),
					  cbs_data(&lf->tbs), cbs_len(&lf->tbs)) == 1;
		EVP_MD_CTX_free(ctx);
		if (ok)
			return 1;
	}
	if (lf->x == NULL && (lf->x = x509__d2i_exact(lf->der, lf->der_len)) == NULL)
		return 0;
	return X509_verify(lf->x, pkey) == 1;
}
