/* pgp.c: OpenPGP endorsements checked with RNP (see pgp.h for the rules and the
 * body format).
 *
 * RNP does all OpenPGP parsing and signature verification except for a
 * certifier's certification revocation (0x30), which RNP 0.16 checks against
 * the wrong key and verify_revocation checks with OpenSSL. The pgp*.c files
 * otherwise only frame packets (RFC 4880 section 4.2 headers, to reject truncation and secret
 * key packets before RNP sees them, and to split what RNP exports) and reads
 * the fixed leading fields of a v4 signature (section 5.2.3) to replace its
 * unhashed subpacket area. Which exported packet is which relies on RNP writing
 * a key as: key packet, its signatures in rnp_key_get_signature_at order, then
 * each user ID (rnp_key_get_uid_handle_at order) followed by its signatures in
 * rnp_uid_get_signature_at order, then each subkey (rnp_key_get_subkey_at
 * order) with its signatures (pgp_key_t::write / write_xfer in RNP 0.16); the
 * tags, counts and signature types are cross-checked, and any mismatch is
 * MN_EINTERNAL rather than a wrong leaf. */
#include "entry/pgp.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <rnp/rnp.h>
#include <rnp/rnp_err.h>

#include "common/err.h"
#include "entry/ct.h"
#include "entry/pgp_internal.h"

static const uint8_t kDedupLabel[] = "mn-dedup-pgp2"; /* + its NUL: 14 bytes */

/* --- domains ---------------------------------------------------------------*/

/* uid_address finds the email address of a user ID, "Name <local@domain>"
 * (the last '<', and the '>' must end the user ID) or a bare "local@domain",
 * and writes its normalized domain (pgp__domain_normalize) to |out_domain|
 * and the whole address as names_email_normalize writes it to |out_addr|
 * (*out_addr_len bytes, NUL-terminated). Returns 1 or 0. */
static int uid_address(char out_domain[256], char out_addr[NAMES_MAX_EMAIL_LEN + 1],
		       size_t *out_addr_len, const uint8_t *uid, size_t len)
{
	const uint8_t *addr = uid;
	size_t addr_len = len, at;
	int n;

	for (size_t i = len; i > 0; i--) {
		if (uid[i - 1] == '<') {
			if (len < i + 1 || uid[len - 1] != '>')
				return 0;
			addr = uid + i;
			addr_len = len - i - 1;
			break;
		}
	}
	for (at = addr_len; at > 0 && addr[at - 1] != '@'; at--)
		;
	if (at < 2) /* no '@', or an empty local part */
		return 0;
	for (size_t i = 0; i < addr_len; i++)
		if (addr[i] <= ' ' || addr[i] == '<' || addr[i] == '>' || addr[i] >= 0x7f)
			return 0;
	if (!pgp__domain_normalize(out_domain, addr + at, addr_len - at))
		return 0;
	n = names_email_normalize(out_addr, NAMES_MAX_EMAIL_LEN + 1, (const char *)addr,
				  addr_len, 0);
	if (n <= 0)
		return 0;
	*out_addr_len = (size_t)n;
	return 1;
}

static int domain_in_scope(const char *domain, const char *scope)
{
	size_t dl = strlen(domain), sl = strlen(scope);
	if (dl == sl)
		return strcmp(domain, scope) == 0;
	return dl > sl && domain[dl - sl - 1] == '.' && strcmp(domain + dl - sl, scope) == 0;
}

/* --- checking ---------------------------------------------------------------*/

void pgp_result_cleanup(struct pgp_result *r)
{
	if (!r)
		return;
	free(r->body);
	if (r->opening)
		OPENSSL_cleanse(r->opening, r->opening_len);
	free(r->opening);
	memset(r, 0, sizeof(*r));
}

/* Signature type codes of RFC 4880 section 5.2.1 from RNP's names. */
static int sig_type_code(const char *name)
{
	static const struct {
		const char *name;
		int code;
	} map[] = {
		{"certification (generic)", 0x10},  {"certification (persona)", 0x11},
		{"certification (casual)", 0x12},   {"certification (positive)", 0x13},
		{"subkey binding", 0x18},           {"certification revocation", 0x30},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(name, map[i].name))
			return map[i].code;
	return -1;
}

static int hash_is_weak(const char *name)
{
	return !strcasecmp(name, "MD5") || !strcasecmp(name, "SHA1") ||
	       !strcasecmp(name, "RIPEMD160");
}

/* The state of one check; everything RNP-owned is released in check_free. */
struct check {
	rnp_ffi_t ffi;
	rnp_key_handle_t key, cert_key;
	uint32_t key_created, cert_key_created;
	char key_hex[2 * V4_FPR_LEN + 1];
	const struct certifier *ct;
	uint64_t now;
	const char *reason;
};

static int fail(struct check *ck, int code, const char *reason)
{
	ck->reason = reason;
	return code;
}

/* sig_issuer_is returns 1 if |sig| names |fpr_hex| as its issuer, by Issuer
 * Fingerprint or else by key ID (verification later proves it). */
static int sig_issuer_is(rnp_signature_handle_t sig, const char *fpr_hex)
{
	char *s = NULL;
	int r = 0;
	if (rnp_signature_get_key_fprint(sig, &s) == RNP_SUCCESS && s) {
		r = !strcasecmp(s, fpr_hex);
	} else {
		rnp_buffer_destroy(s);
		s = NULL;
		size_t l = strlen(fpr_hex);
		if (l >= 16 && rnp_signature_get_keyid(sig, &s) == RNP_SUCCESS && s)
			r = !strcasecmp(s, fpr_hex + l - 16);
	}
	rnp_buffer_destroy(s);
	return r;
}

