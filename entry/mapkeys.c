/* mapkeys.c: the map keys of a leaf (the rules are in mapkeys.h). */
#include "entry/mapkeys.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpsl.h>

#include "common/b64.h"
#include "common/bytes.h"
#include "common/err.h"
#include "entry/ct.h"
#include "entry/names.h"
#include "entry/pgp.h"
#include "entry/policy.h"

/* the pinned list, compiled in (generated from entry/psl/ by the Makefile) */
extern const unsigned char mn_psl_dat[];
extern const size_t mn_psl_dat_len;

static pthread_once_t psl_once = PTHREAD_ONCE_INIT;
static psl_ctx_t *psl;

static void psl_init(void)
{
	FILE *f = fmemopen((void *)mn_psl_dat, mn_psl_dat_len, "r");

	if (f != NULL) {
		psl = psl_load_fp(f);
		fclose(f);
	}
	if (psl == NULL) {
		/* without the list the map cannot be computed the same way twice */
		fprintf(stderr, "mapkeys: cannot load the compiled-in Public Suffix List\n");
		abort();
	}
}

size_t mapkeys_registrable(const char *name, size_t len)
{
	char buf[NAMES_MAX_DNS_LEN + 1];
	const char *r;

	if (len == 0 || len > NAMES_MAX_DNS_LEN)
		return 0;
	pthread_once(&psl_once, psl_init);
	memcpy(buf, name, len);
	buf[len] = 0;
	r = psl_registrable_domain(psl, buf);
	return r == NULL ? 0 : len - (size_t)(r - buf);
}

size_t mapkeys_str(char *out, const char *type, const char *value, size_t value_len)
{
	size_t t = strlen(type);

	if (t + 1 + value_len + 1 > MAPKEYS_MAX_STR) {
		out[0] = 0;
		return 0;
	}
	memcpy(out, type, t);
	out[t] = ':';
	memcpy(out + t + 1, value, value_len);
	out[t + 1 + value_len] = 0;
	return t + 1 + value_len;
}

static int emit(mapkeys_fn fn, void *ctx, const char *type, const char *v, size_t len)
{
	char k[MAPKEYS_MAX_STR];
	size_t n = mapkeys_str(k, type, v, len);

	return n == 0 ? 0 : fn(ctx, k, n);
}

/* emit_dns: dns:NAME and the under: keys of a normalized name. */
static int emit_dns(mapkeys_fn fn, void *ctx, const char *name, size_t len)
{
	const char *base = name;
	size_t blen = len, reg;
	int ret;

	if ((ret = emit(fn, ctx, "dns", name, len)) != 0)
		return ret;
	if (len > 2 && name[0] == '*' && name[1] == '.') {
		base = name + 2;
		blen = len - 2;
	}
	reg = mapkeys_registrable(base, blen);
	if (reg == 0)
		return 0;
	if (base != name && (ret = emit(fn, ctx, "under", base, blen)) != 0)
		return ret;
	while (blen > reg) {
		const char *dot = memchr(base, '.', blen);
		if (dot == NULL)
			break;
		blen -= (size_t)(dot + 1 - base);
		base = dot + 1;
		if ((ret = emit(fn, ctx, "under", base, blen)) != 0)
			return ret;
	}
	return 0;
}

static int emit_dns_raw(mapkeys_fn fn, void *ctx, const uint8_t *in, size_t len,
			unsigned flags)
{
	char norm[NAMES_MAX_DNS_LEN + 1];
	int n = names_dns_normalize(norm, sizeof(norm), (const char *)in, len, flags);

	return n < 0 ? 0 : emit_dns(fn, ctx, norm, (size_t)n);
}

static int emit_email_raw(mapkeys_fn fn, void *ctx, const uint8_t *in, size_t len)
{
	char norm[NAMES_MAX_EMAIL_LEN + 1];
	const char *at;
	int n = names_email_normalize(norm, sizeof(norm), (const char *)in, len, 0);
	int ret;

	if (n < 0)
		return 0;
	if ((ret = emit(fn, ctx, "email", norm, (size_t)n)) != 0)
		return ret;
	at = strchr(norm, '@');
	return emit_dns(fn, ctx, at + 1, (size_t)n - (size_t)(at + 1 - norm));
}

static void hex(char *out, const uint8_t *in, size_t len)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * len] = 0;
}

