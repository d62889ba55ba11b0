/* lookup.c: `lookup` (GET /mn/v1/lookup) and `resolve` (GET /mn/v1/resolve):
 * what the log knows about a domain, an address or an OpenPGP key, every item
 * proven to be in a signed tree head (RFC 6962 section 2.1.1) that mnctl
 * checked against its pinned key and STH history, and decoded for people.
 *
 * The decoding believes only the proven leaf: a PGP endorsement's user ID is
 * shown only if the opening the log sent opens the leaf's commitment
 * (entry/pgp.h), and a policy's fields come from the JWS payload in the leaf. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>

#include "client/mnctl.h"
#include "common/b64.h"
#include "entry/pgp.h"
#include "entry/policy.h"

#define MAX_LEAF (1u << 25)
#define MAX_OPENING 65536

int mnctl_url_escape(char *out, size_t cap, const char *in)
{
	static const char digits[] = "0123456789ABCDEF";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p != '\0'; p++) {
		int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
			    *p == '_' || *p == '~' || *p == '@' || *p == ',';
		if (o + (plain ? 1 : 3) >= cap)
			return 0;
		if (plain) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = digits[*p >> 4];
			out[o++] = digits[*p & 15];
		}
	}
	if (o >= cap)
		return 0;
	out[o] = '\0';
	return 1;
}

/* leaf_type reads the entry_type of a v1 timestamped_entry MerkleTreeLeaf. */
static int leaf_type(const uint8_t *leaf, size_t len, uint16_t *out)
{
	struct cbs cbs;
	uint8_t version, type;
	uint64_t ts;

	cbs_init(&cbs, leaf, len);
	return cbs_get_u8(&cbs, &version) && cbs_get_u8(&cbs, &type) && version == 0 &&
	       type == 0 && cbs_get_u64(&cbs, &ts) && cbs_get_u16(&cbs, out);
}

/* verify_entry checks one entry object ({"leaf_index", "leaf_input",
 * "audit_path"[, "entry_type"][, "opening"]}) against |sth| and, if |fn| is not
 * NULL, hands it on. */
static int verify_entry(struct mnctl *m, const struct mnctl_sth *sth, const json_t *e,
			mnctl_found_fn fn, void *ctx, uint64_t *out_index)
{
	struct mnctl_found f = {.sth = sth, .json = e};
	uint8_t *leaf = NULL, *opening = NULL;
	size_t leaf_len, opening_len = 0;
	uint64_t type_field;
	uint16_t type;
	int ret;

	if (!json_is_object(e) || !mnctl_json_u64(e, "leaf_index", &f.index) ||
	    !mnctl_json_b64(e, "leaf_input", &leaf, &leaf_len, MAX_LEAF) ||
	    (json_object_get(e, "opening") != NULL &&
	     !mnctl_json_b64(e, "opening", &opening, &opening_len, MAX_OPENING))) {
		ret = mnctl_fail(MNCTL_ENET, "malformed entry in the answer");
		goto out;
	}
	merkle_leaf_hash(m->h, f.leaf_hash, leaf, leaf_len);
	ret = mnctl_verify_audit_path(m, sth, json_object_get(e, "audit_path"), f.leaf_hash,
				      f.index);
	if (ret != MNCTL_OK)
		goto out;
	/* The proven leaf is the truth; a field beside it that disagrees is a lie. */
	if (json_object_get(e, "entry_type") != NULL &&
	    (!mnctl_json_u64(e, "entry_type", &type_field) ||
	     !leaf_type(leaf, leaf_len, &type) || type_field != type)) {
		ret = mnctl_fail(MNCTL_EVERIFY, "entry %" PRIu64 ": entry_type does not match "
				 "its leaf", f.index);
		goto out;
	}
	*out_index = f.index;
	f.leaf = leaf;
	f.leaf_len = leaf_len;
	f.opening = opening;
	f.opening_len = opening_len;
	ret = fn != NULL ? fn(ctx, &f) : MNCTL_OK;
out:
	free(leaf);
	free(opening);
	return ret;
}

/* check_page verifies a page's map section for |ex| and its window: the
 * page covers (cursor, next_cursor]. */
