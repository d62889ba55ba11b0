/* test_witness_client.c: mnctl's --witness-policy (client/witness_check.c)
 * against a real logd, with cosigned checkpoints made here: the log's own
 * Ed25519 note key (logd's DIR/note-key.pem) signs, fresh test witness keys
 * cosign (tests/lib/cosigned.h), and the proxy of tests/lib/liar.h serves the
 * result at /checkpoint while everything else passes through to logd. The
 * policy lists witnesses w0, w1, w2 with a quorum of 2; w3 cosigns too but is
 * not in the policy.
 *
 *   test_usage       the flags only where they belong; a policy without a log
 *   test_quorum      2 or 3 policy witnesses: 0, with the counts printed;
 *                    logd's own checkpoint (no cosignature): 6
 *   test_below       1 policy witness: 6; w3's cosignature does not count
 *   test_tampered    a policy witness's line altered: 3; w3's: ignored
 *   test_fork        a cosigned checkpoint of another tree signed by the
 *                    log's key: same size, other root: 3
 *   test_lookup      an answer older than the cosigned checkpoint: proven
 *                    consistent (0), or not (a cosigned fork, larger): 3
 *   test_behind      the cosigned checkpoint behind the answer and never
 *                    catching up: 6 after --witness-wait
 *   test_catch_up    the proxy switches to a newer cosigned checkpoint while
 *                    mnctl polls: 0
 *   test_resolve     resolve with and without the quorum
 *   test_monitor     monitor (get-entries and --tiles): nothing downloaded or
 *                    saved without the quorum
 *
 * The tests run in order and share one log. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "entry/note.h"
#include "tests/lib/cosigned.h"
#include "tests/lib/ctclient.h"
#include "tests/lib/liar.h"
#include "tests/lib/mnfix.h"
#include "tests/lib/mnrun.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

#define DAY 86400
#define ORIGIN "witness-test.example/log"
#define W0 (1u << 0)
#define W1 (1u << 1)
#define W2 (1u << 2)
#define W3 (1u << 3)

static struct {
	char dir[64], cfg[128], keyfile[128], policy[128], url_p[64];
	int64_t now;
	struct pki_cert *root, *ica;
	struct logd_proc logd;
	struct liar *liar;
	struct cosigned *cs;
	unsigned certs;
} T;

/* --- running mnctl ------------------------------------------------------- */

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* run_mnctl runs mnctl through the proxy with the log's key and this test's
 * --config, then |args|. */
static int run_mnctl(const char *const *args, char **out, char **err)
{
	return mnrun_mnctl_pre(T.dir, MNRUN_ARGV("--config", T.cfg, "--key", T.keyfile, "--log", T.url_p), args, out, err);
}

/* expect(rc, needle, args...): mnctl exits with |rc| and, if |needle| is not
 * NULL, says it on stdout (rc 0) or stderr. Returns stdout (free it). */
#define expect(rc, needle, ...) expect_(__LINE__, rc, needle, MNRUN_ARGV(__VA_ARGS__))
static char *expect_(int line, int rc, const char *needle, const char *const *args)
{
	char *out = NULL, *err = NULL;
	int got = run_mnctl(args, &out, &err);

	if (!mnrun_expect(line, got, out, err, rc, needle, MNRUN_STDOUT_OK)) {
		free(out);
		free(err);
		fail();
	}
	if (rc != 0) /* one line naming what failed */
		fprintf(stderr, "    refused as it should: %s", err);
	free(err);
	return out;
}

#define expect_free(rc, needle, ...) free(expect_(__LINE__, rc, needle, MNRUN_ARGV(__VA_ARGS__)))

/* --- the log and its checkpoints ------------------------------------------ */

static void add_cert(const char *name)
{
	const char *dns[1] = {name};
	struct pki_cert *c = pki_issue(T.ica, name, dns, 1, 0, T.now - DAY - T.certs,
				       T.now + 90 * DAY);
	const struct pki_cert *chain[2] = {c, T.ica};
	char *body;
	struct http_resp r;

	assert_non_null(c);
	body = ctc_chain_json(chain, 2);
	assert_non_null(body);
	assert_int_equal(http_do(T.logd.port, "POST", "/ct/v1/add-chain", NULL, body, strlen(body),
				 &r), 0);
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	free(body);
	pki_free(c);
	T.certs++;
}

