/* test_names.c: entry/names.c. Keys are checked byte for byte against strings
 * written out by hand, and prefix semantics against a table of which names each
 * lookup must (and must not) find. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "entry/names.h"

/* ---- helpers ---- */

static int dns_norm(char *out, const char *in, unsigned flags)
{
	return names_dns_normalize(out, NAMES_MAX_DNS_LEN + 1, in, strlen(in), flags);
}

static void dns_ok(const char *in, unsigned flags, const char *want)
{
	char out[NAMES_MAX_DNS_LEN + 1];
	int n = dns_norm(out, in, flags);

	if (n < 0)
		print_error("rejected: \"%s\" flags %u: %s\n", in, flags, mn_err_name(n));
	assert_int_equal(n, (int)strlen(want));
	assert_string_equal(out, want);
}

static void dns_bad(const char *in, size_t len, unsigned flags)
{
	char out[NAMES_MAX_DNS_LEN + 1];
	int n;

	memset(out, 'X', sizeof(out));
	n = names_dns_normalize(out, sizeof(out), in, len, flags);
	if (n != MN_EMALFORMED)
		print_error("accepted or wrong error: \"%.*s\" flags %u: %d\n", (int)len, in,
			    flags, n);
	assert_int_equal(n, MN_EMALFORMED);
	assert_int_equal(out[0], '\0'); /* no partial output */
}

static void email_ok(const char *in, unsigned flags, const char *want)
{
	char out[NAMES_MAX_EMAIL_LEN + 1];
	int n = names_email_normalize(out, sizeof(out), in, strlen(in), flags);

	if (n < 0)
		print_error("rejected: \"%s\": %s\n", in, mn_err_name(n));
	assert_int_equal(n, (int)strlen(want));
	assert_string_equal(out, want);
}

static void email_bad(const char *in, size_t len, unsigned flags)
{
	char out[NAMES_MAX_EMAIL_LEN + 1];
	int n;

	memset(out, 'X', sizeof(out));
	n = names_email_normalize(out, sizeof(out), in, len, flags);
	if (n != MN_EMALFORMED)
		print_error("accepted or wrong error: \"%.*s\": %d\n", (int)len, in, n);
	assert_int_equal(n, MN_EMALFORMED);
	assert_int_equal(out[0], '\0');
}

/* rep returns |n| copies of |c| followed by |tail| (static buffer per slot). */
static const char *rep(int slot, char c, size_t n, const char *tail)
{
	static char bufs[4][600];
	char *b = bufs[slot];

	assert_true(n + strlen(tail) < sizeof(bufs[0]));
	memset(b, c, n);
	memcpy(b + n, tail, strlen(tail) + 1);
	return b;
}

/* long_name builds a name of exactly |total| characters from 63-char labels
 * ending in ".com" (total >= 5). */
static const char *long_name(char *buf, size_t total)
{
	size_t w = 0, rest = total - 3;

	while (rest > 0) {
		size_t lab = rest > 64 ? 63 : rest - 1;

		if (rest - lab - 1 == 1) /* avoid leaving a lone byte (no room for a dot) */
			lab--;
		if (lab == 0)
			lab = 1;
		memset(buf + w, 'a', lab);
		w += lab;
		buf[w++] = '.';
		rest -= lab + 1;
	}
	memcpy(buf + w, "com", 4);
	assert_int_equal(strlen(buf), total);
	return buf;
}

static int has_prefix(const uint8_t *key, int key_len, const uint8_t *p, int p_len)
{
	return key_len >= p_len && memcmp(key, p, (size_t)p_len) == 0;
}

#define KEYEQ(got, n, lit)                                                 \
	do {                                                               \
		assert_int_equal((n), (int)sizeof(lit) - 1);               \
		assert_memory_equal((got), (lit), sizeof(lit) - 1);        \
	} while (0)

/* ---- DNS normalization ---- */

static void test_dns_accept(void **state)
{
	char buf[300];

	(void)state;
	dns_ok("example.com", NAMES_QUERY, "example.com");
	dns_ok("EXAMPLE.COM", NAMES_QUERY, "example.com");
	dns_ok("WwW.ExAmPlE.cOm", 0, "www.example.com");
	dns_ok("example.com.", NAMES_QUERY, "example.com");
	dns_ok("xn--bcher-kva.example", NAMES_QUERY, "xn--bcher-kva.example");
	dns_ok("XN--BCHER-KVA.example", NAMES_QUERY, "xn--bcher-kva.example");
	dns_ok("a-b--c.example", 0, "a-b--c.example");
	dns_ok("0.example.com", 0, "0.example.com");
	dns_ok("3com.com", 0, "3com.com");
	dns_ok("localhost", 0, "localhost");
	dns_ok("localhost.", 0, "localhost");
	dns_ok(rep(0, 'a', 63, ".com"), 0, rep(1, 'a', 63, ".com"));
	dns_ok(long_name(buf, 253), NAMES_QUERY, buf);
	/* underscores only with the flag */
	dns_ok("_dmarc.example.com", NAMES_ALLOW_UNDERSCORE, "_dmarc.example.com");
	dns_ok("_25._tcp.MX.example.com", NAMES_ALLOW_UNDERSCORE, "_25._tcp.mx.example.com");
	/* wildcard only leftmost, whole label, with the flag */
	dns_ok("*.example.com", NAMES_ALLOW_WILDCARD, "*.example.com");
	dns_ok("*.EXAMPLE.com.", NAMES_ALLOW_WILDCARD | NAMES_QUERY, "*.example.com");
	dns_ok("*.com", NAMES_ALLOW_WILDCARD, "*.com");
}