static int check_page(struct mnctl *m, const struct mnctl_sth *sth, const json_t *j,
		      const struct mnctl_expect *ex, int have_cursor, uint64_t cursor)
{
	const json_t *nc = json_object_get(j, "next_cursor");
	struct mnctl_map mp;
	uint64_t next = 0;
	int ret;

	if (json_is_string(nc)) {
		const char *s = json_string_value(nc);
		char *end;
		errno = 0;
		next = strtoull(s, &end, 10);
		if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0)
			return mnctl_fail(MNCTL_ENET, "/mn/v1/lookup: bad next_cursor");
	}
	ret = mnctl_map_verify(m, sth, j, ex, &mp);
	if (ret == MNCTL_OK)
		ret = mnctl_map_check_page(m, &mp, json_object_get(j, "entries"), have_cursor,
					   cursor, json_is_string(nc), next);
	mnctl_map_cleanup(&mp);
	return ret;
}

/* has_class: the entry object's "classes" hold one of |types| (0: any). */
static int has_class(const json_t *e, unsigned types)
{
	static const char *const names[4] = {"tls", "smime", "pgp", "policy"};
	const json_t *cls = json_object_get(e, "classes"), *c;
	size_t i;

	if (types == 0)
		return 1;
	json_array_foreach(cls, i, c)
		for (unsigned b = 0; b < 4; b++)
			if ((types & (1u << b)) && json_is_string(c) &&
			    strcmp(json_string_value(c), names[b]) == 0)
				return 1;
	return 0;
}

/* lookup_pages reads every page of |query|; with |ex|, each page's map
 * section proves it complete (verify_map.c) before its entries are handed on. */
static int lookup_pages(struct mnctl *m, const char *query, const struct mnctl_expect *ex,
			unsigned types, mnctl_found_fn fn, void *ctx, struct mnctl_sth *out_sth)
{
	uint64_t cursor = 0, last = 0;
	int have_cursor = 0, any = 0;

	for (;;) {
		char path[2048];
		struct mnctl_sth sth;
		json_t *j, *arr, *nc;
		int n, ret;

		if (have_cursor)
			n = snprintf(path, sizeof(path), "/mn/v1/lookup?%s&cursor=%" PRIu64,
				     query, cursor);
		else
			n = snprintf(path, sizeof(path), "/mn/v1/lookup?%s", query);
		if (n < 0 || (size_t)n >= sizeof(path))
			return mnctl_fail(MNCTL_EUSAGE, "query too long");
		ret = mnctl_get_json(m, path, &j, NULL);
		if (ret != MNCTL_OK)
			return ret;
		ret = mnctl_sth_from_json(m, json_object_get(j, "sth"), &sth);
		if (ret == MNCTL_OK)
			ret = ex != NULL ? mnctl_check_fresh(m, &sth) : mnctl_sth_check_history(m, &sth);
		/* before any entry of the page is handed on (memoized: pages of
		 * one tree fetch the checkpoint once) */
		if (ret == MNCTL_OK)
			ret = mnctl_witness_cover(m, &sth, NULL);
		arr = json_object_get(j, "entries");
		nc = json_object_get(j, "next_cursor");
		if (ret == MNCTL_OK && (!json_is_array(arr) || (!json_is_null(nc) && !json_is_string(nc))))
			ret = mnctl_fail(MNCTL_ENET, "/mn/v1/lookup: malformed answer");
		for (size_t i = 0; ret == MNCTL_OK && i < json_array_size(arr); i++) {
			uint64_t index;
			const json_t *e = json_array_get(arr, i);
			/* with completeness, entries are handed on once the page
			 * is proven complete (below) */
			ret = verify_entry(m, &sth, e, ex == NULL && has_class(e, types) ? fn : NULL,
					   ctx, &index);
			/* In leaf order, each once, and only after the cursor. */
			if (ret == MNCTL_OK && (any && index <= last))
				ret = mnctl_fail(MNCTL_EVERIFY,
						 "the lookup answer repeats or reorders entry %" PRIu64,
						 index);
			last = index;
			any = 1;
		}
		if (ret == MNCTL_OK && ex != NULL)
			ret = check_page(m, &sth, j, ex, have_cursor, cursor);
		for (size_t i = 0; ex != NULL && ret == MNCTL_OK && i < json_array_size(arr); i++) {
			uint64_t index;
			const json_t *e = json_array_get(arr, i);
			if (fn != NULL && has_class(e, types))
				ret = verify_entry(m, &sth, e, fn, ctx, &index);
		}
		if (ret == MNCTL_OK && out_sth != NULL)
			*out_sth = sth;
		if (ret == MNCTL_OK && json_is_string(nc)) {
			/* The cursor is the last index of this page: it must move. */
			const char *s = json_string_value(nc);
			char *end;
			uint64_t next;
			errno = 0;
			next = strtoull(s, &end, 10);
			if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 ||
			    json_array_size(arr) == 0 || next != last ||
			    (have_cursor && next <= cursor))
				ret = mnctl_fail(MNCTL_ENET, "/mn/v1/lookup: bad next_cursor");
			cursor = next;
			have_cursor = 1;
		} else if (ret == MNCTL_OK) {
			json_decref(j);
			return MNCTL_OK;
		}
		json_decref(j);
		if (ret != MNCTL_OK)
			return ret;
	}
}

