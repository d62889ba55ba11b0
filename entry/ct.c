/* ct.c: RFC 6962 wire formats: MerkleTreeLeaf / TimestampedEntry (section 3.4),
 * the digitally-signed inputs of SCTs (section 3.2) and tree heads (section 3.5),
 * DigitallySigned (RFC 5246 section 4.7), SignedCertificateTimestamp (section 3.2)
 * and the SCT list (section 3.3); then signing and verifying with ECDSA P-256
 * over SHA-256 (RFC 6962 section 2.1.4) through OpenSSL 3's EVP API.
 *
 * Every parser works on the cbs cursors of common/bytes.h and requires a whole
 * structure: trailing bytes are malformed (as in BoringSSL ssl_is_sct_list_valid). */
#include "entry/ct.h"

#include <pthread.h>
#include <string.h>

#include <limits.h>
#include <stdlib.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "common/err.h"

int ct_entry_type_known(uint16_t type)
{
	return type == CT_X509_ENTRY || type == CT_PRECERT_ENTRY ||
	       type == MN_PGP_ENDORSEMENT_ENTRY || type == MN_SIGNED_POLICY_ENTRY ||
	       type == MN_MAP_ROOT_ENTRY;
}

static int entry_valid(const struct ct_entry *e)
{
	return ct_entry_type_known(e->entry_type) && e->body != NULL &&
	       e->body_len >= 1 && e->body_len <= CT_MAX_BODY_LEN &&
	       (e->extensions_len == 0 || e->extensions != NULL) &&
	       e->extensions_len <= 0xffff;
}

int ct_leaf_index_ext(uint8_t out[CT_LEAF_INDEX_EXT_LEN], uint64_t index)
{
	if (index >= CT_LEAF_INDEX_MAX)
		return 0;
	out[0] = CT_EXT_LEAF_INDEX; /* extension_type */
	out[1] = 0;                 /* extension_data length: 5 */
	out[2] = 5;
	for (int i = 0; i < 5; i++) /* uint40, big-endian */
		out[3 + i] = (uint8_t)(index >> (8 * (4 - i)));
	return 1;
}

/* struct { ExtensionType extension_type; opaque extension_data<0..2^16-1>; }
 * Extension; the list is read to its end (no trailing bytes). Each type seen
 * is remembered so that a repeated one is refused, as static-ct-api says. */
int ct_parse_extensions(const uint8_t *ext, size_t ext_len, int *out_has,
			uint64_t *out_index)
{
	uint8_t seen[256 / 8];
	struct cbs cbs, data;
	uint64_t index = 0;
	int has = 0;

	*out_has = 0;
	*out_index = 0;
	if (ext_len > 0 && ext == NULL)
		return 0;
	memset(seen, 0, sizeof(seen));
	cbs_init(&cbs, ext, ext_len);
	while (cbs_len(&cbs) > 0) {
		uint8_t type;
		if (!cbs_get_u8(&cbs, &type) || !cbs_get_u16_length_prefixed(&cbs, &data))
			return 0;
		if (seen[type / 8] & (1u << (type % 8)))
			return 0;
		seen[type / 8] |= (uint8_t)(1u << (type % 8));
		if (type != CT_EXT_LEAF_INDEX)
			continue;
		if (cbs_len(&data) != 5)
			return 0;
		index = 0;
		for (size_t i = 0; i < 5; i++)
			index = index << 8 | cbs_data(&data)[i];
		has = 1;
	}
	*out_has = has;
	*out_index = index;
	return 1;
}

int ct_extensions_match_index(const uint8_t *ext, size_t ext_len, uint64_t index)
{
	uint64_t got;
	int has;

	if (ext_len == 0)
		return 1;
	return ext_len == CT_LEAF_INDEX_EXT_LEN && ct_parse_extensions(ext, ext_len, &has, &got) &&
	       has && got == index;
}

