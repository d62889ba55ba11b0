/* test_cosig.c: entry/cosig.h (cosignature/v1, tlog-witness bodies) and
 * entry/tpolicy.h (tlog-policy), against the examples of the C2SP specs and
 * the openssl command line. */
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
#include <openssl/pem.h>

#include "common/b64.h"
#include "common/bytes.h"
#include "common/err.h"
#include "entry/cosig.h"
#include "entry/note.h"
#include "entry/tpolicy.h"
#include "tests/lib/files.h"

/* c2sp.org/tlog-cosignature v1.0.1, the example checkpoint with one log
 * signature and one cosignature, and its example signed message. */
static const char spec_note[] =
	"example.com/behind-the-sofa\n"
	"20852163\n"
	"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
	"\n"
	"\xe2\x80\x94 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
	"\xe2\x80\x94 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";
static const char spec_message[] =
	"cosignature/v1\n"
	"time 1679315147\n"
	"example.com/behind-the-sofa\n"
	"20852163\n"
	"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

/* The spec publishes no key for its example; what it fixes is the framing: a
 * key ID, a big-endian timestamp that is the one of the example message, 64
 * signature bytes; and the message built from the note text. */
static void test_spec_example(void **state)
{
	struct note_checkpoint cp;
	struct cbb b;
	uint8_t *msg;
	size_t msg_len;

	(void)state;
	assert_int_equal(note_parse_checkpoint(&cp, (const uint8_t *)spec_note, strlen(spec_note)), 0);
	assert_int_equal(cp.num_sigs, 2);
	assert_int_equal(cp.sigs[1].name_len, strlen("witness.example.com/w1"));
	assert_int_equal(cp.sigs[1].key_id, 0x8d66cf3fu);
	assert_int_equal(cp.sigs[1].sig_len, COSIG_SIG_LEN);
	assert_int_equal(mn_get_be64(cp.sigs[1].sig), 1679315147u);
	assert_true(cbb_init(&b, 256, 4096));
	assert_true(cosig_message(&b, cp.text, cp.text_len, mn_get_be64(cp.sigs[1].sig)));
	assert_true(cbb_finish(&b, &msg, &msg_len));
	assert_int_equal(msg_len, strlen(spec_message));
	assert_memory_equal(msg, spec_message, msg_len);
	free(msg);
}

static char dir[] = "/tmp/mn-cosig-XXXXXX";

