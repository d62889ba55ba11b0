/* note.c: signed-note checkpoints (see note.h). */
#include "entry/note.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/b64.h"
#include "common/err.h"

#define NOTE_MAX_EXT_LINES 64

struct note_signer {
	EVP_PKEY *pkey;
	struct note_vkey key;
	char vkey[NOTE_MAX_VKEY + 1];
};

int note_valid_name(const char *name, size_t len)
{
	if (len == 0 || len > NOTE_MAX_ORIGIN)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (name[i] <= ' ' || name[i] == '+' || (unsigned char)name[i] >= 0x7f)
			return 0;
	return 1;
}

/* key_id: SHA-256(name || 0x0A || type || key)[:4], big-endian. */
static uint32_t key_id(const char *name, size_t name_len, uint8_t type,
		       const uint8_t *key, size_t key_len)
{
	uint8_t h[32], sep[2] = {0x0a, type};
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok = c != NULL && EVP_DigestInit_ex(c, EVP_sha256(), NULL) &&
		 EVP_DigestUpdate(c, name, name_len) && EVP_DigestUpdate(c, sep, 2) &&
		 EVP_DigestUpdate(c, key, key_len) && EVP_DigestFinal_ex(c, h, NULL);

	EVP_MD_CTX_free(c);
	if (!ok)
		return 0;
	return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
}

uint32_t note_key_id(const char *name, size_t name_len, uint8_t type, const uint8_t *key,
		     size_t key_len)
{
	return key_id(name, name_len, type, key, key_len);
}

uint32_t note_rfc6962_key_id(const char *origin, size_t origin_len,
			     const uint8_t log_id[CT_LOG_ID_LEN])
{
	return key_id(origin, origin_len, 0x05, log_id, CT_LOG_ID_LEN);
}

struct note_signer *note_signer_new_typed(void *pkey, const char *name, size_t name_len,
					  uint8_t type)
{
	struct note_signer *s;
	struct note_vkey k;

	if (note_vkey_from_pkey(&k, pkey, name, name_len, type) != 0)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	if (!EVP_PKEY_up_ref(pkey)) {
		free(s);
		return NULL;
	}
	s->pkey = pkey;
	s->key = k;
	note_vkey_format(s->vkey, &s->key);
	return s;
}

struct note_signer *note_signer_new(void *pkey, const char *name, size_t name_len)
{
	return note_signer_new_typed(pkey, name, name_len, NOTE_TYPE_ED25519);
}

void note_signer_free(struct note_signer *s)
{
	if (s == NULL)
		return;
	EVP_PKEY_free(s->pkey);
	free(s);
}

const char *note_signer_vkey(const struct note_signer *s)
{
	return s->vkey;
}

const char *note_signer_name(const struct note_signer *s)
{
	return s->key.name;
}

const struct note_vkey *note_signer_key(const struct note_signer *s)
{
	return &s->key;
}

int note_signer_sign(const struct note_signer *s, const uint8_t *msg, size_t len,
		     uint8_t sig[NOTE_ED25519_SIG_LEN])
{
	size_t sig_len = NOTE_ED25519_SIG_LEN;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok = c != NULL && EVP_DigestSignInit(c, NULL, NULL, NULL, s->pkey) == 1 &&
		 EVP_DigestSign(c, sig, &sig_len, msg, len) == 1 &&
		 sig_len == NOTE_ED25519_SIG_LEN;

	EVP_MD_CTX_free(c);
	return ok ? 0 : MN_ECRYPTO;
}

int note_checkpoint_text(struct cbb *out, const char *origin, size_t origin_len,
			 uint64_t tree_size, const uint8_t root[32])
{
	char num[24], b64[48];
	int n = snprintf(num, sizeof(num), "%llu\n", (unsigned long long)tree_size);
	size_t bl = mn_b64_encode(b64, root, 32);

	return cbb_add_bytes(out, (const uint8_t *)origin, origin_len) &&
	       cbb_add_u8(out, '\n') && cbb_add_bytes(out, (const uint8_t *)num, (size_t)n) &&
	       cbb_add_bytes(out, (const uint8_t *)b64, bl) && cbb_add_u8(out, '\n');
}

