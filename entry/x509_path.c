/* x509_path.c: the rules a chain's issuers must follow (docs/validation.md):
 * basicConstraints cA on every issuer, keyCertSign when a keyUsage extension
 * is present, every pathLenConstraint, and where a Precertificate Signing
 * Certificate may stand. Each rule reads properties computed once per
 * certificate (x509__xcert_fill) and kept with it in the intermediate cache,
 * so enforcing them costs a few flag tests per submission. */
#include <string.h>

#include <openssl/objects.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "entry/x509_internal.h"

static int has_eku(X509 *x, int nid)
{
	int found = 0;
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
	if (eku == NULL)
		return 0;
	for (int i = 0; i < sk_ASN1_OBJECT_num(eku); i++)
		if (OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)) == nid)
			found = 1;
	EXTENDED_KEY_USAGE_free(eku);
	return found;
}

/* OpenSSL computes the extension flags once per X509 (ossl_x509v3_cache_
 * extensions); EXFLAG_INVALID covers a negative pathLenConstraint and one on a
 * non-CA, so XC_CA and pathlen are only read from a valid basicConstraints. */
int x509__xcert_fill(struct xcert *c, X509 *x)
{
	unsigned char *spki = NULL;
	uint32_t exf = X509_get_extension_flags(x);
	EVP_PKEY *pkey = X509_get0_pubkey(x);
	if (pkey == NULL)
		return 0;
	int spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki);
	if (spki_len <= 0)
		return 0;
	SHA256(spki, (size_t)spki_len, c->spki_hash);
	OPENSSL_free(spki);
	c->x = x;
	c->pkey = pkey;
	c->flags &= XC_ROOT;
	c->pathlen = -1;
	if ((exf & EXFLAG_BCONS) && (exf & EXFLAG_CA) && !(exf & EXFLAG_INVALID)) {
		c->flags |= XC_CA;
		c->pathlen = (int)X509_get_pathlen(x);
	}
	if (exf & EXFLAG_SI)
		c->flags |= XC_SI;
	if ((exf & EXFLAG_KUSAGE) && !(X509_get_key_usage(x) & KU_KEY_CERT_SIGN))
		c->flags |= XC_NO_CERTSIGN;
	if (has_eku(x, NID_ct_precert_signer))
		c->flags |= XC_PSC;
	if (X509_get_ext_by_NID(x, NID_ct_precert_poison, -1) >= 0)
		c->flags |= XC_POISON;
	return 1;
}
const char *x509__path_issuer_problem(const struct xcert *c, size_t pos, int precert)
{
	unsigned f = c->flags;
	if (f & XC_POISON)
		return "precertificate inside the chain";
	if (f & XC_ROOT)
		return NULL; /* trusted as configured */
	if (!(f & XC_CA))
		return "intermediate certificate is not a CA (basicConstraints)";
	/* RFC 5280 section 4.2.1.3: "If the keyUsage extension is present, then
	 * the subject public key MUST NOT be used to verify signatures on
	 * certificates [...] unless keyCertSign is asserted"; Go's
	 * CheckSignatureFrom, which CT logs built on it run, refuses it too. */
	if (f & XC_NO_CERTSIGN)
		return "intermediate certificate's keyUsage lacks keyCertSign";
	if ((f & XC_PSC) && !precert)
		return "precertificate signing certificate in an add-chain submission";
	if ((f & XC_PSC) && pos != 1)
		return "precertificate signing certificate does not directly issue the "
		       "precertificate";
	return NULL;
}

const char *x509__path_len_problem(const struct xcert *const *chain, size_t num,
				   const struct xcert *anchor)
{
	/* below: the non-self-issued intermediates between the certificate at
	 * |i| and the leaf, i.e. those at 1..i-1 (RFC 5280 section 6.1.4 (l),
	 * max_path_length; self-issued ones do not count). The certificate at 1
	 * has none below it, so its constraint cannot be exceeded. */
	size_t below = 0;
	for (size_t i = 1; i <= num; i++) {
		const struct xcert *c = i < num ? chain[i] : anchor;
		if (c == NULL)
			break;
		if (c->pathlen >= 0 && below > (size_t)c->pathlen)
			return "pathLenConstraint exceeded";
		if (!(c->flags & XC_SI) && !(i == 1 && (c->flags & XC_PSC) && !(c->flags & XC_ROOT)))
			below++;
	}
	return NULL;
}