int mnctl_lookup(struct mnctl *m, const char *query, mnctl_found_fn fn, void *ctx,
		 struct mnctl_sth *out_sth)
{
	return lookup_pages(m, query, NULL, 0, fn, ctx, out_sth);
}

int mnctl_lookup_complete(struct mnctl *m, const char *query, const struct mnctl_expect *ex,
			  unsigned types, mnctl_found_fn fn, void *ctx, struct mnctl_sth *out_sth)
{
	return lookup_pages(m, query, ex, types, fn, ctx, out_sth);
}

int mnctl_verify_tree_entries(struct mnctl *m, const struct mnctl_sth *sth,
			      const json_t *j, size_t *out_num)
{
	const char *key;
	json_t *v;
	uint64_t index;
	int ret;

	if (json_is_array(j)) {
		for (size_t i = 0; i < json_array_size(j); i++) {
			ret = mnctl_verify_tree_entries(m, sth, json_array_get(j, i), out_num);
			if (ret != MNCTL_OK)
				return ret;
		}
		return MNCTL_OK;
	}
	if (!json_is_object(j))
		return MNCTL_OK;
	if (json_object_get(j, "leaf_index") != NULL || json_object_get(j, "leaf_input") != NULL ||
	    json_object_get(j, "audit_path") != NULL) {
		ret = verify_entry(m, sth, j, NULL, NULL, &index);
		if (ret == MNCTL_OK)
			(*out_num)++;
		return ret;
	}
	json_object_foreach((json_t *)j, key, v) {
		ret = mnctl_verify_tree_entries(m, sth, v, out_num);
		if (ret != MNCTL_OK)
			return ret;
	}
	return MNCTL_OK;
}

/* --- describing an entry -------------------------------------------------- */

static void fpr_hex(char *out, struct cbs fpr)
{
	static const char digits[] = "0123456789ABCDEF";
	size_t n = cbs_len(&fpr) > PGP_MAX_FPR_LEN ? PGP_MAX_FPR_LEN : cbs_len(&fpr);

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[cbs_data(&fpr)[i] >> 4];
		out[2 * i + 1] = digits[cbs_data(&fpr)[i] & 15];
	}
	out[2 * n] = '\0';
}

static json_t *sanitized(const char *s, size_t len)
{
	char buf[512];
	return json_string(mnctl_sanitize(buf, sizeof(buf), (const uint8_t *)s, len));
}

/* copy_field copies a string or integer member of |from| into |to|. */
static void copy_field(json_t *to, const json_t *from, const char *key)
{
	const json_t *v = json_object_get(from, key);

	if (json_is_string(v))
		json_object_set_new(to, key, sanitized(json_string_value(v), json_string_length(v)));
	else if (json_is_integer(v))
		json_object_set_new(to, key, json_integer(json_integer_value(v)));
}

