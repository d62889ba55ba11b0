/* pki.h: a small test PKI built with the OpenSSL API, for tests and benchmarks.
 *
 *   struct pki_cert *root = pki_root("Test Root", 0);
 *   struct pki_cert *ca = pki_issue(root, "Test CA", NULL, 0, PKI_CA, nb, na);
 *   const char *dns[] = {"example.com"};
 *   struct pki_cert *leaf = pki_issue(ca, "example.com", dns, 1, 0, nb, na);
 *   ... leaf->der, leaf->der_len ...
 *   pki_free(leaf); pki_free(ca); pki_free(root);
 *
 * Keys are ECDSA P-256 unless PKI_RSA asks for RSA-2048; signatures use SHA-256.
 * Certificates are v3 with, in this order: basicConstraints (critical),
 * keyUsage (critical), extendedKeyUsage, subjectKeyIdentifier,
 * authorityKeyIdentifier (keyid), [poison], subjectAltName (dNSName, or
 * rfc822Name with PKI_EMAIL; then pki_opts.emails as rfc822Names and
 * pki_opts.mailboxes as otherName SmtpUTF8Mailbox, RFC 9598). The poison
 * extension sits before the SAN so tests see that removing it keeps the order of
 * the others. Every function returns NULL on failure (it never aborts). */
#ifndef MN_TESTS_PKI_H
#define MN_TESTS_PKI_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct pki_cert {
	X509 *x;
	EVP_PKEY *key; /* the subject's private key */
	uint8_t *der;  /* i2d_X509(x), OPENSSL_malloc'd */
	size_t der_len;
};

enum {
	PKI_RSA = 1 << 0,             /* RSA-2048 key instead of P-256 */
	PKI_CA = 1 << 1,              /* basicConstraints cA TRUE, keyUsage keyCertSign */
	PKI_POISON = 1 << 2,          /* critical CT poison (a precertificate) */
	PKI_POISON_NONCRIT = 1 << 3,  /* the poison, but not critical */
	PKI_PSC = 1 << 4,             /* CA with EKU 1.3.6.1.4.1.11129.2.4.4 (a PSC) */
	PKI_NO_BC = 1 << 5,           /* no basicConstraints at all */
	PKI_EMAIL = 1 << 6,           /* SANs are rfc822Names, EKU emailProtection */
	PKI_NO_EKU = 1 << 7,          /* no extendedKeyUsage extension at all */
	PKI_PATHLEN0 = 1 << 8,        /* with PKI_CA: basicConstraints pathLenConstraint 0 */
	PKI_NO_CERTSIGN = 1 << 9,     /* with PKI_CA: keyUsage cRLSign only */
};

struct pki_opts {
	const char *cn;              /* subject CN (also the O is "metanotary test") */
	const char *const *dns;      /* SAN entries (dNSName, or email with PKI_EMAIL) */
	size_t num_dns;
	unsigned flags;
	int64_t not_before, not_after; /* seconds since the epoch */
	uint64_t serial;             /* 0: random 64-bit */
	EVP_PKEY *key;               /* subject key to reuse (up-ref'd), or NULL */
	const char *eku;             /* EKU in openssl.cnf syntax ("serverAuth,
	                              * emailProtection"), replacing the default */
	const char *const *emails;   /* more SAN entries: rfc822Name */
	size_t num_emails;
	const char *const *mailboxes; /* more SAN entries: SmtpUTF8Mailbox (UTF-8) */
	size_t num_mailboxes;
	const char *subject_email;   /* adds a PKCS #9 emailAddress to the subject */
};

/* pki_now: the current time in seconds. */
int64_t pki_now(void);

/* pki_root creates a self-signed root CA valid from a day ago for ten years. */
struct pki_cert *pki_root(const char *cn, unsigned flags);

/* pki_issue creates a certificate signed by |issuer| (NULL: self-signed). */
struct pki_cert *pki_issue(const struct pki_cert *issuer, const char *cn,
			   const char *const *dns, size_t num_dns, unsigned flags,
			   int64_t not_before, int64_t not_after);

/* pki_issue_opts is pki_issue with every knob (serial, reused key). */
struct pki_cert *pki_issue_opts(const struct pki_cert *issuer, const struct pki_opts *o);

void pki_free(struct pki_cert *c);

/* pki_pem returns the PEM encoding of |num| certificates concatenated, as a
 * malloc'd buffer of *out_len bytes (NUL-terminated too). */
char *pki_pem(const struct pki_cert *const *certs, size_t num, size_t *out_len);

/* pki_write_pem writes the same to |path|. Returns 0 or -1. */
int pki_write_pem(const char *path, const struct pki_cert *const *certs, size_t num);

/* pki_spki_sha256 sets |out| to SHA-256 of |c|'s DER SubjectPublicKeyInfo. */
int pki_spki_sha256(const struct pki_cert *c, uint8_t out[32]);

/* pki_tbs returns |c|'s DER TBSCertificate as found in its encoding, malloc'd
 * (OPENSSL_free), with its length in *out_len. */
uint8_t *pki_tbs(const struct pki_cert *c, size_t *out_len);

#endif
