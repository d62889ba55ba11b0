/* test_note.c: entry/note.h (signed checkpoints) and entry/tileleaf.h (data
 * tile entries) on their own; tests/logd/test_tiles.c checks both against Go's
 * sumdb/note and sumdb/tlog through a running logd. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/bytes.h"
#include "common/err.h"
#include "entry/ct.h"
#include "entry/note.h"
#include "entry/tileleaf.h"

static void test_checkpoint_sign_parse_verify(void **state)
{
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	struct ct_signer *cs = ct_signer_new(ec);
	struct note_signer *ns = note_signer_new(ed, "log.example/a", 13);
	struct ct_verifier *v;
	struct note_checkpoint cp;
	struct ct_sig sig;
	struct cbb b;
	uint8_t root[32], *out;
	size_t out_len, spki_len;
	const uint8_t *spki;
	uint64_t ts = 0;
	const char *vk;

	(void)state;
	assert_non_null(cs);
	assert_non_null(ns);
	/* names: no spaces, '+' or control characters */
	assert_null(note_signer_new(ed, "a b", 3));
	assert_null(note_signer_new(ed, "a+b", 3));
	assert_null(note_signer_new(ec, "a", 1)); /* not Ed25519 */
	spki = ct_signer_spki(cs, &spki_len);
	v = ct_verifier_new(spki, spki_len);
	assert_non_null(v);
	memset(root, 7, sizeof(root));
	assert_int_equal(ct_sign_sth(cs, &sig, 1700000000000ull, 42, root), 0);
	assert_true(cbb_init(&b, 256, 4096));
	assert_int_equal(note_sign_checkpoint(&b, ns, NULL, 0, ct_signer_log_id(cs), 42, root,
					      1700000000000ull, &sig),
			 0);
	assert_true(cbb_finish(&b, &out, &out_len));
	assert_memory_equal(out, "log.example/a\n42\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n\n",
			    strlen("log.example/a\n42\n") + 45 + 1);
	assert_int_equal(note_parse_checkpoint(&cp, out, out_len), 0);
	assert_int_equal(cp.num_sigs, 2);
	assert_int_equal(cp.tree_size, 42);
	assert_memory_equal(cp.root, root, 32);
	assert_true(note_verify_rfc6962(&cp, v, &ts));
	assert_int_equal(ts, 1700000000000ull);
	vk = note_signer_vkey(ns);
	assert_int_equal(strncmp(vk, "log.example/a+", 14), 0);
	assert_true(note_verify_ed25519(&cp, vk, strlen(vk)));
	/* another origin: the 0x05 key ID differs, nothing verifies */
	{
		uint8_t *o2 = malloc(out_len);
		memcpy(o2, out, out_len);
		o2[12] = 'b';
		assert_int_equal(note_parse_checkpoint(&cp, o2, out_len), 0);
		assert_false(note_verify_rfc6962(&cp, v, &ts));
		assert_false(note_verify_ed25519(&cp, vk, strlen(vk)));
		free(o2);
	}
	/* malformed: extension line, no signature, leading zero, control char */
	{
		static const char *bad[] = {
			"o\n1\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\next\n\n\xe2\x80\x94 o AAAAAAA=\n",
			"o\n1\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n\n",
			"o\n01\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n\n\xe2\x80\x94 o AAAAAAA=\n",
			"o\n1\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n\n\xe2\x80\x94 o AAAA\tAAA=\n",
		};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			assert_int_equal(note_parse_checkpoint(&cp, (const uint8_t *)bad[i],
							       strlen(bad[i])),
					 MN_EMALFORMED);
	}
	free(out);
	ct_verifier_free(v);
	note_signer_free(ns);
	ct_signer_free(cs);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(ed);
}

/* leaf builds a MerkleTreeLeaf of |type| with |body| and extensions |ext|. */
static uint8_t *leaf(size_t *len, uint16_t type, const char *body, const char *ext)
{
	struct ct_entry e;
	struct cbb b;
	uint8_t *out;

	memset(&e, 0, sizeof(e));
	e.timestamp = 5;
	e.entry_type = type;
	memset(e.issuer_key_hash, 9, 32);
	e.body = (const uint8_t *)body;
	e.body_len = strlen(body);
	e.extensions = (const uint8_t *)ext;
	e.extensions_len = strlen(ext);
	assert_true(cbb_init(&b, 64, 4096));
	assert_true(ct_write_leaf(&b, &e));
	assert_true(cbb_finish(&b, &out, len));
	return out;
}

