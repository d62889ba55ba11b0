/* test_logd.c: logd as CT clients see it. A PKI made at test time, logd run as
 * a child process on 127.0.0.1, every RFC 6962 endpoint exercised over HTTP,
 * every SCT / STH / proof verified with our verifiers, and bad input answered
 * with the right status and no new leaf. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/b64.h"
#include "common/bytes.h"
#include "entry/ct.h"
#include "merkle/merkle.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

#define NLEAVES 12

static struct {
	char dir[64];
	struct logd_proc logd;
	struct ct_verifier *v;
	struct merkle_hasher *h;
	struct pki_cert *root, *ca, *other_root, *other_ca;
	struct pki_cert *leaves[NLEAVES];
} T;

static void rm_rf(const char *dir)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

static int setup(void **state)
{
	char roots[128], data[128];
	const struct pki_cert *rs[1];
	int64_t now = pki_now();

	(void)state;
	strcpy(T.dir, "/tmp/mn-logd-XXXXXX");
	if (mkdtemp(T.dir) == NULL)
		return -1;
	T.root = pki_root("Test Root", 0);
	T.ca = pki_issue(T.root, "Test CA", NULL, 0, PKI_CA, now - 86400, now + 86400 * 365);
	T.other_root = pki_root("Other Root", 0);
	T.other_ca = pki_issue(T.other_root, "Other CA", NULL, 0, PKI_CA, now - 86400,
			       now + 86400 * 365);
	for (int i = 0; i < NLEAVES; i++) {
		char name[64];
		const char *dns[1] = {name};
		snprintf(name, sizeof(name), "www%d.example.com", i);
		T.leaves[i] = pki_issue(T.ca, name, dns, 1, 0, now - 3600, now + 86400 * 90);
		if (T.leaves[i] == NULL)
			return -1;
	}
	rs[0] = T.root;
	snprintf(roots, sizeof(roots), "%s/roots.pem", T.dir);
	snprintf(data, sizeof(data), "%s/data", T.dir);
	if (pki_write_pem(roots, rs, 1) != 0)
		return -1;
	{
		const char *args[] = {"--no-map", "--data", data, "--tls-roots", roots, "--threads", "2",
				      "--max-entries", "5", "--idle-timeout", "300",
				      "--request-timeout", "300", "--max-body", "65536", NULL};
		if (logd_start(&T.logd, args) != 0)
			return -1;
	}
	T.v = ct_verifier_new(T.logd.spki, T.logd.spki_len);
	T.h = merkle_hasher_new();
	return T.v != NULL && T.h != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	/* SIGTERM is a graceful stop: exit status 0 */
	int st = logd_stop(&T.logd, SIGTERM);
	ct_verifier_free(T.v);
	merkle_hasher_free(T.h);
	for (int i = 0; i < NLEAVES; i++)
		pki_free(T.leaves[i]);
	pki_free(T.ca);
	pki_free(T.root);
	pki_free(T.other_ca);
	pki_free(T.other_root);
	rm_rf(T.dir);
	return st == 0 ? 0 : -1;
}

/* --- helpers ------------------------------------------------------------- */

static char *chain_json(const struct pki_cert *const *certs, size_t n)
{
	json_t *arr = json_array(), *obj = json_object();
	char *s;

	for (size_t i = 0; i < n; i++) {
		char *b = malloc(mn_b64_encoded_len(certs[i]->der_len) + 1);
		mn_b64_encode(b, certs[i]->der, certs[i]->der_len);
		json_array_append_new(arr, json_string(b));
		free(b);
	}
	json_object_set_new(obj, "chain", arr);
	s = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	return s;
}

static json_t *get_json(const char *target, int want_status)
{
	struct http_resp r;
	json_error_t e;
	json_t *j;

	assert_int_equal(http_do(T.logd.port, "GET", target, NULL, NULL, 0, &r), 0);
	if (r.status != want_status)
		fprintf(stderr, "GET %s: %d %s\n", target, r.status, (char *)r.body);
	assert_int_equal(r.status, want_status);
	j = json_loadb((const char *)r.body, r.body_len, 0, &e);
	assert_non_null(j);
	http_resp_free(&r);
	return j;
}

