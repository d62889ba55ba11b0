/* entries.c: downloading leaves with get-entries and decoding them for people.
 *
 * RFC 6962 section 4.6: a client must not treat an unknown LogEntryType as an
 * error, so a leaf of a type we do not know is reported by its number and body
 * length, and still hashed by the monitor. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "client/mnctl.h"

#define MAX_NAMES 1000

const char *mnctl_entry_type_name(uint16_t type)
{
	switch (type) {
	case CT_X509_ENTRY: return "x509_entry";
	case CT_PRECERT_ENTRY: return "precert_entry";
	case MN_PGP_ENDORSEMENT_ENTRY: return "pgp_endorsement_entry";
	case MN_SIGNED_POLICY_ENTRY: return "signed_policy_entry";
	case MN_MAP_ROOT_ENTRY: return "map_root_entry";
	default: return NULL;
	}
}

void mnctl_entry_cleanup(struct mnctl_entry *e)
{
	for (size_t i = 0; i < e->num_dns_names; i++)
		free(e->dns_names[i]);
	free(e->dns_names);
	for (size_t i = 0; i < e->num_emails; i++)
		free(e->emails[i]);
	free(e->emails);
	for (size_t i = 0; i < e->num_mailboxes; i++)
		free(e->mailboxes[i]);
	free(e->mailboxes);
	memset(e, 0, sizeof(*e));
}

static int add_der_len(struct cbb *b, size_t len)
{
	if (len < 0x80)
		return cbb_add_u8(b, (uint8_t)len);
	if (len <= 0xff)
		return cbb_add_u8(b, 0x81) && cbb_add_u8(b, (uint8_t)len);
	if (len <= 0xffff)
		return cbb_add_u8(b, 0x82) && cbb_add_u16(b, (uint16_t)len);
	if (len <= 0xffffff)
		return cbb_add_u8(b, 0x83) && cbb_add_u24(b, (uint32_t)len);
	return 0;
}

/* tbs_to_x509 wraps a TBSCertificate into a Certificate with its own signature
 * algorithm and an empty signature, so OpenSSL can decode a precert entry's
 * names (the signature is never checked). */
static X509 *tbs_to_x509(const uint8_t *tbs, size_t tbs_len)
{
	struct cbs in, seq, alg;
	struct cbb b;
	uint8_t *der = NULL;
	size_t der_len;
	const unsigned char *p;
	X509 *x = NULL;

	cbs_init(&in, tbs, tbs_len);
	if (!cbs_get_asn1(&in, &seq, CBS_ASN1_SEQUENCE) || cbs_len(&in) != 0)
		return NULL;
	if (cbs_peek_asn1_tag(&seq, 0xa0) && !cbs_get_asn1(&seq, &alg, 0xa0))
		return NULL;
	if (!cbs_get_asn1(&seq, &alg, CBS_ASN1_INTEGER) ||
	    !cbs_get_asn1_element(&seq, &alg, CBS_ASN1_SEQUENCE))
		return NULL;
	if (!cbb_init(&b, tbs_len + 64, tbs_len + 64))
		return NULL;
	if (!cbb_add_u8(&b, CBS_ASN1_SEQUENCE) ||
	    !add_der_len(&b, tbs_len + cbs_len(&alg) + 3) ||
	    !cbb_add_bytes(&b, tbs, tbs_len) ||
	    !cbb_add_bytes(&b, cbs_data(&alg), cbs_len(&alg)) ||
	    !cbb_add_u8(&b, CBS_ASN1_BITSTRING) || !cbb_add_u8(&b, 1) ||
	    !cbb_add_u8(&b, 0 /* no unused bits */) || !cbb_finish(&b, &der, &der_len)) {
		cbb_cleanup(&b);
		return NULL;
	}
	p = der;
	x = d2i_X509(NULL, &p, (long)der_len);
	if (x != NULL && p != der + der_len) {
		X509_free(x);
		x = NULL;
	}
	free(der);
	return x;
}

static void asn1_to_ascii(char *out, size_t out_len, const ASN1_STRING *s)
{
	unsigned char *utf8 = NULL;
	int n = ASN1_STRING_to_UTF8(&utf8, s);

	if (n < 0) {
		mnctl_sanitize(out, out_len, ASN1_STRING_get0_data(s),
			       (size_t)ASN1_STRING_length(s));
		return;
	}
	mnctl_sanitize(out, out_len, utf8, (size_t)n);
	OPENSSL_free(utf8);
}

static int add_name(char ***list, size_t *num, const char *name)
{
	char **names = realloc(*list, (*num + 1) * sizeof(*names));

	if (names == NULL)
		return 0;
	*list = names;
	if ((names[*num] = strdup(name)) == NULL)
		return 0;
	(*num)++;
	return 1;
}

