/* test_config.c: logd --config (logd/config.h) and logd loglist.
 *
 *   - the sample file parses exactly as written, to the values and
 *     lines it says;
 *   - each kind of bad file (unknown key, wrong type, bad date, two logs with
 *     one prefix, overlapping data directories, a class without its roots,
 *     YAML syntax) is refused by the parser with "FILE:LINE: reason" at the
 *     right line;
 *   - logd itself refuses bad files (those, plus a roots file that does not
 *     exist or does not load) with exit status 2, the line on stderr, and
 *     nothing created: no data directory, no key;
 *   - the sample with its paths moved into a temporary directory (test roots,
 *     a gpg-made certifier keyring) runs: both logs answer under their
 *     prefixes, the mail log is read-only with the classes it was given;
 *   - logd loglist refuses (exit 2) while a log has no key, writing nothing,
 *     and afterwards prints the CT log list v3 shape with the keys logd
 *     served. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "common/err.h"
#include "logd/config.h"
#include "tests/lib/mnfix.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

static const char sample[] =
	"listen: 127.0.0.1:6962\n"
	"threads: 2\n"
	"logs:\n"
	"  - name: 2027h1\n"
	"    data: /var/lib/metanotary/2027h1\n"
	"    key: /var/lib/metanotary/2027h1/log-key.pem\n"
	"    classes: [tls]\n"
	"    roots: {tls: /etc/metanotary/roots.pem}\n"
	"    not_after: {start: 2027-01-01T00:00:00Z, limit: 2027-07-01T00:00:00Z}\n"
	"    mmd: 60\n"
	"    state: open\n"
	"  - name: mail\n"
	"    data: /var/lib/metanotary/mail\n"
	"    classes: [smime, pgp, policy]\n"
	"    roots: {smime: /etc/metanotary/smime-roots.pem}\n"
	"    certifiers: /etc/metanotary/certifiers.gpg\n"
	"    state: read-only\n";

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mn-config-XXXXXX");
	return mkdtemp(dir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return mnfix_rm_rf(dir);
}

static void test_sample_parses(void **state)
{
	struct logd_config c;
	char err[512];

	(void)state;
	assert_int_equal(logd_config_parse(&c, (const uint8_t *)sample, strlen(sample), "s.yaml",
					   err, sizeof(err)),
			 0);
	assert_string_equal(c.host, "127.0.0.1");
	assert_int_equal(c.port, 6962);
	assert_int_equal(c.threads, 2);
	assert_int_equal(c.num_logs, 2);
	assert_string_equal(c.logs[0].name, "2027h1");
	assert_int_equal(c.logs[0].line, 4);
	assert_string_equal(c.logs[0].key, "/var/lib/metanotary/2027h1/log-key.pem");
	assert_int_equal(c.logs[0].classes, LOGD_CLASS_TLS);
	assert_string_equal(c.logs[0].tls_roots, "/etc/metanotary/roots.pem");
	assert_int_equal(c.logs[0].tls_roots_line, 8);
	assert_true(c.logs[0].has_window);
	assert_int_equal(c.logs[0].start_ms, 1798761600000ull); /* date -d 2027-01-01Z +%s */
	assert_int_equal(c.logs[0].limit_ms, 1814400000000ull); /* date -d 2027-07-01Z +%s */
	assert_int_equal(c.logs[0].mmd_s, 60);
	assert_int_equal(c.logs[0].state, LOGD_STATE_OPEN);
	assert_string_equal(c.logs[1].name, "mail");
	assert_null(c.logs[1].key);
	assert_int_equal(c.logs[1].classes,
			 LOGD_CLASS_SMIME | LOGD_CLASS_PGP | LOGD_CLASS_POLICY);
	assert_string_equal(c.logs[1].smime_roots, "/etc/metanotary/smime-roots.pem");
	assert_string_equal(c.logs[1].certifiers, "/etc/metanotary/certifiers.gpg");
	assert_int_equal(c.logs[1].certifiers_line, 16);
	assert_false(c.logs[1].has_window);
	assert_int_equal(c.logs[1].state, LOGD_STATE_READ_ONLY);
	assert_int_equal(c.logs[1].max_queue, 65536);
	logd_config_cleanup(&c);
	/* contrib/logd.yaml is the same file with comments */
	assert_int_equal(logd_config_load(&c, "contrib/logd.yaml", err, sizeof(err)), 0);
	assert_int_equal(c.num_logs, 2);
	assert_string_equal(c.logs[0].name, "2027h1");
	assert_int_equal(c.logs[0].limit_ms, 1814400000000ull);
	assert_int_equal(c.logs[1].state, LOGD_STATE_READ_ONLY);
	logd_config_cleanup(&c);
	{
		char t[21];
		logd_config_time(t, 1814400000000ull);
		assert_string_equal(t, "2027-07-01T00:00:00Z");
	}
}