static int emit_hex(mapkeys_fn fn, void *ctx, const char *type, const uint8_t *in,
		    size_t len)
{
	char h[2 * 64 + 1];

	if (len > 64)
		return 0;
	hex(h, in, len);
	return emit(fn, ctx, type, h, 2 * len);
}

/* --- certificates ------------------------------------------------------------- */

static const uint8_t kOidSan[] = {0x55, 0x1d, 0x11};
static const uint8_t kOidEmailAddress[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01};
static const uint8_t kOidSmtpUTF8Mailbox[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x08, 0x09};

struct names_found {
	struct cbs san;     /* GeneralNames contents, if any */
	int has_san;
	struct cbs subject; /* Name contents */
};

/* tbs_names finds the subject and the subjectAltName of a TBSCertificate
 * (RFC 5280 section 4.1). 1 or 0 (does not parse). */
static int tbs_names(struct cbs tbs, struct names_found *out)
{
	struct cbs skip, exts, seq;

	memset(out, 0, sizeof(*out));
	if (cbs_peek_asn1_tag(&tbs, 0xa0) && !cbs_get_asn1(&tbs, &skip, 0xa0))
		return 0;
	if (!cbs_get_asn1(&tbs, &skip, CBS_ASN1_INTEGER) ||
	    !cbs_get_asn1(&tbs, &skip, CBS_ASN1_SEQUENCE) ||     /* signature */
	    !cbs_get_asn1(&tbs, &skip, CBS_ASN1_SEQUENCE) ||     /* issuer */
	    !cbs_get_asn1(&tbs, &skip, CBS_ASN1_SEQUENCE) ||     /* validity */
	    !cbs_get_asn1(&tbs, &out->subject, CBS_ASN1_SEQUENCE) ||
	    !cbs_get_asn1(&tbs, &skip, CBS_ASN1_SEQUENCE))       /* spki */
		return 0;
	if (cbs_peek_asn1_tag(&tbs, 0x81) && !cbs_get_asn1(&tbs, &skip, 0x81))
		return 0;
	if (cbs_peek_asn1_tag(&tbs, 0x82) && !cbs_get_asn1(&tbs, &skip, 0x82))
		return 0;
	if (!cbs_peek_asn1_tag(&tbs, 0xa3))
		return cbs_len(&tbs) == 0;
	if (!cbs_get_asn1(&tbs, &exts, 0xa3) || cbs_len(&tbs) != 0 ||
	    !cbs_get_asn1(&exts, &seq, CBS_ASN1_SEQUENCE) || cbs_len(&exts) != 0)
		return 0;
	while (cbs_len(&seq) > 0) {
		struct cbs ext, oid, val;
		if (!cbs_get_asn1(&seq, &ext, CBS_ASN1_SEQUENCE) ||
		    !cbs_get_asn1(&ext, &oid, CBS_ASN1_OBJECT))
			return 0;
		if (cbs_peek_asn1_tag(&ext, CBS_ASN1_BOOLEAN) &&
		    !cbs_get_asn1(&ext, &skip, CBS_ASN1_BOOLEAN))
			return 0;
		if (!cbs_get_asn1(&ext, &val, CBS_ASN1_OCTETSTRING) || cbs_len(&ext) != 0)
			return 0;
		if (cbs_mem_equal(&oid, kOidSan, sizeof(kOidSan))) {
			if (out->has_san)
				return 0; /* twice: RFC 5280 section 4.2 forbids it */
			if (!cbs_get_asn1(&val, &out->san, CBS_ASN1_SEQUENCE) || cbs_len(&val) != 0)
				return 0;
			out->has_san = 1;
		}
	}
	return 1;
}