/* describe_policy adds what a SignedPolicyBody says. 0 if malformed. */
static int describe_policy(json_t *o, const uint8_t *body, size_t body_len)
{
	struct policy_body pb;
	const char *jws, *d1, *d2;
	uint8_t *payload = NULL;
	size_t payload_len;
	json_t *p, *subj;
	json_error_t jerr;

	if (!policy_parse_body(&pb, body, body_len))
		return 0;
	json_object_set_new(o, "signer_index", json_integer((json_int_t)pb.signer_index));
	jws = (const char *)pb.jws;
	d1 = memchr(jws, '.', pb.jws_len);
	d2 = d1 ? memchr(d1 + 1, '.', pb.jws_len - (size_t)(d1 + 1 - jws)) : NULL;
	if (d2 == NULL ||
	    mn_b64url_decode(&payload, &payload_len, d1 + 1, (size_t)(d2 - d1 - 1),
			     POLICY_MAX_PAYLOAD_LEN) != 0)
		return 0;
	p = json_loadb((const char *)payload, payload_len, JSON_REJECT_DUPLICATES, &jerr);
	free(payload);
	if (!json_is_object(p)) {
		json_decref(p);
		return 0;
	}
	subj = json_object_get(p, "subject");
	if (json_is_object(subj)) {
		copy_field(o, subj, "domain");
		copy_field(o, subj, "email");
	}
	copy_field(o, p, "protocol");
	copy_field(o, p, "serial");
	copy_field(o, p, "mode");
	copy_field(o, p, "iat");
	copy_field(o, p, "exp");
	json_decref(p);
	return 1;
}

/* describe_pgp adds what a PgpEndorsementBody (v1 or v2) says, and the user ID
 * if the opening opens its commitment and the transferable public key
 * rebuilds from body and opening (pgp_body_to_tpk; in v2 the signatures over
 * the user ID travel in the opening). MNCTL_EVERIFY if an opening does not. */
static int describe_pgp(json_t *o, const struct mnctl_found *f, const uint8_t *body,
			size_t body_len)
{
	struct pgp_body pb;
	struct pgp_opening op;
	char hex[2 * PGP_MAX_FPR_LEN + 1];
	uint8_t *tpk = NULL;
	size_t tpk_len = 0;

	if (pgp_body_parse(&pb, body, body_len) != 0)
		return 0;
	json_object_set_new(o, "body_version", json_integer(pb.version));
	fpr_hex(hex, pb.endorsed_fpr);
	json_object_set_new(o, "endorsed_fpr", json_string(hex));
	fpr_hex(hex, pb.certifier_fpr);
	json_object_set_new(o, "certifier_fpr", json_string(hex));
	json_object_set_new(o, "sig_type", json_integer(pb.sig_type));
	json_object_set_new(o, "revocation", json_boolean(pb.sig_type == 0x30));
	json_object_set_new(o, "sig_created", json_integer((json_int_t)pb.sig_created));
	json_object_set_new(o, "domain", sanitized((const char *)cbs_data(&pb.domain),
						   cbs_len(&pb.domain)));
	json_object_set_new(o, "subkeys", json_integer((json_int_t)pb.num_subkeys));
	if (f->opening != NULL) {
		if (!pgp_opening_matches(&pb, f->opening, f->opening_len) ||
		    pgp_opening_parse(&op, pb.version, f->opening, f->opening_len) != 0 ||
		    pgp_body_to_tpk(&tpk, &tpk_len, &pb, f->opening, f->opening_len) != 0)
			return -1;
		free(tpk);
		json_object_set_new(o, "user_id",
				    sanitized((const char *)cbs_data(&op.user_id),
					      cbs_len(&op.user_id)));
		json_object_set_new(o, "opening_verified", json_true());
	}
	return 1;
}

/* describe builds the readable form of a verified entry. On MNCTL_OK *out is a
 * new object. */