#define LOG_A "  - name: a\n    data: /d/a\n    classes: [tls]\n    roots: {tls: /r.pem}\n"

static const struct {
	const char *yaml;
	const char *want; /* prefix after "t.yaml:" */
} bad[] = {
	{"listen: 127.0.0.1:1\nfoo: 1\nlogs:\n" LOG_A, "2: unknown key 'foo'"},
	{"logs:\n" LOG_A "    colour: blue\n", "6: unknown key 'colour' in log"},
	{"threads: two\nlogs:\n" LOG_A, "1: threads: expected an integer"},
	{"logs:\n" LOG_A "    mmd: [1]\n", "6: mmd: expected a single value"},
	{"logs:\n" LOG_A "    mmd: 0\n", "6: mmd: must be in 1..86400"},
	{"logs:\n" LOG_A "    not_after: {start: 2027-02-30T00:00:00Z, limit: 2028-01-01T00:00:00Z}\n",
	 "6: not_after.start: bad date"},
	{"logs:\n" LOG_A "    not_after: {start: 2027-01-01T00:00:00+01:00, limit: 2028-01-01}\n",
	 "6: not_after.start: bad date"},
	{"logs:\n" LOG_A "    not_after: {start: 2028-01-01, limit: 2027-01-01}\n",
	 "6: not_after: limit must be after start"},
	{"logs:\n" LOG_A "  - name: a\n    data: /d/b\n    classes: [tls]\n    roots: {tls: /r.pem}\n",
	 "6: log a: name (URL prefix) already used by the log at line 2"},
	{"logs:\n" LOG_A "  - name: b\n    data: /d/a/sub/\n    classes: [tls]\n    roots: {tls: /r.pem}\n",
	 "6: log b: data directory /d/a/sub/ overlaps log a's"},
	{"logs:\n" LOG_A "  - name: b\n    data: /d//a/.\n    classes: [tls]\n    roots: {tls: /r.pem}\n",
	 "6: log b: data directory /d//a/. overlaps"},
	{"logs:\n  - name: a\n    data: /d/a\n    classes: [tls, smime]\n    roots: {tls: /r.pem}\n",
	 "2: log a: class smime needs roots"},
	{"logs:\n  - name: a\n    data: /d/a\n    classes: [tls, gopher]\n", "4: classes: unknown class 'gopher'"},
	{"logs:\n  - name: A/b\n    data: /d/a\n", "2: name: 'A/b' is not a valid prefix"},
	{"logs:\n  - name: metrics\n    data: /d/a\n", "2: name: 'metrics' is not a valid prefix"},
	{"logs:\n" LOG_A "    state: closed\n", "6: state: 'closed' is not open or read-only"},
	{"logs:\n" LOG_A "    map: maybe\n", "6: map: expected true or false"},
	{"logs: [\n", "2: did not find expected node content"},
	{"listen: [1\n", "2: did not find expected ',' or ']'"},
	{"", "0: empty file"},
	{"logs: []\n", "1: logs: empty list"},
	{"threads: 1\n", "1: missing logs"},
	{"threads: 1\nthreads: 2\nlogs:\n" LOG_A, "2: config: key 'threads' given twice"},
	{"logs:\n" LOG_A "---\nlogs: []\n", "7: a second YAML document"},
	/* url is checked where it is given (it was checked, unset, under note_key) */
	{"logs:\n" LOG_A "    note_key: /n.pem\n    url: \"http://x/\\\"\"\n",
	 "7: url: must not contain quotes"},
	/* mirrors (logd/mirror.h) */
	{"logs:\n  - name: m\n    data: /d/m\n    mirror: ftp://x/\n", "4: mirror: 'ftp://x/' is not"},
	{"logs:\n  - name: m\n    data: /d/m\n    mirror: http://x/\n",
	 "2: log m: a mirror needs mirror_key"},
	{"logs:\n  - name: m\n    data: /d/m\n    mirror_key: /k.pem\n",
	 "2: log m: mirror_key given without mirror"},
	{"logs:\n  - name: m\n    data: /d/m\n    mirror: http://x/\n    mirror_key: /k\n"
	 "    classes: [tls]\n    roots: {tls: /r.pem}\n", "2: log m: a mirror takes no classes"},
	{"logs:\n" LOG_A "    publish: {dir: /x, s3: s3://b}\n", "6: publish: give exactly one"},
	{"logs:\n" LOG_A "    publish: {s3: s3://b/p}\n", "6: publish: s3 needs endpoint"},
	{"logs:\n" LOG_A "    publish: {s3: http://b, endpoint: http://h:1}\n",
	 "6: publish.s3: 'http://b' is not s3://BUCKET"},
	{"logs:\n" LOG_A "    publish: {dir: /x, region: r}\n", "6: publish: endpoint, region"},
	{"logs:\n" LOG_A "    publish: {bucket: b}\n", "6: publish: unknown key 'bucket'"},
	{"logs:\n" LOG_A "    sct_after: later\n", "6: sct_after: 'later' is not commit or publish"},
	{"logs:\n" LOG_A "    sct_after: publish\n", "2: log a: sct_after: publish needs publish"},
	/* witnesses (logd/cosign.h) */
	{"logs:\n" LOG_A "    witness_timeout: 5s\n", "2: log a: witness_timeout, witness_interval and witness_mode "
	 "need witness_policy"},
	{"logs:\n" LOG_A "    witness_mode: fail-open\n", "2: log a: witness_timeout, witness_interval and"},
	{"logs:\n" LOG_A "    witness_interval: 1s\n", "2: log a: witness_timeout, witness_interval and"},
	{"logs:\n" LOG_A "    witness_policy: /p\n    witness_interval: 11m\n",
	 "7: witness_interval: must be between 0 ms and 600000 ms"},
	{"logs:\n" LOG_A "    witness_policy: /p\n    witness_mode: maybe\n",
	 "7: witness_mode: 'maybe' is not wait or fail-open"},
	{"logs:\n" LOG_A "    witness_policy: /p\n    witness_timeout: 5\n",
	 "7: witness_timeout: '5' is not a duration"},
	{"logs:\n" LOG_A "    witness_policy: /p\n    witness_timeout: 50ms\n",
	 "7: witness_timeout: must be between 100 ms and 600000 ms"},
	{"logs:\n" LOG_A "    witness_policy: /p\n    witness_timeout: 11m\n",
	 "7: witness_timeout: must be between"},
	{"logs:\n" LOG_A "    witness_policy: /p\n    witness_timeout: s\n",
	 "7: witness_timeout: expected a duration"},
	{"logs:\n" LOG_A "    witness_policy: /p\n    state: read-only\n",
	 "2: log a: witness_policy is for an open log"},
};