static int cert_keys(struct cbs tbs, mapkeys_fn fn, void *ctx)
{
	struct names_found nf;
	struct cbs san;
	int emails = 0, ret;

	if (!tbs_names(tbs, &nf))
		return 0;
	/* first pass: check the SAN parses, so a bad one gives no keys at all */
	san = nf.san;
	while (nf.has_san && cbs_len(&san) > 0) {
		struct cbs gn;
		unsigned tag;
		size_t hdr;
		if (!cbs_get_any_asn1_element(&san, &gn, &tag, &hdr))
			return 0;
	}
	san = nf.san;
	while (nf.has_san && cbs_len(&san) > 0) {
		struct cbs gn, oid, val, box;
		unsigned tag;
		size_t hdr;
		if (!cbs_get_any_asn1_element(&san, &gn, &tag, &hdr) || !cbs_skip(&gn, hdr))
			return 0;
		ret = 0;
		if (tag == 0x82) {
			ret = emit_dns_raw(fn, ctx, cbs_data(&gn), cbs_len(&gn),
					   NAMES_ALLOW_WILDCARD | NAMES_ALLOW_UNDERSCORE);
		} else if (tag == 0x81) {
			char norm[NAMES_MAX_EMAIL_LEN + 1];
			if (names_email_normalize(norm, sizeof(norm), (const char *)cbs_data(&gn),
						  cbs_len(&gn), 0) >= 0)
				emails++;
			ret = emit_email_raw(fn, ctx, cbs_data(&gn), cbs_len(&gn));
		} else if (tag == 0xa0 && cbs_get_asn1(&gn, &oid, CBS_ASN1_OBJECT) &&
			   cbs_mem_equal(&oid, kOidSmtpUTF8Mailbox, sizeof(kOidSmtpUTF8Mailbox)) &&
			   cbs_get_asn1(&gn, &val, 0xa0) && cbs_len(&gn) == 0 &&
			   cbs_get_asn1(&val, &box, 0x0c) && cbs_len(&val) == 0) {
			char norm[NAMES_MAX_EMAIL_LEN + 1];
			if (names_email_normalize(norm, sizeof(norm), (const char *)cbs_data(&box),
						  cbs_len(&box), 0) >= 0)
				emails++;
			ret = emit_email_raw(fn, ctx, cbs_data(&box), cbs_len(&box));
		}
		if (ret != 0)
			return ret;
	}
	if (emails > 0)
		return 0;
	/* no address in the SAN: the subject's emailAddress attributes */
	while (cbs_len(&nf.subject) > 0) {
		struct cbs rdn;
		if (!cbs_get_asn1(&nf.subject, &rdn, CBS_ASN1_SET))
			return 0;
		while (cbs_len(&rdn) > 0) {
			struct cbs atv, oid, v;
			unsigned tag;
			size_t hdr;
			if (!cbs_get_asn1(&rdn, &atv, CBS_ASN1_SEQUENCE) ||
			    !cbs_get_asn1(&atv, &oid, CBS_ASN1_OBJECT) ||
			    !cbs_get_any_asn1_element(&atv, &v, &tag, &hdr) || !cbs_skip(&v, hdr) ||
			    cbs_len(&atv) != 0)
				return 0;
			if (tag == 0x16 && cbs_mem_equal(&oid, kOidEmailAddress, sizeof(kOidEmailAddress)) &&
			    (ret = emit_email_raw(fn, ctx, cbs_data(&v), cbs_len(&v))) != 0)
				return ret;
		}
	}
	return 0;
}

/* --- policies ------------------------------------------------------------------ */

static int policy_keys(const uint8_t *body, size_t len, mapkeys_fn fn, void *ctx)
{
	struct policy_body pb;
	const uint8_t *dot1, *dot2;
	uint8_t *payload = NULL;
	size_t payload_len;
	json_t *j = NULL, *subj, *d, *e, *proto;
	char k[MAPKEYS_MAX_STR];
	int ret = 0;

	if (!policy_parse_body(&pb, body, len))
		return 0;
	dot1 = memchr(pb.jws, '.', pb.jws_len);
	if (dot1 == NULL)
		return 0;
	dot2 = memchr(dot1 + 1, '.', pb.jws_len - (size_t)(dot1 + 1 - pb.jws));
	if (dot2 == NULL)
		return 0;
	ret = mn_b64url_decode(&payload, &payload_len, (const char *)dot1 + 1,
			       (size_t)(dot2 - dot1 - 1), 1u << 20);
	if (ret == MN_ENOMEM)
		return ret;
	if (ret != 0)
		return 0;
	ret = 0;
	j = json_loadb((const char *)payload, payload_len, JSON_REJECT_DUPLICATES, NULL);
	free(payload);
	if (j == NULL)
		return 0;
	subj = json_object_get(j, "subject");
	proto = json_object_get(j, "protocol");
	d = json_object_get(subj, "domain");
	e = json_object_get(subj, "email");
	if (!json_is_string(proto) || (json_is_string(d) == json_is_string(e)))
		goto out;
	if (json_is_string(d)) {
		char norm[NAMES_MAX_DNS_LEN + 1];
		int n = names_dns_normalize(norm, sizeof(norm), json_string_value(d),
					    json_string_length(d), NAMES_QUERY);
		if (n < 0)
			goto out;
		if ((ret = emit_dns(fn, ctx, norm, (size_t)n)) != 0)
			goto out;
		snprintf(k, sizeof(k), "%s|%s", norm, json_string_value(proto));
	} else {
		char norm[NAMES_MAX_EMAIL_LEN + 1];
		int n = names_email_normalize(norm, sizeof(norm), json_string_value(e),
					      json_string_length(e), 0);
		if (n < 0)
			goto out;
		if ((ret = emit_email_raw(fn, ctx, (const uint8_t *)norm, (size_t)n)) != 0)
			goto out;
		snprintf(k, sizeof(k), "%s|%s", norm, json_string_value(proto));
	}
	if (strlen(json_string_value(proto)) < 32 && strchr(json_string_value(proto), '|') == NULL)
		ret = emit(fn, ctx, "policy", k, strlen(k));
out:
	json_decref(j);
	return ret;
}

