/* policy_jcs.c: RFC 8785 canonical JSON, the subset policy payloads use
 * (policy.h policy_jcs_check), and the strict JSON loading of JWS headers and
 * payloads (policy_internal.h); split from policy.c. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"
#include "entry/policy.h"
#include "entry/policy_internal.h"

#define MAX_JSON_DEPTH 32

/* --- RFC 8785 canonical JSON (the subset policies use) -------------------- */

/* A serializer that does not build the canonical form but compares it, byte
 * by byte, with the input as it goes: no buffer, and the first difference
 * settles the answer. */
struct jcs_cmp {
	const uint8_t *in;
	size_t len, pos;
	int differs;
};

static void jcs_emit(struct jcs_cmp *c, const void *p, size_t n)
{
	if (c->differs)
		return;
	if (n > c->len - c->pos || memcmp(c->in + c->pos, p, n) != 0) {
		c->differs = 1;
		return;
	}
	c->pos += n;
}

/* RFC 8785 section 3.2.2.2: only these escapes; every other character,
 * including '/', DEL and non-ASCII, is written as itself (UTF-8). */
static void jcs_emit_string(struct jcs_cmp *c, const char *s, size_t len)
{
	size_t run = 0;
	jcs_emit(c, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char b = (unsigned char)s[i];
		const char *esc = NULL;
		char buf[8];
		switch (b) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		default:
			if (b < 0x20) {
				snprintf(buf, sizeof(buf), "\\u%04x", b);
				esc = buf;
			}
		}
		if (esc == NULL)
			continue;
		jcs_emit(c, s + run, i - run);
		jcs_emit(c, esc, strlen(esc));
		run = i + 1;
	}
	jcs_emit(c, s + run, len - run);
	jcs_emit(c, "\"", 1);
}

/* UTF-16 code units of valid UTF-8 (jansson validated it), one at a time. */
struct u16_iter {
	const uint8_t *s;
	size_t len, i;
	uint16_t low;
	int have_low;
};

static int u16_next(struct u16_iter *it, uint16_t *out)
{
	if (it->have_low) {
		it->have_low = 0;
		*out = it->low;
		return 1;
	}
	if (it->i >= it->len)
		return 0;
	uint8_t b = it->s[it->i];
	size_t n = b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
	if (n > it->len - it->i)
		n = it->len - it->i; /* cannot happen for valid UTF-8 */
	uint32_t cp = n == 1 ? b : (uint32_t)(b & (0xff >> (n + 1)));
	for (size_t k = 1; k < n; k++)
		cp = (cp << 6) | (it->s[it->i + k] & 0x3f);
	it->i += n;
	if (cp >= 0x10000) {
		cp -= 0x10000;
		*out = (uint16_t)(0xd800 + (cp >> 10));
		it->low = (uint16_t)(0xdc00 + (cp & 0x3ff));
		it->have_low = 1;
	} else {
		*out = (uint16_t)cp;
	}
	return 1;
}

struct jcs_member {
	const char *key;
	size_t key_len;
	json_t *value;
};

/* RFC 8785 section 3.2.3: names sorted by their UTF-16 code units, which
 * differs from UTF-8 byte order for U+E000..U+FFFF against astral characters. */
static int jcs_member_cmp(const void *pa, const void *pb)
{
	const struct jcs_member *a = pa, *b = pb;
	struct u16_iter ia = {(const uint8_t *)a->key, a->key_len, 0, 0, 0};
	struct u16_iter ib = {(const uint8_t *)b->key, b->key_len, 0, 0, 0};
	for (;;) {
		uint16_t x = 0, y = 0;
		int ra = u16_next(&ia, &x), rb = u16_next(&ib, &y);
		if (!ra || !rb)
			return ra - rb;
		if (x != y)
			return x < y ? -1 : 1;
	}
}

