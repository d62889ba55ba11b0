/* fuzz_wit.c: wit_parse_request (entry/cosig.h), the body of a tlog-witness
 * add-checkpoint request, which a witness parses from anyone.
 *
 * What parses must format back to the very input (wit_format_request: the old
 * size has no leading zeros and base64 is canonical, so there is one encoding);
 * the checkpoint after the blank line is then parsed as the witness does
 * (note_parse_checkpoint_ext), which must not crash whatever it holds. */
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/err.h"
#include "entry/cosig.h"
#include "entry/note.h"
#include "fuzz/fuzz.h"

const char fuzz_target_name[] = "wit";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wit_request *req = malloc(sizeof(*req));
	struct note_checkpoint *cp = malloc(sizeof(*cp));
	const char *why = NULL;
	uint8_t *out;
	size_t out_len;
	struct cbb b;
	int ret;

	FUZZ_CHECK(req != NULL && cp != NULL);
	ret = wit_parse_request(req, data, size, &why);
	FUZZ_CHECK(ret == 0 || ret == MN_EMALFORMED);
	FUZZ_CHECK(why != NULL || ret == 0);
	if (ret == 0) {
		FUZZ_CHECK(req->proof_len <= WIT_MAX_PROOF && size <= WIT_MAX_BODY);
		FUZZ_CHECK(req->note >= data && req->note + req->note_len == data + size);
		FUZZ_CHECK(cbb_init(&b, size + 16, WIT_MAX_BODY + 1));
		FUZZ_CHECK(wit_format_request(&b, req->old_size, (const uint8_t(*)[32])req->proof,
					      req->proof_len, req->note, req->note_len));
		FUZZ_CHECK(cbb_finish(&b, &out, &out_len));
		FUZZ_CHECK(out_len == size && memcmp(out, data, size) == 0);
		free(out);
		if (note_parse_checkpoint_ext(cp, req->note, req->note_len) == 0) {
			FUZZ_CHECK(cp->num_sigs <= NOTE_MAX_SIGS);
			FUZZ_CHECK(cp->text_len <= req->note_len);
		}
	}
	/* the 409 body and the 200 body checks take anything too */
	{
		uint64_t sz;
		(void)wit_parse_size(data, size, &sz);
		(void)wit_valid_sig_lines(data, size);
	}
	free(req);
	free(cp);
	return 0;
}