static void test_dns_reject(void **state)
{
	char buf[300];
	const char *s;

	(void)state;
	dns_bad("", 0, 0);
	dns_bad(NULL, 0, 0);
	dns_bad(".", 1, 0);
	dns_bad("..", 2, 0);
	dns_bad("example..com", 12, 0);
	dns_bad(".example.com", 12, 0);
	dns_bad("example.com..", 13, 0); /* only one trailing dot is stripped */
	s = rep(0, 'a', 64, ".com");    /* label of 64 */
	dns_bad(s, strlen(s), 0);
	long_name(buf, 254);            /* total 254 */
	dns_bad(buf, strlen(buf), 0);
	{
		char want[300];

		long_name(want, 253);
		memcpy(buf, want, 253);
		buf[253] = '.'; /* 253 + trailing dot is fine */
		buf[254] = '\0';
		dns_ok(buf, 0, want);
		buf[254] = '.'; /* ... two are not */
		buf[255] = '\0';
		dns_bad(buf, 255, 0);
	}
	dns_bad("-a.example.com", 14, 0);
	dns_bad("a-.example.com", 14, 0);
	dns_bad("a.example-.com", 14, 0);
	dns_bad("example.-com", 12, 0);
	dns_bad("-", 1, 0);
	dns_bad("b\xc3\xbc" "cher.example", 14, 0); /* "bücher.example", UTF-8 */
	dns_bad("b\xfc" "cher.example", 13, 0);     /* Latin-1 */
	dns_bad("exa mple.com", 12, 0);
	dns_bad("example.com\n", 12, 0);
	dns_bad("exa\0mple.com", 12, 0);
	dns_bad("example.com\0", 12, 0);
	dns_bad("example.com:443", 15, 0);
	dns_bad("user@example.com", 16, 0);
	dns_bad("example/com", 11, 0);
	dns_bad("192.0.2.1", 9, 0);      /* all-digit last label: an address */
	dns_bad("example.123", 11, 0);
	dns_bad("123", 3, 0);
	/* underscore without the flag, and never in queries */
	dns_bad("_dmarc.example.com", 18, 0);
	dns_bad("_dmarc.example.com", 18, NAMES_QUERY);
	/* wildcards */
	dns_bad("*.example.com", 13, 0);
	dns_bad("*.example.com", 13, NAMES_QUERY);
	dns_bad("www.*.example.com", 17, NAMES_ALLOW_WILDCARD);
	dns_bad("example.*", 9, NAMES_ALLOW_WILDCARD);
	dns_bad("*", 1, NAMES_ALLOW_WILDCARD);
	dns_bad("*.", 2, NAMES_ALLOW_WILDCARD);
	dns_bad("w*.example.com", 14, NAMES_ALLOW_WILDCARD);
	dns_bad("**.example.com", 14, NAMES_ALLOW_WILDCARD);
	dns_bad("*.*.example.com", 15, NAMES_ALLOW_WILDCARD);
	/* single-label queries */
	dns_bad("localhost", 9, NAMES_QUERY);
	dns_bad("com.", 4, NAMES_QUERY);
}

static void test_dns_args(void **state)
{
	char out[NAMES_MAX_DNS_LEN + 1];

	(void)state;
	assert_int_equal(names_dns_normalize(NULL, 10, "a.com", 5, 0), MN_EINVAL);
	assert_int_equal(names_dns_normalize(out, 0, "a.com", 5, 0), MN_EINVAL);
	assert_int_equal(names_dns_normalize(out, sizeof(out), "a.com", 5, 0x80), MN_EINVAL);
	/* room for "a.com" but not its NUL */
	memset(out, 'X', sizeof(out));
	assert_int_equal(names_dns_normalize(out, 5, "a.com", 5, 0), MN_EINVAL);
	assert_int_equal(out[0], '\0');
	assert_int_equal(names_dns_normalize(out, 6, "A.com.", 6, 0), 5);
	assert_string_equal(out, "a.com");
	/* the length argument rules, not a NUL */
	assert_int_equal(names_dns_normalize(out, sizeof(out), "a.comXYZ", 5, 0), 5);
	assert_string_equal(out, "a.com");
}

/* A wildcard counts as a label for NAMES_QUERY's two-label rule. */
static void test_dns_wildcard_tld(void **state)
{
	(void)state;
	dns_ok("*.com", NAMES_QUERY | NAMES_ALLOW_WILDCARD, "*.com");
}

/* ---- DNS keys ---- */

