/* test_liar.c: mnctl's completeness checks (client/verify_map.c) against a
 * lying log: a real logd with its map, and between it and mnctl the proxy of
 * tests/lib/liar.h, which keeps every signature valid but leaves things out,
 * replays old answers or answers for another name. mnctl must refuse each lie
 * (exit 3, stderr naming what failed) and accept the honest answers, directly
 * and through the proxy in pass-through mode.
 *
 * The log holds all four classes: TLS certificates for example.com and
 * names below it, an S/MIME certificate for alice@example.com, two smtp
 * policies of example.com and two email-e2e policies of alice (mnfix.h JWS),
 * and a certifier's endorsement of Alice's OpenPGP key followed by its
 * revocation (gpg, mnfix.h). The tests run in order and share the log. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "tests/lib/ctclient.h"
#include "tests/lib/liar.h"
#include "tests/lib/mnfix.h"
#include "tests/lib/pki.h"
#include "tests/lib/mnrun.h"
#include "tests/lib/proc.h"

#define DAY 86400
#define UID_ALICE "Alice <alice@example.com>"
#define UID_CA "Cert Authority <ca@certifier.example>"

static struct {
	char dir[64], cfg[128];
	char url[64], url_p[64];
	int64_t now;
	struct mnfix_gpg g;
	char alice[41], ca[41];
	struct mnfix_buf x_cert, x_rev;
	struct pki_cert *root, *ica, *sroot, *sca, *s_ex, *s_alice;
	struct logd_proc logd;
	struct liar *liar;
} T;

/* --- running mnctl ------------------------------------------------------- */

/* run_mnctl runs mnctl with this test's --config (tests/lib/mnrun). */
static int run_mnctl(const char *const *args, char **out, char **err)
{
	return mnrun_mnctl_pre(T.dir, MNRUN_ARGV("--config", T.cfg), args, out, err);
}

/* expect(rc, needle, args...): mnctl exits with |rc| and, if |needle| is not
 * NULL, says it on stderr. */
#define expect(rc, needle, ...) expect_(__LINE__, rc, needle, MNRUN_ARGV(__VA_ARGS__))
static void expect_(int line, int rc, const char *needle, const char *const *args)
{
	char *out = NULL, *err = NULL;
	int got = run_mnctl(args, &out, &err);

	if (!mnrun_expect(line, got, out, err, rc, needle, MNRUN_STDERR)) {
		free(out);
		free(err);
		fail();
	}
	if (rc != 0) /* one line naming what failed */
		fprintf(stderr, "    refused as it should: %s", err);
	free(out);
	free(err);
}

/* lie: the liar in |mode| on |key|; mnctl |args| through it must exit 3
 * naming |needle|, and the liar must have altered an answer. */
#define lie(mode, key, needle, ...) lie_(__LINE__, mode, key, needle, __VA_ARGS__, NULL)
static void lie_(int line, enum liar_mode mode, const char *key, const char *needle, ...)
{
	const char *args[40];
	char *out = NULL, *err = NULL;
	int n = 0, got;
	va_list ap;

	args[n++] = "--log";
	args[n++] = T.url_p;
	va_start(ap, needle);
	for (const char *a; (a = va_arg(ap, const char *)) != NULL && n < 39;)
		args[n++] = a;
	va_end(ap);
	args[n] = NULL;
	liar_set(T.liar, mode, key);
	got = run_mnctl(args, &out, &err);
	if (got != 3 || strstr(err, needle) == NULL || liar_tampered(T.liar) == 0) {
		fprintf(stderr, "line %d: mnctl exit %d (want 3, stderr with %s), %d answers "
			"altered\nstdout: %s\nstderr: %s\n", line, got, needle,
			liar_tampered(T.liar), out, err);
		free(out);
		free(err);
		liar_set(T.liar, LIAR_PASS, NULL);
		fail();
	}
	fprintf(stderr, "    refused as it should: %s", err);
	free(out);
	free(err);
	liar_set(T.liar, LIAR_PASS, NULL);
}

/* --- fixtures ------------------------------------------------------------- */