static int post(const char *path, const char *body, size_t len, struct http_resp *r)
{
	return http_do(T.logd.port, "POST", path, "Content-Type: application/json\r\n", body,
		       len, r);
}

static uint8_t *b64field(json_t *j, const char *name, size_t *len)
{
	json_t *f = json_object_get(j, name);
	uint8_t *out;
	assert_true(json_is_string(f));
	assert_int_equal(mn_b64_decode(&out, len, json_string_value(f), json_string_length(f),
				       1 << 24), 0);
	return out;
}

struct sth {
	uint64_t size, ts;
	uint8_t root[32];
};

static struct sth get_sth(void)
{
	json_t *j = get_json("/ct/v1/get-sth", 200);
	struct sth s;
	struct ct_sig sig;
	struct cbs cbs;
	uint8_t *root, *sigb;
	size_t rl, sl;

	/* section 4.3: exactly these four fields */
	assert_int_equal(json_object_size(j), 4);
	s.size = (uint64_t)json_integer_value(json_object_get(j, "tree_size"));
	s.ts = (uint64_t)json_integer_value(json_object_get(j, "timestamp"));
	root = b64field(j, "sha256_root_hash", &rl);
	sigb = b64field(j, "tree_head_signature", &sl);
	assert_int_equal(rl, 32);
	memcpy(s.root, root, 32);
	cbs_init(&cbs, sigb, sl);
	assert_true(ct_parse_sig(&sig, &cbs));
	assert_int_equal(cbs_len(&cbs), 0);
	assert_true(ct_verify_sth(T.v, &sig, s.ts, s.size, s.root));
	free(root);
	free(sigb);
	json_decref(j);
	return s;
}

/* verify an add-chain answer as a TLS client would: the SCT over the entry.
 * The log is new, so of the static-ct-api format: the extensions are exactly
 * a leaf_index, which *out_index gets; e0 gets the SCT's timestamp and
 * extensions (copied to |ext_buf|), so it is the logged leaf's entry. */
static uint64_t check_sct(json_t *j, struct ct_entry *e0,
			  uint8_t ext_buf[CT_LEAF_INDEX_EXT_LEN], uint64_t *out_index)
{
	struct ct_sct sct;
	struct ct_entry e = *e0;
	struct cbs cbs;
	uint8_t *id, *sig, *ext;
	size_t idl, sigl, extl;
	int has;

	assert_int_equal(json_object_size(j), 5);
	assert_int_equal(json_integer_value(json_object_get(j, "sct_version")), 0);
	id = b64field(j, "id", &idl);
	assert_int_equal(idl, 32);
	assert_memory_equal(id, T.logd.log_id, 32);
	ext = b64field(j, "extensions", &extl);
	assert_int_equal(extl, CT_LEAF_INDEX_EXT_LEN);
	assert_true(ct_parse_extensions(ext, extl, &has, out_index));
	assert_true(has);
	memcpy(ext_buf, ext, CT_LEAF_INDEX_EXT_LEN);
	sig = b64field(j, "signature", &sigl);
	memset(&sct, 0, sizeof(sct));
	memcpy(sct.log_id, id, 32);
	sct.extensions = ext_buf;
	sct.extensions_len = CT_LEAF_INDEX_EXT_LEN;
	sct.timestamp = (uint64_t)json_integer_value(json_object_get(j, "timestamp"));
	cbs_init(&cbs, sig, sigl);
	assert_true(ct_parse_sig(&sct.sig, &cbs));
	assert_int_equal(cbs_len(&cbs), 0);
	e.timestamp = sct.timestamp;
	assert_true(ct_verify_sct(T.v, &sct, &e));
	/* with other extensions it does not verify: they are signed */
	{
		uint8_t other[CT_LEAF_INDEX_EXT_LEN];
		assert_true(ct_leaf_index_ext(other, *out_index + 1));
		sct.extensions = other;
		assert_false(ct_verify_sct(T.v, &sct, &e));
	}
	e0->timestamp = sct.timestamp;
	e0->extensions = ext_buf;
	e0->extensions_len = CT_LEAF_INDEX_EXT_LEN;
	free(id);
	free(sig);
	free(ext);
	return sct.timestamp;
}

