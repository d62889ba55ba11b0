/* test_witness.c: logd collects cosignatures (logd/cosign.h) from real
 * witnesses, `mnctl witness serve` processes (tests/lib/witproc.h), three of
 * them, the policy asking for 2 of 3. Every checkpoint the test reads is
 * checked with tpolicy_check against the policy file itself (the log's
 * Ed25519 line and the witnesses' cosignature/v1 lines, verified by
 * entry/note.c and entry/cosig.c, which tests/entry/test_cosig.c checks
 * against openssl).
 *
 * - under load (4 threads adding chains), every /checkpoint served has the
 *   quorum, the served sizes never go back, and after the load the served
 *   size reaches get-sth's; the checkpoint published to the directory store
 *   carries the cosignatures, and with sct_after: publish an SCT comes back
 *   only once a witnessed checkpoint covering it is stored; /mn/v1/info
 *   states the mode;
 * - wait mode: one witness down, the quorum is still met; two down, the
 *   served checkpoint stays at its size while get-sth grows, the failures are
 *   counted (reason connect), /readyz says not ready once the served
 *   checkpoint is an MMD old; a witness back, the checkpoint catches up,
 *   witnessed, and /readyz is ready; logd restarted learns the witnesses'
 *   sizes from their 409s and is witnessed again;
 * - fail-open mode: two down, after the timeout the newest checkpoint is
 *   served with one cosignature (tpolicy_check: quorum not met), counted as
 *   unwitnessed, and `mnctl sth --witness-policy` refuses it (exit 6); a
 *   witness back, the next checkpoint is witnessed again and mnctl accepts it;
 * - a forked log: a second logd with the same log and note keys and other
 *   entries, asking the same witnesses, never gets a checkpoint served (409
 *   or 422, logged) while the first goes on being witnessed: mnctl with the
 *   policy refuses the fork's tree head (exit 6) and accepts the first's. */
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

#include <openssl/evp.h>

#include <jansson.h>

#include "common/err.h"
#include "entry/cosig.h"
#include "entry/note.h"
#include "entry/tpolicy.h"
#include "tests/lib/ctclient.h"
#include "tests/lib/files.h"
#include "tests/lib/mnrun.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"
#include "tests/lib/witlog.h"
#include "tests/lib/witproc.h"

#define ORIGIN "witness.test/log"
#define WAIT_MS 30000

struct fx {
	struct witlog wl;  /* directory, PKI, the log's keys, the witnesses' --logs */
	char cfg[160], policy[128], pub[128], err[160];
	struct witproc w[3];
	struct logd_proc logd;
	struct tpolicy *pol;
};





static void rm_rf(const char *dir)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

/* setup: PKI and the log's keys (tests/lib/witlog.h), three witnesses of the
 * log, the 2-of-3 policy. */
static void fx_setup(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	assert_int_equal(witlog_init(&f->wl, ORIGIN), 0);
	snprintf(f->policy, sizeof(f->policy), "%s/policy", f->wl.dir);
	snprintf(f->pub, sizeof(f->pub), "%s/pub", f->wl.dir);
	snprintf(f->cfg, sizeof(f->cfg), "%s/logd.yaml", f->wl.dir);
	snprintf(f->err, sizeof(f->err), "%s/logd.err", f->wl.dir);
	for (int i = 0; i < 3; i++) {
		char d[160], name[32];
		snprintf(d, sizeof(d), "%s/w%d", f->wl.dir, i + 1);
		snprintf(name, sizeof(name), "w%d.witness.test", i + 1);
		assert_int_equal(witproc_start(&f->w[i], d, name, f->wl.logs, NULL), 0);
	}
	assert_int_equal(witproc_policy(f->policy, f->wl.vkey, f->w, 3, 2), 0);
	{
		char err[512];
		assert_int_equal(tpolicy_load(&f->pol, f->policy, 0, err, sizeof(err)), 0);
	}
}

/* fx_logd: logd --config with the log "wl" and |extra| YAML lines for it. */
static void fx_logd(struct fx *f, const char *extra)
{
	FILE *c = fopen(f->cfg, "w");

	assert_non_null(c);
	fprintf(c, "listen: 127.0.0.1:0\nlogs:\n  - name: wl\n    data: %s\n"
		"    classes: [tls]\n    roots: {tls: %s}\n    origin: %s\n"
		"    witness_policy: %s\n%s", f->wl.data, f->wl.roots, ORIGIN, f->policy, extra);
	fclose(c);
	{
		const char *args[] = {"--config", f->cfg, NULL};
		assert_int_equal(logd_start_stderr(&f->logd, args, f->err), 0);
	}
}

