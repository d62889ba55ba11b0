/* test_certspotter.c: an independent CT monitor against logd. certspotter
 * (SSLMate, Debian package certspotter) is run unmodified on a log list that
 * names our log: it fetches and verifies our STHs (signature), downloads the
 * entries with get-entries, recomputes the Merkle tree and checks it against
 * the STH, then reports the certificates matching its watch list. If any byte
 * of our RFC 6962 encodings were off, it would fail to verify or parse. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/b64.h"
#include "common/clock.h"
#include "entry/ct.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

static void rm_rf(const char *dir)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

/* expect_leaf_index: the add-chain answer |r| is an SCT of a new log, so of
 * the static-ct-api format: its extensions are exactly leaf_index |index|.
 * certspotter then checks leaves that carry it (and their hashes). */
static void expect_leaf_index(const struct http_resp *r, uint64_t index)
{
	json_error_t e;
	json_t *j = json_loadb((const char *)r->body, r->body_len, 0, &e);
	const json_t *x = json_object_get(j, "extensions");
	uint8_t *ext = NULL, want[CT_LEAF_INDEX_EXT_LEN];
	size_t len = 0;

	assert_true(json_is_string(x));
	assert_int_equal(mn_b64_decode(&ext, &len, json_string_value(x), json_string_length(x),
				       64), 0);
	assert_true(ct_leaf_index_ext(want, index));
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(ext, want, sizeof(want));
	free(ext);
	json_decref(j);
}

static char *chain_json(const struct pki_cert *const *certs, size_t n)
{
	json_t *arr = json_array(), *obj = json_object();
	char *s;

	for (size_t i = 0; i < n; i++) {
		char *b = malloc(mn_b64_encoded_len(certs[i]->der_len) + 1);
		mn_b64_encode(b, certs[i]->der, certs[i]->der_len);
		json_array_append_new(arr, json_string(b));
		free(b);
	}
	json_object_set_new(obj, "chain", arr);
	s = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	return s;
}

static void write_file(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(s, f);
	fclose(f);
}

/* run certspotter until its stdout has shown every name in |want| (or 60 s),
 * then stop it. Returns the collected output (malloc'd). */
