/* b64.h: base64 (RFC 4648 section 4, with padding) through OpenSSL's EVP codec,
 * and base64url without padding (section 5, for JWS).
 *
 * Decoding is strict: whitespace, bad characters, bad padding and non-canonical
 * trailing bits are rejected. */
#ifndef MN_COMMON_B64_H
#define MN_COMMON_B64_H

#include <stddef.h>
#include <stdint.h>

/* mn_b64_encoded_len: length of the encoding of |len| bytes, without NUL. */
size_t mn_b64_encoded_len(size_t len);
/* mn_b64_encode writes the encoding of |in| and a NUL to |out|, which must hold
 * mn_b64_encoded_len(in_len) + 1 bytes. Returns the length without NUL. */
size_t mn_b64_encode(char *out, const uint8_t *in, size_t in_len);
/* mn_b64_decode decodes |in_len| chars into a new buffer (*out, free()) of
 * *out_len bytes. Returns 0, MN_EMALFORMED, MN_ETOOBIG if the result would exceed
 * |max_len|, or MN_ENOMEM. */
int mn_b64_decode(uint8_t **out, size_t *out_len, const char *in, size_t in_len,
		  size_t max_len);
/* base64url, no padding (RFC 7515 section 2). Same contracts. */
size_t mn_b64url_encoded_len(size_t len);
size_t mn_b64url_encode(char *out, const uint8_t *in, size_t in_len);
int mn_b64url_decode(uint8_t **out, size_t *out_len, const char *in, size_t in_len,
		     size_t max_len);

/* mn_b64__set_simd turns the AVX2 encoder off (0) or back on where the CPU has
 * it (1); by default it is used where the CPU has it. For tests, which check
 * both encoders against OpenSSL's. */
void mn_b64__set_simd(int on);

#endif