/* write_entry_tail appends what follows the two leading one-byte fields shared
 * by MerkleTreeLeaf (version, leaf_type) and the section 3.2 signed struct
 * (sct_version, signature_type):
 *
 *   uint64 timestamp;
 *   LogEntryType entry_type;
 *   select(entry_type) {
 *       case x509_entry: ASN.1Cert;                  -- opaque <1..2^24-1>
 *       case precert_entry: PreCert;                 -- issuer_key_hash[32],
 *                                                    -- TBSCertificate <1..2^24-1>
 *       case 0x8001, 0x8002: opaque body<1..2^24-1>;
 *   } signed_entry;
 *   CtExtensions extensions;                         -- opaque <0..2^16-1>
 */
static int write_entry_tail(struct cbb *out, const struct ct_entry *e)
{
	struct cbb body, ext;

	if (!entry_valid(e))
		return 0;
	if (!cbb_add_u64(out, e->timestamp) || !cbb_add_u16(out, e->entry_type))
		return 0;
	if (e->entry_type == CT_PRECERT_ENTRY &&
	    !cbb_add_bytes(out, e->issuer_key_hash, sizeof(e->issuer_key_hash)))
		return 0;
	if (!cbb_add_u24_length_prefixed(out, &body) ||
	    !cbb_add_bytes(&body, e->body, e->body_len) ||
	    !cbb_add_u16_length_prefixed(out, &ext) ||
	    (e->extensions_len > 0 &&
	     !cbb_add_bytes(&ext, e->extensions, e->extensions_len)) ||
	    !cbb_flush(out))
		return 0;
	return 1;
}

int ct_write_leaf(struct cbb *out, const struct ct_entry *e)
{
	/* struct { Version version; MerkleLeafType leaf_type;
	 *          TimestampedEntry timestamped_entry; } MerkleTreeLeaf; */
	return entry_valid(e) && cbb_add_u8(out, 0 /* version = v1 */) &&
	       cbb_add_u8(out, 0 /* leaf_type = timestamped_entry */) &&
	       write_entry_tail(out, e);
}

/*   struct {
 *       Version version;                       -- v1(0)
 *       MerkleLeafType leaf_type;              -- timestamped_entry(0)
 *       struct {
 *           uint64 timestamp;
 *           LogEntryType entry_type;
 *           select(entry_type) {
 *               case x509_entry: opaque ASN.1Cert<1..2^24-1>;
 *               case precert_entry: opaque issuer_key_hash[32];
 *                                   opaque TBSCertificate<1..2^24-1>;
 *               case 0x8001, 0x8002: opaque body<1..2^24-1>;
 *           } signed_entry;
 *           opaque CtExtensions<0..2^16-1>;
 *       } timestamped_entry;
 *   } MerkleTreeLeaf;
 */
int ct_parse_leaf(struct ct_entry *out, const uint8_t *in, size_t in_len)
{
	struct cbs cbs, body, ext;
	uint8_t version, leaf_type;
	struct ct_entry e;

	memset(&e, 0, sizeof(e));
	cbs_init(&cbs, in, in_len);
	if (!cbs_get_u8(&cbs, &version) || version != 0 /* v1 */ ||
	    !cbs_get_u8(&cbs, &leaf_type) || leaf_type != 0 /* timestamped_entry */ ||
	    !cbs_get_u64(&cbs, &e.timestamp) || !cbs_get_u16(&cbs, &e.entry_type) ||
	    !ct_entry_type_known(e.entry_type))
		return 0;
	if (e.entry_type == CT_PRECERT_ENTRY &&
	    !cbs_copy_bytes(&cbs, e.issuer_key_hash, sizeof(e.issuer_key_hash)))
		return 0;
	if (!cbs_get_u24_length_prefixed(&cbs, &body) || cbs_len(&body) == 0 ||
	    !cbs_get_u16_length_prefixed(&cbs, &ext) || cbs_len(&cbs) != 0)
		return 0;
	e.body = cbs_data(&body);
	e.body_len = cbs_len(&body);
	e.extensions = cbs_data(&ext);
	e.extensions_len = cbs_len(&ext);
	*out = e;
	return 1;
}

