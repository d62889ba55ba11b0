/* add_pgp.c: mnctl add-pgp, the metanotary endorsement submission (POST
 * /mn/v1/add-pgp, entry type 0x8001), verified like add-chain: the SCT must be
 * the log's signature (RFC 6962 section 3.2) over the entry the log says it
 * logged, and that entry must be what was submitted.
 *
 * An endorsement's leaf body holds a random salt the client never sees, so the
 * entry is fetched back with an exact-address lookup (proven against a
 * verified STH), and must name the submitted key and certifier, open to the
 * submitted user ID, and be what the SCT signs. add-policy is in add_policy.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "client/mnctl.h"
#include "common/b64.h"
#include "common/bytes.h"
#include "common/clock.h"
#include "entry/pgp.h"

#define MAX_KEY_FILE (4u << 20)

/* --- ASCII armor (RFC 4880 section 6) -------------------------------------- */

uint32_t mnctl_crc24(const uint8_t *p, size_t len)
{
	uint32_t crc = 0xB704CEu;

	for (size_t i = 0; i < len; i++) {
		crc ^= (uint32_t)p[i] << 16;
		for (int b = 0; b < 8; b++) {
			crc <<= 1;
			if (crc & 0x1000000u)
				crc ^= 0x1864CFBu;
		}
	}
	return crc & 0xFFFFFFu;
}

/* dearmor decodes the first "-----BEGIN PGP PUBLIC KEY BLOCK-----" of |in|:
 * the armor headers end at the first empty line, the base64 at the "=" CRC
 * line or the END line; the CRC, if present, must match. Returns MNCTL_OK
 * with *out malloc'd, or MNCTL_ELOCAL (printed). */
static int dearmor(const char *path, const uint8_t *in, size_t in_len, uint8_t **out,
		   size_t *out_len)
{
	static const char begin[] = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
	const char *s = (const char *)in, *end = s + in_len, *p, *line;
	char *b64 = NULL, crc_txt[8];
	size_t n = 0, crc_len = 0;
	uint8_t *crc = NULL;
	size_t crc_dec_len;
	int ret = MNCTL_ELOCAL;

	*out = NULL;
	p = memmem(s, in_len, begin, sizeof(begin) - 1);
	if (p == NULL)
		return mnctl_fail(MNCTL_ELOCAL, "%s: no PGP PUBLIC KEY BLOCK in the armor", path);
	b64 = malloc(in_len + 1);
	if (b64 == NULL)
		return mnctl_fail(MNCTL_ELOCAL, "out of memory");
	/* skip the BEGIN line and the armor headers up to the empty line */
	p = memchr(p, '\n', (size_t)(end - p));
	for (;;) {
		const char *nl;
		size_t l;
		if (p == NULL)
			goto bad;
		line = p + 1;
		nl = memchr(line, '\n', (size_t)(end - line));
		l = nl ? (size_t)(nl - line) : (size_t)(end - line);
		while (l > 0 && (line[l - 1] == '\r' || line[l - 1] == ' ' || line[l - 1] == '\t'))
			l--;
		p = nl;
		if (l == 0)
			break;
		if (memchr(line, ':', l) == NULL)
			goto bad;
	}
	for (;;) {
		const char *nl;
		size_t l;
		if (p == NULL)
			goto bad; /* no END line */
		line = p + 1;
		nl = memchr(line, '\n', (size_t)(end - line));
		l = nl ? (size_t)(nl - line) : (size_t)(end - line);
		while (l > 0 && (line[l - 1] == '\r' || line[l - 1] == ' ' || line[l - 1] == '\t'))
			l--;
		p = nl;
		if (l >= 5 && memcmp(line, "-----", 5) == 0)
			break;
		if (l > 0 && line[0] == '=') {
			if (l - 1 >= sizeof(crc_txt) || crc_len != 0)
				goto bad;
			memcpy(crc_txt, line + 1, l - 1);
			crc_len = l - 1;
			continue;
		}
		if (crc_len != 0)
			goto bad; /* data after the checksum */
		memcpy(b64 + n, line, l);
		n += l;
	}
	if (mn_b64_decode(out, out_len, b64, n, MAX_KEY_FILE) != 0 || *out_len == 0)
		goto bad;
	if (crc_len != 0) {
		uint32_t want;
		if (mn_b64_decode(&crc, &crc_dec_len, crc_txt, crc_len, 3) != 0 || crc_dec_len != 3)
			goto bad;
		want = (uint32_t)crc[0] << 16 | (uint32_t)crc[1] << 8 | crc[2];
		if (mnctl_crc24(*out, *out_len) != want) {
			ret = mnctl_fail(MNCTL_ELOCAL, "%s: armor checksum mismatch", path);
			goto out;
		}
	}
	ret = MNCTL_OK;
	goto out;
bad:
	ret = mnctl_fail(MNCTL_ELOCAL, "%s: malformed ASCII armor", path);
out:
	if (ret != MNCTL_OK) {
		free(*out);
		*out = NULL;
	}
	free(crc);
	free(b64);
	return ret;
}