static void fx_teardown(struct fx *f)
{
	logd_stop(&f->logd, SIGTERM);
	for (int i = 0; i < 3; i++)
		witproc_stop(&f->w[i], SIGTERM);
	tpolicy_free(f->pol);
	witlog_free(&f->wl);
}

/* add: one add-chain of a new certificate to the log at |port|/|prefix|. */
static int add_one(uint16_t port, const char *prefix, const struct pki_cert *ca, const char *cn,
		   int serial)
{
	int64_t now = pki_now();
	const char *dns[1] = {cn};
	struct pki_cert *leaf = pki_issue(ca, cn, dns, 1, 0, now - 60 - serial, now + 86400);
	const struct pki_cert *chain[2] = {leaf, ca};
	char *body = ctc_chain_json(chain, 2), path[128];
	struct http_resp r;
	int ok;

	snprintf(path, sizeof(path), "%s/ct/v1/add-chain", prefix);
	ok = http_do(port, "POST", path, NULL, body, strlen(body), &r) == 0 && r.status == 200;
	if (!ok)
		fprintf(stderr, "add-chain failed\n");
	else
		http_resp_free(&r);
	free(body);
	pki_free(leaf);
	return ok ? 0 : -1;
}

static void add_n(struct fx *f, uint16_t port, const char *prefix, const char *cn, int n)
{
	assert_int_equal(witlog_add(&f->wl, port, prefix, cn, n), 0);
}

static uint64_t sth_size(uint16_t port, const char *prefix)
{
	uint64_t size = 0;

	assert_int_equal(witlog_sth_size(port, prefix, &size), 0);
	return size;
}

/* A checkpoint as read and checked against the policy. */
struct cpck {
	int status;        /* HTTP status of /checkpoint */
	uint64_t size;
	int check;         /* tpolicy_check's result */
	size_t cosigned;   /* witnesses whose cosignature verified */
};

static void check_bytes(const struct fx *f, const uint8_t *b, size_t len, struct cpck *out)
{
	struct note_checkpoint nc;
	const char *why = NULL;

	assert_int_equal(note_parse_checkpoint(&nc, b, len), 0);
	out->size = nc.tree_size;
	out->check = tpolicy_check(f->pol, &nc, &out->cosigned, &why);
}

static void get_cp(const struct fx *f, uint16_t port, const char *prefix, struct cpck *out)
{
	char path[128];
	struct http_resp r;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "%s/checkpoint", prefix);
	assert_int_equal(http_do(port, "GET", path, NULL, NULL, 0, &r), 0);
	out->status = r.status;
	if (r.status == 200)
		check_bytes(f, r.body, r.body_len, out);
	http_resp_free(&r);
}

/* wait_cp: polls until the checkpoint is of |size| (or more) and its
 * tpolicy_check gives |want|; fails after WAIT_MS. */
static struct cpck wait_cp(const struct fx *f, uint16_t port, const char *prefix, uint64_t size,
			   int want)
{
	uint64_t end = witlog_ms() + WAIT_MS;
	struct cpck c;

	for (;;) {
		get_cp(f, port, prefix, &c);
		if (c.status == 200 && c.size >= size && c.check == want)
			return c;
		if (witlog_ms() > end)
			fail_msg("checkpoint never reached size %llu with check %d (status %d, size "
				 "%llu, check %d, cosigned %zu)", (unsigned long long)size, want,
				 c.status, (unsigned long long)c.size, c.check, c.cosigned);
		witlog_nap(50);
	}
}

/* metric: the value of the sample |sample| (name and labels, then a space) */
static double metric(uint16_t port, const char *sample)
{
	char name[256];
	size_t n = strlen(sample);

	assert_true(n > 1 && n < sizeof(name) && sample[n - 1] == ' ');
	memcpy(name, sample, n - 1);
	name[n - 1] = '\0';
	return witlog_metric(port, name);
}

