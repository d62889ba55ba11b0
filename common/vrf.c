/* vrf.c: ECVRF-P256-SHA256-TAI (RFC 9381 sections 5 and 5.5). Section numbers
 * below are RFC 9381's unless stated otherwise. */
#include "common/vrf.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>

#include "common/err.h"

#define SUITE 0x01 /* suite_string of ECVRF-P256-SHA256-TAI */
#define PT_LEN VRF_PUBLIC_LEN
#define C_LEN 16 /* cLen */
#define Q_LEN 32 /* qLen = fLen */

struct vrf_key {
	EC_GROUP *group;
	BIGNUM *x; /* the secret scalar, BN_FLG_CONSTTIME */
	uint8_t pk[PT_LEN];
};

struct part {
	const uint8_t *p;
	size_t len;
};

/* sha256 of the concatenation of |n| parts. */
static int sha256_parts(uint8_t out[32], const struct part *parts, size_t n)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL);

	for (size_t i = 0; ok && i < n; i++)
		ok = parts[i].len == 0 || EVP_DigestUpdate(md, parts[i].p, parts[i].len);
	ok = ok && EVP_DigestFinal_ex(md, out, NULL);
	EVP_MD_CTX_free(md);
	return ok ? 0 : MN_ECRYPTO;
}

static int point_to_string(const EC_GROUP *g, uint8_t out[PT_LEN], const EC_POINT *p, BN_CTX *ctx)
{
	/* The identity has a one-byte encoding and so fails the length check;
	 * honest computations never produce it. */
	return EC_POINT_point2oct(g, p, POINT_CONVERSION_COMPRESSED, out, PT_LEN, ctx) == PT_LEN;
}

/* string_to_point (section 5.5): only a compressed point with x < p on the
 * curve; OpenSSL's oct2point checks both. Returns 1 or 0. */
static int string_to_point(const EC_GROUP *g, EC_POINT *p, const uint8_t in[PT_LEN], BN_CTX *ctx)
{
	if (in[0] != 0x02 && in[0] != 0x03)
		return 0;
	if (EC_POINT_oct2point(g, p, in, PT_LEN, ctx) != 1) {
		ERR_clear_error();
		return 0;
	}
	return 1;
}

/* ECVRF_encode_to_curve_try_and_increment (section 5.4.1.1), with
 * encode_to_curve_salt = PK_string. Sets |h| and its string |h_str|. */
static int encode_to_curve(const EC_GROUP *g, EC_POINT *h, uint8_t h_str[PT_LEN],
			   const uint8_t pk[PT_LEN], const uint8_t *alpha, size_t alpha_len,
			   BN_CTX *ctx)
{
	static const uint8_t front[2] = { SUITE, 0x01 }, back = 0x00;

	/* Each try succeeds with probability about 1/2; 256 failures in a row
	 * do not happen. */
	for (unsigned ctr = 0; ctr < 256; ctr++) {
		uint8_t c = (uint8_t)ctr;
		struct part parts[] = {
			{ front, 2 }, { pk, PT_LEN }, { alpha, alpha_len }, { &c, 1 }, { &back, 1 },
		};
		int ret;

		h_str[0] = 0x02; /* interpret_hash_value_as_a_point: 0x02 || hash */
		ret = sha256_parts(h_str + 1, parts, 5);
		if (ret != 0)
			return ret;
		if (string_to_point(g, h, h_str, ctx))
			return 0; /* cofactor 1: no clearing */
	}
	return MN_ECRYPTO;
}

/* ECVRF_nonce_generation_RFC6979 (section 5.4.2.1): RFC 6979 section 3.2 with
 * SHA-256 and m = h_string; qlen = hlen = 256, so bits2int is a plain
 * big-endian read and one HMAC block makes a candidate. */