/* Reasons for one role (self-signature, certifier signature, binding). */
struct role {
	const char *weak, *future, *older, *expired, *bad;
};

static const struct role kSelf = {
	"self-signature over the user ID uses a weak hash (MD5, SHA-1 or RIPEMD-160)",
	"self-signature is created in the future",
	"self-signature is older than the key",
	"self-signature has expired",
	"self-signature over the user ID does not verify",
};
static const struct role kCertifier = {
	"certifier signature uses a weak hash (MD5, SHA-1 or RIPEMD-160)",
	"certifier signature is created in the future",
	"certifier signature is older than the key or the certifier key",
	"certifier signature has expired",
	"certifier signature does not verify",
};

/* eval_sig judges one candidate signature made by |signer_hex| (whose key was
 * created at |signer_created|) over a key created at |target_created|. Returns
 * 0 if usable (|*out_created| set), else a negative code with the reason. */
static int eval_sig(struct check *ck, rnp_signature_handle_t sig, const struct role *ro,
		    const char *signer_hex, uint32_t signer_created,
		    uint32_t target_created, uint32_t *out_created)
{
	char *hash = NULL;
	uint32_t created = 0;
	rnp_key_handle_t signer = NULL;
	char *sfpr = NULL;
	rnp_result_t r;
	int weak, rv;

	if (rnp_signature_get_hash_alg(sig, &hash) != RNP_SUCCESS || !hash)
		return fail(ck, MN_EINTERNAL, "cannot read a signature's hash algorithm");
	weak = hash_is_weak(hash);
	rnp_buffer_destroy(hash);
	if (weak)
		return fail(ck, MN_EBADCERT, ro->weak);
	if (rnp_signature_get_creation(sig, &created) != RNP_SUCCESS)
		return fail(ck, MN_EINTERNAL, "cannot read a signature's creation time");
	if ((uint64_t)created > ck->now + PGP_MAX_SKEW_S)
		return fail(ck, MN_EBADCERT, ro->future);
	if (created < target_created || created < signer_created)
		return fail(ck, MN_EBADCERT, ro->older);
	r = rnp_signature_is_valid(sig, 0);
	if (r == RNP_ERROR_SIGNATURE_EXPIRED)
		return fail(ck, MN_EBADCERT, ro->expired);
	if (r != RNP_SUCCESS)
		return fail(ck, MN_EBADSIG, ro->bad);
	/* The key that verified it must be the one named, not a key ID twin. */
	if (rnp_signature_get_signer(sig, &signer) != RNP_SUCCESS || !signer ||
	    rnp_key_get_fprint(signer, &sfpr) != RNP_SUCCESS || !sfpr ||
	    strcasecmp(sfpr, signer_hex))
		rv = fail(ck, MN_EBADSIG, ro->bad);
	else
		rv = 0;
	rnp_buffer_destroy(sfpr);
	rnp_key_handle_destroy(signer);
	*out_created = created;
	return rv;
}

/* --- certification revocations, verified here ---------------------------
 *
 * RNP 0.16 checks every 0x30 on a user ID against the key's own primary key,
 * so a certifier's revocation is verified with OpenSSL instead. The hash input
 * (RFC 4880 section 5.2.4) is 0x99 || u16 len || primary key body, 0xB4 ||
 * u32 len || user ID, the signature's hashed part (section 5.2.3: version,
 * type, pubkey and hash algorithms, u16 length, hashed subpackets) and the
 * trailer 0x04 0xFF || u32 length of that hashed part. */

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

/* verify_revocation judges the certifier's 0x30 |sig| (a v4 signature packet
 * body) over |user_id| on the key |key_body|, like eval_sig judges what RNP
 * verifies: same reasons, same time rules. */