/* the witness keys parse into their fields (defaults: 5 s, wait) */
static void test_parse_witness(void **state)
{
	static const char y[] = "logs:\n" LOG_A "    witness_policy: /p\n"
				"    witness_timeout: 1500ms\n    witness_mode: fail-open\n"
				"  - name: b\n    data: /d/b\n    classes: [tls]\n    roots: {tls: /r.pem}\n"
				"    witness_policy: /q\n    witness_timeout: 2m\n";
	struct logd_config c;
	char err[256];

	(void)state;
	assert_int_equal(logd_config_parse(&c, (const uint8_t *)y, sizeof(y) - 1, "t.yaml", err,
					   sizeof(err)), 0);
	assert_string_equal(c.logs[0].witness_policy, "/p");
	assert_int_equal(c.logs[0].witness_policy_line, 6);
	assert_int_equal(c.logs[0].witness_timeout_ms, 1500);
	assert_int_equal(c.logs[0].witness_fail_open, 1);
	assert_int_equal(c.logs[1].witness_timeout_ms, 120000);
	assert_int_equal(c.logs[1].witness_fail_open, 0);
	logd_config_cleanup(&c);
}

/* a log with note_key and no url parses (the url check once read the unset
 * url there); and a mirror log parses with the map off */
static void test_parse_note_key_mirror(void **state)
{
	static const char y[] = "logs:\n" LOG_A "    note_key: /n.pem\n"
				"  - name: m\n    data: /d/m\n    mirror: http://o.example/\n"
				"    mirror_key: /o.pem\n";
	struct logd_config c;
	char err[512] = "";

	(void)state;
	assert_int_equal(logd_config_parse(&c, (const uint8_t *)y, strlen(y), "t.yaml", err,
					   sizeof(err)), 0);
	assert_int_equal(c.num_logs, 2);
	assert_string_equal(c.logs[0].note_key, "/n.pem");
	assert_string_equal(c.logs[1].mirror, "http://o.example/");
	assert_string_equal(c.logs[1].mirror_key, "/o.pem");
	assert_int_equal(c.logs[1].map, 0);
	logd_config_cleanup(&c);
}

