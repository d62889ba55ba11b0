/* gen_corpus.c: writes the seed corpora fuzz/corpus/<target>/ and
 * fuzz/fixed_pki.h (the roots, the stored chains and the fixed time that
 * fuzz_x509 and fuzz_api use). Run by `make fuzz-corpus` (from the repository
 * root: gen_corpus fuzz); commit what it writes. Rerunning it makes a new PKI,
 * so every PKI-dependent seed is rewritten together with the header.
 * The api seeds name the fixture's leaf hashes (api_fixture.h), computed here
 * from the same PEM that goes into the header. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "common/b64.h"
#include "common/bytes.h"
#include "entry/ct.h"
#include "entry/pgp.h"
#include "entry/pgp_internal.h"
#include "entry/x509.h"
#include "fuzz/api_fixture.h"
#include "fuzz/fuzz.h"
#include "merkle/merkle.h"
#include "tests/lib/pki.h"

static const char *base;

static void put(const char *target, const char *name, const void *data, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/corpus/%s", base, target);
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/corpus/%s/%s", base, target, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static void puts_(const char *target, const char *name, const char *s)
{
	put(target, name, s, strlen(s));
}

/* ---- x509: u16 length || DER, repeated ---- */

static void put_chain(const char *name, const struct pki_cert *const *c, size_t num)
{
	uint8_t buf[16384];
	size_t off = 0;

	for (size_t i = 0; i < num; i++) {
		FUZZ_CHECK(c[i] != NULL && off + 2 + c[i]->der_len <= sizeof(buf));
		buf[off++] = (uint8_t)(c[i]->der_len >> 8);
		buf[off++] = (uint8_t)c[i]->der_len;
		memcpy(buf + off, c[i]->der, c[i]->der_len);
		off += c[i]->der_len;
	}
	put("x509", name, buf, off);
}

#define CHAIN(name, ...)                                                        \
	do {                                                                    \
		const struct pki_cert *c_[] = {__VA_ARGS__};                    \
		put_chain(name, c_, sizeof(c_) / sizeof(c_[0]));                \
	} while (0)

static void write_header(const struct pki_cert *const *roots, size_t num_roots,
			 const struct pki_cert *const *stored, int64_t now)
{
	char path[512], *pem;
	size_t len;
	FILE *f;

	snprintf(path, sizeof(path), "%s/fixed_pki.h", base);
	f = fopen(path, "w");
	FUZZ_CHECK(f != NULL);
	fprintf(f, "/* fixed_pki.h: written by fuzz/gen_corpus.c (make fuzz-corpus); do not edit.\n"
		   " * The roots fuzz_x509 and fuzz_api trust, the chains fuzz_api stores\n"
		   " * (api_fixture.h), and the time at which the seeds are valid. */\n"
		   "#ifndef MN_FUZZ_FIXED_PKI_H\n#define MN_FUZZ_FIXED_PKI_H\n\n");
	fprintf(f, "#define FUZZ_PKI_NOW_MS %lldULL\n#define FUZZ_NUM_ROOTS %zu\n\n",
		(long long)now * 1000, num_roots);
	for (int k = 0; k < 2; k++) {
		pem = k == 0 ? pki_pem(roots, num_roots, &len) : pki_pem(stored, 4, &len);
		FUZZ_CHECK(pem != NULL);
		fprintf(f, "__attribute__((unused)) static const char %s[] =\n",
			k == 0 ? "fuzz_roots_pem" : "fuzz_stored_pem");
		for (size_t i = 0; i < len;) {
			size_t e = i;
			while (e < len && pem[e] != '\n')
				e++;
			fprintf(f, "\t\"%.*s\\n\"\n", (int)(e - i), pem + i);
			i = e + 1;
		}
		fprintf(f, "\t;\n\n");
		free(pem);
	}
	fprintf(f, "#endif\n");
	FUZZ_CHECK(fclose(f) == 0);
}

static void gen_api(const char *roots_pem, const char *stored_pem, uint64_t now_ms);