int note_sig_line(struct cbb *out, const char *name, size_t name_len, const uint8_t *sig,
		    size_t sig_len)
{
	static const uint8_t dash[] = {0xe2, 0x80, 0x94, ' '};
	char b64[200];
	size_t bl;

	if (sig_len > 140)
		return 0;
	bl = mn_b64_encode(b64, sig, sig_len);
	return cbb_add_bytes(out, dash, sizeof(dash)) &&
	       cbb_add_bytes(out, (const uint8_t *)name, name_len) && cbb_add_u8(out, ' ') &&
	       cbb_add_bytes(out, (const uint8_t *)b64, bl) && cbb_add_u8(out, '\n');
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int note_sign_checkpoint(struct cbb *out, const struct note_signer *ed,
			 const char *origin, size_t origin_len,
			 const uint8_t log_id[CT_LOG_ID_LEN], uint64_t tree_size,
			 const uint8_t root[32], uint64_t timestamp,
			 const struct ct_sig *sth_sig)
{
	uint8_t sig[4 + 8 + 4 + CT_MAX_SIG_LEN], edsig[4 + NOTE_ED25519_SIG_LEN];
	size_t start = cbb_len(out), sig_len;

	if (ed != NULL) {
		origin = ed->key.name;
		origin_len = ed->key.name_len;
	}
	if (!note_valid_name(origin, origin_len) || sth_sig->len > CT_MAX_SIG_LEN)
		return MN_EINVAL;
	if (!note_checkpoint_text(out, origin, origin_len, tree_size, root))
		return MN_ENOMEM;
	/* RFC6962NoteSignature */
	put_be32(sig, note_rfc6962_key_id(origin, origin_len, log_id));
	mn_put_be64(sig + 4, timestamp);
	sig[12] = sth_sig->hash_alg;
	sig[13] = sth_sig->sig_alg;
	sig[14] = (uint8_t)(sth_sig->len >> 8);
	sig[15] = (uint8_t)sth_sig->len;
	memcpy(sig + 16, sth_sig->sig, sth_sig->len);
	sig_len = 16 + sth_sig->len;
	if (ed != NULL) {
		put_be32(edsig, ed->key.key_id);
		if (note_signer_sign(ed, cbb_data(out) + start, cbb_len(out) - start, edsig + 4) != 0)
			return MN_ECRYPTO;
	}
	if (!cbb_add_u8(out, '\n') || !note_sig_line(out, origin, origin_len, sig, sig_len) ||
	    (ed != NULL && !note_sig_line(out, origin, origin_len, edsig, sizeof(edsig))))
		return MN_ENOMEM;
	return 0;
}

/* --- parsing and verifying --------------------------------------------------- */

/* next_line: [p, end) up to '\n' (excluded) into *line; advances past it. 1 or 0
 * (no newline left). */
static int next_line(const char **p, const char *end, const char **line, size_t *len)
{
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));

	if (nl == NULL)
		return 0;
	*line = *p;
	*len = (size_t)(nl - *p);
	*p = nl + 1;
	return 1;
}

static int parse_note(struct note_checkpoint *out, const uint8_t *in, size_t len, int ext)
{
	const char *p = (const char *)in, *end = p + len, *l;
	size_t ll;
	uint8_t *dec = NULL;
	size_t dec_len;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < len; i++)
		if (in[i] < 0x20 && in[i] != '\n')
			return MN_EMALFORMED;
	out->text = p;
	if (!next_line(&p, end, &l, &ll) || !note_valid_name(l, ll))
		return MN_EMALFORMED;
	out->origin = l;
	out->origin_len = ll;
	if (!next_line(&p, end, &l, &ll) || !mn_parse_dec(l, ll, &out->tree_size))
		return MN_EMALFORMED;
	if (!next_line(&p, end, &l, &ll) || ll != 44 ||
	    mn_b64_decode(&dec, &dec_len, l, ll, 32) != 0)
		return MN_EMALFORMED;
	if (dec_len != 32) {
		free(dec);
		return MN_EMALFORMED;
	}
	memcpy(out->root, dec, 32);
	free(dec);
	/* extension lines, where allowed, then the blank line */
	for (int n_ext = 0;; n_ext++) {
		out->text_len = (size_t)(p - out->text);
		if (!next_line(&p, end, &l, &ll))
			return MN_EMALFORMED;
		if (ll == 0)
			break;
		if (!ext || n_ext == NOTE_MAX_EXT_LINES)
			return MN_EMALFORMED;
	}
	while (p < end) {
		const char *sp;
		if (!next_line(&p, end, &l, &ll) || ll < 4 ||
		    memcmp(l, "\xe2\x80\x94 ", 4) != 0 || out->num_sigs == NOTE_MAX_SIGS)
			return MN_EMALFORMED;
		l += 4;
		ll -= 4;
		sp = memchr(l, ' ', ll);
		if (sp == NULL || !note_valid_name(l, (size_t)(sp - l)))
			return MN_EMALFORMED;
		out->sigs[out->num_sigs].name = l;
		out->sigs[out->num_sigs].name_len = (size_t)(sp - l);
		if (mn_b64_decode(&dec, &dec_len, sp + 1, ll - (size_t)(sp + 1 - l), 132) != 0)
			return MN_EMALFORMED;
		if (dec_len < 5) {
			free(dec);
			return MN_EMALFORMED;
		}
		out->sigs[out->num_sigs].key_id = (uint32_t)dec[0] << 24 |
						  (uint32_t)dec[1] << 16 |
						  (uint32_t)dec[2] << 8 | dec[3];
		memcpy(out->sigs[out->num_sigs].sig, dec + 4, dec_len - 4);
		out->sigs[out->num_sigs].sig_len = dec_len - 4;
		free(dec);
		out->num_sigs++;
	}
	return out->num_sigs > 0 ? 0 : MN_EMALFORMED;
}