static json_t *get_json(uint16_t port, const char *path, int *status)
{
	struct http_resp r;
	json_error_t e;
	json_t *j;

	assert_int_equal(http_do(port, "GET", path, NULL, NULL, 0, &r), 0);
	*status = r.status;
	j = json_loadb((const char *)r.body, r.body_len, 0, &e);
	http_resp_free(&r);
	assert_non_null(j);
	return j;
}

/* --- under load --------------------------------------------------------------------- */

struct loader {
	struct fx *f;
	uint16_t port;
	int id, n, failed;
	int done; /* atomic */
};

static void *load_thread(void *arg)
{
	struct loader *l = arg;
	char cn[64];

	snprintf(cn, sizeof(cn), "load%d.witness.test", l->id);
	for (int i = 0; i < l->n; i++)
		if (add_one(l->port, "/wl", l->f->wl.ca, cn, l->id * 1000 + i) != 0)
			l->failed++;
	__atomic_store_n(&l->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void test_quorum_under_load_and_publish(void **state)
{
	struct fx f;
	pthread_t th[4];
	struct loader ld[4];
	struct cpck c, last = {0};
	size_t reads = 0, sizes = 0;
	uint64_t size;
	int status;
	json_t *info, *w;

	(void)state;
	fx_setup(&f);
	{
		char extra[256];
		snprintf(extra, sizeof(extra), "    publish: {dir: %s}\n    sct_after: publish\n",
			 f.pub);
		fx_logd(&f, extra);
	}
	/* /mn/v1/info states the mode */
	info = get_json(f.logd.port, "/wl/mn/v1/info", &status);
	assert_int_equal(status, 200);
	w = json_object_get(info, "witness");
	assert_non_null(w);
	assert_string_equal(json_string_value(json_object_get(w, "mode")), "wait");
	assert_int_equal(json_integer_value(json_object_get(w, "timeout_ms")), 5000);
	assert_string_equal(json_string_value(json_object_get(w, "quorum")), "all");
	assert_int_equal(json_array_size(json_object_get(w, "witnesses")), 3);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(w, "witnesses"), 1), "vkey")),
			    f.w[1].vkey);
	json_decref(info);

	wait_cp(&f, f.logd.port, "/wl", 1, 0);
	for (int i = 0; i < 4; i++) {
		ld[i] = (struct loader){&f, f.logd.port, i + 1, 40, 0, 0};
		assert_int_equal(pthread_create(&th[i], NULL, load_thread, &ld[i]), 0);
	}
	/* while the load runs: every served checkpoint has the quorum, and
	 * sizes never go back */
	for (;;) {
		int running = 0;
		for (int i = 0; i < 4; i++)
			running |= !__atomic_load_n(&ld[i].done, __ATOMIC_SEQ_CST);
		get_cp(&f, f.logd.port, "/wl", &c);
		assert_int_equal(c.status, 200);
		if (c.check != 0)
			fail_msg("served checkpoint of size %llu fails the policy: %d (cosigned %zu)",
				 (unsigned long long)c.size, c.check, c.cosigned);
		assert_true(c.cosigned >= 2);
		assert_true(c.size >= last.size);
		sizes += c.size > last.size;
		last = c;
		reads++;
		if (!running)
			break;
		witlog_nap(20);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(ld[i].failed, 0);
	}
	size = sth_size(f.logd.port, "/wl");
	assert_true(size >= 160);
	c = wait_cp(&f, f.logd.port, "/wl", size, 0);
	assert_int_equal(c.size, size);
	fprintf(stderr, "load: %zu checkpoint reads, %zu sizes, final %llu\n", reads, sizes,
		(unsigned long long)size);
	assert_true(sizes >= 2);

	/* the publisher uploads the witnessed checkpoint */
	{
		char path[200];
		uint64_t end = witlog_ms() + WAIT_MS;
		snprintf(path, sizeof(path), "%s/checkpoint", f.pub);
		for (;;) {
			size_t len = 0;
			uint8_t *b = (uint8_t *)tf_read(path, &len);
			struct cpck pc = {0};
			if (b != NULL) {
				check_bytes(&f, b, len, &pc);
				free(b);
				assert_int_equal(pc.check, 0);
				assert_true(pc.cosigned >= 2);
			}
			if (b != NULL && pc.size == size)
				break;
			assert_true(witlog_ms() < end);
			witlog_nap(50);
		}
	}
	/* sct_after: publish: an SCT comes back only once a witnessed checkpoint
	 * covering its entry is stored */
	{
		int64_t now = pki_now();
		const char *dns[1] = {"held.witness.test"};
		struct pki_cert *leaf = pki_issue(f.wl.ca, "held.witness.test", dns, 1, 0, now - 60,
						  now + 86400);
		const struct pki_cert *chain[2] = {leaf, f.wl.ca};
		char *body = ctc_chain_json(chain, 2), path[200];
		struct ct_verifier *v = ct_verifier_new(f.logd.spki, f.logd.spki_len);
		struct ctc_sct sct;
		struct http_resp r;
		size_t len = 0;
		uint8_t *b;
		struct cpck pc = {0};

		assert_non_null(v);
		assert_int_equal(http_do(f.logd.port, "POST", "/wl/ct/v1/add-chain", NULL, body,
					 strlen(body), &r), 0);
		assert_int_equal(r.status, 200);
		assert_int_equal(ctc_parse_sct(v, r.body, r.body_len, leaf->der, leaf->der_len,
					       &sct), 0);
		assert_true(sct.has_index);
		snprintf(path, sizeof(path), "%s/checkpoint", f.pub);
		b = (uint8_t *)tf_read(path, &len);
		assert_non_null(b);
		check_bytes(&f, b, len, &pc);
		assert_int_equal(pc.check, 0);
		assert_true(pc.size > sct.index);
		free(b);
		http_resp_free(&r);
		free(body);
		ct_verifier_free(v);
		pki_free(leaf);
	}
	assert_true(metric(f.logd.port, "mn_witness_cosignatures_total{log=\"wl\",witness=\"w1\"} ")
		    + metric(f.logd.port, "mn_witness_cosignatures_total{log=\"wl\",witness=\"w2\"} ")
		    >= 2);
	size = sth_size(f.logd.port, "/wl");
	wait_cp(&f, f.logd.port, "/wl", size, 0);
	assert_true(metric(f.logd.port, "mn_witness_served_size{log=\"wl\"} ") == (double)size);
	fx_teardown(&f);
}

