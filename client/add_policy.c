/* add_policy.c: mnctl add-policy, the metanotary policy submission (POST
 * /mn/v1/add-policy, entry type 0x8002): the policy document canonicalized
 * (RFC 8785), signed as a JWS (RFC 7515) with the key of the chain's first
 * certificate, and verified like add-chain: the SCT must be the log's
 * signature (RFC 6962 section 3.2) over the entry the log says it logged, and
 * that entry must be what was submitted. A policy's body is rebuilt locally
 * (SignedPolicyBody, entry/policy.h) from the JWS and the signer index the log
 * answers. add-pgp is in add_pgp.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "client/mnctl.h"
#include "common/b64.h"
#include "entry/policy.h"

#define MAX_POLICY_FILE (64u << 10)

/* --- RFC 8785 canonical JSON -------------------------------------------------- */

/* UTF-16 code units of a UTF-8 string, one at a time (JCS sorts by them). */
struct u16it {
	const unsigned char *p;
	size_t n;
	unsigned pending;
};

static int next_unit(struct u16it *it, unsigned *out)
{
	unsigned cp, need;

	if (it->pending) {
		*out = it->pending;
		it->pending = 0;
		return 1;
	}
	if (it->n == 0)
		return 0;
	cp = *it->p;
	need = cp < 0x80 ? 0 : cp < 0xE0 ? 1 : cp < 0xF0 ? 2 : 3;
	cp &= need == 0 ? 0x7F : need == 1 ? 0x1F : need == 2 ? 0x0F : 0x07;
	it->p++;
	it->n--;
	for (unsigned i = 0; i < need && it->n > 0; i++, it->p++, it->n--)
		cp = cp << 6 | (*it->p & 0x3F);
	if (cp >= 0x10000) {
		cp -= 0x10000;
		*out = 0xD800 + (cp >> 10);
		it->pending = 0xDC00 + (cp & 0x3FF);
	} else {
		*out = cp;
	}
	return 1;
}

static int cmp_utf16(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	struct u16it i = {(const unsigned char *)x, strlen(x), 0};
	struct u16it k = {(const unsigned char *)y, strlen(y), 0};

	for (;;) {
		unsigned u, v;
		int hu = next_unit(&i, &u), hv = next_unit(&k, &v);
		if (!hu || !hv)
			return hu - hv;
		if (u != v)
			return u < v ? -1 : 1;
	}
}

static int jcs_string(struct cbb *b, const char *s, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	int ok = cbb_add_u8(b, '"');

	for (size_t i = 0; ok && i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b"
				: c == '\f' ? "\\f" : c == '\n' ? "\\n" : c == '\r' ? "\\r"
				: c == '\t' ? "\\t" : NULL;
		if (esc != NULL)
			ok = cbb_add_bytes(b, (const uint8_t *)esc, 2);
		else if (c < 0x20)
			ok = cbb_add_bytes(b, (const uint8_t *)"\\u00", 4) &&
			     cbb_add_u8(b, (uint8_t)digits[c >> 4]) &&
			     cbb_add_u8(b, (uint8_t)digits[c & 15]);
		else
			ok = cbb_add_u8(b, c);
	}
	return ok && cbb_add_u8(b, '"');
}

/* jcs writes |v| canonically. Returns 1, or 0 on a float or no memory. */
static int jcs(struct cbb *b, const json_t *v, int depth)
{
	char num[32];
	int ok = 1;

	if (depth > 32)
		return 0;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		size_t n = json_object_size(v), i = 0;
		const char **keys = malloc((n ? n : 1) * sizeof(*keys));
		const char *key;
		json_t *x;
		if (keys == NULL)
			return 0;
		json_object_foreach((json_t *)v, key, x)
			keys[i++] = key;
		qsort(keys, n, sizeof(*keys), cmp_utf16);
		ok = cbb_add_u8(b, '{');
		for (i = 0; ok && i < n; i++)
			ok = (i == 0 || cbb_add_u8(b, ',')) && jcs_string(b, keys[i], strlen(keys[i])) &&
			     cbb_add_u8(b, ':') && jcs(b, json_object_get(v, keys[i]), depth + 1);
		free(keys);
		return ok && cbb_add_u8(b, '}');
	}
	case JSON_ARRAY:
		ok = cbb_add_u8(b, '[');
		for (size_t i = 0; ok && i < json_array_size(v); i++)
			ok = (i == 0 || cbb_add_u8(b, ',')) && jcs(b, json_array_get(v, i), depth + 1);
		return ok && cbb_add_u8(b, ']');
	case JSON_STRING:
		return jcs_string(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return cbb_add_bytes(b, (const uint8_t *)num, strlen(num));
	case JSON_TRUE:
		return cbb_add_bytes(b, (const uint8_t *)"true", 4);
	case JSON_FALSE:
		return cbb_add_bytes(b, (const uint8_t *)"false", 5);
	case JSON_NULL:
		return cbb_add_bytes(b, (const uint8_t *)"null", 4);
	default:
		return 0; /* JSON_REAL: a policy has no floats */
	}
}

