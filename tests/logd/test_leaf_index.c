/* test_leaf_index.c: a log's SCT format (issue 14, c2sp.org/static-ct-api
 * "SCT Extension") is fixed in its storage when it is created. A new log's
 * leaves, map-root leaves included, carry leaf_index i at index i, and its
 * SCTs say so; a log created with --no-leaf-index (the RFC 6962 format) has
 * no extensions before or after restarts, with or without the flag; and the
 * flag on a leaf_index log is ignored with a warning. The SCTs verify over
 * the leaves get-entries returns, whatever the format. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/b64.h"
#include "common/bytes.h"
#include "entry/ct.h"
#include "tests/lib/ctclient.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

static struct {
	char dir[64], roots[128], errlog[128];
	struct pki_cert *root, *ca;
	struct ct_verifier *v;
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
	(void)state;
	strcpy(T.dir, "/tmp/mn-leafidx-XXXXXX");
	if (mkdtemp(T.dir) == NULL)
		return -1;
	snprintf(T.roots, sizeof(T.roots), "%s/roots.pem", T.dir);
	snprintf(T.errlog, sizeof(T.errlog), "%s/stderr.log", T.dir);
	T.root = pki_root("leafidx root", 0);
	T.ca = pki_issue(T.root, "leafidx ca", NULL, 0, PKI_CA, pki_now() - 86400,
			 pki_now() + 86400 * 365);
	if (T.root == NULL || T.ca == NULL)
		return -1;
	{
		const struct pki_cert *r[1] = {T.root};
		if (pki_write_pem(T.roots, r, 1) != 0)
			return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	pki_free(T.ca);
	pki_free(T.root);
	rm_rf(T.dir);
	return 0;
}

/* start logd on the data directory |name| (the map on unless |no_map|), with
 * --no-leaf-index if |legacy|; its stderr goes to T.errlog (truncated). */
static void start(struct logd_proc *p, const char *name, int no_map, int legacy)
{
	char data[128];
	const char *args[8];
	size_t n = 0;
	size_t spki_len;

	snprintf(data, sizeof(data), "%s/%s", T.dir, name);
	args[n++] = "--data";
	args[n++] = data;
	args[n++] = "--tls-roots";
	args[n++] = T.roots;
	if (no_map)
		args[n++] = "--no-map";
	if (legacy)
		args[n++] = "--no-leaf-index";
	args[n] = NULL;
	unlink(T.errlog);
	assert_int_equal(logd_start_stderr(p, args, T.errlog), 0);
	spki_len = p->spki_len;
	ct_verifier_free(T.v);
	T.v = ct_verifier_new(p->spki, spki_len);
	assert_non_null(T.v);
}

static json_t *get_json(const struct logd_proc *p, const char *target)
{
	struct http_resp r;
	json_error_t e;
	json_t *j;

	assert_int_equal(http_do(p->port, "GET", target, NULL, NULL, 0, &r), 0);
	assert_int_equal(r.status, 200);
	j = json_loadb((const char *)r.body, r.body_len, 0, &e);
	assert_non_null(j);
	http_resp_free(&r);
	return j;
}

static uint64_t tree_size(const struct logd_proc *p)
{
	json_t *j = get_json(p, "/ct/v1/get-sth");
	uint64_t n = (uint64_t)json_integer_value(json_object_get(j, "tree_size"));

	json_decref(j);
	return n;
}

/* the leaf at |index|, from get-entries (malloc'd) */
static uint8_t *get_leaf(const struct logd_proc *p, uint64_t index, size_t *out_len)
{
	char target[128];
	json_t *j, *li;
	uint8_t *leaf;

	snprintf(target, sizeof(target), "/ct/v1/get-entries?start=%llu&end=%llu",
		 (unsigned long long)index, (unsigned long long)index);
	j = get_json(p, target);
	li = json_object_get(json_array_get(json_object_get(j, "entries"), 0), "leaf_input");
	assert_true(json_is_string(li));
	assert_int_equal(mn_b64_decode(&leaf, out_len, json_string_value(li),
				       json_string_length(li), 1 << 24), 0);
	json_decref(j);
	return leaf;
}

/* add submits a new certificate and checks its SCT over the leaf that
 * get-entries returns at the index the tree says it has: with leaf_index
 * (|want_index|) or without. Returns the answer's SCT fields. */
static struct ctc_sct add(const struct logd_proc *p, int want_index)
{
	const char *dns[1] = {"leafidx.example"};
	struct pki_cert *leaf = pki_issue(T.ca, "leafidx.example", dns, 1, 0, pki_now() - 60,
					  pki_now() + 86400);
	const struct pki_cert *chain[2] = {leaf, T.ca};
	char *body = ctc_chain_json(chain, 2);
	struct http_resp r;
	struct ctc_sct sct;
	uint8_t *stored, want_hash[32];
	size_t stored_len;
	struct ct_entry e;
	uint64_t idx;

