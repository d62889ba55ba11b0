/* pki.c: test PKI generator (see pki.h). */
#include "tests/lib/pki.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

int64_t pki_now(void)
{
	return (int64_t)time(NULL);
}

void pki_free(struct pki_cert *c)
{
	if (c == NULL)
		return;
	X509_free(c->x);
	EVP_PKEY_free(c->key);
	OPENSSL_free(c->der);
	free(c);
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	if (ext == NULL)
		return 0;
	int ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

static int add_poison(X509 *x, int critical)
{
	static const unsigned char null_der[] = {0x05, 0x00};
	ASN1_OCTET_STRING *val = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext = NULL;
	int ok = val != NULL && ASN1_OCTET_STRING_set(val, null_der, sizeof(null_der)) &&
		 (ext = X509_EXTENSION_create_by_NID(NULL, NID_ct_precert_poison, critical,
						     val)) != NULL &&
		 X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(val);
	return ok;
}

static int push_name(GENERAL_NAMES *gens, int type, const char *v)
{
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
	if (gn == NULL || ia5 == NULL || !ASN1_STRING_set(ia5, v, -1)) {
		GENERAL_NAME_free(gn);
		ASN1_IA5STRING_free(ia5);
		return 0;
	}
	GENERAL_NAME_set0_value(gn, type, ia5);
	if (!sk_GENERAL_NAME_push(gens, gn)) {
		GENERAL_NAME_free(gn);
		return 0;
	}
	return 1;
}

/* push_mailbox adds otherName { id-on-SmtpUTF8Mailbox, [0] UTF8String } (RFC
 * 9598 section 3). */
static int push_mailbox(GENERAL_NAMES *gens, const char *v)
{
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.5.5.7.8.9", 1);
	ASN1_TYPE *val = ASN1_TYPE_new();
	ASN1_UTF8STRING *s = ASN1_UTF8STRING_new();
	if (gn == NULL || oid == NULL || val == NULL || s == NULL || !ASN1_STRING_set(s, v, -1))
		goto err;
	ASN1_TYPE_set(val, V_ASN1_UTF8STRING, s);
	s = NULL;
	if (!GENERAL_NAME_set0_othername(gn, oid, val))
		goto err;
	oid = NULL;
	val = NULL;
	if (!sk_GENERAL_NAME_push(gens, gn))
		goto err;
	return 1;
err:
	GENERAL_NAME_free(gn);
	ASN1_OBJECT_free(oid);
	ASN1_TYPE_free(val);
	ASN1_UTF8STRING_free(s);
	return 0;
}

static int add_san(X509 *x, const struct pki_opts *o)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	int ok = gens != NULL;
	for (size_t i = 0; ok && i < o->num_dns; i++)
		ok = push_name(gens, (o->flags & PKI_EMAIL) ? GEN_EMAIL : GEN_DNS, o->dns[i]);
	for (size_t i = 0; ok && i < o->num_emails; i++)
		ok = push_name(gens, GEN_EMAIL, o->emails[i]);
	for (size_t i = 0; ok && i < o->num_mailboxes; i++)
		ok = push_mailbox(gens, o->mailboxes[i]);
	ok = ok && X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_APPEND) == 1;
	GENERAL_NAMES_free(gens);
	return ok;
}

struct pki_cert *pki_issue_opts(const struct pki_cert *issuer, const struct pki_opts *o)
{
	struct pki_cert *c = calloc(1, sizeof(*c));
	X509_NAME *name = NULL;
	if (c == NULL)
		return NULL;
	if (o->key != NULL) {
		if (!EVP_PKEY_up_ref(o->key))
			goto err;
		c->key = o->key;
	} else if (o->flags & PKI_RSA) {
		c->key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	} else {
		c->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	}
	if (c->key == NULL || (c->x = X509_new()) == NULL)
		goto err;
	X509 *x = c->x;
	uint64_t serial = o->serial;
	if (serial == 0) {
		if (RAND_bytes((unsigned char *)&serial, sizeof(serial)) != 1)
			goto err;
		serial = (serial >> 1) | 1; /* nonzero, below 2^63 */
	}
	if (!X509_set_version(x, X509_VERSION_3) ||
	    !ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), serial) ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), (time_t)o->not_before) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), (time_t)o->not_after) ||
	    !X509_set_pubkey(x, c->key))
		goto err;
	name = X509_NAME_new();
	if (name == NULL ||
	    !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
					(const unsigned char *)"metanotary test", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
					(const unsigned char *)o->cn, -1, -1, 0) ||
	    (o->subject_email != NULL &&
	     !X509_NAME_add_entry_by_NID(name, NID_pkcs9_emailAddress, MBSTRING_ASC,
					 (const unsigned char *)o->subject_email, -1, -1, 0)) ||
	    !X509_set_subject_name(x, name) ||
	    !X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer->x) : name))
		goto err;

	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer ? issuer->x : x, x, NULL, NULL, 0);
	int ca = (o->flags & (PKI_CA | PKI_PSC)) != 0;
	if (!(o->flags & PKI_NO_BC) &&
	    !add_ext(x, &ctx, NID_basic_constraints,
		     !ca ? "critical,CA:FALSE"
		     : (o->flags & PKI_PATHLEN0) ? "critical,CA:TRUE,pathlen:0" : "critical,CA:TRUE"))
		goto err;
	if (!add_ext(x, &ctx, NID_key_usage,
		     !ca ? "critical,digitalSignature"
		     : (o->flags & PKI_NO_CERTSIGN) ? "critical,cRLSign" : "critical,keyCertSign,cRLSign"))
		goto err;
	if (o->flags & PKI_PSC) {
		if (!add_ext(x, &ctx, NID_ext_key_usage, "1.3.6.1.4.1.11129.2.4.4"))
			goto err;
	} else if (!ca && !(o->flags & PKI_NO_EKU)) {
		const char *eku = o->eku != NULL ? o->eku
				  : (o->flags & PKI_EMAIL) ? "emailProtection" : "serverAuth";
		if (!add_ext(x, &ctx, NID_ext_key_usage, eku))
			goto err;
	}
	if (!add_ext(x, &ctx, NID_subject_key_identifier, "hash") ||
	    !add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always"))
		goto err;
	if ((o->flags & (PKI_POISON | PKI_POISON_NONCRIT)) &&
	    !add_poison(x, (o->flags & PKI_POISON) ? 1 : 0))
		goto err;
	if (o->num_dns + o->num_emails + o->num_mailboxes > 0 && !add_san(x, o))
		goto err;
	if (X509_sign(x, issuer ? issuer->key : c->key, EVP_sha256()) <= 0)
		goto err;
	int len = i2d_X509(x, &c->der);
	if (len <= 0)
		goto err;
	c->der_len = (size_t)len;
	X509_NAME_free(name);
	return c;
err:
	X509_NAME_free(name);
	pki_free(c);
	return NULL;
}

