/* test_witness_mirror.c: a mirror (logd --mirror, logd/mirror.c) of a
 * witnessed log serves the origin's checkpoint byte for byte, its witnesses'
 * cosignatures included, and get-sth of the same tree head; so a client with
 * the witness policy (`mnctl sth --witness-policy`) accepts the mirror's
 * answers as it accepts the origin's.
 *
 * Origin: logd with two `mnctl witness serve` witnesses (tests/lib/witproc.h),
 * quorum 2 of 2, wait mode. Mirror of it. After each batch of entries, once
 * the origin's checkpoint covers its get-sth and the mirror serves the same
 * checkpoint bytes: the checkpoint meets the policy (tpolicy_check: the log's
 * Ed25519 line and both cosignatures verify), the mirror's get-sth is the
 * checkpoint's tree head, and mnctl with the policy against the mirror exits
 * 0; with a policy that also requires a third witness that never saw the log,
 * it exits 6 (the quorum is checked, not assumed). */
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
#include "entry/note.h"
#include "entry/tpolicy.h"
#include "tests/lib/ctclient.h"
#include "tests/lib/mirrorrun.h"
#include "tests/lib/proc.h"
#include "tests/lib/tlogcheck.h"
#include "tests/lib/witlog.h"
#include "tests/lib/witproc.h"

#define ORIGIN "mirror.witness.test/log"
#define WAIT_MS 60000

static struct http_resp get(uint16_t port, const char *path)
{
	struct http_resp r;

	assert_int_equal(http_do(port, "GET", path, NULL, NULL, 0, &r), 0);
	return r;
}

/* wait_same_cp: polls until the origin's checkpoint covers its get-sth of
 * |size| or more and the mirror serves the same bytes. */
static void wait_same_cp(uint16_t origin, uint16_t mirror, uint64_t size,
			 const struct tpolicy *pol)
{
	uint64_t end = witlog_ms() + WAIT_MS;

	for (;;) {
		struct http_resp a = get(origin, "/checkpoint"), b = get(mirror, "/checkpoint");
		struct witlog_cp c = {0};
		int same = a.status == 200 && b.status == 200 && a.body_len == b.body_len &&
			   memcmp(a.body, b.body, a.body_len) == 0;
		http_resp_free(&a);
		http_resp_free(&b);
		if (same) {
			assert_int_equal(witlog_checkpoint(mirror, "", pol, &c), 0);
			if (c.size >= size) {
				assert_int_equal(c.check, 0);
				assert_int_equal(c.cosigned, 2);
				return;
			}
		}
		if (witlog_ms() > end)
			fail_msg("the mirror never served the origin's witnessed checkpoint of size "
				 "%llu", (unsigned long long)size);
		witlog_nap(50);
	}
}

/* sth_is_checkpoint: the mirror's get-sth is the tree head of its checkpoint
 * (size and root). */
static void sth_is_checkpoint(uint16_t mirror)
{
	struct http_resp a = get(mirror, "/ct/v1/get-sth"), b = get(mirror, "/checkpoint");
	struct note_checkpoint nc;
	json_error_t e;
	json_t *j;
	uint8_t *root = NULL;
	size_t root_len = 0;
	const char *r64;

	assert_int_equal(a.status, 200);
	assert_int_equal(b.status, 200);
	assert_int_equal(note_parse_checkpoint(&nc, b.body, b.body_len), 0);
	j = json_loadb((const char *)a.body, a.body_len, 0, &e);
	assert_non_null(j);
	assert_int_equal((uint64_t)json_integer_value(json_object_get(j, "tree_size")),
			 nc.tree_size);
	r64 = json_string_value(json_object_get(j, "sha256_root_hash"));
	assert_non_null(r64);
	assert_int_equal(mn_b64_decode(&root, &root_len, r64, strlen(r64), 64), 0);
	assert_int_equal(root_len, 32);
	assert_memory_equal(root, nc.root, 32);
	free(root);
	json_decref(j);
	http_resp_free(&a);
	http_resp_free(&b);
}