static int nonce(const EC_GROUP *g, BIGNUM *k, const BIGNUM *x, const uint8_t h_str[PT_LEN],
		 BN_CTX *ctx)
{
	const BIGNUM *q = EC_GROUP_get0_order(g);
	uint8_t K[32], V[32], buf[32 + 1 + 32 + 32], h1[32];
	struct part hp = { h_str, PT_LEN };
	BIGNUM *z = BN_CTX_get(ctx);
	int ret = MN_ECRYPTO;

	if (z == NULL)
		return MN_ENOMEM;
	ret = sha256_parts(h1, &hp, 1);
	if (ret != 0)
		return ret;
	ret = MN_ECRYPTO;
	/* bits2octets(h1) = int2octets(bits2int(h1) mod q) */
	if (BN_bin2bn(h1, 32, z) == NULL)
		goto out;
	if (BN_cmp(z, q) >= 0 && !BN_sub(z, z, q))
		goto out;
	if (BN_bn2binpad(z, h1, 32) != 32 || BN_bn2binpad(x, buf + 33, 32) != 32)
		goto out;
	memcpy(buf + 65, h1, 32);
	memset(V, 0x01, sizeof(V));
	memset(K, 0x00, sizeof(K));
	for (uint8_t step = 0x00; step <= 0x01; step++) {
		memcpy(buf, V, 32);
		buf[32] = step;
		if (HMAC(EVP_sha256(), K, 32, buf, sizeof(buf), K, NULL) == NULL ||
		    HMAC(EVP_sha256(), K, 32, V, 32, V, NULL) == NULL)
			goto out;
	}
	for (;;) {
		if (HMAC(EVP_sha256(), K, 32, V, 32, V, NULL) == NULL)
			goto out;
		if (BN_bin2bn(V, 32, k) == NULL)
			goto out;
		if (!BN_is_zero(k) && BN_cmp(k, q) < 0)
			break;
		memcpy(buf, V, 32);
		buf[32] = 0x00;
		if (HMAC(EVP_sha256(), K, 32, buf, 33, K, NULL) == NULL ||
		    HMAC(EVP_sha256(), K, 32, V, 32, V, NULL) == NULL)
			goto out;
	}
	ret = 0;
out:
	OPENSSL_cleanse(K, sizeof(K));
	OPENSSL_cleanse(V, sizeof(V));
	OPENSSL_cleanse(buf, sizeof(buf));
	return ret;
}

/* ECVRF_challenge_generation (section 5.4.3): the first cLen bytes of
 * SHA-256(suite || 0x02 || Y || H || Gamma || U || V || 0x00). */
static int challenge(uint8_t c[C_LEN], const uint8_t pk[PT_LEN], const uint8_t h[PT_LEN],
		     const uint8_t gamma[PT_LEN], const uint8_t u[PT_LEN], const uint8_t v[PT_LEN])
{
	static const uint8_t front[2] = { SUITE, 0x02 }, back = 0x00;
	struct part parts[] = {
		{ front, 2 }, { pk, PT_LEN }, { h, PT_LEN }, { gamma, PT_LEN },
		{ u, PT_LEN }, { v, PT_LEN }, { &back, 1 },
	};
	uint8_t d[32];
	int ret = sha256_parts(d, parts, 7);

	memcpy(c, d, C_LEN);
	return ret;
}

/* ECVRF_proof_to_hash's last step (section 5.2), cofactor 1. */
static int gamma_to_hash(uint8_t beta[VRF_OUTPUT_LEN], const uint8_t gamma[PT_LEN])
{
	static const uint8_t front[2] = { SUITE, 0x03 }, back = 0x00;
	struct part parts[] = { { front, 2 }, { gamma, PT_LEN }, { &back, 1 } };

	return sha256_parts(beta, parts, 3);
}

static int no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return -1; /* never prompt: an encrypted key is malformed here */
}

int vrf_key_from_pem(struct vrf_key **out, const uint8_t *pem, size_t len)
{
	struct vrf_key *k = NULL;
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;
	EC_POINT *y = NULL;
	BN_CTX *ctx = NULL;
	char name[32];
	int ret = MN_EMALFORMED;

	*out = NULL;
	if (len > INT_MAX)
		return MN_EMALFORMED;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL)
		return MN_ENOMEM;
	pkey = PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL);
	if (pkey == NULL || !EVP_PKEY_is_a(pkey, "EC") ||
	    !EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name),
					    NULL) ||
	    strcmp(name, "prime256v1") != 0)
		goto out;
	ret = MN_ENOMEM;
	k = calloc(1, sizeof(*k));
	ctx = BN_CTX_new();
	if (k == NULL || ctx == NULL)
		goto out;
	k->group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	if (k->group == NULL)
		goto out;
	ret = MN_EMALFORMED;
	if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &k->x))
		goto out;
	BN_set_flags(k->x, BN_FLG_CONSTTIME);
	if (BN_is_zero(k->x) || BN_cmp(k->x, EC_GROUP_get0_order(k->group)) >= 0)
		goto out;
	ret = MN_ECRYPTO;
	y = EC_POINT_new(k->group);
	if (y == NULL || !EC_POINT_mul(k->group, y, k->x, NULL, NULL, ctx) ||
	    !point_to_string(k->group, k->pk, y, ctx))
		goto out;
	*out = k;
	k = NULL;
	ret = 0;
out:
	ERR_clear_error();
	vrf_key_free(k);
	EC_POINT_free(y);
	BN_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	return ret;
}