static void leaf_hash_of(const struct ct_entry *e, uint8_t out[32], uint8_t **leaf, size_t *len)
{
	struct cbb b;
	assert_true(cbb_init(&b, 256, 1 << 24));
	assert_true(ct_write_leaf(&b, e));
	assert_true(cbb_finish(&b, leaf, len));
	merkle_leaf_hash(T.h, out, *leaf, *len);
}

static void urlenc_b64(char *out, const uint8_t *data, size_t len)
{
	char tmp[128];
	mn_b64_encode(tmp, data, len);
	for (char *p = tmp; *p; p++) {
		if (*p == '+')
			out += sprintf(out, "%%2B");
		else if (*p == '/')
			out += sprintf(out, "%%2F");
		else if (*p == '=')
			out += sprintf(out, "%%3D");
		else
			*out++ = *p;
	}
	*out = 0;
}

static void check_inclusion(const uint8_t lh[32], uint64_t want_index, const struct sth *s)
{
	char target[256], enc[128];
	json_t *j, *path;
	uint8_t proof[MERKLE_MAX_PROOF][32];
	size_t n;

	urlenc_b64(enc, lh, 32);
	snprintf(target, sizeof(target), "/ct/v1/get-proof-by-hash?hash=%s&tree_size=%llu", enc,
		 (unsigned long long)s->size);
	j = get_json(target, 200);
	assert_int_equal(json_integer_value(json_object_get(j, "leaf_index")), want_index);
	path = json_object_get(j, "audit_path");
	n = json_array_size(path);
	assert_true(n <= MERKLE_MAX_PROOF);
	for (size_t i = 0; i < n; i++) {
		uint8_t *p;
		size_t l;
		json_t *e = json_array_get(path, i);
		assert_int_equal(mn_b64_decode(&p, &l, json_string_value(e), json_string_length(e), 32), 0);
		assert_int_equal(l, 32);
		memcpy(proof[i], p, 32);
		free(p);
	}
	assert_true(merkle_verify_inclusion(T.h, lh, want_index, s->size,
					    (const uint8_t(*)[32])proof, n, s->root));
	/* a flipped bit in the proof must not verify (the check above is real) */
	if (n > 0) {
		proof[0][0] ^= 1;
		assert_false(merkle_verify_inclusion(T.h, lh, want_index, s->size,
						     (const uint8_t(*)[32])proof, n, s->root));
	}
	json_decref(j);
}

static void check_consistency(const struct sth *a, const struct sth *b)
{
	char target[128];
	json_t *j, *path;
	uint8_t proof[MERKLE_MAX_PROOF][32];
	size_t n;

	snprintf(target, sizeof(target), "/ct/v1/get-sth-consistency?first=%llu&second=%llu",
		 (unsigned long long)a->size, (unsigned long long)b->size);
	j = get_json(target, 200);
	path = json_object_get(j, "consistency");
	n = json_array_size(path);
	for (size_t i = 0; i < n; i++) {
		uint8_t *p;
		size_t l;
		json_t *e = json_array_get(path, i);
		assert_int_equal(mn_b64_decode(&p, &l, json_string_value(e), json_string_length(e), 32), 0);
		memcpy(proof[i], p, 32);
		free(p);
	}
	assert_true(merkle_verify_consistency(T.h, a->size, b->size, a->root, b->root,
					      (const uint8_t(*)[32])proof, n));
	json_decref(j);
}

