/* pgp_revocation.c: a certifier's certification revocation (0x30) of the
 * user ID, verified with OpenSSL.
 *
 * RNP 0.16 checks every 0x30 on a user ID against the key's own primary key,
 * so a certifier's revocation is verified with OpenSSL instead. The hash input
 * (RFC 4880 section 5.2.4) is 0x99 || u16 len || primary key body, 0xB4 ||
 * u32 len || user ID, the signature's hashed part (section 5.2.3: version,
 * type, pubkey and hash algorithms, u16 length, hashed subpackets) and the
 * trailer 0x04 0xFF || u32 length of that hashed part. */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "common/err.h"
#include "entry/pgp.h"
#include "entry/pgp_internal.h"

/* get_mpi reads an MPI (section 3.2): u16 bit count, then the bytes. */
static int get_mpi(struct cbs *c, struct cbs *out)
{
	uint16_t bits;
	return cbs_get_u16(c, &bits) && bits > 0 && cbs_get_bytes(c, out, ((size_t)bits + 7) / 8);
}

/* mpi_pad copies |m| right-aligned into |out| (|len| bytes); 0 if too long. */
static int mpi_pad(uint8_t *out, size_t len, const struct cbs *m)
{
	struct cbs c = *m;
	while (cbs_len(&c) && cbs_data(&c)[0] == 0)
		if (!cbs_skip(&c, 1))
			return 0;
	if (cbs_len(&c) > len)
		return 0;
	memset(out, 0, len - cbs_len(&c));
	memcpy(out + len - cbs_len(&c), cbs_data(&c), cbs_len(&c));
	return 1;
}

static const uint8_t kOidEd25519[] = {0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x0f, 0x01};
static const uint8_t kOidP256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const uint8_t kOidP384[] = {0x2b, 0x81, 0x04, 0x00, 0x22};
static const uint8_t kOidP521[] = {0x2b, 0x81, 0x04, 0x00, 0x23};

/* rev_pkey builds the certifier's public key from its v4 key packet body
 * (section 5.5.2; RFC 6637 section 9 for ECDSA; EdDSA as GnuPG and RNP write
 * it). Sets |*out_algo|; returns NULL for anything unsupported. */