static void test_dns_key_bytes(void **state)
{
	uint8_t k[NAMES_MAX_KEY_LEN];
	char buf[300];
	int n;

	(void)state;
	n = names_dns_key(k, sizeof(k), "example.com", 11, NAMES_CLASS_TLS);
	KEYEQ(k, n, "com.example.\0t");
	n = names_dns_key(k, sizeof(k), "www.example.com", 15, NAMES_CLASS_SMIME);
	KEYEQ(k, n, "com.example.www.\0s");
	n = names_dns_key(k, sizeof(k), "*.example.com", 13, NAMES_CLASS_TLS);
	KEYEQ(k, n, "com.example.*.\0t");
	n = names_dns_key(k, sizeof(k), "localhost", 9, NAMES_CLASS_PGP);
	KEYEQ(k, n, "localhost.\0p");
	n = names_dns_key(k, sizeof(k), "_dmarc.example.com", 18, NAMES_CLASS_POLICY);
	KEYEQ(k, n, "com.example._dmarc.\0y");
	n = names_dns_key(k, sizeof(k), "a.b.c.d.e", 9, NAMES_CLASS_TLS);
	KEYEQ(k, n, "e.d.c.b.a.\0t");
	n = names_dns_key(k, sizeof(k), "xn--bcher-kva.example", 21, NAMES_CLASS_TLS);
	KEYEQ(k, n, "example.xn--bcher-kva.\0t");

	/* Only canonical input, only known classes. */
	assert_int_equal(names_dns_key(k, sizeof(k), "Example.com", 11, 't'), MN_EINVAL);
	assert_int_equal(names_dns_key(k, sizeof(k), "example.com.", 12, 't'), MN_EINVAL);
	assert_int_equal(names_dns_key(k, sizeof(k), "", 0, 't'), MN_EINVAL);
	assert_int_equal(names_dns_key(k, sizeof(k), NULL, 0, 't'), MN_EINVAL);
	assert_int_equal(names_dns_key(k, sizeof(k), "example.com", 11, 'x'), MN_EINVAL);
	assert_int_equal(names_dns_key(k, sizeof(k), "example.com", 11, 0), MN_EINVAL);
	assert_int_equal(names_dns_key(k, 13, "example.com", 11, 't'), MN_EINVAL);
	assert_int_equal(names_dns_key(k, 14, "example.com", 11, 't'), 14);

	/* 252 characters make a 255-byte key; 253 cannot be stored. */
	long_name(buf, 252);
	assert_int_equal(names_dns_key(k, sizeof(k), buf, 252, 't'), 255);
	assert_memory_equal(k, "com.", 4);
	assert_int_equal(k[253], 0);
	assert_int_equal(k[254], 't');
	long_name(buf, 253);
	assert_int_equal(names_dns_key(k, sizeof(k), buf, 253, 't'), MN_ETOOBIG);
	/* ... but it can be looked up (and finds nothing). */
	assert_int_equal(names_dns_query_prefix(k, sizeof(k), buf, 253, 0), 255);
	assert_int_equal(names_dns_query_prefix(k, sizeof(k), buf, 253, 1), 254);
}

/* unreverse turns a DNS key back into the dotted name, independently of the
 * code under test; returns its class. */
static int unreverse(const uint8_t *key, size_t len, char *out)
{
	const char *labels[128];
	size_t lens[128], num = 0, start = 0, i, w = 0;

	assert_true(len >= 3);
	assert_int_equal(key[len - 2], 0);
	for (i = 0; i < len - 2; i++) {
		if (key[i] == '.') {
			assert_true(num < 128);
			labels[num] = (const char *)key + start;
			lens[num++] = i - start;
			start = i + 1;
		}
	}
	assert_int_equal(start, len - 2); /* ends with a dot */
	while (num > 0) {
		num--;
		memcpy(out + w, labels[num], lens[num]);
		w += lens[num];
		if (num > 0)
			out[w++] = '.';
	}
	out[w] = '\0';
	return key[len - 1];
}

static void test_dns_key_roundtrip(void **state)
{
	static const char *const names[] = {
		"example.com", "www.example.com", "*.example.com", "a.b.c.d.e.f.g",
		"localhost", "_dmarc.example.com", "x.y", "a-1.b-2.c3",
	};
	static const uint8_t classes[] = {'t', 's', 'p', 'y'};
	uint8_t k[NAMES_MAX_KEY_LEN];
	char back[300];
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		for (j = 0; j < 4; j++) {
			int n = names_dns_key(k, sizeof(k), names[i], strlen(names[i]),
					      classes[j]);

			assert_int_equal(n, (int)strlen(names[i]) + 3);
			assert_int_equal(unreverse(k, (size_t)n, back), classes[j]);
			assert_string_equal(back, names[i]);
			assert_int_equal(names_key_class(k, (size_t)n), classes[j]);
		}
	}
}

/* ---- DNS prefix semantics ---- */