int ct_write_sct_input(struct cbb *out, const struct ct_entry *e)
{
	/* digitally-signed struct {
	 *     Version sct_version;                  -- v1(0)
	 *     SignatureType signature_type = certificate_timestamp;  -- 0
	 *     uint64 timestamp; LogEntryType entry_type; signed_entry;
	 *     CtExtensions extensions;
	 * };                                         -- section 3.2 */
	return entry_valid(e) && cbb_add_u8(out, 0 /* sct_version = v1 */) &&
	       cbb_add_u8(out, 0 /* signature_type = certificate_timestamp */) &&
	       write_entry_tail(out, e);
}

int ct_write_sth_input(struct cbb *out, uint64_t timestamp, uint64_t tree_size,
		       const uint8_t root[32])
{
	/* digitally-signed struct {
	 *     Version version;                      -- v1(0)
	 *     SignatureType signature_type = tree_hash;  -- 1
	 *     uint64 timestamp;
	 *     uint64 tree_size;
	 *     opaque sha256_root_hash[32];
	 * } TreeHeadSignature;                       -- section 3.5 */
	return cbb_add_u8(out, 0 /* version = v1 */) &&
	       cbb_add_u8(out, 1 /* signature_type = tree_hash */) &&
	       cbb_add_u64(out, timestamp) && cbb_add_u64(out, tree_size) &&
	       cbb_add_bytes(out, root, 32) && cbb_flush(out);
}

static int sig_valid(const struct ct_sig *sig)
{
	return sig->hash_alg == 4 /* sha256 */ && sig->sig_alg == 3 /* ecdsa */ &&
	       sig->len <= CT_MAX_SIG_LEN;
}

int ct_write_sig(struct cbb *out, const struct ct_sig *sig)
{
	struct cbb s;

	/* struct { SignatureAndHashAlgorithm algorithm; opaque signature<0..2^16-1>; }
	 *   DigitallySigned;                         -- RFC 5246 section 4.7 */
	if (!sig_valid(sig))
		return 0;
	return cbb_add_u8(out, sig->hash_alg) && cbb_add_u8(out, sig->sig_alg) &&
	       cbb_add_u16_length_prefixed(out, &s) &&
	       cbb_add_bytes(&s, sig->sig, sig->len) && cbb_flush(out);
}

/*   struct {
 *       struct { HashAlgorithm hash; SignatureAlgorithm signature; } algorithm;
 *       opaque signature<0..2^16-1>;
 *   } DigitallySigned;
 * Only hash sha256(4) and signature ecdsa(3) are accepted (RFC 6962 section 2.1.4).
 * Works on a copy of |in| so that |in| is unchanged on failure. */
int ct_parse_sig(struct ct_sig *out, struct cbs *in)
{
	struct cbs c = *in, s;
	struct ct_sig sig;

	memset(&sig, 0, sizeof(sig));
	if (!cbs_get_u8(&c, &sig.hash_alg) || sig.hash_alg != 4 /* sha256 */ ||
	    !cbs_get_u8(&c, &sig.sig_alg) || sig.sig_alg != 3 /* ecdsa */ ||
	    !cbs_get_u16_length_prefixed(&c, &s) || cbs_len(&s) > CT_MAX_SIG_LEN)
		return 0;
	sig.len = (uint16_t)cbs_len(&s);
	if (sig.len > 0)
		memcpy(sig.sig, cbs_data(&s), sig.len);
	*out = sig;
	*in = c;
	return 1;
}

