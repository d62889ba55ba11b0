/* test_manpages.c: man/logd.8 and man/mnctl.1 render without a warning and
 * say what `--help` says, so they cannot drift apart.
 *
 * - `groff -ww -z -man` (every warning) and man-db's `man --warnings -l`
 *   print nothing on stderr and exit 0;
 * - every option ("--name") in `logd --help` is in logd.8 and every option in
 *   logd.8 is in `logd --help`; the same for mnctl.1, and also for mnctl's
 *   commands: each command of `mnctl --help`'s "Commands:" list is a tagged
 *   paragraph of the page's COMMANDS section, and each such paragraph is a
 *   command of --help;
 * - and the checks themselves fail on a page that lacks an option or names
 *   one --help does not know (test_checker_catches). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/files.h"

#define MAX_NAMES 256

struct names {
	char *v[MAX_NAMES];
	size_t n;
};

static char dir[64];

static void names_add(struct names *s, const char *p, size_t len)
{
	for (size_t i = 0; i < s->n; i++)
		if (strlen(s->v[i]) == len && memcmp(s->v[i], p, len) == 0)
			return;
	assert_true(s->n < MAX_NAMES);
	s->v[s->n] = strndup(p, len);
	assert_non_null(s->v[s->n]);
	s->n++;
}

static int names_has(const struct names *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], name) == 0)
			return 1;
	return 0;
}

static void names_free(struct names *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	s->n = 0;
}



/* options collects every "--name" of |text| (with roff's "\-" read as "-"). */
static void options(struct names *s, const char *text)
{
	char *t = strdup(text), *w = t;

	assert_non_null(t);
	for (const char *r = text; *r; r++) {
		if (r[0] == '\\' && r[1] == '-')
			r++;
		*w++ = *r;
	}
	*w = '\0';
	for (const char *p = t; (p = strstr(p, "--")) != NULL; p += 2) {
		size_t n = 0;
		if (p > t && (p[-1] == '-' || (p[-1] >= 'a' && p[-1] <= 'z')))
			continue;
		while ((p[2 + n] >= 'a' && p[2 + n] <= 'z') || (p[2 + n] >= '0' && p[2 + n] <= '9') ||
		       (n > 0 && p[2 + n] == '-'))
			n++;
		if (n > 0)
			names_add(s, p + 2, n);
	}
	free(t);
}

/* help_commands: the names of the lines indented by exactly two spaces
 * between "Commands:" and "Global options:" of mnctl --help. */
static void help_commands(struct names *s, const char *help)
{
	const char *p = strstr(help, "\nCommands:\n"), *end = strstr(help, "\nGlobal options:");

	assert_non_null(p);
	assert_non_null(end);
	for (p = strchr(p + 1, '\n') + 1; p < end; p = strchr(p, '\n') + 1) {
		size_t n = 0;
		if (p[0] != ' ' || p[1] != ' ' || p[2] < 'a' || p[2] > 'z')
			continue;
		while ((p[2 + n] >= 'a' && p[2 + n] <= 'z') || p[2 + n] == '-')
			n++;
		names_add(s, p + 2, n);
	}
}

/* page_commands: in the COMMANDS section of a man page, the first word of
 * each ".B"/".BI" line tagged by ".TP" or ".TQ", when it is a word (not an
 * option). */
static void page_commands(struct names *s, const char *page)
{
	const char *p = strstr(page, "\n.SH COMMANDS\n"), *end;

	assert_non_null(p);
	end = strstr(p + 1, "\n.SH ");
	assert_non_null(end);
	for (; p != NULL && p < end; p = strchr(p + 1, '\n')) {
		const char *q;
		char word[64];
		size_t n = 0;
		if (strncmp(p, "\n.TP\n", 5) != 0 && strncmp(p, "\n.TQ\n", 5) != 0)
			continue;
		q = p + 5;
		if (strncmp(q, ".BI ", 4) == 0)
			q += 4;
		else if (strncmp(q, ".B ", 3) == 0)
			q += 3;
		else
			continue;
		while (n + 1 < sizeof(word) && ((q[0] >= 'a' && q[0] <= 'z') ||
						(n > 0 && q[0] == '\\' && q[1] == '-'))) {
			if (q[0] == '\\')
				q++;
			word[n++] = *q++;
		}
		if (n > 0 && (*q == ' ' || *q == '\n'))
			names_add(s, word, n);
	}
}

/* compare returns how many names are in one set and not the other (and
 * prints each). */