static void test_dns_prefix_semantics(void **state)
{
	/* Index: the names a set of certificates spoke for. */
	static const char *const stored[] = {
		"example.com",         /* 0 */
		"www.example.com",     /* 1 */
		"example.co",          /* 2 */
		"examples.com",        /* 3 */
		"sub.www.example.com", /* 4 */
		"*.example.com",       /* 5 */
		"EXAMPLE.COM",         /* 6 */
		"wwwx.example.com",    /* 7 */
		"com",                 /* 8 */
	};
	enum { NUM = sizeof(stored) / sizeof(stored[0]) };
	/* query, subdomains, bitmask of the stored names it must find */
	static const struct {
		const char *q;
		int subs;
		unsigned want;
	} queries[] = {
		{"example.com", 0, 1u << 0 | 1u << 6},
		{"example.com", 1, 1u << 0 | 1u << 1 | 1u << 4 | 1u << 5 | 1u << 6 | 1u << 7},
		{"EXAMPLE.com.", 1, 1u << 0 | 1u << 1 | 1u << 4 | 1u << 5 | 1u << 6 | 1u << 7},
		{"www.example.com", 0, 1u << 1},
		{"www.example.com", 1, 1u << 1 | 1u << 4},
		{"sub.www.example.com", 1, 1u << 4},
		{"example.co", 0, 1u << 2},
		{"example.co", 1, 1u << 2},
		{"examples.com", 0, 1u << 3},
		{"examples.com", 1, 1u << 3},
		{"ample.com", 1, 0},
		{"xample.com", 1, 0},
		{"other.example", 1, 0},
	};
	uint8_t keys[NUM][NAMES_MAX_KEY_LEN];
	int key_len[NUM];
	size_t i, j;

	(void)state;
	for (i = 0; i < NUM; i++) {
		char norm[NAMES_MAX_DNS_LEN + 1];
		int n = dns_norm(norm, stored[i], NAMES_ALLOW_WILDCARD);

		assert_true(n > 0);
		key_len[i] = names_dns_key(keys[i], sizeof(keys[i]), norm, (size_t)n,
					   NAMES_CLASS_TLS);
		assert_true(key_len[i] > 0);
	}
	for (j = 0; j < sizeof(queries) / sizeof(queries[0]); j++) {
		char norm[NAMES_MAX_DNS_LEN + 1];
		uint8_t p[NAMES_MAX_KEY_LEN];
		int n = dns_norm(norm, queries[j].q, NAMES_QUERY), pl;
		unsigned got = 0;

		assert_true(n > 0);
		pl = names_dns_query_prefix(p, sizeof(p), norm, (size_t)n, queries[j].subs);
		assert_int_equal(pl, n + 1 + !queries[j].subs);
		for (i = 0; i < NUM; i++)
			if (has_prefix(keys[i], key_len[i], p, pl))
				got |= 1u << i;
		if (got != queries[j].want)
			print_error("query %s subs=%d: got %#x want %#x\n", queries[j].q,
				    queries[j].subs, got, queries[j].want);
		assert_int_equal(got, queries[j].want);
	}

	/* The prefixes themselves, byte for byte. */
	{
		uint8_t p[NAMES_MAX_KEY_LEN];
		int n;

		n = names_dns_query_prefix(p, sizeof(p), "example.com", 11, 0);
		KEYEQ(p, n, "com.example.\0");
		n = names_dns_query_prefix(p, sizeof(p), "example.com", 11, 1);
		KEYEQ(p, n, "com.example.");
		assert_int_equal(names_dns_query_prefix(p, 12, "example.com", 11, 0), MN_EINVAL);
		assert_int_equal(names_dns_query_prefix(p, 12, "example.com", 11, 1), 12);
		assert_int_equal(names_dns_query_prefix(p, sizeof(p), "EXAMPLE.com", 11, 0),
				 MN_EINVAL);
	}
}

static void test_dns_wildcard_prefix(void **state)
{
	uint8_t p[NAMES_MAX_KEY_LEN], k[NAMES_MAX_KEY_LEN];
	int n, kl;

	(void)state;
	n = names_dns_wildcard_prefix(p, sizeof(p), "www.example.com", 15);
	KEYEQ(p, n, "com.example.*.\0");
	kl = names_dns_key(k, sizeof(k), "*.example.com", 13, NAMES_CLASS_TLS);
	assert_true(has_prefix(k, kl, p, n));
	/* *.example.com does not cover sub.www.example.com or example.com */
	n = names_dns_wildcard_prefix(p, sizeof(p), "sub.www.example.com", 19);
	KEYEQ(p, n, "com.example.www.*.\0");
	assert_false(has_prefix(k, kl, p, n));
	n = names_dns_wildcard_prefix(p, sizeof(p), "example.com", 11);
	KEYEQ(p, n, "com.*.\0");
	assert_false(has_prefix(k, kl, p, n));
	assert_int_equal(names_dns_wildcard_prefix(p, sizeof(p), "localhost", 9), MN_ENOTFOUND);
	assert_int_equal(names_dns_wildcard_prefix(p, sizeof(p), "*.example.com", 13),
			 MN_ENOTFOUND);
	assert_int_equal(names_dns_wildcard_prefix(p, sizeof(p), "WWW.example.com", 15),
			 MN_EINVAL);
	assert_int_equal(names_dns_wildcard_prefix(p, 14, "www.example.com", 15), MN_EINVAL);
}

/* ---- email ---- */

static void test_email_normalize(void **state)
{
	char buf[300];
	const char *s;

	(void)state;
	email_ok("alice@example.com", NAMES_QUERY, "alice@example.com");
	email_ok("Alice@EXAMPLE.com", NAMES_QUERY, "alice@example.com");
	email_ok("ALICE.Smith+Tag@Mail.Example.COM", 0, "alice.smith+tag@mail.example.com");
	email_ok("\"quoted\"@example.com", 0, "\"quoted\"@example.com");
	email_ok("a!#$%&'*+/=?^_`{|}~-@example.com", 0, "a!#$%&'*+/=?^_`{|}~-@example.com");
	email_ok("root@localhost", 0, "root@localhost");
	email_ok("a@xn--bcher-kva.example", NAMES_QUERY, "a@xn--bcher-kva.example");
	email_ok(rep(0, 'a', 64, "@example.com"), 0, rep(1, 'a', 64, "@example.com"));

	email_bad("", 0, 0);
	email_bad(NULL, 0, 0);
	email_bad("alice", 5, 0);
	email_bad("@example.com", 12, 0);
	email_bad("alice@", 6, 0);
	email_bad("alice@@example.com", 18, 0);
	email_bad("a@b@example.com", 15, 0);
	email_bad("al ice@example.com", 18, 0);
	email_bad("al\tice@example.com", 18, 0);
	email_bad("al\0ice@example.com", 18, 0);
	email_bad("al\x7f" "ice@example.com", 18, 0);
	email_bad("j\xc3\xb6rg@example.com", 17, 0);          /* UTF-8 local part */
	email_bad("alice@b\xc3\xbc" "cher.example", 20, 0);   /* U-label domain */
	email_bad("alice@example.com.", 18, 0);
	email_bad("alice@example..com", 18, 0);
	email_bad("alice@-example.com", 18, 0);
	email_bad("alice@_x.example.com", 20, NAMES_ALLOW_UNDERSCORE);
	email_bad("alice@*.example.com", 19, NAMES_ALLOW_WILDCARD);
	email_bad("alice@localhost", 15, NAMES_QUERY);
	email_bad("alice@192.0.2.1", 15, 0);
	email_bad("alice@[192.0.2.1]", 17, 0);
	s = rep(0, 'a', 65, "@example.com");
	email_bad(s, strlen(s), 0);
	/* 64 + 1 + 190 = 255 > 254 */
	memcpy(buf, rep(0, 'a', 64, "@"), 66);
	long_name(buf + 65, 190);
	email_bad(buf, strlen(buf), 0);
	long_name(buf + 65, 189);
	{
		char out[NAMES_MAX_EMAIL_LEN + 1];

		assert_int_equal(names_email_normalize(out, 0, buf, 254, 0), MN_EINVAL);
		assert_int_equal(names_email_normalize(out, sizeof(out), buf, 254, 0), 254);
		assert_int_equal(names_email_normalize(out, 254, buf, 254, 0), MN_EINVAL);
		assert_int_equal(out[0], '\0');
		assert_int_equal(names_email_normalize(out, sizeof(out), buf, 254, 0x40),
				 MN_EINVAL);
	}
}

