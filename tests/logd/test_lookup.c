/* test_lookup.c: /mn/v1/lookup returns exactly the expected entries for a
 * domain (with and without subdomains), an email address, with class filters
 * and paging, every entry with an audit path that verifies against the STH the
 * answer carries; decoys (example.co, examples.com) never match; bad
 * parameters get 400. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/b64.h"
#include "merkle/merkle.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

#define NLEAVES 9

static struct {
	char dir[64];
	struct logd_proc logd;
	struct pki_cert *root, *ca, *sroot, *sca;
	struct pki_cert *leaves[NLEAVES];
	uint64_t idx[NLEAVES]; /* leaf i's index in the log (map-root leaves sit
				* between the submissions) */
	struct merkle_hasher *h;
} T;

/* tree_size: the size of the log's current STH */
static uint64_t tree_size(void)
{
	struct http_resp r;
	json_t *j;
	uint64_t n;

	if (http_do(T.logd.port, "GET", "/ct/v1/get-sth", NULL, NULL, 0, &r) != 0 || r.status != 200)
		return 0;
	j = json_loadb((char *)r.body, r.body_len, 0, NULL);
	n = (uint64_t)json_integer_value(json_object_get(j, "tree_size"));
	json_decref(j);
	http_resp_free(&r);
	return n;
}

static char *chain_json(const struct pki_cert *a, const struct pki_cert *b)
{
	json_t *arr = json_array(), *obj = json_object();
	const struct pki_cert *c[2] = {a, b};
	char *s;

	for (size_t i = 0; i < 2; i++) {
		char *e = malloc(mn_b64_encoded_len(c[i]->der_len) + 1);
		mn_b64_encode(e, c[i]->der, c[i]->der_len);
		json_array_append_new(arr, json_string(e));
		free(e);
	}
	json_object_set_new(obj, "chain", arr);
	s = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	return s;
}

static int setup(void **state)
{
	char roots[128], sroots[128], data[128];
	int64_t now = pki_now();
	static const char *const names[NLEAVES][2] = {
		{"example.com", "www.example.com"}, /* 0 */
		{"example.co", NULL},               /* 1 decoy */
		{"sub.example.com", NULL},          /* 2 */
		{"*.example.com", NULL},            /* 3 wildcard */
		{"Upper.EXAMPLE.com", NULL},        /* 4 upper case */
		{"xn--bcher-kva.example", NULL},    /* 5 IDN A-label */
		{"alice@example.com", NULL},        /* 6 S/MIME */
		{"alice@example.co", NULL},         /* 7 S/MIME decoy */
		{"examples.com", NULL},             /* 8 decoy */
	};

	(void)state;
	strcpy(T.dir, "/tmp/mn-lookup-XXXXXX");
	if (mkdtemp(T.dir) == NULL)
		return -1;
	T.root = pki_root("Lookup Root", 0);
	T.ca = pki_issue(T.root, "Lookup CA", NULL, 0, PKI_CA, now - 86400, now + 86400 * 365);
	T.sroot = pki_root("Lookup Mail Root", 0);
	T.sca = pki_issue(T.sroot, "Lookup Mail CA", NULL, 0, PKI_CA, now - 86400, now + 86400 * 365);
	snprintf(roots, sizeof(roots), "%s/roots.pem", T.dir);
	snprintf(sroots, sizeof(sroots), "%s/sroots.pem", T.dir);
	snprintf(data, sizeof(data), "%s/data", T.dir);
	{
		const struct pki_cert *r[1] = {T.root}, *s[1] = {T.sroot};
		if (pki_write_pem(roots, r, 1) != 0 || pki_write_pem(sroots, s, 1) != 0)
			return -1;
	}
	{
		const char *args[] = {"--data", data, "--tls-roots", roots, "--smime-roots", sroots, NULL};
		if (logd_start(&T.logd, args) != 0)
			return -1;
	}
	T.h = merkle_hasher_new();
	for (int i = 0; i < NLEAVES; i++) {
		int smime = strchr(names[i][0], '@') != NULL;
		const char *dns[2] = {names[i][0], names[i][1]};
		struct http_resp r;
		char *body;

		T.leaves[i] = pki_issue(smime ? T.sca : T.ca, names[i][0], dns, names[i][1] ? 2 : 1,
					smime ? PKI_EMAIL : 0, now - 60, now + 86400 * 30);
		if (T.leaves[i] == NULL)
			return -1;
		body = chain_json(T.leaves[i], smime ? T.sca : T.ca);
		if (http_do(T.logd.port, "POST", "/ct/v1/add-chain", NULL, body, strlen(body), &r) != 0 ||
		    r.status != 200) {
			fprintf(stderr, "leaf %d: %d %s\n", i, r.status, (char *)r.body);
			return -1;
		}
		http_resp_free(&r);
		free(body);
		/* one submission at a time: its batch is it and the map-root leaf */
		T.idx[i] = tree_size() - 2;
	}
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	int st;

	(void)state;
	st = logd_stop(&T.logd, SIGTERM);
	for (int i = 0; i < NLEAVES; i++)
		pki_free(T.leaves[i]);
	pki_free(T.ca);
	pki_free(T.root);
	pki_free(T.sca);
	pki_free(T.sroot);
	merkle_hasher_free(T.h);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", T.dir);
	return system(cmd) == 0 && st == 0 ? 0 : -1;
}

