/* test_b64.c: base64 (RFC 4648 section 10 vectors, a cross-check against the
 * openssl command line and against EVP_EncodeBlock for random inputs of every
 * length, strict rejection) and base64url (RFC 7515). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/b64.h"
#include "common/err.h"

/* RFC 4648 section 10 */
static const char *const rfc_in[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
static const char *const rfc_out[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
				       "Zm9vYmFy" };

static int decode_str(const char *s, size_t max_len, uint8_t **out, size_t *out_len)
{
	return mn_b64_decode(out, out_len, s, strlen(s), max_len);
}

static void test_rfc4648_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rfc_in) / sizeof(rfc_in[0]); i++) {
		size_t n = strlen(rfc_in[i]);
		char enc[16];
		uint8_t *dec = NULL;
		size_t dec_len = 99;

		memset(enc, 'x', sizeof(enc));
		assert_int_equal(mn_b64_encoded_len(n), strlen(rfc_out[i]));
		assert_int_equal(mn_b64_encode(enc, (const uint8_t *)rfc_in[i], n),
				 strlen(rfc_out[i]));
		assert_string_equal(enc, rfc_out[i]);

		assert_int_equal(decode_str(rfc_out[i], 1024, &dec, &dec_len), 0);
		assert_non_null(dec);
		assert_int_equal(dec_len, n);
		if (n != 0)
			assert_memory_equal(dec, rfc_in[i], n);
		free(dec);
	}
}

static void test_openssl_crosscheck(void **state)
{
	char dir[] = "/tmp/mn-b64-XXXXXX";
	char path[64], cmd[128];
	uint8_t data[1000], *dec = NULL;
	char enc[1400], ref[1400];
	size_t enc_len, ref_len, dec_len;
	FILE *f;

	(void)state;
	assert_int_equal(RAND_bytes(data, sizeof(data)), 1);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/in", dir);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, sizeof(data), f), sizeof(data));
	assert_int_equal(fclose(f), 0);
	snprintf(cmd, sizeof(cmd), "openssl base64 -A -in %s", path);
	f = popen(cmd, "r");
	assert_non_null(f);
	ref_len = fread(ref, 1, sizeof(ref) - 1, f);
	assert_int_equal(pclose(f), 0);
	unlink(path);
	rmdir(dir);
	/* openssl ends the single line with a newline */
	while (ref_len > 0 && (ref[ref_len - 1] == '\n' || ref[ref_len - 1] == '\r'))
		ref_len--;
	ref[ref_len] = '\0';

	enc_len = mn_b64_encode(enc, data, sizeof(data));
	assert_int_equal(enc_len, mn_b64_encoded_len(sizeof(data)));
	assert_int_equal(enc_len, 1336);
	assert_string_equal(enc, ref);
	assert_int_equal(mn_b64_decode(&dec, &dec_len, ref, ref_len, sizeof(data)), 0);
	assert_int_equal(dec_len, sizeof(data));
	assert_memory_equal(dec, data, sizeof(data));
	free(dec);
	/* max_len one short of the output */
	dec = NULL;
	assert_int_equal(mn_b64_decode(&dec, &dec_len, ref, ref_len, sizeof(data) - 1),
			 MN_ETOOBIG);
	assert_null(dec);
}

