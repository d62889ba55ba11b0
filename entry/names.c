/* names.c: name normalization and lookup-index keys. See names.h. */
#include "entry/names.h"

#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/err.h"

#define KNOWN_FLAGS (NAMES_QUERY | NAMES_ALLOW_UNDERSCORE | NAMES_ALLOW_WILDCARD)

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static int is_ldh(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* dns_canon writes the canonical form of |in| into |out| (room for
 * NAMES_MAX_DNS_LEN + 1 bytes, NUL-terminated). Returns the length or
 * MN_EMALFORMED. */
static int dns_canon(char out[NAMES_MAX_DNS_LEN + 1], const char *in, size_t len,
		     unsigned flags)
{
	size_t i, start = 0, num_labels = 0;
	int all_digits = 1;

	if (in == NULL)
		return MN_EMALFORMED;
	/* One trailing dot is the absolute form of the same name (RFC 1034
	 * section 3.1); a second would leave an empty label. */
	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0 || len > NAMES_MAX_DNS_LEN)
		return MN_EMALFORMED;
	for (i = 0; i <= len; i++) {
		size_t lab_len;
		const char *lab;

		if (i < len && in[i] != '.') {
			char c = lower(in[i]);

			if (!is_ldh(c) && !(c == '_' && (flags & NAMES_ALLOW_UNDERSCORE)) &&
			    !(c == '*' && (flags & NAMES_ALLOW_WILDCARD)))
				return MN_EMALFORMED; /* also NUL, controls, >= 0x80 */
			out[i] = c;
			continue;
		}
		lab = out + start;
		lab_len = i - start;
		if (lab_len == 0 || lab_len > NAMES_MAX_LABEL_LEN)
			return MN_EMALFORMED;
		if (memchr(lab, '*', lab_len) != NULL) {
			/* "*" alone, leftmost, with a label after it. */
			if (lab_len != 1 || start != 0 || i == len)
				return MN_EMALFORMED;
		} else if (lab[0] == '-' || lab[lab_len - 1] == '-') {
			return MN_EMALFORMED;
		}
		all_digits = 1;
		for (size_t j = 0; j < lab_len; j++)
			all_digits &= lab[j] >= '0' && lab[j] <= '9';
		num_labels++;
		if (i < len)
			out[i] = '.';
		start = i + 1;
	}
	if (all_digits)
		return MN_EMALFORMED;
	if ((flags & NAMES_QUERY) && num_labels < 2)
		return MN_EMALFORMED;
	out[len] = '\0';
	return (int)len;
}

int names_dns_normalize(char *out, size_t cap, const char *in, size_t len,
			unsigned flags)
{
	char buf[NAMES_MAX_DNS_LEN + 1];
	int n;

	if (out == NULL || cap == 0)
		return MN_EINVAL;
	out[0] = '\0';
	if (flags & ~KNOWN_FLAGS)
		return MN_EINVAL;
	n = dns_canon(buf, in, len, flags);
	if (n < 0)
		return n;
	if ((size_t)n + 1 > cap)
		return MN_EINVAL;
	memcpy(out, buf, (size_t)n + 1);
	return n;
}

/* is_canon_dns returns 1 iff |name| is a names_dns_normalize output. */
static int is_canon_dns(const char *name, size_t len, unsigned flags)
{
	char buf[NAMES_MAX_DNS_LEN + 1];
	int n = dns_canon(buf, name, len, flags);

	return n >= 0 && (size_t)n == len && memcmp(buf, name, len) == 0;
}

/* put_reversed writes the labels of the canonical name |name| in reverse order,
 * each followed by '.': len + 1 bytes. */
static size_t put_reversed(uint8_t *out, const char *name, size_t len)
{
	size_t end = len, w = 0;

	while (end > 0) {
		size_t start = end;

		while (start > 0 && name[start - 1] != '.')
			start--;
		memcpy(out + w, name + start, end - start);
		w += end - start;
		out[w++] = '.';
		end = start > 0 ? start - 1 : 0;
	}
	return w;
}

int names_class_valid(uint8_t cls)
{
	return cls == NAMES_CLASS_TLS || cls == NAMES_CLASS_SMIME || cls == NAMES_CLASS_PGP ||
	       cls == NAMES_CLASS_POLICY;
}

