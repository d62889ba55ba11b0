/* pgp_certifiers.c: the configured OpenPGP certifiers (pgp.h), loaded with
 * RNP from a keyring and an optional policy file; and the RNP and hex helpers
 * the check shares. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rnp/rnp.h>
#include <rnp/rnp_err.h>

#include "common/bytes.h"
#include "common/err.h"
#include "entry/pgp.h"
#include "entry/pgp_internal.h"

#define MAX_FILE_LEN (64u << 20)

/* hex_decode decodes exactly |len| hex characters into |out| (cap |cap|).
 * Returns the byte count, or 0 on any bad character, odd length or overflow. */
size_t pgp__hex_decode(uint8_t *out, size_t cap, const char *hex, size_t len)
{
	if (len == 0 || len % 2 || len / 2 > cap)
		return 0;
	for (size_t i = 0; i < len / 2; i++) {
		int hi = mn_hex_digit(hex[2 * i]), lo = mn_hex_digit(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return 0;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return len / 2;
}

void pgp__hex_encode(char *out, const uint8_t *in, size_t len)
{
	static const char digits[] = "0123456789ABCDEF";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static int read_file(const char *path, uint8_t **out, size_t *out_len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;

	if (!f)
		return errno == ENOENT ? MN_ENOTFOUND : MN_EIO;
	for (;;) {
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			uint8_t *n;
			if (cap >= MAX_FILE_LEN) {
				free(buf);
				fclose(f);
				return MN_ETOOBIG;
			}
			n = realloc(buf, ncap);
			if (!n) {
				free(buf);
				fclose(f);
				return MN_ENOMEM;
			}
			buf = n;
			cap = ncap;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return MN_EIO;
	}
	fclose(f);
	*out = buf;
	*out_len = len;
	return 0;
}

/* domain_normalize checks an LDH domain name (labels of 1-63 letters, digits
 * and inner hyphens, at most 253 characters) and writes it lowercased and
 * NUL-terminated to |out| (256 bytes). Returns 1 or 0. */
int pgp__domain_normalize(char out[256], const uint8_t *d, size_t len)
{
	size_t label = 0;
	if (len == 0 || len > 253)
		return 0;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = d[i];
		if (c == '.') {
			if (label == 0 || d[i - 1] == '-')
				return 0;
			label = 0;
			out[i] = '.';
			continue;
		}
		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return 0;
		if (c == '-' && label == 0)
			return 0;
		if (++label > 63)
			return 0;
		out[i] = (char)c;
	}
	if (label == 0 || d[len - 1] == '-')
		return 0;
	out[len] = '\0';
	return 1;
}

void pgp_certifiers_free(struct pgp_certifiers *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->num; i++) {
		free(c->v[i].key);
		for (size_t j = 0; j < c->v[i].num_scopes; j++)
			free(c->v[i].scopes[j]);
		free(c->v[i].scopes);
	}
	free(c->v);
	free(c);
}

size_t pgp_certifiers_count(const struct pgp_certifiers *c)
{
	return c ? c->num : 0;
}

const char *pgp_certifiers_fpr_hex(const struct pgp_certifiers *c, size_t i)
{
	return c && i < c->num ? c->v[i].fpr_hex : NULL;
}

const uint8_t *pgp_certifiers_fpr(const struct pgp_certifiers *c, size_t i,
				  size_t *out_len)
{
	if (!c || i >= c->num) {
		*out_len = 0;
		return NULL;
	}
	*out_len = c->v[i].fpr_len;
	return c->v[i].fpr;
}

const uint8_t *pgp_certifiers_key(const struct pgp_certifiers *c, size_t i,
				  size_t *out_len)
{
	if (!c || i >= c->num) {
		*out_len = 0;
		return NULL;
	}
	*out_len = c->v[i].key_len;
	return c->v[i].key;
}

size_t pgp_certifiers_num_scopes(const struct pgp_certifiers *c, size_t i)
{
	return c && i < c->num ? c->v[i].num_scopes : 0;
}

const char *pgp_certifiers_scope(const struct pgp_certifiers *c, size_t i,
				 size_t j)
{
	if (!c || i >= c->num || j >= c->v[i].num_scopes)
		return NULL;
	return c->v[i].scopes[j];
}

uint64_t pgp_certifiers_expires(const struct pgp_certifiers *c, size_t i)
{
	return c && i < c->num ? c->v[i].expires : 0;
}

static int cmp_certifier(const void *a, const void *b)
{
	const struct certifier *x = a, *y = b;
	return strcmp(x->fpr_hex, y->fpr_hex);
}

/* export_key writes |key| (with subkeys, public parts only) to a malloc'd
 * buffer. Returns 0, MN_ENOMEM or MN_EINTERNAL. */
int pgp__export_key(rnp_key_handle_t key, uint8_t **out, size_t *out_len)
{
	rnp_output_t o = NULL;
	uint8_t *buf;
	size_t len;
	int rv = MN_EINTERNAL;

	if (rnp_output_to_memory(&o, 0) != RNP_SUCCESS)
		return MN_EINTERNAL;
	if (rnp_key_export(key, o, RNP_KEY_EXPORT_PUBLIC | RNP_KEY_EXPORT_SUBKEYS) !=
		    RNP_SUCCESS ||
	    rnp_output_memory_get_buf(o, &buf, &len, false) != RNP_SUCCESS || len == 0)
		goto err;
	*out = malloc(len);
	if (!*out) {
		rv = MN_ENOMEM;
		goto err;
	}
	memcpy(*out, buf, len);
	*out_len = len;
	rv = 0;
err:
	rnp_output_destroy(o);
	return rv;
}

/* days_from_civil: days since 1970-01-01 of a proleptic Gregorian date
 * (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int parse_date(uint64_t *out, const char *s, size_t len)
{
	unsigned v[3] = {0, 0, 0};
	static const unsigned widths[3] = {4, 2, 2};
	static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	size_t p = 0;

	if (len != 10)
		return 0;
	for (int f = 0; f < 3; f++) {
		for (unsigned k = 0; k < widths[f]; k++, p++) {
			if (s[p] < '0' || s[p] > '9')
				return 0;
			v[f] = v[f] * 10 + (unsigned)(s[p] - '0');
		}
		if (f < 2 && s[p++] != '-')
			return 0;
	}
	if (v[0] < 1970 || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > mdays[v[1] - 1])
		return 0;
	if (v[1] == 2 && v[2] == 29 && !(v[0] % 4 == 0 && (v[0] % 100 != 0 || v[0] % 400 == 0)))
		return 0;
	*out = (uint64_t)days_from_civil(v[0], v[1], v[2]) * 86400;
	return 1;
}

static int add_scope(struct certifier *ct, const char *d, size_t len)
{
	char norm[256];
	char **n;
	if (!pgp__domain_normalize(norm, (const uint8_t *)d, len))
		return MN_EINVAL;
	n = realloc(ct->scopes, (ct->num_scopes + 1) * sizeof(*n));
	if (!n)
		return MN_ENOMEM;
	ct->scopes = n;
	if (!(n[ct->num_scopes] = strdup(norm)))
		return MN_ENOMEM;
	ct->num_scopes++;
	return 0;
}

/* parse_policy_line applies one policy line (without its newline). */
static int parse_policy_line(struct pgp_certifiers *c, const char *s, size_t len)
{
	size_t p = 0, tok;
	uint8_t fpr[PGP_MAX_FPR_LEN];
	size_t fpr_len;
	struct certifier *ct = NULL;
	int rv;

	while (p < len && (s[p] == ' ' || s[p] == '\t' || s[p] == '\r'))
		p++;
	if (p == len || s[p] == '#')
		return 0;
	for (tok = p; p < len && s[p] != ' ' && s[p] != '\t' && s[p] != '\r'; p++)
		;
	if (!(fpr_len = pgp__hex_decode(fpr, sizeof(fpr), s + tok, p - tok)))
		return MN_EINVAL;
	for (size_t i = 0; i < c->num; i++)
		if (c->v[i].fpr_len == fpr_len && !memcmp(c->v[i].fpr, fpr, fpr_len))
			ct = &c->v[i];
	if (!ct || ct->has_policy)
		return MN_EINVAL;
	ct->has_policy = 1;
	for (;;) {
		while (p < len && (s[p] == ' ' || s[p] == '\t' || s[p] == '\r'))
			p++;
		if (p == len || s[p] == '#')
			return 0;
		for (tok = p; p < len && s[p] != ' ' && s[p] != '\t' && s[p] != '\r'; p++)
			;
		const char *t = s + tok;
		size_t tl = p - tok;
		if (tl > 6 && !memcmp(t, "scope=", 6)) {
			size_t a = 6;
			for (size_t b = 6; b <= tl; b++) {
				if (b == tl || t[b] == ',') {
					if ((rv = add_scope(ct, t + a, b - a)) < 0)
						return rv;
					a = b + 1;
				}
			}
		} else if (tl > 8 && !memcmp(t, "expires=", 8)) {
			if (ct->expires || !parse_date(&ct->expires, t + 8, tl - 8))
				return MN_EINVAL;
		} else {
			return MN_EINVAL;
		}
	}
}

int pgp_certifiers_load(struct pgp_certifiers **out, const uint8_t *keys,
			size_t keys_len, const char *policy, size_t policy_len)
{
	rnp_ffi_t ffi = NULL;
	rnp_input_t in = NULL;
	rnp_identifier_iterator_t it = NULL;
	struct pgp_certifiers *c = NULL;
	size_t num_secret = 0, cap = 0;
	const char *id;
	int rv;

	if (!out || !keys || (policy_len && !policy))
		return MN_EINVAL;
	*out = NULL;
	if (!(c = calloc(1, sizeof(*c))))
		return MN_ENOMEM;
	if (rnp_ffi_create(&ffi, "GPG", "GPG") != RNP_SUCCESS) {
		rv = MN_EINTERNAL;
		goto err;
	}
	pgp__quiet_ffi(ffi);
	if (rnp_input_from_memory(&in, keys, keys_len, false) != RNP_SUCCESS) {
		rv = MN_EINTERNAL;
		goto err;
	}
	if (rnp_import_keys(ffi, in, RNP_LOAD_SAVE_PUBLIC_KEYS | RNP_LOAD_SAVE_SECRET_KEYS,
			    NULL) != RNP_SUCCESS) {
		rv = MN_EMALFORMED;
		goto err;
	}
	if (rnp_get_secret_key_count(ffi, &num_secret) != RNP_SUCCESS || num_secret) {
		rv = MN_EINVAL; /* a certifier file must never hold secrets */
		goto err;
	}
	if (rnp_identifier_iterator_create(ffi, &it, "fingerprint") != RNP_SUCCESS) {
		rv = MN_EINTERNAL;
		goto err;
	}
	while (rnp_identifier_iterator_next(it, &id) == RNP_SUCCESS && id) {
		rnp_key_handle_t k = NULL;
		bool primary = false;
		struct certifier *ct;

		if (rnp_locate_key(ffi, "fingerprint", id, &k) != RNP_SUCCESS || !k) {
			rv = MN_EINTERNAL;
			goto err;
		}
		if (rnp_key_is_primary(k, &primary) != RNP_SUCCESS || !primary) {
			rnp_key_handle_destroy(k);
			continue;
		}
		if (c->num == cap) {
			size_t ncap = cap ? 2 * cap : 4;
			struct certifier *n = realloc(c->v, ncap * sizeof(*n));
			if (!n) {
				rnp_key_handle_destroy(k);
				rv = MN_ENOMEM;
				goto err;
			}
			c->v = n;
			cap = ncap;
		}
		ct = &c->v[c->num];
		memset(ct, 0, sizeof(*ct));
		c->num++;
		if (!(ct->fpr_len = pgp__hex_decode(ct->fpr, sizeof(ct->fpr), id, strlen(id)))) {
			rnp_key_handle_destroy(k);
			rv = MN_EINTERNAL;
			goto err;
		}
		pgp__hex_encode(ct->fpr_hex, ct->fpr, ct->fpr_len);
		rv = pgp__export_key(k, &ct->key, &ct->key_len);
		rnp_key_handle_destroy(k);
		if (rv < 0)
			goto err;
	}
	if (c->num == 0) {
		rv = MN_ENOTFOUND;
		goto err;
	}
	qsort(c->v, c->num, sizeof(*c->v), cmp_certifier);
	for (size_t p = 0; p < policy_len;) {
		size_t e = p;
		while (e < policy_len && policy[e] != '\n')
			e++;
		if ((rv = parse_policy_line(c, policy + p, e - p)) < 0)
			goto err;
		p = e + 1;
	}
	*out = c;
	c = NULL;
	rv = 0;
err:
	rnp_identifier_iterator_destroy(it);
	rnp_input_destroy(in);
	rnp_ffi_destroy(ffi);
	pgp_certifiers_free(c);
	return rv;
}

int pgp_certifiers_load_file(struct pgp_certifiers **out, const char *path)
{
	uint8_t *keys = NULL, *policy = NULL;
	size_t keys_len = 0, policy_len = 0, plen;
	char *ppath;
	int rv;

	if (!out || !path)
		return MN_EINVAL;
	*out = NULL;
	if ((rv = read_file(path, &keys, &keys_len)) < 0)
		return rv == MN_ENOTFOUND ? MN_EIO : rv;
	plen = strlen(path) + sizeof(".policy");
	if (!(ppath = malloc(plen))) {
		free(keys);
		return MN_ENOMEM;
	}
	snprintf(ppath, plen, "%s.policy", path);
	rv = read_file(ppath, &policy, &policy_len);
	free(ppath);
	if (rv == MN_ENOTFOUND) {
		policy = NULL;
		policy_len = 0;
	} else if (rv < 0) {
		free(keys);
		return rv;
	}
	rv = pgp_certifiers_load(out, keys, keys_len, (const char *)policy, policy_len);
	free(keys);
	free(policy);
	return rv;
}


/* quiet_ffi sends RNP's own diagnostics to /dev/null: a hostile submission must
 * not be able to fill the server's stderr. The ffi owns the descriptor. */
void pgp__quiet_ffi(rnp_ffi_t ffi)
{
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd >= 0 && rnp_ffi_set_log_fd(ffi, fd) != RNP_SUCCESS)
		close(fd);
}