static void test_b64_reject(void **state)
{
	static const char *const bad[] = {
		"Zg=",	     /* length not a multiple of 4 */
		"Zg",	     /* unpadded */
		"Z",	     "Zm9vY",
		"Z===",	     /* three pad chars */
		"====",	     "Zh==",	    /* non-canonical: low bits set */
		"Zm9=",	     /* non-canonical with one '=' (9 = 0b111101) */
		"Zm9v\n",    "Zm9v\nYmFy", "Zm9v YmFy", " Zm9v", "Zm9v ",
		"Zm9v\r\n",  "Zm9v\t",
		"Zm-v",	     "Zm_v",	    "Zm9v-A==", /* base64url chars */
		"Zg==Zg==",  /* padding in the middle */
		"Z=g=",	     "=Zg=", "Zm9v=", "Zm9v====",
		"Zm9*",	     "Zm9\x80",
	};
	uint8_t *dec;
	size_t dec_len;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		dec = NULL;
		if (decode_str(bad[i], 1024, &dec, &dec_len) != MN_EMALFORMED)
			fail_msg("accepted bad base64 #%zu", i);
		assert_null(dec);
	}
	/* an embedded NUL */
	dec = NULL;
	assert_int_equal(mn_b64_decode(&dec, &dec_len, "Zm\0v", 4, 1024), MN_EMALFORMED);
	/* the canonical forms next to the rejected ones are accepted */
	assert_int_equal(decode_str("Zg==", 1, &dec, &dec_len), 0);
	assert_int_equal(dec_len, 1);
	assert_int_equal(dec[0], 'f');
	free(dec);
	assert_int_equal(decode_str("Zm8=", 2, &dec, &dec_len), 0);
	assert_int_equal(dec_len, 2);
	free(dec);
	/* max_len: the padded bytes do not count, one more does */
	dec = NULL;
	assert_int_equal(decode_str("Zm9vYg==", 3, &dec, &dec_len), MN_ETOOBIG);
	assert_null(dec);
	assert_int_equal(decode_str("Zm9vYg==", 4, &dec, &dec_len), 0);
	assert_int_equal(dec_len, 4);
	free(dec);
	assert_int_equal(decode_str("", 0, &dec, &dec_len), 0);
	assert_int_equal(dec_len, 0);
	free(dec);
}

static void test_b64_all_bytes(void **state)
{
	uint8_t data[256], *dec;
	char enc[400];
	size_t dec_len;

	(void)state;
	for (int i = 0; i < 256; i++)
		data[i] = (uint8_t)i;
	/* every length, every tail shape, both alphabets */
	for (size_t n = 0; n <= sizeof(data); n++) {
		size_t e = mn_b64_encode(enc, data + (256 - n), n);

		assert_int_equal(e, mn_b64_encoded_len(n));
		assert_int_equal(strlen(enc), e);
		assert_int_equal(mn_b64_decode(&dec, &dec_len, enc, e, n), 0);
		assert_int_equal(dec_len, n);
		if (n != 0)
			assert_memory_equal(dec, data + (256 - n), n);
		free(dec);

		e = mn_b64url_encode(enc, data + (256 - n), n);
		assert_int_equal(e, mn_b64url_encoded_len(n));
		assert_int_equal(strlen(enc), e);
		assert_null(strpbrk(enc, "+/="));
		assert_int_equal(mn_b64url_decode(&dec, &dec_len, enc, e, n), 0);
		assert_int_equal(dec_len, n);
		if (n != 0)
			assert_memory_equal(dec, data + (256 - n), n);
		free(dec);
	}
}

