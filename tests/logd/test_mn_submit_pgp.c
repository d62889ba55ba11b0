/* test_mn_submit_pgp.c: POST /mn/v1/add-pgp and GET /mn/v1/get-certifiers
 * over HTTP (issue 5), against the logd of tests/lib/mnsub: an endorsement
 * accepted, fetched back and rebuilt byte by byte; duplicates; the certifier
 * list; rejections and malformed requests (each a 400 and no new leaf); a log
 * without certifiers. At the end the tree holds exactly the leaf accepted. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "common/b64.h"
#include "common/bytes.h"
#include "common/vrf.h"
#include "entry/ct.h"
#include "entry/pgp.h"
#include "entry/policy.h"
#include "merkle/merkle.h"
#include "tests/lib/mnsub.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

/* --- add-pgp ------------------------------------------------------------- */

/* pgp_request: {"cert": base64(cert), "user_id": uid, "signer": signer}. */
static char *pgp_request(const uint8_t *cert, size_t len, const char *uid, const char *signer)
{
	char *b = malloc(mn_b64_encoded_len(len) + 1), *s;
	json_t *o;

	assert_non_null(b);
	mn_b64_encode(b, cert, len);
	o = json_pack("{s:s, s:s, s:s}", "cert", b, "user_id", uid, "signer", signer);
	assert_non_null(o);
	s = json_dumps(o, JSON_COMPACT);
	assert_non_null(s);
	json_decref(o);
	free(b);
	return s;
}