static void decode_cert(struct mnctl_entry *e, X509 *x)
{
	const X509_NAME *name = X509_get_subject_name(x);
	GENERAL_NAMES *gens;
	BIO *bio = BIO_new(BIO_s_mem());
	int i;

	e->decoded = 1;
	if (bio != NULL && X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0) {
		char *p;
		long n = BIO_get_mem_data(bio, &p);
		if (n >= 0)
			mnctl_sanitize(e->subject, sizeof(e->subject), (const uint8_t *)p,
				       (size_t)n);
	}
	BIO_free(bio);
	i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	if (i >= 0)
		asn1_to_ascii(e->cn, sizeof(e->cn),
			      X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char buf[256], ***list;
		size_t *num;
		if (g->type == GEN_OTHERNAME) {
			/* SmtpUTF8Mailbox ::= UTF8String (RFC 9598 section 3) */
			const OTHERNAME *on = g->d.otherName;
			const ASN1_STRING *u;
			size_t n;
			if (OBJ_obj2nid(on->type_id) != NID_id_on_SmtpUTF8Mailbox ||
			    on->value == NULL || on->value->type != V_ASN1_UTF8STRING ||
			    e->num_mailboxes >= MAX_NAMES)
				continue;
			u = on->value->value.utf8string;
			n = (size_t)ASN1_STRING_length(u);
			if (n == 0 || n >= sizeof(buf) ||
			    memchr(ASN1_STRING_get0_data(u), '\0', n) != NULL)
				continue;
			memcpy(buf, ASN1_STRING_get0_data(u), n);
			buf[n] = '\0';
			if (!add_name(&e->mailboxes, &e->num_mailboxes, buf))
				break;
			continue;
		}
		if (g->type == GEN_DNS) {
			list = &e->dns_names;
			num = &e->num_dns_names;
		} else if (g->type == GEN_EMAIL) {
			list = &e->emails;
			num = &e->num_emails;
		} else {
			continue;
		}
		if (*num >= MAX_NAMES)
			continue;
		/* dNSName and rfc822Name are both IA5String */
		mnctl_sanitize(buf, sizeof(buf), ASN1_STRING_get0_data(g->d.ia5),
			       (size_t)ASN1_STRING_length(g->d.ia5));
		if (!add_name(list, num, buf))
			break;
	}
	GENERAL_NAMES_free(gens);
}

int mnctl_entry_decode(struct mnctl_entry *out, uint64_t index, const uint8_t *leaf,
		       size_t leaf_len)
{
	struct cbs cbs, body;
	uint8_t version, leaf_type;
	struct ct_entry ce;
	X509 *x = NULL;

	memset(out, 0, sizeof(*out));
	out->index = index;
	cbs_init(&cbs, leaf, leaf_len);
	if (!cbs_get_u8(&cbs, &version) || !cbs_get_u8(&cbs, &leaf_type) || version != 0 ||
	    leaf_type != 0 /* timestamped_entry */ || !cbs_get_u64(&cbs, &out->timestamp) ||
	    !cbs_get_u16(&cbs, &out->entry_type))
		return 0;
	if (!ct_entry_type_known(out->entry_type)) {
		/* A new type: opaque body<1..2^24-1> and extensions, if it follows
		 * DESIGN.md section 6; otherwise all we can say is its length. */
		struct cbs c2 = cbs, ext;
		if (cbs_get_u24_length_prefixed(&c2, &body) &&
		    cbs_get_u16_length_prefixed(&c2, &ext) && cbs_len(&c2) == 0)
			out->body_len = cbs_len(&body);
		else
			out->body_len = cbs_len(&cbs);
		return 1;
	}
	if (!ct_parse_leaf(&ce, leaf, leaf_len))
		return 0;
	out->body_len = ce.body_len;
	if (ce.entry_type == CT_X509_ENTRY) {
		const unsigned char *p = ce.body;
		x = d2i_X509(NULL, &p, (long)ce.body_len);
		if (x != NULL && p != ce.body + ce.body_len) {
			X509_free(x);
			x = NULL;
		}
	} else if (ce.entry_type == CT_PRECERT_ENTRY) {
		memcpy(out->issuer_key_hash, ce.issuer_key_hash, 32);
		x = tbs_to_x509(ce.body, ce.body_len);
	}
	if (x != NULL)
		decode_cert(out, x);
	X509_free(x);
	return 1;
}

