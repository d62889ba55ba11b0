/* test_witness_reload.c: SIGHUP reloads a log's witness_policy
 * (logd/reload.c, logd/cosign.h cosign_prepare/cosign_commit), with real
 * witnesses, `mnctl witness serve` processes (tests/lib/witproc.h). Every
 * checkpoint read is checked with tpolicy_check against the policy file it
 * should meet (entry/tpolicy.c, entry/cosig.c: checked against openssl in
 * tests/entry/test_cosig.c).
 *
 * Policy A: witnesses a1, a2, quorum 2 of 2, wait mode. The log is witnessed;
 * a1 is killed, new entries are added: a2 cosigns them, a1 fails (connect),
 * and the served checkpoint stays where it was. Policy B (a2's witness, now
 * named b2, and a third one started by the test, b3, 2 of 2) + SIGHUP: with
 * no new entry, the checkpoint reaches get-sth's size and meets B (not A: a1
 * is gone), /mn/v1/info lists b2 and b3, b2's cosignature counter goes on
 * from a2's (same key: what the collector learned carries over), a1 has no
 * samples any more (not asked). Then a policy that does not parse, and one
 * whose witness lacks a URL, each + SIGHUP: the reload fails (logged with
 * FILE:LINE, mn_reloads_total{result="failed"}, mn_reload_last_successful 0),
 * B stays in use (new entries are witnessed by b2 and b3), a good reload
 * sets mn_reload_last_successful back to 1. No sleeps: conditions are polled
 * with deadlines. */
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

#include "entry/tpolicy.h"
#include "tests/lib/ctclient.h"
#include "tests/lib/files.h"
#include "tests/lib/proc.h"
#include "tests/lib/witlog.h"
#include "tests/lib/witproc.h"

#define ORIGIN "reload.witness.test/log"
#define WAIT_MS 30000

/* write_policy: "log VKEY", a witness line per |ws| named |names|, a group
 * "g" of |k| of them, "quorum g". */
static void write_policy(const char *path, const char *vkey, const char *const *names,
			 struct witproc *const *ws, size_t n, unsigned k)
{
	FILE *p = fopen(path, "w");

	assert_non_null(p);
	fprintf(p, "log %s\n", vkey);
	for (size_t i = 0; i < n; i++)
		fprintf(p, "witness %s %s http://127.0.0.1:%u\n", names[i], ws[i]->vkey,
			(unsigned)ws[i]->port);
	fprintf(p, "group g %u", k);
	for (size_t i = 0; i < n; i++)
		fprintf(p, " %s", names[i]);
	fprintf(p, "\nquorum g\n");
	assert_int_equal(fclose(p), 0);
}

static void write_text(const char *path, const char *text)
{
	FILE *p = fopen(path, "w");

	assert_non_null(p);
	fputs(text, p);
	assert_int_equal(fclose(p), 0);
}

static struct tpolicy *load_policy(const char *path)
{
	struct tpolicy *p = NULL;
	char err[512];

