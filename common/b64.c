/* b64.c: base64 (RFC 4648 section 4) and base64url without padding
 * (RFC 4648 section 5, as RFC 7515 section 2 uses it).
 *
 * Encoding is table-driven: each 12 bits of input index a table of all 4096
 * two-char pairs, so 3 bytes become 4 chars in two lookups (2-3x
 * EVP_EncodeBlock, which get-entries spends most of its time in). The output
 * is the same to the byte; tests/common/test_b64.c cross-checks it.
 *
 * Decoding goes through OpenSSL's EVP_DecodeBlock, which is lenient (it skips
 * surrounding whitespace and does not check the unused trailing bits), so
 * every input is validated here first: decoding is strict and canonical, one
 * byte string has one encoding. */
#include "common/b64.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/err.h"

/* EVP_DecodeBlock takes an int length: decode in chunks well below INT_MAX
 * that are whole groups (4 chars in, 3 bytes out). */
#define DEC_CHUNK ((size_t)4 << 28)

/* The pair tables: entry i (chars 2i and 2i+1) encodes the 12 bits i, built
 * at compile time from the alphabet (RFC 4648 tables 1 and 2) by string
 * literal concatenation. ROW(P, X, Y) is P followed by each of the 64 chars,
 * with X and Y as values 62 and 63. */
#define ROW(P, X, Y) \
	P "A" P "B" P "C" P "D" P "E" P "F" P "G" P "H" P "I" P "J" P "K" P "L" P \
	"M" P "N" P "O" P "P" P "Q" P "R" P "S" P "T" P "U" P "V" P "W" P "X" P "Y" \
	P "Z" P "a" P "b" P "c" P "d" P "e" P "f" P "g" P "h" P "i" P "j" P "k" P \
	"l" P "m" P "n" P "o" P "p" P "q" P "r" P "s" P "t" P "u" P "v" P "w" P "x" \
	P "y" P "z" P "0" P "1" P "2" P "3" P "4" P "5" P "6" P "7" P "8" P "9" P X \
	P Y
#define PAIRS(X, Y) \
	ROW("A", X, Y) ROW("B", X, Y) ROW("C", X, Y) ROW("D", X, Y) ROW("E", X, Y) \
	ROW("F", X, Y) ROW("G", X, Y) ROW("H", X, Y) ROW("I", X, Y) ROW("J", X, Y) \
	ROW("K", X, Y) ROW("L", X, Y) ROW("M", X, Y) ROW("N", X, Y) ROW("O", X, Y) \
	ROW("P", X, Y) ROW("Q", X, Y) ROW("R", X, Y) ROW("S", X, Y) ROW("T", X, Y) \
	ROW("U", X, Y) ROW("V", X, Y) ROW("W", X, Y) ROW("X", X, Y) ROW("Y", X, Y) \
	ROW("Z", X, Y) ROW("a", X, Y) ROW("b", X, Y) ROW("c", X, Y) ROW("d", X, Y) \
	ROW("e", X, Y) ROW("f", X, Y) ROW("g", X, Y) ROW("h", X, Y) ROW("i", X, Y) \
	ROW("j", X, Y) ROW("k", X, Y) ROW("l", X, Y) ROW("m", X, Y) ROW("n", X, Y) \
	ROW("o", X, Y) ROW("p", X, Y) ROW("q", X, Y) ROW("r", X, Y) ROW("s", X, Y) \
	ROW("t", X, Y) ROW("u", X, Y) ROW("v", X, Y) ROW("w", X, Y) ROW("x", X, Y) \
	ROW("y", X, Y) ROW("z", X, Y) ROW("0", X, Y) ROW("1", X, Y) ROW("2", X, Y) \
	ROW("3", X, Y) ROW("4", X, Y) ROW("5", X, Y) ROW("6", X, Y) ROW("7", X, Y) \
	ROW("8", X, Y) ROW("9", X, Y) ROW(X, X, Y) ROW(Y, X, Y)

static const char std_pairs[2 * 4096 + 1] = PAIRS("+", "/");
static const char url_pairs[2 * 4096 + 1] = PAIRS("-", "_");
#undef PAIRS
#undef ROW

/* load_be64 reads 8 bytes big-endian (compilers make this one load and a
 * byte swap); the caller uses the top 48 bits. */