static uint8_t *b64(json_t *s, size_t *len)
{
	uint8_t *out;
	assert_true(json_is_string(s));
	assert_int_equal(mn_b64_decode(&out, len, json_string_value(s), json_string_length(s), 1 << 24), 0);
	return out;
}

/* run a lookup; check every proof; return the leaf indexes in order */
static size_t lookup(const char *query, uint64_t *out, size_t cap, char *next, size_t next_cap)
{
	char target[512];
	struct http_resp r;
	json_error_t e;
	json_t *j, *sth, *ents, *nc;
	uint8_t *root;
	size_t rl, n;
	uint64_t size;

	snprintf(target, sizeof(target), "/mn/v1/lookup?%s", query);
	assert_int_equal(http_do(T.logd.port, "GET", target, NULL, NULL, 0, &r), 0);
	if (r.status != 200)
		fprintf(stderr, "%s -> %d %s\n", query, r.status, (char *)r.body);
	assert_int_equal(r.status, 200);
	j = json_loadb((char *)r.body, r.body_len, 0, &e);
	assert_non_null(j);
	sth = json_object_get(j, "sth");
	size = (uint64_t)json_integer_value(json_object_get(sth, "tree_size"));
	root = b64(json_object_get(sth, "sha256_root_hash"), &rl);
	ents = json_object_get(j, "entries");
	n = json_array_size(ents);
	assert_true(n <= cap);
	for (size_t i = 0; i < n; i++) {
		json_t *en = json_array_get(ents, i), *path = json_object_get(en, "audit_path");
		uint8_t proof[MERKLE_MAX_PROOF][32], lh[32], *leaf;
		size_t ll, np = json_array_size(path);
		out[i] = (uint64_t)json_integer_value(json_object_get(en, "leaf_index"));
		leaf = b64(json_object_get(en, "leaf_input"), &ll);
		merkle_leaf_hash(T.h, lh, leaf, ll);
		for (size_t k = 0; k < np; k++) {
			size_t pl;
			uint8_t *p = b64(json_array_get(path, k), &pl);
			assert_int_equal(pl, 32);
			memcpy(proof[k], p, 32);
			free(p);
		}
		assert_true(merkle_verify_inclusion(T.h, lh, out[i], size,
						    (const uint8_t(*)[32])proof, np, root));
		free(leaf);
	}
	nc = json_object_get(j, "next_cursor");
	if (next != NULL) {
		if (json_is_string(nc))
			snprintf(next, next_cap, "%s", json_string_value(nc));
		else
			next[0] = 0;
	}
	free(root);
	json_decref(j);
	http_resp_free(&r);
	return n;
}

