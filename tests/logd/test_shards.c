/* test_shards.c: logd --config serving several logs (DESIGN.md section 9).
 *
 * One logd with six logs, all tls with one test PKI:
 *   w0, w1, w2   consecutive NotAfter windows (w1 without the lookup map;
 *                relative to now, so the test does not rot: [now-180d,
 *                now+30d), [now+30d, now+210d), [now+210d, now+390d); in December 2026 these are the
 *                2026h2 / 2027h1 / 2027h2 shards of a real operator);
 *   old          a window that ended a year ago (grace 0): frozen;
 *   tiny         no window, a pool (max_queue) of 1;
 *   any          no window, every certificate.
 * and checks: a certificate lands only in the shard of its NotAfter (the
 * others answer 400 notAfterOutOfWindow naming the window), an expired one
 * inside a window is accepted, each SCT verifies under its own shard's key
 * and not another's; add-pgp to a tls-only shard is 400 classNotAccepted; the
 * frozen shard answers 410 and still serves get-sth; a burst at the tiny pool
 * gets 503 + Retry-After and every acknowledged entry is in the tree;
 * /healthz, /readyz and /metrics (one # TYPE per family, log="..." labels).
 * Then a read-only restart: a log filled while open is restarted read-only:
 * adds get 403, get-sth is the same STH (never re-signed), get-entries and
 * lookup still answer. Last, /readyz going 503 for an open log whose STH
 * gets older than its MMD (a router in-process over a store nobody re-signs). */
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
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "api/api.h"
#include "common/b64.h"
#include "common/err.h"
#include "entry/ct.h"
#include "logd/keys.h"
#include "logd/router.h"
#include "logd/sequencer.h"
#include "storage/storage.h"
#include "tests/lib/ctclient.h"
#include "tests/lib/pki.h"
#include "tests/lib/promcheck.h"
#include "tests/lib/proc.h"

#define DAY 86400
#define NSHARD 6
static const char *const names[NSHARD] = {"w0", "w1", "w2", "old", "tiny", "any"};

static struct {
	char dir[64];
	struct logd_proc logd;
	struct pki_cert *root, *ca;
	struct ct_verifier *v[NSHARD];
	int64_t now;
} T;