/* v4_fingerprint: SHA-1 over 0x99, the two-byte length and the primary key
 * packet's body (RFC 4880 section 12.2), of the first packet of |cert|. */
static int v4_fingerprint(const uint8_t *cert, size_t len, uint8_t out[20])
{
	struct cbs cbs, body;
	uint8_t tag, hdr[3];
	EVP_MD_CTX *ctx;
	int ok;

	cbs_init(&cbs, cert, len);
	if (!pgp_packet_get(&cbs, &tag, &body, NULL) || tag != 6 || cbs_len(&body) < 1 ||
	    cbs_data(&body)[0] != 4 || cbs_len(&body) > 0xffff)
		return 0;
	hdr[0] = 0x99;
	hdr[1] = (uint8_t)(cbs_len(&body) >> 8);
	hdr[2] = (uint8_t)cbs_len(&body);
	ctx = EVP_MD_CTX_new();
	ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
	     EVP_DigestUpdate(ctx, hdr, 3) == 1 &&
	     EVP_DigestUpdate(ctx, cbs_data(&body), cbs_len(&body)) == 1 &&
	     EVP_DigestFinal_ex(ctx, out, NULL) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

static void upper_hex(char *out, const uint8_t *in, size_t len)
{
	static const char digits[] = "0123456789ABCDEF";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

/* --- add-pgp ---------------------------------------------------------------- */

struct pgp_find {
	struct mnctl *m;
	const struct ct_sct *sct;
	const uint8_t *fpr;      /* endorsed, 20 bytes */
	const uint8_t *signer;   /* certifier */
	size_t signer_len;
	const char *user_id;
	int candidates;          /* leaves of the SCT's time naming both keys */
	int found;
	uint64_t index;
	uint8_t leaf_hash[32];
	uint64_t tree_size;
	int opening_checked;
	int sig_type;
};

static int on_pgp_entry(void *ctx, const struct mnctl_found *f)
{
	struct pgp_find *p = ctx;
	struct ct_entry e;
	struct pgp_body b;
	struct pgp_opening op;
	size_t ul = strlen(p->user_id);

	if (p->found || !ct_parse_leaf(&e, f->leaf, f->leaf_len) ||
	    e.entry_type != MN_PGP_ENDORSEMENT_ENTRY || e.timestamp != p->sct->timestamp ||
	    pgp_body_parse(&b, e.body, e.body_len) != 0 ||
	    !cbs_mem_equal(&b.endorsed_fpr, p->fpr, 20) ||
	    !cbs_mem_equal(&b.certifier_fpr, p->signer, p->signer_len))
		return MNCTL_OK;
	p->candidates++;
	if (!ct_verify_sct(p->m->v, p->sct, &e))
		return MNCTL_OK;
	/* The SCT signs this leaf: it must also be for this user ID. */
	if (f->opening == NULL)
		return mnctl_fail(MNCTL_EVERIFY, "entry %" PRIu64 ": the log withholds the "
				  "user ID opening from an exact-address lookup", f->index);
	if (!pgp_opening_matches(&b, f->opening, f->opening_len) ||
	    pgp_opening_parse(&op, b.version, f->opening, f->opening_len) != 0)
		return mnctl_fail(MNCTL_EVERIFY, "entry %" PRIu64 ": the opening does not open "
				  "the leaf's user ID commitment", f->index);
	if (!cbs_mem_equal(&op.user_id, (const uint8_t *)p->user_id, ul))
		return mnctl_fail(MNCTL_EVERIFY, "entry %" PRIu64 ": the log endorsed another "
				  "user ID than the one submitted", f->index);
	p->found = 1;
	p->index = f->index;
	p->sig_type = b.sig_type;
	p->tree_size = f->sth->tree_size;
	memcpy(p->leaf_hash, f->leaf_hash, 32);
	return MNCTL_OK;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* user_id_address: the address in "Name <addr>" (the last <...>) or a bare
 * "addr", copied to |out|. */
static int user_id_address(char *out, size_t cap, const char *uid)
{
	const char *lt = strrchr(uid, '<'), *gt;
	size_t n;

	if (lt != NULL) {
		gt = strchr(lt, '>');
		if (gt == NULL)
			return 0;
		n = (size_t)(gt - lt - 1);
		lt++;
	} else {
		lt = uid;
		n = strlen(uid);
	}
	if (n == 0 || n >= cap || memchr(lt, '@', n) == NULL)
		return 0;
	memcpy(out, lt, n);
	out[n] = '\0';
	return 1;
}

int mnctl_cmd_add_pgp(struct mnctl *m, int argc, char **argv)
{
	const char *uid = mnctl_opts.user_id, *signer_arg = mnctl_opts.signer;
	uint8_t *file = NULL, *cert = NULL, fpr[20], signer[PGP_MAX_FPR_LEN];
	size_t file_len, cert_len = 0, signer_len = 0;
	char signer_hex[2 * PGP_MAX_FPR_LEN + 1], fpr_hex[41], addr[512], esc[1600];
	char query[1700], *req = NULL, *cert64 = NULL;
	struct mnctl_sct ms = {0};
	struct pgp_find pf;
	json_t *j = NULL, *o;
	uint64_t mmd_ms, deadline;
	unsigned delay = 200;
	int ret;

	if (argc != 1 || uid == NULL || signer_arg == NULL)
		return mnctl_fail(MNCTL_EUSAGE,
				  "add-pgp KEY.gpg --user-id 'Name <address>' --signer FPR");
	if (!user_id_address(addr, sizeof(addr), uid))
		return mnctl_fail(MNCTL_EUSAGE, "--user-id has no email address");
	/* the certifier's fingerprint: hex, spaces allowed */
	for (const char *s = signer_arg; *s != '\0'; s++) {
		if (*s == ' ')
			continue;
		if (mn_hex_digit(*s) < 0 || signer_len == 2 * PGP_MAX_FPR_LEN)
			return mnctl_fail(MNCTL_EUSAGE, "--signer is not a hex fingerprint");
		signer_hex[signer_len++] = (char)(*s >= 'a' ? *s - 32 : *s);
	}
	signer_hex[signer_len] = '\0';
	if (signer_len != 40 && signer_len != 64)
		return mnctl_fail(MNCTL_EUSAGE, "--signer wants 40 or 64 hex digits");
	for (size_t i = 0; i < signer_len / 2; i++)
		signer[i] = (uint8_t)(mn_hex_digit(signer_hex[2 * i]) << 4 | mn_hex_digit(signer_hex[2 * i + 1]));
	signer_len /= 2;

	ret = mnctl_load_key(m);
	if (ret != MNCTL_OK)
		return ret;
	ret = mnctl_read_file(argv[0], MAX_KEY_FILE, &file, &file_len);
	if (ret != MNCTL_OK)
		return ret;
	if (file_len > 0 && (file[0] & 0x80) == 0) {
		ret = dearmor(argv[0], file, file_len, &cert, &cert_len);
		if (ret != MNCTL_OK)
			goto out;
	} else {
		cert = file;
		cert_len = file_len;
		file = NULL;
	}
	if (!v4_fingerprint(cert, cert_len, fpr)) {
		ret = mnctl_fail(MNCTL_ELOCAL, "%s does not start with a version 4 public key "
				 "packet", argv[0]);
		goto out;
	}
	upper_hex(fpr_hex, fpr, 20);

	cert64 = malloc(mn_b64_encoded_len(cert_len) + 1);
	o = json_object();
	if (cert64 == NULL || o == NULL) {
		json_decref(o);
		ret = mnctl_fail(MNCTL_ELOCAL, "out of memory");
		goto out;
	}
	mn_b64_encode(cert64, cert, cert_len);
	json_object_set_new(o, "cert", json_string(cert64));
	json_object_set_new(o, "user_id", json_string(uid));
	json_object_set_new(o, "signer", json_string(signer_hex));
	req = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (req == NULL) {
		ret = mnctl_fail(MNCTL_EUSAGE, "--user-id is not valid UTF-8");
		goto out;
	}
	ret = mnctl_post(m, "/mn/v1/add-pgp", req, &j);
	if (ret == MNCTL_OK)
		ret = mnctl_sct_from_json(m, j, "/mn/v1/add-pgp", &ms);
	if (ret != MNCTL_OK)
		goto out;

	/* Find the leaf the SCT signs: exact-address lookup, PGP class. */
	if (!mnctl_url_escape(esc, sizeof(esc), addr)) {
		ret = mnctl_fail(MNCTL_EUSAGE, "address too long");
		goto out;
	}
	snprintf(query, sizeof(query), "email=%s&types=pgp&limit=100", esc);
	mmd_ms = mnctl_log_mmd(m) * 1000;
	deadline = mn_mono_ns() +
		   (uint64_t)(mnctl_opts.wait_timeout_s >= 0 ? mnctl_opts.wait_timeout_s
							     : (long)(mmd_ms / 1000) + 30) *
			   1000000000u;
	for (;;) {
		struct mnctl_sth sth;
		memset(&pf, 0, sizeof(pf));
		pf.m = m;
		pf.sct = &ms.sct;
		pf.fpr = fpr;
		pf.signer = signer;
		pf.signer_len = signer_len;
		pf.user_id = uid;
		ret = mnctl_lookup(m, query, on_pgp_entry, &pf, &sth);
		if (ret != MNCTL_OK)
			goto out;
		if (pf.found) {
			/* the lookup proved the entry at pf.index */
			ret = mnctl_sct_check_index(&ms, pf.index, "/mn/v1/add-pgp");
			if (ret != MNCTL_OK)
				goto out;
			break;
		}
		if (pf.candidates > 0) {
			ret = mnctl_fail(MNCTL_EVERIFY, "SCT signature does not verify over the "
					 "logged endorsement of %s by %s", fpr_hex, signer_hex);
			goto out;
		}
		/* Section 3: within the MMD of the SCT it must be in the tree. */
		if (sth.timestamp > ms.sct.timestamp + mmd_ms) {
			ret = mnctl_fail(MNCTL_EVERIFY, "the log signed a tree head more than the "
					 "MMD after the SCT without the endorsement (tree size %"
					 PRIu64 ")", sth.tree_size);
			goto out;
		}
		if (mn_mono_ns() >= deadline) {
			ret = mnctl_fail(MNCTL_ENET, "the endorsement did not appear in a lookup");
			goto out;
		}
		sleep_ms(delay);
		if (delay < 5000)
			delay *= 2;
	}
	if (m->json) {
		char hex[65];
		o = json_object();
		mnctl_hex(hex, pf.leaf_hash, 32);
		json_object_set_new(o, "timestamp", json_integer((json_int_t)ms.sct.timestamp));
		json_object_set_new(o, "leaf_index", json_integer((json_int_t)pf.index));
		json_object_set_new(o, "tree_size", json_integer((json_int_t)pf.tree_size));
		json_object_set_new(o, "leaf_hash", json_string(hex));
		json_object_set_new(o, "endorsed_fpr", json_string(fpr_hex));
		json_object_set_new(o, "certifier_fpr", json_string(signer_hex));
		json_object_set_new(o, "sig_type", json_integer(pf.sig_type));
		json_object_set_new(o, "signature_verified", json_true());
		mnctl_print_json(o);
	} else {
		char hex[65];
		mnctl_hex(hex, pf.leaf_hash, 32);
		printf("SCT timestamp %" PRIu64 ": signature verified over entry %" PRIu64
		       " (proven in the tree of size %" PRIu64 ")\nendorsed %s\ncertifier %s\n"
		       "leaf_hash %s\n", ms.sct.timestamp, pf.index, pf.tree_size, fpr_hex,
		       signer_hex, hex);
	}
	fflush(stdout);
	ret = MNCTL_OK;
	if (mnctl_opts.wait_inclusion) {
		uint64_t idx;
		ret = mnctl_wait_inclusion(m, pf.leaf_hash, ms.sct.timestamp, &idx);
		if (ret == MNCTL_OK && idx != pf.index)
			ret = mnctl_fail(MNCTL_EVERIFY, "the endorsement is proven at index %"
					 PRIu64 " but was looked up at %" PRIu64, idx, pf.index);
	}
out:
	mnctl_sct_cleanup(&ms);
	json_decref(j);
	free(req);
	free(cert64);
	free(cert);
	free(file);
	return ret;
}