int note_parse_checkpoint(struct note_checkpoint *out, const uint8_t *in, size_t len)
{
	return parse_note(out, in, len, 0);
}

int note_parse_checkpoint_ext(struct note_checkpoint *out, const uint8_t *in, size_t len)
{
	return parse_note(out, in, len, 1);
}

static int name_is(const struct note_checkpoint *cp, size_t i, const char *n, size_t nl)
{
	return cp->sigs[i].name_len == nl && memcmp(cp->sigs[i].name, n, nl) == 0;
}

int note_verify_rfc6962(const struct note_checkpoint *cp, const struct ct_verifier *v,
			uint64_t *out_timestamp)
{
	uint32_t id = note_rfc6962_key_id(cp->origin, cp->origin_len, ct_verifier_log_id(v));

	for (size_t i = 0; i < cp->num_sigs; i++) {
		struct cbs c;
		struct ct_sig sig;
		uint64_t ts;
		if (!name_is(cp, i, cp->origin, cp->origin_len) || cp->sigs[i].key_id != id)
			continue;
		cbs_init(&c, cp->sigs[i].sig, cp->sigs[i].sig_len);
		if (!cbs_get_u64(&c, &ts) || !ct_parse_sig(&sig, &c) || cbs_len(&c) != 0)
			return 0;
		if (!ct_verify_sth(v, &sig, ts, cp->tree_size, cp->root))
			return 0;
		*out_timestamp = ts;
		return 1;
	}
	return 0;
}

int note_verify_ed25519(const struct note_checkpoint *cp, const char *vkey, size_t vkey_len)
{
	const char *p1 = memchr(vkey, '+', vkey_len), *p2;
	uint8_t *pub = NULL;
	size_t pub_len, nl;
	uint32_t id = 0;
	EVP_PKEY *pk = NULL;
	EVP_MD_CTX *c = NULL;
	int ok = 0;

	if (p1 == NULL)
		return 0;
	nl = (size_t)(p1 - vkey);
	p2 = memchr(p1 + 1, '+', vkey_len - nl - 1);
	if (p2 == NULL || p2 - p1 != 9 || nl != cp->origin_len ||
	    memcmp(vkey, cp->origin, nl) != 0)
		return 0;
	for (int i = 1; i <= 8; i++) {
		char ch = p1[i];
		int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
		if (d < 0)
			return 0;
		id = id << 4 | (uint32_t)d;
	}
	if (mn_b64_decode(&pub, &pub_len, p2 + 1, vkey_len - (size_t)(p2 + 1 - vkey), 33) != 0)
		return 0;
	if (pub_len != 33 || pub[0] != 0x01 ||
	    key_id(vkey, nl, 0x01, pub + 1, 32) != id)
		goto out;
	pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub + 1, 32);
	if (pk == NULL)
		goto out;
	for (size_t i = 0; i < cp->num_sigs && !ok; i++) {
		if (!name_is(cp, i, vkey, nl) || cp->sigs[i].key_id != id ||
		    cp->sigs[i].sig_len != NOTE_ED25519_SIG_LEN)
			continue;
		c = EVP_MD_CTX_new();
		ok = c != NULL && EVP_DigestVerifyInit(c, NULL, NULL, NULL, pk) == 1 &&
		     EVP_DigestVerify(c, cp->sigs[i].sig, NOTE_ED25519_SIG_LEN,
				      (const uint8_t *)cp->text, cp->text_len) == 1;
		EVP_MD_CTX_free(c);
		c = NULL;
	}