/* --- wait mode: witnesses down ---------------------------------------------------------- */

static void test_wait_mode_witnesses_down(void **state)
{
	struct fx f;
	struct cpck c;
	uint64_t s1, s2, end;
	int status;
	json_t *j;

	(void)state;
	fx_setup(&f);
	fx_logd(&f, "    mmd: 3\n    witness_mode: wait\n    witness_timeout: 1s\n");
	wait_cp(&f, f.logd.port, "/wl", 1, 0);

	/* one down: the quorum is still met */
	assert_int_equal(witproc_stop(&f.w[2], SIGKILL), 128 + SIGKILL);
	add_n(&f, f.logd.port, "/wl", "one.witness.test", 5);
	s1 = sth_size(f.logd.port, "/wl");
	c = wait_cp(&f, f.logd.port, "/wl", s1, 0);
	assert_int_equal(c.size, s1);
	assert_int_equal(c.cosigned, 2);

	/* two down: get-sth grows, the served checkpoint does not */
	assert_int_equal(witproc_stop(&f.w[1], SIGKILL), 128 + SIGKILL);
	add_n(&f, f.logd.port, "/wl", "two.witness.test", 5);
	s2 = sth_size(f.logd.port, "/wl");
	assert_true(s2 > s1);
	end = witlog_ms() + 2000;
	while (witlog_ms() < end) {
		get_cp(&f, f.logd.port, "/wl", &c);
		assert_int_equal(c.status, 200);
		assert_int_equal(c.size, s1);
		assert_int_equal(c.check, 0);
		witlog_nap(100);
	}
	assert_true(metric(f.logd.port, "mn_witness_failures_total{log=\"wl\",witness=\"w2\","
			   "reason=\"connect\"} ") > 0);
	assert_true(metric(f.logd.port, "mn_witness_lag_entries{log=\"wl\"} ") ==
		    (double)(s2 - s1));
	assert_true(file_contains(f.err, "witness=w2"));
	/* /readyz: not ready once the served checkpoint is an MMD old */
	end = witlog_ms() + WAIT_MS;
	for (;;) {
		j = get_json(f.logd.port, "/readyz", &status);
		const char *reason = json_string_value(json_object_get(
			json_array_get(json_object_get(j, "logs"), 0), "reason"));
		int hit = status == 503 && reason != NULL && strstr(reason, "witness") != NULL;
		json_decref(j);
		if (hit)
			break;
		assert_true(witlog_ms() < end);
		witlog_nap(100);
	}

	/* a witness comes back: the next checkpoint is witnessed, ready again */
	assert_int_equal(witproc_restart(&f.w[1]), 0);
	c = wait_cp(&f, f.logd.port, "/wl", s2, 0);
	assert_true(c.cosigned >= 2);
	end = witlog_ms() + WAIT_MS;
	for (;;) {
		j = get_json(f.logd.port, "/readyz", &status);
		json_decref(j);
		if (status == 200)
			break;
		assert_true(witlog_ms() < end);
		witlog_nap(100);
	}

	/* logd restarts: it does not know what the witnesses cosigned, asks
	 * with old 0, learns their sizes from the 409s and is witnessed again
	 * (a 409 resolved so is not a failure) */
	assert_int_equal(logd_stop(&f.logd, SIGTERM), 0);
	{
		const char *args[] = {"--config", f.cfg, NULL};
		assert_int_equal(logd_start_stderr(&f.logd, args, f.err), 0);
	}
	add_n(&f, f.logd.port, "/wl", "restart.witness.test", 2);
	c = wait_cp(&f, f.logd.port, "/wl", sth_size(f.logd.port, "/wl"), 0);
	assert_int_equal(c.cosigned, 2);
	assert_true(metric(f.logd.port, "mn_witness_cosignatures_total{log=\"wl\","
			   "witness=\"w1\"} ") >= 1);
	assert_true(metric(f.logd.port, "mn_witness_failures_total{log=\"wl\",witness=\"w1\","
			   "reason=\"conflict\"} ") == 0);
	fx_teardown(&f);
}

