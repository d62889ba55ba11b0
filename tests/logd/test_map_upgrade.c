/* test_map_upgrade.c: a log that ran without the map (logd --no-map, or one
 * from before the map) restarted with it: logd files the old leaves' keys
 * before it takes a submission, commits the caught-up map with a map-root
 * leaf of its own, and the very next lookup proves its lists complete
 * (tests/lib/mapcheck.h); new submissions then go on with a map-root leaf per
 * batch. */
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

#include "tests/lib/ctclient.h"
#include "tests/lib/mapcheck.h"
#include "tests/lib/mnfix.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

static struct {
	char dir[64], data[128], roots[128];
	struct pki_cert *root, *ca;
} T;

static void add(struct logd_proc *p, const char *name)
{
	int64_t now = pki_now();
	const char *dns[1] = {name};
	struct pki_cert *leaf = pki_issue(T.ca, name, dns, 1, 0, now - 60, now + 86400);
	const struct pki_cert *chain[2] = {leaf, T.ca};
	char *body = ctc_chain_json(chain, 2);
	struct http_resp r;

	assert_non_null(leaf);
	assert_int_equal(http_do(p->port, "POST", "/ct/v1/add-chain", NULL, body, strlen(body), &r),
			 0);
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	free(body);
	pki_free(leaf);
}

static json_t *get(struct logd_proc *p, const char *target)
{
	struct http_resp r;
	json_t *j;

	assert_int_equal(http_do(p->port, "GET", target, NULL, NULL, 0, &r), 0);
	assert_int_equal(r.status, 200);
	j = json_loadb((char *)r.body, r.body_len, 0, NULL);
	assert_non_null(j);
	http_resp_free(&r);
	return j;
}

static uint64_t tree_size(struct logd_proc *p)
{
	json_t *j = get(p, "/ct/v1/get-sth");
	uint64_t n = (uint64_t)json_integer_value(json_object_get(j, "tree_size"));
	json_decref(j);
	return n;
}

static void test_upgrade(void **state)
{
	struct logd_proc p;
	const char *nomap[] = {"--no-map", "--data", T.data, "--tls-roots", T.roots, NULL};
	const char *map[] = {"--data", T.data, "--tls-roots", T.roots, NULL};
	uint64_t count, items[16];
	size_t n;
	json_t *j;

	(void)state;
	assert_int_equal(logd_start(&p, nomap), 0);
	add(&p, "a.upgrade.example");
	add(&p, "b.upgrade.example");
	assert_int_equal(tree_size(&p), 2);
	/* no map: the answer has no map section */
	j = get(&p, "/mn/v1/lookup?domain=a.upgrade.example");
	assert_null(json_object_get(j, "map"));
	json_decref(j);
	assert_int_equal(logd_stop(&p, SIGTERM), 0);

	/* restarted with the map: caught up and committed before it answers */
	assert_int_equal(logd_start(&p, map), 0);
	assert_int_equal(tree_size(&p), 3);
	j = get(&p, "/mn/v1/lookup?domain=a.upgrade.example");
	assert_int_equal(mapcheck_lookup(j, "dns:a.upgrade.example", &count, items, 16, &n), 0);
	assert_int_equal(count, 1);
	assert_int_equal(n, 1);
	assert_int_equal(items[0], 0);
	json_decref(j);
	j = get(&p, "/mn/v1/lookup?domain=upgrade.example&subdomains=1");
	assert_int_equal(mapcheck_lookup(j, "under:upgrade.example", &count, items, 16, &n), 0);
	assert_int_equal(count, 2);
	json_decref(j);
	/* new submissions: the map goes on */
	add(&p, "c.upgrade.example");
	assert_int_equal(tree_size(&p), 5);
	j = get(&p, "/mn/v1/lookup?domain=upgrade.example&subdomains=1");
	assert_int_equal(mapcheck_lookup(j, "under:upgrade.example", &count, items, 16, &n), 0);
	assert_int_equal(count, 3);
	assert_int_equal(items[2], 3);
	json_decref(j);
	assert_int_equal(logd_stop(&p, SIGTERM), 0);

	/* and a restart with nothing to catch up appends nothing */
	assert_int_equal(logd_start(&p, map), 0);
	assert_int_equal(tree_size(&p), 5);
	assert_int_equal(logd_stop(&p, SIGTERM), 0);
}

static int setup(void **state)
{
	const struct pki_cert *r[1];
	int64_t now = pki_now();

	(void)state;
	strcpy(T.dir, "/tmp/mn-upgrade-XXXXXX");
	if (mkdtemp(T.dir) == NULL)
		return -1;
	T.root = pki_root("Upgrade Root", 0);
	T.ca = pki_issue(T.root, "Upgrade CA", NULL, 0, PKI_CA, now - 86400, now + 86400 * 365);
	snprintf(T.roots, sizeof(T.roots), "%s/roots.pem", T.dir);
	snprintf(T.data, sizeof(T.data), "%s/data", T.dir);
	r[0] = T.root;
	return pki_write_pem(T.roots, r, 1);
}

static int teardown(void **state)
{
	(void)state;
	pki_free(T.ca);
	pki_free(T.root);
	return mnfix_rm_rf(T.dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_upgrade),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
