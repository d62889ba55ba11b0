/* fuzz_ct.c: the RFC 6962 codecs of entry/ct.h. Every parse that succeeds must
 * re-encode to exactly its input (ct_parse_leaf / ct_write_leaf,
 * ct_parse_sct / ct_write_sct, and ct_parse_sig / ct_write_sig on the bytes it
 * consumed): the log stores and hashes these bytes, so a parser that accepts two
 * encodings of one value, or drops a field, breaks leaf hashes. Also checks the
 * documented limits of a parsed value (known entry type, nonempty body). The
 * static-ct-api CtExtensions parser runs on the whole input and on every
 * parsed leaf's and SCT's extensions: it must stay inside them, and a
 * leaf_index it accepts must be the 40-bit value whose encoding it read. */
#include <stdlib.h>
#include <string.h>

#include "entry/ct.h"
#include "fuzz/fuzz.h"

const char fuzz_target_name[] = "ct";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* finish_equal finishes |b| and checks it holds exactly |data|. */
static void finish_equal(struct cbb *b, const uint8_t *data, size_t size)
{
	uint8_t *out = NULL;
	size_t out_len = 0;

	FUZZ_CHECK(cbb_finish(b, &out, &out_len));
	FUZZ_CHECK(out_len == size && memcmp(out, data, size) == 0);
	free(out);
}

/* check_ext: ct_parse_extensions on |ext| reads only its bytes (ASan sees
 * any overread), and the only one-extension list it accepts with a
 * leaf_index is exactly ct_leaf_index_ext's encoding of that index. */
static void check_ext(const uint8_t *ext, size_t len)
{
	uint8_t enc[CT_LEAF_INDEX_EXT_LEN];
	uint64_t idx;
	int has;

	if (!ct_parse_extensions(ext, len, &has, &idx)) {
		FUZZ_CHECK(!ct_extensions_match_index(ext, len, 0) || len == 0);
		return;
	}
	if (!has)
		return;
	FUZZ_CHECK(idx < CT_LEAF_INDEX_MAX);
	FUZZ_CHECK(ct_leaf_index_ext(enc, idx));
	if (len == CT_LEAF_INDEX_EXT_LEN)
		FUZZ_CHECK(memcmp(enc, ext, len) == 0);
	FUZZ_CHECK(ct_extensions_match_index(ext, len, idx) == (len == CT_LEAF_INDEX_EXT_LEN));
}

static void check_leaf(const uint8_t *data, size_t size)
{
	struct ct_entry e;
	struct cbb b;

	if (!ct_parse_leaf(&e, data, size))
		return;
	FUZZ_CHECK(ct_entry_type_known(e.entry_type));
	FUZZ_CHECK(e.body_len > 0 && e.body_len <= CT_MAX_BODY_LEN);
	FUZZ_CHECK(e.body >= data && e.body + e.body_len <= data + size);
	FUZZ_CHECK(e.extensions_len == 0 ||
		   (e.extensions >= data && e.extensions + e.extensions_len <= data + size));
	check_ext(e.extensions, e.extensions_len);
	FUZZ_CHECK(cbb_init(&b, size, (size_t)1 << 26));
	FUZZ_CHECK(ct_write_leaf(&b, &e));
	finish_equal(&b, data, size);

	/* the section 3.2 signature input of a parsed entry must build too */
	FUZZ_CHECK(cbb_init(&b, size + 16, (size_t)1 << 26));
	FUZZ_CHECK(ct_write_sct_input(&b, &e));
	cbb_cleanup(&b);
}

static void check_sct(const uint8_t *data, size_t size)
{
	struct ct_sct sct;
	struct cbb b;

	if (!ct_parse_sct(&sct, data, size))
		return;
	FUZZ_CHECK(sct.sig.len <= CT_MAX_SIG_LEN);
	check_ext(sct.extensions, sct.extensions_len);
	FUZZ_CHECK(cbb_init(&b, size, (size_t)1 << 20));
	FUZZ_CHECK(ct_write_sct(&b, &sct));
	finish_equal(&b, data, size);

	/* a list of that one SCT must also build */
	FUZZ_CHECK(cbb_init(&b, size + 4, (size_t)1 << 20));
	FUZZ_CHECK(ct_write_sct_list(&b, &sct, 1));
	cbb_cleanup(&b);
}

static void check_sig(const uint8_t *data, size_t size)
{
	struct ct_sig sig;
	struct cbs in, before;
	struct cbb b;

	cbs_init(&in, data, size);
	before = in;
	if (!ct_parse_sig(&sig, &in)) {
		FUZZ_CHECK(in.data == before.data && in.len == before.len);
		return;
	}
	FUZZ_CHECK(sig.len <= CT_MAX_SIG_LEN);
	FUZZ_CHECK(cbb_init(&b, 96, 4096));
	FUZZ_CHECK(ct_write_sig(&b, &sig));
	finish_equal(&b, data, size - cbs_len(&in));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_leaf(data, size);
	check_sct(data, size);
	check_sig(data, size);
	/* the input as CtExtensions, copied so that an overread is past a heap
	 * block (ASan), not into the fuzzer's buffer */
	{
		uint8_t *copy = size > 0 ? malloc(size) : NULL;
		if (size == 0 || copy != NULL) {
			if (size > 0)
				memcpy(copy, data, size);
			check_ext(copy, size);
			free(copy);
		}
	}
	return 0;
}