static void test_email_key_bytes(void **state)
{
	uint8_t k[NAMES_MAX_KEY_LEN];
	char buf[300];
	int n;

	(void)state;
	n = names_email_key(k, sizeof(k), "alice@example.com", 17, NAMES_CLASS_SMIME);
	KEYEQ(k, n, "com.example.@alice\0s");
	n = names_email_key(k, sizeof(k), "bob.smith@mail.example.co.uk", 28, NAMES_CLASS_PGP);
	KEYEQ(k, n, "uk.co.example.mail.@bob.smith\0p");
	n = names_email_key(k, sizeof(k), "root@localhost", 14, NAMES_CLASS_POLICY);
	KEYEQ(k, n, "localhost.@root\0y");
	n = names_email_query_prefix(k, sizeof(k), "alice@example.com", 17);
	KEYEQ(k, n, "com.example.@alice\0");
	n = names_email_domain_prefix(k, sizeof(k), "example.com", 11, 0);
	KEYEQ(k, n, "com.example.@");
	n = names_email_domain_prefix(k, sizeof(k), "example.com", 11, 1);
	KEYEQ(k, n, "com.example.");

	assert_int_equal(names_email_key(k, sizeof(k), "Alice@example.com", 17, 's'), MN_EINVAL);
	assert_int_equal(names_email_key(k, sizeof(k), "alice@EXAMPLE.com", 17, 's'), MN_EINVAL);
	assert_int_equal(names_email_key(k, sizeof(k), "alice@example.com", 17, 'T'), MN_EINVAL);
	assert_int_equal(names_email_key(k, sizeof(k), "example.com", 11, 's'), MN_EINVAL);
	assert_int_equal(names_email_key(k, 19, "alice@example.com", 17, 's'), MN_EINVAL);
	assert_int_equal(names_email_key(k, 20, "alice@example.com", 17, 's'), 20);
	assert_int_equal(names_email_query_prefix(k, sizeof(k), "alice", 5), MN_EINVAL);
	assert_int_equal(names_email_domain_prefix(k, sizeof(k), "Example.com", 11, 0),
			 MN_EINVAL);
	assert_int_equal(names_email_domain_prefix(k, sizeof(k), "*.example.com", 13, 0),
			 MN_EINVAL);
	assert_int_equal(names_email_domain_prefix(k, 12, "example.com", 11, 0), MN_EINVAL);

	/* 252-character address: 255-byte key; 253: none. */
	memcpy(buf, rep(0, 'a', 64, "@"), 66);
	long_name(buf + 65, 187);
	assert_int_equal(names_email_key(k, sizeof(k), buf, 252, 's'), 255);
	assert_int_equal(names_email_query_prefix(k, sizeof(k), buf, 252), 254);
	long_name(buf + 65, 188);
	assert_int_equal(names_email_key(k, sizeof(k), buf, 253, 's'), MN_ETOOBIG);
	assert_int_equal(names_email_query_prefix(k, sizeof(k), buf, 253), 255);
	long_name(buf + 65, 189);
	assert_int_equal(names_email_query_prefix(k, sizeof(k), buf, 254), MN_ETOOBIG);
}