/* the expected extra_data: ASN.1Cert certificate_chain<0..2^24-1> */
static void expect_chain_extra(const uint8_t *extra, size_t len,
			       const struct pki_cert *const *chain, size_t n)
{
	struct cbb b, list, c;
	uint8_t *want;
	size_t wl;

	assert_true(cbb_init(&b, 1024, 1 << 24));
	assert_true(cbb_add_u24_length_prefixed(&b, &list));
	for (size_t i = 0; i < n; i++) {
		assert_true(cbb_add_u24_length_prefixed(&list, &c));
		assert_true(cbb_add_bytes(&c, chain[i]->der, chain[i]->der_len));
	}
	assert_true(cbb_finish(&b, &want, &wl));
	assert_int_equal(len, wl);
	assert_memory_equal(extra, want, wl);
	free(want);
}

/* --- tests --------------------------------------------------------------- */

static struct sth sths[NLEAVES + 2];
static size_t num_sths;
static uint8_t leaf_hashes[NLEAVES][32];
static uint8_t *leaf_inputs[NLEAVES];
static size_t leaf_input_lens[NLEAVES];

static void test_empty_log(void **state)
{
	json_t *j;

	(void)state;
	sths[num_sths++] = get_sth();
	assert_int_equal(sths[0].size, 0);
	{
		uint8_t empty[32];
		merkle_empty_root(empty);
		assert_memory_equal(sths[0].root, empty, 32);
	}
	j = get_json("/ct/v1/get-roots", 200);
	assert_int_equal(json_array_size(json_object_get(j, "certificates")), 1);
	{
		size_t l;
		uint8_t *der;
		json_t *e = json_array_get(json_object_get(j, "certificates"), 0);
		assert_int_equal(mn_b64_decode(&der, &l, json_string_value(e), json_string_length(e), 1 << 20), 0);
		assert_int_equal(l, T.root->der_len);
		assert_memory_equal(der, T.root->der, l);
		free(der);
	}
	json_decref(j);
	j = get_json("/ct/v1/get-entries?start=0&end=10", 400);
	json_decref(j);
}

static void test_add_chain(void **state)
{
	(void)state;
	for (int i = 0; i < NLEAVES; i++) {
		const struct pki_cert *chain[3] = {T.leaves[i], T.ca, T.root};
		/* with and without the root: both accepted */
		char *body = chain_json(chain, (i % 2) ? 3 : 2);
		struct http_resp r;
		json_t *j;
		json_error_t e;
		struct ct_entry ent = {0};
		uint8_t ext[CT_LEAF_INDEX_EXT_LEN];
		uint64_t ts, idx;
		struct sth s;

		assert_int_equal(post("/ct/v1/add-chain", body, strlen(body), &r), 0);
		assert_int_equal(r.status, 200);
		j = json_loadb((char *)r.body, r.body_len, 0, &e);
		assert_non_null(j);
		ent.entry_type = CT_X509_ENTRY;
		ent.body = T.leaves[i]->der;
		ent.body_len = T.leaves[i]->der_len;
		ts = check_sct(j, &ent, ext, &idx);
		/* static-ct-api: the SCT names the entry's index in the tree */
		assert_int_equal(idx, (uint64_t)i);
		leaf_hash_of(&ent, leaf_hashes[i], &leaf_inputs[i], &leaf_input_lens[i]);
		/* promise after durability: the STH already covers the SCT */
		s = get_sth();
		assert_true(s.size == (uint64_t)i + 1);
		assert_true(s.ts >= ts);
		check_inclusion(leaf_hashes[i], (uint64_t)i, &s);
		sths[num_sths++] = s;
		json_decref(j);
		http_resp_free(&r);
		free(body);
	}
	/* every pair of STHs seen is consistent */
	for (size_t a = 0; a < num_sths; a++)
		for (size_t b = a; b < num_sths; b++)
			check_consistency(&sths[a], &sths[b]);
	/* and every leaf is provable in the latest tree */
	for (int i = 0; i < NLEAVES; i++)
		check_inclusion(leaf_hashes[i], (uint64_t)i, &sths[num_sths - 1]);
}