int names_dns_key(uint8_t *out, size_t cap, const char *normalized, size_t len,
		  uint8_t cls)
{
	size_t n;

	if (out == NULL || !names_class_valid(cls) ||
	    !is_canon_dns(normalized, len, NAMES_ALLOW_UNDERSCORE | NAMES_ALLOW_WILDCARD))
		return MN_EINVAL;
	n = len + 1 + 2;
	if (n > NAMES_MAX_KEY_LEN)
		return MN_ETOOBIG;
	if (n > cap)
		return MN_EINVAL;
	put_reversed(out, normalized, len);
	out[len + 1] = 0x00;
	out[len + 2] = cls;
	return (int)n;
}

int names_dns_query_prefix(uint8_t *out, size_t cap, const char *normalized,
			   size_t len, int subdomains)
{
	size_t n;

	if (out == NULL ||
	    !is_canon_dns(normalized, len, NAMES_ALLOW_UNDERSCORE | NAMES_ALLOW_WILDCARD))
		return MN_EINVAL;
	n = len + 1 + (subdomains ? 0 : 1); /* at most 255 */
	if (n > cap)
		return MN_EINVAL;
	put_reversed(out, normalized, len);
	if (!subdomains)
		out[len + 1] = 0x00;
	return (int)n;
}

int names_dns_wildcard_prefix(uint8_t *out, size_t cap, const char *normalized,
			      size_t len)
{
	const char *dot;
	size_t parent_len, n;

	if (out == NULL ||
	    !is_canon_dns(normalized, len, NAMES_ALLOW_UNDERSCORE | NAMES_ALLOW_WILDCARD))
		return MN_EINVAL;
	dot = memchr(normalized, '.', len);
	if (dot == NULL || normalized[0] == '*')
		return MN_ENOTFOUND;
	parent_len = len - (size_t)(dot + 1 - normalized);
	n = parent_len + 1 + 2 + 1; /* "<parent>." "*." 00: at most len + 2 */
	if (n > cap)
		return MN_EINVAL;
	put_reversed(out, dot + 1, parent_len);
	out[parent_len + 1] = '*';
	out[parent_len + 2] = '.';
	out[parent_len + 3] = 0x00;
	return (int)n;
}

/* email_canon writes the canonical form of |in| into |out| (room for
 * NAMES_MAX_EMAIL_LEN + 1). Returns the length or MN_EMALFORMED. */
static int email_canon(char out[NAMES_MAX_EMAIL_LEN + 1], const char *in, size_t len,
		       unsigned flags)
{
	char dom[NAMES_MAX_DNS_LEN + 1];
	const char *at;
	size_t local_len, i;
	int dom_len;

	if (in == NULL || len == 0 || len > NAMES_MAX_EMAIL_LEN)
		return MN_EMALFORMED;
	at = memchr(in, '@', len);
	if (at == NULL)
		return MN_EMALFORMED;
	local_len = (size_t)(at - in);
	if (local_len == 0 || local_len > NAMES_MAX_LOCAL_LEN)
		return MN_EMALFORMED;
	for (i = 0; i < local_len; i++) {
		/* Printable ASCII without space; '@' cannot occur (the first '@'
		 * ends the local part). */
		if (in[i] < 0x21 || in[i] > 0x7e)
			return MN_EMALFORMED;
		out[i] = lower(in[i]);
	}
	/* The domain of an address has no trailing dot (RFC 5321 section 4.1.2);
	 * dns_canon would strip it and any further '@' is not an LDH byte. */
	if (in[len - 1] == '.')
		return MN_EMALFORMED;
	dom_len = dns_canon(dom, at + 1, len - local_len - 1, flags & NAMES_QUERY);
	if (dom_len < 0)
		return dom_len;
	/* Normalizing never lengthens, so this fits in NAMES_MAX_EMAIL_LEN. */
	out[local_len] = '@';
	memcpy(out + local_len + 1, dom, (size_t)dom_len + 1);
	return (int)(local_len + 1 + (size_t)dom_len);
}

int names_email_normalize(char *out, size_t cap, const char *in, size_t len,
			  unsigned flags)
{
	char buf[NAMES_MAX_EMAIL_LEN + 1];
	int n;

	if (out == NULL || cap == 0)
		return MN_EINVAL;
	out[0] = '\0';
	if (flags & ~KNOWN_FLAGS)
		return MN_EINVAL;
	n = email_canon(buf, in, len, flags);
	if (n < 0)
		return n;
	if ((size_t)n + 1 > cap)
		return MN_EINVAL;
	memcpy(out, buf, (size_t)n + 1);
	return n;
}