static void test_email_prefix_semantics(void **state)
{
	static const char *const stored[] = {
		"alice@example.com",      /* 0 */
		"alice@example.co",       /* 1 */
		"bob@example.com",        /* 2 */
		"Alice@EXAMPLE.com",      /* 3 */
		"alicex@example.com",     /* 4 */
		"carol@mail.example.com", /* 5 */
		"alice@examples.com",     /* 6 */
		"ali@example.com",        /* 7 */
	};
	enum { NUM = sizeof(stored) / sizeof(stored[0]) };
	uint8_t keys[NUM][NAMES_MAX_KEY_LEN];
	int key_len[NUM];
	uint8_t p[NAMES_MAX_KEY_LEN];
	unsigned got;
	size_t i;
	int pl;

#define MATCHES()                                                              \
	do {                                                                   \
		got = 0;                                                       \
		for (i = 0; i < NUM; i++)                                      \
			if (has_prefix(keys[i], key_len[i], p, pl))            \
				got |= 1u << i;                                \
	} while (0)

	(void)state;
	for (i = 0; i < NUM; i++) {
		char norm[NAMES_MAX_EMAIL_LEN + 1];
		int n = names_email_normalize(norm, sizeof(norm), stored[i], strlen(stored[i]),
					      0);

		assert_true(n > 0);
		key_len[i] = names_email_key(keys[i], sizeof(keys[i]), norm, (size_t)n,
					     NAMES_CLASS_SMIME);
		assert_true(key_len[i] > 0);
	}
	pl = names_email_query_prefix(p, sizeof(p), "alice@example.com", 17);
	MATCHES();
	assert_int_equal(got, 1u << 0 | 1u << 3);
	pl = names_email_query_prefix(p, sizeof(p), "alice@example.co", 16);
	MATCHES();
	assert_int_equal(got, 1u << 1);
	pl = names_email_query_prefix(p, sizeof(p), "bob@example.com", 15);
	MATCHES();
	assert_int_equal(got, 1u << 2);
	pl = names_email_query_prefix(p, sizeof(p), "ali@example.com", 15);
	MATCHES();
	assert_int_equal(got, 1u << 7);
	pl = names_email_domain_prefix(p, sizeof(p), "example.com", 11, 0);
	MATCHES();
	assert_int_equal(got, 1u << 0 | 1u << 2 | 1u << 3 | 1u << 4 | 1u << 7);
	pl = names_email_domain_prefix(p, sizeof(p), "example.com", 11, 1);
	MATCHES();
	assert_int_equal(got, 1u << 0 | 1u << 2 | 1u << 3 | 1u << 4 | 1u << 5 | 1u << 7);
	pl = names_email_domain_prefix(p, sizeof(p), "mail.example.com", 16, 0);
	MATCHES();
	assert_int_equal(got, 1u << 5);
	pl = names_email_domain_prefix(p, sizeof(p), "example.co", 10, 1);
	MATCHES();
	assert_int_equal(got, 1u << 1);
	/* Email keys live in their own index, but even side by side a DNS
	 * exact-lookup prefix never matches one. */
	pl = names_dns_query_prefix(p, sizeof(p), "example.com", 11, 0);
	MATCHES();
	assert_int_equal(got, 0);
#undef MATCHES
}

/* ---- fingerprints ---- */

static void test_fpr(void **state)
{
	static const uint8_t want20[20] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd,
					   0xef, 0x00, 0xff, 0x10, 0x20, 0x30, 0x40,
					   0x50, 0x60, 0x70, 0x80, 0x90, 0xa0};
	uint8_t out[NAMES_MAX_FPR_LEN], k[NAMES_MAX_KEY_LEN];
	char hex64[65];
	int n, i;

	(void)state;
	n = names_fpr_normalize(out, sizeof(out), "0123456789abcdef00ff102030405060708090a0", 40);
	assert_int_equal(n, 20);
	assert_memory_equal(out, want20, 20);
	n = names_fpr_normalize(out, sizeof(out), "0123456789ABCDEF00FF102030405060708090A0", 40);
	assert_int_equal(n, 20);
	assert_memory_equal(out, want20, 20);
	n = names_fpr_normalize(out, sizeof(out), "0123456789AbCdEf00fF102030405060708090a0", 40);
	assert_int_equal(n, 20);
	for (i = 0; i < 64; i++)
		hex64[i] = "0123456789abcdef"[(i * 7) & 15];
	hex64[64] = '\0';
	n = names_fpr_normalize(out, sizeof(out), hex64, 64);
	assert_int_equal(n, 32);
	assert_int_equal(out[0], 0x07);
	assert_int_equal(out[31], ((62 * 7) & 15) << 4 | ((63 * 7) & 15));

	memset(out, 0xee, sizeof(out));
	assert_int_equal(names_fpr_normalize(out, sizeof(out), hex64, 39), MN_EMALFORMED);
	assert_int_equal(names_fpr_normalize(out, sizeof(out), hex64, 41), MN_EMALFORMED);
	assert_int_equal(names_fpr_normalize(out, sizeof(out), hex64, 0), MN_EMALFORMED);
	assert_int_equal(names_fpr_normalize(out, sizeof(out), NULL, 40), MN_EMALFORMED);
	assert_int_equal(names_fpr_normalize(out, sizeof(out),
					     "0x23456789abcdef00ff102030405060708090a0", 40),
			 MN_EMALFORMED);
	assert_int_equal(names_fpr_normalize(out, sizeof(out),
					     "0123 56789abcdef00ff102030405060708090a0", 40),
			 MN_EMALFORMED);
	assert_int_equal(names_fpr_normalize(out, sizeof(out),
					     "0123456789abcdef00ff102030405060708090ag", 40),
			 MN_EMALFORMED);
	assert_int_equal(names_fpr_normalize(out, sizeof(out),
					     "0123456789abcdef00ff10203040506070809\0a0", 40),
			 MN_EMALFORMED);
	assert_int_equal(out[0], 0xee); /* untouched */
	assert_int_equal(names_fpr_normalize(out, 19, "0123456789abcdef00ff102030405060708090a0",
					     40),
			 MN_EINVAL);
	assert_int_equal(out[0], 0xee);

	n = names_fpr_key(k, sizeof(k), want20, 20, NAMES_CLASS_PGP);
	KEYEQ(k, n, "0123456789abcdef00ff102030405060708090a0\0p");
	n = names_fpr_query_prefix(k, sizeof(k), want20, 20);
	KEYEQ(k, n, "0123456789abcdef00ff102030405060708090a0\0");
	assert_int_equal(names_fpr_normalize(out, sizeof(out), hex64, 64), 32);
	n = names_fpr_key(k, sizeof(k), out, 32, NAMES_CLASS_PGP);
	assert_int_equal(n, 66);
	assert_memory_equal(k, hex64, 64);
	assert_int_equal(names_key_class(k, (size_t)n), 'p');
	assert_int_equal(names_fpr_key(k, sizeof(k), want20, 16, 'p'), MN_EINVAL);
	assert_int_equal(names_fpr_key(k, sizeof(k), want20, 20, 'q'), MN_EINVAL);
	assert_int_equal(names_fpr_key(k, 41, want20, 20, 'p'), MN_EINVAL);
	assert_int_equal(names_fpr_key(k, 42, want20, 20, 'p'), 42);
	assert_int_equal(names_fpr_query_prefix(k, 40, want20, 20), MN_EINVAL);
}