static void test_get_entries(void **state)
{
	uint64_t start = 0;

	(void)state;
	/* --max-entries 5: pages of at most 5; an end past the tree is clamped */
	while (start < NLEAVES) {
		char target[128];
		json_t *j, *ents;
		size_t n;

		snprintf(target, sizeof(target), "/ct/v1/get-entries?start=%llu&end=1000",
			 (unsigned long long)start);
		j = get_json(target, 200);
		ents = json_object_get(j, "entries");
		n = json_array_size(ents);
		assert_true(n >= 1 && n <= 5);
		for (size_t i = 0; i < n; i++) {
			json_t *e = json_array_get(ents, i);
			size_t ll, el;
			uint8_t *leaf = b64field(e, "leaf_input", &ll);
			uint8_t *extra = b64field(e, "extra_data", &el);
			const struct pki_cert *chain[2] = {T.ca, T.root};
			assert_int_equal(json_object_size(e), 2);
			assert_int_equal(ll, leaf_input_lens[start + i]);
			assert_memory_equal(leaf, leaf_inputs[start + i], ll);
			/* the chain always ends at the root, added if not submitted */
			expect_chain_extra(extra, el, chain, 2);
			free(leaf);
			free(extra);
		}
		start += n;
		json_decref(j);
	}
	/* get-entry-and-proof agrees */
	for (int i = 0; i < NLEAVES; i += 5) {
		char target[128];
		json_t *j;
		size_t ll;
		uint8_t *leaf;
		snprintf(target, sizeof(target), "/ct/v1/get-entry-and-proof?leaf_index=%d&tree_size=%d",
			 i, NLEAVES);
		j = get_json(target, 200);
		leaf = b64field(j, "leaf_input", &ll);
		assert_int_equal(ll, leaf_input_lens[i]);
		assert_memory_equal(leaf, leaf_inputs[i], ll);
		assert_true(json_array_size(json_object_get(j, "audit_path")) > 0);
		free(leaf);
		json_decref(j);
	}
}

static void test_duplicate(void **state)
{
	const struct pki_cert *chain[2] = {T.leaves[3], T.ca};
	char *body = chain_json(chain, 2);
	struct http_resp r1, r2;
	struct sth before = get_sth(), after;

	(void)state;
	assert_int_equal(post("/ct/v1/add-chain", body, strlen(body), &r1), 0);
	assert_int_equal(post("/ct/v1/add-chain", body, strlen(body), &r2), 0);
	assert_int_equal(r1.status, 200);
	assert_int_equal(r2.status, 200);
	/* The original SCT: the same version, log ID, timestamp and leaf_index
	 * over the same leaf. A leaf_index log stores no SCT and signs a
	 * duplicate's again (as Sunlight does): ECDSA signatures are randomized,
	 * so only the signature bytes differ, and both verify. */
	{
		json_error_t e;
		json_t *j1 = json_loadb((char *)r1.body, r1.body_len, 0, &e);
		json_t *j2 = json_loadb((char *)r2.body, r2.body_len, 0, &e);
		struct ct_entry e1 = {0}, e2 = {0};
		uint8_t x1[CT_LEAF_INDEX_EXT_LEN], x2[CT_LEAF_INDEX_EXT_LEN];
		uint64_t i1, i2;
		e1.entry_type = e2.entry_type = CT_X509_ENTRY;
		e1.body = e2.body = T.leaves[3]->der;
		e1.body_len = e2.body_len = T.leaves[3]->der_len;
		assert_int_equal(check_sct(j1, &e1, x1, &i1), check_sct(j2, &e2, x2, &i2));
		assert_int_equal(i1, i2);
		json_object_del(j1, "signature");
		json_object_del(j2, "signature");
		assert_true(json_equal(j1, j2));
		json_decref(j1);
		json_decref(j2);
	}
	after = get_sth();
	assert_int_equal(after.size, before.size);
	http_resp_free(&r1);
	http_resp_free(&r2);
	free(body);
}