static void test_parse_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct logd_config c;
		char err[512], want[300];
		int ret = logd_config_parse(&c, (const uint8_t *)bad[i].yaml, strlen(bad[i].yaml),
					    "t.yaml", err, sizeof(err));
		logd_config_cleanup(&c);
		snprintf(want, sizeof(want), "t.yaml:%s", bad[i].want);
		if (ret != MN_EINVAL || strncmp(err, want, strlen(want)) != 0)
			fail_msg("case %zu: got %d \"%s\", want \"%s\"", i, ret, err, want);
	}
}

/* run_logd runs logd with |a1| |a2| |a3| (NULL-terminated early), stdout and
 * stderr into files under dir; returns the exit status. */
static int run_logd(const char *a1, const char *a2, const char *a3, char *out, size_t out_len,
		    char *err, size_t err_len)
{
	const char *build = getenv("MN_BUILD");
	char bin[256], op[128], ep[128];
	pid_t pid;
	int st;
	FILE *f;

	snprintf(bin, sizeof(bin), "%s/logd", build != NULL ? build : "build");
	snprintf(op, sizeof(op), "%s.out", dir);
	snprintf(ep, sizeof(ep), "%s.err", dir);
	pid = fork();
	if (pid == 0) {
		int o = open(op, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(ep, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(o, 1);
		dup2(e, 2);
		execl(bin, bin, a1, a2, a3, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	out[0] = err[0] = '\0';
	if ((f = fopen(op, "r")) != NULL) {
		out[fread(out, 1, out_len - 1, f)] = '\0';
		fclose(f);
	}
	if ((f = fopen(ep, "r")) != NULL) {
		err[fread(err, 1, err_len - 1, f)] = '\0';
		fclose(f);
	}
	unlink(op);
	unlink(ep);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* count_entries: the number of entries in |path| (a directory). */
static int count_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static int write_str(const char *path, const char *s)
{
	return mnfix_write_file(path, s, strlen(s));
}

/* A config of two tls logs under dir with |extra| appended to the second. */
static void two_logs(char *buf, size_t len, const char *roots2, const char *data2,
		     const char *extra)
{
	snprintf(buf, len,
		 "listen: 127.0.0.1:0\n"
		 "logs:\n"
		 "  - name: one\n"
		 "    data: %s/one\n"
		 "    classes: [tls]\n"
		 "    roots: {tls: %s/roots.pem}\n"
		 "  - name: two\n"
		 "    data: %s\n"
		 "    classes: [tls]\n"
		 "    roots: {tls: %s}\n"
		 "%s",
		 dir, dir, data2, roots2, extra);
}

static void test_logd_refuses(void **state)
{
	char cfg[128], roots[128], data2[128], roots2[160], y[2048], out[4096], err[4096];
	char want[256];
	struct pki_cert *root = pki_root("Config Root", 0);
	const struct pki_cert *rs[1] = {root};
	struct {
		const char *roots2, *data2, *extra;
		unsigned line;
		const char *reason;
	} cases[] = {
		{NULL, NULL, "    colour: blue\n", 11, "unknown key 'colour'"},
		{NULL, NULL, "    mmd: soon\n", 11, "mmd: expected an integer"},
		{NULL, NULL, "    not_after: {start: 2027-13-01, limit: 2028-01-01}\n", 11,
		 "not_after.start: bad date"},
		{"/nonexistent/roots.pem", NULL, "", 10, "cannot load TLS roots /nonexistent/roots.pem"},
		{"EMPTY", NULL, "", 10, "cannot load TLS roots"},
		{NULL, "ONE", "", 7, "data directory"},
		{NULL, "NOPARENT", "", 7, "its parent directory does not exist"},
		{NULL, NULL, "  - name: one\n    data: /x\n    classes: [tls]\n    roots: {tls: /r}\n",
		 11, "name (URL prefix) already used"},
		{NULL, NULL, "    witness_policy: /nonexistent/witnesses\n", 11,
		 "cannot load witness policy: /nonexistent/witnesses"},
	};

	(void)state;
	assert_non_null(root);
	snprintf(roots, sizeof(roots), "%s/roots.pem", dir);
	assert_int_equal(pki_write_pem(roots, rs, 1), 0);
	snprintf(roots2, sizeof(roots2), "%s/empty.pem", dir);
	assert_int_equal(write_str(roots2, "not a PEM file\n"), 0);
	snprintf(cfg, sizeof(cfg), "%s/logd.yaml", dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *r2 = cases[i].roots2 == NULL ? roots
				 : strcmp(cases[i].roots2, "EMPTY") == 0 ? roots2
									: cases[i].roots2;
		if (cases[i].data2 != NULL && strcmp(cases[i].data2, "NOPARENT") == 0)
			snprintf(data2, sizeof(data2), "%s/no/such/dir", dir);
		else if (cases[i].data2 != NULL)
			snprintf(data2, sizeof(data2), "%s/one/two", dir);
		else
			snprintf(data2, sizeof(data2), "%s/two", dir);
		two_logs(y, sizeof(y), r2, data2, cases[i].extra);
		assert_int_equal(write_str(cfg, y), 0);
		assert_int_equal(run_logd("--config", cfg, NULL, out, sizeof(out), err, sizeof(err)),
				 2);
		snprintf(want, sizeof(want), "%s:%u: ", cfg, cases[i].line);
		if (strncmp(err, want, strlen(want)) != 0 || strstr(err, cases[i].reason) == NULL)
			fail_msg("case %zu: stderr \"%s\", want \"%s...%s\"", i, err, want,
				 cases[i].reason);
		/* nothing created: the config and the two PEM files only */
		assert_int_equal(count_entries(dir), 3);
	}
	/* loglist refuses a config too, the same way */
	assert_int_equal(run_logd("loglist", "--config", cfg, out, sizeof(out), err, sizeof(err)), 2);
	assert_int_equal(count_entries(dir), 3);
	/* and --config with a per-log flag is a usage error */
	assert_int_equal(run_logd("--config", cfg, "--no-map", out, sizeof(out), err, sizeof(err)), 2);
	unlink(cfg);
	unlink(roots);
	unlink(roots2);
	pki_free(root);
}

/* The sample, moved into dir, runs; loglist before and after. */
static void test_sample_runs(void **state)
{
	char cfg[128], path[160], y[4096], out[8192], err[4096];
	const char *args[] = {"--config", cfg, NULL};
	struct pki_cert *tls = pki_root("Sample TLS Root", 0);
	struct pki_cert *smime = pki_root("Sample S/MIME Root", 0);
	const struct pki_cert *rs[1];
	struct mnfix_gpg g;
	struct logd_proc p;
	struct http_resp r;
	json_error_t je;
	json_t *j, *jl;

	(void)state;
	/* the sample with /var/lib/metanotary and /etc/metanotary moved */
	{
		const char *s = sample;
		size_t o = 0;
		while (*s != '\0' && o < sizeof(y) - 200) {
			if (strncmp(s, "/var/lib/metanotary", 19) == 0) {
				o += (size_t)snprintf(y + o, sizeof(y) - o, "%s/var", dir);
				s += 19;
			} else if (strncmp(s, "/etc/metanotary", 15) == 0) {
				o += (size_t)snprintf(y + o, sizeof(y) - o, "%s/etc", dir);
				s += 15;
			} else if (strncmp(s, "127.0.0.1:6962", 14) == 0) {
				o += (size_t)snprintf(y + o, sizeof(y) - o, "127.0.0.1:0");
				s += 14;
			} else {
				y[o++] = *s++;
			}
		}
		y[o] = '\0';
	}
	snprintf(cfg, sizeof(cfg), "%s/logd.yaml", dir);
	assert_int_equal(write_str(cfg, y), 0);
	snprintf(path, sizeof(path), "%s/etc", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/var", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	rs[0] = tls;
	snprintf(path, sizeof(path), "%s/etc/roots.pem", dir);
	assert_int_equal(pki_write_pem(path, rs, 1), 0);
	rs[0] = smime;
	snprintf(path, sizeof(path), "%s/etc/smime-roots.pem", dir);
	assert_int_equal(pki_write_pem(path, rs, 1), 0);
	assert_int_equal(mnfix_gpg_init(&g, dir), 0);
	assert_int_equal(mnfix_gpg(&g, "--quick-gen-key 'Certifier <ca@example.com>' ed25519 sign 1y"),
			 0);
	snprintf(path, sizeof(path), "--output %s/etc/certifiers.gpg --export", dir);
	assert_int_equal(mnfix_gpg(&g, path), 0);
	mnfix_gpg_kill(&g);

	/* loglist before logd ran: no keys yet, exit 2, nothing written */
	assert_int_equal(run_logd("loglist", "--config", cfg, out, sizeof(out), err, sizeof(err)), 2);
	assert_non_null(strstr(err, "has no key yet"));
	snprintf(path, sizeof(path), "%s/var", dir);
	assert_int_equal(count_entries(path), 0);

	assert_int_equal(logd_start(&p, args), 0);
	assert_int_equal(http_do(p.port, "GET", "/2027h1/ct/v1/get-sth", NULL, NULL, 0, &r), 0);
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	assert_int_equal(http_do(p.port, "GET", "/mail/ct/v1/get-sth", NULL, NULL, 0, &r), 0);
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	assert_int_equal(http_do(p.port, "GET", "/mail/mn/v1/info", NULL, NULL, 0, &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr((const char *)r.body, "\"classes\":[\"smime\",\"pgp\",\"policy\"]"));
	assert_non_null(strstr((const char *)r.body, "\"state\":\"read-only\""));
	http_resp_free(&r);
	assert_int_equal(http_do(p.port, "POST", "/mail/mn/v1/add-pgp", NULL, "{}", 2, &r), 0);
	assert_int_equal(r.status, 403);
	http_resp_free(&r);
	assert_int_equal(http_do(p.port, "POST", "/2027h1/mn/v1/add-pgp", NULL, "{}", 2, &r), 0);
	assert_int_equal(r.status, 400);
	http_resp_free(&r);
	assert_int_equal(logd_stop(&p, SIGTERM), 0);

	/* loglist now: the keys logd printed, the window, the states */
	assert_int_equal(run_logd("loglist", "--config", cfg, out, sizeof(out), err, sizeof(err)), 0);
	j = json_loads(out, 0, &je);
	jl = json_object_get(j, "logs");
	assert_int_equal(json_array_size(jl), 2);
	{
		json_t *a = json_array_get(jl, 0), *b = json_array_get(jl, 1);
		const char *k = json_string_value(json_object_get(a, "key"));
		assert_non_null(k);
		assert_non_null(strstr(p.log_line, k));
		assert_non_null(json_string_value(json_object_get(a, "log_id")));
		assert_int_equal(json_integer_value(json_object_get(a, "mmd")), 60);
		assert_string_equal(json_string_value(json_object_get(
					    json_object_get(a, "temporal_interval"), "start_inclusive")),
				    "2027-01-01T00:00:00Z");
		assert_string_equal(json_string_value(json_object_get(
					    json_object_get(a, "temporal_interval"), "end_exclusive")),
				    "2027-07-01T00:00:00Z");
		assert_non_null(json_object_get(json_object_get(a, "state"), "usable"));
		assert_non_null(json_object_get(json_object_get(b, "state"), "readonly"));
		assert_null(json_object_get(b, "temporal_interval"));
		assert_non_null(strstr(json_string_value(json_object_get(b, "url")), "/mail/"));
	}
	json_decref(j);
	pki_free(tls);
	pki_free(smime);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sample_parses),
		cmocka_unit_test(test_parse_note_key_mirror),
		cmocka_unit_test(test_parse_witness),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_logd_refuses),
		cmocka_unit_test(test_sample_runs),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
