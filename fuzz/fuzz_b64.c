/* fuzz_b64.c: mn_b64_decode and mn_b64url_decode (common/b64.h).
 *
 * Decoding is documented as strict and canonical (one byte string, one
 * encoding), so whatever decodes must encode back to the input exactly; and
 * any byte string must survive encode then decode. The max_len cap must fail
 * with MN_ETOOBIG exactly when the result is longer than the cap. */
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/err.h"
#include "fuzz/fuzz.h"

const char fuzz_target_name[] = "b64";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

typedef size_t (*len_fn)(size_t);
typedef size_t (*enc_fn)(char *, const uint8_t *, size_t);
typedef int (*dec_fn)(uint8_t **, size_t *, const char *, size_t, size_t);

static void check_codec(const uint8_t *data, size_t size, len_fn enc_len, enc_fn enc,
			dec_fn dec)
{
	uint8_t *out = NULL, *again = NULL;
	size_t out_len = 0, again_len = 0, n;
	char *text;
	int ret;

	/* decode, then re-encode: canonical encodings only */
	ret = dec(&out, &out_len, (const char *)data, size, SIZE_MAX);
	FUZZ_CHECK(ret == 0 || ret == MN_EMALFORMED);
	if (ret == 0) {
		text = malloc(enc_len(out_len) + 1);
		FUZZ_CHECK(text != NULL);
		n = enc(text, out, out_len);
		FUZZ_CHECK(n == enc_len(out_len));
		FUZZ_CHECK(text[n] == '\0');
		FUZZ_CHECK(n == size && memcmp(text, data, size) == 0);
		free(text);
		/* the cap: exactly the length passes, one less fails */
		ret = dec(&again, &again_len, (const char *)data, size, out_len);
		FUZZ_CHECK(ret == 0 && again_len == out_len &&
			   (out_len == 0 || memcmp(again, out, out_len) == 0));
		free(again);
		again = NULL;
		if (out_len > 0) {
			ret = dec(&again, &again_len, (const char *)data, size, out_len - 1);
			FUZZ_CHECK(ret == MN_ETOOBIG);
			free(again);
			again = NULL;
		}
	}
	free(out);

	/* encode the raw bytes, then decode: must give them back */
	text = malloc(enc_len(size) + 1);
	FUZZ_CHECK(text != NULL);
	n = enc(text, data, size);
	FUZZ_CHECK(n == enc_len(size) && text[n] == '\0');
	ret = dec(&again, &again_len, text, n, SIZE_MAX);
	FUZZ_CHECK(ret == 0 && again_len == size &&
		   (size == 0 || memcmp(again, data, size) == 0));
	free(again);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_codec(data, size, mn_b64_encoded_len, mn_b64_encode, mn_b64_decode);
	check_codec(data, size, mn_b64url_encoded_len, mn_b64url_encode, mn_b64url_decode);
	return 0;
}
