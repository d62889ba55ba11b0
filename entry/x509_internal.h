/* x509_internal.h: what the files of entry/x509 share (x509.h is the public
 * interface and says what is checked):
 *   x509.c          roots, the intermediate cache, x509_validate itself, names;
 *   x509_leaf.c     the leaf: the cursor walk (fast path) or d2i_X509 (slow
 *                   path), and its signature;
 *   x509_path.c     the chain rules: CA, keyUsage, pathLenConstraint, PSC
 *                   placement (docs/validation.md has the policy);
 *   x509_precert.c  precertificates: the poison and the logged TBSCertificate
 *                   (RFC 6962 section 3.2);
 *   x509_names.c    the leaf's names and the S/MIME class. */
#ifndef MN_ENTRY_X509_INTERNAL_H
#define MN_ENTRY_X509_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/bytes.h"
#include "entry/x509.h"

/* Properties of a decoded certificate that depend on its DER only, so they can
 * be computed once and shared through the cache. */
enum {
	XC_CA = 1,       /* basicConstraints cA TRUE */
	XC_PSC = 2,      /* EKU holds 1.3.6.1.4.1.11129.2.4.4 */
	XC_POISON = 4,   /* carries the precertificate poison extension */
	XC_VERIFIED = 8, /* verified_by is set */
	XC_ROOT = 16,    /* a configured root: owned by x509_roots, no refcount */
	XC_SI = 32,      /* self-issued: subject == issuer (RFC 5280 section 6.1) */
	XC_NO_CERTSIGN = 64, /* a keyUsage extension without keyCertSign */
};

struct xcert {
	X509 *x;
	EVP_PKEY *pkey; /* owned by x */
	unsigned flags;
	int pathlen; /* basicConstraints pathLenConstraint, -1 for none */
	atomic_uint refs;
	uint8_t der_hash[32];
	uint8_t spki_hash[32];
	/* der_hash of a certificate whose public key verified x's signature: a
	 * pure function of the two DER encodings, so it never goes stale. */
	uint8_t verified_by[32];
};

/* A signature algorithm the fast path verifies itself. */
struct sig_alg {
	const uint8_t *der; /* the whole AlgorithmIdentifier */
	size_t der_len;
	const char *md;       /* digest name; NULL for none (Ed25519) */
	const char *key_type; /* what the issuer's key must be (EVP_PKEY_is_a) */
};

/* The leaf as validation sees it. The views are borrowed from |x| on the slow
 * path and from the own_ decodes on the fast path. */
struct leaf {
	const uint8_t *der;
	size_t der_len;
	X509 *x; /* the full decode: the slow path's, or made on demand */
	const X509_NAME *issuer, *subject;
	const STACK_OF(X509_EXTENSION) *exts; /* NULL: none */
	const ASN1_TIME *not_before, *not_after;
	int invalid;   /* OpenSSL's EXFLAG_INVALID (never set on the fast path) */
	int email_eku; /* an extendedKeyUsage listing id-kp-emailProtection */
	/* The fast path: what the views point at, and what X509_verify checks. */
	int fast;
	X509_NAME *own_issuer, *own_subject;
	STACK_OF(X509_EXTENSION) *own_exts;
	ASN1_TIME *own_not_before, *own_not_after;
	struct cbs tbs; /* the whole TBSCertificate element */
	struct cbs sig; /* the signature, without the unused-bits byte */
	const struct sig_alg *alg;
};

/* --- x509_leaf.c --- */

/* x509__is_one_der_element returns 1 iff |der| is exactly one definite-length
 * DER SEQUENCE (cheap, and rejects trailing bytes before OpenSSL sees them). */
int x509__is_one_der_element(const uint8_t *der, size_t len);
/* x509__d2i_exact decodes a whole certificate; NULL unless d2i consumed
 * everything. */
X509 *x509__d2i_exact(const uint8_t *der, size_t len);
/* x509__leaf_parse fills |lf| for the leaf |der| (borrowed; it must outlive
 * |lf|), on the fast path when it can and |slow| is 0. Returns 0 if the leaf
 * does not decode. Release with x509__leaf_cleanup (also after a failure). */