static int describe(const struct mnctl_found *f, json_t **out)
{
	struct mnctl_entry e;
	struct ct_entry ce;
	const json_t *cls = json_object_get(f->json, "classes");
	json_t *o;
	int ok = 1;

	*out = NULL;
	if (!mnctl_entry_decode(&e, f->index, f->leaf, f->leaf_len))
		return mnctl_fail(MNCTL_EVERIFY, "entry %" PRIu64 ": the proven leaf is not "
				  "a v1 timestamped entry", f->index);
	o = mnctl_entry_json(&e);
	mnctl_entry_cleanup(&e);
	if (o == NULL)
		return mnctl_fail(MNCTL_ELOCAL, "out of memory");
	if (json_is_array(cls)) {
		json_t *a = json_array();
		for (size_t i = 0; i < json_array_size(cls); i++) {
			const json_t *c = json_array_get(cls, i);
			if (json_is_string(c))
				json_array_append_new(a, sanitized(json_string_value(c),
								   json_string_length(c)));
		}
		json_object_set_new(o, "classes", a);
	}
	if (ct_parse_leaf(&ce, f->leaf, f->leaf_len)) {
		if (ce.entry_type == MN_PGP_ENDORSEMENT_ENTRY) {
			int r = describe_pgp(o, f, ce.body, ce.body_len);
			if (r < 0) {
				json_decref(o);
				return mnctl_fail(MNCTL_EVERIFY,
						  "entry %" PRIu64 ": the opening the log sent does "
						  "not open the leaf's user ID commitment", f->index);
			}
			ok = r;
		} else if (ce.entry_type == MN_SIGNED_POLICY_ENTRY) {
			ok = describe_policy(o, ce.body, ce.body_len);
		}
	}
	if (!ok)
		json_object_set_new(o, "malformed_body", json_true());
	json_object_set_new(o, "verified", json_true());
	*out = o;
	return MNCTL_OK;
}

static void print_str(const json_t *o, const char *label, const char *key)
{
	const json_t *v = json_object_get(o, key);

	if (json_is_string(v))
		printf("    %s: %s\n", label, json_string_value(v));
	else if (json_is_integer(v))
		printf("    %s: %" JSON_INTEGER_FORMAT "\n", label, json_integer_value(v));
}

/* print_described prints |o| (from describe) for people. */
static void print_described(const json_t *o)
{
	const json_t *cls = json_object_get(o, "classes"), *v;
	const char *tn = json_string_value(json_object_get(o, "entry_type"));
	size_t i;

	printf("#%" JSON_INTEGER_FORMAT " %s", json_integer_value(json_object_get(o, "index")),
	       tn ? tn : "unknown type");
	for (i = 0; i < json_array_size(cls); i++)
		printf("%s%s", i == 0 ? " [" : ",", json_string_value(json_array_get(cls, i)));
	printf("%s timestamp %" JSON_INTEGER_FORMAT "\n", i ? "]" : "",
	       json_integer_value(json_object_get(o, "timestamp")));
	print_str(o, "subject", "subject");
	json_array_foreach(json_object_get(o, "dns_names"), i, v)
		printf("    dns: %s\n", json_string_value(v));
	json_array_foreach(json_object_get(o, "emails"), i, v)
		printf("    email: %s\n", json_string_value(v));
	print_str(o, "endorsed key", "endorsed_fpr");
	print_str(o, "certifier", "certifier_fpr");
	if (json_is_true(json_object_get(o, "revocation")))
		printf("    REVOKED by the certifier\n");
	if (json_object_get(o, "user_id") != NULL)
		print_str(o, "user ID (opening verified)", "user_id");
	else if (json_object_get(o, "endorsed_fpr") != NULL)
		print_str(o, "user ID domain", "domain");
	if (json_object_get(o, "signer_index") != NULL) {
		print_str(o, "subject", "domain");
		print_str(o, "subject", "email");
		print_str(o, "protocol", "protocol");
		print_str(o, "serial", "serial");
		print_str(o, "mode", "mode");
		print_str(o, "signer entry", "signer_index");
	}
	if (json_is_true(json_object_get(o, "malformed_body")))
		printf("    (body does not parse)\n");
}

/* --- lookup --------------------------------------------------------------- */

/* parse_types: "tls,smime,pgp,policy" (any of them) to bits; 0 if malformed. */
static unsigned parse_types(const char *v)
{
	static const char *const names[4] = {"tls", "smime", "pgp", "policy"};
	unsigned bits = 0;

	while (*v != '\0') {
		size_t n = strcspn(v, ",");
		unsigned b;
		for (b = 0; b < 4 && !(strlen(names[b]) == n && strncmp(names[b], v, n) == 0); b++)
			;
		if (b == 4)
			return 0;
		bits |= 1u << b;
		v += n;
		if (*v == ',' && *++v == '\0')
			return 0;
	}
	return bits;
}