static void gen_pki(void)
{
	int64_t now = pki_now(), nb = now - 86400, na = now + 20 * 365 * 86400LL;
	const char *dns_a[] = {"a.example.com", "www.a.example.com"};
	const char *dns_p[] = {"p.example.com"};
	const char *dns_c[] = {"c.example.org"};
	const char *dns_x[] = {"x.example.net"};
	struct pki_cert *root_ec = pki_root("Fuzz Root EC", 0);
	struct pki_cert *root_rsa = pki_root("Fuzz Root RSA", PKI_RSA);
	struct pki_cert *ca = pki_issue(root_ec, "Fuzz CA", NULL, 0, PKI_CA, nb, na);
	struct pki_cert *leaf_a = pki_issue(ca, "a.example.com", dns_a, 2, 0, nb, na);
	struct pki_cert *pre_a = pki_issue(ca, "p.example.com", dns_p, 1, PKI_POISON, nb, na);
	struct pki_cert *leaf_c = pki_issue(ca, "c.example.org", dns_c, 1, 0, nb, na);
	struct pki_cert *psc = pki_issue(ca, "Fuzz PSC", NULL, 0, PKI_CA | PKI_PSC, nb, na);
	struct pki_cert *pre_psc = pki_issue(psc, "x.example.net", dns_x, 1, PKI_POISON, nb, na);
	struct pki_cert *direct = pki_issue(root_ec, "x.example.net", dns_x, 1, 0, nb, na);
	struct pki_cert *ca_rsa = pki_issue(root_rsa, "Fuzz RSA CA", NULL, 0, PKI_CA | PKI_RSA, nb, na);
	struct pki_cert *leaf_rsa = pki_issue(ca_rsa, "x.example.net", dns_x, 1, 0, nb, na);
	struct pki_cert *expired = pki_issue(ca, "x.example.net", dns_x, 1, 0, nb - 800 * 86400LL,
					     nb - 400 * 86400LL);
	struct pki_cert *ee = pki_issue(ca, "not a ca", dns_x, 1, 0, nb, na);
	struct pki_cert *under_ee = pki_issue(ee, "x.example.net", dns_x, 1, 0, nb, na);
	struct pki_cert *pre_nc = pki_issue(ca, "x.example.net", dns_x, 1, PKI_POISON_NONCRIT, nb, na);
	struct pki_cert *root_u = pki_root("Unknown Root", 0);
	struct pki_cert *ca_u = pki_issue(root_u, "Unknown CA", NULL, 0, PKI_CA, nb, na);
	struct pki_cert *leaf_u = pki_issue(ca_u, "x.example.net", dns_x, 1, 0, nb, na);
	const struct pki_cert *roots[] = {root_ec, root_rsa};
	const struct pki_cert *stored[] = {leaf_a, pre_a, leaf_c, ca};

	write_header(roots, 2, stored, now);
	{
		size_t l1, l2;
		char *rp = pki_pem(roots, 2, &l1), *sp = pki_pem(stored, 4, &l2);
		FUZZ_CHECK(rp != NULL && sp != NULL);
		gen_api(rp, sp, (uint64_t)now * 1000);
		free(rp);
		free(sp);
	}
	CHAIN("leaf-ca", leaf_a, ca);
	CHAIN("leaf-ca-root", leaf_a, ca, root_ec);
	CHAIN("pre-ca", pre_a, ca);
	CHAIN("pre-psc-ca", pre_psc, psc, ca);
	CHAIN("pre-psc-ca-root", pre_psc, psc, ca, root_ec);
	CHAIN("direct", direct);
	CHAIN("rsa-leaf-ca", leaf_rsa, ca_rsa);
	CHAIN("expired", expired, ca);
	CHAIN("not-ca", under_ee, ee, ca);
	CHAIN("poison-noncrit", pre_nc, ca);
	CHAIN("unknown-root", leaf_u, ca_u);
	CHAIN("wrong-order", ca, leaf_a);
	CHAIN("root-only", root_ec);
	CHAIN("too-long", leaf_a, ca, ca, ca, ca, ca, ca, ca, ca, ca, ca, ca);

	/* ct: a real x509 leaf and a precert leaf, SCTs and a signature */
	{
		EVP_PKEY *key = EVP_EC_gen("P-256");
		struct ct_signer *s = ct_signer_new(key);
		struct ct_entry e;
		struct ct_sct sct;
		struct cbb b;
		uint8_t *out, *tbs;
		size_t len, tbs_len;
		static const uint8_t ext[] = {0x00, 0x01, 0x02};

		FUZZ_CHECK(s != NULL);
		memset(&e, 0, sizeof(e));
		e.timestamp = (uint64_t)now * 1000;
		e.entry_type = CT_X509_ENTRY;
		e.body = leaf_a->der;
		e.body_len = leaf_a->der_len;
		FUZZ_CHECK(cbb_init(&b, 1024, 1 << 20) && ct_write_leaf(&b, &e) &&
			   cbb_finish(&b, &out, &len));
		put("ct", "leaf-x509", out, len);
		free(out);
		{
			/* static-ct-api: a leaf with leaf_index 42, that extension
			 * list alone, and after an unknown extension */
			static const uint8_t unk[5] = {7, 0, 2, 0xaa, 0xbb};
			uint8_t li[CT_LEAF_INDEX_EXT_LEN], two[5 + CT_LEAF_INDEX_EXT_LEN];
			FUZZ_CHECK(ct_leaf_index_ext(li, 42));
			put("ct", "ext-leaf-index", li, sizeof(li));
			memcpy(two, unk, 5);
			memcpy(two + 5, li, sizeof(li));
			put("ct", "ext-two", two, sizeof(two));
			e.extensions = li;
			e.extensions_len = sizeof(li);
			FUZZ_CHECK(cbb_init(&b, 1024, 1 << 20) && ct_write_leaf(&b, &e) &&
				   cbb_finish(&b, &out, &len));
			put("ct", "leaf-x509-leaf-index", out, len);
			free(out);
			e.extensions_len = 0;
		}
		FUZZ_CHECK(ct_sign_sct(s, &sct, &e) == 0);
		FUZZ_CHECK(cbb_init(&b, 128, 1024) && ct_write_sct(&b, &sct) &&
			   cbb_finish(&b, &out, &len));
		put("ct", "sct", out, len);
		put("ct", "sig", out + 1 + 32 + 8 + 2, len - (1 + 32 + 8 + 2));
		free(out);

		tbs = pki_tbs(pre_a, &tbs_len);
		e.entry_type = CT_PRECERT_ENTRY;
		FUZZ_CHECK(pki_spki_sha256(ca, e.issuer_key_hash) == 0);
		e.body = tbs;
		e.body_len = tbs_len;
		e.extensions = ext;
		e.extensions_len = sizeof(ext);
		FUZZ_CHECK(cbb_init(&b, 1024, 1 << 20) && ct_write_leaf(&b, &e) &&
			   cbb_finish(&b, &out, &len));
		put("ct", "leaf-precert-ext", out, len);
		free(out);
		FUZZ_CHECK(ct_sign_sct(s, &sct, &e) == 0);
		FUZZ_CHECK(cbb_init(&b, 128, 1024) && ct_write_sct(&b, &sct) &&
			   cbb_finish(&b, &out, &len));
		put("ct", "sct-ext", out, len);
		free(out);
		OPENSSL_free(tbs);

		e.entry_type = MN_PGP_ENDORSEMENT_ENTRY;
		e.body = (const uint8_t *)"pgp";
		e.body_len = 3;
		e.extensions_len = 0;
		FUZZ_CHECK(cbb_init(&b, 64, 1024) && ct_write_leaf(&b, &e) &&
			   cbb_finish(&b, &out, &len));
		put("ct", "leaf-pgp", out, len);
		free(out);
		ct_signer_free(s);
		EVP_PKEY_free(key);
	}

	/* bytes: a certificate walked as DER, and reader programs */
	{
		uint8_t buf[4096];
		static const uint8_t prog[] = {11, 0, 1, 2, 3, 4, 5, 7, 6, 7, 8, 9, 3, 10, 4, 11};
		buf[0] = 1;
		buf[1] = 255;
		buf[2] = 11; /* one DER element: the whole certificate */
		memcpy(buf + 3, ca->der, ca->der_len);
		put("bytes", "der-cert", buf, 3 + ca->der_len);
		buf[0] = sizeof(prog);
		buf[1] = 220;
		memcpy(buf + 2, prog, sizeof(prog));
		memcpy(buf + 2 + sizeof(prog), leaf_a->der, 200);
		put("bytes", "program", buf, 2 + sizeof(prog) + 200);
	}

	pki_free(root_ec); pki_free(root_rsa); pki_free(ca); pki_free(leaf_a);
	pki_free(pre_a); pki_free(leaf_c); pki_free(psc); pki_free(pre_psc);
	pki_free(direct); pki_free(ca_rsa); pki_free(leaf_rsa); pki_free(expired);
	pki_free(ee); pki_free(under_ee); pki_free(pre_nc); pki_free(root_u);
	pki_free(ca_u); pki_free(leaf_u);
}