static void expect(const char *query, const uint64_t *want, size_t num_want)
{
	uint64_t got[64];
	size_t n = lookup(query, got, 64, NULL, 0);
	if (n != num_want) {
		fprintf(stderr, "%s: got %zu entries:", query, n);
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, " %llu", (unsigned long long)got[i]);
		fprintf(stderr, "\n");
	}
	assert_int_equal(n, num_want);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(got[i], T.idx[want[i]]);
}

#define EXPECT(q, ...)                                                           \
	do {                                                                     \
		static const uint64_t w_[] = {__VA_ARGS__};                      \
		expect(q, w_, sizeof(w_) / sizeof(w_[0]));                       \
	} while (0)

static void test_domains(void **state)
{
	(void)state;
	/* exact: the name itself, and the S/MIME certificate of an address there */
	EXPECT("domain=example.com", 0, 6);
	EXPECT("domain=EXAMPLE.com.", 0, 6);
	EXPECT("domain=example.com&types=tls", 0);
	EXPECT("domain=example.com&types=smime", 6);
	EXPECT("domain=www.example.com", 0);
	EXPECT("domain=upper.example.com", 4);
	EXPECT("domain=xn--bcher-kva.example", 5);
	EXPECT("domain=example.co", 1, 7);
	EXPECT("domain=examples.com", 8);
	/* with subdomains: www, sub, the wildcard, upper; never examples.com */
	EXPECT("domain=example.com&subdomains=1", 0, 2, 3, 4, 6);
	EXPECT("domain=example.com&subdomains=1&types=tls,smime", 0, 2, 3, 4, 6);
	{
		uint64_t got[4];
		assert_int_equal(lookup("domain=example.com&subdomains=1&types=pgp,policy",
					got, 4, NULL, 0), 0);
	}
}

static void test_nothing(void **state)
{
	uint64_t got[4];
	(void)state;
	assert_int_equal(lookup("domain=example.org", got, 4, NULL, 0), 0);
	assert_int_equal(lookup("email=bob@example.com", got, 4, NULL, 0), 0);
	assert_int_equal(lookup("pgp=0123456789abcdef0123456789abcdef01234567", got, 4, NULL, 0), 0);
}

static void test_email(void **state)
{
	(void)state;
	EXPECT("email=alice@example.com", 6);
	EXPECT("email=Alice@EXAMPLE.COM", 6);
	EXPECT("email=alice@example.co", 7);
}

static void test_paging(void **state)
{
	uint64_t all[16], page[4];
	size_t total = 0, n;
	char cursor[32] = "", q[128];

	(void)state;
	for (;;) {
		if (cursor[0])
			snprintf(q, sizeof(q), "domain=example.com&subdomains=1&limit=2&cursor=%s", cursor);
		else
			snprintf(q, sizeof(q), "domain=example.com&subdomains=1&limit=2");
		n = lookup(q, page, 4, cursor, sizeof(cursor));
		assert_true(n <= 2);
		memcpy(all + total, page, n * sizeof(page[0]));
		total += n;
		if (!cursor[0])
			break;
	}
	assert_int_equal(total, 5);
	assert_int_equal(all[0], T.idx[0]);
	assert_int_equal(all[1], T.idx[2]);
	assert_int_equal(all[2], T.idx[3]);
	assert_int_equal(all[3], T.idx[4]);
	assert_int_equal(all[4], T.idx[6]);
}