static void hex_to_bytes(uint8_t *out, const char *hex, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static json_t *pgp_sct1;

static void test_pgp_accept(void **state)
{
	struct mnsub_sth before = mnsub_get_sth(), after;
	char *req = pgp_request(mnsub.ca_cert.p, mnsub.ca_cert.len, MNSUB_ALICE, mnsub.ca);
	struct pgp_body pb;
	uint8_t *body, fpr[20];
	size_t len;
	json_t *j;

	(void)state;
	assert_int_equal(before.size, 0);
	j = mnsub_post_ok("/mn/v1/add-pgp", req);
	after = mnsub_get_sth();
	/* the answer comes after the commit: exactly one new leaf, already signed */
	assert_int_equal(after.size, before.size + 1);
	body = mnsub_logged(before.size, j, MN_PGP_ENDORSEMENT_ENTRY, &len);
	/* the published body never holds the user ID or the address */
	assert_null(memmem(body, len, MNSUB_ALICE, strlen(MNSUB_ALICE)));
	assert_null(memmem(body, len, "alice@example.com", 17));
	assert_null(memmem(body, len, "alice@", 6));
	assert_null(memmem(body, len, "Alice", 5));
	assert_int_equal(pgp_body_parse(&pb, body, len), 0);
	assert_int_equal(pb.version, PGP_BODY_VERSION);
	assert_true(cbs_mem_equal(&pb.domain, (const uint8_t *)"example.com", 11));
	hex_to_bytes(fpr, mnsub.alice, 20);
	assert_true(cbs_mem_equal(&pb.endorsed_fpr, fpr, 20));
	hex_to_bytes(fpr, mnsub.ca, 20);
	assert_true(cbs_mem_equal(&pb.certifier_fpr, fpr, 20));
	assert_int_equal(pb.sig_type, 0x10); /* gpg --quick-sign-key */
	assert_int_equal(pb.num_subkeys, 1);
	/* version 2: no signature over the user ID in the leaf (they travel in
	 * the opening), only the address key, the VRF output of the address
	 * under the key logd generated beside its log key (mode 0600), which
	 * /mn/v1/info publishes */
	assert_int_equal(cbs_len(&pb.self_sig), 0);
	assert_int_equal(cbs_len(&pb.certifier_sig), 0);
	{
		char path[300];
		struct stat st;
		uint8_t beta[32], proof[VRF_PROOF_LEN], pub[VRF_PUBLIC_LEN], *ipub;
		struct mnsub_buf pem;
		size_t ipub_len;
		struct vrf_key *k = NULL;
		json_t *info = mnsub_get_json("/mn/v1/info", 200);

		snprintf(path, sizeof(path), "%s/data/vrf-key.pem", mnsub.dir);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		assert_int_equal(mnsub_read_all(path, &pem), 0);
		assert_int_equal(vrf_key_from_pem(&k, pem.p, pem.len), 0);
		free(pem.p);
		assert_int_equal(pgp_address_vrf(k, beta, proof, "alice@example.com", 17), 0);
		assert_memory_equal(pb.address_key, beta, 32);
		vrf_public(k, pub);
		ipub = mnsub_b64field(info, "vrf_public_key", &ipub_len);
		assert_int_equal(ipub_len, VRF_PUBLIC_LEN);
		assert_memory_equal(ipub, pub, VRF_PUBLIC_LEN);
		assert_int_equal(pgp_address_vrf_verify(beta, ipub, proof, "Alice@example.com", 17), 1);
		free(ipub);
		json_decref(info);
		vrf_key_free(k);
	}
	pgp_sct1 = j;
	free(body);
	free(req);
}

static void test_pgp_duplicate(void **state)
{
	struct mnsub_sth before = mnsub_get_sth(), after;
	char *req = pgp_request(mnsub.ca_cert.p, mnsub.ca_cert.len, MNSUB_ALICE, mnsub.ca);
	json_t *j;

	(void)state;
	assert_non_null(pgp_sct1);
	j = mnsub_post_ok("/mn/v1/add-pgp", req);
	assert_true(mnsub_same_sct(j, pgp_sct1));
	json_decref(j);
	free(req);
	/* the same endorsement decorated with Eve's certification: same statement */
	req = pgp_request(mnsub.eve_cert.p, mnsub.eve_cert.len, MNSUB_ALICE, mnsub.ca);
	j = mnsub_post_ok("/mn/v1/add-pgp", req);
	assert_true(mnsub_same_sct(j, pgp_sct1));
	json_decref(j);
	free(req);
	after = mnsub_get_sth();
	assert_int_equal(after.size, before.size);
	json_decref(pgp_sct1);
	pgp_sct1 = NULL;
}

static void test_get_certifiers(void **state)
{
	json_t *j = mnsub_get_json("/mn/v1/get-certifiers", 200), *arr, *ca = NULL, *weak = NULL;

	(void)state;
	arr = json_object_get(j, "certifiers");
	assert_int_equal(json_array_size(arr), 2);
	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *e = json_array_get(arr, i);
		const char *f = json_string_value(json_object_get(e, "fingerprint"));
		assert_non_null(f);
		if (strcmp(f, mnsub.ca) == 0)
			ca = e;
		else if (strcmp(f, mnsub.weak) == 0)
			weak = e;
	}
	assert_non_null(ca);
	assert_non_null(weak);
	/* Eve is not a certifier */
	{
		char *s = json_dumps(j, JSON_COMPACT);
		assert_null(strstr(s, mnsub.eve));
		free(s);
	}
	/* scope from the .policy file; the key is the certifier's public key */
	assert_int_equal(json_array_size(json_object_get(ca, "scope")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(ca, "scope"), 0)),
			    "example.com");
	assert_int_equal(json_array_size(json_object_get(weak, "scope")), 0);
	assert_true(json_is_null(json_object_get(ca, "expires")));
	{
		size_t kl;
		uint8_t *k = mnsub_b64field(ca, "key", &kl), fpr[20];
		struct cbs c;
		struct cbs pb;
		uint8_t tag;
		cbs_init(&c, k, kl);
		/* a public key packet first (tag 6), and no secret material (5, 7) */
		assert_true(pgp_packet_get(&c, &tag, &pb, NULL));
		assert_int_equal(tag, 6);
		while (cbs_len(&c) > 0) {
			assert_true(pgp_packet_get(&c, &tag, &pb, NULL));
			assert_true(tag != 5 && tag != 7);
		}
		/* its v4 fingerprint (RFC 4880 section 12.2) is the listed one */
		{
			struct cbs c2;
			uint8_t hdr[3], md[20];
			EVP_MD_CTX *m = EVP_MD_CTX_new();
			cbs_init(&c2, k, kl);
			assert_true(pgp_packet_get(&c2, &tag, &pb, NULL));
			hdr[0] = 0x99;
			hdr[1] = (uint8_t)(cbs_len(&pb) >> 8);
			hdr[2] = (uint8_t)cbs_len(&pb);
			assert_int_equal(EVP_DigestInit_ex(m, EVP_sha1(), NULL), 1);
			assert_int_equal(EVP_DigestUpdate(m, hdr, 3), 1);
			assert_int_equal(EVP_DigestUpdate(m, cbs_data(&pb), cbs_len(&pb)), 1);
			assert_int_equal(EVP_DigestFinal_ex(m, md, NULL), 1);
			EVP_MD_CTX_free(m);
			hex_to_bytes(fpr, mnsub.ca, 20);
			assert_memory_equal(md, fpr, 20);
		}
		free(k);
	}
	json_decref(j);
}

/* Packets of a gpg export. */
struct pkts {
	struct cbs p[64];
	uint8_t tag[64];
	size_t n;
};