/* ---- api: u8 flags, target, '\n', body ---- */

static void put_req(const char *name, unsigned flags, const char *target, const char *body)
{
	size_t tl = strlen(target), bl = body ? strlen(body) : 0;
	uint8_t *buf = malloc(2 + tl + bl);

	FUZZ_CHECK(buf != NULL);
	buf[0] = (uint8_t)flags;
	memcpy(buf + 1, target, tl);
	if (body != NULL) {
		buf[1 + tl] = '\n';
		memcpy(buf + 2 + tl, body, bl);
	}
	put("api", name, buf, 1 + tl + (body ? 1 + bl : 0));
	free(buf);
}

static char *chain_json(const uint8_t *const *der, const size_t *lens, size_t num)
{
	size_t cap = 64, off;
	char *s;

	for (size_t i = 0; i < num; i++)
		cap += mn_b64_encoded_len(lens[i]) + 4;
	s = malloc(cap);
	FUZZ_CHECK(s != NULL);
	off = (size_t)snprintf(s, cap, "{\"chain\":[");
	for (size_t i = 0; i < num; i++) {
		if (i > 0)
			s[off++] = ',';
		s[off++] = '"';
		off += mn_b64_encode(s + off, der[i], lens[i]);
		s[off++] = '"';
	}
	snprintf(s + off, cap - off, "]}");
	return s;
}