struct lookup_ctx {
	struct mnctl *m;
	size_t num;
};

static int on_found(void *ctx, const struct mnctl_found *f)
{
	struct lookup_ctx *c = ctx;
	json_t *o;
	int ret = describe(f, &o);

	if (ret != MNCTL_OK)
		return ret;
	c->num++;
	if (c->m->json) {
		mnctl_print_json(o);
		return MNCTL_OK;
	}
	print_described(o);
	json_decref(o);
	return MNCTL_OK;
}

int mnctl_cmd_lookup(struct mnctl *m, int argc, char **argv)
{
	struct lookup_ctx c = {.m = m};
	struct mnctl_sth sth;
	struct mnctl_expect ex;
	char query[1024], esc[600];
	unsigned types = 0;
	size_t n;
	int ret;

	if ((mnctl_opts.pgp != NULL) == (argc == 1) || argc > 1)
		return mnctl_fail(MNCTL_EUSAGE, "lookup DOMAIN | lookup ADDRESS | lookup --pgp FPR");
	if (mnctl_opts.pgp != NULL) {
		if (!mnctl_url_escape(esc, sizeof(esc), mnctl_opts.pgp))
			return mnctl_fail(MNCTL_EUSAGE, "fingerprint too long");
		snprintf(query, sizeof(query), "pgp=%s", esc);
	} else {
		int email = strchr(argv[0], '@') != NULL;
		if (!mnctl_url_escape(esc, sizeof(esc), argv[0]))
			return mnctl_fail(MNCTL_EUSAGE, "name too long");
		snprintf(query, sizeof(query), "%s=%s", email ? "email" : "domain", esc);
		if (mnctl_opts.subdomains) {
			if (email)
				return mnctl_fail(MNCTL_EUSAGE, "--subdomains is for a domain");
			n = strlen(query);
			snprintf(query + n, sizeof(query) - n, "&subdomains=1");
		}
	}
	if (!mnctl_opts.no_completeness) {
		/* the keys the answer must prove; types= would hide entries the
		 * proofs list, so the filter is applied here */
		int email = mnctl_opts.pgp == NULL && strchr(argv[0], '@') != NULL;
		ret = mnctl_expect_lookup(&ex, mnctl_opts.pgp == NULL && !email ? argv[0] : NULL,
					  mnctl_opts.subdomains, email ? argv[0] : NULL,
					  mnctl_opts.pgp);
		if (ret != MNCTL_OK)
			return ret;
		if (mnctl_opts.types != NULL && (types = parse_types(mnctl_opts.types)) == 0)
			return mnctl_fail(MNCTL_EUSAGE, "--types is a comma list of tls, smime, "
					  "pgp, policy");
	} else if (mnctl_opts.types != NULL) {
		if (!mnctl_url_escape(esc, sizeof(esc), mnctl_opts.types))
			return mnctl_fail(MNCTL_EUSAGE, "--types too long");
		n = strlen(query);
		snprintf(query + n, sizeof(query) - n, "&types=%s", esc);
	}
	if (mnctl_opts.limit != 0) {
		n = strlen(query);
		snprintf(query + n, sizeof(query) - n, "&limit=%" PRIu64, mnctl_opts.limit);
	}
	ret = mnctl_load_key(m);
	if (ret != MNCTL_OK)
		return ret;
	if (mnctl_opts.no_completeness)
		ret = mnctl_lookup(m, query, on_found, &c, &sth);
	else
		ret = mnctl_lookup_complete(m, query, &ex, types, on_found, &c, &sth);
	if (ret != MNCTL_OK)
		return ret;
	if (!m->json)
		printf("%zu entr%s, every inclusion proof verified against the tree of size %"
		       PRIu64 "%s\n", c.num, c.num == 1 ? "y" : "ies", sth.tree_size,
		       mnctl_opts.no_completeness ? "" : ", complete (map proofs verified)");
	return MNCTL_OK;
}

/* --- resolve -------------------------------------------------------------- */