int x509__leaf_parse(struct leaf *lf, const uint8_t *der, size_t len, int slow);
void x509__leaf_cleanup(struct leaf *lf);
/* x509__leaf_verify: X509_verify(leaf, pkey) == 1, on the fast path when it
 * can; a failure there is checked again by X509_verify. */
int x509__leaf_verify(struct leaf *lf, EVP_PKEY *pkey);

/* --- x509_path.c --- */

/* x509__xcert_fill computes |c|'s properties from |x| (whose ownership |c|
 * takes only on success). Returns 0 if the public key is unsupported. */
int x509__xcert_fill(struct xcert *c, X509 *x);
/* x509__path_issuer_problem returns NULL if |c|, at position |pos| >= 1 of a
 * chain (0 is the leaf), may issue what is below it in an add-chain
 * (|precert| == 0) or add-pre-chain submission, or the reason it may not. A
 * configured root is trusted as configured for everything but its
 * pathLenConstraint, which x509__path_len_problem checks. */
const char *x509__path_issuer_problem(const struct xcert *c, size_t pos, int precert);
/* x509__path_len_problem checks every pathLenConstraint (RFC 5280 section
 * 6.1.4 (l) and (m)) in the chain chain[1..num) (chain[0], the leaf, is not
 * read), to which |anchor| is appended unless it is NULL (a root the submitter
 * left out). A Precertificate Signing Certificate at chain[1] is not counted:
 * it stands for the CA that will issue the final certificate (RFC 6962
 * section 3.1). Returns NULL or the reason. */
const char *x509__path_len_problem(const struct xcert *const *chain, size_t num,
				   const struct xcert *anchor);

/* --- x509_precert.c --- */

/* x509__poison_problem returns NULL if the leaf's extensions |exts| suit the
 * endpoint (|precert|: add-pre-chain), or the reason they do not. */
const char *x509__poison_problem(const STACK_OF(X509_EXTENSION) *exts, int precert);
/* x509__precert_tbs sets |*out| (malloc'd, |*out_len| bytes) to the
 * TBSCertificate to log for the precertificate |lf| (RFC 6962 section 3.2):
 * without the poison and, with a PSC |psc| (else NULL), with the PSC's issuer
 * and authority key identifier. On the fast path the TBSCertificate is edited
 * as found; otherwise (and for what the cursor edit does not do byte for byte
 * as OpenSSL would) |lf->x| is decoded and edited, and re-encoded by
 * i2d_re_X509_tbs. Returns 0, MN_EBADCHAIN (with |*reason|), MN_ENOMEM,
 * MN_ECRYPTO. |lf| must not be read after (its views may point into the
 * edited |lf->x|). */
int x509__precert_tbs(struct leaf *lf, const struct xcert *psc, uint8_t **out,
		      size_t *out_len, const char **reason);

/* --- x509_names.c --- */

/* Names found in the leaf, borrowed from it (so copied out before it is freed
 * or edited by x509__precert_tbs). */
struct names {
	struct cbs dns[X509_MAX_NAMES];
	struct cbs email[X509_MAX_NAMES];
	size_t num_dns, num_email;
	int incomplete;
};

/* x509__collect_san adds the dNSNames (and with |want_email| the email
 * addresses) of |lf|'s subjectAltName to |n|. */
void x509__collect_san(const struct leaf *lf, int want_email, struct names *n);
/* x509__smime_leaf_problem returns NULL if |lf| qualifies for the S/MIME class
 * (completing |n| from the subject and setting |*legacy| if the SAN has no
 * address), else the reason. */
const char *x509__smime_leaf_problem(const struct leaf *lf, struct names *n, int *legacy);
/* x509__dedup_key: the dedup key of x509_result (x509.h): for a final
 * certificate SHA-256("mn-dedup-x509\0" || DER), for a precertificate
 * SHA-256("mn-dedup-precert\0" || precert DER || issuer_key_hash). 1 or 0. */
int x509__dedup_key(uint8_t out[32], int precert, const uint8_t *der, size_t der_len,
		    const uint8_t issuer_key_hash[32]);
/* x509__names_copy moves |n| into |out|'s names_mem. Returns 0 or MN_ENOMEM. */
int x509__names_copy(struct x509_result *out, const struct names *n, int with_email);

#endif