static void gen_api(const char *roots_pem, const char *stored_pem, uint64_t now_ms)
{
	struct x509_roots *roots;
	struct x509_validator *v;
	struct fixture_leaf fl[FIXTURE_NUM_LEAVES];
	uint8_t *der[FIXTURE_NUM_CERTS];
	size_t lens[FIXTURE_NUM_CERTS];
	char target[256], hash[64], *body;

	FUZZ_CHECK(x509_roots_load_pem(&roots, NULL, (const uint8_t *)roots_pem,
				       strlen(roots_pem)) == 0);
	v = x509_validator_new(roots, NULL);
	FUZZ_CHECK(v != NULL);
	fixture_leaves(fl, v, stored_pem, now_ms);
	fixture_certs(der, lens, stored_pem);

	put_req("get-sth", 0, "/ct/v1/get-sth", NULL);
	put_req("get-sth-post", 1, "/ct/v1/get-sth", "{}");
	put_req("consistency", 0, "/ct/v1/get-sth-consistency?first=1&second=3", NULL);
	put_req("consistency-bad", 0, "/ct/v1/get-sth-consistency?first=3&second=1", NULL);
	mn_b64_encode(hash, fl[1].leaf_hash, 32);
	snprintf(target, sizeof(target), "/ct/v1/get-proof-by-hash?hash=%s&tree_size=3", hash);
	put_req("proof-by-hash", 0, target, NULL);
	snprintf(target, sizeof(target), "/ct/v1/get-proof-by-hash?tree_size=2&hash=%s", hash);
	put_req("proof-by-hash-2", 0, target, NULL);
	put_req("entries", 0, "/ct/v1/get-entries?start=0&end=10", NULL);
	put_req("entries-bad", 0, "/ct/v1/get-entries?start=2&end=1", NULL);
	put_req("roots", 0, "/ct/v1/get-roots", NULL);
	put_req("entry-and-proof", 0, "/ct/v1/get-entry-and-proof?leaf_index=1&tree_size=3", NULL);
	put_req("info", 0, "/mn/v1/info", NULL);
	put_req("metrics", 0, "/metrics", NULL);
	put_req("healthz", 0, "/healthz", NULL);
	put_req("unknown", 2, "/nope?x=%zz", NULL);
	put_req("query-bad", 0, "/ct/v1/get-entries?start=0&start=1", NULL);
	{
		const uint8_t *c[2] = {der[0], der[3]};
		size_t l[2] = {lens[0], lens[3]};
		body = chain_json(c, l, 2);
		put_req("add-chain-stored", 1, "/ct/v1/add-chain", body);
		free(body);
		c[0] = der[1];
		l[0] = lens[1];
		body = chain_json(c, l, 2);
		put_req("add-pre-chain-stored", 1, "/ct/v1/add-pre-chain", body);
		put_req("add-chain-precert", 1, "/ct/v1/add-chain", body);
		free(body);
		/* a new chain: the CA alone is not a leaf under the root? it is a
		 * certificate signed by the root, so add-chain accepts it as a leaf */
		body = chain_json((const uint8_t *const *)&der[3], &lens[3], 1);
		put_req("add-chain-new", 1, "/ct/v1/add-chain", body);
		put_req("add-chain-new-nospace", 1 | 4, "/ct/v1/add-chain", body);
		put_req("add-chain-new-busy", 1 | 8, "/ct/v1/add-chain", body);
		put_req("add-chain-new-eio", 1 | 12, "/ct/v1/add-chain", body);
		free(body);
	}
	put_req("add-chain-badjson", 1, "/ct/v1/add-chain", "{\"chain\":[\"AAAA\",1]}");
	put_req("add-chain-empty", 1, "/ct/v1/add-chain", "{\"chain\":[]}");

	for (size_t i = 0; i < FIXTURE_NUM_CERTS; i++)
		OPENSSL_free(der[i]);
	fixture_free(fl);
	x509_validator_free(v);
	x509_roots_free(roots);
}