	assert_non_null(leaf);
	assert_int_equal(http_do(p->port, "POST", "/ct/v1/add-chain", NULL, body, strlen(body),
				 &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(ctc_parse_sct(T.v, r.body, r.body_len, leaf->der, leaf->der_len, &sct), 0);
	assert_int_equal(sct.has_index, want_index);
	/* the entry is the tree's last but the map root (if any) after it */
	{
		struct kconn kc;
		struct ctc_sth sth;
		assert_int_equal(kc_open(&kc, p->port, 10000), 0);
		assert_int_equal(ctc_get_sth(&kc, T.v, &sth), 0);
		assert_int_equal(ctc_x509_leaf_hash(leaf->der, leaf->der_len, &sct, want_hash), 0);
		assert_int_equal(ctc_check_inclusion(&kc, want_hash, &sth, &idx), 0);
		kc_close(&kc);
	}
	if (want_index)
		assert_int_equal(sct.index, idx);
	stored = get_leaf(p, idx, &stored_len);
	assert_true(ct_parse_leaf(&e, stored, stored_len));
	assert_int_equal(e.timestamp, sct.ts);
	assert_int_equal(e.body_len, leaf->der_len);
	assert_memory_equal(e.body, leaf->der, leaf->der_len);
	assert_int_equal(e.extensions_len, want_index ? CT_LEAF_INDEX_EXT_LEN : 0);
	assert_true(ct_extensions_match_index(e.extensions, e.extensions_len, idx));
	/* a resubmission: the same SCT (timestamp, leaf_index), verifying */
	{
		struct http_resp r2;
		struct ctc_sct again;
		assert_int_equal(http_do(p->port, "POST", "/ct/v1/add-chain", NULL, body,
					 strlen(body), &r2), 0);
		assert_int_equal(r2.status, 200);
		assert_int_equal(ctc_parse_sct(T.v, r2.body, r2.body_len, leaf->der,
					       leaf->der_len, &again), 0);
		assert_true(ctc_sct_same(&again, &sct));
		/* the RFC 6962 format stores the SCT: byte for byte the same */
		if (!want_index) {
			assert_int_equal(r2.body_len, r.body_len);
			assert_memory_equal(r2.body, r.body, r.body_len);
		}
		http_resp_free(&r2);
	}
	free(stored);
	http_resp_free(&r);
	free(body);
	pki_free(leaf);
	return sct;
}

/* every_leaf_carries_its_index: leaves [0, size) of a leaf_index log each
 * carry exactly leaf_index i (map-root leaves too), or none has any. */
static void every_leaf(const struct logd_proc *p, int want_index)
{
	uint64_t size = tree_size(p);

	for (uint64_t i = 0; i < size; i++) {
		size_t len;
		uint8_t *leaf = get_leaf(p, i, &len);
		struct ct_entry e;
		assert_true(ct_parse_leaf(&e, leaf, len));
		assert_int_equal(e.extensions_len, want_index ? CT_LEAF_INDEX_EXT_LEN : 0);
		assert_true(ct_extensions_match_index(e.extensions, e.extensions_len, i));
		free(leaf);
	}
}

/* A new log (map on): leaf_index from its first leaf, the empty map's root,
 * through restarts; --no-leaf-index on it is ignored, with a warning. */
static void test_new_log(void **state)
{
	struct logd_proc p;

	(void)state;
	start(&p, "new", 0, 0);
	assert_int_equal(tree_size(&p), 1); /* the empty map's root */
	add(&p, 1);
	add(&p, 1);
	every_leaf(&p, 1);
	assert_false(file_contains(T.errlog, "leaf_index_fixed"));
	assert_int_equal(logd_stop(&p, SIGTERM), 0);
	start(&p, "new", 0, 1);
	assert_true(file_contains(T.errlog, "leaf_index_fixed"));
	add(&p, 1);
	every_leaf(&p, 1);
	assert_int_equal(logd_stop(&p, SIGTERM), 0);
}

/* A log created with --no-leaf-index keeps the RFC 6962 format: no
 * extensions before or after restarts, with the flag or without it. */
static void test_old_format_kept(void **state)
{
	struct logd_proc p;

	(void)state;
	start(&p, "old", 1, 1);
	add(&p, 0);
	assert_int_equal(logd_stop(&p, SIGTERM), 0);
	start(&p, "old", 1, 0);
	add(&p, 0);
	every_leaf(&p, 0);
	assert_false(file_contains(T.errlog, "leaf_index_fixed"));
	assert_int_equal(logd_stop(&p, SIGTERM), 0);
	/* and with the map on (map-root leaves without extensions too) */
	start(&p, "old", 0, 1);
	add(&p, 0);
	every_leaf(&p, 0);
	assert_int_equal(logd_stop(&p, SIGTERM), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_log),
		cmocka_unit_test(test_old_format_kept),
	};
	int rc = cmocka_run_group_tests(tests, setup, teardown);

	ct_verifier_free(T.v);
	return rc;
}