json_t *mnctl_entry_json(const struct mnctl_entry *e)
{
	json_t *j = json_object(), *names;
	const char *tn = mnctl_entry_type_name(e->entry_type);
	char hex[65];

	if (j == NULL)
		return NULL;
	json_object_set_new(j, "index", json_integer((json_int_t)e->index));
	json_object_set_new(j, "entry_type", tn ? json_string(tn) : json_null());
	json_object_set_new(j, "entry_type_code", json_integer(e->entry_type));
	json_object_set_new(j, "timestamp", json_integer((json_int_t)e->timestamp));
	json_object_set_new(j, "body_length", json_integer((json_int_t)e->body_len));
	if (e->entry_type == CT_PRECERT_ENTRY) {
		mnctl_hex(hex, e->issuer_key_hash, 32);
		json_object_set_new(j, "issuer_key_hash", json_string(hex));
	}
	if (e->decoded) {
		json_object_set_new(j, "subject", json_string(e->subject));
		json_object_set_new(j, "cn", json_string(e->cn));
		names = json_array();
		for (size_t i = 0; i < e->num_dns_names; i++)
			json_array_append_new(names, json_string(e->dns_names[i]));
		json_object_set_new(j, "dns_names", names);
		if (e->num_emails > 0) {
			names = json_array();
			for (size_t i = 0; i < e->num_emails; i++)
				json_array_append_new(names, json_string(e->emails[i]));
			json_object_set_new(j, "emails", names);
		}
		if (e->num_mailboxes > 0) {
			names = json_array();
			for (size_t i = 0; i < e->num_mailboxes; i++) {
				char buf[256];
				mnctl_sanitize(buf, sizeof(buf),
					       (const uint8_t *)e->mailboxes[i],
					       strlen(e->mailboxes[i]));
				json_array_append_new(names, json_string(buf));
			}
			json_object_set_new(j, "mailboxes", names);
		}
	}
	return j;
}

void mnctl_entry_print(const struct mnctl_entry *e)
{
	const char *tn = mnctl_entry_type_name(e->entry_type);
	char hex[65];

	printf("#%" PRIu64 " ", e->index);
	if (tn != NULL)
		printf("%s", tn);
	else
		printf("type %u", e->entry_type);
	printf(" timestamp %" PRIu64 " body %zu bytes", e->timestamp, e->body_len);
	if (e->entry_type == CT_PRECERT_ENTRY) {
		mnctl_hex(hex, e->issuer_key_hash, 32);
		printf(" issuer_key_hash %s", hex);
	}
	putchar('\n');
	if (e->decoded) {
		printf("    subject: %s\n", e->subject);
		for (size_t i = 0; i < e->num_dns_names; i++)
			printf("    dns: %s\n", e->dns_names[i]);
		for (size_t i = 0; i < e->num_emails; i++)
			printf("    email: %s\n", e->emails[i]);
		for (size_t i = 0; i < e->num_mailboxes; i++) {
			char buf[256];
			printf("    mailbox: %s\n",
			       mnctl_sanitize(buf, sizeof(buf), (const uint8_t *)e->mailboxes[i],
					      strlen(e->mailboxes[i])));
		}
	}
}

int mnctl_fetch_entries(struct mnctl *m, uint64_t start, uint64_t end, uint64_t batch,
			mnctl_leaf_fn fn, void *ctx)
{
	uint64_t next = start;

	while (next < end) {
		uint64_t last = end - next > batch ? next + batch - 1 : end - 1;
		char path[128];
		json_t *j, *arr;
		size_t n;
		int ret;

		snprintf(path, sizeof(path), "/ct/v1/get-entries?start=%" PRIu64 "&end=%" PRIu64,
			 next, last);
		ret = mnctl_get_json(m, path, &j, NULL);
		if (ret != MNCTL_OK)
			return ret;
		arr = json_object_get(j, "entries");
		n = json_array_size(arr);
		/* Section 4.6: the log may return fewer than asked; go on from
		 * where it stopped. None at all, or more than asked, is broken. */
		if (!json_is_array(arr) || n == 0 || n > last - next + 1) {
			json_decref(j);
			return mnctl_fail(MNCTL_ENET,
					  "get-entries %" PRIu64 "..%" PRIu64
					  " returned %zu entries", next, last, n);
		}
		for (size_t i = 0; i < n; i++) {
			const json_t *e = json_array_get(arr, i);
			uint8_t *leaf = NULL;
			size_t leaf_len;
			if (!json_is_object(e) ||
			    !mnctl_json_b64(e, "leaf_input", &leaf, &leaf_len, 1u << 25) ||
			    !json_is_string(json_object_get(e, "extra_data"))) {
				free(leaf);
				json_decref(j);
				return mnctl_fail(MNCTL_ENET,
						  "get-entries: malformed entry %" PRIu64,
						  next + i);
			}
			ret = fn(ctx, next + i, leaf, leaf_len);
			free(leaf);
			if (ret != MNCTL_OK) {
				json_decref(j);
				return ret;
			}
		}
		json_decref(j);
		next += n;
	}
	return MNCTL_OK;
}