/* ---- the targets that need no PKI ---- */

static void gen_plain(void)
{
	static const char *const b64[] = {"", "AA==", "AAE=", "AAEC", "AB==", "A===", "Zm9vYmFy",
					  "-_8", "+/8=", "AAEC\n", "YWJj ZA=="};
	static const char *const query[] = {
		"start=0&end=10", "first=1&second=3", "hash=3q2%2B7w%3D%3D&tree_size=5",
		"leaf_index=18446744073709551615&tree_size=18446744073709551616", "a=1&&b=2&",
		"=x", "a=%00", "a=%zz", "a=1&a=2", "a&b&c&d&e&f&g&h&i", "x=00000000000000000000042"};
	static const char *const http[] = {
		"GET /ct/v1/get-sth HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b?x=1 HTTP/1.1\r\nHost: x\r\n\r\n"
		"POST /async HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
		"POST /ct/v1/add-chain HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n",
		"POST /ct/v1/add-chain HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		"5\r\nhello\r\n0\r\n\r\n",
		"POST /async/c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		"ffffffffffffffffff\r\nx\r\n",
		"POST /x HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
		"POST /x HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"BREW /pot HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
		"GET /%2e%2e/x?y=%00 HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n",
		"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /x HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
		"PUT /x HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi",
		"GET\r\n\r\n",
		"GET /x HTTP/1.1\r\nX: y\r\n folded\r\n\r\n",
		"POST /async HTTP/1.1\r\nContent-Length: 2\r\n\r\nok"
		"POST /async HTTP/1.1\r\nContent-Length: 2\r\n\r\nok"
		"GET /async HTTP/1.1\r\n\r\n",
	};
	char name[32];
	uint8_t buf[8192];
	size_t i;

	for (i = 0; i < sizeof(b64) / sizeof(b64[0]); i++) {
		snprintf(name, sizeof(name), "seed-%02zu", i);
		puts_("b64", name, b64[i]);
	}
	for (i = 0; i < sizeof(query) / sizeof(query[0]); i++) {
		snprintf(name, sizeof(name), "seed-%02zu", i);
		puts_("query", name, query[i]);
	}
	for (i = 0; i < sizeof(http) / sizeof(http[0]); i++) {
		snprintf(name, sizeof(name), "seed-%02zu", i);
		puts_("http", name, http[i]);
	}
	/* header and URL limits */
	memcpy(buf, "GET /", 5);
	memset(buf + 5, 'a', 2000);
	memcpy(buf + 2005, " HTTP/1.1\r\n\r\n", 13);
	put("http", "long-url", buf, 2018);
	memcpy(buf, "GET / HTTP/1.1\r\nX: ", 19);
	memset(buf + 19, 'b', 3000);
	memcpy(buf + 3019, "\r\n\r\n", 4);
	put("http", "long-header", buf, 3023);

	/* merkle: n, mode, leaves, parameters */
	{
		struct merkle_hasher *h = merkle_hasher_new();
		struct merkle_range r;
		struct cbb b;
		uint8_t lh[32], *out;
		size_t len;
		static const uint8_t incl[] = {7, 1, 1, 2, 3, 4, 5, 6, 7, 0, 3, 6, 3, 5, 0};
		static const uint8_t incl_flip[] = {12, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
						    0, 5, 11, 5, 11, 1, 9, 0};
		static const uint8_t incl_huge[] = {5, 1, 1, 2, 3, 4, 5, 0, 0xff, 0xff, 0xff, 0xff,
						    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
						    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 5, 3, 70};
		static const uint8_t cons[] = {9, 2, 1, 1, 2, 3, 4, 5, 6, 7, 8, 0, 3, 7, 3, 7, 0};
		static const uint8_t cons_pow2[] = {9, 2, 1, 1, 2, 3, 4, 5, 6, 7, 8, 0, 4, 9, 4, 9, 2, 2};
		FUZZ_CHECK(h != NULL);
		put("merkle", "inclusion", incl, sizeof(incl));
		put("merkle", "inclusion-flip", incl_flip, sizeof(incl_flip));
		put("merkle", "inclusion-huge", incl_huge, sizeof(incl_huge));
		put("merkle", "consistency", cons, sizeof(cons));
		put("merkle", "consistency-pow2", cons_pow2, sizeof(cons_pow2));
		merkle_range_init(&r);
		for (i = 0; i < 13; i++) {
			uint8_t d = (uint8_t)i;
			merkle_leaf_hash(h, lh, &d, 1);
			FUZZ_CHECK(merkle_range_append(&r, h, lh, NULL, NULL) == 0);
		}
		buf[0] = 3;
		buf[1] = 0;
		buf[2] = 1;
		buf[3] = 2;
		buf[4] = 3;
		buf[5] = 0;
		buf[6] = 0;
		FUZZ_CHECK(cbb_init(&b, 256, 4096) && merkle_range_encode(&r, &b) &&
			   cbb_finish(&b, &out, &len));
		memcpy(buf + 7, out, len);
		put("merkle", "range-13", buf, 7 + len);
		free(out);
		merkle_hasher_free(h);
	}
}