/* describe_all prints every proven entry in |j| (depth first, in order). */
static int describe_all(struct mnctl *m, const json_t *j, const char *where, json_t *items)
{
	const char *key;
	json_t *v;
	int ret;

	if (json_is_array(j)) {
		for (size_t i = 0; i < json_array_size(j); i++) {
			ret = describe_all(m, json_array_get(j, i), where, items);
			if (ret != MNCTL_OK)
				return ret;
		}
		return MNCTL_OK;
	}
	if (!json_is_object(j))
		return MNCTL_OK;
	if (json_object_get(j, "leaf_input") != NULL) {
		/* Already verified by mnctl_verify_tree_entries: decode it again. */
		struct mnctl_found f = {.json = j};
		uint8_t *leaf = NULL, *opening = NULL;
		json_t *o = NULL;
		if (!mnctl_json_u64(j, "leaf_index", &f.index) ||
		    !mnctl_json_b64(j, "leaf_input", &leaf, &f.leaf_len, MAX_LEAF) ||
		    (json_object_get(j, "opening") != NULL &&
		     !mnctl_json_b64(j, "opening", &opening, &f.opening_len, MAX_OPENING))) {
			free(leaf);
			return mnctl_fail(MNCTL_ENET, "malformed entry in the answer");
		}
		f.leaf = leaf;
		f.opening = opening;
		ret = describe(&f, &o);
		free(leaf);
		free(opening);
		if (ret != MNCTL_OK)
			return ret;
		json_object_set_new(o, "in", json_string(where));
		if (m->json) {
			json_array_append_new(items, o);
		} else {
			printf("%s: ", where);
			print_described(o);
			json_decref(o);
		}
		return MNCTL_OK;
	}
	json_object_foreach((json_t *)j, key, v) {
		/* "map" is the proof of completeness, not an item of the answer */
		if (strcmp(key, "sth") == 0 || strcmp(key, "advice") == 0 || strcmp(key, "map") == 0)
			continue;
		ret = describe_all(m, v, key, items);
		if (ret != MNCTL_OK)
			return ret;
	}
	return MNCTL_OK;
}

/* print_advice prints a JSON value as "key: value" lines, strings sanitized. */
static void print_advice(const json_t *v, const char *prefix)
{
	const char *key;
	json_t *x;
	char buf[512], sub[256];
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, key, x) {
			snprintf(sub, sizeof(sub), "%s%s%s", prefix, prefix[0] ? "." : "",
				 mnctl_sanitize(buf, 64, (const uint8_t *)key, strlen(key)));
			print_advice(x, sub);
		}
		return;
	}
	if (json_is_array(v)) {
		json_array_foreach(v, i, x) {
			snprintf(sub, sizeof(sub), "%s[%zu]", prefix, i);
			print_advice(x, sub);
		}
		return;
	}
	if (json_is_string(v))
		printf("%s: %s\n", prefix,
		       mnctl_sanitize(buf, sizeof(buf), (const uint8_t *)json_string_value(v),
				      json_string_length(v)));
	else if (json_is_integer(v))
		printf("%s: %" JSON_INTEGER_FORMAT "\n", prefix, json_integer_value(v));
	else if (json_is_boolean(v))
		printf("%s: %s\n", prefix, json_is_true(v) ? "true" : "false");
	else if (json_is_null(v))
		printf("%s: none\n", prefix);
}

