/* test_systemd_unit.c: contrib/logd.service is a valid, hardened unit.
 *
 * - it sets what an operator expects (User=metanotary, ProtectSystem=strict,
 *   ReadWritePaths of the data directory, ProtectHome, PrivateTmp,
 *   NoNewPrivileges, LimitNOFILE, Restart=on-failure, ExecReload by SIGHUP,
 *   ExecStart with --config), each checked as a whole line;
 * - `systemd-analyze verify` accepts it with nothing on stderr (it exits 0
 *   on unknown keys and bad values, but prints them), run on a copy whose
 *   ExecStart points at the logd of this build, since verify also checks
 *   that the binary exists (/usr/local/bin/logd is not installed here);
 * - `systemd-analyze security --offline=true` rates its exposure at most
 *   2.0 of 10;
 * - contrib/metanotary.sysusers creates that user (systemd-sysusers
 *   --dry-run);
 * - and the verify check fails on a unit with an unknown key or a bad value
 *   (test_verify_catches).
 * systemd-analyze comes with Debian's systemd package (scripts/deps.sh). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/files.h"

static char dir[64];


static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	fclose(f);
}


/* has_line: |text| holds |line| as a whole line. */
static int has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return 1;
	return 0;
}

/* verify_unit runs systemd-analyze verify on |unit_text| saved as NAME in
 * dir; returns 1 if it exits 0 with an empty stderr. */
static int verify_unit(const char *name, const char *unit_text)
{
	char path[128], cmd[256], *out, *err;
	int rc, ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	write_file(path, unit_text);
	snprintf(cmd, sizeof(cmd), "systemd-analyze verify --man=no ./%s", name);
	rc = tf_run(dir, dir, cmd, &out, &err);
	ok = rc == 0 && err[0] == '\0';
	if (!ok)
		fprintf(stderr, "systemd-analyze verify %s: exit %d\n%s%s", name, rc, out, err);
	free(out);
	free(err);
	return ok;
}

/* local_unit: the unit with ExecStart's /usr/local/bin/logd replaced by the
 * absolute path of this build's logd (malloc'd). */
static char *local_unit(const char *unit)
{
	const char *build = getenv("MN_BUILD"), *at = strstr(unit, "\nExecStart=/usr/local/bin/logd");
	char logd[PATH_MAX], rel[PATH_MAX], *out;
	size_t n;

	assert_non_null(at);
	at += strlen("\nExecStart=");
	snprintf(rel, sizeof(rel), "%s/logd", build ? build : "build");
	assert_non_null(realpath(rel, logd));
	n = strlen(unit) + strlen(logd) + 1;
	out = malloc(n);
	assert_non_null(out);
	snprintf(out, n, "%.*s%s%s", (int)(at - unit), unit, logd,
		 at + strlen("/usr/local/bin/logd"));
	return out;
}

static void test_unit_settings(void **state)
{
	static const char *const want[] = {
		"User=metanotary",
		"Group=metanotary",
		"ExecStart=/usr/local/bin/logd --config /etc/metanotary/logd.yaml",
		"ExecReload=/bin/kill -HUP $MAINPID",
		"Restart=on-failure",
		"LimitNOFILE=65536",
		"StateDirectory=metanotary",
		"ReadWritePaths=/var/lib/metanotary",
		"ProtectSystem=strict",
		"ProtectHome=yes",
		"PrivateTmp=yes",
		"NoNewPrivileges=yes",
		"WantedBy=multi-user.target",
	};
	char *unit = tf_read("contrib/logd.service", NULL);

	(void)state;
	assert_non_null(unit);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (!has_line(unit, want[i]))
			fprintf(stderr, "contrib/logd.service lacks the line %s\n", want[i]);
		assert_true(has_line(unit, want[i]));
	}
	assert_false(has_line(unit, "DynamicUser=yes"));
	free(unit);
}

static void test_unit_verifies(void **state)
{
	char *unit = tf_read("contrib/logd.service", NULL), *local, *out, *err;
	int rc;

	(void)state;
	assert_non_null(unit);
	local = local_unit(unit);
	assert_true(verify_unit("logd.service", local));
	rc = tf_run(dir, dir, "systemd-analyze security --offline=true --threshold=20 ./logd.service",
		    &out, &err);
	if (rc != 0)
		fprintf(stderr, "systemd-analyze security: exit %d\n%s%s", rc, out, err);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "Overall exposure level for logd.service"));
	free(out);
	free(err);
	free(local);
	free(unit);
}

static void test_sysusers(void **state)
{
	char cmd[PATH_MAX + 128], cwd[PATH_MAX], *out, *err;

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	/* --root: a scratch root, so that the user may already exist or not */
	snprintf(cmd, sizeof(cmd), "mkdir -p root/etc && systemd-sysusers --root=root --dry-run "
		 "%s/contrib/metanotary.sysusers", cwd);
	assert_int_equal(tf_run(dir, dir, cmd, &out, &err), 0);
	/* it says what it would do on stderr */
	if (strstr(err, "Creating user 'metanotary'") == NULL)
		fprintf(stderr, "systemd-sysusers:\n%s%s", out, err);
	assert_non_null(strstr(err, "Creating user 'metanotary'"));
	free(out);
	free(err);
}

/* The verify check is not blind: an unknown key, a bad value, a missing
 * binary each make it fail. */
static void test_verify_catches(void **state)
{
	char *unit = tf_read("contrib/logd.service", NULL), *local, *bad;
	size_t n;

	(void)state;
	assert_non_null(unit);
	local = local_unit(unit);
	n = strlen(local) + 64;
	bad = malloc(n);
	assert_non_null(bad);
	snprintf(bad, n, "%s\n[Service]\nProtectSystm=strict\n", local);
	assert_false(verify_unit("typo.service", bad));
	snprintf(bad, n, "%s\n[Service]\nLimitNOFILE=lots\n", local);
	assert_false(verify_unit("value.service", bad));
	assert_false(verify_unit("nobin.service", unit)); /* /usr/local/bin/logd */
	free(bad);
	free(local);
	free(unit);
}

static int setup(void **state)
{
	char *out, *err;
	int rc;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mn-unit-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	rc = tf_run(dir, dir, "systemd-analyze --version", &out, &err);
	free(out);
	free(err);
	if (rc != 0)
		fprintf(stderr, "systemd-analyze is missing: run scripts/deps.sh (systemd)\n");
	return rc == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unit_settings),
		cmocka_unit_test(test_unit_verifies),
		cmocka_unit_test(test_sysusers),
		cmocka_unit_test(test_verify_catches),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