static void split(struct pkts *out, const struct mnsub_buf *b)
{
	struct cbs c, body;

	cbs_init(&c, b->p, b->len);
	out->n = 0;
	while (cbs_len(&c) > 0) {
		assert_true(out->n < 64);
		assert_true(pgp_packet_get(&c, &out->tag[out->n], &body, &out->p[out->n]));
		out->n++;
	}
}

static int contains(const struct pkts *set, const struct cbs *p)
{
	for (size_t i = 0; i < set->n; i++)
		if (cbs_len(&set->p[i]) == cbs_len(p) &&
		    memcmp(cbs_data(&set->p[i]), cbs_data(p), cbs_len(p)) == 0)
			return 1;
	return 0;
}

static void reject_pgp(const uint8_t *cert, size_t len, const char *uid, const char *signer,
		       const char *needle)
{
	char *req = pgp_request(cert, len, uid, signer);
	mnsub_expect_reject("/mn/v1/add-pgp", req, NULL, needle);
	free(req);
}

static void test_pgp_rejections(void **state)
{
	struct pkts cert, plain;
	size_t sig = SIZE_MAX, off;
	uint8_t *forged;

	(void)state;
	/* forged: the last byte of the certifier's signature value flipped */
	split(&cert, &mnsub.ca_cert);
	split(&plain, &mnsub.plain);
	for (size_t i = 0; i < cert.n; i++)
		if (cert.tag[i] == 2 && !contains(&plain, &cert.p[i])) {
			assert_int_equal(sig, SIZE_MAX);
			sig = i;
		}
	assert_int_not_equal(sig, SIZE_MAX);
	forged = malloc(mnsub.ca_cert.len);
	assert_non_null(forged);
	memcpy(forged, mnsub.ca_cert.p, mnsub.ca_cert.len);
	off = (size_t)(cbs_data(&cert.p[sig]) - mnsub.ca_cert.p) + cbs_len(&cert.p[sig]) - 1;
	forged[off] ^= 0x01;
	reject_pgp(forged, mnsub.ca_cert.len, MNSUB_ALICE, mnsub.ca, "does not verify");
	free(forged);
	/* a signer that is not configured (Eve did certify the user ID) */
	reject_pgp(mnsub.eve_cert.p, mnsub.eve_cert.len, MNSUB_ALICE, mnsub.eve,
		   "not a configured certifier");
	/* a SHA-1 certification by a configured certifier */
	reject_pgp(mnsub.sha1.p, mnsub.sha1.len, MNSUB_ALICE, mnsub.weak, "weak hash");
	/* secret key material */
	reject_pgp(mnsub.secret.p, mnsub.secret.len, MNSUB_ALICE, mnsub.ca, "secret key");
	/* truncated packets: inside the first packet, inside the last one, and
	 * one byte short */
	reject_pgp(mnsub.ca_cert.p, 10, MNSUB_ALICE, mnsub.ca, "truncated");
	off = (size_t)(cbs_data(&cert.p[cert.n - 1]) - mnsub.ca_cert.p) + 3;
	reject_pgp(mnsub.ca_cert.p, off, MNSUB_ALICE, mnsub.ca, "truncated");
	reject_pgp(mnsub.ca_cert.p, mnsub.ca_cert.len - 1, MNSUB_ALICE, mnsub.ca, "truncated");
	/* a user ID that is not on the key, also one differing only in case */
	reject_pgp(mnsub.ca_cert.p, mnsub.ca_cert.len, "Alice <bob@example.com>", mnsub.ca,
		   "not on the key");
	reject_pgp(mnsub.ca_cert.p, mnsub.ca_cert.len, "alice <alice@example.com>", mnsub.ca,
		   "not on the key");
	/* a domain outside the certifier's configured scope (example.com) */
	reject_pgp(mnsub.ca_cert.p, mnsub.ca_cert.len, "Alice <alice@example.org>", mnsub.ca,
		   "outside the certifier's scope");
	/* the certifier did not certify the key at all */
	reject_pgp(mnsub.plain.p, mnsub.plain.len, MNSUB_ALICE, mnsub.ca, "certification");
	/* signer not hex */
	reject_pgp(mnsub.ca_cert.p, mnsub.ca_cert.len, MNSUB_ALICE, "not-a-fingerprint", "hex");
}