static void fmt_time(char out[32], int64_t secs)
{
	time_t t = (time_t)secs;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int write_config(const char *path, const char *dir, int ro_state)
{
	FILE *f = fopen(path, "w");
	char a[32], b[32], c[32], d[32], o1[32], o2[32];
	int64_t now = T.now;

	if (f == NULL)
		return -1;
	fmt_time(a, now - 180 * DAY);
	fmt_time(b, now + 30 * DAY);
	fmt_time(c, now + 210 * DAY);
	fmt_time(d, now + 390 * DAY);
	fmt_time(o1, now - 545 * DAY);
	fmt_time(o2, now - 365 * DAY);
	fprintf(f, "listen: 127.0.0.1:0\nthreads: 2\nlogs:\n");
	const char *lo[3] = {a, b, c}, *hi[3] = {b, c, d};
	for (int i = 0; i < 3; i++)
		fprintf(f, "  - name: %s\n    data: %s/%s\n    classes: [tls]\n"
			"    roots: {tls: %s/roots.pem}\n"
			"    not_after: {start: %s, limit: %s}\n    mmd: 60\n    state: open\n%s",
			names[i], dir, names[i], dir, lo[i], hi[i],
			i == 1 ? "    map: false\n" : "");
	fprintf(f, "  - name: old\n    data: %s/old\n    classes: [tls]\n"
		"    roots: {tls: %s/roots.pem}\n    not_after: {start: %s, limit: %s}\n"
		"    grace: 0\n", dir, dir, o1, o2);
	fprintf(f, "  - name: tiny\n    data: %s/tiny\n    classes: [tls]\n"
		"    roots: {tls: %s/roots.pem}\n    max_queue: 1\n", dir, dir);
	fprintf(f, "  - name: any\n    data: %s/any\n    classes: [tls, policy]\n"
		"    roots: {tls: %s/roots.pem}\n    state: %s\n", dir, dir,
		ro_state ? "read-only" : "open");
	return fclose(f) == 0 ? 0 : -1;
}

/* keys_from_line: one verifier per log from logd's {"logs":[...]} line. */
static int keys_from_line(const char *line, struct ct_verifier **v)
{
	json_error_t e;
	json_t *j = json_loads(line, 0, &e), *logs = json_object_get(j, "logs");
	int ok = json_array_size(logs) == NSHARD;

	for (size_t i = 0; ok && i < NSHARD; i++) {
		json_t *k = json_object_get(json_array_get(logs, i), "key");
		uint8_t *spki = NULL;
		size_t len;
		ok = json_is_string(k) &&
		     mn_b64_decode(&spki, &len, json_string_value(k), json_string_length(k), 1024) == 0;
		if (ok) {
			v[i] = ct_verifier_new(spki, len);
			ok = v[i] != NULL;
		}
		free(spki);
	}
	json_decref(j);
	return ok ? 0 : -1;
}

static int setup(void **state)
{
	char path[128], cfg[128];
	const struct pki_cert *rs[1];
	const char *args[] = {"--config", cfg, NULL};

	(void)state;
	T.now = pki_now();
	snprintf(T.dir, sizeof(T.dir), "/tmp/mn-shards-XXXXXX");
	if (mkdtemp(T.dir) == NULL)
		return -1;
	T.root = pki_root("Shard Root", 0);
	T.ca = pki_issue(T.root, "Shard CA", NULL, 0, PKI_CA, T.now - DAY, T.now + 3650 * DAY);
	rs[0] = T.root;
	snprintf(path, sizeof(path), "%s/roots.pem", T.dir);
	snprintf(cfg, sizeof(cfg), "%s/logd.yaml", T.dir);
	if (T.ca == NULL || pki_write_pem(path, rs, 1) != 0 || write_config(cfg, T.dir, 0) != 0 ||
	    logd_start(&T.logd, args) != 0 || keys_from_line(T.logd.log_line, T.v) != 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	logd_stop(&T.logd, SIGTERM);
	for (int i = 0; i < NSHARD; i++)
		ct_verifier_free(T.v[i]);
	pki_free(T.ca);
	pki_free(T.root);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", T.dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct pki_cert *leaf(const char *dns, int64_t not_before, int64_t not_after)
{
	const char *d[1] = {dns};
	return pki_issue(T.ca, dns, d, 1, 0, not_before, not_after);
}

static int post(uint16_t port, const char *log, const char *ep, const char *body,
		struct http_resp *r)
{
	char target[128];
	snprintf(target, sizeof(target), "/%s/%s", log, ep);
	return http_do(port, "POST", target, "Content-Type: application/json\r\n", body,
		       strlen(body), r);
}

static int get(uint16_t port, const char *log, const char *ep, struct http_resp *r)
{
	char target[512];
	if (log != NULL)
		snprintf(target, sizeof(target), "/%s/%s", log, ep);
	else
		snprintf(target, sizeof(target), "/%s", ep);
	return http_do(port, "GET", target, NULL, NULL, 0, r);
}

static int has_code(const struct http_resp *r, const char *code)
{
	json_error_t e;
	json_t *j = json_loadb((const char *)r->body, r->body_len, 0, &e);
	int ok = ctc_json_error(r->body, r->body_len) &&
		 strcmp(json_string_value(json_object_get(j, "error_code")), code) == 0;
	json_decref(j);
	return ok;
}

/* A certificate lands in exactly the shard of its NotAfter. */
static void test_windows(void **state)
{
	struct {
		int64_t nb, na;
		int shard; /* index into names, or -1 for none of w0..w2 */
	} cases[] = {
		{T.now - DAY, T.now + 10 * DAY, 0},
		{T.now - 200 * DAY, T.now - 10 * DAY, 0}, /* expired, inside w0's window */
		{T.now - DAY, T.now + 100 * DAY, 1},
		{T.now - DAY, T.now + 300 * DAY, 2},
		{T.now - DAY, T.now + 30 * DAY, 1},       /* w0's limit is exclusive */
		{T.now - DAY, T.now + 500 * DAY, -1},     /* after every window */
	};
	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		char dns[64];
		snprintf(dns, sizeof(dns), "w%zu.shards.example", c);
		struct pki_cert *l = leaf(dns, cases[c].nb, cases[c].na);
		const struct pki_cert *chain[2] = {l, T.ca};
		char *body = ctc_chain_json(chain, 2);
		assert_non_null(body);
		for (int s = 0; s < 3; s++) {
			struct http_resp r;
			struct ctc_sct ts;
			assert_int_equal(post(T.logd.port, names[s], "ct/v1/add-chain", body, &r), 0);
			if (s == cases[c].shard) {
				assert_int_equal(r.status, 200);
				assert_int_equal(ctc_parse_sct(T.v[s], r.body, r.body_len, l->der,
							       l->der_len, &ts), 0);
				/* and not under another shard's key */
				assert_int_not_equal(ctc_parse_sct(T.v[(s + 1) % 3], r.body, r.body_len,
								   l->der, l->der_len, &ts), 0);
			} else {
				assert_int_equal(r.status, 400);
				assert_true(has_code(&r, "notAfterOutOfWindow"));
				assert_non_null(strstr((const char *)r.body, "window ["));
			}
			http_resp_free(&r);
		}
		free(body);
		pki_free(l);
	}
}

/* A class the log does not take: 400 naming the log's classes. */
static void test_class_not_accepted(void **state)
{
	struct http_resp r;

	(void)state;
	assert_int_equal(post(T.logd.port, "w0", "mn/v1/add-pgp", "{}", &r), 0);
	assert_int_equal(r.status, 400);
	assert_true(has_code(&r, "classNotAccepted"));
	assert_non_null(strstr((const char *)r.body, "accepts: tls"));
	http_resp_free(&r);
	assert_int_equal(post(T.logd.port, "w1", "mn/v1/add-policy", "{\"jws\":\"x\"}", &r), 0);
	assert_int_equal(r.status, 400);
	assert_true(has_code(&r, "classNotAccepted"));
	http_resp_free(&r);
}

static void test_frozen(void **state)
{
	struct pki_cert *l = leaf("frozen.shards.example", T.now - 400 * DAY, T.now - 370 * DAY);
	const struct pki_cert *chain[2] = {l, T.ca};
	char *body = ctc_chain_json(chain, 2);
	struct http_resp r;

	(void)state;
	assert_int_equal(post(T.logd.port, "old", "ct/v1/add-chain", body, &r), 0);
	assert_int_equal(r.status, 410);
	assert_true(has_code(&r, "frozen"));
	http_resp_free(&r);
	assert_int_equal(get(T.logd.port, "old", "ct/v1/get-sth", &r), 0);
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	free(body);
	pki_free(l);
}

/* --- back-pressure -------------------------------------------------------- */

#define BURST 24
struct burst {
	pthread_t t;
	struct pki_cert *l;
	char *body;
	int status;
	int retry_after, json_err;
	struct ctc_sct ts;
	int sct_ok;
};

static void *burst_one(void *arg)
{
	struct burst *b = arg;
	struct http_resp r;

	if (post(T.logd.port, "tiny", "ct/v1/add-chain", b->body, &r) != 0)
		return NULL;
	b->status = r.status;
	b->retry_after = strstr(r.headers, "Retry-After: ") != NULL;
	b->json_err = r.status != 200 && has_code(&r, "busy");
	if (r.status == 200)
		b->sct_ok = ctc_parse_sct(T.v[4], r.body, r.body_len, b->l->der, b->l->der_len,
					  &b->ts) == 0;
	http_resp_free(&r);
	return NULL;
}

static void test_pool_full(void **state)
{
	static struct burst b[BURST];
	int busy = 0, ok = 0, round;
	struct http_resp r;
	struct ctc_sth sth;

	(void)state;
	for (round = 0; round < 30 && busy == 0; round++) {
		for (int i = 0; i < BURST; i++) {
			char dns[64];
			const struct pki_cert *chain[2];
			memset(&b[i], 0, sizeof(b[i]));
			snprintf(dns, sizeof(dns), "b%d-%d.tiny.example", round, i);
			b[i].l = leaf(dns, T.now - DAY, T.now + 90 * DAY);
			chain[0] = b[i].l;
			chain[1] = T.ca;
			b[i].body = ctc_chain_json(chain, 2);
			assert_non_null(b[i].body);
		}
		for (int i = 0; i < BURST; i++)
			assert_int_equal(pthread_create(&b[i].t, NULL, burst_one, &b[i]), 0);
		for (int i = 0; i < BURST; i++)
			pthread_join(b[i].t, NULL);
		assert_int_equal(get(T.logd.port, "tiny", "ct/v1/get-sth", &r), 0);
		assert_int_equal(r.status, 200);
		assert_int_equal(ctc_parse_sth(T.v[4], r.body, r.body_len, &sth), 0);
		http_resp_free(&r);
		for (int i = 0; i < BURST; i++) {
			if (b[i].status == 503) {
				busy++;
				assert_true(b[i].retry_after);
				assert_true(b[i].json_err);
			} else {
				/* every acknowledged entry is in the tree */
				uint8_t lh[32];
				char hb[64], target[256];
				assert_int_equal(b[i].status, 200);
				assert_true(b[i].sct_ok);
				ok++;
				assert_int_equal(ctc_x509_leaf_hash(b[i].l->der, b[i].l->der_len,
								    &b[i].ts, lh), 0);
				/* percent-encode '+', '/', '=' */
				{
					char enc[128];
					size_t o = 0;
					mn_b64_encode(hb, lh, 32);
					for (char *p = hb; *p && o < sizeof(enc) - 4; p++) {
						if (*p == '+' || *p == '/' || *p == '=')
							o += (size_t)snprintf(enc + o, sizeof(enc) - o,
									      "%%%02X", *p);
						else
							enc[o++] = *p;
					}
					enc[o] = '\0';
					snprintf(target, sizeof(target),
						 "ct/v1/get-proof-by-hash?hash=%s&tree_size=%llu", enc,
						 (unsigned long long)sth.size);
				}
				assert_int_equal(get(T.logd.port, "tiny", target, &r), 0);
				assert_int_equal(r.status, 200);
				http_resp_free(&r);
			}
			free(b[i].body);
			pki_free(b[i].l);
		}
	}
	print_message("pool of 1: %d accepted, %d busy (503) in %d bursts of %d\n", ok, busy,
		      round, BURST);
	assert_true(busy > 0);
	assert_true(ok > 0);
}

/* --- process endpoints ---------------------------------------------------- */

static void test_health_metrics(void **state)
{
	struct http_resp r;
	const char *p;
	int n = 0;

	(void)state;
	assert_int_equal(get(T.logd.port, NULL, "healthz", &r), 0);
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	assert_int_equal(get(T.logd.port, NULL, "readyz", &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr((const char *)r.body, "\"ready\":true}"));
	assert_non_null(strstr((const char *)r.body, "\"name\":\"tiny\""));
	http_resp_free(&r);
	assert_int_equal(get(T.logd.port, NULL, "metrics", &r), 0);
	assert_int_equal(r.status, 200);
	for (p = (const char *)r.body; (p = strstr(p, "# TYPE mn_api_requests_total ")) != NULL; p++)
		n++;
	assert_int_equal(n, 1);
	assert_non_null(strstr((const char *)r.body, "{log=\"w0\",endpoint=\"add-chain\""));
	assert_non_null(strstr((const char *)r.body, "{log=\"tiny\""));
	n = 0;
	for (p = (const char *)r.body; (p = strstr(p, "# TYPE mn_http_connections_total ")) != NULL;
	     p++)
		n++;
	assert_int_equal(n, 1);
	/* the whole exposition, every log's families with their labels, is
	 * valid for an implementation we did not write */
	assert_int_equal(promcheck((const char *)r.body, r.body_len), 0);
	http_resp_free(&r);
	/* a tls-only log without the map serves plain static-ct-api data tiles;
	 * with the map (map-root leaves) it says it needs docs/tiles.md */
	assert_int_equal(get(T.logd.port, "w1", "mn/v1/info", &r), 0);
	assert_non_null(strstr((const char *)r.body, "\"data_tile_format\":\"static-ct-api-v1.1\""));
	http_resp_free(&r);
	assert_int_equal(get(T.logd.port, "w0", "mn/v1/info", &r), 0);
	assert_non_null(strstr((const char *)r.body,
			       "\"data_tile_format\":\"static-ct-api-v1.1+metanotary-1\""));
	http_resp_free(&r);
	assert_int_equal(get(T.logd.port, NULL, "nosuchlog/ct/v1/get-sth", &r), 0);
	assert_int_equal(r.status, 404);
	assert_true(ctc_json_error(r.body, r.body_len));
	http_resp_free(&r);
}

/* reloads_ok: the value of mn_reloads_total{log=NAME,result="ok"}, or -1. */
static long reloads_ok(const char *log)
{
	struct http_resp r;
	char pat[96];
	const char *p;
	long v = -1;

	if (get(T.logd.port, NULL, "metrics", &r) != 0)
		return -1;
	snprintf(pat, sizeof(pat), "\nmn_reloads_total{log=\"%s\",result=\"ok\"} ", log);
	p = strstr((const char *)r.body, pat);
	if (r.status == 200 && p != NULL)
		v = strtol(p + strlen(pat), NULL, 10);
	http_resp_free(&r);
	return v;
}

/* SIGHUP reloads every log's roots from its file: a chain to a root added to
 * the file is refused before and accepted after, by each log that reads it. */
static void test_sighup_reload(void **state)
{
	struct pki_cert *root2 = pki_root("Shard Root 2", 0);
	struct pki_cert *l = pki_issue(root2, "hup.shards.example",
				       (const char *[]){"hup.shards.example"}, 1, 0, T.now - DAY,
				       T.now + 60 * DAY);
	const struct pki_cert *chain[1] = {l}, *rs[2] = {T.root, root2};
	char *body = ctc_chain_json(chain, 1), path[128];
	struct timespec ts = {0, 2000000};
	struct http_resp r;
	long before = reloads_ok("any");

	(void)state;
	assert_non_null(body);
	assert_int_equal(post(T.logd.port, "any", "ct/v1/add-chain", body, &r), 0);
	assert_int_equal(r.status, 400);
	http_resp_free(&r);
	snprintf(path, sizeof(path), "%s/roots.pem", T.dir);
	assert_int_equal(pki_write_pem(path, rs, 2), 0);
	assert_int_equal(kill(T.logd.pid, SIGHUP), 0);
	for (int i = 0; i < 5000 && reloads_ok("any") <= before; i++)
		nanosleep(&ts, NULL);
	assert_int_equal(reloads_ok("any"), before + 1);
	assert_true(reloads_ok("w0") >= 1); /* every log reloaded */
	assert_int_equal(post(T.logd.port, "any", "ct/v1/add-chain", body, &r), 0);
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	/* back to the one root for the tests that follow */
	assert_int_equal(pki_write_pem(path, rs, 1), 0);
	before = reloads_ok("any");
	assert_int_equal(kill(T.logd.pid, SIGHUP), 0);
	for (int i = 0; i < 5000 && reloads_ok("any") <= before; i++)
		nanosleep(&ts, NULL);
	assert_int_equal(reloads_ok("any"), before + 1);
	free(body);
	pki_free(l);
	pki_free(root2);
}

/* A log filled while open, restarted read-only: 403 for adds, reads work,
 * the STH is the one it had (never re-signed). */
static void test_read_only(void **state)
{
	char cfg[128];
	const char *args[] = {"--config", cfg, NULL};
	struct pki_cert *l = leaf("ro.shards.example", T.now - DAY, T.now + 90 * DAY);
	const struct pki_cert *chain[2] = {l, T.ca};
	char *body = ctc_chain_json(chain, 2);
	struct http_resp r;
	struct ctc_sth before, after;

	(void)state;
	assert_int_equal(post(T.logd.port, "any", "ct/v1/add-chain", body, &r), 0);
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	assert_int_equal(get(T.logd.port, "any", "ct/v1/get-sth", &r), 0);
	assert_int_equal(ctc_parse_sth(T.v[5], r.body, r.body_len, &before), 0);
	http_resp_free(&r);
	assert_int_equal(logd_stop(&T.logd, SIGTERM), 0);

	snprintf(cfg, sizeof(cfg), "%s/logd.yaml", T.dir);
	assert_int_equal(write_config(cfg, T.dir, 1), 0);
	assert_int_equal(logd_start(&T.logd, args), 0);
	assert_int_equal(post(T.logd.port, "any", "ct/v1/add-chain", body, &r), 0);
	assert_int_equal(r.status, 403);
	assert_true(has_code(&r, "readOnly"));
	http_resp_free(&r);
	assert_int_equal(get(T.logd.port, "any", "ct/v1/get-sth", &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(ctc_parse_sth(T.v[5], r.body, r.body_len, &after), 0);
	http_resp_free(&r);
	assert_int_equal(after.size, before.size);
	assert_int_equal(after.ts, before.ts);
	assert_memory_equal(after.root, before.root, 32);
	assert_int_equal(get(T.logd.port, "any", "ct/v1/get-entries?start=0&end=0", &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr((const char *)r.body, "leaf_input"));
	http_resp_free(&r);
	assert_int_equal(get(T.logd.port, "any", "mn/v1/lookup?domain=ro.shards.example", &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr((const char *)r.body, "\"entries\":[{"));
	http_resp_free(&r);
	assert_int_equal(get(T.logd.port, "any", "mn/v1/info", &r), 0);
	assert_non_null(strstr((const char *)r.body, "\"state\":\"read-only\""));
	http_resp_free(&r);
	/* ready: a read-only log only needs to be readable */
	assert_int_equal(get(T.logd.port, NULL, "readyz", &r), 0);
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	free(body);
	pki_free(l);
}

/* /readyz for an open log whose STH gets older than its MMD: a router over
 * a store whose sequencer has stopped (nobody re-signs). */
static void test_readyz_stale(void **state)
{
	char dir[128], key[160];
	struct store_options so = {0};
	struct store *st = NULL;
	struct ct_signer *signer = NULL;
	struct seq *q = NULL;
	struct seq_options qo = {0};
	struct api_config ac = {0};
	struct api *api;
	struct router *rt;
	struct api_request req = {.method = API_GET, .path = "/readyz", .path_len = 7};
	struct api_response resp;
	int i;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/stale", T.dir);
	snprintf(key, sizeof(key), "%s/stale-key.pem", T.dir);
	so.dir = dir;
	assert_int_equal(store_open(&st, &so), 0);
	assert_int_equal(logd_key_load(&signer, key, 1), 0);
	assert_int_equal(seq_start(&q, st, signer, &qo), 0); /* signs the empty tree */
	seq_stop(q);
	ac.store = st;
	ac.signer = signer;
	api = api_new(&ac);
	rt = router_new(1);
	assert_non_null(api);
	assert_non_null(rt);
	assert_int_equal(router_add(rt, "stale", api, st, 1, 1, 1), 0);
	/* MMD 1 s: ready at first, then 503 once the STH is 1 s old (polls,
	 * bounded: waits for time to pass, not for another thread). */
	assert_int_equal(router_handle(rt, &req, &resp, NULL, NULL), API_DONE);
	assert_int_equal(resp.status, 200);
	api_response_free(&resp);
	for (i = 0; i < 100; i++) {
		struct timespec ts = {0, 50 * 1000 * 1000};
		assert_int_equal(router_handle(rt, &req, &resp, NULL, NULL), API_DONE);
		if (resp.status == 503)
			break;
		api_response_free(&resp);
		nanosleep(&ts, NULL);
	}
	assert_int_equal(resp.status, 503);
	assert_int_not_equal(resp.retry_after, 0);
	assert_non_null(strstr((const char *)resp.body, "\"name\":\"stale\""));
	assert_non_null(strstr((const char *)resp.body, "not younger than the MMD"));
	api_response_free(&resp);
	/* storage opened read-only: not ready either, with that reason */
	router_free(rt);
	rt = router_new(1);
	assert_int_equal(router_add(rt, "stale", api, st, 0, 3600, 1), 0);
	assert_int_equal(router_handle(rt, &req, &resp, NULL, NULL), API_DONE);
	assert_int_equal(resp.status, 503);
	assert_non_null(strstr((const char *)resp.body, "storage is read-only"));
	api_response_free(&resp);
	router_free(rt);
	api_free(api);
	ct_signer_free(signer);
	store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_windows),
		cmocka_unit_test(test_class_not_accepted),
		cmocka_unit_test(test_frozen),
		cmocka_unit_test(test_pool_full),
		cmocka_unit_test(test_health_metrics),
		cmocka_unit_test(test_sighup_reload),
		cmocka_unit_test(test_read_only),
		cmocka_unit_test(test_readyz_stale),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