out:
	EVP_PKEY_free(pk);
	free(pub);
	return ok;
}

/* --- verifier keys ----------------------------------------------------------- */

static int hex8(const char *p, uint32_t *out)
{
	uint32_t v = 0;

	for (int i = 0; i < 8; i++) {
		char ch = p[i];
		int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
		if (d < 0)
			return 0;
		v = v << 4 | (uint32_t)d;
	}
	*out = v;
	return 1;
}

int note_vkey_parse(struct note_vkey *out, const char *vkey, size_t len)
{
	const char *p1 = memchr(vkey, '+', len), *p2;
	uint8_t *key = NULL;
	size_t key_len, nl;
	int ret = MN_EMALFORMED;

	memset(out, 0, sizeof(*out));
	if (p1 == NULL)
		return MN_EMALFORMED;
	nl = (size_t)(p1 - vkey);
	if (!note_valid_name(vkey, nl) || len - nl < 10 || p1[9] != '+' || !hex8(p1 + 1, &out->key_id))
		return MN_EMALFORMED;
	p2 = p1 + 9;
	if (mn_b64_decode(&key, &key_len, p2 + 1, len - (size_t)(p2 + 1 - vkey), 33) != 0)
		return MN_EMALFORMED;
	if (key_len == 33 && (key[0] == NOTE_TYPE_ED25519 || key[0] == NOTE_TYPE_COSIG_V1) &&
	    key_id(vkey, nl, key[0], key + 1, 32) == out->key_id) {
		memcpy(out->name, vkey, nl);
		out->name_len = nl;
		out->type = key[0];
		memcpy(out->pub, key + 1, 32);
		ret = 0;
	}
	free(key);
	return ret;
}

int note_vkey_from_pkey(struct note_vkey *out, void *pkey, const char *name, size_t name_len,
			uint8_t type)
{
	size_t pub_len = sizeof(out->pub);

	if (pkey == NULL || EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519 ||
	    !note_valid_name(name, name_len))
		return MN_EINVAL;
	memset(out, 0, sizeof(*out));
	if (!EVP_PKEY_get_raw_public_key(pkey, out->pub, &pub_len) || pub_len != 32)
		return MN_EINVAL;
	memcpy(out->name, name, name_len);
	out->name_len = name_len;
	out->type = type;
	out->key_id = key_id(name, name_len, type, out->pub, 32);
	return 0;
}

void note_vkey_format(char *out, const struct note_vkey *k)
{
	uint8_t raw[33];
	char b64[48];

	raw[0] = k->type;
	memcpy(raw + 1, k->pub, 32);
	mn_b64_encode(b64, raw, sizeof(raw));
	snprintf(out, NOTE_MAX_VKEY + 1, "%s+%08x+%s", k->name, (unsigned)k->key_id, b64);
}

int note_verify_vkey(const struct note_checkpoint *cp, const struct note_vkey *k)
{
	EVP_PKEY *pk;
	int found = 0;

	if (k->type != NOTE_TYPE_ED25519)
		return 0;
	pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, k->pub, 32);
	if (pk == NULL)
		return -1;
	for (size_t i = 0; i < cp->num_sigs; i++) {
		EVP_MD_CTX *c;
		int ok;
		if (!name_is(cp, i, k->name, k->name_len) || cp->sigs[i].key_id != k->key_id)
			continue;
		c = EVP_MD_CTX_new();
		ok = cp->sigs[i].sig_len == NOTE_ED25519_SIG_LEN && c != NULL &&
		     EVP_DigestVerifyInit(c, NULL, NULL, NULL, pk) == 1 &&
		     EVP_DigestVerify(c, cp->sigs[i].sig, NOTE_ED25519_SIG_LEN,
				      (const uint8_t *)cp->text, cp->text_len) == 1;
		EVP_MD_CTX_free(c);
		if (!ok) {
			found = -1;
			break;
		}
		found = 1;
	}
	EVP_PKEY_free(pk);
	return found;
}