	if (tpolicy_load(&p, path, 0, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return p;
}

/* wait_cp: polls until the checkpoint is of |size| or more and meets |pol|
 * with |cosigned| cosignatures; fails after WAIT_MS. */
static struct witlog_cp wait_cp(uint16_t port, const struct tpolicy *pol, uint64_t size,
				size_t cosigned)
{
	uint64_t end = witlog_ms() + WAIT_MS;
	struct witlog_cp c;

	for (;;) {
		assert_int_equal(witlog_checkpoint(port, "/wl", pol, &c), 0);
		if (c.status == 200 && c.size >= size && c.check == 0 && c.cosigned == cosigned)
			return c;
		if (witlog_ms() > end)
			fail_msg("checkpoint never reached size %llu meeting the policy (status %d, "
				 "size %llu, check %d, cosigned %zu)", (unsigned long long)size,
				 c.status, (unsigned long long)c.size, c.check, c.cosigned);
		witlog_nap(50);
	}
}

/* wait_metric: polls until the sample |s| is at least |min|. */
static double wait_metric(uint16_t port, const char *s, double min)
{
	uint64_t end = witlog_ms() + WAIT_MS;
	double v;

	while ((v = witlog_metric(port, s)) < min) {
		if (witlog_ms() > end)
			fail_msg("%s stayed at %g, below %g", s, v, min);
		witlog_nap(50);
	}
	return v;
}

static uint64_t sth_size(uint16_t port)
{
	uint64_t s = 0;

	assert_int_equal(witlog_sth_size(port, "/wl", &s), 0);
	return s;
}

/* info_witnesses: /mn/v1/info's witness list as "name=vkey;..." */
static void info_witnesses(uint16_t port, char *out, size_t cap, char *quorum, size_t qcap)
{
	struct http_resp r;
	json_error_t e;
	json_t *j, *w, *a;
	size_t off = 0;

	assert_int_equal(http_do(port, "GET", "/wl/mn/v1/info", NULL, NULL, 0, &r), 0);
	assert_int_equal(r.status, 200);
	j = json_loadb((const char *)r.body, r.body_len, 0, &e);
	http_resp_free(&r);
	assert_non_null(j);
	w = json_object_get(j, "witness");
	assert_non_null(w);
	snprintf(quorum, qcap, "%s", json_string_value(json_object_get(w, "quorum")));
	a = json_object_get(w, "witnesses");
	out[0] = '\0';
	for (size_t i = 0; i < json_array_size(a); i++)
		off += (size_t)snprintf(out + off, cap - off, "%s=%s;",
					json_string_value(json_object_get(json_array_get(a, i), "name")),
					json_string_value(json_object_get(json_array_get(a, i), "vkey")));
	json_decref(j);
}

static void wait_info(uint16_t port, const char *want)
{
	uint64_t end = witlog_ms() + WAIT_MS;
	char got[4096], q[64];

	for (;;) {
		info_witnesses(port, got, sizeof(got), q, sizeof(q));
		if (strcmp(got, want) == 0 && strcmp(q, "g") == 0)
			return;
		if (witlog_ms() > end)
			fail_msg("/mn/v1/info lists %s (quorum %s), not %s", got, q, want);
		witlog_nap(50);
	}
}

/* wait_log: polls until logd's stderr holds |a| and |b| on one line. */
static void wait_log(const char *path, const char *a, const char *b)
{
	uint64_t end = witlog_ms() + WAIT_MS;

	for (;;) {
		char *t = tf_read(path, NULL), *l = t;
		int found = 0;
		while (l != NULL && *l != '\0' && !found) {
			char *nl = strchr(l, '\n');
			if (nl != NULL)
				*nl = '\0';
			found = strstr(l, a) != NULL && strstr(l, b) != NULL;
			l = nl != NULL ? nl + 1 : NULL;
		}
		free(t);
		if (found)
			return;
		if (witlog_ms() > end)
			fail_msg("logd never logged a line with \"%s\" and \"%s\"", a, b);
		witlog_nap(50);
	}
}

static void test_reload_policy(void **state)
{
	struct witlog f;
	struct witproc w[3];
	struct logd_proc logd;
	struct tpolicy *pa, *pb;
	struct witlog_cp c;
	char policy[160], cfg[160], errf[160], want[4096], text[2048], at[200];
	uint64_t s1, s2, s3;
	double a2_cosigs, a1_fails, b2_cosigs;

	(void)state;
	memset(w, 0, sizeof(w));
	assert_int_equal(witlog_init(&f, ORIGIN), 0);
	for (int i = 0; i < 2; i++) {
		char d[160], name[40];
		snprintf(d, sizeof(d), "%s/w%d", f.dir, i + 1);
		snprintf(name, sizeof(name), "w%d.reload.test", i + 1);
		assert_int_equal(witproc_start(&w[i], d, name, f.logs, NULL), 0);
	}
	snprintf(policy, sizeof(policy), "%s/policy", f.dir);
	{
		const char *names[] = {"a1", "a2"};
		struct witproc *ws[] = {&w[0], &w[1]};
		write_policy(policy, f.vkey, names, ws, 2, 2);
	}
	pa = load_policy(policy);
	snprintf(cfg, sizeof(cfg), "%s/logd.yaml", f.dir);
	snprintf(errf, sizeof(errf), "%s/logd.err", f.dir);
	{
		FILE *y = fopen(cfg, "w");
		assert_non_null(y);
		fprintf(y, "listen: 127.0.0.1:0\nlogs:\n  - name: wl\n    data: %s\n"
			"    classes: [tls]\n    roots: {tls: %s}\n    origin: %s\n"
			"    witness_policy: %s\n    witness_timeout: 1s\n", f.data, f.roots, ORIGIN,
			policy);
		assert_int_equal(fclose(y), 0);
		const char *args[] = {"--config", cfg, NULL};
		assert_int_equal(logd_start_stderr(&logd, args, errf), 0);
	}

	/* witnessed by a1 and a2 */
	assert_int_equal(witlog_add(&f, logd.port, "/wl", "a.reload.test", 2), 0);
	s1 = sth_size(logd.port);
	c = wait_cp(logd.port, pa, s1, 2);
	assert_int_equal(c.size, s1);

	/* a1 killed: a2 cosigns the new entries, a1 fails, the checkpoint stays */
	a2_cosigs = wait_metric(logd.port, "mn_witness_cosignatures_total{log=\"wl\",witness=\"a2\"}",
				1);
	a1_fails = witlog_metric(logd.port, "mn_witness_failures_total{log=\"wl\",witness=\"a1\","
				 "reason=\"connect\"}");
	assert_true(a1_fails >= 0);
	assert_int_equal(witproc_stop(&w[0], SIGKILL), 128 + SIGKILL);
	assert_int_equal(witlog_add(&f, logd.port, "/wl", "b.reload.test", 2), 0);
	s2 = sth_size(logd.port);
	assert_true(s2 > s1);
	wait_metric(logd.port, "mn_witness_cosignatures_total{log=\"wl\",witness=\"a2\"}",
		    a2_cosigs + 1);
	wait_metric(logd.port, "mn_witness_failures_total{log=\"wl\",witness=\"a1\","
		    "reason=\"connect\"}", a1_fails + 1);
	assert_int_equal(witlog_checkpoint(logd.port, "/wl", pa, &c), 0);
	assert_int_equal(c.status, 200);
	assert_int_equal(c.size, s1);
	assert_int_equal(c.check, 0);
	a2_cosigs = witlog_metric(logd.port, "mn_witness_cosignatures_total{log=\"wl\","
				  "witness=\"a2\"}");

	/* policy B: a2's witness (as b2) and a third one; SIGHUP */
	{
		char d[160];
		snprintf(d, sizeof(d), "%s/w3", f.dir);
		assert_int_equal(witproc_start(&w[2], d, "w3.reload.test", f.logs, NULL), 0);
		const char *names[] = {"b2", "b3"};
		struct witproc *ws[] = {&w[1], &w[2]};
		write_policy(policy, f.vkey, names, ws, 2, 2);
	}
	pb = load_policy(policy);
	assert_int_equal(kill(logd.pid, SIGHUP), 0);
	c = wait_cp(logd.port, pb, s2, 2); /* no new entry needed */
	assert_int_equal(c.size, s2);
	{
		struct witlog_cp ca;
		assert_int_equal(witlog_checkpoint(logd.port, "/wl", pa, &ca), 0);
		assert_int_not_equal(ca.check, 0); /* a1 did not cosign it */
	}
	snprintf(want, sizeof(want), "b2=%s;b3=%s;", w[1].vkey, w[2].vkey);
	wait_info(logd.port, want);
	/* same key: the counters of a2 go on as b2's; a1 is gone */
	b2_cosigs = witlog_metric(logd.port, "mn_witness_cosignatures_total{log=\"wl\","
				  "witness=\"b2\"}");
	assert_true(b2_cosigs >= a2_cosigs + 1);
	assert_true(witlog_metric(logd.port, "mn_witness_cosignatures_total{log=\"wl\","
				  "witness=\"b3\"}") >= 1);
	assert_true(witlog_metric(logd.port, "mn_witness_failures_total{log=\"wl\","
				  "witness=\"a1\",reason=\"connect\"}") < 0);
	assert_true(witlog_metric(logd.port, "mn_reloads_total{log=\"wl\",result=\"ok\"}") == 1);
	assert_true(witlog_metric(logd.port, "mn_reload_last_successful{log=\"wl\"}") == 1);
	wait_log(errf, "new witness policy in use", "witnesses=2");

	/* a policy that does not parse: kept B */
	snprintf(text, sizeof(text), "log %s\nwitness x1 not-a-vkey http://127.0.0.1:1\n"
		 "quorum x1\n", f.vkey);
	write_text(policy, text);
	assert_int_equal(kill(logd.pid, SIGHUP), 0);
	wait_metric(logd.port, "mn_reloads_total{log=\"wl\",result=\"failed\"}", 1);
	assert_true(witlog_metric(logd.port, "mn_reload_last_successful{log=\"wl\"}") == 0);
	snprintf(at, sizeof(at), "file=%s:2 ", policy);
	wait_log(errf, "reload_failed", at);
	assert_int_equal(witlog_add(&f, logd.port, "/wl", "c.reload.test", 2), 0);
	s3 = sth_size(logd.port);
	c = wait_cp(logd.port, pb, s3, 2);
	wait_info(logd.port, want);

	/* a witness without a URL: kept B */
	snprintf(text, sizeof(text), "log %s\n# no URL\nwitness c2 %s\nquorum c2\n", f.vkey,
		 w[1].vkey);
	write_text(policy, text);
	assert_int_equal(kill(logd.pid, SIGHUP), 0);
	wait_metric(logd.port, "mn_reloads_total{log=\"wl\",result=\"failed\"}", 2);
	snprintf(at, sizeof(at), "file=%s:3 ", policy);
	wait_log(errf, at, "witness c2 has no http(s) URL");
	assert_int_equal(witlog_add(&f, logd.port, "/wl", "d.reload.test", 1), 0);
	s3 = sth_size(logd.port);
	c = wait_cp(logd.port, pb, s3, 2);
	wait_info(logd.port, want);

	/* B again: a good reload */
	{
		const char *names[] = {"b2", "b3"};
		struct witproc *ws[] = {&w[1], &w[2]};
		write_policy(policy, f.vkey, names, ws, 2, 2);
	}
	assert_int_equal(kill(logd.pid, SIGHUP), 0);
	wait_metric(logd.port, "mn_reloads_total{log=\"wl\",result=\"ok\"}", 2);
	assert_true(witlog_metric(logd.port, "mn_reload_last_successful{log=\"wl\"}") == 1);

	assert_int_equal(logd_stop(&logd, SIGTERM), 0);
	for (int i = 0; i < 3; i++)
		witproc_stop(&w[i], SIGTERM);
	tpolicy_free(pa);
	tpolicy_free(pb);
	witlog_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reload_policy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