static void test_b64url(void **state)
{
	/* RFC 7515 appendix C */
	static const uint8_t c_bytes[] = { 3, 236, 255, 224, 193 };
	static const struct {
		const char *in, *out;
	} rfc[] = { { "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
		    { "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" }, { "foobar", "Zm9vYmFy" } };
	static const char *const bad[] = {
		"A-z_4ME=", "A-z_4M==", "Zg==", "Zm8=", /* padding */
		"A+z/4ME",  "A+z_4ME", "A-z/4ME",	/* standard alphabet */
		"Z",	    "Zm9vY",			/* length % 4 == 1 */
		"Zh",	    "Zm9",			/* non-canonical bits */
		"A-z_ 4ME", "A-z_4ME\n", "A-z_=4ME",
	};
	char enc[16];
	uint8_t *dec;
	size_t dec_len;

	(void)state;
	assert_int_equal(mn_b64url_encoded_len(sizeof(c_bytes)), 7);
	assert_int_equal(mn_b64url_encode(enc, c_bytes, sizeof(c_bytes)), 7);
	assert_string_equal(enc, "A-z_4ME");
	assert_int_equal(mn_b64url_decode(&dec, &dec_len, "A-z_4ME", 7, 5), 0);
	assert_int_equal(dec_len, 5);
	assert_memory_equal(dec, c_bytes, 5);
	free(dec);
	dec = NULL;
	assert_int_equal(mn_b64url_decode(&dec, &dec_len, "A-z_4ME", 7, 4), MN_ETOOBIG);
	assert_null(dec);

	for (size_t i = 0; i < sizeof(rfc) / sizeof(rfc[0]); i++) {
		size_t n = strlen(rfc[i].in);

		assert_int_equal(mn_b64url_encode(enc, (const uint8_t *)rfc[i].in, n),
				 strlen(rfc[i].out));
		assert_string_equal(enc, rfc[i].out);
		assert_int_equal(mn_b64url_decode(&dec, &dec_len, rfc[i].out,
						  strlen(rfc[i].out), 64), 0);
		assert_int_equal(dec_len, n);
		if (n != 0)
			assert_memory_equal(dec, rfc[i].in, n);
		free(dec);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		dec = NULL;
		if (mn_b64url_decode(&dec, &dec_len, bad[i], strlen(bad[i]), 64) != MN_EMALFORMED)
			fail_msg("accepted bad base64url #%zu", i);
		assert_null(dec);
	}
}

/* check_against_evp encodes |data| with both encoders and compares them with
 * OpenSSL's EVP_EncodeBlock (base64url: its output translated, unpadded). */
static void check_against_evp(const uint8_t *data, size_t n, char *enc, char *ref)
{
	size_t e, r;
	int got;

	memset(enc, 'x', mn_b64_encoded_len(n) + 2);
	got = EVP_EncodeBlock((unsigned char *)ref, data, (int)n);
	assert_true(got >= 0);
	r = (size_t)got;
	e = mn_b64_encode(enc, data, n);
	assert_int_equal(e, r);
	assert_int_equal(enc[e], '\0');
	assert_memory_equal(enc, ref, r);

	while (r > 0 && ref[r - 1] == '=')
		r--;
	for (size_t i = 0; i < r; i++)
		ref[i] = ref[i] == '+' ? '-' : ref[i] == '/' ? '_' : ref[i];
	memset(enc, 'x', mn_b64_encoded_len(n) + 2);
	e = mn_b64url_encode(enc, data, n);
	assert_int_equal(e, r);
	assert_int_equal(e, mn_b64url_encoded_len(n));
	assert_int_equal(enc[e], '\0');
	assert_memory_equal(enc, ref, r);
}

static void b64_evp_crosscheck(void)
{
	static const size_t big[] = { 1u << 20, (1u << 20) + 1, (1u << 20) + 2, 3000007 };
	size_t max = 3000007;
	uint8_t *data = malloc(max);
	char *enc = malloc(max / 3 * 4 + 8), *ref = malloc(max / 3 * 4 + 8);

	assert_non_null(data);
	assert_non_null(enc);
	assert_non_null(ref);
	/* every length 0..300, each at several offsets of fresh random bytes;
	 * and each in a heap block of exactly its size, so that the sanitizer
	 * build catches a read past the end (the AVX2 encoder loads 16 bytes at
	 * a time) */
	for (size_t n = 0; n <= 300; n++) {
		uint8_t *exact = malloc(n ? n : 1);

		assert_non_null(exact);
		for (size_t off = 0; off < 4; off++) {
			assert_int_equal(RAND_bytes(data, (int)(n + off + 1)), 1);
			check_against_evp(data + off, n, enc, ref);
		}
		memcpy(exact, data, n);
		check_against_evp(exact, n, enc, ref);
		free(exact);
	}
	/* all-zero and all-one bytes reach the first and last table entries */
	memset(data, 0, 300);
	check_against_evp(data, 300, enc, ref);
	memset(data, 0xff, 300);
	check_against_evp(data, 300, enc, ref);
	assert_int_equal(RAND_bytes(data, (int)max), 1);
	for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++)
		check_against_evp(data, big[i], enc, ref);
	free(data);
	free(enc);
	free(ref);
}

/* Both encoders: the AVX2 one (where the CPU has it) and the table one. */
static void test_b64_evp_crosscheck(void **state)
{
	(void)state;
	mn_b64__set_simd(1);
	b64_evp_crosscheck();
	mn_b64__set_simd(0);
	b64_evp_crosscheck();
	mn_b64__set_simd(1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4648_vectors),
		cmocka_unit_test(test_openssl_crosscheck),
		cmocka_unit_test(test_b64_reject),
		cmocka_unit_test(test_b64_all_bytes),
		cmocka_unit_test(test_b64url),
		cmocka_unit_test(test_b64_evp_crosscheck),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
