/* x509_names.c: the leaf's DNS names and email addresses, for the lookup
 * index, and whether the leaf qualifies for the S/MIME class (x509.h,
 * "Classes" and "Names"). */
#include <stdlib.h>
#include <string.h>

#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "common/err.h"
#include "entry/ct.h"
#include "entry/x509.h"
#include "entry/x509_internal.h"

/* id-on-SmtpUTF8Mailbox 1.3.6.1.5.5.7.8.9 (RFC 9598 section 3), OID contents. */
static const uint8_t kSmtpUTF8Mailbox[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x08, 0x09};


/* ia5_ok: 1..X509_MAX_NAME_LEN printable ASCII bytes (no controls, no DEL, no
 * 8-bit bytes, which an IA5String cannot hold). */
static int ia5_ok(const struct cbs *s)
{
	if (cbs_len(s) == 0 || cbs_len(s) > X509_MAX_NAME_LEN)
		return 0;
	for (size_t i = 0; i < cbs_len(s); i++)
		if (cbs_data(s)[i] < 0x20 || cbs_data(s)[i] > 0x7e)
			return 0;
	return 1;
}

/* utf8_ok: 1..X509_MAX_NAME_LEN bytes of well-formed UTF-8 (RFC 3629 section
 * 4: no overlong forms, no surrogates, nothing above U+10FFFF) without C0
 * controls or DEL. */
static int utf8_ok(const struct cbs *s)
{
	const uint8_t *p = cbs_data(s);
	size_t len = cbs_len(s), i = 0;
	if (len == 0 || len > X509_MAX_NAME_LEN)
		return 0;
	while (i < len) {
		uint8_t c = p[i];
		size_t n;
		uint32_t cp, min;
		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return 0;
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0)
			n = 1, cp = c & 0x1f, min = 0x80;
		else if ((c & 0xf0) == 0xe0)
			n = 2, cp = c & 0x0f, min = 0x800;
		else if ((c & 0xf8) == 0xf0)
			n = 3, cp = c & 0x07, min = 0x10000;
		else
			return 0;
		if (len - i - 1 < n)
			return 0;
		for (size_t k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

/* at_sign returns the index of the last '@' in |s|, or 0 if there is none or
 * the local part or the domain would be empty (so 0 means "not an address"). */
static size_t at_sign(const struct cbs *s)
{
	for (size_t i = cbs_len(s); i-- > 0;)
		if (cbs_data(s)[i] == '@')
			return i + 1 < cbs_len(s) ? i : 0;
	return 0;
}

static void names_add(struct cbs *arr, size_t *num, int *incomplete, const struct cbs *v,
		      int ok)
{
	if (!ok || *num == X509_MAX_NAMES)
		*incomplete = 1;
	else
		arr[(*num)++] = *v;
}

/* smtputf8_mailbox reads the value of an otherName (RFC 5280 section 4.2.1.6)
 *   OtherName ::= SEQUENCE { type-id OBJECT IDENTIFIER,
 *                            value [0] EXPLICIT ANY DEFINED BY type-id }
 * given its contents. Returns 1 and sets |out| to the UTF8String contents if
 * it is an SmtpUTF8Mailbox, -1 if it is one but malformed, 0 for other types. */
static int smtputf8_mailbox(struct cbs *on, struct cbs *out)
{
	struct cbs oid, val;
	if (!cbs_get_asn1(on, &oid, CBS_ASN1_OBJECT))
		return -1;
	if (!cbs_mem_equal(&oid, kSmtpUTF8Mailbox, sizeof(kSmtpUTF8Mailbox)))
		return 0;
	/* SmtpUTF8Mailbox ::= UTF8String (SIZE (1..MAX)) */
	if (!cbs_get_asn1(on, &val, 0xa0) || cbs_len(on) != 0 ||
	    !cbs_get_asn1(&val, out, 0x0c /* UTF8String */) || cbs_len(&val) != 0)
		return -1;
	return 1;
}

/* x509__collect_san walks the leaf's subjectAltName (RFC 5280 section 4.2.1.6)
 *   GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName
 *   GeneralName ::= CHOICE { otherName [0] OtherName, rfc822Name [1] IA5String,
 *                            dNSName [2] IA5String, ... }
 * with our own cursor rather than GENERAL_NAMES_free(X509_get_ext_d2i(...)),
 * which allocates per name: this runs for every submission. Email addresses
 * only if |want_email|. */
void x509__collect_san(const struct leaf *lf, int want_email, struct names *n)
{
	int idx = X509v3_get_ext_by_NID(lf->exts, NID_subject_alt_name, -1);
	if (idx < 0)
		return;
	const ASN1_OCTET_STRING *val = X509_EXTENSION_get_data(X509v3_get_ext(lf->exts, idx));
	struct cbs in, seq;
	cbs_init(&in, ASN1_STRING_get0_data(val), (size_t)ASN1_STRING_length(val));
	if (!cbs_get_asn1(&in, &seq, CBS_ASN1_SEQUENCE) || cbs_len(&in) != 0) {
		n->incomplete = 1;
		return;
	}
	while (cbs_len(&seq) > 0) {
		struct cbs gn, box;
		unsigned tag;
		size_t hdr;
		if (!cbs_get_any_asn1_element(&seq, &gn, &tag, &hdr) || !cbs_skip(&gn, hdr)) {
			n->incomplete = 1;
			return;
		}
		switch (tag) {
		case 0x82: /* dNSName */
			names_add(n->dns, &n->num_dns, &n->incomplete, &gn, ia5_ok(&gn));
			break;
		case 0x81: /* rfc822Name */
			if (want_email)
				names_add(n->email, &n->num_email, &n->incomplete, &gn,
					  ia5_ok(&gn) && at_sign(&gn) > 0);
			break;
		case 0xa0: /* otherName */
			if (!want_email)
				break;
			switch (smtputf8_mailbox(&gn, &box)) {
			case 1:
				names_add(n->email, &n->num_email, &n->incomplete, &box,
					  utf8_ok(&box) && at_sign(&box) > 0);
				break;
			case -1:
				n->incomplete = 1;
				break;
			}
			break;
		}
	}
}

/* collect_subject_emails adds the subject's PKCS #9 emailAddress attributes
 * (IA5String), the pre-SAN way to name a mailbox (RFC 8550 section 3). */
static void collect_subject_emails(const struct leaf *lf, struct names *n)
{
	const X509_NAME *subj = lf->subject;
	int i = -1;
	while ((i = X509_NAME_get_index_by_NID(subj, NID_pkcs9_emailAddress, i)) >= 0) {
		const ASN1_STRING *d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));
		struct cbs v;
		cbs_init(&v, ASN1_STRING_get0_data(d), (size_t)ASN1_STRING_length(d));
		names_add(n->email, &n->num_email, &n->incomplete, &v,
			  ASN1_STRING_type(d) == V_ASN1_IA5STRING && ia5_ok(&v) &&
				  at_sign(&v) > 0);
	}
}

