/* test_reload.c: SIGHUP reloads the roots and the certifiers of a running logd
 * (logd/reload.c, api_set_trust).
 *   - a root added to the file: the next submission under it gets an SCT, and
 *     get-roots lists it; a root removed: the next submission under it is
 *     refused (400 unknownAnchor) and get-roots no longer lists it;
 *   - a broken or missing roots file: the reload fails, the old set stays (a
 *     submission under it still succeeds), and the log line names the file
 *     and the reason;
 *   - certifiers added and removed: get-certifiers follows;
 *   - the keep-alive connection used before the reload is used after it, and
 *     submissions in flight on other connections while reloads happen are
 *     all answered with SCTs.
 * Each reload is awaited through mn_reloads_total in /metrics. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "tests/lib/ctclient.h"
#include "tests/lib/mnfix.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

#define NLOAD 4       /* submitting threads during the in-flight test */
#define NHUPS 6

static struct {
	char dir[64], data[128], roots[128], certs[128], errlog[128];
	struct pki_cert *root_a, *ca_a, *root_b, *ca_b;
	struct logd_proc logd;
	struct kconn kc;
	struct mnfix_buf key1, key2;
	char fpr1[41], fpr2[41];
	unsigned serial;
} S;

static struct pki_cert *leaf_under(const struct pki_cert *ca)
{
	int64_t now = pki_now();
	char name[64];
	const char *dns[1] = {name};

	snprintf(name, sizeof(name), "r%u.reload.example", ++S.serial);
	return pki_issue(ca, name, dns, 1, 0, now - 3600, now + 86400 * 90);
}

/* write_roots replaces the roots file atomically (write, rename). */
static void write_roots(const struct pki_cert *a, const struct pki_cert *b)
{
	const struct pki_cert *rs[2];
	char tmp[160];
	size_t n = 0;

	if (a != NULL)
		rs[n++] = a;
	if (b != NULL)
		rs[n++] = b;
	snprintf(tmp, sizeof(tmp), "%s.tmp", S.roots);
	assert_int_equal(pki_write_pem(tmp, rs, n), 0);
	assert_int_equal(rename(tmp, S.roots), 0);
}

static void write_certifiers(const struct mnfix_buf *a, const struct mnfix_buf *b)
{
	char tmp[160];
	struct mnfix_buf all = {0};

	all.len = (a ? a->len : 0) + (b ? b->len : 0);
	all.p = malloc(all.len);
	assert_non_null(all.p);
	if (a)
		memcpy(all.p, a->p, a->len);
	if (b)
		memcpy(all.p + (a ? a->len : 0), b->p, b->len);
	snprintf(tmp, sizeof(tmp), "%s.tmp", S.certs);
	assert_int_equal(mnfix_write_file(tmp, all.p, all.len), 0);
	assert_int_equal(rename(tmp, S.certs), 0);
	free(all.p);
}

/* submit posts add-chain for a fresh leaf under |ca| over |c|; returns the
 * status (0 on a transport failure) and, for a 400, checks the error code. */
static int submit(struct kconn *c, const struct pki_cert *ca, const char *want_code)
{
	struct pki_cert *leaf = leaf_under(ca);
	const struct pki_cert *chain[2] = {leaf, ca};
	char *body = ctc_chain_json(chain, 2);
	struct http_resp r;
	int st = 0;

	if (leaf == NULL || body == NULL)
		goto out;
	if (kc_request(c, "POST", "/ct/v1/add-chain", body, strlen(body), 0, &r) != 0)
		goto out;
	st = r.status;
	if (want_code != NULL && strstr((char *)r.body, want_code) == NULL) {
		fprintf(stderr, "submit: wanted %s, got %d %s\n", want_code, r.status, r.body);
		st = -1;
	}
	http_resp_free(&r);
out:
	free(body);
	pki_free(leaf);
	return st;
}

static uint64_t metric(struct kconn *c, const char *sample)
{
	struct http_resp r;
	char pat[160];
	const char *p;
	uint64_t v = UINT64_MAX;

	if (kc_request(c, "GET", "/metrics", NULL, 0, 0, &r) != 0)
		return UINT64_MAX;
	snprintf(pat, sizeof(pat), "\n%s ", sample);
	p = strstr((char *)r.body, pat);
	if (r.status == 200 && p != NULL)
		v = strtoull(p + strlen(pat), NULL, 10);
	http_resp_free(&r);
	return v;
}