static void test_precert(void **state)
{
	int64_t now = pki_now();
	const char *dns[1] = {"pre.example.com"};
	struct pki_opts o = {.cn = "pre.example.com", .dns = dns, .num_dns = 1,
			     .flags = PKI_POISON, .not_before = now - 60,
			     .not_after = now + 86400, .serial = 4242};
	struct pki_cert *pre = pki_issue_opts(T.ca, &o), *fin;
	const struct pki_cert *chain[2] = {pre, T.ca};
	char *body = chain_json(chain, 2);
	struct http_resp r;
	json_error_t e;
	json_t *j;
	struct ct_entry ent = {0};
	size_t tbs_len;
	uint8_t *tbs, lh[32], *leaf, ext[CT_LEAF_INDEX_EXT_LEN];
	size_t leaf_len;
	uint64_t idx;
	struct sth s;

	(void)state;
	/* the final certificate: same fields and key, no poison */
	o.flags = 0;
	o.key = pre->key;
	fin = pki_issue_opts(T.ca, &o);
	tbs = pki_tbs(fin, &tbs_len);
	/* a precert to add-chain is refused, then accepted by add-pre-chain */
	assert_int_equal(post("/ct/v1/add-chain", body, strlen(body), &r), 0);
	assert_int_equal(r.status, 400);
	http_resp_free(&r);
	assert_int_equal(post("/ct/v1/add-pre-chain", body, strlen(body), &r), 0);
	assert_int_equal(r.status, 200);
	j = json_loadb((char *)r.body, r.body_len, 0, &e);
	ent.entry_type = CT_PRECERT_ENTRY;
	assert_int_equal(pki_spki_sha256(T.ca, ent.issuer_key_hash), 0);
	ent.body = tbs;
	ent.body_len = tbs_len;
	/* the SCT signs the final certificate's TBS: what a TLS client rebuilds */
	check_sct(j, &ent, ext, &idx);
	leaf_hash_of(&ent, lh, &leaf, &leaf_len);
	s = get_sth();
	assert_int_equal(idx, s.size - 1);
	check_inclusion(lh, s.size - 1, &s);
	free(leaf);
	json_decref(j);
	http_resp_free(&r);
	/* a final certificate to add-pre-chain is refused */
	free(body);
	chain[0] = fin;
	body = chain_json(chain, 2);
	assert_int_equal(post("/ct/v1/add-pre-chain", body, strlen(body), &r), 0);
	assert_int_equal(r.status, 400);
	http_resp_free(&r);
	free(body);
	OPENSSL_free(tbs);
	pki_free(fin);
	pki_free(pre);
}

struct bad {
	const char *method, *path, *body;
	int status;
	const char *code; /* expected error_code, or NULL */
};