/* split_canon_email checks that |addr| is a names_email_normalize output and
 * finds its '@'. Returns the local part's length or MN_EINVAL. */
static int split_canon_email(const char *addr, size_t len)
{
	char buf[NAMES_MAX_EMAIL_LEN + 1];
	int n = email_canon(buf, addr, len, 0);

	if (n < 0 || (size_t)n != len || memcmp(buf, addr, len) != 0)
		return MN_EINVAL;
	return (int)((const char *)memchr(addr, '@', len) - addr);
}

/* put_email writes "<reversed domain>@<local>": len + 1 bytes. */
static size_t put_email(uint8_t *out, const char *addr, size_t len, size_t local_len)
{
	size_t w = put_reversed(out, addr + local_len + 1, len - local_len - 1);

	out[w++] = '@';
	memcpy(out + w, addr, local_len);
	return w + local_len;
}

int names_email_key(uint8_t *out, size_t cap, const char *normalized, size_t len,
		    uint8_t cls)
{
	int local_len;
	size_t n;

	if (out == NULL || !names_class_valid(cls))
		return MN_EINVAL;
	local_len = split_canon_email(normalized, len);
	if (local_len < 0)
		return local_len;
	n = len + 1 + 2;
	if (n > NAMES_MAX_KEY_LEN)
		return MN_ETOOBIG;
	if (n > cap)
		return MN_EINVAL;
	put_email(out, normalized, len, (size_t)local_len);
	out[len + 1] = 0x00;
	out[len + 2] = cls;
	return (int)n;
}

int names_email_query_prefix(uint8_t *out, size_t cap, const char *normalized,
			     size_t len)
{
	int local_len;
	size_t n;

	if (out == NULL)
		return MN_EINVAL;
	local_len = split_canon_email(normalized, len);
	if (local_len < 0)
		return local_len;
	n = len + 1 + 1;
	if (n > NAMES_MAX_KEY_LEN)
		return MN_ETOOBIG;
	if (n > cap)
		return MN_EINVAL;
	put_email(out, normalized, len, (size_t)local_len);
	out[len + 1] = 0x00;
	return (int)n;
}

int names_email_domain_prefix(uint8_t *out, size_t cap, const char *domain,
			      size_t len, int subdomains)
{
	size_t n;

	/* Email domains never hold '_' or '*' (see email_canon). */
	if (out == NULL || !is_canon_dns(domain, len, 0))
		return MN_EINVAL;
	n = len + 1 + (subdomains ? 0 : 1);
	if (n > cap)
		return MN_EINVAL;
	put_reversed(out, domain, len);
	if (!subdomains)
		out[len + 1] = '@';
	return (int)n;
}

int names_fpr_normalize(uint8_t *out, size_t cap, const char *hex, size_t len)
{
	uint8_t buf[NAMES_MAX_FPR_LEN];
	size_t i;

	if (out == NULL)
		return MN_EINVAL;
	if (hex == NULL || (len != 40 && len != 64))
		return MN_EMALFORMED;
	for (i = 0; i < len / 2; i++) {
		int hi = mn_hex_digit(hex[2 * i]), lo = mn_hex_digit(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return MN_EMALFORMED;
		buf[i] = (uint8_t)(hi << 4 | lo);
	}
	if (cap < len / 2)
		return MN_EINVAL;
	memcpy(out, buf, len / 2);
	return (int)(len / 2);
}

/* put_fpr writes lowercase hex of |fpr| and a 0x00; checks as names_fpr_key. */
static int put_fpr(uint8_t *out, size_t cap, const uint8_t *fpr, size_t fpr_len)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	if (out == NULL || fpr == NULL || (fpr_len != 20 && fpr_len != 32) ||
	    cap < 2 * fpr_len + 1)
		return MN_EINVAL;
	for (i = 0; i < fpr_len; i++) {
		out[2 * i] = (uint8_t)digits[fpr[i] >> 4];
		out[2 * i + 1] = (uint8_t)digits[fpr[i] & 0xf];
	}
	out[2 * fpr_len] = 0x00;
	return (int)(2 * fpr_len + 1);
}

int names_fpr_key(uint8_t *out, size_t cap, const uint8_t *fpr, size_t fpr_len,
		  uint8_t cls)
{
	int n;

	if (!names_class_valid(cls) || cap < 2 * fpr_len + 2)
		return MN_EINVAL;
	n = put_fpr(out, cap, fpr, fpr_len);
	if (n < 0)
		return n;
	out[n] = cls;
	return n + 1;
}