/* hup sends SIGHUP and waits until |sample| reaches |want| (10 s at most). */
static void hup(const char *sample, uint64_t want)
{
	struct timespec ts = {0, 2000000};
	uint64_t v = 0;

	assert_int_equal(kill(S.logd.pid, SIGHUP), 0);
	for (int i = 0; i < 5000; i++) {
		v = metric(&S.kc, sample);
		assert_true(v != UINT64_MAX); /* the same connection keeps working */
		if (v >= want)
			break;
		nanosleep(&ts, NULL);
	}
	assert_int_equal(v, want);
}

/* num_listed: the number of elements of array |key| in a JSON answer. */
static size_t num_listed(const char *target, const char *key)
{
	struct http_resp r;
	json_t *j;
	size_t n;

	assert_int_equal(kc_request(&S.kc, "GET", target, NULL, 0, 0, &r), 0);
	assert_int_equal(r.status, 200);
	j = json_loadb((char *)r.body, r.body_len, 0, NULL);
	assert_non_null(j);
	n = json_array_size(json_object_get(j, key));
	json_decref(j);
	http_resp_free(&r);
	return n;
}

static int setup(void **state)
{
	int64_t now = pki_now();
	struct mnfix_gpg g;
	const char *args[] = {"--data", S.data, "--tls-roots", S.roots, "--certifiers", S.certs,
			      "--threads", "2", "--no-map", NULL};

	(void)state;
	strcpy(S.dir, "/tmp/mn-reload-XXXXXX");
	if (mkdtemp(S.dir) == NULL)
		return -1;
	snprintf(S.data, sizeof(S.data), "%s/data", S.dir);
	snprintf(S.roots, sizeof(S.roots), "%s/roots.pem", S.dir);
	snprintf(S.certs, sizeof(S.certs), "%s/certifiers.pgp", S.dir);
	snprintf(S.errlog, sizeof(S.errlog), "%s/logd.err", S.dir);
	S.root_a = pki_root("Reload Root A", 0);
	S.root_b = pki_root("Reload Root B", 0);
	S.ca_a = pki_issue(S.root_a, "Reload CA A", NULL, 0, PKI_CA, now - 86400, now + 86400 * 365);
	S.ca_b = pki_issue(S.root_b, "Reload CA B", NULL, 0, PKI_CA, now - 86400, now + 86400 * 365);
	if (S.ca_a == NULL || S.ca_b == NULL)
		return -1;
	/* two certifier keys, made with gpg */
	if (mnfix_gpg_init(&g, S.dir) != 0 ||
	    mnfix_gpg(&g, "--quick-gen-key 'Cert One <one@certifier.example>' ed25519 cert 1y") != 0 ||
	    mnfix_gpg(&g, "--quick-gen-key 'Cert Two <two@certifier.example>' ed25519 cert 1y") != 0 ||
	    mnfix_gpg_fpr(&g, "=Cert One <one@certifier.example>", S.fpr1) != 0 ||
	    mnfix_gpg_fpr(&g, "=Cert Two <two@certifier.example>", S.fpr2) != 0) {
		mnfix_gpg_kill(&g);
		return -1;
	}
	{
		char what[64];
		snprintf(what, sizeof(what), "--export %s", S.fpr1);
		if (mnfix_gpg_export(&g, what, &S.key1) != 0)
			return -1;
		snprintf(what, sizeof(what), "--export %s", S.fpr2);
		if (mnfix_gpg_export(&g, what, &S.key2) != 0)
			return -1;
	}
	mnfix_gpg_kill(&g);
	write_roots(S.root_a, NULL);
	write_certifiers(&S.key1, NULL);
	if (logd_start_stderr(&S.logd, args, S.errlog) != 0)
		return -1;
	return kc_open(&S.kc, S.logd.port, 10000);
}

static int teardown(void **state)
{
	(void)state;
	if (getenv("MN_KEEP") != NULL) {
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "cat %s", S.errlog);
		if (system(cmd) != 0)
			return -1;
	}
	kc_close(&S.kc);
	logd_stop(&S.logd, SIGTERM);
	pki_free(S.ca_a);
	pki_free(S.ca_b);
	pki_free(S.root_a);
	pki_free(S.root_b);
	free(S.key1.p);
	free(S.key2.p);
	mnfix_rm_rf(S.dir);
	return 0;
}

