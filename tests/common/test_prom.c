/* test_prom.c: common/prom groups each family once (HELP, TYPE, then all of
 * its samples, whichever order the writers added them in), writes histograms
 * the Prometheus way, caps its size and refuses a sample outside a family;
 * promtool check metrics accepts what it writes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/prom.h"
#include "tests/lib/promcheck.h"

static void test_prom_groups_families(void **state)
{
	static const double bounds[2] = {0.5, 1};
	static const uint64_t counts[3] = {1, 2, 3};
	struct prom *w = prom_new(0);
	char *text;
	size_t len;
	char esc[32];

	(void)state;
	assert_non_null(w);
	prom_family(w, "a_total", PROM_COUNTER, "A.");
	prom_u64(w, "log=\"x\"", NULL, 1);
	prom_family(w, "b_seconds", PROM_HISTOGRAM, "B.");
	prom_histogram(w, "log=\"x\"", "k=\"v\"", bounds, 2, counts, 2.5);
	prom_family(w, "a_total", PROM_COUNTER, "A.");
	prom_u64(w, "log=\"y\"", "s=\"1\"", 7);
	prom_family(w, "empty", PROM_GAUGE, "never sampled");
	assert_int_equal(prom_finish(w, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	assert_string_equal(text,
			    "# HELP a_total A.\n# TYPE a_total counter\n"
			    "a_total{log=\"x\"} 1\na_total{log=\"y\",s=\"1\"} 7\n"
			    "# HELP b_seconds B.\n# TYPE b_seconds histogram\n"
			    "b_seconds_bucket{log=\"x\",k=\"v\",le=\"0.5\"} 1\n"
			    "b_seconds_bucket{log=\"x\",k=\"v\",le=\"1\"} 3\n"
			    "b_seconds_bucket{log=\"x\",k=\"v\",le=\"+Inf\"} 6\n"
			    "b_seconds_sum{log=\"x\",k=\"v\"} 2.5\n"
			    "b_seconds_count{log=\"x\",k=\"v\"} 6\n");
	assert_int_equal(promcheck(text, len), 0);
	free(text);
	prom_free(w);

	/* a sample outside any family, and the cap, are errors */
	w = prom_new(0);
	prom_u64(w, NULL, NULL, 1);
	assert_int_equal(prom_finish(w, &text, &len), MN_EINVAL);
	assert_null(text);
	prom_free(w);
	w = prom_new(100);
	prom_family(w, "c", PROM_GAUGE, "C.");
	for (int i = 0; i < 20; i++)
		prom_u64(w, "log=\"abcdef\"", NULL, 1);
	assert_int_equal(prom_finish(w, &text, &len), MN_ETOOBIG);
	prom_free(w);

	assert_true(prom_label_escape(esc, sizeof(esc), "a\"b\\c\nd"));
	assert_string_equal(esc, "a\\\"b\\\\c\\nd");
	assert_false(prom_label_escape(esc, 4, "abcd"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prom_groups_families),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