int ct_write_sct(struct cbb *out, const struct ct_sct *sct)
{
	struct cbb ext;

	if (sct->version != 0 || !sig_valid(&sct->sig) || sct->extensions_len > 0xffff ||
	    (sct->extensions_len > 0 && sct->extensions == NULL))
		return 0;
	return cbb_add_u8(out, 0 /* sct_version = v1 */) &&
	       cbb_add_bytes(out, sct->log_id, CT_LOG_ID_LEN) &&
	       cbb_add_u64(out, sct->timestamp) &&
	       cbb_add_u16_length_prefixed(out, &ext) &&
	       (sct->extensions_len == 0 ||
		cbb_add_bytes(&ext, sct->extensions, sct->extensions_len)) &&
	       ct_write_sig(out, &sct->sig);
}

/*   struct {
 *       Version sct_version;                   -- v1(0)
 *       LogID id;                              -- opaque key_id[32]
 *       uint64 timestamp;
 *       CtExtensions extensions;               -- opaque <0..2^16-1>
 *       digitally-signed struct { ... };       -- DigitallySigned
 *   } SignedCertificateTimestamp;              -- section 3.2
 */
int ct_parse_sct(struct ct_sct *out, const uint8_t *in, size_t in_len)
{
	struct cbs cbs, ext;
	struct ct_sct sct;

	memset(&sct, 0, sizeof(sct));
	cbs_init(&cbs, in, in_len);
	if (!cbs_get_u8(&cbs, &sct.version) || sct.version != 0 /* v1 */ ||
	    !cbs_copy_bytes(&cbs, sct.log_id, CT_LOG_ID_LEN) ||
	    !cbs_get_u64(&cbs, &sct.timestamp) ||
	    !cbs_get_u16_length_prefixed(&cbs, &ext) ||
	    !ct_parse_sig(&sct.sig, &cbs) || cbs_len(&cbs) != 0)
		return 0;
	sct.extensions = cbs_data(&ext);
	sct.extensions_len = cbs_len(&ext);
	*out = sct;
	return 1;
}

int ct_write_sct_list(struct cbb *out, const struct ct_sct *scts, size_t num)
{
	struct cbb list, one;

	/* opaque SerializedSCT<1..2^16-1>;
	 * struct { SerializedSCT sct_list<1..2^16-1>; } SignedCertificateTimestampList;
	 *                                           -- section 3.3 */
	if (num == 0)
		return 0;
	if (!cbb_add_u16_length_prefixed(out, &list))
		return 0;
	for (size_t i = 0; i < num; i++) {
		if (!cbb_add_u16_length_prefixed(&list, &one) ||
		    !ct_write_sct(&one, &scts[i]))
			return 0;
	}
	return cbb_flush(out);
}

/* Signing and verifying (RFC 6962 section 2.1.4: ECDSA with NIST P-256 over
 * SHA-256, encoded as a DigitallySigned with an ASN.1 ECDSA-Sig-Value). */

/* The largest section 3.2 input: two one-byte fields, timestamp, entry_type,
 * issuer_key_hash, a 3-byte length and body, a 2-byte length and extensions. */
#define SIGNED_INPUT_MAX (2 + 8 + 2 + 32 + 3 + (size_t)CT_MAX_BODY_LEN + 2 + 0xffff)

/* Signing contexts are reused: creating an EVP_PKEY_CTX and fetching SHA-256 on
 * every signature costs OpenSSL 3 about a fifth of the ECDSA signature itself
 * (measured with a loop over ct_sign). A slot is used by one thread at a time;
 * the mutex guards only the free list. */
#define SIGN_POOL 16
struct sign_slot {
	EVP_PKEY_CTX *pctx; /* EVP_PKEY_sign_init done */
	EVP_MD_CTX *mctx;
};
struct sign_pool {
	pthread_mutex_t mu;
	EVP_MD *md;
	struct sign_slot free[SIGN_POOL];
	size_t num_free;
};