/* --- JWS (RFC 7515) ------------------------------------------------------------ */

static char *b64url_new(const uint8_t *in, size_t len)
{
	char *s = malloc(mn_b64url_encoded_len(len) + 1);

	if (s != NULL)
		mn_b64url_encode(s, in, len);
	return s;
}

/* key_alg picks the JWS alg for |key| (RFC 7518 section 3.1, RFC 8037). */
static const char *key_alg(EVP_PKEY *key, int pss, const EVP_MD **md, size_t *ec_half)
{
	char group[64];

	*ec_half = 0;
	*md = NULL;
	if (EVP_PKEY_is_a(key, "EC")) {
		if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
						    sizeof(group), NULL))
			return NULL;
		if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0) {
			*md = EVP_sha256();
			*ec_half = 32;
			return "ES256";
		}
		if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0) {
			*md = EVP_sha384();
			*ec_half = 48;
			return "ES384";
		}
		return NULL;
	}
	if (EVP_PKEY_is_a(key, "RSA")) {
		*md = EVP_sha256();
		return pss ? "PS256" : "RS256";
	}
	if (EVP_PKEY_is_a(key, "ED25519"))
		return "EdDSA";
	return NULL;
}

/* jws_sign signs |in| with |key| into a malloc'd JWS signature (ECDSA as R||S,
 * RFC 7518 section 3.4). */
static int jws_sign(EVP_PKEY *key, const EVP_MD *md, int pss, size_t ec_half,
		    const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	uint8_t *sig = NULL;
	size_t len = 0;
	int ok = 0;

	*out = NULL;
	if (ctx == NULL || EVP_DigestSignInit(ctx, &pctx, md, NULL, key) != 1)
		goto out;
	if (pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) != 1 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1))
		goto out;
	if (EVP_DigestSign(ctx, NULL, &len, in, in_len) != 1 || (sig = malloc(len)) == NULL ||
	    EVP_DigestSign(ctx, sig, &len, in, in_len) != 1)
		goto out;
	if (ec_half != 0) {
		const unsigned char *p = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
		uint8_t *raw = malloc(2 * ec_half);
		ok = es != NULL && raw != NULL &&
		     BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, (int)ec_half) == (int)ec_half &&
		     BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + ec_half, (int)ec_half) == (int)ec_half;
		ECDSA_SIG_free(es);
		free(sig);
		sig = raw;
		len = 2 * ec_half;
		if (!ok)
			goto out;
	}
	*out = sig;
	*out_len = len;
	sig = NULL;
	ok = 1;
out:
	free(sig);
	EVP_MD_CTX_free(ctx);
	return ok;
}