static char *run_certspotter(const char *dir, const char *const *want, size_t num_want)
{
	char logs[128], watch[128], state[128];
	int out[2];
	pid_t pid;
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap + 1);
	uint64_t deadline = mn_mono_ns() + 60ull * 1000000000ull;

	snprintf(logs, sizeof(logs), "%s/loglist.json", dir);
	snprintf(watch, sizeof(watch), "%s/watchlist", dir);
	snprintf(state, sizeof(state), "%s/state", dir);
	assert_int_equal(pipe(out), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(out[1], 2);
		close(out[0]);
		close(out[1]);
		execlp("certspotter", "certspotter", "-logs", logs, "-watchlist", watch,
		       "-state_dir", state, "-stdout", "-no_save", "-verbose", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	buf[0] = 0;
	for (;;) {
		struct pollfd p = {out[0], POLLIN, 0};
		size_t found = 0;
		uint64_t now = mn_mono_ns();
		ssize_t n;

		for (size_t i = 0; i < num_want; i++)
			if (strstr(buf, want[i]) != NULL)
				found++;
		if (found == num_want || now >= deadline)
			break;
		if (poll(&p, 1, (int)((deadline - now) / 1000000)) <= 0)
			continue;
		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
		}
		n = read(out[0], buf + len, cap - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = 0;
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	close(out[0]);
	return buf;
}

static void test_certspotter_monitors_log(void **state)
{
	char dir[64] = "/tmp/mn-cs-XXXXXX", roots[128], data[128], path[128];
	struct logd_proc logd;
	int64_t now = pki_now();
	struct pki_cert *root, *ca, *leaves[3], *pre;
	const char *names[3] = {"a.watched.example", "b.watched.example", "other.example"};
	const char *want[3] = {"a.watched.example", "b.watched.example", "pre.watched.example"};
	char *out;

	(void)state;
	assert_non_null(mkdtemp(dir));
	root = pki_root("CS Root", 0);
	ca = pki_issue(root, "CS CA", NULL, 0, PKI_CA, now - 86400, now + 86400 * 365);
	snprintf(roots, sizeof(roots), "%s/roots.pem", dir);
	snprintf(data, sizeof(data), "%s/data", dir);
	{
		const struct pki_cert *rs[1] = {root};
		assert_int_equal(pki_write_pem(roots, rs, 1), 0);
	}
	{
		const char *args[] = {"--no-map", "--data", data, "--tls-roots", roots, NULL};
		assert_int_equal(logd_start(&logd, args), 0);
	}
	for (int i = 0; i < 3; i++) {
		const char *dns[1] = {names[i]};
		const struct pki_cert *chain[2];
		char *body;
		struct http_resp r;
		leaves[i] = pki_issue(ca, names[i], dns, 1, 0, now - 60, now + 86400 * 30);
		chain[0] = leaves[i];
		chain[1] = ca;
		body = chain_json(chain, 2);
		assert_int_equal(http_do(logd.port, "POST", "/ct/v1/add-chain", NULL, body,
					 strlen(body), &r), 0);
		assert_int_equal(r.status, 200);
		expect_leaf_index(&r, (uint64_t)i);
		http_resp_free(&r);
		free(body);
	}
	{
		const char *dns[1] = {"pre.watched.example"};
		const struct pki_cert *chain[2];
		char *body;
		struct http_resp r;
		pre = pki_issue(ca, "pre.watched.example", dns, 1, PKI_POISON, now - 60, now + 86400);
		chain[0] = pre;
		chain[1] = ca;
		body = chain_json(chain, 2);
		assert_int_equal(http_do(logd.port, "POST", "/ct/v1/add-pre-chain", NULL, body,
					 strlen(body), &r), 0);
		assert_int_equal(r.status, 200);
		expect_leaf_index(&r, 3);
		http_resp_free(&r);
		free(body);
	}

	/* a v3 log list naming our log, exactly as logd printed its entry */
	{
		json_error_t e;
		json_t *entry = json_loads(logd.log_line, 0, &e), *list, *ops, *op, *logs;
		char *s;
		assert_non_null(entry);
		json_object_set_new(entry, "state",
				    json_pack("{s:{s:s}}", "usable", "timestamp", "2026-01-01T00:00:00Z"));
		logs = json_array();
		json_array_append_new(logs, entry);
		op = json_pack("{s:s,s:[],s:o}", "name", "metanotary test", "email", "logs", logs);
		ops = json_array();
		json_array_append_new(ops, op);
		list = json_pack("{s:s,s:o}", "version", "3.0", "operators", ops);
		s = json_dumps(list, JSON_INDENT(1));
		snprintf(path, sizeof(path), "%s/loglist.json", dir);
		write_file(path, s);
		free(s);
		json_decref(list);
	}
	snprintf(path, sizeof(path), "%s/watchlist", dir);
	write_file(path, ".watched.example\n");

	out = run_certspotter(dir, want, 3);
	for (int i = 0; i < 3; i++) {
		if (strstr(out, want[i]) == NULL)
			fprintf(stderr, "certspotter output:\n%s\n", out);
		assert_non_null(strstr(out, want[i]));
	}
	if (getenv("MN_VERBOSE"))
		fprintf(stderr, "certspotter output:\n%s\n", out);
	/* nothing failed to verify or parse on the way */
	assert_null(strstr(out, "rror"));
	assert_null(strstr(out, "ailed"));
	assert_null(strstr(out, "nconsistent"));
	/* not watched, so not reported */
	assert_null(strstr(out, "DNS Name = other.example"));
	free(out);

	assert_int_equal(logd_stop(&logd, SIGTERM), 0);
	for (int i = 0; i < 3; i++)
		pki_free(leaves[i]);
	pki_free(pre);
	pki_free(ca);
	pki_free(root);
	rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_certspotter_monitors_log),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