static void test_pgp_malformed_json(void **state)
{
	char *good = pgp_request(mnsub.ca_cert.p, mnsub.ca_cert.len, MNSUB_ALICE, mnsub.ca);
	char buf[8192];
	json_t *o;
	char *s;

	(void)state;
	assert_true(strlen(good) < sizeof(buf) - 64);
	mnsub_expect_reject("/mn/v1/add-pgp", "{not json", "malformed", "JSON");
	mnsub_expect_reject("/mn/v1/add-pgp", "", "malformed", "JSON");
	mnsub_expect_reject("/mn/v1/add-pgp", "[]", "malformed", "not a JSON object");
	/* a whole valid request with trailing garbage */
	snprintf(buf, sizeof(buf), "%s}", good);
	mnsub_expect_reject("/mn/v1/add-pgp", buf, "malformed", "JSON");
	/* unknown field */
	snprintf(buf, sizeof(buf), "%.*s,\"note\":\"x\"}", (int)strlen(good) - 1, good);
	mnsub_expect_reject("/mn/v1/add-pgp", buf, "malformed", "unknown field");
	/* duplicate field */
	snprintf(buf, sizeof(buf), "%.*s,\"signer\":\"%s\"}", (int)strlen(good) - 1, good, mnsub.ca);
	mnsub_expect_reject("/mn/v1/add-pgp", buf, "malformed", "repeats");
	/* missing field, each in turn */
	{
		static const char *const f[] = {"cert", "user_id", "signer"};
		for (size_t i = 0; i < 3; i++) {
			json_error_t e;
			o = json_loads(good, 0, &e);
			assert_non_null(o);
			assert_int_equal(json_object_del(o, f[i]), 0);
			s = json_dumps(o, JSON_COMPACT);
			mnsub_expect_reject("/mn/v1/add-pgp", s, "malformed", "missing");
			free(s);
			json_decref(o);
		}
	}
	/* a field that is not a string */
	{
		json_error_t e;
		o = json_loads(good, 0, &e);
		json_object_set_new(o, "user_id", json_integer(1));
		s = json_dumps(o, JSON_COMPACT);
		mnsub_expect_reject("/mn/v1/add-pgp", s, "malformed", "not a string");
		free(s);
		json_decref(o);
	}
	/* bad base64: a stray character, base64url, and empty */
	{
		json_error_t e;
		static const char *const bad[] = {"mQ!!", "mQ-_", "mQ", ""};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			o = json_loads(good, 0, &e);
			json_object_set_new(o, "cert", json_string(bad[i]));
			s = json_dumps(o, JSON_COMPACT);
			mnsub_expect_reject("/mn/v1/add-pgp", s, "malformed", "base64");
			free(s);
			json_decref(o);
		}
	}
	free(good);
}

/* A logd without --certifiers refuses every endorsement. */
static void test_pgp_not_accepted(void **state)
{
	char dir[64], data[128];
	struct logd_proc p;
	char *req = pgp_request(mnsub.ca_cert.p, mnsub.ca_cert.len, MNSUB_ALICE, mnsub.ca);
	json_t *j;
	int st;

	(void)state;
	strcpy(dir, "/tmp/mn-mnsub2-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(data, sizeof(data), "%s/data", dir);
	{
		const char *args[] = {"--no-map", "--data", data, "--tls-roots", mnsub.tls_roots, NULL};
		assert_int_equal(logd_start(&p, args), 0);
	}
	j = mnsub_post_json_port(p.port, "/mn/v1/add-pgp", req, strlen(req), &st);
	assert_int_equal(st, 400);
	assert_string_equal(json_string_value(json_object_get(j, "error_code")), "notAccepted");
	assert_non_null(json_string_value(json_object_get(j, "error_message")));
	json_decref(j);
	j = mnsub_get_json_port(p.port, "/mn/v1/get-certifiers", 200);
	assert_int_equal(json_array_size(json_object_get(j, "certifiers")), 0);
	json_decref(j);
	j = mnsub_get_json_port(p.port, "/ct/v1/get-sth", 200);
	assert_int_equal(json_integer_value(json_object_get(j, "tree_size")), 0);
	json_decref(j);
	assert_int_equal(logd_stop(&p, SIGTERM), 0);
	mnsub_rm_rf(dir);
	free(req);
}


/* --- the whole tree ----------------------------------------------------------- */

static void test_final_tree(void **state)
{
	(void)state;
	mnsub_check_tree(1); /* pgp 1 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pgp_accept),
		cmocka_unit_test(test_pgp_duplicate),
		cmocka_unit_test(test_get_certifiers),
		cmocka_unit_test(test_pgp_rejections),
		cmocka_unit_test(test_pgp_malformed_json),
		cmocka_unit_test(test_pgp_not_accepted),
		cmocka_unit_test(test_final_tree),
	};
	return cmocka_run_group_tests(tests, mnsub_setup, mnsub_teardown);
}