/* --- PGP endorsements ---------------------------------------------------------- */

static int pgp_keys(const uint8_t *body, size_t len, mapkeys_fn fn, void *ctx)
{
	struct pgp_body pb;
	int ret;

	if (pgp_body_parse(&pb, body, len) != 0)
		return 0;
	if ((ret = emit_hex(fn, ctx, "pgp", cbs_data(&pb.endorsed_fpr),
			    cbs_len(&pb.endorsed_fpr))) != 0 ||
	    (ret = emit_hex(fn, ctx, "pgp", cbs_data(&pb.certifier_fpr),
			    cbs_len(&pb.certifier_fpr))) != 0 ||
	    (ret = emit_dns_raw(fn, ctx, cbs_data(&pb.domain), cbs_len(&pb.domain),
				NAMES_QUERY)) != 0)
		return ret;
	if (pb.version == PGP_BODY_V2)
		return emit_hex(fn, ctx, "pgpaddr", pb.address_key, PGP_ADDRESS_KEY_LEN);
	return 0;
}

int mapkeys_walk(const uint8_t *leaf, size_t leaf_len, mapkeys_fn fn, void *ctx)
{
	struct ct_entry e;
	struct cbs c, cert, tbs;

	if (!ct_parse_leaf(&e, leaf, leaf_len))
		return 0;
	switch (e.entry_type) {
	case CT_X509_ENTRY: {
		uint8_t thumb[32];
		int ret;
		cbs_init(&c, e.body, e.body_len);
		if (cbs_get_asn1(&c, &cert, CBS_ASN1_SEQUENCE) && cbs_len(&c) == 0 &&
		    cbs_get_asn1(&cert, &tbs, CBS_ASN1_SEQUENCE) &&
		    (ret = cert_keys(tbs, fn, ctx)) != 0)
			return ret;
		{
			struct merkle_hasher *h = merkle_hasher_new();
			if (h == NULL)
				return MN_ENOMEM;
			merkle_sha256(h, thumb, e.body, e.body_len);
			merkle_hasher_free(h);
		}
		return emit_hex(fn, ctx, "cert", thumb, 32);
	}
	case CT_PRECERT_ENTRY:
		cbs_init(&c, e.body, e.body_len);
		if (cbs_get_asn1(&c, &tbs, CBS_ASN1_SEQUENCE) && cbs_len(&c) == 0)
			return cert_keys(tbs, fn, ctx);
		return 0;
	case MN_PGP_ENDORSEMENT_ENTRY:
		return pgp_keys(e.body, e.body_len, fn, ctx);
	case MN_SIGNED_POLICY_ENTRY:
		return policy_keys(e.body, e.body_len, fn, ctx);
	default:
		return 0;
	}
}

struct collect {
	struct merkle_hasher *h;
	uint8_t (*keys)[MAP_KEY_LEN];
	size_t num, cap;
};

static int collect_one(void *ctx, const char *key, size_t len)
{
	struct collect *c = ctx;

	if (c->num == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 16;
		void *n;
		if (cap > 64 * MAPKEYS_MAX) /* a leaf is at most 16 MiB: ample */
			return MN_ETOOBIG;
		n = realloc(c->keys, cap * MAP_KEY_LEN);
		if (n == NULL)
			return MN_ENOMEM;
		c->keys = n;
		c->cap = cap;
	}
	map_key(c->h, c->keys[c->num++], (const uint8_t *)key, len);
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, MAP_KEY_LEN);
}