static void test_add_and_remove_root(void **state)
{
	(void)state;
	assert_int_equal(submit(&S.kc, S.ca_a, NULL), 200);
	assert_int_equal(submit(&S.kc, S.ca_b, "unknownAnchor"), 400);
	assert_int_equal(num_listed("/ct/v1/get-roots", "certificates"), 1);

	/* add B */
	write_roots(S.root_a, S.root_b);
	hup("mn_reloads_total{result=\"ok\"}", 1);
	assert_int_equal(submit(&S.kc, S.ca_b, NULL), 200);
	assert_int_equal(submit(&S.kc, S.ca_a, NULL), 200);
	assert_int_equal(num_listed("/ct/v1/get-roots", "certificates"), 2);
	assert_int_equal(num_listed("/mn/v1/get-roots?class=tls", "certificates"), 2);
	assert_int_equal(metric(&S.kc, "mn_roots{class=\"tls\"}"), 2);

	/* remove A */
	write_roots(S.root_b, NULL);
	hup("mn_reloads_total{result=\"ok\"}", 2);
	assert_int_equal(submit(&S.kc, S.ca_a, "unknownAnchor"), 400);
	assert_int_equal(submit(&S.kc, S.ca_b, NULL), 200);
	assert_int_equal(num_listed("/ct/v1/get-roots", "certificates"), 1);
	assert_int_equal(metric(&S.kc, "mn_trust_swaps_total"), 2);
}

static void test_broken_file_keeps_old_set(void **state)
{
	char line[512];
	uint64_t failed0 = metric(&S.kc, "mn_reloads_total{result=\"failed\"}");
	uint64_t ok0 = metric(&S.kc, "mn_reloads_total{result=\"ok\"}");

	(void)state;
	write_roots(S.root_a, S.root_b);
	hup("mn_reloads_total{result=\"ok\"}", ok0 + 1);
	assert_int_equal(num_listed("/ct/v1/get-roots", "certificates"), 2);

	/* not PEM at all */
	assert_int_equal(mnfix_write_file(S.roots, "this is no certificate\n", 23), 0);
	hup("mn_reloads_total{result=\"failed\"}", failed0 + 1);
	assert_int_equal(metric(&S.kc, "mn_reload_last_successful"), 0);
	snprintf(line, sizeof(line), "event=reload_failed log=- file=%s reason=\"no usable "
		 "CERTIFICATE PEM block in it\"", S.roots);
	assert_true(file_contains(S.errlog, line));
	/* the old set (A and B) is still in force */
	assert_int_equal(submit(&S.kc, S.ca_a, NULL), 200);
	assert_int_equal(submit(&S.kc, S.ca_b, NULL), 200);
	assert_int_equal(num_listed("/ct/v1/get-roots", "certificates"), 2);

	/* missing */
	assert_int_equal(unlink(S.roots), 0);
	hup("mn_reloads_total{result=\"failed\"}", failed0 + 2);
	snprintf(line, sizeof(line), "event=reload_failed log=- file=%s reason=\"cannot be read\"",
		 S.roots);
	assert_true(file_contains(S.errlog, line));
	assert_int_equal(submit(&S.kc, S.ca_b, NULL), 200);

	/* a broken certifiers file fails the whole reload: roots unchanged too */
	write_roots(S.root_a, NULL);
	assert_int_equal(mnfix_write_file(S.certs, "\x99\x01garbage", 9), 0);
	hup("mn_reloads_total{result=\"failed\"}", failed0 + 3);
	snprintf(line, sizeof(line), "event=reload_failed log=- file=%s reason=", S.certs);
	assert_true(file_contains(S.errlog, line));
	assert_int_equal(submit(&S.kc, S.ca_b, NULL), 200);
	assert_int_equal(num_listed("/mn/v1/get-certifiers", "certifiers"), 1);

	/* fixed files load again */
	write_certifiers(&S.key1, NULL);
	hup("mn_reloads_total{result=\"ok\"}", ok0 + 2);
	assert_int_equal(metric(&S.kc, "mn_reload_last_successful"), 1);
	assert_int_equal(submit(&S.kc, S.ca_b, "unknownAnchor"), 400);
}

static int listed_fpr(const char *fpr)
{
	struct http_resp r;
	int found;

	assert_int_equal(kc_request(&S.kc, "GET", "/mn/v1/get-certifiers", NULL, 0, 0, &r), 0);
	found = strstr((char *)r.body, fpr) != NULL;
	http_resp_free(&r);
	return found;
}