/* x509__smime_leaf_problem returns NULL if |leaf| qualifies for the S/MIME class (see
 * x509.h), completing |n|'s addresses from the subject and setting |*legacy|
 * when the SAN has none; otherwise the reason it does not. */
const char *x509__smime_leaf_problem(const struct leaf *lf, struct names *n, int *legacy)
{
	if (!lf->email_eku)
		return "S/MIME leaf lacks emailProtection EKU";
	if (n->num_email == 0) {
		collect_subject_emails(lf, n);
		if (n->num_email == 0)
			return "S/MIME leaf has no email address";
		*legacy = 1;
	}
	return NULL;
}

/* put_names copies |num| names into |dst| and |*p|, ASCII-lowercasing them
 * (for addresses only from the last '@' on: the local part is the mailbox
 * owner's, RFC 5321 section 2.4) and dropping duplicates. Returns the count. */
static size_t put_names(struct x509_name *dst, uint8_t **p, const struct cbs *src,
			size_t num, int email)
{
	size_t k = 0;
	for (size_t i = 0; i < num; i++) {
		size_t len = cbs_len(&src[i]), from = email ? at_sign(&src[i]) : 0;
		uint8_t *d = *p;
		memcpy(d, cbs_data(&src[i]), len);
		for (size_t j = from; j < len; j++)
			if (d[j] >= 'A' && d[j] <= 'Z')
				d[j] = (uint8_t)(d[j] - 'A' + 'a');
		size_t m = 0;
		while (m < k && !(dst[m].len == len && memcmp(dst[m].data, d, len) == 0))
			m++;
		if (m < k)
			continue; /* a duplicate: its bytes get overwritten */
		dst[k].data = d;
		dst[k].len = len;
		k++;
		*p += len;
	}
	return k;
}