int vrf_key_generate_pem(uint8_t **out_pem, size_t *out_len)
{
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	BIO *bio = NULL;
	char *data = NULL;
	long n = 0;
	int ret = MN_ECRYPTO;

	*out_pem = NULL;
	*out_len = 0;
	if (pkey == NULL)
		goto out;
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL || !PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL))
		goto out;
	n = BIO_get_mem_data(bio, &data);
	if (n <= 0)
		goto out;
	ret = MN_ENOMEM;
	*out_pem = malloc((size_t)n);
	if (*out_pem == NULL)
		goto out;
	memcpy(*out_pem, data, (size_t)n);
	*out_len = (size_t)n;
	ret = 0;
out:
	ERR_clear_error();
	/* The memory BIO held the secret in the clear. */
	if (n > 0)
		OPENSSL_cleanse(data, (size_t)n);
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	return ret;
}

void vrf_key_free(struct vrf_key *k)
{
	if (k == NULL)
		return;
	BN_clear_free(k->x);
	EC_GROUP_free(k->group);
	free(k);
}

void vrf_public(const struct vrf_key *k, uint8_t out[VRF_PUBLIC_LEN])
{
	memcpy(out, k->pk, PT_LEN);
}

/* prove_or_hash: ECVRF_prove (section 5.1) when |proof| is set; otherwise
 * only Gamma = x*H and beta. */
static int prove_or_hash(const struct vrf_key *k, uint8_t *proof, uint8_t *beta,
			 const uint8_t *alpha, size_t alpha_len)
{
	const EC_GROUP *g = k->group;
	const BIGNUM *q = EC_GROUP_get0_order(g);
	BN_CTX *ctx = BN_CTX_new();
	EC_POINT *h = NULL, *gamma = NULL, *u = NULL, *v = NULL;
	BIGNUM *kn, *c, *s;
	uint8_t h_str[PT_LEN], g_str[PT_LEN], u_str[PT_LEN], v_str[PT_LEN], c_str[C_LEN];
	int ret = MN_ENOMEM;

	if (ctx == NULL)
		return MN_ENOMEM;
	BN_CTX_start(ctx);
	kn = BN_CTX_get(ctx);
	c = BN_CTX_get(ctx);
	s = BN_CTX_get(ctx);
	h = EC_POINT_new(g);
	gamma = EC_POINT_new(g);
	u = EC_POINT_new(g);
	v = EC_POINT_new(g);
	if (s == NULL || h == NULL || gamma == NULL || u == NULL || v == NULL)
		goto out;
	BN_set_flags(kn, BN_FLG_CONSTTIME);
	ret = encode_to_curve(g, h, h_str, k->pk, alpha, alpha_len, ctx);
	if (ret != 0)
		goto out;
	ret = MN_ECRYPTO;
	if (!EC_POINT_mul(g, gamma, NULL, h, k->x, ctx) || !point_to_string(g, g_str, gamma, ctx))
		goto out;
	if (beta != NULL) {
		ret = gamma_to_hash(beta, g_str);
		goto out;
	}
	ret = nonce(g, kn, k->x, h_str, ctx);
	if (ret != 0)
		goto out;
	ret = MN_ECRYPTO;
	if (!EC_POINT_mul(g, u, kn, NULL, NULL, ctx) || !EC_POINT_mul(g, v, NULL, h, kn, ctx) ||
	    !point_to_string(g, u_str, u, ctx) || !point_to_string(g, v_str, v, ctx))
		goto out;
	ret = challenge(c_str, k->pk, h_str, g_str, u_str, v_str);
	if (ret != 0)
		goto out;
	ret = MN_ECRYPTO;
	/* s = (k + c*x) mod q */
	if (BN_bin2bn(c_str, C_LEN, c) == NULL || !BN_mod_mul(s, c, k->x, q, ctx) ||
	    !BN_mod_add(s, s, kn, q, ctx))
		goto out;
	memcpy(proof, g_str, PT_LEN);
	memcpy(proof + PT_LEN, c_str, C_LEN);
	if (BN_bn2binpad(s, proof + PT_LEN + C_LEN, Q_LEN) != Q_LEN)
		goto out;
	ret = 0;
out:
	ERR_clear_error();
	if (kn != NULL)
		BN_clear(kn);
	EC_POINT_free(h);
	EC_POINT_clear_free(gamma);
	EC_POINT_clear_free(u);
	EC_POINT_clear_free(v);
	BN_CTX_end(ctx);
	BN_CTX_free(ctx);
	return ret;
}

int vrf_prove(const struct vrf_key *k, uint8_t proof[VRF_PROOF_LEN], const uint8_t *alpha,
	      size_t alpha_len)
{
	return prove_or_hash(k, proof, NULL, alpha, alpha_len);
}

int vrf_hash(const struct vrf_key *k, uint8_t beta[VRF_OUTPUT_LEN], const uint8_t *alpha,
	     size_t alpha_len)
{
	return prove_or_hash(k, NULL, beta, alpha, alpha_len);
}