static json_t *post_json(const char *path, const char *body)
{
	struct http_resp r;
	json_t *j;

	assert_int_equal(http_do(T.logd.port, "POST", path, "Content-Type: application/json\r\n",
				 body, strlen(body), &r), 0);
	if (r.status != 200)
		fprintf(stderr, "POST %s: %d %s\n", path, r.status, (char *)r.body);
	assert_int_equal(r.status, 200);
	j = json_loadb((const char *)r.body, r.body_len, 0, NULL);
	assert_non_null(j);
	http_resp_free(&r);
	return j;
}

static void add_chain(const struct pki_cert *leaf, const struct pki_cert *ca)
{
	const struct pki_cert *chain[2] = {leaf, ca};
	char *body = ctc_chain_json(chain, 2);

	assert_non_null(body);
	json_decref(post_json("/ct/v1/add-chain", body));
	free(body);
}

static void add_cert(const char *name)
{
	const char *dns[1] = {name};
	struct pki_cert *c = pki_issue(T.ica, name, dns, 1, 0, T.now - DAY, T.now + 90 * DAY);

	assert_non_null(c);
	add_chain(c, T.ica);
	pki_free(c);
}

static void add_policy(const struct pki_cert *signer, const struct pki_cert *ca,
		       const char *payload)
{
	char *jws = mnfix_x5c_jws(signer, ca, payload), *req;

	assert_non_null(jws);
	req = mnfix_policy_request(jws);
	assert_non_null(req);
	json_decref(post_json("/mn/v1/add-policy", req));
	free(req);
	free(jws);
}

static void add_smtp_policy(uint64_t serial, const char *tls_min)
{
	char p[1024];

	snprintf(p, sizeof(p),
		 "{\"exp\":%lld,\"iat\":%lld,\"mode\":\"enforce\",\"mx\":[\"mx%llu.example.com\"],"
		 "\"protocol\":\"smtp\",\"serial\":%llu,\"subject\":{\"domain\":\"example.com\"},"
		 "\"tls\":{\"min\":\"%s\",\"transport\":\"starttls\"},\"v\":1}",
		 (long long)(T.now + 30 * DAY), (long long)T.now, (unsigned long long)serial,
		 (unsigned long long)serial, tls_min);
	add_policy(T.s_ex, T.ica, p);
}

static void add_e2e_policy(uint64_t serial, const char *smime)
{
	char p[1024];

	snprintf(p, sizeof(p),
		 "{\"e2e\":{\"smime\":\"%s\"},\"exp\":%lld,\"iat\":%lld,\"mode\":\"enforce\","
		 "\"protocol\":\"email-e2e\",\"serial\":%llu,"
		 "\"subject\":{\"email\":\"alice@example.com\"},\"v\":1}",
		 smime, (long long)(T.now + 30 * DAY), (long long)T.now,
		 (unsigned long long)serial);
	add_policy(T.s_alice, T.sca, p);
}

static void add_pgp(const struct mnfix_buf *x)
{
	char *req = mnfix_pgp_request(x->p, x->len, UID_ALICE, T.ca);

	assert_non_null(req);
	json_decref(post_json("/mn/v1/add-pgp", req));
	free(req);
}

static int make_pgp(char *certifiers, size_t cap)
{
	char t0[32], t1[32], args[512];

	if (mnfix_gpg_init(&T.g, T.dir) != 0)
		return -1;
	/* the certification an hour old, so the revocation (now) is newer */
	snprintf(t0, sizeof(t0), "%lld!", (long long)(T.now - 7200));
	snprintf(t1, sizeof(t1), "%lld!", (long long)(T.now - 3600));
	snprintf(args, sizeof(args), "--faked-system-time %s --quick-gen-key '%s' ed25519 sign 1y",
		 t0, UID_ALICE);
	if (mnfix_gpg(&T.g, args) != 0 || mnfix_gpg_fpr(&T.g, "=" UID_ALICE, T.alice) != 0)
		return -1;
	snprintf(args, sizeof(args), "--faked-system-time %s --quick-gen-key '%s' ed25519 sign 1y",
		 t0, UID_CA);
	if (mnfix_gpg(&T.g, args) != 0 || mnfix_gpg_fpr(&T.g, "=" UID_CA, T.ca) != 0)
		return -1;
	snprintf(args, sizeof(args), "--faked-system-time %s -u %s --quick-sign-key %s", t1, T.ca,
		 T.alice);
	if (mnfix_gpg(&T.g, args) != 0)
		return -1;
	snprintf(args, sizeof(args), "--export %s", T.alice);
	if (mnfix_gpg_export(&T.g, args, &T.x_cert) != 0)
		return -1;
	snprintf(args, sizeof(args), "--quick-revoke-sig %s %s", T.alice, T.ca);
	if (mnfix_gpg(&T.g, args) != 0)
		return -1;
	snprintf(args, sizeof(args), "--export %s", T.alice);
	if (mnfix_gpg_export(&T.g, args, &T.x_rev) != 0)
		return -1;
	snprintf(certifiers, cap, "%s/certifiers.pgp", T.dir);
	snprintf(args, sizeof(args), "--output %s --export %s", certifiers, T.ca);
	return mnfix_gpg(&T.g, args);
}