static uint64_t load_be64(const uint8_t *p)
{
	return (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 | (uint64_t)p[2] << 40 |
	       (uint64_t)p[3] << 32 | (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 |
	       (uint64_t)p[6] << 8 | p[7];
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX2_PATH 1

/* encode_avx2 encodes 24 bytes into 32 chars per step while at least 28 bytes
 * are readable (each step loads 16 bytes at +0 and at +12), with the method of
 * W. Mula and D. Lemire, "Faster Base64 Encoding and Decoding using AVX2
 * Instructions" (ACM TWEB 2018): in each 128-bit lane, spread 12 bytes to 16
 * as (b, a, c, b) per group of three, cut the four 6-bit fields out with two
 * multiplies, and map each field to its char with a 16-entry table of
 * offsets. |url| picks RFC 4648 table 2 ('-', '_') over table 1 ('+', '/').
 * Returns the bytes consumed (a multiple of 24). */
__attribute__((target("avx2"))) static size_t encode_avx2(char *out, const uint8_t *in,
							  size_t len, int url)
{
	const __m256i shuf = _mm256_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10,
					      1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
	/* offsets added to a field, by class: 0..25 'A', 26..51 'a', 52..61 '0',
	 * 62, 63 */
	const __m256i lut = url ? _mm256_setr_epi8(65, 71, -4, -4, -4, -4, -4, -4, -4, -4, -4,
						   -4, -17, 32, 0, 0, 65, 71, -4, -4, -4, -4,
						   -4, -4, -4, -4, -4, -4, -17, 32, 0, 0)
				: _mm256_setr_epi8(65, 71, -4, -4, -4, -4, -4, -4, -4, -4, -4,
						   -4, -19, -16, 0, 0, 65, 71, -4, -4, -4, -4,
						   -4, -4, -4, -4, -4, -4, -19, -16, 0, 0);
	size_t i = 0;

	for (; len - i >= 28; i += 24, out += 32) {
		__m256i v = _mm256_inserti128_si256(
			_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(in + i))),
			_mm_loadu_si128((const __m128i *)(in + i + 12)), 1);
		__m256i t0, t1, t2, t3, idx, cls;

		v = _mm256_shuffle_epi8(v, shuf);
		t0 = _mm256_and_si256(v, _mm256_set1_epi32(0x0fc0fc00));
		t1 = _mm256_mulhi_epu16(t0, _mm256_set1_epi32(0x04000040));
		t2 = _mm256_and_si256(v, _mm256_set1_epi32(0x003f03f0));
		t3 = _mm256_mullo_epi16(t2, _mm256_set1_epi32(0x01000010));
		idx = _mm256_or_si256(t1, t3);
		/* class: 0 for 0..25, 1 for 26..51, 2..11 for 52..61, 12, 13 */
		cls = _mm256_subs_epu8(idx, _mm256_set1_epi8(51));
		cls = _mm256_sub_epi8(cls, _mm256_cmpgt_epi8(idx, _mm256_set1_epi8(25)));
		idx = _mm256_add_epi8(idx, _mm256_shuffle_epi8(lut, cls));
		_mm256_storeu_si256((__m256i *)out, idx);
	}
	return i;
}

static int use_avx2 = -1; /* -1: not yet asked; read and set atomically */

void mn_b64__set_simd(int on)
{
	__atomic_store_n(&use_avx2, on ? __builtin_cpu_supports("avx2") != 0 : 0,
			 __ATOMIC_RELAXED);
}

static int avx2(void)
{
	int v = __atomic_load_n(&use_avx2, __ATOMIC_RELAXED);

	if (v < 0) {
		v = __builtin_cpu_supports("avx2") != 0;
		__atomic_store_n(&use_avx2, v, __ATOMIC_RELAXED);
	}
	return v;
}
#else
void mn_b64__set_simd(int on)
{
	(void)on;
}
#endif

/* encode_groups writes the 4 * (len / 3) chars of the whole 3-byte groups of
 * |in| with |pairs| and returns the number of bytes consumed. */
static size_t encode_groups(char *out, const uint8_t *in, size_t len, const char *pairs)
{
	size_t i = 0;

#ifdef HAVE_AVX2_PATH
	if (len >= 28 && avx2()) {
		i = encode_avx2(out, in, len, pairs == url_pairs);
		out += i / 3 * 4;
	}
#endif

	/* Six bytes (48 bits, four pairs) per step from an 8-byte load, so
	 * the loop stops while 8 bytes remain readable. */
	for (; len - i >= 8; i += 6, out += 8) {
		uint64_t w = load_be64(in + i);

		memcpy(out, pairs + 2 * (w >> 52), 2);
		memcpy(out + 2, pairs + 2 * (w >> 40 & 0xfff), 2);
		memcpy(out + 4, pairs + 2 * (w >> 28 & 0xfff), 2);
		memcpy(out + 6, pairs + 2 * (w >> 16 & 0xfff), 2);
	}
	for (; len - i >= 3; i += 3, out += 4) {
		uint32_t a = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		memcpy(out, pairs + 2 * (a >> 12), 2);
		memcpy(out + 2, pairs + 2 * (a & 0xfff), 2);
	}
	return i;
}

/* encode_tail writes the 1 or 2 remaining bytes |in| as 2 or 3 chars (the
 * unused low bits zero, RFC 4648 section 3.5) and returns that count. */
static size_t encode_tail(char *out, const uint8_t *in, size_t rem, const char *pairs)
{
	uint32_t v = (uint32_t)in[0] << 16 | (rem == 2 ? (uint32_t)in[1] << 8 : 0);

	memcpy(out, pairs + 2 * (v >> 12), 2);
	if (rem == 1)
		return 2;
	/* the second pair's first char holds bits 11..6 */
	out[2] = pairs[2 * (v & 0xfff)];
	return 3;
}

/* b64_value returns the 6-bit value of a standard-alphabet char, or -1. */
static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

size_t mn_b64_encoded_len(size_t len)
{
	return (len + 2) / 3 * 4;
}

size_t mn_b64_encode(char *out, const uint8_t *in, size_t in_len)
{
	size_t done = encode_groups(out, in, in_len, std_pairs), pos = done / 3 * 4;

	if (done < in_len) {
		size_t n = encode_tail(out + pos, in + done, in_len - done, std_pairs);

		memset(out + pos + n, '=', 4 - n);
		pos += 4;
	}
	out[pos] = '\0';
	return pos;
}

int mn_b64_decode(uint8_t **out, size_t *out_len, const char *in, size_t in_len,
		  size_t max_len)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t pad = 0, data_len, dec_len, done = 0, pos = 0;
	uint8_t *buf;
	int last;

	if (in_len % 4 != 0)
		return MN_EMALFORMED;
	if (in_len == 0) {
		if ((*out = malloc(1)) == NULL)
			return MN_ENOMEM;
		*out_len = 0;
		return 0;
	}
	if (s[in_len - 1] == '=')
		pad = s[in_len - 2] == '=' ? 2 : 1;
	data_len = in_len - pad;
	dec_len = in_len / 4 * 3 - pad;
	/* Every char before the padding must be in the alphabet: this also
	 * rejects whitespace, '-', '_' and '=' anywhere but the end. */
	for (size_t i = 0; i < data_len; i++) {
		if (b64_value(s[i]) < 0)
			return MN_EMALFORMED;
	}
	/* Canonical form (RFC 4648 section 3.5): the bits of the last char
	 * that fall past the data must be zero ("Zh==" is not "Zg=="). */
	last = b64_value(s[data_len - 1]);
	if ((pad == 1 && (last & 0x03) != 0) || (pad == 2 && (last & 0x0f) != 0))
		return MN_EMALFORMED;
	if (dec_len > max_len)
		return MN_ETOOBIG;
	/* EVP_DecodeBlock writes the padding as zero bytes: room for them. */
	if ((buf = malloc(in_len / 4 * 3)) == NULL)
		return MN_ENOMEM;
	while (done < in_len) {
		size_t n = in_len - done < DEC_CHUNK ? in_len - done : DEC_CHUNK;
		int r = EVP_DecodeBlock(buf + pos, s + done, (int)n);

		if (r < 0 || (size_t)r != n / 4 * 3) {
			free(buf);
			return MN_EMALFORMED;
		}
		pos += (size_t)r;
		done += n;
	}
	*out = buf;
	*out_len = dec_len;
	return 0;
}