static void test_tileleaf_roundtrip(void **state)
{
	/* extra_data: x509: chain<u24> of ASN.1Cert<u24>; precert: pre_certificate,
	 * then the chain */
	static const uint8_t x_extra[] = {0, 0, 9, 0, 0, 2, 'C', 'A', 0, 0, 1, 'R'};
	static const uint8_t p_extra[] = {0, 0, 3, 'P', 'R', 'E', 0, 0, 5, 0, 0, 2, 'C', 'A'};
	static const uint8_t m_extra[] = {1, 2, 3};
	struct {
		uint16_t type;
		const uint8_t *extra;
		size_t extra_len;
		size_t fps;
	} cases[] = {
		{CT_X509_ENTRY, x_extra, sizeof(x_extra), 2},
		{CT_PRECERT_ENTRY, p_extra, sizeof(p_extra), 1},
		{MN_SIGNED_POLICY_ENTRY, m_extra, sizeof(m_extra), 0},
		{MN_MAP_ROOT_ENTRY, NULL, 0, 0},
	};
	struct cbb b;
	uint8_t *tile, *li[4];
	size_t tile_len, li_len[4];
	struct cbs c;
	uint8_t ca[32];

	(void)state;
	assert_true(cbb_init(&b, 256, 1 << 20));
	for (size_t i = 0; i < 4; i++) {
		/* a stored leaf_index extension is carried as stored */
		li[i] = leaf(&li_len[i], cases[i].type, "body", i == 0 ? "\0\0\5\0\0\0\0\7" : "");
		assert_int_equal(tileleaf_append(&b, li[i], li_len[i], cases[i].extra,
						 cases[i].extra_len),
				 0);
	}
	assert_true(cbb_finish(&b, &tile, &tile_len));
	cbs_init(&c, tile, tile_len);
	for (size_t i = 0; i < 4; i++) {
		struct tileleaf tl;
		assert_true(tileleaf_parse(&tl, &c));
		assert_int_equal(tl.entry_type, cases[i].type);
		assert_int_equal(tl.num_fps, cases[i].fps);
		assert_true(tileleaf_matches(&tl, li[i], li_len[i], cases[i].extra,
					     cases[i].extra_len));
		/* and not another entry's data */
		assert_false(tileleaf_matches(&tl, li[(i + 1) % 4], li_len[(i + 1) % 4],
					      cases[i].extra, cases[i].extra_len));
		if (i == 0) {
			EVP_Digest("CA", 2, ca, NULL, EVP_sha256(), NULL);
			assert_memory_equal(tl.fps, ca, 32);
			assert_int_equal(tl.te_len, li_len[0] - 2);
		}
		if (i == 1)
			assert_memory_equal(tl.pre_certificate, "PRE", 3);
	}
	assert_int_equal(cbs_len(&c), 0);
	/* stored bytes that do not parse are MN_ECORRUPT, never a short tile */
	assert_true(cbb_init(&b, 64, 4096));
	assert_int_equal(tileleaf_append(&b, li[0], li_len[0] - 1, x_extra, sizeof(x_extra)),
			 MN_ECORRUPT);
	assert_int_equal(tileleaf_append(&b, li[0], li_len[0], x_extra, sizeof(x_extra) - 1),
			 MN_ECORRUPT);
	assert_int_equal(tileleaf_append(&b, li[1], li_len[1], p_extra, 2), MN_ECORRUPT);
	cbb_cleanup(&b);
	/* a truncated tile does not parse */
	for (size_t cut = 1; cut < 12; cut++) {
		struct tileleaf tl;
		cbs_init(&c, tile, li_len[0] - 2 + 2 + 64 - cut);
		assert_false(tileleaf_parse(&tl, &c));
	}
	for (size_t i = 0; i < 4; i++)
		free(li[i]);
	free(tile);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checkpoint_sign_parse_verify),
		cmocka_unit_test(test_tileleaf_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
