/* fuzz_query.c: query-string parsing of api/json.c (api__parse_query,
 * api__param, api__param_u64).
 *
 * Input: the raw query string. Checks, from the contract in api/internal.h:
 *   - a parse that succeeds gives at most API_MAX_PARAMS parameters with
 *     nonempty, distinct, NUL-terminated names and values of value_len bytes
 *     (<= API_MAX_PARAM_LEN) with no NUL inside, each found by api__param;
 *   - re-encoding the parameters (every byte percent-escaped) and parsing
 *     again gives the same parameters (the decoder is consistent with itself
 *     across the two spellings);
 *   - api__param_u64 on the input and on every value agrees with a reference
 *     decimal parser (digits only, nonempty, no overflow). */
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "common/err.h"
#include "fuzz/fuzz.h"

const char fuzz_target_name[] = "query";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* ref_u64: digits only, 1..20 of them, value <= UINT64_MAX (via long division
 * free check: compare against the decimal string of UINT64_MAX). */
static int ref_u64(const char *s, size_t len, uint64_t *out)
{
	static const char max[] = "18446744073709551615";
	size_t i, start = 0;
	uint64_t v = 0;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	while (start < len - 1 && s[start] == '0')
		start++; /* leading zeros do not change the value */
	if (len - start > 20 || (len - start == 20 && memcmp(s + start, max, 20) > 0))
		return 0;
	for (i = start; i < len; i++)
		v = v * 10 + (uint64_t)(s[i] - '0');
	*out = v;
	return 1;
}

static void check_u64(const char *s, size_t len)
{
	uint64_t a = 0, b = 0;
	int ra = api__param_u64(s, len, &a), rb = ref_u64(s, len, &b);

	/* api__param_u64 caps the length at 20 digits: long zero-padded numbers
	 * may be refused, never accepted with another value. */
	if (ra)
		FUZZ_CHECK(rb && a == b);
	else
		FUZZ_CHECK(!rb || len > 20);
}

static size_t encode(char *out, const struct api_params *p)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0, i, j, nl;

	for (i = 0; i < p->num; i++) {
		if (i > 0)
			out[o++] = '&';
		nl = strlen(p->p[i].name);
		for (j = 0; j < nl; j++) {
			unsigned char c = (unsigned char)p->p[i].name[j];
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
		out[o++] = '=';
		for (j = 0; j < p->p[i].value_len; j++) {
			unsigned char c = (unsigned char)p->p[i].value[j];
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct api_params p, q;
	static char enc[API_MAX_PARAMS * (32 + API_MAX_PARAM_LEN + 2) * 3];
	size_t i, j, n, len;
	int ret;

	check_u64((const char *)data, size);
	ret = api__parse_query(&p, size > 0 ? (const char *)data : NULL, size);
	FUZZ_CHECK(ret == 0 || ret == MN_EMALFORMED);
	if (ret != 0)
		return 0;
	FUZZ_CHECK(p.num <= API_MAX_PARAMS);
	for (i = 0; i < p.num; i++) {
		const char *v;
		size_t nl = strnlen(p.p[i].name, sizeof(p.p[i].name));
		FUZZ_CHECK(nl > 0 && nl < sizeof(p.p[i].name));
		FUZZ_CHECK(p.p[i].value_len <= API_MAX_PARAM_LEN);
		FUZZ_CHECK(p.p[i].value[p.p[i].value_len] == '\0');
		FUZZ_CHECK(memchr(p.p[i].value, '\0', p.p[i].value_len) == NULL);
		for (j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(p.p[i].name, p.p[j].name) != 0);
		v = api__param(&p, p.p[i].name, &len);
		FUZZ_CHECK(v == p.p[i].value && len == p.p[i].value_len);
		check_u64(v, len);
	}
	n = encode(enc, &p);
	ret = api__parse_query(&q, p.num > 0 ? enc : NULL, n);
	FUZZ_CHECK(ret == 0 && q.num == p.num);
	for (i = 0; i < p.num; i++) {
		FUZZ_CHECK(strcmp(q.p[i].name, p.p[i].name) == 0);
		FUZZ_CHECK(q.p[i].value_len == p.p[i].value_len &&
			   memcmp(q.p[i].value, p.p[i].value, p.p[i].value_len) == 0);
	}
	return 0;
}