/* --- fail-open ------------------------------------------------------------------------------ */

/* mnctl_sth: `mnctl sth --witness-policy POLICY --witness-wait 0` against the
 * log at |port|/|prefix|, its exit code: the client's view of what the log
 * serves (0 covered by the quorum, 6 not). */
static int mnctl_sth(struct fx *f, uint16_t port, const char *prefix)
{
	return witlog_mnctl_sth(&f->wl, port, prefix, f->policy, "0");
}

static void test_fail_open(void **state)
{
	struct fx f;
	struct cpck c;
	uint64_t s1, s2;
	int status;
	json_t *info;

	(void)state;
	fx_setup(&f);
	fx_logd(&f, "    witness_mode: fail-open\n    witness_timeout: 500ms\n");
	info = get_json(f.logd.port, "/wl/mn/v1/info", &status);
	assert_string_equal(json_string_value(json_object_get(json_object_get(info, "witness"),
							     "mode")), "fail-open");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(info, "witness"),
							   "timeout_ms")), 500);
	json_decref(info);
	wait_cp(&f, f.logd.port, "/wl", 1, 0);
	assert_int_equal(metric(f.logd.port, "mn_witness_unwitnessed_total{log=\"wl\"} "), 0);

	witproc_stop(&f.w[1], SIGKILL);
	witproc_stop(&f.w[2], SIGKILL);
	add_n(&f, f.logd.port, "/wl", "open.witness.test", 4);
	s1 = sth_size(f.logd.port, "/wl");
	/* published without the quorum: only w1 cosigned it */
	c = wait_cp(&f, f.logd.port, "/wl", s1, MN_ENOTFOUND);
	assert_int_equal(c.size, s1);
	assert_int_equal(c.cosigned, 1);
	assert_true(metric(f.logd.port, "mn_witness_unwitnessed_total{log=\"wl\"} ") >= 1);
	assert_true(file_contains(f.err, "fail-open"));
	/* a client with the policy refuses what fail-open published */
	assert_int_equal(mnctl_sth(&f, f.logd.port, "/wl"), 6);

	/* one back: the next checkpoint is witnessed again */
	assert_int_equal(witproc_restart(&f.w[2]), 0);
	add_n(&f, f.logd.port, "/wl", "back.witness.test", 2);
	s2 = sth_size(f.logd.port, "/wl");
	c = wait_cp(&f, f.logd.port, "/wl", s2, 0);
	assert_true(c.cosigned >= 2);
	assert_int_equal(mnctl_sth(&f, f.logd.port, "/wl"), 0);
	fx_teardown(&f);
}