/* build_jws makes the compact JWS over |payload| for the chain and key. */
static int build_jws(const char *key_path, EVP_PKEY *key, const struct mnctl_chain *c,
		     const uint8_t *payload, size_t payload_len, char **out)
{
	const EVP_MD *md;
	size_t ec_half, sig_len;
	const char *alg = key_alg(key, mnctl_opts.pss, &md, &ec_half);
	json_t *h = json_object();
	char *hdr = NULL, *h64 = NULL, *p64 = NULL, *s64 = NULL, *input = NULL;
	uint8_t *sig = NULL;
	size_t in_len;
	int ret = MNCTL_ELOCAL;

	*out = NULL;
	if (alg == NULL) {
		json_decref(h);
		return mnctl_fail(MNCTL_EUSAGE, "%s: the key is not P-256, P-384, RSA or Ed25519",
				  key_path);
	}
	if (mnctl_opts.pss && strcmp(alg, "PS256") != 0) {
		json_decref(h);
		return mnctl_fail(MNCTL_EUSAGE, "--pss is for an RSA key");
	}
	json_object_set_new(h, "alg", json_string(alg));
	if (mnctl_opts.x5t) {
		uint8_t th[32];
		char *t64;
		SHA256(c->der[0], c->len[0], th);
		t64 = b64url_new(th, 32);
		if (t64 == NULL) {
			json_decref(h);
			return mnctl_fail(MNCTL_ELOCAL, "out of memory");
		}
		json_object_set_new(h, "x5t#S256", json_string(t64));
		free(t64);
	} else {
		json_t *x5c = json_array();
		for (size_t i = 0; i < c->num; i++)
			json_array_append_new(x5c, mnctl_json_b64_new(c->der[i], c->len[i]));
		json_object_set_new(h, "x5c", x5c);
	}
	hdr = json_dumps(h, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(h);
	if (hdr == NULL)
		goto oom;
	h64 = b64url_new((const uint8_t *)hdr, strlen(hdr));
	p64 = b64url_new(payload, payload_len);
	if (h64 == NULL || p64 == NULL)
		goto oom;
	in_len = strlen(h64) + 1 + strlen(p64);
	input = malloc(in_len + 1);
	if (input == NULL)
		goto oom;
	snprintf(input, in_len + 1, "%s.%s", h64, p64);
	if (!jws_sign(key, md, mnctl_opts.pss, ec_half, (const uint8_t *)input, in_len, &sig,
		      &sig_len)) {
		ret = mnctl_fail(MNCTL_ELOCAL, "%s: signing failed", key_path);
		goto out;
	}
	s64 = b64url_new(sig, sig_len);
	if (s64 == NULL)
		goto oom;
	*out = malloc(in_len + 1 + strlen(s64) + 1);
	if (*out == NULL)
		goto oom;
	snprintf(*out, in_len + 1 + strlen(s64) + 1, "%s.%s", input, s64);
	ret = MNCTL_OK;
	goto out;
oom:
	ret = mnctl_fail(MNCTL_ELOCAL, "out of memory");
out:
	free(hdr);
	free(h64);
	free(p64);
	free(s64);
	free(input);
	free(sig);
	return ret;
}

/* --- add-policy ------------------------------------------------------------------ */

/* policy_leaf builds the MerkleTreeLeaf of the policy entry: SignedPolicyBody
 * {jws<1..2^24-1>, signer_index, signer_cert_hash[32]} (entry/policy.h). */
static int policy_leaf(const char *jws, uint64_t signer_index, const uint8_t cert_hash[32],
		       const struct ct_sct *sct, uint8_t **body, size_t *body_len,
		       uint8_t **leaf, size_t *leaf_len, struct ct_entry *e)
{
	struct cbb b, child;
	size_t jl = strlen(jws);

	*body = *leaf = NULL;
	if (!cbb_init(&b, jl + 64, jl + 64) || !cbb_add_u24_length_prefixed(&b, &child) ||
	    !cbb_add_bytes(&child, (const uint8_t *)jws, jl) || !cbb_add_u64(&b, signer_index) ||
	    !cbb_add_bytes(&b, cert_hash, 32) || !cbb_finish(&b, body, body_len)) {
		cbb_cleanup(&b);
		return 0;
	}
	memset(e, 0, sizeof(*e));
	e->entry_type = MN_SIGNED_POLICY_ENTRY;
	e->timestamp = sct->timestamp;
	e->body = *body;
	e->body_len = *body_len;
	e->extensions = sct->extensions;
	e->extensions_len = sct->extensions_len;
	if (!cbb_init(&b, jl + 128, jl + 70000) || !ct_write_leaf(&b, e) ||
	    !cbb_finish(&b, leaf, leaf_len)) {
		cbb_cleanup(&b);
		free(*body);
		*body = NULL;
		return 0;
	}
	return 1;
}

/* A duplicate submission is answered with the first SCT only: find its leaf. */
struct pol_find {
	struct mnctl *m;
	const struct ct_sct *sct;
	const char *jws;
	const uint8_t *cert_hash;
	int found, candidates;
	uint64_t index, signer_index;
};

static int on_policy_entry(void *ctx, const struct mnctl_found *f)
{
	struct pol_find *p = ctx;
	struct ct_entry e;
	struct policy_body b;

	if (p->found || !ct_parse_leaf(&e, f->leaf, f->leaf_len) ||
	    e.entry_type != MN_SIGNED_POLICY_ENTRY || e.timestamp != p->sct->timestamp ||
	    !policy_parse_body(&b, e.body, e.body_len) || b.jws_len != strlen(p->jws) ||
	    memcmp(b.jws, p->jws, b.jws_len) != 0 || memcmp(b.signer_cert_hash, p->cert_hash, 32) != 0)
		return MNCTL_OK;
	p->candidates++;
	if (!ct_verify_sct(p->m->v, p->sct, &e))
		return MNCTL_OK;
	p->found = 1;
	p->index = f->index;
	p->signer_index = b.signer_index;
	return MNCTL_OK;
}

/* check_signer_entry: leaf |index| of the log is the x509_entry of |der|, and
 * is proven there in the current tree. */
static int check_signer_entry(struct mnctl *m, uint64_t index, const uint8_t *der,
			      size_t der_len)
{
	char path[96];
	json_t *j;
	uint8_t *leaf = NULL, hash[32];
	size_t leaf_len;
	struct ct_entry e;
	struct mnctl_sth sth;
	uint64_t got;
	int found, ret;

	snprintf(path, sizeof(path), "/ct/v1/get-entries?start=%" PRIu64 "&end=%" PRIu64,
		 index, index);
	ret = mnctl_get_json(m, path, &j, NULL);
	if (ret != MNCTL_OK)
		return ret;
	if (!mnctl_json_b64(json_array_get(json_object_get(j, "entries"), 0), "leaf_input",
			    &leaf, &leaf_len, 1u << 25)) {
		json_decref(j);
		return mnctl_fail(MNCTL_ENET, "get-entries: malformed entry %" PRIu64, index);
	}
	json_decref(j);
	if (!ct_parse_leaf(&e, leaf, leaf_len) || e.entry_type != CT_X509_ENTRY ||
	    e.body_len != der_len || memcmp(e.body, der, der_len) != 0) {
		free(leaf);
		return mnctl_fail(MNCTL_EVERIFY, "the policy names entry %" PRIu64 " as its "
				  "signer, but that entry is not the signer's certificate", index);
	}
	merkle_leaf_hash(m->h, hash, leaf, leaf_len);
	free(leaf);
	ret = mnctl_fetch_sth_checked(m, &sth);
	if (ret == MNCTL_OK)
		ret = mnctl_prove_hash(m, &sth, hash, &got, &found);
	if (ret != MNCTL_OK)
		return ret;
	if (!found || got != index)
		return mnctl_fail(MNCTL_EVERIFY, "the signer's certificate is not proven at "
				  "entry %" PRIu64 " of the tree of size %" PRIu64, index,
				  sth.tree_size);
	return MNCTL_OK;
}

static int read_policy(const char *path, json_t **out_doc, uint8_t **payload,
		       size_t *payload_len)
{
	uint8_t *text;
	size_t len;
	json_error_t jerr;
	const char *why = NULL;
	struct cbb b;
	int ret = mnctl_read_file(path, MAX_POLICY_FILE, &text, &len);

	*payload = NULL;
	*out_doc = NULL;
	if (ret != MNCTL_OK)
		return ret;
	*out_doc = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (!json_is_object(*out_doc)) {
		json_decref(*out_doc);
		*out_doc = NULL;
		return mnctl_fail(MNCTL_ELOCAL, "%s: not a JSON object (line %d: %s)", path,
				  jerr.line, jerr.text);
	}
	if (!cbb_init(&b, len + 16, POLICY_MAX_PAYLOAD_LEN) || !jcs(&b, *out_doc, 0) ||
	    !cbb_finish(&b, payload, payload_len)) {
		cbb_cleanup(&b);
		return mnctl_fail(MNCTL_ELOCAL, "%s: cannot be canonicalized (a float, too "
				  "deep or larger than %u bytes)", path, POLICY_MAX_PAYLOAD_LEN);
	}
	/* the canonical form must pass the log's own RFC 8785 check */
	if (policy_jcs_check(*payload, *payload_len, &why) != 0)
		return mnctl_fail(MNCTL_ELOCAL, "%s: %s", path, why ? why : "not canonical");
	return MNCTL_OK;
}

int mnctl_cmd_add_policy(struct mnctl *m, int argc, char **argv)
{
	struct mnctl_chain c = {.num = 0};
	struct mnctl_sct ps = {0}, ss = {0};
	EVP_PKEY *key = NULL;
	X509 *leafx = NULL;
	json_t *doc = NULL, *ans = NULL, *o;
	uint8_t *payload = NULL, *body = NULL, *leaf = NULL, cert_hash[32], leaf_hash[32];
	size_t payload_len, body_len, leaf_len;
	uint64_t index = 0, signer_index = 0;
	char *jws = NULL, *req = NULL, hex[65];
	struct ct_entry e;
	int ret, have_signer_sct = 0, dup = 0;

	if (argc != 1 || mnctl_opts.sign_key == NULL || mnctl_opts.chain == NULL)
		return mnctl_fail(MNCTL_EUSAGE, "add-policy POLICY.json --key KEY.pem --chain "
				  "CHAIN.pem [--x5t] [--pss]");
	ret = mnctl_load_key(m);
	if (ret != MNCTL_OK)
		return ret;
	ret = read_policy(argv[0], &doc, &payload, &payload_len);
	if (ret != MNCTL_OK)
		goto out;
	ret = mnctl_chain_read(&c, mnctl_opts.chain);
	if (ret != MNCTL_OK)
		goto out;
	{
		uint8_t *pem;
		size_t pem_len;
		BIO *bio;
		const unsigned char *p = c.der[0];
		ret = mnctl_read_file(mnctl_opts.sign_key, 1 << 20, &pem, &pem_len);
		if (ret != MNCTL_OK)
			goto out;
		bio = BIO_new_mem_buf(pem, (int)pem_len);
		key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
		BIO_free(bio);
		OPENSSL_cleanse(pem, pem_len);
		free(pem);
		leafx = d2i_X509(NULL, &p, (long)c.len[0]);
		if (key == NULL || leafx == NULL) {
			ret = mnctl_fail(MNCTL_ELOCAL, "%s: no private key (PEM, unencrypted)",
					 mnctl_opts.sign_key);
			goto out;
		}
		if (X509_check_private_key(leafx, key) != 1) {
			ret = mnctl_fail(MNCTL_ELOCAL, "%s is not the key of the first certificate "
					 "in %s", mnctl_opts.sign_key, mnctl_opts.chain);
			goto out;
		}
	}
	SHA256(c.der[0], c.len[0], cert_hash);
	ret = build_jws(mnctl_opts.sign_key, key, &c, payload, payload_len, &jws);
	if (ret != MNCTL_OK)
		goto out;
	o = json_object();
	json_object_set_new(o, "jws", json_string(jws));
	req = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (req == NULL) {
		ret = mnctl_fail(MNCTL_ELOCAL, "out of memory");
		goto out;
	}
	ret = mnctl_post(m, "/mn/v1/add-policy", req, &ans);
	if (ret != MNCTL_OK)
		goto out;
	if (json_object_get(ans, "sct") == NULL && json_object_get(ans, "sct_version") != NULL) {
		/* A duplicate: the log answers with the first submission's SCT. */
		dup = 1;
		ret = mnctl_sct_from_json(m, ans, "/mn/v1/add-policy", &ps);
	} else {
		ret = mnctl_sct_from_json(m, json_object_get(ans, "sct"), "/mn/v1/add-policy", &ps);
		if (ret == MNCTL_OK && (!mnctl_json_u64(ans, "leaf_index", &index) ||
					!mnctl_json_u64(ans, "signer_leaf_index", &signer_index)))
			ret = mnctl_fail(MNCTL_ENET, "/mn/v1/add-policy: malformed answer");
		if (ret == MNCTL_OK && json_object_get(ans, "signer_sct") != NULL) {
			ret = mnctl_sct_from_json(m, json_object_get(ans, "signer_sct"),
						  "/mn/v1/add-policy signer", &ss);
			have_signer_sct = ret == MNCTL_OK;
		}
	}
	if (ret != MNCTL_OK)
		goto out;
	if (dup) {
		const json_t *subj = json_object_get(doc, "subject");
		const char *d = json_string_value(json_object_get(subj, "domain"));
		const char *em = json_string_value(json_object_get(subj, "email"));
		struct pol_find pf = {.m = m, .sct = &ps.sct, .jws = jws, .cert_hash = cert_hash};
		char esc[600], query[700];
		if ((d == NULL) == (em == NULL) ||
		    !mnctl_url_escape(esc, sizeof(esc), d ? d : em)) {
			ret = mnctl_fail(MNCTL_ELOCAL, "%s: no subject", argv[0]);
			goto out;
		}
		snprintf(query, sizeof(query), "%s=%s&types=policy&limit=100",
			 d ? "domain" : "email", esc);
		ret = mnctl_lookup(m, query, on_policy_entry, &pf, NULL);
		if (ret != MNCTL_OK)
			goto out;
		if (!pf.found) {
			ret = mnctl_fail(MNCTL_EVERIFY, pf.candidates
					 ? "SCT signature does not verify over the logged policy"
					 : "the log answered a duplicate's SCT, but no such policy "
					   "entry is in its lookup");
			goto out;
		}
		index = pf.index;
		signer_index = pf.signer_index;
	}
	if (!policy_leaf(jws, signer_index, cert_hash, &ps.sct, &body, &body_len, &leaf,
			 &leaf_len, &e)) {
		ret = mnctl_fail(MNCTL_ELOCAL, "cannot encode the policy entry");
		goto out;
	}
	if (!ct_verify_sct(m->v, &ps.sct, &e)) {
		ret = mnctl_fail(MNCTL_EVERIFY, "SCT signature does not verify over the signed "
				 "policy entry (signer index %" PRIu64 ")", signer_index);
		goto out;
	}
	/* the log's word on the indexes, checked against the SCTs' leaf_index
	 * (and, with --wait-inclusion, the entry's against the tree below) */
	ret = mnctl_sct_check_index(&ps, index, "/mn/v1/add-policy");
	if (ret == MNCTL_OK && have_signer_sct)
		ret = mnctl_sct_check_index(&ss, signer_index, "/mn/v1/add-policy signer");
	if (ret != MNCTL_OK)
		goto out;
	if (have_signer_sct) {
		struct ct_entry se = {.entry_type = CT_X509_ENTRY, .timestamp = ss.sct.timestamp,
				      .body = c.der[0], .body_len = c.len[0],
				      .extensions = ss.sct.extensions,
				      .extensions_len = ss.sct.extensions_len};
		if (!ct_verify_sct(m->v, &ss.sct, &se)) {
			ret = mnctl_fail(MNCTL_EVERIFY, "signer SCT signature does not verify over "
					 "the signer's certificate");
			goto out;
		}
	}
	merkle_leaf_hash(m->h, leaf_hash, leaf, leaf_len);
	mnctl_hex(hex, leaf_hash, 32);
	if (m->json) {
		o = json_object();
		json_object_set_new(o, "timestamp", json_integer((json_int_t)ps.sct.timestamp));
		json_object_set_new(o, "leaf_index", json_integer((json_int_t)index));
		json_object_set_new(o, "signer_leaf_index", json_integer((json_int_t)signer_index));
		json_object_set_new(o, "leaf_hash", json_string(hex));
		json_object_set_new(o, "signature_verified", json_true());
		json_object_set_new(o, "signer_sct_verified", json_boolean(have_signer_sct));
		json_object_set_new(o, "duplicate", json_boolean(dup));
		json_object_set_new(o, "payload", json_stringn((const char *)payload, payload_len));
		json_object_set_new(o, "jws", json_string(jws));
		mnctl_print_json(o);
	} else {
		printf("SCT timestamp %" PRIu64 ": signature verified\nentry %" PRIu64
		       "%s, signer entry %" PRIu64 "%s\nleaf_hash %s\n", ps.sct.timestamp, index,
		       dup ? " (already logged)" : "", signer_index,
		       have_signer_sct ? " (new; its SCT verified)" : "", hex);
	}
	fflush(stdout);
	ret = MNCTL_OK;
	if (mnctl_opts.wait_inclusion) {
		uint64_t got;
		ret = mnctl_wait_inclusion(m, leaf_hash, ps.sct.timestamp, &got);
		if (ret == MNCTL_OK && got != index)
			ret = mnctl_fail(MNCTL_EVERIFY, "the policy is proven at entry %" PRIu64
					 ", the log said %" PRIu64, got, index);
		if (ret == MNCTL_OK)
			ret = check_signer_entry(m, signer_index, c.der[0], c.len[0]);
	}
out:
	mnctl_sct_cleanup(&ps);
	mnctl_sct_cleanup(&ss);
	mnctl_chain_cleanup(&c);
	EVP_PKEY_free(key);
	X509_free(leafx);
	json_decref(doc);
	json_decref(ans);
	free(payload);
	free(body);
	free(leaf);
	free(jws);
	free(req);
	return ret;
}
