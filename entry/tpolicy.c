/* tpolicy.c: tlog-policy files (see tpolicy.h). */
#include "entry/tpolicy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "entry/cosig.h"

#define MAX_FIELDS (2 + TPOLICY_MAX_WITNESSES + TPOLICY_MAX_GROUPS + 2)

struct field {
	const char *s;
	size_t len;
};

__attribute__((format(printf, 4, 5))) static int fail(char *err, size_t err_len, size_t line,
						     const char *fmt, ...);
static int fail(char *err, size_t err_len, size_t line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (err_len == 0)
		return MN_EMALFORMED;
	n = snprintf(err, err_len, "line %zu: ", line);
	if (n > 0 && (size_t)n < err_len) {
		va_start(ap, fmt);
		vsnprintf(err + n, err_len - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return MN_EMALFORMED;
}

static int is_ws(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static int field_is(const struct field *f, const char *lit)
{
	return f->len == strlen(lit) && memcmp(f->s, lit, f->len) == 0;
}

/* lookup_name: member reference of |f| (witness i or -1 - group j), or
 * INT32_MIN when undefined. */
static int lookup_name(const struct tpolicy *p, const struct field *f)
{
	for (size_t i = 0; i < p->num_witnesses; i++)
		if (strlen(p->witnesses[i].name) == f->len &&
		    memcmp(p->witnesses[i].name, f->s, f->len) == 0)
			return (int)i;
	for (size_t j = 0; j < p->num_groups; j++)
		if (strlen(p->groups[j].name) == f->len &&
		    memcmp(p->groups[j].name, f->s, f->len) == 0)
			return -1 - (int)j;
	return INT32_MIN;
}

static int copy_name(char *dst, const struct field *f)
{
	if (f->len == 0 || f->len > TPOLICY_MAX_NAME)
		return 0;
	memcpy(dst, f->s, f->len);
	dst[f->len] = 0;
	return 1;
}

static int copy_url(char *dst, const struct field *f)
{
	if (f->len > TPOLICY_MAX_URL)
		return 0;
	memcpy(dst, f->s, f->len);
	dst[f->len] = 0;
	return 1;
}

static int dup_key(const struct tpolicy *p, const struct note_vkey *k)
{
	for (size_t i = 0; i < p->num_logs; i++)
		if (memcmp(p->logs[i].key.pub, k->pub, 32) == 0)
			return 1;
	for (size_t i = 0; i < p->num_witnesses; i++)
		if (memcmp(p->witnesses[i].key.pub, k->pub, 32) == 0)
			return 1;
	return 0;
}

static int parse_k(const struct field *f, size_t n, size_t *k)
{
	size_t v = 0;

	if (field_is(f, "all")) {
		*k = n;
		return 1;
	}
	if (field_is(f, "any")) {
		*k = 1;
		return 1;
	}
	if (f->len == 0 || f->len > 4 || f->s[0] == '0')
		return 0;
	for (size_t i = 0; i < f->len; i++) {
		if (f->s[i] < '0' || f->s[i] > '9')
			return 0;
		v = v * 10 + (size_t)(f->s[i] - '0');
	}
	*k = v;
	return 1;
}

static int parse_line(struct tpolicy *p, struct field *fv, size_t nf, size_t line, int flags,
		      char *err, size_t err_len)
{
	struct note_vkey k;

	if (field_is(&fv[0], "log")) {
		if (nf < 2 || nf > 3)
			return fail(err, err_len, line, "log takes a vkey and an optional URL");
		if (p->num_logs == TPOLICY_MAX_LOGS)
			return fail(err, err_len, line, "more than %d logs", TPOLICY_MAX_LOGS);
		if (note_vkey_parse(&k, fv[1].s, fv[1].len) != 0 || k.type != NOTE_TYPE_ED25519)
			return fail(err, err_len, line,
				    "log key is not an Ed25519 note vkey (name+id+base64, type 0x01)");
		if (dup_key(p, &k))
			return fail(err, err_len, line, "duplicate key");
		p->logs[p->num_logs].key = k;
		if (!copy_url(p->logs[p->num_logs].url, nf == 3 ? &fv[2] : &(struct field){"", 0}))
			return fail(err, err_len, line, "URL longer than %d bytes", TPOLICY_MAX_URL);
		p->num_logs++;
		return 0;
	}
	if (flags & TPOLICY_LOGS_ONLY)
		return fail(err, err_len, line, "only log lines are allowed here");
	if (field_is(&fv[0], "witness")) {
		struct tpolicy_witness *w;
		if (nf < 3 || nf > 4)
			return fail(err, err_len, line, "witness takes a name, a vkey and an optional URL");
		if (p->num_witnesses == TPOLICY_MAX_WITNESSES)
			return fail(err, err_len, line, "more than %d witnesses", TPOLICY_MAX_WITNESSES);
		if (field_is(&fv[1], "none") || lookup_name(p, &fv[1]) != INT32_MIN)
			return fail(err, err_len, line, "name %.*s is already defined", (int)fv[1].len,
				    fv[1].s);
		if (note_vkey_parse(&k, fv[2].s, fv[2].len) != 0 || k.type != NOTE_TYPE_COSIG_V1)
			return fail(err, err_len, line,
				    "witness key is not a cosignature/v1 vkey (name+id+base64, type 0x04)");
		if (dup_key(p, &k))
			return fail(err, err_len, line, "duplicate key");
		w = &p->witnesses[p->num_witnesses];
		if (!copy_name(w->name, &fv[1]))
			return fail(err, err_len, line, "name longer than %d bytes", TPOLICY_MAX_NAME);
		w->key = k;
		if (!copy_url(w->url, nf == 4 ? &fv[3] : &(struct field){"", 0}))
			return fail(err, err_len, line, "URL longer than %d bytes", TPOLICY_MAX_URL);
		p->num_witnesses++;
		return 0;
	}
	if (field_is(&fv[0], "group")) {
		struct tpolicy_group *g;
		if (nf < 4)
			return fail(err, err_len, line, "group takes a name, all|any|K and members");
		if (p->num_groups == TPOLICY_MAX_GROUPS)
			return fail(err, err_len, line, "more than %d groups", TPOLICY_MAX_GROUPS);
		if (field_is(&fv[1], "none") || lookup_name(p, &fv[1]) != INT32_MIN)
			return fail(err, err_len, line, "name %.*s is already defined", (int)fv[1].len,
				    fv[1].s);
		g = &p->groups[p->num_groups];
		memset(g, 0, sizeof(*g));
		if (!copy_name(g->name, &fv[1]))
			return fail(err, err_len, line, "name longer than %d bytes", TPOLICY_MAX_NAME);
		g->n = nf - 3;
		if (!parse_k(&fv[2], g->n, &g->k) || g->k < 1 || g->k > g->n)
			return fail(err, err_len, line, "threshold must be all, any or 1..%zu", g->n);
		for (size_t i = 0; i < g->n; i++) {
			int m = lookup_name(p, &fv[3 + i]);
			if (m == INT32_MIN)
				return fail(err, err_len, line, "member %.*s is not defined before",
					    (int)fv[3 + i].len, fv[3 + i].s);
			for (size_t j = 0; j < i; j++)
				if (g->members[j] == m)
					return fail(err, err_len, line, "member %.*s listed twice",
						    (int)fv[3 + i].len, fv[3 + i].s);
			g->members[i] = m;
		}
		p->num_groups++;
		return 0;
	}
	if (field_is(&fv[0], "quorum")) {
		if (nf != 2)
			return fail(err, err_len, line, "quorum takes one name");
		if (p->has_quorum)
			return fail(err, err_len, line, "a second quorum line");
		if (field_is(&fv[1], "none")) {
			p->quorum_none = 1;
		} else {
			p->quorum = lookup_name(p, &fv[1]);
			if (p->quorum == INT32_MIN)
				return fail(err, err_len, line, "quorum %.*s is not defined before",
					    (int)fv[1].len, fv[1].s);
		}
		p->has_quorum = 1;
		return 0;
	}
	return fail(err, err_len, line, "unknown keyword %.*s", (int)(fv[0].len > 32 ? 32 : fv[0].len),
		    fv[0].s);
}

int tpolicy_parse(struct tpolicy **out, const uint8_t *text, size_t len, int flags, char *err,
		  size_t err_len)
{
	struct tpolicy *p;
	const uint8_t *s = text, *end = text + len;
	size_t line = 0;
	struct field *fv;
	int ret = 0;

	*out = NULL;
	if (err_len > 0)
		err[0] = 0;
	if (len > TPOLICY_MAX_FILE) {
		fail(err, err_len, 0, "policy larger than %d bytes", TPOLICY_MAX_FILE);
		return MN_ETOOBIG;
	}
	p = calloc(1, sizeof(*p));
	fv = calloc(MAX_FIELDS, sizeof(*fv));
	if (p == NULL || fv == NULL) {
		free(p);
		free(fv);
		return MN_ENOMEM;
	}
	while (s < end && ret == 0) {
		const uint8_t *nl = memchr(s, '\n', (size_t)(end - s)), *le = nl ? nl : end, *q;
		size_t nf = 0;
		line++;
		for (q = s; q < le; q++)
			if ((*q < 0x20 && *q != '\t') || *q == 0x7f) {
				ret = fail(err, err_len, line, "control character 0x%02x", *q);
				break;
			}
		for (q = s; ret == 0 && q < le;) {
			while (q < le && is_ws(*q))
				q++;
			if (q == le)
				break;
			if (nf == MAX_FIELDS) {
				ret = fail(err, err_len, line, "too many fields");
				break;
			}
			fv[nf].s = (const char *)q;
			while (q < le && !is_ws(*q))
				q++;
			fv[nf].len = (size_t)((const char *)q - fv[nf].s);
			nf++;
		}
		if (ret == 0 && nf > 0 && fv[0].s[0] != '#')
			ret = parse_line(p, fv, nf, line, flags, err, err_len);
		s = nl ? nl + 1 : end;
	}
	if (ret == 0 && !(flags & TPOLICY_LOGS_ONLY) && !p->has_quorum)
		ret = fail(err, err_len, line, "no quorum line");
	if (ret == 0 && (flags & TPOLICY_LOGS_ONLY) && p->num_logs == 0)
		ret = fail(err, err_len, line, "no log line");
	free(fv);
	if (ret != 0) {
		free(p);
		return ret;
	}
	*out = p;
	return 0;
}

int tpolicy_load(struct tpolicy **out, const char *path, int flags, char *err, size_t err_len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	size_t n;
	char e[512];
	int ret;

	*out = NULL;
	if (f == NULL) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return MN_EIO;
	}
	buf = malloc(TPOLICY_MAX_FILE + 1);
	if (buf == NULL) {
		fclose(f);
		return MN_ENOMEM;
	}
	n = fread(buf, 1, TPOLICY_MAX_FILE + 1, f);
	if (ferror(f)) {
		snprintf(err, err_len, "%s: read error", path);
		fclose(f);
		free(buf);
		return MN_EIO;
	}
	fclose(f);
	ret = tpolicy_parse(out, buf, n, flags, e, sizeof(e));
	free(buf);
	if (ret != 0)
		/* "line N: why" -> "PATH:N: why" */
		snprintf(err, err_len, "%s:%s", path, strncmp(e, "line ", 5) == 0 ? e + 5 : e);
	return ret;
}

void tpolicy_free(struct tpolicy *p)
{
	free(p);
}

const struct tpolicy_log *tpolicy_find_log(const struct tpolicy *p, const char *origin,
					   size_t origin_len)
{
	for (size_t i = 0; i < p->num_logs; i++)
		if (p->logs[i].key.name_len == origin_len &&
		    memcmp(p->logs[i].key.name, origin, origin_len) == 0)
			return &p->logs[i];
	return NULL;
}

/* met: groups only reference earlier groups, so recursion depth is bounded by
 * TPOLICY_MAX_GROUPS. */
static int met(const struct tpolicy *p, int ref, const unsigned char *witnessed)
{
	const struct tpolicy_group *g;
	size_t count = 0;

	if (ref >= 0)
		return witnessed[ref] != 0;
	g = &p->groups[-1 - ref];
	for (size_t i = 0; i < g->n && count < g->k; i++)
		count += (size_t)met(p, g->members[i], witnessed);
	return count >= g->k;
}

int tpolicy_quorum_met(const struct tpolicy *p, const unsigned char *witnessed)
{
	if (!p->has_quorum)
		return 0;
	if (p->quorum_none)
		return 1;
	return met(p, p->quorum, witnessed);
}

int tpolicy_check(const struct tpolicy *p, const struct note_checkpoint *cp,
		  size_t *n_cosigned, const char **why)
{
	unsigned char witnessed[TPOLICY_MAX_WITNESSES] = {0};
	size_t n = 0;
	const char *dummy;

	if (why == NULL)
		why = &dummy;
	if (n_cosigned != NULL)
		*n_cosigned = 0;
	if (p->num_logs > 0) {
		const struct tpolicy_log *l = tpolicy_find_log(p, cp->origin, cp->origin_len);
		if (l == NULL) {
			*why = "the checkpoint's origin is not a log of the policy";
			return MN_EBADSIG;
		}
		if (note_verify_vkey(cp, &l->key) != 1) {
			*why = "the checkpoint has no valid signature by the policy's log key";
			return MN_EBADSIG;
		}
	}
	for (size_t i = 0; i < p->num_witnesses; i++) {
		int r = cosig_verify(cp, &p->witnesses[i].key, NULL);
		if (r < 0) {
			*why = "a witness's cosignature line does not verify";
			return MN_EBADSIG;
		}
		witnessed[i] = r == 1;
		n += (size_t)(r == 1);
	}
	if (n_cosigned != NULL)
		*n_cosigned = n;
	if (!tpolicy_quorum_met(p, witnessed)) {
		*why = "the witness quorum is not met";
		return MN_ENOTFOUND;
	}
	return 0;
}
