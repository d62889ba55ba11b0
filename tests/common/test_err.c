/* test_err.c: the error table (common/err.h) and the clocks (common/clock.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/err.h"

static void test_err_table(void **state)
{
	int first = MN_E_FIRST_ + 1, last = MN_E_LAST_ - 1;

	(void)state;
	assert_int_equal(MN_ENOMEM, -999);
	assert_true(last > first);
	assert_true(last < 0);
	assert_string_equal(mn_err_name(MN_ENOMEM), "MN_ENOMEM");
	assert_string_equal(mn_strerror(MN_ENOMEM), "out of memory");
	assert_string_equal(mn_err_name(MN_EINTERNAL), "MN_EINTERNAL");
	assert_string_equal(mn_strerror(MN_ETOOBIG), "input exceeds a configured limit");
	assert_string_equal(mn_err_name(0), "MN_OK");
	assert_string_equal(mn_strerror(0), "ok");
	for (int e = first; e <= last; e++) {
		const char *name = mn_err_name(e), *msg = mn_strerror(e);

		assert_non_null(name);
		assert_non_null(msg);
		assert_true(strncmp(name, "MN_E", 4) == 0 && strlen(name) > 4);
		assert_string_not_equal(name, "MN_EUNKNOWN");
		assert_true(msg[0] != '\0');
		assert_string_not_equal(msg, "unknown error");
		for (int o = first; o < e; o++) {
			assert_string_not_equal(name, mn_err_name(o));
			assert_string_not_equal(msg, mn_strerror(o));
		}
	}
	{
		static const int unknown[] = { 1, -1, -998 - 1000, MN_E_FIRST_, MN_E_LAST_,
					       INT_MIN, INT_MAX };

		for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
			assert_string_equal(mn_err_name(unknown[i]), "MN_EUNKNOWN");
			assert_string_equal(mn_strerror(unknown[i]), "unknown error");
		}
	}
}

static void test_clock(void **state)
{
	struct timespec ts;
	uint64_t now, ref, m1, m2;

	(void)state;
	clock_gettime(CLOCK_REALTIME, &ts);
	ref = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	now = mn_now_ms();
	assert_true(now >= ref && now - ref < 2000);
	/* after 2020-01-01 and in milliseconds, not seconds or microseconds */
	assert_true(now > 1577836800000ULL && now < 4102444800000ULL);
	m1 = mn_mono_ns();
	clock_gettime(CLOCK_MONOTONIC, &ts);
	m2 = mn_mono_ns();
	assert_true(m2 >= m1);
	assert_true(m1 <= (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_err_table),
		cmocka_unit_test(test_clock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