size_t mn_b64url_encoded_len(size_t len)
{
	return len / 3 * 4 + (len % 3 == 0 ? 0 : len % 3 + 1);
}

size_t mn_b64url_encode(char *out, const uint8_t *in, size_t in_len)
{
	size_t done = encode_groups(out, in, in_len, url_pairs), pos = done / 3 * 4;

	if (done < in_len)
		pos += encode_tail(out + pos, in + done, in_len - done, url_pairs);
	out[pos] = '\0';
	return pos;
}

int mn_b64url_decode(uint8_t **out, size_t *out_len, const char *in, size_t in_len,
		     size_t max_len)
{
	size_t rem = in_len % 4, padded_len;
	char *std;
	int ret;

	if (rem == 1)
		return MN_EMALFORMED;
	if (in_len / 4 * 3 + (rem == 0 ? 0 : rem - 1) > max_len)
		return MN_ETOOBIG;
	padded_len = in_len + (rem == 0 ? 0 : 4 - rem);
	if ((std = malloc(padded_len == 0 ? 1 : padded_len)) == NULL)
		return MN_ENOMEM;
	/* Translate to the standard alphabet. '+', '/' and '=' become '!', which
	 * the standard decoder rejects, so they are refused here too. */
	for (size_t i = 0; i < in_len; i++) {
		char c = in[i];

		if (c == '-')
			c = '+';
		else if (c == '_')
			c = '/';
		else if (c == '+' || c == '/' || c == '=')
			c = '!';
		std[i] = c;
	}
	memset(std + in_len, '=', padded_len - in_len);
	/* The standard decoder checks the alphabet and the canonical trailing
	 * bits, which are the same with or without the padding. */
	ret = mn_b64_decode(out, out_len, std, padded_len, max_len);
	free(std);
	return ret;
}