static int jcs_walk(struct jcs_cmp *c, json_t *j, int depth, const char **reason)
{
	if (depth > MAX_JSON_DEPTH) {
		*reason = "JSON is nested too deeply";
		return MN_EMALFORMED;
	}
	switch (json_typeof(j)) {
	case JSON_OBJECT: {
		size_t n = json_object_size(j), i = 0;
		struct jcs_member *m = NULL;
		const char *key;
		json_t *val;
		int ret = 0;
		if (n > 0 && (m = calloc(n, sizeof(*m))) == NULL)
			return MN_ENOMEM;
		json_object_foreach(j, key, val) {
			if (i == n)
				break;
			m[i].key = key;
			m[i].key_len = strlen(key); /* jansson refuses NUL in names */
			m[i].value = val;
			i++;
		}
		if (n > 1)
			qsort(m, n, sizeof(*m), jcs_member_cmp);
		jcs_emit(c, "{", 1);
		for (i = 0; i < n && ret == 0; i++) {
			if (i > 0)
				jcs_emit(c, ",", 1);
			jcs_emit_string(c, m[i].key, m[i].key_len);
			jcs_emit(c, ":", 1);
			ret = jcs_walk(c, m[i].value, depth + 1, reason);
		}
		jcs_emit(c, "}", 1);
		free(m);
		return ret;
	}
	case JSON_ARRAY: {
		jcs_emit(c, "[", 1);
		for (size_t i = 0; i < json_array_size(j); i++) {
			if (i > 0)
				jcs_emit(c, ",", 1);
			int ret = jcs_walk(c, json_array_get(j, i), depth + 1, reason);
			if (ret != 0)
				return ret;
		}
		jcs_emit(c, "]", 1);
		return 0;
	}
	case JSON_STRING:
		jcs_emit_string(c, json_string_value(j), json_string_length(j));
		return 0;
	case JSON_INTEGER: {
		/* ECMAScript Number.prototype.toString of an integer below 2^53 is
		 * its plain decimal form (RFC 8785 section 3.2.2.3). */
		json_int_t v = json_integer_value(j);
		char buf[32];
		if (v > (json_int_t)TWO_53 || v < -(json_int_t)TWO_53) {
			*reason = "JSON integer beyond 2^53";
			return MN_EMALFORMED;
		}
		int n = snprintf(buf, sizeof(buf), "%lld", (long long)v);
		jcs_emit(c, buf, (size_t)n);
		return 0;
	}
	case JSON_REAL:
		*reason = "JSON floating-point numbers are not allowed";
		return MN_EMALFORMED;
	case JSON_TRUE:
		jcs_emit(c, "true", 4);
		return 0;
	case JSON_FALSE:
		jcs_emit(c, "false", 5);
		return 0;
	case JSON_NULL:
		jcs_emit(c, "null", 4);
		return 0;
	}
	*reason = "JSON value of unknown type";
	return MN_EMALFORMED;
}

/* json_load_strict parses a whole JSON object or array, refusing duplicate
 * names at every depth (jansson passes JSON_REJECT_DUPLICATES down to nested
 * objects) and NUL in strings. |what| picks the reasons. */
int policy__json_load_strict(json_t **out, const uint8_t *in, size_t in_len,
			    int header, const char **reason)
{
	json_error_t e;
	json_t *j = json_loadb((const char *)in, in_len, JSON_REJECT_DUPLICATES, &e);
	if (j == NULL) {
		if (json_error_code(&e) == json_error_duplicate_key)
			*reason = header ? "JWS header has a duplicate key"
					 : "payload has a duplicate key";
		else if (json_error_code(&e) == json_error_out_of_memory)
			return MN_ENOMEM;
		else
			*reason = header ? "JWS header is not JSON" : "payload is not JSON";
		return MN_EMALFORMED;
	}
	*out = j;
	return 0;
}

/* jcs_load parses |in| and requires it to be its own canonical form. */
int policy__jcs_load(json_t **out, const uint8_t *in, size_t in_len,
		    const char **reason)
{
	json_t *j = NULL;
	int ret = policy__json_load_strict(&j, in, in_len, 0, reason);
	if (ret != 0)
		return ret;
	struct jcs_cmp c = {in, in_len, 0, 0};
	ret = jcs_walk(&c, j, 0, reason);
	if (ret == 0 && (c.differs || c.pos != c.len)) {
		*reason = "payload is not canonical JSON (RFC 8785)";
		ret = MN_EMALFORMED;
	}
	if (ret != 0) {
		json_decref(j);
		return ret;
	}
	*out = j;
	return 0;
}

int policy_jcs_check(const uint8_t *in, size_t in_len, const char **out_reason)
{
	const char *reason = NULL;
	json_t *j = NULL;
	int ret = policy__jcs_load(&j, in, in_len, &reason);
	json_decref(j);
	if (out_reason != NULL)
		*out_reason = reason;
	return ret;
}
