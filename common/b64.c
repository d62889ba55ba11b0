/* b64.c: base64 (RFC 4648 section 4) through OpenSSL's EVP_EncodeBlock and
 * EVP_DecodeBlock, and base64url without padding (RFC 4648 section 5, as
 * RFC 7515 section 2 uses it).
 *
 * EVP_DecodeBlock is lenient (it skips surrounding whitespace and does not
 * check the unused trailing bits), so every input is validated here first:
 * decoding is strict and canonical, one byte string has one encoding. */
#include "common/b64.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/err.h"

/* EVP_*Block take an int length: work in chunks well below INT_MAX that
 * are whole groups (3 bytes in, 4 chars out). */
#define ENC_CHUNK ((size_t)3 << 28)
#define DEC_CHUNK ((size_t)4 << 28)

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
	size_t done = 0, pos = 0;

	out[0] = '\0';
	while (done < in_len) {
		size_t n = in_len - done < ENC_CHUNK ? in_len - done : ENC_CHUNK;

		pos += (size_t)EVP_EncodeBlock((unsigned char *)out + pos, in + done, (int)n);
		done += n;
	}
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
	size_t full = in_len / 3 * 3, rem = in_len - full, pos;

	/* The whole groups fit |out| exactly; the tail goes through a small
	 * buffer because its padding would not. */
	pos = mn_b64_encode(out, in, full);
	if (rem != 0) {
		char tail[5];

		mn_b64_encode(tail, in + full, rem);
		memcpy(out + pos, tail, rem + 1);
		pos += rem + 1;
	}
	out[pos] = '\0';
	for (size_t i = 0; i < pos; i++) {
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	}
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