struct ct_signer {
	struct sign_pool *pool;
	EVP_PKEY *pkey; /* one reference, held until ct_signer_free */
	uint8_t *spki;  /* DER SubjectPublicKeyInfo, from i2d_PUBKEY */
	size_t spki_len;
	uint8_t log_id[CT_LOG_ID_LEN];
};

struct ct_verifier {
	EVP_PKEY *pkey;
	uint8_t log_id[CT_LOG_ID_LEN];
};

/* is_p256 returns 1 iff |pkey| is an EC key on the named curve P-256. Explicit
 * curve parameters have no group name and are refused. */
static int is_p256(EVP_PKEY *pkey)
{
	char name[64];
	size_t name_len = 0;

	if (!EVP_PKEY_is_a(pkey, "EC") ||
	    EVP_PKEY_get_group_name(pkey, name, sizeof(name), &name_len) != 1)
		return 0;
	return OBJ_sn2nid(name) == NID_X9_62_prime256v1;
}

static int has_private_key(EVP_PKEY *pkey)
{
	BIGNUM *priv = NULL;
	int ok = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &priv) == 1;

	BN_clear_free(priv);
	return ok;
}

struct ct_signer *ct_signer_new(void *pkey_arg)
{
	EVP_PKEY *pkey = pkey_arg;
	struct ct_signer *s = NULL;
	unsigned char *der = NULL;
	int der_len;

	if (pkey == NULL || !is_p256(pkey) || !has_private_key(pkey))
		goto err;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		goto err;
	der_len = i2d_PUBKEY(pkey, &der);
	if (der_len <= 0)
		goto err;
	s->spki = malloc((size_t)der_len);
	if (s->spki == NULL)
		goto err;
	memcpy(s->spki, der, (size_t)der_len);
	s->spki_len = (size_t)der_len;
	SHA256(s->spki, s->spki_len, s->log_id);
	if (EVP_PKEY_up_ref(pkey) != 1)
		goto err;
	s->pkey = pkey;
	s->pool = calloc(1, sizeof(*s->pool));
	if (s->pool == NULL)
		goto err;
	pthread_mutex_init(&s->pool->mu, NULL);
	s->pool->md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (s->pool->md == NULL)
		goto err;
	OPENSSL_free(der);
	return s;

err:
	OPENSSL_free(der);
	ct_signer_free(s);
	ERR_clear_error();
	return NULL;
}

static void slot_free(struct sign_slot *sl)
{
	EVP_PKEY_CTX_free(sl->pctx);
	EVP_MD_CTX_free(sl->mctx);
}

void ct_signer_free(struct ct_signer *s)
{
	if (s == NULL)
		return;
	if (s->pool != NULL) {
		while (s->pool->num_free > 0)
			slot_free(&s->pool->free[--s->pool->num_free]);
		EVP_MD_free(s->pool->md);
		pthread_mutex_destroy(&s->pool->mu);
		free(s->pool);
	}
	EVP_PKEY_free(s->pkey);
	free(s->spki);
	free(s);
}

const uint8_t *ct_signer_log_id(const struct ct_signer *s)
{
	return s->log_id;
}

const uint8_t *ct_signer_spki(const struct ct_signer *s, size_t *out_len)
{
	*out_len = s->spki_len;
	return s->spki;
}

/* ct_sign hashes |in| and signs the digest with a pooled context (see struct
 * sign_pool); the EVP_PKEY itself is only read, which OpenSSL 3 allows from
 * several threads at once. */
