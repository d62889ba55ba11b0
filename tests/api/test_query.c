/* test_query.c: query-string parsing and JSON writing used by every handler. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "common/err.h"

static void test_parse_ok(void **state)
{
	struct api_params p;
	size_t len;
	const char *q = "start=0&end=%32%35%35&&hash=ab+c%2F%3D&flag";

	(void)state;
	assert_int_equal(api__parse_query(&p, q, strlen(q)), 0);
	assert_int_equal(p.num, 4);
	assert_string_equal(api__param(&p, "start", &len), "0");
	assert_string_equal(api__param(&p, "end", &len), "255");
	/* '+' stays '+': base64 in queries has no spaces */
	assert_string_equal(api__param(&p, "hash", &len), "ab+c/=");
	assert_int_equal(len, 6);
	assert_string_equal(api__param(&p, "flag", &len), "");
	assert_null(api__param(&p, "missing", NULL));
	assert_int_equal(api__parse_query(&p, NULL, 0), 0);
	assert_int_equal(p.num, 0);
}

static void test_parse_bad(void **state)
{
	struct api_params p;
	static const char *bad[] = {
		"a=%", "a=%4", "a=%zz", "a=%00", "=1", "a=1&a=2",
		"a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9",
	};
	char big[2000];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(api__parse_query(&p, bad[i], strlen(bad[i])), MN_EMALFORMED);
	memset(big, 'x', sizeof(big));
	memcpy(big, "a=", 2);
	assert_int_equal(api__parse_query(&p, big, sizeof(big)), MN_EMALFORMED);
}

static void test_u64(void **state)
{
	uint64_t v;

	(void)state;
	assert_true(api__param_u64("0", 1, &v));
	assert_int_equal(v, 0);
	assert_true(api__param_u64("18446744073709551615", 20, &v));
	assert_true(v == UINT64_MAX);
	assert_false(api__param_u64("18446744073709551616", 20, &v));
	assert_false(api__param_u64("-1", 2, &v));
	assert_false(api__param_u64("+1", 2, &v));
	assert_false(api__param_u64("1a", 2, &v));
	assert_false(api__param_u64(" 1", 2, &v));
	assert_false(api__param_u64("", 0, &v));
}

static void test_json_writer(void **state)
{
	struct cbb b;
	uint8_t *out;
	size_t len;
	static const uint8_t data[] = {0xfb, 0xff};

	(void)state;
	assert_true(cbb_init(&b, 16, 1024));
	assert_true(api__jraw(&b, "{\"a\":"));
	assert_true(api__ju64(&b, 18446744073709551615ull));
	assert_true(api__jraw(&b, ",\"b\":"));
	assert_true(api__jb64(&b, data, sizeof(data)));
	assert_true(api__jraw(&b, ",\"c\":"));
	assert_true(api__jstr(&b, "q\"\\\n\x01", 5));
	assert_true(api__jraw(&b, "}"));
	assert_true(cbb_finish(&b, &out, &len));
	assert_int_equal(len, strlen("{\"a\":18446744073709551615,\"b\":\"+/8=\",\"c\":\"q\\\"\\\\\\u000a\\u0001\"}"));
	assert_memory_equal(out, "{\"a\":18446744073709551615,\"b\":\"+/8=\",\"c\":\"q\\\"\\\\\\u000a\\u0001\"}", len);
	free(out);
}

/* api__ju64 writes what "%llu" writes, for every digit count */
static void test_ju64(void **state)
{
	char want[32];
	uint64_t v = 0;

	(void)state;
	for (int k = 0; k <= 21; k++) {
		const uint64_t vals[] = {v, v - 1, v + 1};
		for (size_t i = 0; i < 3; i++) {
			struct cbb b;
			int n = snprintf(want, sizeof(want), "%llu", (unsigned long long)vals[i]);
			assert_true(cbb_init(&b, 1, 64));
			assert_true(api__ju64(&b, vals[i]));
			assert_int_equal(cbb_len(&b), (size_t)n);
			assert_memory_equal(cbb_data(&b), want, (size_t)n);
			cbb_cleanup(&b);
		}
		v = v == 0 ? 1 : (v > UINT64_MAX / 10 ? UINT64_MAX : v * 10);
	}
	/* and fails, writing nothing, past the builder's cap */
	{
		struct cbb b;
		assert_true(cbb_init(&b, 1, 3));
		assert_false(api__ju64(&b, 1234));
		cbb_cleanup(&b);
	}
}

static void test_error_body(void **state)
{
	struct api_response r;

	(void)state;
	api_response_error(&r, 400, "badChain", "chain \"x\" is bad");
	assert_int_equal(r.status, 400);
	assert_int_equal(r.body_len,
			 strlen("{\"error_code\": \"badChain\", \"error_message\": \"chain \\\"x\\\" is bad\"}"));
	assert_memory_equal(r.body,
			    "{\"error_code\": \"badChain\", \"error_message\": \"chain \\\"x\\\" is bad\"}",
			    r.body_len);
	api_response_free(&r);
	assert_null(r.body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),   cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_u64),        cmocka_unit_test(test_json_writer),
		cmocka_unit_test(test_error_body), cmocka_unit_test(test_ju64),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
