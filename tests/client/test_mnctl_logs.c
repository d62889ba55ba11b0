/* test_mnctl_logs.c: mnctl against the logs of a multi-log server, each
 * named by its URL prefix (http://HOST:PORT/2027h1), and `monitor` following
 * several logs in one run.
 *
 * Most tests use tests/lib/prefixproxy, which counts what a client sends
 * outside the prefixes: two logd processes (two keys, two trees) behind one
 * port, /2027h1/... going to the first and /2027h2/... to the second with
 * the prefix stripped. The proxy counts requests outside both prefixes, so a
 * client that drops the prefix from any request path is caught; a key pinned
 * for one prefix must not be used for the other (each log's key, history and
 * monitor state are per full URL). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "common/b64.h"
#include "tests/lib/mnrun.h"
#include "tests/lib/pki.h"
#include "tests/lib/prefixproxy.h"
#include "tests/lib/proc.h"

static struct {
	char dir[64], cfg[128], roots[128], watch[128];
	struct pki_cert *root, *ca;
	struct logd_proc a, b;
	struct prefixproxy *proxy;
	char url_a[96], url_b[96], url_direct_a[64];
	int serial;
} T;

static void tpath(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", T.dir, name);
}

/* mnctl runs mnctl with --config T.cfg and the NULL-terminated args; checks
 * the exit status and returns stdout (free it). */