static void test_certifiers_added_and_removed(void **state)
{
	uint64_t ok0 = metric(&S.kc, "mn_reloads_total{result=\"ok\"}");

	(void)state;
	write_roots(S.root_a, NULL);
	write_certifiers(&S.key1, NULL);
	hup("mn_reloads_total{result=\"ok\"}", ok0 + 1);
	assert_int_equal(num_listed("/mn/v1/get-certifiers", "certifiers"), 1);
	assert_true(listed_fpr(S.fpr1));
	write_certifiers(&S.key1, &S.key2);
	hup("mn_reloads_total{result=\"ok\"}", ok0 + 2);
	assert_int_equal(num_listed("/mn/v1/get-certifiers", "certifiers"), 2);
	assert_true(listed_fpr(S.fpr2));
	assert_int_equal(metric(&S.kc, "mn_pgp_certifiers"), 2);
	write_certifiers(&S.key2, NULL);
	hup("mn_reloads_total{result=\"ok\"}", ok0 + 3);
	assert_int_equal(num_listed("/mn/v1/get-certifiers", "certifiers"), 1);
	assert_false(listed_fpr(S.fpr1));
	assert_true(listed_fpr(S.fpr2));
}

/* --- submissions in flight during reloads ---------------------------------- */

static atomic_int stop_load;
static atomic_uint answered_total;

struct loader {
	pthread_t th;
	struct pki_cert *certs[64];
	char *bodies[64];
	size_t num;
	unsigned answered, failed;
};

static void *load_main(void *arg)
{
	struct loader *l = arg;
	struct kconn c;
	size_t i = 0;

	if (kc_open(&c, S.logd.port, 10000) != 0) {
		l->failed++;
		return NULL;
	}
	/* at least one pass over the certificates, then until told to stop */
	while (i < l->num || !atomic_load(&stop_load)) {
		const char *b = l->bodies[i % l->num];
		struct http_resp r;
		if (kc_request(&c, "POST", "/ct/v1/add-chain", b, strlen(b), 0, &r) != 0) {
			l->failed++;
			break;
		}
		if (r.status == 200) {
			l->answered++;
			atomic_fetch_add(&answered_total, 1);
		} else
			l->failed++;
		http_resp_free(&r);
		i++;
	}
	kc_close(&c);
	return NULL;
}

static void wait_answered(unsigned n)
{
	struct timespec ts = {0, 1000000};

	for (int i = 0; i < 10000 && atomic_load(&answered_total) < n; i++)
		nanosleep(&ts, NULL);
	assert_true(atomic_load(&answered_total) >= n);
}

static void test_in_flight_survive_reloads(void **state)
{
	static struct loader L[NLOAD];
	uint64_t ok0 = metric(&S.kc, "mn_reloads_total{result=\"ok\"}");
	int64_t now = pki_now();

	(void)state;
	write_roots(S.root_a, NULL);
	for (int t = 0; t < NLOAD; t++) {
		L[t].num = 64;
		for (size_t i = 0; i < L[t].num; i++) {
			const struct pki_cert *chain[2];
			char name[64];
			const char *dns[1] = {name};
			snprintf(name, sizeof(name), "l%d-%zu.reload.example", t, i);
			L[t].certs[i] = pki_issue(S.ca_a, name, dns, 1, 0, now - 3600, now + 86400 * 90);
			assert_non_null(L[t].certs[i]);
			chain[0] = L[t].certs[i];
			chain[1] = S.ca_a;
			L[t].bodies[i] = ctc_chain_json(chain, 2);
		}
	}
	atomic_store(&stop_load, 0);
	atomic_store(&answered_total, 0);
	for (int t = 0; t < NLOAD; t++)
		assert_int_equal(pthread_create(&L[t].th, NULL, load_main, &L[t]), 0);
	/* the loaders never pause, so once they have answers the reloads below
	 * happen among their submissions; and they must go on being answered
	 * after the last one */
	wait_answered(NLOAD);
	/* reloads while they submit: A stays in every set, B comes and goes */
	for (int h = 0; h < NHUPS; h++) {
		write_roots(S.root_a, h % 2 == 0 ? S.root_b : NULL);
		hup("mn_reloads_total{result=\"ok\"}", ok0 + (uint64_t)h + 1);
	}
	wait_answered(atomic_load(&answered_total) + NLOAD);
	atomic_store(&stop_load, 1);
	for (int t = 0; t < NLOAD; t++) {
		assert_int_equal(pthread_join(L[t].th, NULL), 0);
		assert_int_equal(L[t].failed, 0);
		assert_true(L[t].answered >= L[t].num);
		for (size_t i = 0; i < L[t].num; i++) {
			pki_free(L[t].certs[i]);
			free(L[t].bodies[i]);
		}
	}
	/* nothing was left queued or dropped by the transport */
	assert_int_equal(metric(&S.kc, "mn_sequencer_queue_depth"), 0);
	assert_int_equal(metric(&S.kc, "mn_http_connections_rejected_total"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_and_remove_root),
		cmocka_unit_test(test_broken_file_keeps_old_set),
		cmocka_unit_test(test_certifiers_added_and_removed),
		cmocka_unit_test(test_in_flight_survive_reloads),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