static int setup(void **state)
{
	static const char *const ex[] = {"example.com"}, *const al[] = {"alice@example.com"};
	char data[128], certifiers[128], tls[128], smime[128];
	const struct pki_cert *rs[1];

	(void)state;
	T.now = pki_now();
	snprintf(T.dir, sizeof(T.dir), "/tmp/mn-liar-XXXXXX");
	if (mkdtemp(T.dir) == NULL)
		return -1;
	snprintf(T.cfg, sizeof(T.cfg), "%s/config", T.dir);
	if (make_pgp(certifiers, sizeof(certifiers)) != 0) {
		fprintf(stderr, "gpg fixtures failed, see %s/gpg.log\n", T.dir);
		return -1;
	}
	T.root = pki_root("Liar Root", 0);
	T.sroot = pki_root("Liar Mail Root", 0);
	if (T.root == NULL || T.sroot == NULL)
		return -1;
	T.ica = pki_issue(T.root, "Liar CA", NULL, 0, PKI_CA, T.now - DAY, T.now + 365 * DAY);
	T.sca = pki_issue(T.sroot, "Liar Mail CA", NULL, 0, PKI_CA, T.now - DAY, T.now + 365 * DAY);
	if (T.ica == NULL || T.sca == NULL)
		return -1;
	T.s_ex = pki_issue(T.ica, "example.com", ex, 1, 0, T.now - DAY, T.now + 90 * DAY);
	T.s_alice = pki_issue(T.sca, "alice", al, 1, PKI_EMAIL, T.now - DAY, T.now + 90 * DAY);
	if (T.s_ex == NULL || T.s_alice == NULL)
		return -1;
	snprintf(tls, sizeof(tls), "%s/tls.pem", T.dir);
	snprintf(smime, sizeof(smime), "%s/smime.pem", T.dir);
	rs[0] = T.root;
	if (pki_write_pem(tls, rs, 1) != 0)
		return -1;
	rs[0] = T.sroot;
	if (pki_write_pem(smime, rs, 1) != 0)
		return -1;
	snprintf(data, sizeof(data), "%s/data", T.dir);
	{
		const char *args[] = {"--data", data, "--tls-roots", tls, "--smime-roots", smime,
				      "--certifiers", certifiers, "--threads", "1", NULL};
		if (logd_start(&T.logd, args) != 0)
			return -1;
	}
	T.liar = liar_start(T.logd.port);
	if (T.liar == NULL)
		return -1;
	snprintf(T.url, sizeof(T.url), "http://127.0.0.1:%u", T.logd.port);
	snprintf(T.url_p, sizeof(T.url_p), "http://127.0.0.1:%u", liar_port(T.liar));
	return 0;
}

