/* resolve_out.c: `mnctl resolve ADDRESS --smime-out DIR --pgp-out FILE`, the
 * verified answer in the forms a mail client imports: S/MIME certificates as
 * PEM files, endorsed OpenPGP keys as one ASCII-armored keyring (RFC 4880
 * section 6). mnctl_cmd_resolve has verified every entry's inclusion proof
 * before this runs; here each item must also name the address it is for, so
 * that a log cannot hand alice the key of mallory. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "client/mnctl.h"
#include "common/b64.h"
#include "entry/pgp.h"

#define OUT_MAX_LEAF (1u << 25)
#define OUT_MAX_OPENING 65536

/* cert_for checks that the x509_entry leaf's certificate is inside its
 * validity, may protect email, and has |addr| as an rfc822Name; returns the
 * certificate (X509_free it) or NULL. */
static X509 *cert_for(const uint8_t *leaf, size_t leaf_len, const char *addr)
{
	struct ct_entry e;
	const uint8_t *p;
	X509 *x;
	GENERAL_NAMES *gens;
	int ok = 0;

	if (!ct_parse_leaf(&e, leaf, leaf_len) || e.entry_type != CT_X509_ENTRY)
		return NULL;
	p = e.body;
	x = d2i_X509(NULL, &p, (long)e.body_len);
	if (x == NULL || p != e.body + e.body_len)
		goto out;
	if (X509_cmp_current_time(X509_get0_notBefore(x)) >= 0 ||
	    X509_cmp_current_time(X509_get0_notAfter(x)) <= 0 ||
	    !(X509_get_extended_key_usage(x) & XKU_SMIME))
		goto out;
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		if (g->type == GEN_EMAIL &&
		    (size_t)ASN1_STRING_length(g->d.rfc822Name) == strlen(addr) &&
		    strncasecmp((const char *)ASN1_STRING_get0_data(g->d.rfc822Name), addr,
				strlen(addr)) == 0)
			ok = 1;
	}
	GENERAL_NAMES_free(gens);
out:
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* uid_names: the user ID is ADDR or "... <ADDR>" (ASCII case-insensitive). */
static int uid_names(struct cbs uid, const char *addr)
{
	const char *u = (const char *)cbs_data(&uid);
	size_t n = cbs_len(&uid), al = strlen(addr);

	if (n == al)
		return strncasecmp(u, addr, al) == 0;
	return n >= al + 2 && u[n - 1] == '>' && u[n - al - 2] == '<' &&
	       strncasecmp(u + n - al - 1, addr, al) == 0;
}

/* tpk_for rebuilds the transferable public key of a PGP endorsement entry
 * whose opening verifies and names |addr|; 0 or MNCTL_EVERIFY. */
static int tpk_for(const json_t *e, uint64_t index, const char *addr, uint8_t **out,
		   size_t *out_len)
{
	uint8_t *leaf = NULL, *opening = NULL;
	size_t leaf_len, opening_len;
	struct ct_entry ce;
	struct pgp_body pb;
	struct pgp_opening op;
	int ret = MNCTL_EVERIFY;

	*out = NULL;
	if (!mnctl_json_b64(e, "leaf_input", &leaf, &leaf_len, OUT_MAX_LEAF) ||
	    !mnctl_json_b64(e, "opening", &opening, &opening_len, OUT_MAX_OPENING))
		goto out;
	if (ct_parse_leaf(&ce, leaf, leaf_len) && ce.entry_type == MN_PGP_ENDORSEMENT_ENTRY &&
	    pgp_body_parse(&pb, ce.body, ce.body_len) == 0 && pb.sig_type != 0x30 &&
	    pgp_opening_matches(&pb, opening, opening_len) &&
	    pgp_opening_parse(&op, pb.version, opening, opening_len) == 0 &&
	    uid_names(op.user_id, addr) &&
	    pgp_body_to_tpk(out, out_len, &pb, opening, opening_len) == 0)
		ret = MNCTL_OK;
out:
	if (ret != MNCTL_OK)
		mnctl_fail(MNCTL_EVERIFY, "entry %" PRIu64 ": not an endorsed key for %s", index,
			   addr);
	free(leaf);
	free(opening);
	return ret;
}