/* checkpoint_now: logd's current checkpoint (its own two signature lines). */
static char *checkpoint_now(size_t *len, uint64_t *size, uint8_t root[32])
{
	struct http_resp r;
	struct note_checkpoint cp;
	char *note;

	assert_int_equal(http_do(T.logd.port, "GET", "/checkpoint", NULL, NULL, 0, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(note_parse_checkpoint(&cp, r.body, r.body_len), 0);
	if (size != NULL)
		*size = cp.tree_size;
	if (root != NULL)
		memcpy(root, cp.root, 32);
	note = (char *)r.body;
	*len = r.body_len;
	return note;
}

/* serve_note makes the proxy answer /checkpoint with |note| (freed). */
static void serve_note(char *note, size_t len)
{
	assert_non_null(note);
	assert_int_equal(liar_checkpoint(T.liar, note, len), 0);
	free(note);
}

/* serve: logd's current checkpoint cosigned by the witnesses of |mask|. */
static void serve(unsigned mask)
{
	size_t len, n;
	char *cp = checkpoint_now(&len, NULL, NULL), *note;

	note = cosigned_add(T.cs, cp, len, mask, &n);
	serve_note(note, n);
	free(cp);
}

static uint64_t json_u64(const char *text, const char *key)
{
	json_t *j = json_loads(text, 0, NULL);
	json_int_t v;

	assert_non_null(j);
	assert_true(json_is_integer(json_object_get(j, key)));
	v = json_integer_value(json_object_get(j, key));
	json_decref(j);
	return (uint64_t)v;
}

/* --- setup ---------------------------------------------------------------- */

static int setup(void **state)
{
	char roots[128], data[128], notekey[160], bad[160];
	FILE *f;

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	T.now = pki_now();
	snprintf(T.dir, sizeof(T.dir), "/tmp/mn-wcli-XXXXXX");
	if (mkdtemp(T.dir) == NULL)
		return -1;
	snprintf(T.cfg, sizeof(T.cfg), "%s/config", T.dir);
	snprintf(T.keyfile, sizeof(T.keyfile), "%s/logkey.der", T.dir);
	snprintf(T.policy, sizeof(T.policy), "%s/policy.txt", T.dir);
	snprintf(roots, sizeof(roots), "%s/roots.pem", T.dir);
	snprintf(data, sizeof(data), "%s/data", T.dir);
	snprintf(notekey, sizeof(notekey), "%s/note-key.pem", data);
	T.root = pki_root("Witness Client Root", 0);
	if (T.root == NULL)
		return -1;
	T.ica = pki_issue(T.root, "Witness Client CA", NULL, 0, PKI_CA, T.now - 2 * DAY,
			  T.now + 365 * DAY);
	{
		const struct pki_cert *r[1] = {T.root};
		if (T.ica == NULL || pki_write_pem(roots, r, 1) != 0)
			return -1;
	}
	{
		const char *a[] = {"--data", data, "--tls-roots", roots, "--origin", ORIGIN, NULL};
		if (logd_start(&T.logd, a) != 0)
			return -1;
	}
	if (logd_write_spki(&T.logd, T.keyfile) != 0)
		return -1;
	T.liar = liar_start(T.logd.port);
	if (T.liar == NULL)
		return -1;
	snprintf(T.url_p, sizeof(T.url_p), "http://127.0.0.1:%u", liar_port(T.liar));
	T.cs = cosigned_new(notekey, ORIGIN, 4);
	if (T.cs == NULL || cosigned_write_policy(T.cs, T.policy, 3, 2) != 0)
		return -1;
	/* the vkey logd prints is the one the test signs with */
	{
		json_t *line = json_loads(T.logd.log_line, 0, NULL);
		const char *vk = json_string_value(json_object_get(line, "note_vkey"));
		int same = vk != NULL && strcmp(vk, cosigned_log_vkey(T.cs)) == 0;
		json_decref(line);
		if (!same)
			return -1;
	}
	snprintf(bad, sizeof(bad), "%s/nolog.txt", T.dir);
	f = fopen(bad, "w");
	if (f == NULL)
		return -1;
	fprintf(f, "witness w0 %s\nquorum w0\n", cosigned_witness_vkey(T.cs, 0));
	fclose(f);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	liar_stop(T.liar);
	logd_stop(&T.logd, SIGTERM);
	cosigned_free(T.cs);
	pki_free(T.root);
	pki_free(T.ica);
	if (getenv("MN_KEEP") == NULL)
		mnfix_rm_rf(T.dir);
	return 0;
}

/* --- tests ---------------------------------------------------------------- */

static void test_usage(void **state)
{
	char nolog[160];

	(void)state;
	snprintf(nolog, sizeof(nolog), "%s/nolog.txt", T.dir);
	add_cert("w.example");
	add_cert("www.w.example");
	serve(W0 | W1);
	expect_free(1, "are for sth, lookup", "--witness-policy", T.policy, "get-entries", "0", "0");
	expect_free(1, "needs --witness-policy", "--witness-wait", "1", "sth");
	expect_free(1, "--witness-wait wants", "--witness-policy", T.policy, "--witness-wait",
		    "99999", "sth");
	expect_free(5, "no `log` line", "--witness-policy", nolog, "sth");
	expect_free(5, "--witness-policy", "--witness-policy", "/nonexistent/policy", "sth");
	/* without the flag nothing changes */
	expect_free(0, "signature ok", "sth");
}

static void test_quorum(void **state)
{
	uint64_t size;
	size_t len;
	char *out, *cp = checkpoint_now(&len, &size, NULL);

	(void)state;
	free(cp);
	serve(W0 | W1);
	out = expect(0, "cosigned by 2 witnesses of the policy", "--witness-policy", T.policy,
		     "sth");
	free(out);
	serve(W0 | W1 | W2);
	out = expect(0, NULL, "--json", "--witness-policy", T.policy, "sth");
	assert_int_equal(json_u64(out, "cosigned_by"), 3);
	assert_int_equal(json_u64(out, "witnessed_size"), size);
	assert_int_equal(json_u64(out, "tree_size"), size);
	free(out);
	/* logd's own checkpoint, no cosignature at all */
	assert_int_equal(liar_checkpoint(T.liar, NULL, 0), 0);
	expect_free(6, "witness quorum not met", "--witness-policy", T.policy, "sth");
	/* "quorum none": the log's note signature is enough */
	{
		char p[160];
		FILE *f;
		snprintf(p, sizeof(p), "%s/none.txt", T.dir);
		f = fopen(p, "w");
		assert_non_null(f);
		fprintf(f, "log %s\nquorum none\n", cosigned_log_vkey(T.cs));
		fclose(f);
		expect_free(0, "cosigned by 0 witnesses", "--witness-policy", p, "sth");
	}
}

static void test_below(void **state)
{
	char *out;

	(void)state;
	serve(W0);
	expect_free(6, "cosignatures of 1 witness of the policy, short of its quorum", "--witness-policy", T.policy,
		    "sth");
	/* w3 cosigned too, but the policy does not know it */
	serve(W0 | W3);
	expect_free(6, "witness quorum not met", "--witness-policy", T.policy, "sth");
	serve(W0 | W1 | W3);
	out = expect(0, NULL, "--json", "--witness-policy", T.policy, "sth");
	assert_int_equal(json_u64(out, "cosigned_by"), 2);
	free(out);
}

static void test_tampered(void **state)
{
	size_t len, n;
	char *cp = checkpoint_now(&len, NULL, NULL), *note;

	(void)state;
	/* a policy witness's line that does not verify: evidence, not a lack */
	note = cosigned_add(T.cs, cp, len, W0 | W1 | W2, &n);
	assert_non_null(note);
	assert_int_equal(cosigned_tamper(T.cs, note, 2), 0);
	serve_note(note, n);
	expect_free(3, "cosignature line does not verify", "--witness-policy", T.policy, "sth");
	/* the same damage to a line of a key outside the policy is ignored */
	note = cosigned_add(T.cs, cp, len, W0 | W1 | W3, &n);
	assert_non_null(note);
	assert_int_equal(cosigned_tamper(T.cs, note, 3), 0);
	serve_note(note, n);
	expect_free(0, "cosigned by 2 witnesses", "--witness-policy", T.policy, "sth");
	free(cp);
}

static void test_fork(void **state)
{
	uint64_t size;
	uint8_t root[32];
	size_t len, n;
	char *cp = checkpoint_now(&len, &size, root), *note;

	(void)state;
	free(cp);
	/* the log's key signed another tree of the same size, and a quorum of
	 * witnesses (which saw only that fork) cosigned it */
	root[0] ^= 1;
	note = cosigned_fork(T.cs, T.logd.log_id, size, root, W0 | W1 | W2, &n);
	serve_note(note, n);
	expect_free(3, "the log forked", "--witness-policy", T.policy, "sth");
	/* the same without the quorum is a lack of witnesses first */
	note = cosigned_fork(T.cs, T.logd.log_id, size, root, W0, &n);
	serve_note(note, n);
	expect_free(6, "witness quorum not met", "--witness-policy", T.policy, "sth");
	/* a checkpoint of the right tree signed by another note key under the
	 * log's origin (made by openssl), with a quorum of cosignatures */
	{
		char p[160], cmd[300], *other_note;
		struct cosigned *other;
		uint8_t real_root[32];
		size_t on;
		snprintf(p, sizeof(p), "%s/other-note.pem", T.dir);
		snprintf(cmd, sizeof(cmd), "openssl genpkey -algorithm ed25519 -out %s", p);
		assert_int_equal(system(cmd), 0);
		other = cosigned_new(p, ORIGIN, 0);
		assert_non_null(other);
		cp = checkpoint_now(&len, &size, real_root);
		free(cp);
		other_note = cosigned_fork(other, T.logd.log_id, size, real_root, 0, &on);
		assert_non_null(other_note);
		note = cosigned_add(T.cs, other_note, on, W0 | W1 | W2, &n);
		free(other_note);
		serve_note(note, n);
		expect_free(3, "no valid signature by the policy's log key", "--witness-policy",
			    T.policy, "sth");
		cosigned_free(other);
	}
}

static void test_lookup(void **state)
{
	uint64_t size;
	uint8_t root[32];
	size_t len, n;
	char *cp, *note;

	(void)state;
	/* record an answer of the tree as it is now, then grow the log */
	liar_set(T.liar, LIAR_PASS, NULL);
	serve(W0 | W1);
	expect_free(0, "complete", "--witness-policy", T.policy, "lookup", "w.example");
	add_cert("mail.w.example");
	add_cert("new.example");
	/* the old answer, and a newer cosigned checkpoint: proven consistent */
	assert_int_equal(liar_replay(T.liar, "/mn/v1/lookup?domain=w.example"), 0);
	serve(W0 | W1);
	expect_free(0, "complete", "--witness-policy", T.policy, "lookup", "w.example");
	assert_true(liar_tampered(T.liar) > 0);
	/* the same old answer against a cosigned fork of the larger size */
	cp = checkpoint_now(&len, &size, root);
	free(cp);
	root[31] ^= 0x80;
	note = cosigned_fork(T.cs, T.logd.log_id, size, root, W1 | W2, &n);
	serve_note(note, n);
	expect_free(3, "consistency proof", "--witness-policy", T.policy, "lookup", "w.example");
	liar_set(T.liar, LIAR_PASS, NULL);
	/* lookup without the quorum */
	serve(W2);
	expect_free(6, "witness quorum not met", "--witness-policy", T.policy, "lookup",
		    "w.example");
}

static void test_behind(void **state)
{
	size_t len, n;
	uint64_t t0, size_old, size_new;
	char *old = checkpoint_now(&len, &size_old, NULL), *note;

	(void)state;
	note = cosigned_add(T.cs, old, len, W0 | W1, &n);
	free(old);
	add_cert("behind.example");
	free(checkpoint_now(&len, &size_new, NULL));
	assert_true(size_new > size_old);
	serve_note(note, n);
	t0 = mono_ms();
	expect_free(6, "after 1 s", "--witness-policy", T.policy, "--witness-wait", "1", "sth");
	assert_true(mono_ms() - t0 >= 1000);
	/* --witness-wait 0: one look */
	expect_free(6, "covers tree size", "--witness-policy", T.policy, "--witness-wait", "0",
		    "sth");
}

struct bg {
	pthread_t thr;
	int rc;
	char *out, *err;
	const char *args[16];
};

static void *bg_main(void *arg)
{
	struct bg *b = arg;

	b->rc = run_mnctl(b->args, &b->out, &b->err);
	return NULL;
}

static void test_catch_up(void **state)
{
	size_t len, n;
	uint64_t size_old, size_new, deadline;
	char *old = checkpoint_now(&len, &size_old, NULL), *note;
	struct bg b = {.args = {"--json", "--witness-policy", T.policy, "--witness-wait", "60",
				"sth", NULL}};
	int hits;

	(void)state;
	note = cosigned_add(T.cs, old, len, W0 | W1, &n);
	free(old);
	add_cert("catch-up.example");
	serve_note(note, n);
	hits = liar_checkpoint_hits(T.liar);
	assert_int_equal(pthread_create(&b.thr, NULL, bg_main, &b), 0);
	/* mnctl has seen the old checkpoint twice: it is polling */
	deadline = mono_ms() + 30000;
	while (liar_checkpoint_hits(T.liar) < hits + 2 && mono_ms() < deadline) {
		struct timespec ts = {.tv_nsec = 10 * 1000000L};
		nanosleep(&ts, NULL);
	}
	assert_true(liar_checkpoint_hits(T.liar) >= hits + 2);
	free(checkpoint_now(&len, &size_new, NULL));
	assert_true(size_new > size_old);
	serve(W1 | W2);
	assert_int_equal(pthread_join(b.thr, NULL), 0);
	if (b.rc != 0)
		fprintf(stderr, "mnctl exit %d\n%s%s", b.rc, b.out, b.err);
	assert_int_equal(b.rc, 0);
	assert_int_equal(json_u64(b.out, "witnessed_size"), size_new);
	free(b.out);
	free(b.err);
}

static void test_resolve(void **state)
{
	(void)state;
	serve(W0 | W2);
	expect_free(0, "verified against the tree", "--witness-policy", T.policy, "resolve",
		    "w.example", "--protocol", "smtp");
	serve(W1);
	expect_free(6, "witness quorum not met", "--witness-policy", T.policy, "resolve",
		    "w.example", "--protocol", "smtp");
}

static void test_monitor(void **state)
{
	char st1[160], st2[160], sf[200];
	struct stat sb;
	size_t len;
	uint64_t size;
	char *out;

	(void)state;
	snprintf(st1, sizeof(st1), "%s/mon1", T.dir);
	snprintf(st2, sizeof(st2), "%s/mon2", T.dir);
	snprintf(sf, sizeof(sf), "%s/state.json", st1);
	free(checkpoint_now(&len, &size, NULL));
	serve(W0);
	expect_free(6, "witness quorum not met", "--witness-policy", T.policy, "monitor",
		    "--audit-map", "--state", st1);
	assert_int_not_equal(stat(sf, &sb), 0); /* nothing saved */
	serve(W0 | W1);
	out = expect(0, NULL, "--json", "--witness-policy", T.policy, "monitor", "--audit-map",
		     "--state", st1);
	assert_int_equal(json_u64(out, "tree_size"), size);
	free(out);
	assert_int_equal(stat(sf, &sb), 0);
	/* the static read path: the served checkpoint is the cosigned one */
	serve(W2);
	expect_free(6, "witness quorum not met", "--witness-policy", T.policy, "monitor",
		    "--tiles", "--audit-map", "--state", st2);
	serve(W1 | W2);
	expect_free(0, "verified tree_size", "--witness-policy", T.policy, "monitor", "--tiles",
		    "--audit-map", "--state", st2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_quorum),
		cmocka_unit_test(test_below),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_fork),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_behind),
		cmocka_unit_test(test_catch_up),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_monitor),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
