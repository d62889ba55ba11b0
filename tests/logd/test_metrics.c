/* test_metrics.c: /metrics follows the Prometheus conventions, checked by an
 * independent tool: `promtool check metrics` (Debian package prometheus) must
 * print nothing and exit 0 on
 *   - a running logd's /metrics after adds, reads and errors;
 *   - logd_metrics_write over two logs (labels log="2027h1", log="2027h2"),
 *     the exposition a multi-log logd serves: each family once, both logs'
 *     samples in it;
 * (common/prom itself: tests/common/test_prom.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/api.h"
#include "common/err.h"
#include "common/prom.h"
#include "entry/ct.h"
#include "logd/keys.h"
#include "logd/metrics.h"
#include "logd/sequencer.h"
#include "storage/storage.h"
#include "tests/lib/ctclient.h"
#include "tests/lib/mnfix.h"
#include "tests/lib/pki.h"
#include "tests/lib/promcheck.h"
#include "tests/lib/proc.h"

/* count occurrences of |needle| in |hay| */
static size_t count(const char *hay, const char *needle)
{
	size_t c = 0;

	for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
		c++;
	return c;
}

/* One log in process: a store, a sequencer, an api over them. */
struct onelog {
	struct store *st;
	struct ct_signer *signer;
	struct seq *seq;
	struct api *api;
};

static void onelog_open(struct onelog *l, const char *dir)
{
	struct store_options so = {0};
	struct api_config ac = {0};
	char key[300];

	so.dir = dir;
	assert_int_equal(store_open(&l->st, &so), 0);
	snprintf(key, sizeof(key), "%s/log-key.pem", dir);
	assert_int_equal(logd_key_load(&l->signer, key, 1), 0);
	assert_int_equal(seq_start(&l->seq, l->st, l->signer, NULL), 0);
	ac.store = l->st;
	ac.signer = l->signer;
	ac.seq = seq_api(l->seq);
	l->api = api_new(&ac);
	assert_non_null(l->api);
}

static void onelog_get(struct onelog *l, const char *path, int want)
{
	struct api_request rq = {0};
	struct api_response rs;

	rq.method = API_GET;
	rq.path = path;
	rq.path_len = strlen(path);
	assert_int_equal(api_handle(l->api, &rq, &rs, NULL, NULL), API_DONE);
	assert_int_equal(rs.status, want);
	api_response_free(&rs);
}

static void onelog_close(struct onelog *l)
{
	seq_stop(l->seq);
	api_free(l->api);
	ct_signer_free(l->signer);
	store_close(l->st);
}

static void test_two_logs_one_exposition(void **state)
{
	char dir[] = "/tmp/mn-metrics-XXXXXX", d1[64], d2[64], *text;
	struct onelog a = {0}, b = {0};
	struct logd_metrics_log logs[2];
	struct logd_metrics m;
	struct prom *w;
	size_t len;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(d1, sizeof(d1), "%s/a", dir);
	snprintf(d2, sizeof(d2), "%s/b", dir);
	onelog_open(&a, d1);
	onelog_open(&b, d2);
	onelog_get(&a, "/ct/v1/get-sth", 200);
	onelog_get(&a, "/nope", 404);
	onelog_get(&b, "/ct/v1/get-sth", 200);
	onelog_get(&b, "/ct/v1/get-roots", 200); /* no roots configured: an empty list */

	logs[0] = (struct logd_metrics_log){"2027h1", a.api, a.seq, a.st, NULL, NULL, NULL, NULL, NULL};
	logs[1] = (struct logd_metrics_log){"2027h2", b.api, b.seq, b.st, NULL, NULL, NULL, NULL, NULL};
	m = (struct logd_metrics){NULL, logs, 2};
	w = prom_new(0);
	assert_non_null(w);
	logd_metrics_write(&m, w);
	assert_int_equal(prom_finish(w, &text, &len), 0);
	prom_free(w);
	assert_int_equal(promcheck(text, len), 0);
	/* each family once, each log's samples in it */
	assert_int_equal(count(text, "# TYPE mn_tree_size gauge\n"), 1);
	assert_int_equal(count(text, "# HELP mn_tree_size "), 1);
	assert_int_equal(count(text, "\nmn_tree_size{log=\"2027h1\"} 0\n"), 1);
	assert_int_equal(count(text, "\nmn_tree_size{log=\"2027h2\"} 0\n"), 1);
	assert_int_equal(count(text, "# TYPE mn_api_requests_total counter\n"), 1);
	assert_int_equal(count(text, "\nmn_api_requests_total{log=\"2027h1\",endpoint=\"get-sth\","
				     "status=\"200\"} 1\n"), 1);
	assert_int_equal(count(text, "\nmn_api_requests_total{log=\"2027h1\",endpoint=\"unknown\","
				     "status=\"404\"} 1\n"), 1);
	assert_int_equal(count(text, "\nmn_api_requests_total{log=\"2027h2\",endpoint=\"get-sth\","
				     "status=\"200\"} 1\n"), 1);
	assert_int_equal(count(text, "mn_store_used_bytes{log=\"2027h2\"} "), 1);
	assert_int_equal(count(text, "mn_sequencer_commit_seconds_count{log=\"2027h1\"} "), 1);
	assert_int_equal(count(text, "mn_build_info{version=\""), 1);
	free(text);

	/* the same writers concatenated without the grouping would repeat the
	 * families: promtool must see that (the check above is not vacuous) */
	{
		struct prom *w1 = prom_new(0), *w2 = prom_new(0);
		char *t1, *t2, *both;
		size_t l1, l2;
		assert_non_null(w1);
		assert_non_null(w2);
		seq_metrics(a.seq, w1, "log=\"2027h1\"");
		seq_metrics(b.seq, w2, "log=\"2027h2\"");
		assert_int_equal(prom_finish(w1, &t1, &l1), 0);
		assert_int_equal(prom_finish(w2, &t2, &l2), 0);
		both = malloc(l1 + l2 + 1);
		assert_non_null(both);
		memcpy(both, t1, l1);
		memcpy(both + l1, t2, l2 + 1);
		assert_int_equal(promcheck_q(both, l1 + l2, 1), -1);
		free(both);
		free(t1);
		free(t2);
		prom_free(w1);
		prom_free(w2);
	}
	onelog_close(&a);
	onelog_close(&b);
	assert_int_equal(mnfix_rm_rf(dir), 0);
}