static void test_bad_requests(void **state)
{
	static const struct bad bad[] = {
		{"POST", "/ct/v1/add-chain", "{not json", 400, "malformed"},
		{"POST", "/ct/v1/add-chain", "[]", 400, "malformed"},
		{"POST", "/ct/v1/add-chain", "{\"chain\":\"abc\"}", 400, "malformed"},
		{"POST", "/ct/v1/add-chain", "{\"chain\":[1]}", 400, "malformed"},
		{"POST", "/ct/v1/add-chain", "{\"chain\":[]}", 400, "malformed"},
		{"POST", "/ct/v1/add-chain", "{\"chain\":[\"!!!!\"]}", 400, "malformed"},
		{"POST", "/ct/v1/add-chain", "{\"chain\":[\"AAAA\"]}", 400, "malformed"},
		{"POST", "/ct/v1/add-chain", "{\"chain\":[\"MIIB\"],\"chain\":[]}", 400, "malformed"},
		{"POST", "/ct/v1/add-chain", "", 400, "malformed"},
		{"GET", "/ct/v1/add-chain", NULL, 405, NULL},
		{"POST", "/ct/v1/get-sth", "", 405, NULL},
		{"GET", "/ct/v1/nope", NULL, 404, NULL},
		{"GET", "/", NULL, 404, NULL},
		{"GET", "/ct/v1/get-entries?start=5&end=2", NULL, 400, "endBeforeStart"},
		{"GET", "/ct/v1/get-entries?start=-1&end=2", NULL, 400, "malformed"},
		{"GET", "/ct/v1/get-entries?start=a&end=2", NULL, 400, "malformed"},
		{"GET", "/ct/v1/get-entries?start=0", NULL, 400, "malformed"},
		{"GET", "/ct/v1/get-entries?start=99999&end=100000", NULL, 400, "malformed"},
		{"GET", "/ct/v1/get-entries?start=0&end=1&start=1", NULL, 400, "malformed"},
		{"GET", "/ct/v1/get-sth-consistency?first=5&second=2", NULL, 400, "malformed"},
		{"GET", "/ct/v1/get-sth-consistency?first=1&second=99999", NULL, 400, "malformed"},
		{"GET", "/ct/v1/get-sth-consistency?first=1", NULL, 400, "malformed"},
		{"GET", "/ct/v1/get-proof-by-hash?hash=AAAA&tree_size=1", NULL, 400, "malformed"},
		{"GET", "/ct/v1/get-proof-by-hash?hash=47DEQpj8HBSa%2B%2FTImW%2B5JCeuQeRkm5NMpJWZG3hSuFU%3D&tree_size=1",
		 NULL, 404, "notFound"},
		{"GET", "/ct/v1/get-proof-by-hash?tree_size=1", NULL, 400, "malformed"},
		{"GET", "/ct/v1/get-entry-and-proof?leaf_index=3&tree_size=3", NULL, 400, "malformed"},
		{"GET", "/ct/v1/get-entry-and-proof?leaf_index=0&tree_size=99999", NULL, 400, "malformed"},
	};
	struct sth before = get_sth(), after;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct http_resp r;
		json_error_t e;
		json_t *j;
		const char *b = bad[i].body;

		assert_int_equal(http_do(T.logd.port, bad[i].method, bad[i].path, NULL, b,
					 b ? strlen(b) : 0, &r), 0);
		if (r.status != bad[i].status)
			fprintf(stderr, "%s %s -> %d %s\n", bad[i].method, bad[i].path, r.status,
				(char *)r.body);
		assert_int_equal(r.status, bad[i].status);
		j = json_loadb((char *)r.body, r.body_len, 0, &e);
		assert_non_null(j);
		assert_true(json_is_string(json_object_get(j, "error_message")));
		if (bad[i].code != NULL)
			assert_string_equal(json_string_value(json_object_get(j, "error_code")),
					    bad[i].code);
		json_decref(j);
		http_resp_free(&r);
	}
	after = get_sth();
	assert_int_equal(after.size, before.size);
}

static void test_bad_chains(void **state)
{
	int64_t now = pki_now();
	const char *dns[1] = {"x.example.com"};
	struct pki_cert *foreign = pki_issue(T.other_ca, "x", dns, 1, 0, now - 60, now + 86400);
	struct pki_cert *expired = pki_issue(T.ca, "x", dns, 1, 0, now - 86400 * 10, now - 86400);
	struct pki_cert *broken = pki_issue(T.ca, "x", dns, 1, 0, now - 60, now + 86400);
	struct sth before = get_sth(), after;
	struct {
		const struct pki_cert *c[3];
		size_t n;
		const char *code;
	} cases[] = {
		{{foreign, T.other_ca}, 2, "unknownAnchor"},
		{{T.leaves[0], T.other_ca}, 2, "badChain"},
		{{expired, T.ca}, 2, "badCertificate"},
		{{broken, T.ca}, 2, "badChain"},
		{{T.ca, T.leaves[0]}, 2, NULL},
	};

	(void)state;
	broken->der[broken->der_len - 5] ^= 0x40; /* inside the signature */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *body = chain_json(cases[i].c, cases[i].n);
		struct http_resp r;
		json_error_t e;
		json_t *j;

		assert_int_equal(post("/ct/v1/add-chain", body, strlen(body), &r), 0);
		if (r.status != 400)
			fprintf(stderr, "case %zu -> %d %s\n", i, r.status, (char *)r.body);
		assert_int_equal(r.status, 400);
		j = json_loadb((char *)r.body, r.body_len, 0, &e);
		assert_non_null(j);
		if (cases[i].code != NULL)
			assert_string_equal(json_string_value(json_object_get(j, "error_code")),
					    cases[i].code);
		json_decref(j);
		http_resp_free(&r);
		free(body);
	}
	after = get_sth();
	assert_int_equal(after.size, before.size);
	pki_free(foreign);
	pki_free(expired);
	pki_free(broken);
}