/* ---- class byte ---- */

static void test_key_class(void **state)
{
	static const uint8_t classes[] = {NAMES_CLASS_TLS, NAMES_CLASS_SMIME, NAMES_CLASS_PGP,
					  NAMES_CLASS_POLICY};
	uint8_t k[NAMES_MAX_KEY_LEN], fpr[20] = {0};
	size_t i;
	int n;

	(void)state;
	assert_int_equal(NAMES_CLASS_TLS, 't');
	assert_int_equal(NAMES_CLASS_SMIME, 's');
	assert_int_equal(NAMES_CLASS_PGP, 'p');
	assert_int_equal(NAMES_CLASS_POLICY, 'y');
	for (i = 0; i < 4; i++) {
		assert_true(names_class_valid(classes[i]));
		n = names_dns_key(k, sizeof(k), "example.com", 11, classes[i]);
		assert_int_equal(names_key_class(k, (size_t)n), classes[i]);
		n = names_email_key(k, sizeof(k), "a@example.com", 13, classes[i]);
		assert_int_equal(names_key_class(k, (size_t)n), classes[i]);
		n = names_fpr_key(k, sizeof(k), fpr, 20, classes[i]);
		assert_int_equal(names_key_class(k, (size_t)n), classes[i]);
	}
	assert_false(names_class_valid('x'));
	assert_false(names_class_valid(0));
	assert_false(names_class_valid('T'));
	assert_int_equal(names_key_class((const uint8_t *)"a.\0t", 4), 't');
	assert_int_equal(names_key_class((const uint8_t *)"\0t", 2), MN_EMALFORMED);
	assert_int_equal(names_key_class((const uint8_t *)"a.t", 3), MN_EMALFORMED);
	assert_int_equal(names_key_class((const uint8_t *)"a.\0x", 4), MN_EMALFORMED);
	assert_int_equal(names_key_class((const uint8_t *)"a\0.\0t", 5), MN_EMALFORMED);
	assert_int_equal(names_key_class((const uint8_t *)"com.example.", 12), MN_EMALFORMED);
	assert_int_equal(names_key_class(NULL, 4), MN_EMALFORMED);
}

/* ---- keysets ---- */