int ct_sign(const struct ct_signer *s, struct ct_sig *out, const uint8_t *in,
	    size_t in_len)
{
	struct sign_pool *pool = s->pool;
	struct sign_slot sl = {NULL, NULL};
	uint8_t digest[32];
	unsigned dlen = 0;
	size_t sig_len = sizeof(out->sig);
	int ret = MN_ECRYPTO;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&pool->mu);
	if (pool->num_free > 0)
		sl = pool->free[--pool->num_free];
	pthread_mutex_unlock(&pool->mu);
	if (sl.pctx == NULL) {
		sl.pctx = EVP_PKEY_CTX_new_from_pkey(NULL, s->pkey, NULL);
		sl.mctx = EVP_MD_CTX_new();
		if (sl.pctx == NULL || sl.mctx == NULL || EVP_PKEY_sign_init(sl.pctx) != 1 ||
		    EVP_PKEY_CTX_set_signature_md(sl.pctx, pool->md) != 1) {
			slot_free(&sl);
			sl.pctx = NULL;
			goto err;
		}
	}
	if (EVP_DigestInit_ex2(sl.mctx, pool->md, NULL) != 1 ||
	    EVP_DigestUpdate(sl.mctx, in, in_len) != 1 ||
	    EVP_DigestFinal_ex(sl.mctx, digest, &dlen) != 1 || dlen != sizeof(digest) ||
	    EVP_PKEY_sign(sl.pctx, out->sig, &sig_len, digest, sizeof(digest)) != 1 ||
	    sig_len == 0 || sig_len > CT_MAX_SIG_LEN)
		goto err;
	out->hash_alg = 4; /* sha256 */
	out->sig_alg = 3;  /* ecdsa */
	out->len = (uint16_t)sig_len;
	ret = 0;
err:
	if (ret != 0) {
		memset(out, 0, sizeof(*out));
		ERR_clear_error();
	}
	if (sl.pctx != NULL) {
		pthread_mutex_lock(&pool->mu);
		if (pool->num_free < SIGN_POOL) {
			pool->free[pool->num_free++] = sl;
			sl.pctx = NULL;
		}
		pthread_mutex_unlock(&pool->mu);
		if (sl.pctx != NULL)
			slot_free(&sl);
	}
	return ret;
}

/* sign_cbb signs the bytes of |cbb| (which it cleans up) into |out|. */
static int sign_cbb(const struct ct_signer *s, struct ct_sig *out, struct cbb *cbb)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int ret;

	if (!cbb_finish(cbb, &data, &len))
		return MN_ENOMEM;
	ret = ct_sign(s, out, data, len);
	free(data);
	return ret;
}

int ct_sign_sct(const struct ct_signer *s, struct ct_sct *out,
		const struct ct_entry *e)
{
	struct cbb cbb;
	int ret;

	memset(out, 0, sizeof(*out));
	if (!entry_valid(e))
		return MN_EINVAL;
	if (!cbb_init(&cbb, 64 + e->body_len + e->extensions_len, SIGNED_INPUT_MAX))
		return MN_ENOMEM;
	if (!ct_write_sct_input(&cbb, e)) {
		cbb_cleanup(&cbb);
		return MN_ENOMEM;
	}
	ret = sign_cbb(s, &out->sig, &cbb);
	if (ret != 0)
		return ret;
	out->version = 0; /* v1 */
	memcpy(out->log_id, s->log_id, CT_LOG_ID_LEN);
	out->timestamp = e->timestamp;
	out->extensions = e->extensions;
	out->extensions_len = e->extensions_len;
	return 0;
}

int ct_sign_leaf_sct(const struct ct_signer *s, struct ct_sct *out, const uint8_t *leaf,
		     size_t leaf_len)
{
	struct ct_entry e;
	int ret;

	memset(out, 0, sizeof(*out));
	if (!ct_parse_leaf(&e, leaf, leaf_len))
		return MN_EINVAL;
	ret = ct_sign(s, &out->sig, leaf, leaf_len);
	if (ret != 0)
		return ret;
	out->version = 0; /* v1 */
	memcpy(out->log_id, s->log_id, CT_LOG_ID_LEN);
	out->timestamp = e.timestamp;
	out->extensions = e.extensions;
	out->extensions_len = e.extensions_len;
	return 0;
}