/* --- a forked log ------------------------------------------------------------------------- */

static void copy_file(const char *from, const char *to)
{
	size_t len = 0;
	char *b = tf_read(from, &len);
	FILE *o;

	assert_non_null(b);
	o = fopen(to, "wb");
	assert_non_null(o);
	assert_int_equal(fwrite(b, 1, len, o), len);
	fclose(o);
	free(b);
}

static void test_forked_log(void **state)
{
	struct fx f;
	struct logd_proc b;
	char bdata[160], berr[160], from[200], to[200];
	struct cpck c;
	uint64_t end, sa;

	(void)state;
	fx_setup(&f);
	fx_logd(&f, "");
	add_n(&f, f.logd.port, "/wl", "a.witness.test", 3);
	wait_cp(&f, f.logd.port, "/wl", sth_size(f.logd.port, "/wl"), 0);

	/* the fork: the same keys, other entries */
	snprintf(bdata, sizeof(bdata), "%s/bdata", f.wl.dir);
	snprintf(berr, sizeof(berr), "%s/b.err", f.wl.dir);
	assert_int_equal(mkdir(bdata, 0700), 0);
	static const char *const keys[] = {"log-key.pem", "note-key.pem", "vrf-key.pem"};
	for (int i = 0; i < 3; i++) {
		snprintf(from, sizeof(from), "%s/%s", f.wl.data, keys[i]);
		snprintf(to, sizeof(to), "%s/%s", bdata, keys[i]);
		copy_file(from, to);
	}
	{
		const char *args[] = {"--data", bdata, "--tls-roots", f.wl.roots, "--origin", ORIGIN,
				      "--witness-policy", f.policy, "--witness-timeout", "1000",
				      NULL};
		assert_int_equal(logd_start_stderr(&b, args, berr), 0);
	}
	assert_true(strstr(b.log_line, f.wl.vkey) != NULL); /* the same note key */
	add_n(&f, b.port, "", "b.witness.test", 6);
	/* both go on; only A's checkpoints are ever served */
	end = witlog_ms() + 3000;
	while (witlog_ms() < end) {
		add_n(&f, f.logd.port, "/wl", "a2.witness.test", 1);
		add_n(&f, b.port, "", "b2.witness.test", 1);
		get_cp(&f, b.port, "", &c);
		assert_int_equal(c.status, 404);
		witlog_nap(100);
	}
	sa = sth_size(f.logd.port, "/wl");
	wait_cp(&f, f.logd.port, "/wl", sa, 0);
	get_cp(&f, b.port, "", &c);
	assert_int_equal(c.status, 404);
	assert_true(metric(b.port, "mn_witness_cosignatures_total{witness=\"w1\"} ") == 0);
	assert_true(metric(b.port, "mn_witness_failures_total{witness=\"w1\",reason=\"conflict\"} ")
		    + metric(b.port, "mn_witness_failures_total{witness=\"w1\","
				     "reason=\"bad_proof\"} ") > 0);
	assert_true(file_contains(berr, "reason=conflict") || file_contains(berr, "reason=bad_proof"));
	assert_true(file_contains(berr, "witness=w1"));
	/* a client of the fork (its STH signed by the same key) finds no
	 * checkpoint a quorum cosigned; a client of A does */
	assert_int_equal(mnctl_sth(&f, b.port, ""), 6);
	assert_int_equal(mnctl_sth(&f, f.logd.port, "/wl"), 0);
	logd_stop(&b, SIGTERM);
	fx_teardown(&f);
}

/* witness_interval: under a steady stream of commits (an STH every few ms,
 * which without it makes a round each time: about 300 a second here), rounds
 * start no more often than the interval, and the last commit is still
 * witnessed. */