int names_fpr_query_prefix(uint8_t *out, size_t cap, const uint8_t *fpr,
			   size_t fpr_len)
{
	return put_fpr(out, cap, fpr, fpr_len);
}

int names_key_class(const uint8_t *key, size_t len)
{
	if (key == NULL || len < 3 || key[len - 2] != 0x00 || !names_class_valid(key[len - 1]) ||
	    memchr(key, 0x00, len - 2) != NULL)
		return MN_EMALFORMED;
	return key[len - 1];
}

void names_keyset_init(struct names_keyset *ks, size_t max_keys)
{
	ks->keys = NULL;
	ks->num_keys = 0;
	ks->cap_keys = 0;
	ks->max_keys = max_keys;
}

void names_keyset_cleanup(struct names_keyset *ks)
{
	free(ks->keys);
	ks->keys = NULL;
	ks->num_keys = 0;
	ks->cap_keys = 0;
}

int names_keyset_add(struct names_keyset *ks, enum names_index index,
		     const uint8_t *key, size_t len)
{
	struct names_key *k;
	size_t i;

	if ((index != NAMES_INDEX_DNS && index != NAMES_INDEX_EMAIL &&
	     index != NAMES_INDEX_FPR) ||
	    key == NULL || len == 0 || len > NAMES_MAX_KEY_LEN)
		return MN_EINVAL;
	/* Linear: a leaf has at most a few hundred keys (X509_MAX_NAMES). */
	for (i = 0; i < ks->num_keys; i++) {
		k = &ks->keys[i];
		if (k->index == index && k->len == len && memcmp(k->data, key, len) == 0)
			return 0;
	}
	if (ks->num_keys >= ks->max_keys)
		return MN_ETOOBIG;
	if (ks->num_keys == ks->cap_keys) {
		size_t cap = ks->cap_keys ? 2 * ks->cap_keys : 8;

		if (cap > ks->max_keys)
			cap = ks->max_keys;
		k = realloc(ks->keys, cap * sizeof(*k));
		if (k == NULL)
			return MN_ENOMEM;
		ks->keys = k;
		ks->cap_keys = cap;
	}
	k = &ks->keys[ks->num_keys++];
	k->index = (uint8_t)index;
	k->len = (uint8_t)len;
	memcpy(k->data, key, len);
	return 0;
}

int names_keyset_add_dns(struct names_keyset *ks, const char *name, size_t len,
			 unsigned flags, uint8_t cls)
{
	char norm[NAMES_MAX_DNS_LEN + 1];
	uint8_t key[NAMES_MAX_KEY_LEN];
	int n, k;

	n = names_dns_normalize(norm, sizeof(norm), name, len, flags);
	if (n < 0)
		return n;
	k = names_dns_key(key, sizeof(key), norm, (size_t)n, cls);
	if (k < 0)
		return k;
	return names_keyset_add(ks, NAMES_INDEX_DNS, key, (size_t)k);
}

int names_keyset_add_email(struct names_keyset *ks, const char *addr, size_t len,
			   int with_domain, uint8_t cls)
{
	char norm[NAMES_MAX_EMAIL_LEN + 1];
	uint8_t key[NAMES_MAX_KEY_LEN];
	const char *dom;
	int n, k;

	n = names_email_normalize(norm, sizeof(norm), addr, len, 0);
	if (n < 0)
		return n;
	k = names_email_key(key, sizeof(key), norm, (size_t)n, cls);
	if (k < 0)
		return k;
	k = names_keyset_add(ks, NAMES_INDEX_EMAIL, key, (size_t)k);
	if (k < 0 || !with_domain)
		return k;
	dom = strchr(norm, '@') + 1;
	k = names_dns_key(key, sizeof(key), dom, (size_t)n - (size_t)(dom - norm), cls);
	if (k < 0)
		return k;
	return names_keyset_add(ks, NAMES_INDEX_DNS, key, (size_t)k);
}

int names_keyset_add_fpr(struct names_keyset *ks, const uint8_t *fpr,
			 size_t fpr_len, uint8_t cls)
{
	uint8_t key[2 * NAMES_MAX_FPR_LEN + 2];
	int k = names_fpr_key(key, sizeof(key), fpr, fpr_len, cls);

	if (k < 0)
		return k;
	return names_keyset_add(ks, NAMES_INDEX_FPR, key, (size_t)k);
}