int ct_sign_sth(const struct ct_signer *s, struct ct_sig *out, uint64_t timestamp,
		uint64_t tree_size, const uint8_t root[32])
{
	struct cbb cbb;

	memset(out, 0, sizeof(*out));
	if (!cbb_init(&cbb, 50, 50))
		return MN_ENOMEM;
	if (!ct_write_sth_input(&cbb, timestamp, tree_size, root)) {
		cbb_cleanup(&cbb);
		return MN_ENOMEM;
	}
	return sign_cbb(s, out, &cbb);
}

struct ct_verifier *ct_verifier_new(const uint8_t *spki, size_t spki_len)
{
	struct ct_verifier *v = NULL;
	const unsigned char *p = spki;
	EVP_PKEY *pkey = NULL;

	if (spki == NULL || spki_len == 0 || spki_len > LONG_MAX)
		goto err;
	pkey = d2i_PUBKEY(NULL, &p, (long)spki_len);
	/* The whole input must be the one SubjectPublicKeyInfo: the log ID is the
	 * hash of exactly these bytes. */
	if (pkey == NULL || p != spki + spki_len || !is_p256(pkey))
		goto err;
	v = calloc(1, sizeof(*v));
	if (v == NULL)
		goto err;
	v->pkey = pkey;
	SHA256(spki, spki_len, v->log_id);
	return v;

err:
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	return NULL;
}

void ct_verifier_free(struct ct_verifier *v)
{
	if (v == NULL)
		return;
	EVP_PKEY_free(v->pkey);
	free(v);
}

const uint8_t *ct_verifier_log_id(const struct ct_verifier *v)
{
	return v->log_id;
}

int ct_verify(const struct ct_verifier *v, const struct ct_sig *sig,
	      const uint8_t *in, size_t in_len)
{
	EVP_MD_CTX *ctx;
	int ok;

	if (!sig_valid(sig) || sig->len == 0)
		return 0;
	ctx = EVP_MD_CTX_new();
	ok = ctx != NULL &&
	     EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, v->pkey) == 1 &&
	     EVP_DigestVerify(ctx, sig->sig, sig->len, in, in_len) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		ERR_clear_error(); /* a bad signature is an answer, not an error */
	return ok;
}

/* verify_cbb verifies |sig| over the bytes of |cbb| and cleans |cbb| up. */
static int verify_cbb(const struct ct_verifier *v, const struct ct_sig *sig,
		      struct cbb *cbb)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int ok;

	if (!cbb_finish(cbb, &data, &len))
		return 0;
	ok = ct_verify(v, sig, data, len);
	free(data);
	return ok;
}

int ct_verify_sct(const struct ct_verifier *v, const struct ct_sct *sct,
		  const struct ct_entry *e)
{
	struct ct_entry signed_e = *e;
	struct cbb cbb;

	if (sct->version != 0 /* v1 */ ||
	    memcmp(sct->log_id, v->log_id, CT_LOG_ID_LEN) != 0)
		return 0;
	signed_e.timestamp = sct->timestamp;
	signed_e.extensions = sct->extensions;
	signed_e.extensions_len = sct->extensions_len;
	if (!entry_valid(&signed_e) ||
	    !cbb_init(&cbb, 64 + e->body_len + sct->extensions_len, SIGNED_INPUT_MAX))
		return 0;
	if (!ct_write_sct_input(&cbb, &signed_e)) {
		cbb_cleanup(&cbb);
		return 0;
	}
	return verify_cbb(v, &sct->sig, &cbb);
}

int ct_verify_sth(const struct ct_verifier *v, const struct ct_sig *sig,
		  uint64_t timestamp, uint64_t tree_size, const uint8_t root[32])
{
	struct cbb cbb;

	if (!cbb_init(&cbb, 50, 50))
		return 0;
	if (!ct_write_sth_input(&cbb, timestamp, tree_size, root)) {
		cbb_cleanup(&cbb);
		return 0;
	}
	return verify_cbb(v, sig, &cbb);
}