static void test_interval(void **state)
{
	struct fx f;
	uint64_t start, elapsed, end_size;
	double rounds;
	int status;
	json_t *info;

	(void)state;
	fx_setup(&f);
	fx_logd(&f, "    witness_interval: 700ms\n");
	info = get_json(f.logd.port, "/wl/mn/v1/info", &status);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(info, "witness"),
							   "interval_ms")), 700);
	json_decref(info);
	wait_cp(&f, f.logd.port, "/wl", 1, 0);
	start = witlog_ms();
	while (witlog_ms() < start + 2500)
		add_n(&f, f.logd.port, "/wl", "interval.witness.test", 1);
	end_size = sth_size(f.logd.port, "/wl");
	wait_cp(&f, f.logd.port, "/wl", end_size, 0);
	elapsed = witlog_ms() - start;
	/* w1's cosignatures: the first checkpoint's, then at most one per 700 ms
	 * (a 409 retry is the same round), so about elapsed / 700 + 2 */
	rounds = metric(f.logd.port, "mn_witness_cosignatures_total{log=\"wl\",witness=\"w1\"} ");
	fprintf(stderr, "interval: %.0f cosignatures by w1 in %llu ms, tree size %llu\n", rounds,
		(unsigned long long)elapsed, (unsigned long long)end_size);
	assert_true(end_size > 20); /* many commits, so many STHs */
	assert_true(rounds >= 2);
	assert_true(rounds <= (double)elapsed / 700.0 + 2.0);
	fx_teardown(&f);
}

/* "quorum none": nothing to wait for, every checkpoint is served at once */
static void test_quorum_none(void **state)
{
	struct fx f;
	struct cpck c;
	FILE *p;

	(void)state;
	fx_setup(&f);
	p = fopen(f.policy, "w");
	assert_non_null(p);
	fprintf(p, "log %s\nquorum none\n", f.wl.vkey);
	fclose(p);
	tpolicy_free(f.pol);
	{
		char err[512];
		assert_int_equal(tpolicy_load(&f.pol, f.policy, 0, err, sizeof(err)), 0);
	}
	fx_logd(&f, "");
	add_n(&f, f.logd.port, "/wl", "none.witness.test", 2);
	c = wait_cp(&f, f.logd.port, "/wl", sth_size(f.logd.port, "/wl"), 0);
	assert_int_equal(c.cosigned, 0);
	fx_teardown(&f);
}

/* --- configuration ---------------------------------------------------------------------- */

static void test_policy_without_url(void **state)
{
	char dir[64] = "/tmp/mn-witness-XXXXXX", pol[128], cmd[512], *out = NULL, *err = NULL;
	char vkey[NOTE_MAX_VKEY + 1];
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	struct cosigner *cs;

	(void)state;
	assert_non_null(k);
	cs = cosigner_new(k, "w1.test", 7);
	assert_non_null(cs);
	assert_non_null(mkdtemp(dir));
	snprintf(pol, sizeof(pol), "%s/policy", dir);
	{
		FILE *p = fopen(pol, "w");
		assert_non_null(p);
		fprintf(p, "witness w1 %s\nquorum w1\n", cosigner_vkey(cs));
		fclose(p);
	}
	snprintf(vkey, sizeof(vkey), "%s", cosigner_vkey(cs));
	cosigner_free(cs);
	EVP_PKEY_free(k);
	snprintf(cmd, sizeof(cmd), "%s/logd --listen 127.0.0.1:0 --data %s/d --witness-policy %s",
		 getenv("MN_BUILD") != NULL ? getenv("MN_BUILD") : "build", dir, pol);
	assert_int_not_equal(tf_run(dir, NULL, cmd, &out, &err), 0);
	assert_non_null(err);
	assert_non_null(strstr(err, "has no URL"));
	free(out);
	free(err);
	/* nor one logd cannot POST to */
	{
		FILE *p = fopen(pol, "w");
		assert_non_null(p);
		fprintf(p, "witness w1 %s ftp://w1.test/\nquorum w1\n", vkey);
		fclose(p);
	}
	assert_int_not_equal(tf_run(dir, NULL, cmd, &out, &err), 0);
	assert_non_null(strstr(err, "witness w1 has no URL (witness NAME VKEY URL, http://"));
	free(out);
	free(err);
	rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quorum_under_load_and_publish),
		cmocka_unit_test(test_wait_mode_witnesses_down),
		cmocka_unit_test(test_fail_open),
		cmocka_unit_test(test_forked_log),
		cmocka_unit_test(test_interval),
		cmocka_unit_test(test_quorum_none),
		cmocka_unit_test(test_policy_without_url),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