static void test_keyset(void **state)
{
	struct names_keyset ks;
	uint8_t fpr[20];

	(void)state;
	memset(fpr, 0xab, sizeof(fpr));
	names_keyset_init(&ks, 100);
	/* A TLS certificate naming one host twice, and a wildcard. */
	assert_int_equal(names_keyset_add_dns(&ks, "www.example.com", 15, 0, 't'), 0);
	assert_int_equal(names_keyset_add_dns(&ks, "WWW.Example.com.", 16, 0, 't'), 0);
	assert_int_equal(names_keyset_add_dns(&ks, "*.example.com", 13, NAMES_ALLOW_WILDCARD,
					      't'),
			 0);
	assert_int_equal(ks.num_keys, 2);
	assert_int_equal(ks.keys[0].index, NAMES_INDEX_DNS);
	KEYEQ(ks.keys[0].data, ks.keys[0].len, "com.example.www.\0t");
	KEYEQ(ks.keys[1].data, ks.keys[1].len, "com.example.*.\0t");
	assert_int_equal(names_keyset_add_dns(&ks, "*.example.com", 13, 0, 't'), MN_EMALFORMED);
	assert_int_equal(names_keyset_add_dns(&ks, "example.com", 11, 0, 'z'), MN_EINVAL);
	assert_int_equal(ks.num_keys, 2);
	names_keyset_cleanup(&ks);
	assert_null(ks.keys);

	/* An S/MIME certificate with two addresses at one domain. */
	names_keyset_init(&ks, 100);
	assert_int_equal(names_keyset_add_email(&ks, "Alice@Example.com", 17, 1, 's'), 0);
	assert_int_equal(names_keyset_add_email(&ks, "bob@example.COM", 15, 1, 's'), 0);
	assert_int_equal(names_keyset_add_email(&ks, "alice@example.com", 17, 1, 's'), 0);
	assert_int_equal(ks.num_keys, 3);
	assert_int_equal(ks.keys[0].index, NAMES_INDEX_EMAIL);
	KEYEQ(ks.keys[0].data, ks.keys[0].len, "com.example.@alice\0s");
	assert_int_equal(ks.keys[1].index, NAMES_INDEX_DNS);
	KEYEQ(ks.keys[1].data, ks.keys[1].len, "com.example.\0s");
	assert_int_equal(ks.keys[2].index, NAMES_INDEX_EMAIL);
	KEYEQ(ks.keys[2].data, ks.keys[2].len, "com.example.@bob\0s");
	/* The same key bytes in another index are another key. */
	assert_int_equal(names_keyset_add(&ks, NAMES_INDEX_FPR, ks.keys[1].data,
					  ks.keys[1].len),
			 0);
	assert_int_equal(ks.num_keys, 4);
	/* A PGP endorsement: address without its domain key, and fingerprints. */
	assert_int_equal(names_keyset_add_email(&ks, "carol@example.org", 17, 0, 'p'), 0);
	assert_int_equal(names_keyset_add_fpr(&ks, fpr, 20, 'p'), 0);
	assert_int_equal(names_keyset_add_fpr(&ks, fpr, 20, 'p'), 0);
	assert_int_equal(names_keyset_add_fpr(&ks, fpr, 19, 'p'), MN_EINVAL);
	assert_int_equal(ks.num_keys, 6);
	assert_int_equal(ks.keys[5].index, NAMES_INDEX_FPR);
	KEYEQ(ks.keys[5].data, ks.keys[5].len, "abababababababababababababababababababab\0p");
	assert_int_equal(names_keyset_add_email(&ks, "carol", 5, 0, 'p'), MN_EMALFORMED);
	assert_int_equal(names_keyset_add(&ks, (enum names_index)7, fpr, 1), MN_EINVAL);
	assert_int_equal(names_keyset_add(&ks, NAMES_INDEX_DNS, fpr, 0), MN_EINVAL);
	assert_int_equal(names_keyset_add(&ks, NAMES_INDEX_DNS, fpr, 256), MN_EINVAL);
	names_keyset_cleanup(&ks);

	/* The cap, and growth past the first allocation. */
	names_keyset_init(&ks, 20);
	for (int i = 0; i < 20; i++) {
		char name[32];
		int len = snprintf(name, sizeof(name), "h%d.example.com", i);

		assert_int_equal(names_keyset_add_dns(&ks, name, (size_t)len, 0, 't'), 0);
	}
	assert_int_equal(ks.num_keys, 20);
	/* a duplicate is still fine at the cap, a new key is not */
	assert_int_equal(names_keyset_add_dns(&ks, "h3.example.com", 14, 0, 't'), 0);
	assert_int_equal(names_keyset_add_dns(&ks, "h20.example.com", 15, 0, 't'), MN_ETOOBIG);
	KEYEQ(ks.keys[19].data, ks.keys[19].len, "com.example.h19.\0t");
	names_keyset_cleanup(&ks);
}

/* ---- hostile input ---- */

/* Random short strings over an alphabet rich in edge bytes: whatever is
 * accepted must be canonical (normalizing it again is the identity) and give
 * keys that reverse back to it. */
static void test_random_inputs(void **state)
{
	static const char alpha[] = "aZ09-._*.@\x80\xff\0 .A-";
	uint64_t x = 0x9e3779b97f4a7c15u;
	char in[80], out[NAMES_MAX_EMAIL_LEN + 1], again[NAMES_MAX_EMAIL_LEN + 1];
	char back[300];
	uint8_t k[NAMES_MAX_KEY_LEN];
	int iter, accepted = 0;

	(void)state;
	for (iter = 0; iter < 200000; iter++) {
		size_t len, i;
		unsigned flags;
		int n;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		len = (size_t)(x % 12);
		flags = (unsigned)(x >> 8) & 7;
		for (i = 0; i < len; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			in[i] = alpha[x % (sizeof(alpha) - 1)];
		}
		n = names_dns_normalize(out, NAMES_MAX_DNS_LEN + 1, in, len, flags);
		if (n >= 0) {
			accepted++;
			assert_int_equal(names_dns_normalize(again, sizeof(again), out,
							     (size_t)n, flags),
					 n);
			assert_string_equal(again, out);
			assert_int_equal(names_dns_key(k, sizeof(k), out, (size_t)n, 'y'),
					 n + 3);
			assert_int_equal(unreverse(k, (size_t)n + 3, back), 'y');
			assert_string_equal(back, out);
		} else {
			assert_int_equal(n, MN_EMALFORMED);
		}
		n = names_email_normalize(out, sizeof(out), in, len, flags);
		if (n >= 0) {
			assert_int_equal(names_email_normalize(again, sizeof(again), out,
							       (size_t)n, 0),
					 n);
			assert_string_equal(again, out);
			assert_int_equal(names_email_key(k, sizeof(k), out, (size_t)n, 's'),
					 n + 3);
			assert_int_equal(names_key_class(k, (size_t)n + 3), 's');
		} else {
			assert_int_equal(n, MN_EMALFORMED);
		}
	}
	assert_true(accepted > 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dns_accept),
		cmocka_unit_test(test_dns_reject),
		cmocka_unit_test(test_dns_args),
		cmocka_unit_test(test_dns_wildcard_tld),
		cmocka_unit_test(test_dns_key_bytes),
		cmocka_unit_test(test_dns_key_roundtrip),
		cmocka_unit_test(test_dns_prefix_semantics),
		cmocka_unit_test(test_dns_wildcard_prefix),
		cmocka_unit_test(test_email_normalize),
		cmocka_unit_test(test_email_key_bytes),
		cmocka_unit_test(test_email_prefix_semantics),
		cmocka_unit_test(test_fpr),
		cmocka_unit_test(test_key_class),
		cmocka_unit_test(test_keyset),
		cmocka_unit_test(test_random_inputs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