int mnctl_cmd_resolve(struct mnctl *m, int argc, char **argv)
{
	char path[1024], esc[600], esc2[64];
	struct mnctl_expect ex;
	struct mnctl_sth sth;
	json_t *j = NULL, *items = NULL;
	size_t num = 0, num_smime = 0, num_pgp = 0;
	int ret, email = 0;

	if (argc != 1)
		return mnctl_fail(MNCTL_EUSAGE, "resolve ADDRESS | resolve DOMAIN --protocol P");
	if (!mnctl_url_escape(esc, sizeof(esc), argv[0]))
		return mnctl_fail(MNCTL_EUSAGE, "name too long");
	if (strchr(argv[0], '@') != NULL) {
		if (mnctl_opts.protocol != NULL)
			return mnctl_fail(MNCTL_EUSAGE, "--protocol is for a domain");
		email = 1;
		snprintf(path, sizeof(path), "/mn/v1/resolve?email=%s", esc);
	} else {
		if (mnctl_opts.protocol == NULL)
			return mnctl_fail(MNCTL_EUSAGE, "resolve DOMAIN needs --protocol "
					  "(smtp, submission, imap, pop3, https, xmpp-server)");
		if (!mnctl_url_escape(esc2, sizeof(esc2), mnctl_opts.protocol))
			return mnctl_fail(MNCTL_EUSAGE, "--protocol too long");
		snprintf(path, sizeof(path), "/mn/v1/resolve?domain=%s&protocol=%s", esc, esc2);
	}
	if (!mnctl_opts.no_completeness) {
		ret = mnctl_expect_resolve(&ex, email ? argv[0] : NULL, email ? NULL : argv[0],
					   mnctl_opts.protocol);
		if (ret != MNCTL_OK)
			return ret;
	}
	if (!email && (mnctl_opts.smime_out != NULL || mnctl_opts.pgp_out != NULL))
		return mnctl_fail(MNCTL_EUSAGE, "--smime-out and --pgp-out are for an address");
	ret = mnctl_load_key(m);
	if (ret != MNCTL_OK)
		return ret;
	ret = mnctl_get_json(m, path, &j, NULL);
	if (ret != MNCTL_OK)
		return ret;
	ret = mnctl_sth_from_json(m, json_object_get(j, "sth"), &sth);
	if (ret == MNCTL_OK)
		ret = mnctl_opts.no_completeness ? mnctl_sth_check_history(m, &sth)
						 : mnctl_check_fresh(m, &sth);
	if (ret == MNCTL_OK)
		ret = mnctl_witness_cover(m, &sth, NULL);
	if (ret == MNCTL_OK && !mnctl_opts.no_completeness) {
		/* every list whole, every item's leaf proven, and the advice is
		 * what those leaves give */
		struct mnctl_map mp;
		size_t num_items = 0;
		ret = mnctl_verify_tree_entries(m, &sth, json_object_get(j, "items"), &num_items);
		if (ret == MNCTL_OK)
			ret = mnctl_map_verify(m, &sth, j, &ex, &mp);
		if (ret == MNCTL_OK)
			ret = mnctl_map_check_resolve(m, &mp, &ex, j, (uint64_t)time(NULL));
		mnctl_map_cleanup(&mp);
	}
	/* the answer's own items, not the lists behind it ("items", "map") */
	json_object_del(j, "items");
	json_object_del(j, "map");
	if (ret == MNCTL_OK)
		ret = mnctl_verify_tree_entries(m, &sth, j, &num);
	if (ret != MNCTL_OK)
		goto out;
	items = json_array();
	ret = describe_all(m, j, "", items);
	if (ret == MNCTL_OK && email &&
	    (mnctl_opts.smime_out != NULL || mnctl_opts.pgp_out != NULL)) {
		const char *addr = json_string_value(json_object_get(j, "email"));
		if (addr == NULL || strcasecmp(addr, argv[0]) != 0)
			ret = mnctl_fail(MNCTL_EVERIFY, "the answer is not about %s", argv[0]);
		else
			ret = mnctl_resolve_write_out(j, addr, mnctl_opts.smime_out,
						      mnctl_opts.pgp_out, &num_smime, &num_pgp);
	}
	if (ret != MNCTL_OK)
		goto out;
	if (m->json) {
		json_t *o = json_object();
		json_object_set_new(o, "tree_size", json_integer((json_int_t)sth.tree_size));
		json_object_set_new(o, "entries", items);
		items = NULL;
		json_object_set_new(o, "verified", json_integer((json_int_t)num));
		json_object_set(o, "advice", json_object_get(j, "advice"));
		if (mnctl_opts.smime_out != NULL)
			json_object_set_new(o, "smime_written", json_integer((json_int_t)num_smime));
		if (mnctl_opts.pgp_out != NULL)
			json_object_set_new(o, "pgp_written", json_integer((json_int_t)num_pgp));
		mnctl_print_json(o);
	} else {
		print_advice(json_object_get(j, "advice"), "advice");
		printf("%zu entr%s, every inclusion proof verified against the tree of size %"
		       PRIu64 "\n", num, num == 1 ? "y" : "ies", sth.tree_size);
	}
out:
	json_decref(items);
	json_decref(j);
	return ret;
}