struct pki_cert *pki_issue(const struct pki_cert *issuer, const char *cn,
			   const char *const *dns, size_t num_dns, unsigned flags,
			   int64_t not_before, int64_t not_after)
{
	struct pki_opts o = {
		.cn = cn,
		.dns = dns,
		.num_dns = num_dns,
		.flags = flags,
		.not_before = not_before,
		.not_after = not_after,
	};
	return pki_issue_opts(issuer, &o);
}

struct pki_cert *pki_root(const char *cn, unsigned flags)
{
	int64_t now = pki_now();
	return pki_issue(NULL, cn, NULL, 0, flags | PKI_CA, now - 86400,
			 now + 10 * 365 * 86400LL);
}

char *pki_pem(const struct pki_cert *const *certs, size_t num, size_t *out_len)
{
	char *out = NULL;
	BIO *bio = BIO_new(BIO_s_mem());
	if (bio == NULL)
		return NULL;
	for (size_t i = 0; i < num; i++)
		if (!PEM_write_bio_X509(bio, certs[i]->x))
			goto done;
	char *data;
	long len = BIO_get_mem_data(bio, &data);
	if (len < 0 || (out = malloc((size_t)len + 1)) == NULL)
		goto done;
	memcpy(out, data, (size_t)len);
	out[len] = '\0';
	*out_len = (size_t)len;
done:
	BIO_free(bio);
	return out;
}

int pki_write_pem(const char *path, const struct pki_cert *const *certs, size_t num)
{
	size_t len;
	char *pem = pki_pem(certs, num, &len);
	if (pem == NULL)
		return -1;
	FILE *f = fopen(path, "wb");
	int ok = f != NULL && fwrite(pem, 1, len, f) == len;
	if (f != NULL && fclose(f) != 0)
		ok = 0;
	free(pem);
	return ok ? 0 : -1;
}

int pki_spki_sha256(const struct pki_cert *c, uint8_t out[32])
{
	unsigned char *spki = NULL;
	int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(c->x), &spki);
	if (len <= 0)
		return -1;
	SHA256(spki, (size_t)len, out);
	OPENSSL_free(spki);
	return 0;
}

/* der_header parses a DER tag and definite length at |p|; returns the header
 * length and sets *content_len, or 0 if malformed. */
static size_t der_header(const uint8_t *p, size_t avail, size_t *content_len)
{
	if (avail < 2)
		return 0;
	if (p[1] < 0x80) {
		*content_len = p[1];
		return 2;
	}
	size_t n = p[1] & 0x7f;
	if (n == 0 || n > 4 || avail < 2 + n)
		return 0;
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len = (len << 8) | p[2 + i];
	*content_len = len;
	return 2 + n;
}

uint8_t *pki_tbs(const struct pki_cert *c, size_t *out_len)
{
	size_t outer_len, tbs_len;
	size_t h1 = der_header(c->der, c->der_len, &outer_len);
	if (h1 == 0)
		return NULL;
	size_t h2 = der_header(c->der + h1, c->der_len - h1, &tbs_len);
	if (h2 == 0 || h1 + h2 + tbs_len > c->der_len)
		return NULL;
	uint8_t *out = OPENSSL_malloc(h2 + tbs_len);
	if (out == NULL)
		return NULL;
	memcpy(out, c->der + h1, h2 + tbs_len);
	*out_len = h2 + tbs_len;
	return out;
}