static char *mnctl(int want_rc, const char *first, ...)
{
	const char *args[64] = {"--config", T.cfg, first};
	size_t n = 3;
	va_list ap;
	char *out, *err;
	int rc;

	va_start(ap, first);
	while ((args[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	rc = mnrun_mnctl(T.dir, args, &out, &err);
	if (rc != want_rc)
		fprintf(stderr, "mnctl exit %d, wanted %d\nstdout:\n%s\nstderr:\n%s\n", rc, want_rc,
			out, err);
	assert_int_equal(rc, want_rc);
	free(err);
	return out;
}

/* cert writes NAME.pem: a certificate for |dns| from the test CA, then the CA. */
static void cert(const char *name, const char *dns)
{
	const char *d[1] = {dns};
	int64_t now = pki_now();
	struct pki_cert *c = pki_issue(T.ca, dns, d, 1, 0, now - 3600, now + 86400 * 30);
	const struct pki_cert *chain[2] = {c, T.ca};
	char path[160];

	assert_non_null(c);
	tpath(path, sizeof(path), name);
	assert_int_equal(pki_write_pem(path, chain, 2), 0);
	pki_free(c);
}

static int start_logd(struct logd_proc *p, const char *name)
{
	char data[128];
	const char *a[] = {"--data", data, "--tls-roots", T.roots, "--threads", "1", NULL};

	tpath(data, sizeof(data), name);
	return logd_start(p, a);
}

static int setup(void **state)
{
	int64_t now = pki_now();
	const struct pki_cert *r[1];
	struct prefix_route routes[2];
	FILE *f;

	(void)state;
	snprintf(T.dir, sizeof(T.dir), "/tmp/mnctl-logs-XXXXXX");
	if (mkdtemp(T.dir) == NULL)
		return -1;
	tpath(T.cfg, sizeof(T.cfg), "config");
	tpath(T.roots, sizeof(T.roots), "roots.pem");
	tpath(T.watch, sizeof(T.watch), "watch");
	T.root = pki_root("Logs Test Root", 0);
	if (T.root == NULL)
		return -1;
	T.ca = pki_issue(T.root, "Logs Test CA", NULL, 0, PKI_CA, now - 86400, now + 86400 * 365);
	r[0] = T.root;
	if (T.ca == NULL || pki_write_pem(T.roots, r, 1) != 0)
		return -1;
	if (start_logd(&T.a, "data-a") != 0 || start_logd(&T.b, "data-b") != 0)
		return -1;
	routes[0] = (struct prefix_route){"/2027h1", T.a.port};
	routes[1] = (struct prefix_route){"/2027h2", T.b.port};
	if ((T.proxy = prefixproxy_start(routes, 2)) == NULL)
		return -1;
	snprintf(T.url_a, sizeof(T.url_a), "http://127.0.0.1:%u/2027h1",
		 prefixproxy_port(T.proxy));
	snprintf(T.url_b, sizeof(T.url_b), "http://127.0.0.1:%u/2027h2/",
		 prefixproxy_port(T.proxy));
	snprintf(T.url_direct_a, sizeof(T.url_direct_a), "http://127.0.0.1:%u", T.a.port);
	f = fopen(T.watch, "w");
	if (f == NULL)
		return -1;
	fputs("example.com\n", f);
	fclose(f);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	prefixproxy_stop(T.proxy);
	logd_stop(&T.a, SIGTERM);
	logd_stop(&T.b, SIGTERM);
	pki_free(T.ca);
	pki_free(T.root);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", T.dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* log_id_b64 is the base64 log ID of |p|. */
static void log_id_b64(char out[64], const struct logd_proc *p)
{
	assert_int_equal(mn_b64_encode(out, p->log_id, 32), 44);
}

/* Each prefix is its own log: pinning one pins nothing for the other, every
 * request stays under its prefix, and the keys land in different files. */
static void test_prefix_pinning(void **state)
{
	char id[64], path[256];
	char *out;
	struct stat st;

	(void)state;
	free(mnctl(5, "--log", T.url_a, "sth", NULL)); /* nothing pinned yet */
	out = mnctl(0, "info", T.url_a, "--trust-on-first-use", NULL);
	log_id_b64(id, &T.a);
	assert_non_null(strstr(out, id));
	free(out);
	/* the other prefix on the same host and port has no pinned key */
	out = mnctl(5, "--log", T.url_b, "sth", NULL);
	free(out);
	out = mnctl(0, "info", T.url_b, "--trust-on-first-use", NULL);
	log_id_b64(id, &T.b);
	assert_non_null(strstr(out, id));
	free(out);
	/* one directory per full URL (the trailing '/' of url_b dropped) */
	snprintf(path, sizeof(path), "%s/logs/127.0.0.1%%3a%u%%2f2027h1/key.der", T.cfg,
		 prefixproxy_port(T.proxy));
	assert_int_equal(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/logs/127.0.0.1%%3a%u%%2f2027h2/key.der", T.cfg,
		 prefixproxy_port(T.proxy));
	assert_int_equal(stat(path, &st), 0);
	/* a plain HOST:PORT keeps the name it always had */
	free(mnctl(0, "info", T.url_direct_a, "--trust-on-first-use", NULL));
	snprintf(path, sizeof(path), "%s/logs/127.0.0.1_%u/key.der", T.cfg, T.a.port);
	assert_int_equal(stat(path, &st), 0);
	/* a log answering with the other log's key is refused: pinning is per URL.
	 * The proxy cannot swap keys, so use the direct URL of A pinned with B's
	 * key file. */
	{
		char keyb[160];
		FILE *f;
		tpath(keyb, sizeof(keyb), "key-b.der");
		f = fopen(keyb, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(T.b.spki, 1, T.b.spki_len, f), T.b.spki_len);
		fclose(f);
		free(mnctl(3, "--log", T.url_direct_a, "--key", keyb, "sth", NULL));
	}
	assert_int_equal(prefixproxy_unrouted(T.proxy), 0);
	assert_true(prefixproxy_count(T.proxy, 0) >= 1);
	assert_true(prefixproxy_count(T.proxy, 1) >= 1);
}

/* Every command that talks to the log works through the prefix: submit and
 * wait for inclusion, prove, lookup, get-entries, consistency. */
static void test_prefix_commands(void **state)
{
	char pem[160], *out;
	unsigned long before = prefixproxy_count(T.proxy, 0), b_before;

	(void)state;
	cert("www-a.pem", "www.example.com");
	tpath(pem, sizeof(pem), "www-a.pem");
	out = mnctl(0, "--log", T.url_a, "add-chain", pem, "--wait-inclusion", NULL);
	assert_non_null(strstr(out, "inclusion proof verified"));
	free(out);
	out = mnctl(0, "--log", T.url_a, "lookup", "www.example.com", NULL);
	assert_non_null(strstr(out, "1 entry"));
	assert_non_null(strstr(out, "complete (map proofs verified)"));
	free(out);
	out = mnctl(0, "--log", T.url_a, "get-entries", "0", "1", NULL);
	assert_non_null(strstr(out, "www.example.com"));
	free(out);
	out = mnctl(0, "--log", T.url_a, "sth", NULL);
	free(out);
	/* log B (same host, other prefix) has not seen that name */
	b_before = prefixproxy_count(T.proxy, 1);
	out = mnctl(0, "--log", T.url_b, "lookup", "www.example.com", NULL);
	assert_non_null(strstr(out, "0 entries"));
	free(out);
	assert_true(prefixproxy_count(T.proxy, 1) > b_before);
	assert_true(prefixproxy_count(T.proxy, 0) >= before + 5);
	assert_int_equal(prefixproxy_unrouted(T.proxy), 0);
}

/* count_lines counts the lines of |s| that start with |prefix| and hold |needle|. */
static int count_lines(const char *s, const char *prefix, const char *needle)
{
	int n = 0;

	while (s != NULL && *s != '\0') {
		const char *e = strchr(s, '\n');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		char line[2048];
		snprintf(line, sizeof(line), "%.*s", (int)len, s);
		if (strncmp(line, prefix, strlen(prefix)) == 0 && strstr(line, needle) != NULL)
			n++;
		s = e ? e + 1 : NULL;
	}
	return n;
}

/* match_shows checks that |out| has a line "PREFIX MATCH ..." whose entry
 * (that line and the indented lines under it) names |name|. */
static int match_shows(const char *out, const char *prefix, const char *name)
{
	const char *s = out;

	while ((s = strstr(s, prefix)) != NULL) {
		const char *e;
		if ((s == out || s[-1] == '\n') && strncmp(s + strlen(prefix), "MATCH ", 6) == 0) {
			for (e = strchr(s, '\n'); e != NULL && e[1] == ' '; e = strchr(e + 1, '\n'))
				;
			if (memmem(s, e ? (size_t)(e - s) : strlen(s), name, strlen(name)) != NULL)
				return 1;
		}
		s++;
	}
	return 0;
}

/* monitor follows two logs (and a direct URL) in one run, each with its own
 * state; each output line names its log. */
static void test_monitor_several(void **state)
{
	char st[160], pem[160], pa[128], pb[128], path[320], *out;
	struct stat sb;
	json_error_t jerr;

	(void)state;
	snprintf(pa, sizeof(pa), "%s ", T.url_a);
	snprintf(pb, sizeof(pb), "%.*s ", (int)strlen(T.url_b) - 1, T.url_b); /* no '/' */
	cert("mail-b.pem", "mail.example.com");
	tpath(pem, sizeof(pem), "mail-b.pem");
	free(mnctl(0, "--log", T.url_b, "add-chain", pem, "--wait-inclusion", NULL));
	tpath(st, sizeof(st), "monitor");
	out = mnctl(0, "--log", T.url_a, "--log", T.url_b, "monitor", "--watch", T.watch,
		    "--state", st, NULL);
	/* A holds www.example.com, B mail.example.com, each named by its log */
	assert_int_equal(count_lines(out, pa, "MATCH domain example.com"), 1);
	assert_true(match_shows(out, pa, "dns: www.example.com"));
	assert_false(match_shows(out, pa, "mail.example.com"));
	assert_int_equal(count_lines(out, pb, "MATCH domain example.com"), 1);
	assert_true(match_shows(out, pb, "dns: mail.example.com"));
	assert_false(match_shows(out, pb, "www.example.com"));
	assert_int_equal(count_lines(out, pa, "verified tree_size"), 1);
	assert_int_equal(count_lines(out, pb, "verified tree_size"), 1);
	assert_int_equal(count_lines(out, "", "MATCH"), 2);
	free(out);
	snprintf(path, sizeof(path), "%s/127.0.0.1%%3a%u%%2f2027h1/state.json", st,
		 prefixproxy_port(T.proxy));
	assert_int_equal(stat(path, &sb), 0);
	snprintf(path, sizeof(path), "%s/127.0.0.1%%3a%u%%2f2027h2/state.json", st,
		 prefixproxy_port(T.proxy));
	assert_int_equal(stat(path, &sb), 0);

	/* a new entry in B only: the next run reports it alone, from each state */
	cert("smtp-b.pem", "smtp.example.com");
	tpath(pem, sizeof(pem), "smtp-b.pem");
	free(mnctl(0, "--log", T.url_b, "add-chain", pem, "--wait-inclusion", NULL));
	out = mnctl(0, "--log", T.url_a, "--log", T.url_b, "--json", "monitor", "--watch",
		    T.watch, "--state", st, NULL);
	{
		json_t *j[8];
		size_t n = 0;
		char *line = out, *e;
		while (line && *line && n < 8) {
			e = strchr(line, '\n');
			if (e)
				*e = '\0';
			j[n] = json_loads(line, 0, &jerr);
			assert_non_null(j[n]);
			n++;
			line = e ? e + 1 : NULL;
		}
		/* A: its summary (0 new); B: the match, then its summary */
		assert_int_equal(n, 3);
		assert_string_equal(json_string_value(json_object_get(j[0], "log")), T.url_a);
		assert_int_equal(json_integer_value(json_object_get(j[0], "new_entries")), 0);
		pb[strlen(pb) - 1] = '\0'; /* B's URL as mnctl names it */
		assert_string_equal(json_string_value(json_object_get(j[1], "log")), pb);
		assert_string_equal(json_string_value(json_object_get(j[1], "watched")),
				    "example.com");
		{
			char *d = json_dumps(j[1], 0);
			assert_non_null(strstr(d, "smtp.example.com"));
			free(d);
		}
		assert_string_equal(json_string_value(json_object_get(j[2], "log")), pb);
		assert_int_equal(json_integer_value(json_object_get(j[2], "new_entries")), 2);
		for (size_t i = 0; i < n; i++)
			json_decref(j[i]);
	}
	free(out);
	assert_int_equal(prefixproxy_unrouted(T.proxy), 0);
}

/* One log that fails does not stop the others; the exit code says it. */
static void test_monitor_one_fails(void **state)
{
	char st[160], dead[64], *out;

	(void)state;
	tpath(st, sizeof(st), "monitor");
	/* no logd under /2027h3: the proxy answers 404 (network error, exit 2) */
	snprintf(dead, sizeof(dead), "http://127.0.0.1:%u/2027h3", prefixproxy_port(T.proxy));
	out = mnctl(5, "--log", dead, "--log", T.url_a, "monitor", "--watch", T.watch, "--state",
		    st, NULL); /* no key pinned for h3: exit 5, A still followed */
	assert_int_equal(count_lines(out, T.url_a, "verified tree_size"), 1);
	free(out);
	/* one --key cannot be the key of several logs */
	{
		char keyb[160];
		tpath(keyb, sizeof(keyb), "key-b.der");
		free(mnctl(1, "--key", keyb, "--log", T.url_a, "--log", T.url_b, "monitor",
			   "--watch", T.watch, "--state", st, NULL));
	}
	/* only monitor takes several logs */
	free(mnctl(1, "--log", T.url_a, "--log", T.url_b, "sth", NULL));
}

/* The same against logd itself serving two logs from one config file
 * (logd/router.c): pin each prefix, submit to each, look up in each, and
 * monitor both in one run; each name is in its own log only. */
static void test_config_logd(void **state)
{
	char yaml[160], url1[96], url2[96], pem[160], st[160], pa[128], pb[128], *out;
	struct logd_proc p;
	const char *args[] = {"--config", yaml, NULL};
	FILE *f;

	(void)state;
	tpath(yaml, sizeof(yaml), "logd.yaml");
	f = fopen(yaml, "w");
	assert_non_null(f);
	fprintf(f, "listen: 127.0.0.1:0\nthreads: 1\nlogs:\n");
	for (int i = 1; i <= 2; i++)
		fprintf(f, "  - name: 2027h%d\n    data: %s/cfg-h%d\n    classes: [tls]\n"
			   "    roots: {tls: %s}\n", i, T.dir, i, T.roots);
	fclose(f);
	assert_int_equal(logd_start(&p, args), 0);
	snprintf(url1, sizeof(url1), "http://127.0.0.1:%u/2027h1", p.port);
	snprintf(url2, sizeof(url2), "http://127.0.0.1:%u/2027h2", p.port);
	free(mnctl(0, "info", url1, "--trust-on-first-use", NULL));
	free(mnctl(0, "info", url2, "--trust-on-first-use", NULL));
	cert("cfg-1.pem", "one.example.com");
	tpath(pem, sizeof(pem), "cfg-1.pem");
	out = mnctl(0, "--log", url1, "add-chain", pem, "--wait-inclusion", NULL);
	assert_non_null(strstr(out, "inclusion proof verified"));
	free(out);
	cert("cfg-2.pem", "two.example.com");
	tpath(pem, sizeof(pem), "cfg-2.pem");
	free(mnctl(0, "--log", url2, "add-chain", pem, "--wait-inclusion", NULL));
	out = mnctl(0, "--log", url1, "lookup", "one.example.com", NULL);
	assert_non_null(strstr(out, "1 entry"));
	assert_non_null(strstr(out, "complete (map proofs verified)"));
	free(out);
	out = mnctl(0, "--log", url2, "lookup", "one.example.com", NULL);
	assert_non_null(strstr(out, "0 entries"));
	free(out);
	tpath(st, sizeof(st), "monitor-cfg");
	snprintf(pa, sizeof(pa), "%s ", url1);
	snprintf(pb, sizeof(pb), "%s ", url2);
	out = mnctl(0, "--log", url1, "--log", url2, "monitor", "--watch", T.watch, "--state", st,
		    NULL);
	assert_true(match_shows(out, pa, "dns: one.example.com"));
	assert_false(match_shows(out, pa, "two.example.com"));
	assert_true(match_shows(out, pb, "dns: two.example.com"));
	assert_false(match_shows(out, pb, "one.example.com"));
	assert_int_equal(count_lines(out, pa, "verified tree_size"), 1);
	assert_int_equal(count_lines(out, pb, "verified tree_size"), 1);
	free(out);
	assert_int_equal(logd_stop(&p, SIGTERM), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefix_pinning),
		cmocka_unit_test(test_prefix_commands),
		cmocka_unit_test(test_monitor_several),
		cmocka_unit_test(test_monitor_one_fails),
		cmocka_unit_test(test_config_logd),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