static int verify_revocation(struct check *ck, const struct cbs *sig,
			     const struct cbs *key_body, const uint8_t *user_id,
			     size_t user_id_len, uint32_t *out_created)
{
	const struct role *ro = &kCertifier;
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
		return fail(ck, MN_EBADCERT, "only version 4 signatures are accepted");
	cbs_init(&prefix, cbs_data(sig), cbs_len(sig) - cbs_len(&c));
	if (!cbs_get_u16_length_prefixed(&c, &unhashed) || !cbs_get_bytes(&c, &left, 2))
		return fail(ck, MN_EBADSIG, ro->bad);
	switch (halg) { /* RFC 4880 section 9.4 */
	case 8: md = EVP_sha256(); break;
	case 9: md = EVP_sha384(); break;
	case 10: md = EVP_sha512(); break;
	case 1: case 2: case 3:
		return fail(ck, MN_EBADCERT, ro->weak);
	default:
		return fail(ck, MN_EBADCERT, "certifier signature uses an unsupported hash");
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
				return fail(ck, MN_EBADSIG, ro->bad);
			if (l0 < 192) {
				len = l0;
			} else if (l0 < 255) {
				if (!cbs_get_u8(&a, &l1))
					return fail(ck, MN_EBADSIG, ro->bad);
				len = ((uint32_t)(l0 - 192) << 8) + l1 + 192;
			} else if (!cbs_get_u32(&a, &len)) {
				return fail(ck, MN_EBADSIG, ro->bad);
			}
			if (len == 0 || !cbs_get_bytes(&a, &sp, len) || !cbs_get_u8(&sp, &tag))
				return fail(ck, MN_EBADSIG, ro->bad);
			uint8_t t = tag & 0x7f;
			if (h == 0 && t == 2) {
				if (have_created || !cbs_get_u32(&sp, &created) || cbs_len(&sp))
					return fail(ck, MN_EBADSIG, ro->bad);
				have_created = 1;
			} else if (h == 0 && t == 3) {
				if (!cbs_get_u32(&sp, &expires) || cbs_len(&sp))
					return fail(ck, MN_EBADSIG, ro->bad);
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
				return fail(ck, MN_EBADCERT,
					    "certifier signature has an unknown critical subpacket");
			}
		}
	}
	if (!issuer_ok || issuer_bad)
		return fail(ck, MN_EBADSIG, ro->bad);
	if (!have_created)
		return fail(ck, MN_EBADSIG, ro->bad);
	if ((uint64_t)created > ck->now + PGP_MAX_SKEW_S)
		return fail(ck, MN_EBADCERT, ro->future);
	if (created < ck->key_created || created < ck->cert_key_created)
		return fail(ck, MN_EBADCERT, ro->older);
	if (expires && (uint64_t)created + expires <= ck->now)
		return fail(ck, MN_EBADCERT, ro->expired);

	/* The certifier's primary key: the first packet of its configured key. */
	cbs_init(&ckey, ck->ct->key, ck->ct->key_len);
	if (!pgp_packet_get(&ckey, &tag, &body, NULL) || tag != 6 ||
	    !(pkey = rev_pkey(&body, &algo)))
		return fail(ck, MN_EBADCERT, "certifier key algorithm is not supported for revocations");
	if (algo != pkalg) {
		EVP_PKEY_free(pkey);
		return fail(ck, MN_EBADSIG, ro->bad);
	}

	if (cbs_len(key_body) > 0xffff || user_id_len > UINT32_MAX) {
		EVP_PKEY_free(pkey);
		return fail(ck, MN_EBADCERT, "only version 4 keys are accepted");
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
		return fail(ck, MN_ENOMEM, "out of memory");
	}
	ok = !memcmp(cbs_data(&left), digest, 2) &&
	     rev_verify_value(pkey, algo, md, digest, dlen, c);
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	if (!ok)
		return fail(ck, MN_EBADSIG, ro->bad);
	*out_created = created;
	return 0;
}

struct pick {
	int found;
	size_t idx;
	uint32_t created;
	int type;
	int err;
	const char *reason;
};

/* find_uid_sigs positions |out| at the first signature packet of user ID
 * |uid_idx| in RNP's export |exp| of the key (see the top of this file). */
static int find_uid_sigs(struct check *ck, const uint8_t *exp, size_t exp_len,
			 size_t uid_idx, struct cbs *out)
{
	struct cbs c, body;
	uint8_t tag;
	size_t n = 0, nuids = 0;

	cbs_init(&c, exp, exp_len);
	if (!pgp_packet_get(&c, &tag, &body, NULL) || tag != 6 ||
	    rnp_key_get_signature_count(ck->key, &n) != RNP_SUCCESS ||
	    rnp_key_get_uid_count(ck->key, &nuids) != RNP_SUCCESS || uid_idx >= nuids)
		goto bad;
	for (size_t i = 0; i < n; i++)
		if (!pgp_packet_get(&c, &tag, &body, NULL) || tag != 2)
			goto bad;
	for (size_t u = 0; u <= uid_idx; u++) {
		rnp_uid_handle_t uid = NULL;
		if (!pgp_packet_get(&c, &tag, &body, NULL) || (tag != 13 && tag != 17))
			goto bad;
		if (u == uid_idx)
			break;
		if (rnp_key_get_uid_handle_at(ck->key, u, &uid) != RNP_SUCCESS || !uid)
			goto bad;
		int ok = rnp_uid_get_signature_count(uid, &n) == RNP_SUCCESS;
		rnp_uid_handle_destroy(uid);
		if (!ok)
			goto bad;
		for (size_t i = 0; i < n; i++)
			if (!pgp_packet_get(&c, &tag, &body, NULL) || tag != 2)
				goto bad;
	}
	*out = c;
	return 0;
bad:
	return fail(ck, MN_EINTERNAL, "RNP's key export does not match its key handles");
}

/* pick_uid_sigs chooses the self-signature and the certifier signature among
 * the signatures over |uid| (user ID |user_id| on the key |key_body|); |sigs|
 * is RNP's export positioned at that user ID's first signature. RNP verifies
 * everything except the certifier's revocations (verify_revocation). */