static EVP_PKEY *rev_pkey(const struct cbs *key_body, uint8_t *out_algo)
{
	struct cbs c = *key_body, oid, a, b;
	uint8_t ver, algo;
	uint32_t created;
	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	BIGNUM *n = NULL, *e = NULL;

	if (!cbs_get_u8(&c, &ver) || ver != 4 || !cbs_get_u32(&c, &created) ||
	    !cbs_get_u8(&c, &algo))
		return NULL;
	*out_algo = algo;
	if (algo == 22) { /* EdDSA: Ed25519 only, point 0x40 || 32 bytes */
		if (!cbs_get_u8_length_prefixed(&c, &oid) ||
		    !cbs_mem_equal(&oid, kOidEd25519, sizeof(kOidEd25519)) ||
		    !get_mpi(&c, &a) || cbs_len(&c) != 0 || cbs_len(&a) != 33 ||
		    cbs_data(&a)[0] != 0x40)
			return NULL;
		return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, cbs_data(&a) + 1, 32);
	}
	if (!(bld = OSSL_PARAM_BLD_new()))
		return NULL;
	if (algo == 19) { /* ECDSA: uncompressed point on a NIST curve */
		const char *group = NULL;
		if (!cbs_get_u8_length_prefixed(&c, &oid) || !get_mpi(&c, &a) ||
		    cbs_len(&c) != 0 || cbs_len(&a) < 1 || cbs_data(&a)[0] != 0x04)
			goto done;
		if (cbs_mem_equal(&oid, kOidP256, sizeof(kOidP256)))
			group = "P-256";
		else if (cbs_mem_equal(&oid, kOidP384, sizeof(kOidP384)))
			group = "P-384";
		else if (cbs_mem_equal(&oid, kOidP521, sizeof(kOidP521)))
			group = "P-521";
		if (!group ||
		    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
		    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, cbs_data(&a),
						      cbs_len(&a)))
			goto done;
		pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	} else if (algo == 1 || algo == 3) { /* RSA: n, e */
		if (!get_mpi(&c, &a) || !get_mpi(&c, &b) || cbs_len(&c) != 0 ||
		    !(n = BN_bin2bn(cbs_data(&a), (int)cbs_len(&a), NULL)) ||
		    !(e = BN_bin2bn(cbs_data(&b), (int)cbs_len(&b), NULL)) ||
		    BN_num_bits(n) < 2048 || BN_num_bits(n) > 16384 ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
			goto done;
		pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	} else {
		goto done;
	}
	if (!pctx || !(params = OSSL_PARAM_BLD_to_param(bld)) ||
	    EVP_PKEY_fromdata_init(pctx) <= 0 ||
	    EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pkey = NULL;
done:
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(pctx);
	BN_free(n);
	BN_free(e);
	return pkey;
}

/* rev_verify_value checks the signature value |c| (the MPIs after left16) of
 * public-key algorithm |algo| over |digest| with |pkey|. Returns 1 if valid. */
static int rev_verify_value(EVP_PKEY *pkey, uint8_t algo, const EVP_MD *md,
			    const uint8_t *digest, size_t dlen, struct cbs c)
{
	struct cbs r, s;
	uint8_t *sig = NULL;
	size_t sig_len = 0;
	int ok = 0;

	if (algo == 22) {
		uint8_t rs[64];
		EVP_MD_CTX *mctx = EVP_MD_CTX_new();
		ok = mctx && get_mpi(&c, &r) && get_mpi(&c, &s) && cbs_len(&c) == 0 &&
		     mpi_pad(rs, 32, &r) && mpi_pad(rs + 32, 32, &s) &&
		     EVP_DigestVerifyInit_ex(mctx, NULL, NULL, NULL, NULL, pkey, NULL) == 1 &&
		     EVP_DigestVerify(mctx, rs, 64, digest, dlen) == 1;
		EVP_MD_CTX_free(mctx);
		return ok;
	}
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (!pctx || EVP_PKEY_verify_init(pctx) <= 0)
		goto done;
	if (algo == 19) {
		ECDSA_SIG *es = NULL;
		BIGNUM *br = NULL, *bs = NULL;
		unsigned char *der = NULL;
		int der_len;
		if (!get_mpi(&c, &r) || !get_mpi(&c, &s) || cbs_len(&c) != 0 ||
		    !(es = ECDSA_SIG_new()) ||
		    !(br = BN_bin2bn(cbs_data(&r), (int)cbs_len(&r), NULL)) ||
		    !(bs = BN_bin2bn(cbs_data(&s), (int)cbs_len(&s), NULL)) ||
		    !ECDSA_SIG_set0(es, br, bs)) {
			BN_free(br);
			BN_free(bs);
			ECDSA_SIG_free(es);
			goto done;
		}
		der_len = i2d_ECDSA_SIG(es, &der);
		ECDSA_SIG_free(es);
		ok = der_len > 0 &&
		     EVP_PKEY_verify(pctx, der, (size_t)der_len, digest, dlen) == 1;
		OPENSSL_free(der);
	} else {
		sig_len = (size_t)EVP_PKEY_get_size(pkey);
		ok = get_mpi(&c, &r) && cbs_len(&c) == 0 && sig_len > 0 &&
		     (sig = malloc(sig_len)) && mpi_pad(sig, sig_len, &r) &&
		     EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0 &&
		     EVP_PKEY_CTX_set_signature_md(pctx, md) > 0 &&
		     EVP_PKEY_verify(pctx, sig, sig_len, digest, dlen) == 1;
	}
done:
	free(sig);
	EVP_PKEY_CTX_free(pctx);
	return ok;
}

/* pgp__verify_revocation judges the certifier's 0x30 |sig| (a v4 signature
 * packet body) over |user_id| on the key |key_body|, like eval_sig
 * (pgp_sigs.c) judges what RNP verifies: same reasons, same time rules. */
int pgp__verify_revocation(struct pgp__check *ck, const struct cbs *sig,
			   const struct cbs *key_body, const uint8_t *user_id,
			   size_t user_id_len, uint32_t *out_created)
{
	const struct pgp__role *ro = &pgp__certifier_role;
	struct cbs c = *sig, hashed, unhashed, left, prefix, ckey, body, sp;
	uint8_t ver, type, pkalg, halg, algo = 0, tag;
	uint8_t digest[EVP_MAX_MD_SIZE], hdr[5], trailer[6];
	unsigned dlen = 0;
	uint32_t created = 0, expires = 0;
	int have_created = 0, issuer_ok = 0, issuer_bad = 0, ok;
	const EVP_MD *md;
	EVP_MD_CTX *mctx;
	EVP_PKEY *pkey;
	struct cbs areas[2];

	if (!cbs_get_u8(&c, &ver) || ver != 4 || !cbs_get_u8(&c, &type) || type != 0x30 ||
	    !cbs_get_u8(&c, &pkalg) || !cbs_get_u8(&c, &halg) ||
	    !cbs_get_u16_length_prefixed(&c, &hashed))
		return pgp__fail(ck, MN_EBADCERT, "only version 4 signatures are accepted");
	cbs_init(&prefix, cbs_data(sig), cbs_len(sig) - cbs_len(&c));
	if (!cbs_get_u16_length_prefixed(&c, &unhashed) || !cbs_get_bytes(&c, &left, 2))
		return pgp__fail(ck, MN_EBADSIG, ro->bad);
	switch (halg) { /* RFC 4880 section 9.4 */
	case 8: md = EVP_sha256(); break;
	case 9: md = EVP_sha384(); break;
	case 10: md = EVP_sha512(); break;
	case 1: case 2: case 3:
		return pgp__fail(ck, MN_EBADCERT, ro->weak);
	default:
		return pgp__fail(ck, MN_EBADCERT, "certifier signature uses an unsupported hash");
	}

	/* Subpackets (section 5.2.3.1): creation time and expiry only count when
	 * hashed; the issuer may be in either area. */
	areas[0] = hashed;
	areas[1] = unhashed;
	for (int h = 0; h < 2; h++) {
		struct cbs a = areas[h];
		while (cbs_len(&a)) {
			uint8_t l0, l1;
			uint32_t len;
			if (!cbs_get_u8(&a, &l0))
				return pgp__fail(ck, MN_EBADSIG, ro->bad);
			if (l0 < 192) {
				len = l0;
			} else if (l0 < 255) {
				if (!cbs_get_u8(&a, &l1))
					return pgp__fail(ck, MN_EBADSIG, ro->bad);
				len = ((uint32_t)(l0 - 192) << 8) + l1 + 192;
			} else if (!cbs_get_u32(&a, &len)) {
				return pgp__fail(ck, MN_EBADSIG, ro->bad);
			}
			if (len == 0 || !cbs_get_bytes(&a, &sp, len) || !cbs_get_u8(&sp, &tag))
				return pgp__fail(ck, MN_EBADSIG, ro->bad);
			uint8_t t = tag & 0x7f;
			if (h == 0 && t == 2) {
				if (have_created || !cbs_get_u32(&sp, &created) || cbs_len(&sp))
					return pgp__fail(ck, MN_EBADSIG, ro->bad);
				have_created = 1;
			} else if (h == 0 && t == 3) {
				if (!cbs_get_u32(&sp, &expires) || cbs_len(&sp))
					return pgp__fail(ck, MN_EBADSIG, ro->bad);
			} else if (t == 33) {
				if (cbs_len(&sp) == 1 + V4_FPR_LEN && cbs_data(&sp)[0] == 4 &&
				    ck->ct->fpr_len == V4_FPR_LEN &&
				    !memcmp(cbs_data(&sp) + 1, ck->ct->fpr, V4_FPR_LEN))
					issuer_ok = 1;
				else
					issuer_bad = 1;
			} else if (t == 16) {
				if (cbs_len(&sp) == 8 && ck->ct->fpr_len >= 8 &&
				    !memcmp(cbs_data(&sp), ck->ct->fpr + ck->ct->fpr_len - 8, 8))
					issuer_ok = 1;
				else
					issuer_bad = 1;
			} else if (h == 0 && (tag & 0x80) && t != 4 && t != 29) {
				/* an unknown critical subpacket makes it invalid */
				return pgp__fail(ck, MN_EBADCERT,
						 "certifier signature has an unknown critical subpacket");
			}
		}
	}
	if (!issuer_ok || issuer_bad)
		return pgp__fail(ck, MN_EBADSIG, ro->bad);
	if (!have_created)
		return pgp__fail(ck, MN_EBADSIG, ro->bad);
	if ((uint64_t)created > ck->now + PGP_MAX_SKEW_S)
		return pgp__fail(ck, MN_EBADCERT, ro->future);
	if (created < ck->key_created || created < ck->cert_key_created)
		return pgp__fail(ck, MN_EBADCERT, ro->older);
	if (expires && (uint64_t)created + expires <= ck->now)
		return pgp__fail(ck, MN_EBADCERT, ro->expired);

	/* The certifier's primary key: the first packet of its configured key. */
	cbs_init(&ckey, ck->ct->key, ck->ct->key_len);
	if (!pgp_packet_get(&ckey, &tag, &body, NULL) || tag != 6 ||
	    !(pkey = rev_pkey(&body, &algo)))
		return pgp__fail(ck, MN_EBADCERT, "certifier key algorithm is not supported for revocations");
	if (algo != pkalg) {
		EVP_PKEY_free(pkey);
		return pgp__fail(ck, MN_EBADSIG, ro->bad);
	}

	if (cbs_len(key_body) > 0xffff || user_id_len > UINT32_MAX) {
		EVP_PKEY_free(pkey);
		return pgp__fail(ck, MN_EBADCERT, "only version 4 keys are accepted");
	}
	hdr[0] = 0x99;
	hdr[1] = (uint8_t)(cbs_len(key_body) >> 8);
	hdr[2] = (uint8_t)cbs_len(key_body);
	uint8_t uhdr[5] = {0xb4, (uint8_t)(user_id_len >> 24), (uint8_t)(user_id_len >> 16),
			   (uint8_t)(user_id_len >> 8), (uint8_t)user_id_len};
	size_t pl = cbs_len(&prefix);
	trailer[0] = 4;
	trailer[1] = 0xff;
	trailer[2] = (uint8_t)(pl >> 24);
	trailer[3] = (uint8_t)(pl >> 16);
	trailer[4] = (uint8_t)(pl >> 8);
	trailer[5] = (uint8_t)pl;
	mctx = EVP_MD_CTX_new();
	ok = mctx && EVP_DigestInit_ex(mctx, md, NULL) &&
	     EVP_DigestUpdate(mctx, hdr, 3) &&
	     EVP_DigestUpdate(mctx, cbs_data(key_body), cbs_len(key_body)) &&
	     EVP_DigestUpdate(mctx, uhdr, 5) &&
	     EVP_DigestUpdate(mctx, user_id, user_id_len) &&
	     EVP_DigestUpdate(mctx, cbs_data(&prefix), pl) &&
	     EVP_DigestUpdate(mctx, trailer, 6) &&
	     EVP_DigestFinal_ex(mctx, digest, &dlen);
	EVP_MD_CTX_free(mctx);
	if (!ok) {
		EVP_PKEY_free(pkey);
		return pgp__fail(ck, MN_ENOMEM, "out of memory");
	}
	ok = !memcmp(cbs_data(&left), digest, 2) &&
	     rev_verify_value(pkey, algo, md, digest, dlen, c);
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	if (!ok)
		return pgp__fail(ck, MN_EBADSIG, ro->bad);
	*out_created = created;
	return 0;
}