static void write_file(const char *name, const void *data, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static int run(const char *cmd, char **out)
{
	char *o, *e;
	int st = tf_run(dir, dir, cmd, &o, &e);

	if (st != 0)
		fprintf(stderr, "%s: %s%s\n", cmd, o, e);
	if (out != NULL)
		*out = o;
	else
		free(o);
	free(e);
	return st;
}

/* Sign with ours, verify with openssl's Ed25519 over the message the spec
 * defines, and the key ID with openssl's SHA-256. */
static void test_sign_verify_openssl(void **state)
{
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *ed2 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	struct cosigner *w = cosigner_new(ed, "witness.example/w1", 18);
	struct cosigner *w2 = cosigner_new(ed2, "witness.example/w1", 18);
	const char *text = "log.example/a\n42\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n";
	struct note_checkpoint cp;
	struct note_vkey k;
	struct cbb b;
	uint8_t *note, *msg, *raw = NULL;
	size_t note_len, msg_len, raw_len;
	uint64_t ts = 0;
	char *out, cmd[512], hex[16];
	FILE *f;

	(void)state;
	assert_non_null(w);
	assert_null(cosigner_new(ed, "a b", 3));
	assert_int_equal(note_vkey_parse(&k, cosigner_vkey(w), strlen(cosigner_vkey(w))), 0);
	assert_int_equal(k.type, NOTE_TYPE_COSIG_V1);
	assert_int_equal(k.key_id, cosigner_key(w)->key_id);
	assert_true(cbb_init(&b, 256, 4096));
	assert_true(cbb_add_bytes(&b, (const uint8_t *)text, strlen(text)) && cbb_add_u8(&b, '\n'));
	/* a fake log line first, then the cosignature */
	assert_true(cbb_add_bytes(&b, (const uint8_t *)"\xe2\x80\x94 log.example/a AAAAAAA=\n", 27));
	assert_int_equal(cosigner_sign(w, &b, text, strlen(text), 1700000000), 0);
	assert_true(cbb_finish(&b, &note, &note_len));
	assert_int_equal(note_parse_checkpoint(&cp, note, note_len), 0);
	assert_int_equal(cp.num_sigs, 2);
	assert_int_equal(cosig_verify(&cp, &k, &ts), 1);
	assert_int_equal(ts, 1700000000);
	assert_int_equal(cosig_verify(&cp, cosigner_key(w2), NULL), 0); /* another key ID */

	/* openssl: the public key, the message and the bare signature */
	{
		char path[256];
		snprintf(path, sizeof(path), "%s/pub.pem", dir);
		f = fopen(path, "w");
		assert_non_null(f);
		assert_true(PEM_write_PUBKEY(f, ed));
		fclose(f);
	}
	assert_true(cbb_init(&b, 256, 4096));
	assert_true(cosig_message(&b, text, strlen(text), 1700000000));
	assert_true(cbb_finish(&b, &msg, &msg_len));
	write_file("msg", msg, msg_len);
	write_file("sig", cp.sigs[1].sig + 8, 64);
	assert_int_equal(run("openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in msg -sigfile sig", &out), 0);
	assert_non_null(strstr(out, "Signature Verified Successfully"));
	free(out);
	/* a flipped message byte: openssl refuses too */
	msg[msg_len - 2] ^= 1;
	write_file("msg", msg, msg_len);
	assert_int_not_equal(run("openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in msg -sigfile sig", NULL), 0);
	/* key ID = SHA-256(name || 0x0A || 0x04 || key)[:4] by openssl dgst */
	{
		uint8_t kid_in[18 + 2 + 32];
		memcpy(kid_in, "witness.example/w1", 18);
		kid_in[18] = 0x0a;
		kid_in[19] = 0x04;
		memcpy(kid_in + 20, k.pub, 32);
		write_file("kid", kid_in, sizeof(kid_in));
		assert_int_equal(run("openssl dgst -sha256 -r kid", &out), 0);
		snprintf(hex, sizeof(hex), "%08x", (unsigned)k.key_id);
		assert_memory_equal(out, hex, 8);
		free(out);
		snprintf(cmd, sizeof(cmd), "+%s+", hex);
		assert_non_null(strstr(cosigner_vkey(w), cmd));
	}
	/* a tampered cosignature under the right name and key ID: -1 */
	{
		size_t at = (size_t)(strstr((char *)note, "witness.example/w1 ") - (char *)note) + 19;
		uint8_t *t = malloc(note_len);
		memcpy(t, note, note_len);
		t[at + 40] = t[at + 40] == 'A' ? 'B' : 'A';
		assert_int_equal(note_parse_checkpoint(&cp, t, note_len), 0);
		assert_int_equal(cosig_verify(&cp, &k, NULL), -1);
		free(t);
	}
	/* the raw blob: key ID || timestamp || signature */
	{
		const char *b64 = strstr((char *)note, "w1 ") + 3;
		assert_int_equal(mn_b64_decode(&raw, &raw_len, b64, (size_t)(strchr(b64, '\n') - b64), 100), 0);
	}
	assert_int_equal(raw_len, 76);
	free(raw);
	/* a timestamp above 2^63 - 1 is refused */
	assert_true(cbb_init(&b, 256, 4096));
	assert_int_equal(cosigner_sign(w, &b, text, strlen(text), (uint64_t)INT64_MAX + 1), MN_EINVAL);
	cbb_cleanup(&b);
	free(msg);
	free(note);
	cosigner_free(w);
	cosigner_free(w2);
	EVP_PKEY_free(ed);
	EVP_PKEY_free(ed2);
}

static void test_vkeys(void **state)
{
	struct note_vkey k;
	char buf[NOTE_MAX_VKEY + 1];
	/* Go's sumdb/note documentation example vkey (type 0x01) */
	static const char go_vkey[] =
		"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";

	(void)state;
	assert_int_equal(note_vkey_parse(&k, go_vkey, strlen(go_vkey)), 0);
	assert_int_equal(k.type, NOTE_TYPE_ED25519);
	assert_int_equal(k.key_id, 0xc74f20a3u);
	note_vkey_format(buf, &k);
	assert_string_equal(buf, go_vkey);
	/* a wrong key ID, a bad name, another type */
	assert_int_equal(note_vkey_parse(&k, "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", 66), MN_EMALFORMED);
	assert_int_equal(note_vkey_parse(&k, "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", 67), MN_EMALFORMED);
	assert_int_equal(note_vkey_parse(&k, "PeterNeumann+c74f20a3+ApRc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", 66), MN_EMALFORMED);
	assert_int_equal(note_vkey_parse(&k, "PeterNeumann+c74f20a3", 21), MN_EMALFORMED);
}

static void test_witness_bodies(void **state)
{
	/* the tlog-witness example request */
	static const char req[] =
		"old 20852014\n"
		"PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
		"jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
		"5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
		"/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
		"\n"
		"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
		"\xe2\x80\x94 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";
	struct wit_request r;
	struct cbb b;
	uint8_t *out;
	size_t out_len;
	uint64_t size;
	const char *why;

	(void)state;
	assert_int_equal(wit_parse_request(&r, (const uint8_t *)req, strlen(req), &why), 0);
	/* an empty body, as a server may hand it (NULL, 0) */
	{
		struct wit_request e;
		assert_int_equal(wit_parse_request(&e, NULL, 0, NULL), MN_EMALFORMED);
	}
	assert_int_equal(r.old_size, 20852014u);
	assert_int_equal(r.proof_len, 4);
	assert_int_equal(r.proof[0][0], 0x3e);
	assert_int_equal(r.note_len, strlen(req) - (size_t)(strstr(req, "\n\nexample") + 2 - req));
	/* formatting gives the same bytes back */
	assert_true(cbb_init(&b, 256, 65536));
	assert_true(wit_format_request(&b, r.old_size, (const uint8_t(*)[32])r.proof, r.proof_len,
				       r.note, r.note_len));
	assert_true(cbb_finish(&b, &out, &out_len));
	assert_int_equal(out_len, strlen(req));
	assert_memory_equal(out, req, out_len);
	free(out);
	/* malformed */
	{
		static const char *bad[] = {
			"old 01\n\nx", "old\n\nx", "old 1\nAAAA\n\nx", "old 1\n", "old 1\n\n",
			"old -1\n\nx", "new 1\n\nx", "old 1\n PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n\nx",
		};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			assert_int_equal(wit_parse_request(&r, (const uint8_t *)bad[i], strlen(bad[i]), NULL),
					 MN_EMALFORMED);
	}
	/* 63 proof lines are allowed, 64 are not */
	{
		struct cbb c;
		uint8_t proof[64][32];
		memset(proof, 1, sizeof(proof));
		for (size_t n = 63; n <= 64; n++) {
			char line[64];
			size_t bl = mn_b64_encode(line, proof[0], 32);
			assert_true(cbb_init(&c, 4096, 65536));
			assert_true(cbb_add_bytes(&c, (const uint8_t *)"old 5\n", 6));
			for (size_t i = 0; i < n; i++)
				assert_true(cbb_add_bytes(&c, (const uint8_t *)line, bl) && cbb_add_u8(&c, '\n'));
			assert_true(cbb_add_bytes(&c, (const uint8_t *)"\nx", 2));
			assert_true(cbb_finish(&c, &out, &out_len));
			assert_int_equal(wit_parse_request(&r, out, out_len, NULL), n == 63 ? 0 : MN_EMALFORMED);
			free(out);
		}
	}
	assert_int_equal(wit_parse_size((const uint8_t *)"20852014\n", 9, &size), 0);
	assert_int_equal(size, 20852014u);
	assert_int_equal(wit_parse_size((const uint8_t *)"0\n", 2, &size), 0);
	assert_int_equal(wit_parse_size((const uint8_t *)"012\n", 4, &size), MN_EMALFORMED);
	assert_int_equal(wit_parse_size((const uint8_t *)"12", 2, &size), MN_EMALFORMED);
	assert_true(wit_valid_sig_lines((const uint8_t *)strstr(spec_note, "\xe2\x80\x94 witness"),
					strlen(strstr(spec_note, "\xe2\x80\x94 witness"))));
	assert_false(wit_valid_sig_lines((const uint8_t *)"hello\n", 6));
	assert_false(wit_valid_sig_lines((const uint8_t *)"", 0));
	assert_false(wit_valid_sig_lines((const uint8_t *)"\xe2\x80\x94 w AAAA", 10));
}

struct keys {
	EVP_PKEY *log, *w[4];
	struct note_signer *ls;
	struct cosigner *cs[4];
};

static void keys_init(struct keys *k)
{
	k->log = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	k->ls = note_signer_new(k->log, "log.example/a", 13);
	for (int i = 0; i < 4; i++) {
		char name[32];
		snprintf(name, sizeof(name), "w%d.example", i);
		k->w[i] = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		k->cs[i] = cosigner_new(k->w[i], name, strlen(name));
	}
}

static void keys_free(struct keys *k)
{
	note_signer_free(k->ls);
	EVP_PKEY_free(k->log);
	for (int i = 0; i < 4; i++) {
		cosigner_free(k->cs[i]);
		EVP_PKEY_free(k->w[i]);
	}
}

/* a checkpoint by the log, cosigned by the witnesses in |mask| */
static uint8_t *cosigned(struct keys *k, unsigned mask, size_t *len)
{
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	struct ct_signer *cs = ct_signer_new(ec);
	struct ct_sig sig;
	struct cbb b;
	uint8_t root[32], *out;
	size_t text_len;

	memset(root, 3, 32);
	assert_int_equal(ct_sign_sth(cs, &sig, 1700000000000ull, 10, root), 0);
	assert_true(cbb_init(&b, 256, 8192));
	assert_int_equal(note_sign_checkpoint(&b, k->ls, NULL, 0, ct_signer_log_id(cs), 10, root,
					      1700000000000ull, &sig), 0);
	text_len = (size_t)((const uint8_t *)strstr((const char *)cbb_data(&b), "\n\n") + 1 - cbb_data(&b));
	{
		char *text = malloc(text_len);
		memcpy(text, cbb_data(&b), text_len);
		for (int i = 0; i < 4; i++)
			if (mask & (1u << i))
				assert_int_equal(cosigner_sign(k->cs[i], &b, text, text_len, 1700000000), 0);
		free(text);
	}
	assert_true(cbb_finish(&b, &out, len));
	ct_signer_free(cs);
	EVP_PKEY_free(ec);
	return out;
}

static struct tpolicy *policy(struct keys *k, const char *tail, char *err)
{
	char text[8192];
	struct tpolicy *p = NULL;
	int n;

	n = snprintf(text, sizeof(text),
		     "# test policy\n"
		     "log %s https://log.example/a/\n"
		     "\n"
		     "witness W0 %s https://w0.example/\n"
		     "  witness\tW1 %s\n"
		     "witness W2 %s\n"
		     "witness W3 %s\n"
		     "%s",
		     note_signer_vkey(k->ls), cosigner_vkey(k->cs[0]), cosigner_vkey(k->cs[1]),
		     cosigner_vkey(k->cs[2]), cosigner_vkey(k->cs[3]), tail);
	if (tpolicy_parse(&p, (const uint8_t *)text, (size_t)n, 0, err, 256) != 0)
		return NULL;
	return p;
}

static void test_policy(void **state)
{
	struct keys k;
	struct tpolicy *p;
	struct note_checkpoint cp;
	char err[256];
	uint8_t *note;
	size_t len, n;
	const char *why;

	(void)state;
	keys_init(&k);
	/* the spec's two-level example: 2 of X, any of Y, both */
	p = policy(&k, "group X 2 W0 W1 W2\ngroup Y any W3\ngroup XY all X Y\nquorum XY\n", err);
	assert_non_null(p);
	assert_int_equal(p->num_logs, 1);
	assert_int_equal(p->num_witnesses, 4);
	assert_string_equal(p->witnesses[0].url, "https://w0.example/");
	assert_string_equal(p->witnesses[1].url, "");
	assert_string_equal(p->logs[0].url, "https://log.example/a/");
	assert_non_null(tpolicy_find_log(p, "log.example/a", 13));
	assert_null(tpolicy_find_log(p, "log.example/b", 13));
	{
		static const struct {
			unsigned mask;
			int ok;
		} cases[] = {{0xf, 1}, {0xb, 1}, {0x9, 0}, {0x7, 0}, {0xe, 1}, {0, 0}, {0x8, 0}};
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			note = cosigned(&k, cases[i].mask, &len);
			assert_int_equal(note_parse_checkpoint(&cp, note, len), 0);
			assert_int_equal(tpolicy_check(p, &cp, &n, &why), cases[i].ok ? 0 : MN_ENOTFOUND);
			assert_int_equal(n, (size_t)__builtin_popcount(cases[i].mask));
			free(note);
		}
	}
	/* a checkpoint by another log key under the same origin: refused */
	{
		struct keys k2;
		keys_init(&k2);
		note = cosigned(&k2, 0, &len);
		assert_int_equal(note_parse_checkpoint(&cp, note, len), 0);
		assert_int_equal(tpolicy_check(p, &cp, NULL, &why), MN_EBADSIG);
		free(note);
		keys_free(&k2);
	}
	tpolicy_free(p);
	/* quorum none; a single witness as quorum */
	p = policy(&k, "quorum none\n", err);
	assert_non_null(p);
	note = cosigned(&k, 0, &len);
	assert_int_equal(note_parse_checkpoint(&cp, note, len), 0);
	assert_int_equal(tpolicy_check(p, &cp, NULL, NULL), 0);
	tpolicy_free(p);
	p = policy(&k, "quorum W2\n", err);
	assert_non_null(p);
	assert_int_equal(tpolicy_check(p, &cp, NULL, NULL), MN_ENOTFOUND);
	free(note);
	note = cosigned(&k, 0x4, &len);
	assert_int_equal(note_parse_checkpoint(&cp, note, len), 0);
	assert_int_equal(tpolicy_check(p, &cp, NULL, NULL), 0);
	free(note);
	tpolicy_free(p);
	/* errors name the line */
	{
		static const struct {
			const char *tail, *msg;
		} bad[] = {
			{"group G 2 W0\nquorum G\n", "line 8: threshold"},
			{"group G 0 W0 W1\nquorum G\n", "line 8: threshold"},
			{"group G any W0 W9\nquorum G\n", "line 8: member W9 is not defined"},
			{"group G any W0 W0\nquorum G\n", "line 8: member W0 listed twice"},
			{"group W1 any W0\nquorum W1\n", "line 8: name W1 is already defined"},
			{"quorum G\n", "line 8: quorum G is not defined"},
			{"quorum none\nquorum none\n", "line 9: a second quorum"},
			{"", "no quorum line"},
			{"quorum none\nfoo bar\n", "line 9: unknown keyword foo"},
			{"group none any W0\nquorum none\n", "line 8: name none is already defined"},
			{"witness W9 PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW\nquorum none\n",
			 "line 8: witness key is not a cosignature/v1 vkey"},
			{"quorum none\x01\n", "line 8: control character"},
		};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			assert_null(policy(&k, bad[i].tail, err));
			if (strstr(err, bad[i].msg) == NULL)
				fail_msg("case %zu: \"%s\" has no \"%s\"", i, err, bad[i].msg);
		}
	}
	/* a duplicate key (the same witness key twice) */
	{
		char text[1024];
		int m = snprintf(text, sizeof(text), "witness A %s\nwitness B %s\nquorum A\n",
				 cosigner_vkey(k.cs[0]), cosigner_vkey(k.cs[0]));
		assert_int_equal(tpolicy_parse(&p, (const uint8_t *)text, (size_t)m, 0, err, sizeof(err)),
				 MN_EMALFORMED);
		assert_non_null(strstr(err, "line 2: duplicate key"));
	}
	/* logs only: the witness's --logs file */
	{
		char text[1024];
		int m = snprintf(text, sizeof(text), "log %s http://127.0.0.1:1/\n", note_signer_vkey(k.ls));
		assert_int_equal(tpolicy_parse(&p, (const uint8_t *)text, (size_t)m, TPOLICY_LOGS_ONLY, err,
					       sizeof(err)), 0);
		assert_int_equal(p->num_logs, 1);
		tpolicy_free(p);
		m = snprintf(text, sizeof(text), "quorum none\n");
		assert_int_equal(tpolicy_parse(&p, (const uint8_t *)text, (size_t)m, TPOLICY_LOGS_ONLY, err,
					       sizeof(err)), MN_EMALFORMED);
		assert_int_equal(tpolicy_parse(&p, (const uint8_t *)"", 0, TPOLICY_LOGS_ONLY, err,
					       sizeof(err)), MN_EMALFORMED);
	}
	keys_free(&k);
}

/* extension lines: accepted by the _ext parser (and cosigned with them) */
static void test_extension_lines(void **state)
{
	static const char note[] = "o.example\n1\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\next one\n\n"
				   "\xe2\x80\x94 o.example AAAAAAA=\n";
	struct note_checkpoint cp;

	(void)state;
	assert_int_equal(note_parse_checkpoint(&cp, (const uint8_t *)note, strlen(note)), MN_EMALFORMED);
	assert_int_equal(note_parse_checkpoint_ext(&cp, (const uint8_t *)note, strlen(note)), 0);
	assert_int_equal(cp.text_len, strlen(note) - strlen("\n\xe2\x80\x94 o.example AAAAAAA=\n"));
	assert_int_equal(cp.tree_size, 1);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_example),
		cmocka_unit_test(test_sign_verify_openssl),
		cmocka_unit_test(test_vkeys),
		cmocka_unit_test(test_witness_bodies),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_extension_lines),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