static void test_limits(void **state)
{
	char *raw = NULL, *big;
	long n;
	size_t sz = 100000;

	(void)state;
	/* body over --max-body 65536: 413 without reading it */
	big = malloc(sz + 256);
	n = snprintf(big, 256, "POST /ct/v1/add-chain HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", sz);
	memset(big + n, 'a', sz);
	n = http_raw(T.logd.port, big, (size_t)n + sz, &raw);
	assert_true(n > 0);
	assert_memory_equal(raw, "HTTP/1.1 413", 12);
	free(raw);
	/* headers over 8 KiB: 431 */
	n = snprintf(big, 256, "GET /ct/v1/get-sth HTTP/1.1\r\nX-Big: ");
	memset(big + n, 'b', 10000);
	memcpy(big + n + 10000, "\r\n\r\n", 4);
	n = http_raw(T.logd.port, big, (size_t)n + 10004, &raw);
	assert_true(n > 0);
	assert_memory_equal(raw, "HTTP/1.1 431", 12);
	free(raw);
	/* garbage: 400 */
	n = http_raw(T.logd.port, "\x01\x02garbage\r\n\r\n", 13, &raw);
	assert_true(n > 0);
	assert_memory_equal(raw, "HTTP/1.1 400", 12);
	free(raw);
	/* a client that connects and sends nothing is closed (idle timeout 300 ms) */
	n = http_raw(T.logd.port, "", 0, &raw);
	assert_int_equal(n, 0);
	free(raw);
	/* half a request: 408 */
	n = http_raw(T.logd.port, "GET /ct/v1/get-sth HTTP/1.1\r\nHost:", 34, &raw);
	assert_true(n > 0);
	assert_memory_equal(raw, "HTTP/1.1 408", 12);
	free(raw);
	free(big);
}

static void test_many_connections(void **state)
{
	enum { N = 1000 };
	int *fds = malloc(N * sizeof(int));
	struct sockaddr_in a;
	struct sth s;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(T.logd.port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < N; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(fds[i] >= 0);
		assert_int_equal(connect(fds[i], (struct sockaddr *)&a, sizeof(a)), 0);
	}
	/* a well-behaved client is still served while they are open */
	s = get_sth();
	assert_true(s.size >= NLEAVES);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	free(fds);
	s = get_sth();
	(void)s;
}

static void test_metrics_and_health(void **state)
{
	struct http_resp r;

	(void)state;
	assert_int_equal(http_do(T.logd.port, "GET", "/metrics", NULL, NULL, 0, &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr((char *)r.body, "mn_api_requests_total{endpoint=\"add-chain\",status=\"200\"}"));
	assert_non_null(strstr((char *)r.body, "mn_tree_size "));
	assert_non_null(strstr((char *)r.body, "mn_sequencer_commit_seconds_bucket"));
	assert_non_null(strstr((char *)r.body, "mn_http_connections_open"));
	http_resp_free(&r);
	assert_int_equal(http_do(T.logd.port, "GET", "/healthz", NULL, NULL, 0, &r), 0);
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	for (int i = 0; i < NLEAVES; i++)
		free(leaf_inputs[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_log),
		cmocka_unit_test(test_add_chain),
		cmocka_unit_test(test_get_entries),
		cmocka_unit_test(test_duplicate),
		cmocka_unit_test(test_precert),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_bad_chains),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_many_connections),
		cmocka_unit_test(test_metrics_and_health),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