/* ECVRF_decode_proof (section 5.4.4): Gamma a point, c, and s < q. */
static int decode_proof(const EC_GROUP *g, EC_POINT *gamma, BIGNUM *c, BIGNUM *s,
			const uint8_t proof[VRF_PROOF_LEN], BN_CTX *ctx)
{
	return string_to_point(g, gamma, proof, ctx) &&
	       BN_bin2bn(proof + PT_LEN, C_LEN, c) != NULL &&
	       BN_bin2bn(proof + PT_LEN + C_LEN, Q_LEN, s) != NULL &&
	       BN_cmp(s, EC_GROUP_get0_order(g)) < 0;
}

int vrf_proof_to_hash(uint8_t beta[VRF_OUTPUT_LEN], const uint8_t proof[VRF_PROOF_LEN])
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	BN_CTX *ctx = BN_CTX_new();
	EC_POINT *gamma = NULL;
	BIGNUM *c, *s;
	int ret = MN_ENOMEM;

	if (g == NULL || ctx == NULL)
		goto out;
	BN_CTX_start(ctx);
	c = BN_CTX_get(ctx);
	s = BN_CTX_get(ctx);
	gamma = EC_POINT_new(g);
	if (s != NULL && gamma != NULL) {
		ret = decode_proof(g, gamma, c, s, proof, ctx) ? gamma_to_hash(beta, proof)
							       : MN_EMALFORMED;
	}
	BN_CTX_end(ctx);
out:
	EC_POINT_free(gamma);
	BN_CTX_free(ctx);
	EC_GROUP_free(g);
	return ret;
}

/* r = a*P - b*Q, with a*P computed as a*B when |p| is NULL. */
static int mul_sub(const EC_GROUP *g, EC_POINT *r, const BIGNUM *a, const EC_POINT *p,
		   const BIGNUM *b, const EC_POINT *q, BN_CTX *ctx)
{
	EC_POINT *t = EC_POINT_new(g);
	int ok = t != NULL &&
		 (p == NULL ? EC_POINT_mul(g, r, a, NULL, NULL, ctx)
			    : EC_POINT_mul(g, r, NULL, p, a, ctx)) &&
		 EC_POINT_mul(g, t, NULL, q, b, ctx) && EC_POINT_invert(g, t, ctx) &&
		 EC_POINT_add(g, r, r, t, ctx);

	EC_POINT_free(t);
	return ok;
}

int vrf_verify(uint8_t beta[VRF_OUTPUT_LEN], const uint8_t pub[VRF_PUBLIC_LEN],
	       const uint8_t proof[VRF_PROOF_LEN], const uint8_t *alpha, size_t alpha_len)
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	BN_CTX *ctx = BN_CTX_new();
	EC_POINT *y = NULL, *gamma = NULL, *h = NULL, *u = NULL, *v = NULL;
	BIGNUM *c = NULL, *s = NULL;
	uint8_t h_str[PT_LEN], u_str[PT_LEN], v_str[PT_LEN], c_str[C_LEN];
	int valid = 0;

	if (g == NULL || ctx == NULL)
		goto out;
	BN_CTX_start(ctx);
	c = BN_CTX_get(ctx);
	s = BN_CTX_get(ctx);
	y = EC_POINT_new(g);
	gamma = EC_POINT_new(g);
	h = EC_POINT_new(g);
	u = EC_POINT_new(g);
	v = EC_POINT_new(g);
	if (s == NULL || y == NULL || gamma == NULL || h == NULL || u == NULL || v == NULL)
		goto end;
	/* ECVRF_validate_key (section 5.4.5): Y decodes; a 33-byte string is
	 * never the identity, and cofactor 1 leaves no small-order points. */
	if (!string_to_point(g, y, pub, ctx) || !decode_proof(g, gamma, c, s, proof, ctx))
		goto end;
	if (encode_to_curve(g, h, h_str, pub, alpha, alpha_len, ctx) != 0)
		goto end;
	/* U = s*B - c*Y, V = s*H - c*Gamma */
	if (!mul_sub(g, u, s, NULL, c, y, ctx) || !mul_sub(g, v, s, h, c, gamma, ctx) ||
	    !point_to_string(g, u_str, u, ctx) || !point_to_string(g, v_str, v, ctx))
		goto end;
	if (challenge(c_str, pub, h_str, proof, u_str, v_str) != 0)
		goto end;
	if (CRYPTO_memcmp(c_str, proof + PT_LEN, C_LEN) != 0)
		goto end;
	valid = gamma_to_hash(beta, proof) == 0;
end:
	BN_CTX_end(ctx);
out:
	ERR_clear_error();
	EC_POINT_free(y);
	EC_POINT_free(gamma);
	EC_POINT_free(h);
	EC_POINT_free(u);
	EC_POINT_free(v);
	BN_CTX_free(ctx);
	EC_GROUP_free(g);
	return valid;
}