static void test_bad_params(void **state)
{
	static const char *const bad[] = {
		"", "domain=", "domain=com", "domain=exa%20mple.com", "domain=example..com",
		"domain=example.com&email=a@example.com", "email=not-an-address",
		"email=a@b@example.com", "pgp=xyz", "pgp=0123", "domain=example.com&subdomains=2",
		"email=a@example.com&subdomains=1", "domain=example.com&types=bogus",
		"domain=example.com&types=", "domain=example.com&limit=0",
		"domain=example.com&limit=101", "domain=example.com&cursor=x",
		"domain=b%C3%BCcher.example",
		/* a public suffix has no under: key (the map stops at registrable
		 * domains): subdomains of it are refused */
		"domain=co.uk&subdomains=1", "domain=github.io&subdomains=1",
	};
	char longname[400], q[512];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct http_resp r;
		snprintf(q, sizeof(q), "/mn/v1/lookup?%s", bad[i]);
		assert_int_equal(http_do(T.logd.port, "GET", q, NULL, NULL, 0, &r), 0);
		if (r.status != 400)
			fprintf(stderr, "%s -> %d\n", bad[i], r.status);
		assert_int_equal(r.status, 400);
		assert_non_null(strstr((char *)r.body, "error_message"));
		http_resp_free(&r);
	}
	memset(longname, 'a', sizeof(longname));
	memcpy(longname + sizeof(longname) - 5, ".com", 5);
	snprintf(q, sizeof(q), "/mn/v1/lookup?domain=%s", longname);
	{
		struct http_resp r;
		assert_int_equal(http_do(T.logd.port, "GET", q, NULL, NULL, 0, &r), 0);
		assert_int_equal(r.status, 400);
		http_resp_free(&r);
	}
}

static json_t *get_json(const char *target, int want)
{
	struct http_resp r;
	json_error_t e;
	json_t *j;

	assert_int_equal(http_do(T.logd.port, "GET", target, NULL, NULL, 0, &r), 0);
	if (r.status != want)
		fprintf(stderr, "%s -> %d %s\n", target, r.status, (char *)r.body);
	assert_int_equal(r.status, want);
	j = json_loadb((char *)r.body, r.body_len, 0, &e);
	assert_non_null(j);
	http_resp_free(&r);
	return j;
}

static void test_resolve(void **state)
{
	json_t *j, *sm, *en;
	static const char *const bad[] = {
		"/mn/v1/resolve", "/mn/v1/resolve?email=alice@example.com&domain=example.com",
		"/mn/v1/resolve?domain=example.com", "/mn/v1/resolve?domain=example.com&protocol=gopher",
		"/mn/v1/resolve?email=nope", "/mn/v1/resolve?email=a@example.com&protocol=smtp",
	};

	(void)state;
	j = get_json("/mn/v1/resolve?email=Alice@Example.com", 200);
	sm = json_object_get(j, "smime");
	assert_int_equal(json_array_size(sm), 1);
	en = json_array_get(sm, 0);
	assert_int_equal(json_integer_value(json_object_get(en, "leaf_index")), T.idx[6]);
	assert_true(json_array_size(json_object_get(en, "audit_path")) > 0);
	assert_int_equal(json_array_size(json_object_get(j, "pgp")), 0);
	assert_true(json_is_null(json_object_get(j, "smtp_policy")));
	assert_true(json_is_true(json_object_get(json_object_get(j, "advice"), "smime")));
	assert_true(json_is_false(json_object_get(json_object_get(j, "advice"), "pgp")));
	json_decref(j);
	/* nobody at example.co has an S/MIME certificate for bob */
	j = get_json("/mn/v1/resolve?email=bob@example.co", 200);
	assert_int_equal(json_array_size(json_object_get(j, "smime")), 0);
	json_decref(j);
	j = get_json("/mn/v1/resolve?domain=example.com&protocol=smtp", 200);
	assert_true(json_is_null(json_object_get(j, "policy")));
	assert_true(json_is_null(json_object_get(j, "advice")));
	json_decref(j);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		json_decref(get_json(bad[i], 400));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_domains),   cmocka_unit_test(test_nothing),
		cmocka_unit_test(test_email),     cmocka_unit_test(test_paging),
		cmocka_unit_test(test_bad_params), cmocka_unit_test(test_resolve),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