/* write_armor writes |data| as a PGP PUBLIC KEY BLOCK. */
static int write_armor(const char *path, const uint8_t *data, size_t len)
{
	size_t b64_len = mn_b64_encoded_len(len), o = 0;
	char *b64 = malloc(b64_len + 1), *text = malloc(b64_len + b64_len / 64 + 256);
	uint32_t crc = mnctl_crc24(data, len);
	uint8_t c[3] = {(uint8_t)(crc >> 16), (uint8_t)(crc >> 8), (uint8_t)crc};
	char cb[8];
	int ret;

	if (b64 == NULL || text == NULL) {
		free(b64);
		free(text);
		return mnctl_fail(MNCTL_ELOCAL, "out of memory");
	}
	mn_b64_encode(b64, data, len);
	o += (size_t)snprintf(text, 64, "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n");
	for (size_t i = 0; i < b64_len; i += 64) {
		size_t n = b64_len - i < 64 ? b64_len - i : 64;
		memcpy(text + o, b64 + i, n);
		o += n;
		text[o++] = '\n';
	}
	mn_b64_encode(cb, c, 3);
	o += (size_t)snprintf(text + o, 64, "=%s\n-----END PGP PUBLIC KEY BLOCK-----\n", cb);
	ret = mnctl_write_file_atomic(path, (const uint8_t *)text, o);
	free(b64);
	free(text);
	return ret;
}

int mnctl_resolve_write_out(const json_t *j, const char *addr, const char *smime_dir,
			    const char *pgp_file, size_t *out_num_smime, size_t *out_num_pgp)
{
	const json_t *e;
	size_t i;
	uint8_t *ring = NULL;
	size_t ring_len = 0;
	int ret = MNCTL_OK;

	*out_num_smime = *out_num_pgp = 0;
	if (smime_dir != NULL) {
		ret = mnctl_mkdirs(smime_dir);
		json_array_foreach(json_object_get(j, "smime"), i, e) {
			uint8_t *leaf = NULL;
			size_t leaf_len;
			uint64_t index = 0;
			X509 *x = NULL;
			char path[4200];
			BIO *bio;
			char *pem;
			long pem_len;

			if (ret != MNCTL_OK)
				break;
			if (!mnctl_json_u64(e, "leaf_index", &index) ||
			    !mnctl_json_b64(e, "leaf_input", &leaf, &leaf_len, OUT_MAX_LEAF) ||
			    (x = cert_for(leaf, leaf_len, addr)) == NULL) {
				free(leaf);
				ret = mnctl_fail(MNCTL_EVERIFY, "entry %" PRIu64 ": not a valid S/MIME "
						 "certificate for %s", index, addr);
				break;
			}
			free(leaf);
			bio = BIO_new(BIO_s_mem());
			if (bio == NULL || !PEM_write_bio_X509(bio, x)) {
				BIO_free(bio);
				X509_free(x);
				ret = mnctl_fail(MNCTL_ELOCAL, "out of memory");
				break;
			}
			pem_len = BIO_get_mem_data(bio, &pem);
			snprintf(path, sizeof(path), "%s/%s-%" PRIu64 ".pem", smime_dir, addr, index);
			ret = mnctl_write_file_atomic(path, (const uint8_t *)pem, (size_t)pem_len);
			BIO_free(bio);
			X509_free(x);
			if (ret == MNCTL_OK)
				(*out_num_smime)++;
		}
	}
	if (ret == MNCTL_OK && pgp_file != NULL) {
		json_array_foreach(json_object_get(j, "pgp"), i, e) {
			uint8_t *tpk, *p;
			size_t tpk_len;
			uint64_t index = 0;

			mnctl_json_u64(e, "leaf_index", &index);
			ret = tpk_for(e, index, addr, &tpk, &tpk_len);
			if (ret != MNCTL_OK)
				break;
			p = realloc(ring, ring_len + tpk_len);
			if (p == NULL) {
				free(tpk);
				ret = mnctl_fail(MNCTL_ELOCAL, "out of memory");
				break;
			}
			ring = p;
			memcpy(ring + ring_len, tpk, tpk_len);
			ring_len += tpk_len;
			free(tpk);
			(*out_num_pgp)++;
		}
		if (ret == MNCTL_OK)
			ret = write_armor(pgp_file, ring, ring_len);
	}
	free(ring);
	return ret;
}