int mapkeys_leaf(struct merkle_hasher *h, const uint8_t *leaf, size_t leaf_len,
		 uint8_t (*out)[MAP_KEY_LEN], size_t *out_num, int *out_truncated)
{
	struct collect c = {h, NULL, 0, 0};
	size_t n = 0;
	int ret = mapkeys_walk(leaf, leaf_len, collect_one, &c);

	*out_truncated = 0;
	*out_num = 0;
	if (ret == MN_ETOOBIG) {
		/* more strings than any leaf logd accepts: keep the smallest keys
		 * of those walked (a replayer does the same) */
		*out_truncated = 1;
		ret = 0;
	}
	if (ret != 0) {
		free(c.keys);
		return ret;
	}
	if (c.num > 1) /* a leaf without keys has no array: qsort(NULL) is undefined */
		qsort(c.keys, c.num, MAP_KEY_LEN, key_cmp);
	for (size_t i = 0; i < c.num; i++) {
		if (n > 0 && memcmp(out[n - 1], c.keys[i], MAP_KEY_LEN) == 0)
			continue;
		if (n == MAPKEYS_MAX) {
			*out_truncated = 1;
			break;
		}
		memcpy(out[n++], c.keys[i], MAP_KEY_LEN);
	}
	free(c.keys);
	if (ret != 0)
		return ret;
	*out_num = n;
	return 0;
}

void mapkeys_root_encode(uint8_t out[MAPKEYS_ROOT_BODY_LEN], const struct mapkeys_root *r)
{
	out[0] = 1;
	mn_put_be64(out + 1, r->covered);
	mn_put_be64(out + 9, r->num_keys);
	memcpy(out + 17, r->root, MAP_HASH_LEN);
}

int mapkeys_root_parse(struct mapkeys_root *out, const uint8_t *in, size_t len)
{
	if (len != MAPKEYS_ROOT_BODY_LEN || in[0] != 1)
		return 0;
	out->covered = mn_get_be64(in + 1);
	out->num_keys = mn_get_be64(in + 9);
	memcpy(out->root, in + 17, MAP_HASH_LEN);
	return 1;
}

void mapkeys_root_leaf(uint8_t out[MAPKEYS_ROOT_LEAF_LEN], uint64_t timestamp,
		       const struct mapkeys_root *r)
{
	/* MerkleTreeLeaf (RFC 6962 section 3.4) of a TimestampedEntry whose
	 * signed_entry is the body with a 3-byte length (DESIGN.md section 6) */
	out[0] = 0; /* version v1 */
	out[1] = 0; /* leaf_type timestamped_entry */
	mn_put_be64(out + 2, timestamp);
	out[10] = (uint8_t)(MN_MAP_ROOT_ENTRY >> 8);
	out[11] = (uint8_t)MN_MAP_ROOT_ENTRY;
	out[12] = 0;
	out[13] = 0;
	out[14] = MAPKEYS_ROOT_BODY_LEN;
	mapkeys_root_encode(out + 15, r);
	out[15 + MAPKEYS_ROOT_BODY_LEN] = 0; /* no extensions */
	out[16 + MAPKEYS_ROOT_BODY_LEN] = 0;
}

int mapkeys_root_leaf_indexed(uint8_t out[MAPKEYS_ROOT_LEAF_IDX_LEN], uint64_t timestamp,
			      const struct mapkeys_root *r)
{
	uint8_t ext[CT_LEAF_INDEX_EXT_LEN];

	if (!ct_leaf_index_ext(ext, r->covered))
		return 0;
	mapkeys_root_leaf(out, timestamp, r);
	out[15 + MAPKEYS_ROOT_BODY_LEN] = 0; /* extensions<0..2^16-1>: 8 bytes */
	out[16 + MAPKEYS_ROOT_BODY_LEN] = CT_LEAF_INDEX_EXT_LEN;
	memcpy(out + MAPKEYS_ROOT_LEAF_LEN, ext, CT_LEAF_INDEX_EXT_LEN);
	return 1;
}

void mapkeys_root_dedup(struct merkle_hasher *h, uint8_t out[32], const uint8_t leaf_hash[32])
{
	merkle_sha256(h, out, leaf_hash, MERKLE_HASH_LEN);
}