static int pick_uid_sigs(struct check *ck, rnp_uid_handle_t uid, struct cbs sigs,
			 const struct cbs *key_body, const uint8_t *user_id,
			 size_t user_id_len, struct pick *self, struct pick *cert)
{
	size_t n = 0;
	if (rnp_uid_get_signature_count(uid, &n) != RNP_SUCCESS)
		return fail(ck, MN_EINTERNAL, "cannot count user ID signatures");
	for (size_t i = 0; i < n; i++) {
		rnp_signature_handle_t sig = NULL;
		char *tname = NULL;
		int type;
		if (rnp_uid_get_signature_at(uid, i, &sig) != RNP_SUCCESS || !sig)
			return fail(ck, MN_EINTERNAL, "cannot read a user ID signature");
		if (rnp_signature_get_type(sig, &tname) != RNP_SUCCESS || !tname) {
			rnp_signature_handle_destroy(sig);
			return fail(ck, MN_EINTERNAL, "cannot read a signature type");
		}
		type = sig_type_code(tname);
		rnp_buffer_destroy(tname);

		struct pick *p = NULL;
		const struct role *ro = NULL;
		const char *signer_hex = NULL;
		uint32_t signer_created = 0;
		if (type >= 0x10 && type <= 0x13 && sig_issuer_is(sig, ck->key_hex)) {
			p = self;
			ro = &kSelf;
			signer_hex = ck->key_hex;
			signer_created = ck->key_created;
		} else if (((type >= 0x10 && type <= 0x13) || type == 0x30) &&
			   sig_issuer_is(sig, ck->ct->fpr_hex)) {
			p = cert;
			ro = &kCertifier;
			signer_hex = ck->ct->fpr_hex;
			signer_created = ck->cert_key_created;
		}
		struct cbs raw;
		uint8_t rtag;
		if (!pgp_packet_get(&sigs, &rtag, &raw, NULL) || rtag != 2 ||
		    cbs_len(&raw) < 2 ||
		    (type >= 0 && cbs_data(&raw)[0] == 4 && cbs_data(&raw)[1] != type)) {
			rnp_signature_handle_destroy(sig);
			return fail(ck, MN_EINTERNAL,
				    "RNP's key export does not match its key handles");
		}
		if (p) {
			uint32_t created = 0;
			/* RNP 0.16 checks every 0x30 on a user ID against the key's
			 * own primary key (pgp_key_t::is_uid_revocation ignores the
			 * issuer), so the certifier's revocation is verified here. */
			int rv = p == cert && type == 0x30
					 ? verify_revocation(ck, &raw, key_body, user_id,
							     user_id_len, &created)
					 : eval_sig(ck, sig, ro, signer_hex, signer_created,
						    ck->key_created, &created);
			if (rv == MN_EINTERNAL || rv == MN_ENOMEM) {
				rnp_signature_handle_destroy(sig);
				return rv;
			}
			if (rv < 0) {
				if (!p->err) {
					p->err = rv;
					p->reason = ck->reason;
				}
			} else if (!p->found || created > p->created ||
				   (p == cert && created == p->created && type == 0x30 &&
				    p->type != 0x30)) {
				p->found = 1;
				p->idx = i;
				p->created = created;
				p->type = type;
			}
		}
		rnp_signature_handle_destroy(sig);
	}
	return 0;
}

struct sub_pick {
	size_t sub_idx;    /* rnp_key_get_subkey_at index */
	size_t sig_idx;    /* binding: rnp_key_get_signature_at index on the subkey */
	uint8_t fpr[V4_FPR_LEN];
	struct cbs key;    /* exported subkey packet body */
	struct cbs binding; /* exported binding signature body */
};

/* pick_subkeys selects the encryption subkeys worth keeping (see pgp.h). */
static int pick_subkeys(struct check *ck, struct sub_pick *out, size_t *out_num)
{
	size_t n = 0, num = 0;
	static const struct role kBinding = {"", "", "", "", ""};

	if (rnp_key_get_subkey_count(ck->key, &n) != RNP_SUCCESS)
		return fail(ck, MN_EINTERNAL, "cannot count subkeys");
	for (size_t j = 0; j < n; j++) {
		rnp_key_handle_t sub = NULL;
		bool enc = false, revoked = true;
		uint32_t created = 0, expiration = 0;
		size_t m = 0;
		int found = 0;
		size_t best = 0;
		uint32_t best_created = 0;

		if (rnp_key_get_subkey_at(ck->key, j, &sub) != RNP_SUCCESS || !sub)
			return fail(ck, MN_EINTERNAL, "cannot read a subkey");
		if (rnp_key_allows_usage(sub, "encrypt", &enc) != RNP_SUCCESS || !enc ||
		    rnp_key_is_revoked(sub, &revoked) != RNP_SUCCESS || revoked ||
		    rnp_key_get_creation(sub, &created) != RNP_SUCCESS ||
		    (uint64_t)created > ck->now + PGP_MAX_SKEW_S || created < ck->key_created ||
		    rnp_key_get_expiration(sub, &expiration) != RNP_SUCCESS ||
		    (expiration && (uint64_t)created + expiration <= ck->now) ||
		    rnp_key_get_signature_count(sub, &m) != RNP_SUCCESS) {
			rnp_key_handle_destroy(sub);
			continue;
		}
		for (size_t i = 0; i < m; i++) {
			rnp_signature_handle_t sig = NULL;
			char *tname = NULL;
			uint32_t sc = 0;
			int type = -1;
			if (rnp_key_get_signature_at(sub, i, &sig) != RNP_SUCCESS || !sig)
				continue;
			if (rnp_signature_get_type(sig, &tname) == RNP_SUCCESS && tname)
				type = sig_type_code(tname);
			rnp_buffer_destroy(tname);
			if (type == 0x18 && sig_issuer_is(sig, ck->key_hex) &&
			    eval_sig(ck, sig, &kBinding, ck->key_hex, ck->key_created,
				     created, &sc) == 0 &&
			    (!found || sc > best_created)) {
				found = 1;
				best = i;
				best_created = sc;
			}
			rnp_signature_handle_destroy(sig);
		}
		rnp_key_handle_destroy(sub);
		if (!found)
			continue;
		if (num == PGP_MAX_SUBKEYS)
			return fail(ck, MN_ETOOBIG, "too many encryption subkeys");
		out[num].sub_idx = j;
		out[num].sig_idx = best;
		num++;
	}
	ck->reason = NULL;
	*out_num = num;
	return 0;
}

static int cmp_sub(const void *a, const void *b)
{
	return memcmp(((const struct sub_pick *)a)->fpr, ((const struct sub_pick *)b)->fpr,
		      V4_FPR_LEN);
}

/* split_export walks RNP's export of the endorsed key and picks the packets
 * chosen by handle index (see the top of this file). */