/* x509__names_copy moves |n| into |out|'s names_mem. Returns 0 or MN_ENOMEM. */
int x509__names_copy(struct x509_result *out, const struct names *n, int with_email)
{
	size_t num_email = with_email ? n->num_email : 0;
	size_t num = n->num_dns + num_email, bytes = 0;
	out->names_incomplete = n->incomplete;
	if (num == 0)
		return 0;
	for (size_t i = 0; i < n->num_dns; i++)
		bytes += cbs_len(&n->dns[i]);
	for (size_t i = 0; i < num_email; i++)
		bytes += cbs_len(&n->email[i]);
	struct x509_name *arr = malloc(num * sizeof(*arr) + bytes);
	if (arr == NULL)
		return MN_ENOMEM;
	uint8_t *p = (uint8_t *)(arr + num);
	out->names_mem = arr;
	out->dns_names = arr;
	out->num_dns_names = put_names(arr, &p, n->dns, n->num_dns, 0);
	out->emails = arr + n->num_dns;
	out->num_emails = put_names(arr + n->num_dns, &p, n->email, num_email, 1);
	if (out->num_dns_names == 0)
		out->dns_names = NULL;
	if (out->num_emails == 0)
		out->emails = NULL;
	return 0;
}

/* first_cert reads the first ASN.1Cert (u24 length) of |extra|: a
 * precert_entry's pre_certificate (RFC 6962 section 4.6). */
static int first_cert(const uint8_t *extra, size_t extra_len, struct cbs *out)
{
	struct cbs c;

	cbs_init(&c, extra, extra_len);
	return cbs_get_u24_length_prefixed(&c, out) && cbs_len(out) > 0;
}

int x509_logged(struct x509_result *out, uint16_t entry_type, const uint8_t *body,
		size_t body_len, const uint8_t issuer_key_hash[32], const uint8_t *extra,
		size_t extra_len)
{
	struct leaf lf;
	struct names n;
	struct cbs der;
	int legacy = 0, ret = MN_EMALFORMED, precert = entry_type == CT_PRECERT_ENTRY;

	memset(out, 0, sizeof(*out));
	memset(&n, 0, sizeof(n));
	memset(&lf, 0, sizeof(lf));
	if (precert) {
		if (!first_cert(extra, extra_len, &der))
			return MN_EMALFORMED;
	} else if (entry_type == CT_X509_ENTRY) {
		cbs_init(&der, body, body_len);
	} else {
		return MN_EINVAL;
	}
	out->entry_type = entry_type;
	if (precert)
		memcpy(out->issuer_key_hash, issuer_key_hash, 32);
	out->body = malloc(body_len ? body_len : 1);
	out->extra = malloc(extra_len ? extra_len : 1);
	if (out->body == NULL || out->extra == NULL) {
		ret = MN_ENOMEM;
		goto err;
	}
	memcpy(out->body, body, body_len);
	out->body_len = body_len;
	memcpy(out->extra, extra, extra_len);
	out->extra_len = extra_len;
	if (!x509__dedup_key(out->dedup_key, precert, cbs_data(&der), cbs_len(&der),
			     issuer_key_hash)) {
		ret = MN_ECRYPTO;
		goto err;
	}
	/* the classes and names as x509_leaf_classes judges them */
	if (!x509__leaf_parse(&lf, cbs_data(&der), cbs_len(&der), 0))
		goto err;
	x509__collect_san(&lf, 1, &n);
	if (x509__smime_leaf_problem(&lf, &n, &legacy) == NULL) {
		out->classes |= X509_CLASS_SMIME;
		out->smime_legacy = legacy;
	}
	if (out->classes == 0 || n.num_dns > 0)
		out->classes |= X509_CLASS_TLS;
	if (x509__names_copy(out, &n, (out->classes & X509_CLASS_SMIME) != 0) != 0) {
		ret = MN_ENOMEM;
		goto err;
	}
	x509__leaf_cleanup(&lf);
	return 0;
err:
	x509__leaf_cleanup(&lf);
	x509_result_cleanup(out);
	return ret;
}

unsigned x509_leaf_classes(const uint8_t *der, size_t len)
{
	struct leaf lf;
	struct names n;
	unsigned classes = 0;
	int legacy = 0;

	memset(&n, 0, sizeof(n));
	if (x509__leaf_parse(&lf, der, len, 0)) {
		x509__collect_san(&lf, 1, &n);
		if (x509__smime_leaf_problem(&lf, &n, &legacy) == NULL)
			classes |= X509_CLASS_SMIME;
		if (classes == 0 || n.num_dns > 0)
			classes |= X509_CLASS_TLS;
	}
	x509__leaf_cleanup(&lf);
	return classes;
}