static void test_logd_metrics_promtool(void **state)
{
	char dir[] = "/tmp/mn-metrics-XXXXXX", data[64], roots[64];
	const char *args[] = {"--data", data, "--tls-roots", roots, "--threads", "2", NULL};
	int64_t now = pki_now();
	struct pki_cert *root, *ca, *leaf;
	const struct pki_cert *chain[2];
	const char *dns[1] = {"metrics.example"};
	struct logd_proc p;
	struct http_resp r;
	char *body;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(roots, sizeof(roots), "%s/roots.pem", dir);
	root = pki_root("Metrics Root", 0);
	ca = pki_issue(root, "Metrics CA", NULL, 0, PKI_CA, now - 86400, now + 86400 * 365);
	leaf = pki_issue(ca, dns[0], dns, 1, 0, now - 3600, now + 86400 * 90);
	assert_non_null(leaf);
	chain[0] = root;
	assert_int_equal(pki_write_pem(roots, chain, 1), 0);
	assert_int_equal(logd_start(&p, args), 0);

	/* traffic: an add, reads, client errors */
	chain[0] = leaf;
	chain[1] = ca;
	body = ctc_chain_json(chain, 2);
	assert_int_equal(http_status(p.port, "POST", "/ct/v1/add-chain", NULL, body, strlen(body)), 200);
	free(body);
	assert_int_equal(http_status(p.port, "GET", "/ct/v1/get-sth", NULL, NULL, 0), 200);
	assert_int_equal(http_status(p.port, "GET", "/ct/v1/get-entries?start=0&end=0", NULL, NULL, 0), 200);
	assert_int_equal(http_status(p.port, "GET", "/ct/v1/get-entries?start=5&end=1", NULL, NULL, 0), 400);
	assert_int_equal(http_status(p.port, "POST", "/ct/v1/add-chain", NULL, "{", 1), 400);
	assert_int_equal(http_status(p.port, "GET", "/ct/v1/add-chain", NULL, NULL, 0), 405);
	assert_int_equal(http_status(p.port, "GET", "/no/such/path", NULL, NULL, 0), 404);

	assert_int_equal(http_do(p.port, "GET", "/metrics", NULL, NULL, 0, &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.headers, "text/plain; version=0.0.4"));
	assert_int_equal(promcheck((const char *)r.body, r.body_len), 0);
	/* the conventions promtool does not know about */
	assert_int_equal(count((char *)r.body, "\nmn_build_info{version=\""), 1);
	assert_non_null(strstr((char *)r.body, "\nmn_api_requests_total{endpoint=\"add-chain\","
					       "status=\"200\"} 1\n"));
	assert_non_null(strstr((char *)r.body, "\nmn_api_requests_total{endpoint=\"add-chain\","
					       "status=\"400\"} 1\n"));
	assert_non_null(strstr((char *)r.body, "\nmn_api_requests_total{endpoint=\"get-entries\","
					       "status=\"400\"} 1\n"));
	assert_non_null(strstr((char *)r.body, "\nmn_sequencer_leaves_total 1\n"));
	assert_non_null(strstr((char *)r.body, "\nmn_roots{class=\"tls\"} 1\n"));
	assert_non_null(strstr((char *)r.body, "mn_api_request_duration_seconds_bucket{endpoint="
					       "\"add-chain\",le=\"+Inf\"} 3\n"));
	http_resp_free(&r);
	assert_int_equal(logd_stop(&p, 15), 0);
	pki_free(leaf);
	pki_free(ca);
	pki_free(root);
	assert_int_equal(mnfix_rm_rf(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_logs_one_exposition),
		cmocka_unit_test(test_logd_metrics_promtool),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