static int split_export(struct check *ck, const uint8_t *exp, size_t exp_len,
			size_t uid_idx, size_t self_idx, size_t cert_idx,
			int self_type, int cert_type, struct cbs *out_key,
			struct cbs *out_self, struct cbs *out_cert,
			struct sub_pick *subs, size_t num_subs)
{
	struct cbs c, body;
	uint8_t tag;
	size_t n = 0, nuids = 0, nsubs = 0, k = 0;
	int have_self = 0, have_cert = 0;

	cbs_init(&c, exp, exp_len);
	if (!pgp_packet_get(&c, &tag, out_key, NULL) || tag != 6 ||
	    rnp_key_get_signature_count(ck->key, &n) != RNP_SUCCESS)
		goto bad;
	for (size_t i = 0; i < n; i++)
		if (!pgp_packet_get(&c, &tag, &body, NULL) || tag != 2)
			goto bad;
	if (rnp_key_get_uid_count(ck->key, &nuids) != RNP_SUCCESS)
		goto bad;
	for (size_t u = 0; u < nuids; u++) {
		rnp_uid_handle_t uid = NULL;
		if (!pgp_packet_get(&c, &tag, &body, NULL) || (tag != 13 && tag != 17) ||
		    rnp_key_get_uid_handle_at(ck->key, u, &uid) != RNP_SUCCESS || !uid)
			goto bad;
		int ok = rnp_uid_get_signature_count(uid, &n) == RNP_SUCCESS;
		rnp_uid_handle_destroy(uid);
		if (!ok)
			goto bad;
		for (size_t i = 0; i < n; i++) {
			if (!pgp_packet_get(&c, &tag, &body, NULL) || tag != 2)
				goto bad;
			if (u == uid_idx && i == self_idx) {
				*out_self = body;
				have_self = 1;
			} else if (u == uid_idx && i == cert_idx) {
				*out_cert = body;
				have_cert = 1;
			}
		}
	}
	if (rnp_key_get_subkey_count(ck->key, &nsubs) != RNP_SUCCESS)
		goto bad;
	for (size_t j = 0; j < nsubs; j++) {
		rnp_key_handle_t sub = NULL;
		struct sub_pick *sp = (k < num_subs && subs[k].sub_idx == j) ? &subs[k++] : NULL;
		if (!pgp_packet_get(&c, &tag, &body, NULL) || tag != 14 ||
		    rnp_key_get_subkey_at(ck->key, j, &sub) != RNP_SUCCESS || !sub)
			goto bad;
		int ok = rnp_key_get_signature_count(sub, &n) == RNP_SUCCESS;
		rnp_key_handle_destroy(sub);
		if (!ok)
			goto bad;
		if (sp) {
			sp->key = body;
			if (!pgp__v4_fingerprint(sp->fpr, &body))
				goto bad;
		}
		for (size_t i = 0; i < n; i++) {
			if (!pgp_packet_get(&c, &tag, &body, NULL) || tag != 2)
				goto bad;
			if (sp && i == sp->sig_idx)
				sp->binding = body;
		}
		if (sp && (cbs_len(&sp->binding) < 2 || cbs_data(&sp->binding)[1] != 0x18))
			goto bad;
	}
	if (cbs_len(&c) != 0 || k != num_subs || !have_self || !have_cert ||
	    cbs_len(out_self) < 2 || cbs_data(out_self)[1] != self_type ||
	    cbs_len(out_cert) < 2 || cbs_data(out_cert)[1] != cert_type)
		goto bad;
	return 0;
bad:
	return fail(ck, MN_EINTERNAL, "RNP's key export does not match its key handles");
}

static void check_free(struct check *ck)
{
	rnp_key_handle_destroy(ck->key);
	rnp_key_handle_destroy(ck->cert_key);
	rnp_ffi_destroy(ck->ffi);
}

static int import_bytes(rnp_ffi_t ffi, const uint8_t *b, size_t len)
{
	rnp_input_t in = NULL;
	rnp_result_t r;
	if (rnp_input_from_memory(&in, b, len, false) != RNP_SUCCESS)
		return 0;
	r = rnp_import_keys(ffi, in, RNP_LOAD_SAVE_PUBLIC_KEYS, NULL);
	rnp_input_destroy(in);
	return r == RNP_SUCCESS;
}

/* build_body writes the canonical packets, then the opening (salt, user ID,
 * both signatures), its commitment and the PgpEndorsementBodyV2 (pgp.h) into
 * |out|; |cert_prefix| gets the certifier signature's signed prefix for the
 * dedup key (borrowing from |cert|). */