static int teardown(void **state)
{
	char cmd[256];

	(void)state;
	liar_stop(T.liar);
	logd_stop(&T.logd, SIGTERM);
	pki_free(T.s_ex);
	pki_free(T.s_alice);
	pki_free(T.ica);
	pki_free(T.sca);
	pki_free(T.root);
	pki_free(T.sroot);
	free(T.x_cert.p);
	free(T.x_rev.p);
	mnfix_gpg_kill(&T.g);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", T.dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* --- tests --------------------------------------------------------------- */

/* The log's content, and honest answers accepted directly and through the
 * proxy passing them on. */
static void test_honest(void **state)
{
	static const char *const logs[2] = {T.url, T.url_p};

	(void)state;
	add_cert("example.com");
	add_cert("example.com");
	add_cert("www.example.com");
	add_cert("mail.example.com");
	add_cert("smtp.example.com");
	add_cert("example.com");
	add_chain(T.s_alice, T.sca);
	add_smtp_policy(1, "1.2");
	add_smtp_policy(2, "1.3");
	add_e2e_policy(1, "prefer");
	add_e2e_policy(2, "require");
	add_pgp(&T.x_cert);
	add_pgp(&T.x_rev);
	for (size_t i = 0; i < 2; i++) {
		const char *u = logs[i];
		expect(0, NULL, "info", u, "--trust-on-first-use");
		expect(0, NULL, "--log", u, "lookup", "example.com");
		expect(0, NULL, "--log", u, "lookup", "example.com", "--subdomains");
		expect(0, NULL, "--log", u, "lookup", "example.com", "--subdomains", "--limit", "2");
		expect(0, NULL, "--log", u, "lookup", "example.com", "--types", "policy");
		expect(0, NULL, "--log", u, "lookup", "alice@example.com");
		expect(0, NULL, "--log", u, "lookup", "--pgp", T.alice);
		expect(0, NULL, "--log", u, "lookup", "nothing-here.example");
		expect(0, NULL, "--log", u, "resolve", "alice@example.com");
		expect(0, NULL, "--log", u, "resolve", "bob@example.com");
		expect(0, NULL, "--log", u, "resolve", "example.com", "--protocol", "smtp");
		expect(0, NULL, "--log", u, "resolve", "example.com", "--protocol", "imap");
	}
}

static void test_lie_drop_entry(void **state)
{
	(void)state;
	lie(LIAR_DROP_ENTRY, NULL, "leaves out leaf", "lookup", "example.com", "--subdomains");
	lie(LIAR_DROP_ENTRY, NULL, "leaves out leaf", "lookup", "example.com", "--limit", "2");
	lie(LIAR_DROP_ENTRY, NULL, "leaves out leaf", "resolve", "alice@example.com");
}

/* the newest smtp policy of example.com left out of resolve's lists (its
 * count lowered so that the list looks whole) */
static void test_lie_drop_newest_policy(void **state)
{
	(void)state;
	lie(LIAR_DROP_NEWEST, "policy:example.com|smtp", "are not the list the map commits to",
	    "resolve", "example.com", "--protocol", "smtp");
	lie(LIAR_DROP_NEWEST, "policy:example.com|smtp", "are not the list the map commits to",
	    "resolve", "alice@example.com");
}

/* the certifier's revocation of Alice's key left out (the resolve would then
 * advise the revoked endorsement), and the second e2e policy */
static void test_lie_drop_revocation(void **state)
{
	(void)state;
	lie(LIAR_DROP_NEWEST, "pgpaddr:", "are not the list the map commits to", "resolve",
	    "alice@example.com");
	lie(LIAR_DROP_NEWEST, "pgpaddr:", "are not the list the map commits to", "lookup",
	    "alice@example.com");
	lie(LIAR_DROP_NEWEST, "policy:alice@example.com|email-e2e",
	    "are not the list the map commits to", "resolve", "alice@example.com");
}

/* a present key claimed absent: count 0, no items, and the valid absence
 * proof of another key */
static void test_lie_claim_absent(void **state)
{
	(void)state;
	lie(LIAR_CLAIM_ABSENT, "dns:example.com",
	    "map proof for dns:example.com does not match the committed root", "lookup",
	    "example.com");
	lie(LIAR_CLAIM_ABSENT, "email:alice@example.com",
	    "map proof for email:alice@example.com does not match the committed root", "resolve",
	    "alice@example.com");
}

/* a page with a gap: a middle item and its entry dropped, nothing adjusted */
static void test_lie_gap(void **state)
{
	(void)state;
	lie(LIAR_GAP, "dns:example.com", "gap", "lookup", "example.com");
	lie(LIAR_GAP, "dns:example.com", "gap", "lookup", "example.com", "--limit", "2");
	lie(LIAR_GAP, "under:example.com", "gap", "lookup", "example.com", "--subdomains");
}

/* resolve's policy in force withheld (a downgrade to no STARTTLS), the
 * proven lists intact: the advice recomputed from them differs */
static void test_lie_advice(void **state)
{
	(void)state;
	lie(LIAR_NO_POLICY, NULL, "\"policy\" is not the policy in force", "resolve",
	    "example.com", "--protocol", "smtp");
	lie(LIAR_NO_POLICY, NULL, "\"smtp_policy\" is not the policy in force", "resolve",
	    "alice@example.com");
}

/* a page whose items, validly proven, stop short of its next_cursor (or
 * start after its cursor): the leaves in between are hidden, and only the
 * page window check sees it */
static void test_lie_window(void **state)
{
	(void)state;
	lie(LIAR_NARROW_RIGHT, "dns:example.com", "page has a gap after leaf", "lookup",
	    "example.com", "--limit", "2");
	lie(LIAR_NARROW_LEFT, "dns:example.com", "page has a gap before leaf", "lookup",
	    "example.com", "--limit", "2");
}

/* the answer to another query: www.example.com for example.com */
static void test_lie_other_name(void **state)
{
	(void)state;
	liar_set(T.liar, LIAR_PASS, NULL);
	expect(0, NULL, "--log", T.url_p, "lookup", "www.example.com");
	expect(0, NULL, "--log", T.url_p, "resolve", "bob@example.com");
	assert_int_equal(liar_replay(T.liar, "/mn/v1/lookup?domain=www.example.com"), 0);
	expect(3, "does not ask for", "--log", T.url_p, "lookup", "example.com");
	assert_int_equal(liar_replay(T.liar, "/mn/v1/resolve?email=bob@example.com"), 0);
	expect(3, "does not ask for", "--log", T.url_p, "resolve", "alice@example.com");
	liar_set(T.liar, LIAR_PASS, NULL);
}

/* an older but validly signed answer, after mnctl saw a newer STH */
static void test_lie_replay_old(void **state)
{
	(void)state;
	liar_set(T.liar, LIAR_PASS, NULL);
	expect(0, NULL, "--log", T.url_p, "lookup", "example.com");
	expect(0, NULL, "--log", T.url_p, "resolve", "example.com", "--protocol", "smtp");
	sleep(3);
	add_cert("example.com");
	add_smtp_policy(3, "1.3");
	expect(0, NULL, "--log", T.url_p, "sth");
	assert_int_equal(liar_replay(T.liar, "/mn/v1/lookup?domain=example.com"), 0);
	expect(3, "older than the newest one seen", "--log", T.url_p, "lookup", "example.com",
	       "--max-age", "1");
	/* within the default tolerance (twice the MMD) the old answer is a
	 * consistent, complete answer for its tree */
	expect(0, NULL, "--log", T.url_p, "lookup", "example.com");
	assert_int_equal(liar_replay(T.liar,
				     "/mn/v1/resolve?domain=example.com&protocol=smtp"), 0);
	expect(3, "older than the newest one seen", "--log", T.url_p, "resolve", "example.com",
	       "--protocol", "smtp", "--max-age", "1");
	liar_set(T.liar, LIAR_PASS, NULL);
	expect(0, NULL, "--log", T.url_p, "resolve", "example.com", "--protocol", "smtp",
	       "--max-age", "1");
}

/* an answer without the map section: refused unless --no-completeness */
static void test_no_map(void **state)
{
	(void)state;
	lie(LIAR_STRIP_MAP, NULL, "no \"map\" section", "lookup", "example.com");
	lie(LIAR_STRIP_MAP, NULL, "no \"map\" section", "resolve", "alice@example.com");
	liar_set(T.liar, LIAR_STRIP_MAP, NULL);
	expect(0, NULL, "--log", T.url_p, "lookup", "example.com", "--no-completeness");
	expect(0, NULL, "--log", T.url_p, "resolve", "alice@example.com", "--no-completeness");
	liar_set(T.liar, LIAR_PASS, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_honest),
		cmocka_unit_test(test_lie_drop_entry),
		cmocka_unit_test(test_lie_drop_newest_policy),
		cmocka_unit_test(test_lie_drop_revocation),
		cmocka_unit_test(test_lie_claim_absent),
		cmocka_unit_test(test_lie_gap),
		cmocka_unit_test(test_lie_window),
		cmocka_unit_test(test_lie_advice),
		cmocka_unit_test(test_lie_other_name),
		cmocka_unit_test(test_lie_replay_old),
		cmocka_unit_test(test_no_map),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