static void write_policy(const char *path, const char *vkey, struct witproc *ws, size_t n)
{
	FILE *p = fopen(path, "w");

	assert_non_null(p);
	fprintf(p, "log %s\n", vkey);
	for (size_t i = 0; i < n; i++)
		fprintf(p, "witness w%zu %s http://127.0.0.1:%u\n", i + 1, ws[i].vkey,
			(unsigned)ws[i].port);
	fprintf(p, "group g %zu", n);
	for (size_t i = 0; i < n; i++)
		fprintf(p, " w%zu", i + 1);
	fprintf(p, "\nquorum g\n");
	assert_int_equal(fclose(p), 0);
}

static void test_mirror_of_witnessed(void **state)
{
	struct witlog f;
	struct witproc w[3];
	struct logd_proc origin, mirror;
	struct tpolicy *pol = NULL;
	char policy[160], policy3[160], errf[160], merrf[160], key[160], mdata[160], perr[256];
	uint64_t size;

	(void)state;
	memset(w, 0, sizeof(w));
	assert_int_equal(witlog_init(&f, ORIGIN), 0);
	for (int i = 0; i < 3; i++) {
		char d[160], name[40];
		snprintf(d, sizeof(d), "%s/w%d", f.dir, i + 1);
		snprintf(name, sizeof(name), "w%d.mirror.test", i + 1);
		assert_int_equal(witproc_start(&w[i], d, name, f.logs, NULL), 0);
	}
	snprintf(policy, sizeof(policy), "%s/policy", f.dir);
	snprintf(policy3, sizeof(policy3), "%s/policy3", f.dir);
	write_policy(policy, f.vkey, w, 2);
	write_policy(policy3, f.vkey, w, 3); /* w3 is never asked by the log */
	assert_int_equal(tpolicy_load(&pol, policy, 0, perr, sizeof(perr)), 0);
	snprintf(errf, sizeof(errf), "%s/origin.err", f.dir);
	snprintf(merrf, sizeof(merrf), "%s/mirror.err", f.dir);
	snprintf(key, sizeof(key), "%s/origin.spki", f.dir);
	snprintf(mdata, sizeof(mdata), "%s/mirror", f.dir);
	{
		const char *args[] = {"--data", f.data, "--tls-roots", f.roots, "--origin", ORIGIN,
				      "--witness-policy", policy, NULL};
		assert_int_equal(logd_start_stderr(&origin, args, errf), 0);
	}
	assert_int_equal(witlog_add(&f, origin.port, "", "a.mirror.test", 3), 0);
	assert_int_equal(witlog_sth_size(origin.port, "", &size), 0);
	wait_same_cp(origin.port, origin.port, size, pol); /* the origin is witnessed */
	assert_int_equal(logd_write_spki(&origin, key), 0);
	assert_int_equal(mirrorrun_start(&mirror, origin.port, mdata, key, ORIGIN, merrf), 0);

	for (int round = 0; round < 3; round++) {
		if (round > 0) {
			assert_int_equal(witlog_add(&f, origin.port, "", "b.mirror.test", 2 + round), 0);
			assert_int_equal(witlog_sth_size(origin.port, "", &size), 0);
		}
		wait_same_cp(origin.port, mirror.port, size, pol);
		sth_is_checkpoint(mirror.port);
		assert_int_equal(witlog_mnctl_sth(&f, mirror.port, "", policy, "10"), 0);
		assert_int_equal(witlog_mnctl_sth(&f, mirror.port, "", policy3, "0"), 6);
	}
	/* the origin answers the same way */
	assert_int_equal(witlog_mnctl_sth(&f, origin.port, "", policy, "10"), 0);
	/* an implementation we did not write reads the cosigned checkpoint: Go's
	 * sumdb/note opens it (the log's Ed25519 line verified among the
	 * witnesses' cosignature lines, which it must skip as unknown keys) and
	 * sumdb/tlog proves the tiles against it (tests/tilecheck) */
	{
		struct tlogcheck_result tr;
		assert_int_equal(tlogcheck_run(origin.port, &tr), 0);
		assert_int_equal(tr.size, size);
	}

	assert_int_equal(logd_stop(&mirror, SIGTERM), 0);
	assert_int_equal(logd_stop(&origin, SIGTERM), 0);
	for (int i = 0; i < 3; i++)
		witproc_stop(&w[i], SIGTERM);
	tpolicy_free(pol);
	witlog_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mirror_of_witnessed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