static int build_body(struct check *ck, struct pgp_result *out, const uint8_t salt[PGP_SALT_LEN],
		      const uint8_t *user_id, size_t user_id_len, const struct cbs *key,
		      const struct cbs *self, const struct cbs *cert, struct sub_pick *subs,
		      size_t num_subs, struct cbs *cert_prefix)
{
	struct cbb kp, sp, cp, sl, f;
	struct cbs ignored, kpc, spc, cpc, slc;
	int ok, rv;

	/* four scratch builders, so that one cleanup path frees them all */
	ok = cbb_init(&kp, cbs_len(key) + 8, CT_MAX_BODY_LEN);
	ok = cbb_init(&sp, cbs_len(self) + 32, CT_MAX_BODY_LEN) && ok;
	ok = cbb_init(&cp, cbs_len(cert) + 32, CT_MAX_BODY_LEN) && ok;
	ok = cbb_init(&sl, 1024, CT_MAX_BODY_LEN) && ok;
	if (!ok) {
		rv = fail(ck, MN_ENOMEM, "out of memory");
		goto out;
	}
	ok = pgp_packet_add(&kp, 6, cbs_data(key), cbs_len(key)) &&
	     pgp__canonical_sig(&sp, &ignored, self, out->endorsed_fpr) &&
	     pgp__canonical_sig(&cp, cert_prefix, cert, out->certifier_fpr);
	for (size_t i = 0; ok && i < num_subs; i++)
		ok = cbb_add_u24_length_prefixed(&sl, &f) &&
		     pgp_packet_add(&f, 14, cbs_data(&subs[i].key), cbs_len(&subs[i].key)) &&
		     cbb_add_u24_length_prefixed(&sl, &f) &&
		     pgp__canonical_sig(&f, &ignored, &subs[i].binding, out->endorsed_fpr);
	ok = ok && cbb_flush(&sl);
	if (!ok) {
		rv = fail(ck, MN_ETOOBIG,
			  "endorsement does not fit a leaf, or a signature is not version 4");
		goto out;
	}
	cbs_init(&kpc, cbb_data(&kp), cbb_len(&kp));
	cbs_init(&spc, cbb_data(&sp), cbb_len(&sp));
	cbs_init(&cpc, cbb_data(&cp), cbb_len(&cp));
	cbs_init(&slc, cbb_data(&sl), cbb_len(&sl));
	rv = pgp__opening_v2_encode(&out->opening, &out->opening_len, salt, user_id, user_id_len,
				    &spc, &cpc);
	if (rv < 0) {
		fail(ck, rv, rv == MN_ENOMEM ? "out of memory" : "user ID and signatures are too large");
		goto out;
	}
	pgp_uid_commitment_v2(out->uid_commitment, out->opening, out->opening_len);
	rv = pgp__body_v2_encode(&out->body, &out->body_len, out, &kpc, &slc);
	if (rv < 0)
		fail(ck, rv, rv == MN_ENOMEM ? "out of memory" : "endorsement does not fit a leaf");
out:
	cbb_cleanup(&kp);
	cbb_cleanup(&sp);
	cbb_cleanup(&cp);
	cbb_cleanup(&sl);
	return rv;
}

static int dedup_key(struct pgp_result *out, const uint8_t *user_id,
		     size_t user_id_len, const struct cbs *prefix)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t l1 = (uint8_t)out->endorsed_fpr_len, l2 = (uint8_t)out->certifier_fpr_len;
	uint8_t ul[4] = {(uint8_t)(user_id_len >> 24), (uint8_t)(user_id_len >> 16),
			 (uint8_t)(user_id_len >> 8), (uint8_t)user_id_len};
	uint8_t pl[4] = {(uint8_t)(cbs_len(prefix) >> 24), (uint8_t)(cbs_len(prefix) >> 16),
			 (uint8_t)(cbs_len(prefix) >> 8), (uint8_t)cbs_len(prefix)};
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
		 EVP_DigestUpdate(ctx, kDedupLabel, sizeof(kDedupLabel)) &&
		 EVP_DigestUpdate(ctx, &l1, 1) &&
		 EVP_DigestUpdate(ctx, out->endorsed_fpr, l1) &&
		 EVP_DigestUpdate(ctx, &l2, 1) &&
		 EVP_DigestUpdate(ctx, out->certifier_fpr, l2) &&
		 EVP_DigestUpdate(ctx, ul, 4) &&
		 EVP_DigestUpdate(ctx, user_id, user_id_len) &&
		 EVP_DigestUpdate(ctx, pl, 4) &&
		 EVP_DigestUpdate(ctx, cbs_data(prefix), cbs_len(prefix)) &&
		 EVP_DigestFinal_ex(ctx, out->dedup_key, NULL);
	EVP_MD_CTX_free(ctx);
	return ok;
}

/* scan_input frames every packet of the submission before RNP sees it. */
static int scan_input(struct check *ck, const uint8_t *cert, size_t cert_len,
		      struct cbs *out_key_body)
{
	struct cbs c, body;
	uint8_t tag;
	size_t n = 0;

	cbs_init(&c, cert, cert_len);
	while (cbs_len(&c)) {
		if (!pgp_packet_get(&c, &tag, &body, NULL))
			return fail(ck, MN_EMALFORMED,
				    "cert is not binary OpenPGP, or a packet is truncated or has a partial length");
		if (++n > PGP_MAX_PACKETS)
			return fail(ck, MN_ETOOBIG, "cert has too many packets");
		if (tag == 5 || tag == 7)
			return fail(ck, MN_EMALFORMED, "cert contains secret key material");
		if (tag == 6) {
			if (n != 1)
				return fail(ck, MN_EMALFORMED,
					    "cert must hold exactly one primary key, first");
			*out_key_body = body;
		}
	}
	if (n == 0 || cbs_len(out_key_body) == 0)
		return fail(ck, MN_EMALFORMED, "cert must hold exactly one primary key, first");
	return 0;
}

static int check_keys(struct check *ck)
{
	bool b = false;
	uint32_t exp = 0;

	if (rnp_key_get_creation(ck->key, &ck->key_created) != RNP_SUCCESS ||
	    rnp_key_get_creation(ck->cert_key, &ck->cert_key_created) != RNP_SUCCESS)
		return fail(ck, MN_EINTERNAL, "cannot read key creation times");
	if ((uint64_t)ck->key_created > ck->now + PGP_MAX_SKEW_S)
		return fail(ck, MN_EBADCERT, "key is created in the future");
	if ((uint64_t)ck->cert_key_created > ck->now + PGP_MAX_SKEW_S)
		return fail(ck, MN_EBADCERT, "certifier key is created in the future");
	if (rnp_key_is_revoked(ck->cert_key, &b) != RNP_SUCCESS || b)
		return fail(ck, MN_EBADCERT, "certifier key is revoked");
	if (rnp_key_get_expiration(ck->cert_key, &exp) != RNP_SUCCESS ||
	    (exp && (uint64_t)ck->cert_key_created + exp <= ck->now))
		return fail(ck, MN_EBADCERT, "certifier key has expired");
	if (rnp_key_get_expiration(ck->key, &exp) != RNP_SUCCESS ||
	    (exp && (uint64_t)ck->key_created + exp <= ck->now))
		return fail(ck, MN_EBADCERT, "key has expired");
	return 0;
}