/* ---- pgp: u24 body_len || body || opening ---- */

/* pgp_seed writes one fuzz_pgp input. */
static void pgp_seed(const char *name, const uint8_t *body, size_t body_len, const uint8_t *op,
		     size_t op_len)
{
	uint8_t *buf = malloc(3 + body_len + op_len);

	FUZZ_CHECK(buf != NULL);
	buf[0] = (uint8_t)(body_len >> 16);
	buf[1] = (uint8_t)(body_len >> 8);
	buf[2] = (uint8_t)body_len;
	memcpy(buf + 3, body, body_len);
	memcpy(buf + 3 + body_len, op, op_len);
	put("pgp", name, buf, 3 + body_len + op_len);
	free(buf);
}

/* gen_pgp: bodies and openings of both versions around synthetic packets
 * (the parsers check framing, tags and signature types, not key material),
 * with commitments that open, and one that does not. */
static void gen_pgp(void)
{
	static const uint8_t key_body[] = {4, 0x60, 0, 0, 0, 22, 1, 2, 3, 4};
	static const uint8_t self_body[] = {4, 0x13, 22, 8, 0, 0, 0, 0, 0xab, 0xcd, 0, 8, 1};
	static const uint8_t cert_body[] = {4, 0x10, 22, 8, 0, 0, 0, 0, 0x12, 0x34, 0, 8, 2};
	static const uint8_t sub_body[] = {4, 0x60, 0, 0, 1, 18, 5, 6, 7};
	static const uint8_t bind_body[] = {4, 0x18, 22, 8, 0, 0, 0, 0, 0x56, 0x78, 0, 8, 3};
	static const char uid[] = "Alice <alice@example.com>";
	uint8_t salt[PGP_SALT_LEN], *kp, *sp, *cp, *subs, *op, *body, *v1;
	size_t kp_len, sp_len, cp_len, subs_len, op_len, body_len, v1_len;
	struct cbs kc, sc, cc, lc;
	struct pgp_result r;
	struct cbb b, f;

	memset(salt, 0x5a, sizeof(salt));
	FUZZ_CHECK(cbb_init(&b, 64, 4096) && pgp_packet_add(&b, 6, key_body, sizeof(key_body)) &&
		   cbb_finish(&b, &kp, &kp_len));
	FUZZ_CHECK(cbb_init(&b, 64, 4096) && pgp_packet_add(&b, 2, self_body, sizeof(self_body)) &&
		   cbb_finish(&b, &sp, &sp_len));
	FUZZ_CHECK(cbb_init(&b, 64, 4096) && pgp_packet_add(&b, 2, cert_body, sizeof(cert_body)) &&
		   cbb_finish(&b, &cp, &cp_len));
	FUZZ_CHECK(cbb_init(&b, 64, 4096) && cbb_add_u24_length_prefixed(&b, &f) &&
		   pgp_packet_add(&f, 14, sub_body, sizeof(sub_body)) &&
		   cbb_add_u24_length_prefixed(&b, &f) &&
		   pgp_packet_add(&f, 2, bind_body, sizeof(bind_body)) &&
		   cbb_finish(&b, &subs, &subs_len));
	cbs_init(&kc, kp, kp_len);
	cbs_init(&sc, sp, sp_len);
	cbs_init(&cc, cp, cp_len);
	cbs_init(&lc, subs, subs_len);

	/* version 2: the opening opens the commitment */
	memset(&r, 0, sizeof(r));
	memset(r.endorsed_fpr, 0xaa, 20);
	r.endorsed_fpr_len = 20;
	memset(r.certifier_fpr, 0xcc, 20);
	r.certifier_fpr_len = 20;
	r.sig_type = 0x10;
	r.sig_created_s = 1700000000;
	memcpy(r.domain, "example.com", 12);
	memset(r.address_key, 0x33, sizeof(r.address_key));
	FUZZ_CHECK(pgp__opening_v2_encode(&op, &op_len, salt, (const uint8_t *)uid,
					  strlen(uid), &sc, &cc) == 0);
	pgp_uid_commitment_v2(r.uid_commitment, op, op_len);
	FUZZ_CHECK(pgp__body_v2_encode(&body, &body_len, &r, &kc, &lc) == 0);
	pgp_seed("v2-opens", body, body_len, op, op_len);
	/* ... and an opening with another user ID does not */
	op[PGP_SALT_LEN + 2] ^= 0x20;
	pgp_seed("v2-other-uid", body, body_len, op, op_len);
	free(op);
	free(body);

	/* version 1: the signatures in the body, opening = salt || user ID */
	FUZZ_CHECK(cbb_init(&b, 256, 4096) && cbb_add_u8(&b, PGP_BODY_V1) &&
		   cbb_add_u8_length_prefixed(&b, &f) && cbb_add_bytes(&f, r.endorsed_fpr, 20) &&
		   cbb_add_u8_length_prefixed(&b, &f) && cbb_add_bytes(&f, r.certifier_fpr, 20) &&
		   cbb_add_u8(&b, 0x10) && cbb_add_u64(&b, r.sig_created_s) &&
		   cbb_add_u8_length_prefixed(&b, &f) &&
		   cbb_add_bytes(&f, (const uint8_t *)"example.com", 11));
	pgp_uid_commitment(r.uid_commitment, salt, (const uint8_t *)uid, strlen(uid));
	FUZZ_CHECK(cbb_add_bytes(&b, r.uid_commitment, 32) && cbb_add_u24_length_prefixed(&b, &f) &&
		   cbb_add_bytes(&f, kp, kp_len) && cbb_add_u24_length_prefixed(&b, &f) &&
		   cbb_add_bytes(&f, sp, sp_len) && cbb_add_u24_length_prefixed(&b, &f) &&
		   cbb_add_bytes(&f, cp, cp_len) && cbb_add_u24_length_prefixed(&b, &f) &&
		   cbb_add_bytes(&f, subs, subs_len) && cbb_finish(&b, &v1, &v1_len));
	op_len = PGP_SALT_LEN + strlen(uid);
	op = malloc(op_len);
	FUZZ_CHECK(op != NULL);
	memcpy(op, salt, PGP_SALT_LEN);
	memcpy(op + PGP_SALT_LEN, uid, strlen(uid));
	pgp_seed("v1-opens", v1, v1_len, op, op_len);
	free(op);
	free(v1);
	free(kp);
	free(sp);
	free(cp);
	free(subs);
}

int main(int argc, char **argv)
{
	char path[512];

	if (argc != 2) {
		fprintf(stderr, "usage: gen_corpus FUZZDIR\n");
		return 2;
	}
	base = argv[1];
	snprintf(path, sizeof(path), "%s/corpus", base);
	mkdir(path, 0755);
	gen_pki();
	gen_plain();
	gen_pgp();
	return 0;
}