static int compare(const char *what, const struct names *help, const struct names *page)
{
	int bad = 0;

	for (size_t i = 0; i < help->n; i++)
		if (!names_has(page, help->v[i])) {
			fprintf(stderr, "%s: \"%s\" is in --help but not in the man page\n", what,
				help->v[i]);
			bad++;
		}
	for (size_t i = 0; i < page->n; i++)
		if (!names_has(help, page->v[i])) {
			fprintf(stderr, "%s: \"%s\" is in the man page but not in --help\n", what,
				page->v[i]);
			bad++;
		}
	return bad;
}

static char *help_of(const char *prog)
{
	const char *build = getenv("MN_BUILD");
	char cmd[512], *out, *err;

	snprintf(cmd, sizeof(cmd), "%s/%s --help", build ? build : "build", prog);
	assert_int_equal(tf_run(dir, NULL, cmd, &out, &err), 0);
	free(err);
	assert_true(strlen(out) > 100);
	return out;
}

static void check_renders(const char *page)
{
	char cmd[512], *out, *err;

	snprintf(cmd, sizeof(cmd), "groff -ww -b -z -man -Tutf8 %s", page);
	assert_int_equal(tf_run(dir, NULL, cmd, &out, &err), 0);
	if (err[0] != '\0')
		fprintf(stderr, "groff -ww %s:\n%s", page, err);
	assert_string_equal(err, "");
	free(out);
	free(err);
	snprintf(cmd, sizeof(cmd), "LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l %s", page);
	assert_int_equal(tf_run(dir, NULL, cmd, &out, &err), 0);
	if (err[0] != '\0')
		fprintf(stderr, "man --warnings %s:\n%s", page, err);
	assert_string_equal(err, "");
	assert_non_null(strstr(out, "NAME"));
	free(out);
	free(err);
}

static void test_logd_page(void **state)
{
	char *help = help_of("logd"), *page = tf_read("man/logd.8", NULL);
	struct names h = {0}, p = {0};

	(void)state;
	assert_non_null(page);
	check_renders("man/logd.8");
	options(&h, help);
	options(&p, page);
	assert_true(h.n >= 20);
	assert_true(names_has(&h, "tls-roots"));
	assert_int_equal(compare("logd options", &h, &p), 0);
	names_free(&h);
	names_free(&p);
	free(help);
	free(page);
}

static void test_mnctl_page(void **state)
{
	char *help = help_of("mnctl"), *page = tf_read("man/mnctl.1", NULL);
	struct names h = {0}, p = {0};

	(void)state;
	assert_non_null(page);
	check_renders("man/mnctl.1");
	options(&h, help);
	options(&p, page);
	assert_true(h.n >= 30);
	assert_true(names_has(&h, "wait-inclusion"));
	assert_int_equal(compare("mnctl options", &h, &p), 0);
	names_free(&h);
	names_free(&p);
	help_commands(&h, help);
	page_commands(&p, page);
	assert_true(h.n >= 13);
	assert_true(names_has(&h, "add-pre-chain") && names_has(&h, "policy-server"));
	assert_int_equal(compare("mnctl commands", &h, &p), 0);
	names_free(&h);
	names_free(&p);
	free(help);
	free(page);
}

/* The comparison catches an option missing from a page, one a page invents,
 * and a command a page lacks. */
static void test_checker_catches(void **state)
{
	struct names h = {0}, p = {0};

	(void)state;
	options(&h, "  --listen HOST:PORT  x\n  --no-map  y\n");
	options(&p, ".TP\n.BI \\-\\-listen \" HOST:PORT\"\nx\n");
	assert_int_equal(compare("missing", &h, &p), 1);
	names_free(&p);
	options(&p, ".BI \\-\\-listen\n.B \\-\\-no\\-map\n.B \\-\\-config\n");
	assert_int_equal(compare("invented", &h, &p), 1);
	names_free(&h);
	names_free(&p);
	help_commands(&h, "x\nCommands:\n  info [URL]  a\n      --key  b\n  add-pgp KEY\n"
			  "\nGlobal options:\n");
	page_commands(&p, "\n.SH COMMANDS\n.TP\n.BI info \" [URL]\"\na\n.RS\n.TP\n.B \\-\\-key\n"
			  ".RE\n.SH OPTIONS\n");
	assert_int_equal(h.n, 2);
	assert_int_equal(p.n, 1);
	assert_int_equal(compare("commands", &h, &p), 1);
	names_free(&h);
	names_free(&p);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mn-man-XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
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
		cmocka_unit_test(test_logd_page),
		cmocka_unit_test(test_mnctl_page),
		cmocka_unit_test(test_checker_catches),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