int pgp_endorsement_check(const struct pgp_certifiers *c, pgp_addr_key_fn addr_key,
			  void *addr_key_ctx, struct pgp_result *out,
			  const char **out_reason, const uint8_t *cert,
			  size_t cert_len, const uint8_t *user_id,
			  size_t user_id_len, const char *signer_hex,
			  size_t signer_hex_len, uint64_t now_s)
{
	struct check ck;
	struct cbs key_body, ex_key, ex_self, ex_cert, prefix, uid_sigs;
	uint8_t signer[PGP_MAX_FPR_LEN], salt[PGP_SALT_LEN];
	size_t signer_len, nuids = 0, uid_idx = 0, num_subs = 0;
	struct sub_pick subs[PGP_MAX_SUBKEYS];
	struct pick self, certp;
	rnp_uid_handle_t uid = NULL;
	uint8_t *exp = NULL;
	size_t exp_len = 0;
	int rv, found_uid = 0;

	memset(&ck, 0, sizeof(ck));
	cbs_init(&key_body, NULL, 0);
	memset(&self, 0, sizeof(self));
	memset(&certp, 0, sizeof(certp));
	memset(subs, 0, sizeof(subs));
	ck.now = now_s;
	if (out)
		memset(out, 0, sizeof(*out));
	if (out_reason)
		*out_reason = NULL;
	if (!c || !addr_key || !out || (!cert && cert_len) || (!user_id && user_id_len) ||
	    (!signer_hex && signer_hex_len)) {
		rv = fail(&ck, MN_EINVAL, "missing argument");
		goto done;
	}
	if (cert_len > PGP_MAX_CERT_LEN) {
		rv = fail(&ck, MN_ETOOBIG, "cert is too large");
		goto done;
	}

	/* The cheap checks first: signer, its term and scope, the address. */
	if (!(signer_len = pgp__hex_decode(signer, sizeof(signer), signer_hex, signer_hex_len))) {
		rv = fail(&ck, MN_EMALFORMED, "signer is not a hex fingerprint");
		goto done;
	}
	for (size_t i = 0; i < c->num; i++)
		if (c->v[i].fpr_len == signer_len && !memcmp(c->v[i].fpr, signer, signer_len))
			ck.ct = &c->v[i];
	if (!ck.ct) {
		rv = fail(&ck, MN_EBADCERT, "signer is not a configured certifier");
		goto done;
	}
	if (ck.ct->expires && now_s >= ck.ct->expires) {
		rv = fail(&ck, MN_EBADCERT, "certifier's configured term has expired");
		goto done;
	}
	if (user_id_len > 0xffff) {
		rv = fail(&ck, MN_ETOOBIG, "user ID is too long");
		goto done;
	}
	if (user_id_len == 0 ||
	    !uid_address(out->domain, out->address, &out->address_len, user_id, user_id_len)) {
		rv = fail(&ck, MN_EBADCERT, "user ID has no usable email address");
		goto done;
	}
	if (ck.ct->num_scopes) {
		int in = 0;
		for (size_t j = 0; j < ck.ct->num_scopes; j++)
			in |= domain_in_scope(out->domain, ck.ct->scopes[j]);
		if (!in) {
			rv = fail(&ck, MN_EBADCERT, "user ID's domain is outside the certifier's scope");
			goto done;
		}
	}
	if ((rv = scan_input(&ck, cert, cert_len, &key_body)) < 0)
		goto done;
	if (cbs_data(&key_body)[0] != 4 || cbs_len(&key_body) > 0xffff ||
	    !pgp__v4_fingerprint(out->endorsed_fpr, &key_body)) {
		rv = fail(&ck, MN_EBADCERT, "only version 4 keys are accepted");
		goto done;
	}
	out->endorsed_fpr_len = V4_FPR_LEN;
	pgp__hex_encode(ck.key_hex, out->endorsed_fpr, V4_FPR_LEN);
	if (ck.ct->fpr_len == V4_FPR_LEN && !memcmp(ck.ct->fpr, out->endorsed_fpr, V4_FPR_LEN)) {
		rv = fail(&ck, MN_EBADCERT, "a certifier cannot endorse its own key");
		goto done;
	}
	memcpy(out->certifier_fpr, ck.ct->fpr, ck.ct->fpr_len);
	out->certifier_fpr_len = ck.ct->fpr_len;

	/* RNP: the certifier's key (trusted, from the configuration), then the
	 * submission, judged at |now_s|. */
	if (rnp_ffi_create(&ck.ffi, "GPG", "GPG") != RNP_SUCCESS) {
		rv = fail(&ck, MN_ENOMEM, "cannot create an RNP context");
		goto done;
	}
	pgp__quiet_ffi(ck.ffi);
	/* RNP refuses signatures created after its "now"; tolerate the same skew
	 * as the checks here. RNP then judges signature expiry PGP_MAX_SKEW_S
	 * early, which errs on the safe side; key expiry is computed here. */
	if (rnp_set_timestamp(ck.ffi, now_s + PGP_MAX_SKEW_S) != RNP_SUCCESS) {
		rv = fail(&ck, MN_EINTERNAL, "cannot set RNP's time");
		goto done;
	}
	if (!import_bytes(ck.ffi, ck.ct->key, ck.ct->key_len)) {
		rv = fail(&ck, MN_EINTERNAL, "cannot import the certifier key");
		goto done;
	}
	if (!import_bytes(ck.ffi, cert, cert_len)) {
		rv = fail(&ck, MN_EMALFORMED, "cert does not parse as an OpenPGP public key");
		goto done;
	}
	if (rnp_locate_key(ck.ffi, "fingerprint", ck.key_hex, &ck.key) != RNP_SUCCESS ||
	    !ck.key || rnp_locate_key(ck.ffi, "fingerprint", ck.ct->fpr_hex, &ck.cert_key) !=
			       RNP_SUCCESS || !ck.cert_key) {
		rv = fail(&ck, MN_EMALFORMED, "cert does not parse as an OpenPGP public key");
		goto done;
	}
	if ((rv = check_keys(&ck)) < 0)
		goto done;

	/* The user ID, byte for byte. */
	if (rnp_key_get_uid_count(ck.key, &nuids) != RNP_SUCCESS) {
		rv = fail(&ck, MN_EINTERNAL, "cannot count user IDs");
		goto done;
	}
	for (size_t u = 0; u < nuids && !found_uid; u++) {
		rnp_uid_handle_t h = NULL;
		uint32_t type = 0;
		void *data = NULL;
		size_t len = 0;
		if (rnp_key_get_uid_handle_at(ck.key, u, &h) != RNP_SUCCESS || !h) {
			rv = fail(&ck, MN_EINTERNAL, "cannot read a user ID");
			goto done;
		}
		if (rnp_uid_get_type(h, &type) == RNP_SUCCESS && type == RNP_USER_ID &&
		    rnp_uid_get_data(h, &data, &len) == RNP_SUCCESS && len == user_id_len &&
		    !memcmp(data, user_id, len)) {
			found_uid = 1;
			uid_idx = u;
			uid = h;
		} else {
			rnp_uid_handle_destroy(h);
		}
		rnp_buffer_destroy(data);
	}
	if (!found_uid) {
		rv = fail(&ck, MN_EBADCERT, "user ID is not on the key");
		goto done;
	}
	if ((rv = pgp__export_key(ck.key, &exp, &exp_len)) < 0) {
		fail(&ck, rv, "cannot export the key");
		goto done;
	}
	if ((rv = find_uid_sigs(&ck, exp, exp_len, uid_idx, &uid_sigs)) < 0 ||
	    (rv = pick_uid_sigs(&ck, uid, uid_sigs, &key_body, user_id, user_id_len, &self,
				&certp)) < 0)
		goto done;
	if (!self.found) {
		rv = self.err ? fail(&ck, self.err, self.reason)
			      : fail(&ck, MN_EBADCERT, "key has no self-signature over the user ID");
		goto done;
	}
	if (!certp.found) {
		rv = certp.err ? fail(&ck, certp.err, certp.reason)
			       : fail(&ck, MN_EBADCERT, "signer made no certification of the user ID");
		goto done;
	}
	out->revocation = certp.type == 0x30;
	out->sig_type = (uint8_t)certp.type;
	out->sig_created_s = certp.created;
	if (!out->revocation) {
		bool b = false;
		if (rnp_key_is_revoked(ck.key, &b) != RNP_SUCCESS || b) {
			rv = fail(&ck, MN_EBADCERT, "key is revoked");
			goto done;
		}
		if (rnp_uid_is_revoked(uid, &b) != RNP_SUCCESS || b) {
			rv = fail(&ck, MN_EBADCERT, "user ID is revoked by its key");
			goto done;
		}
	}
	if ((rv = pick_subkeys(&ck, subs, &num_subs)) < 0)
		goto done;

	/* Split the export, canonicalize. */
	if ((rv = split_export(&ck, exp, exp_len, uid_idx, self.idx, certp.idx, self.type,
			       certp.type, &ex_key, &ex_self, &ex_cert, subs, num_subs)) < 0)
		goto done;
	if (cbs_len(&ex_self) < 1 || cbs_data(&ex_self)[0] != 4 || cbs_len(&ex_cert) < 1 ||
	    cbs_data(&ex_cert)[0] != 4) {
		rv = fail(&ck, MN_EBADCERT, "only version 4 signatures are accepted");
		goto done;
	}
	qsort(subs, num_subs, sizeof(subs[0]), cmp_sub);

	/* Everything is checked: now the address key (a VRF evaluation, the
	 * costliest step after RNP's) and the leaf. */
	rv = addr_key(addr_key_ctx, out->address_key, out->address, out->address_len);
	if (rv != 0) {
		rv = fail(&ck, rv < 0 ? rv : MN_EINTERNAL, "cannot compute the address key");
		goto done;
	}
	if (RAND_bytes(salt, sizeof(salt)) != 1) {
		rv = fail(&ck, MN_EINTERNAL, "no randomness for the salt");
		goto done;
	}
	if ((rv = build_body(&ck, out, salt, user_id, user_id_len, &ex_key, &ex_self, &ex_cert,
			     subs, num_subs, &prefix)) < 0)
		goto done;
	if (!dedup_key(out, user_id, user_id_len, &prefix)) {
		rv = fail(&ck, MN_ENOMEM, "out of memory");
		goto done;
	}
	rv = 0;
done:
	OPENSSL_cleanse(salt, sizeof(salt));
	free(exp);
	rnp_uid_handle_destroy(uid);
	check_free(&ck);
	if (rv < 0) {
		pgp_result_cleanup(out);
		if (out_reason)
			*out_reason = ck.reason ? ck.reason : mn_strerror(rv);
	}
	return rv;
}
