/* prom.c: a Prometheus text exposition grouped by family (see prom.h). */
#include "common/prom.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

struct family {
	const char *name;
	const char *help;
	enum prom_type type;
	char *buf; /* its sample lines */
	size_t len, cap;
};

struct prom {
	struct family *fams;
	size_t num, cap_fams;
	struct family *cur;
	size_t total, cap; /* bytes of samples so far, and the cap */
	int err;           /* sticky MN_E* */
};

struct prom *prom_new(size_t cap)
{
	struct prom *p = calloc(1, sizeof(*p));

	if (p != NULL)
		p->cap = cap != 0 ? cap : 4u << 20;
	return p;
}

void prom_free(struct prom *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->num; i++)
		free(p->fams[i].buf);
	free(p->fams);
	free(p);
}

void prom_family(struct prom *p, const char *name, enum prom_type type, const char *help)
{
	size_t i;

	if (p->err != 0)
		return;
	for (i = 0; i < p->num; i++)
		if (strcmp(p->fams[i].name, name) == 0) {
			p->cur = &p->fams[i];
			return;
		}
	if (p->num == p->cap_fams) {
		size_t n = p->cap_fams != 0 ? p->cap_fams * 2 : 32;
		struct family *f = realloc(p->fams, n * sizeof(*f));
		if (f == NULL) {
			p->err = MN_ENOMEM;
			p->cur = NULL;
			return;
		}
		p->fams = f;
		p->cap_fams = n;
	}
	p->cur = &p->fams[p->num++];
	memset(p->cur, 0, sizeof(*p->cur));
	p->cur->name = name;
	p->cur->help = help;
	p->cur->type = type;
}

/* add appends one formatted line to the current family. */
static void add(struct prom *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct prom *p, const char *fmt, ...)
{
	struct family *f = p->cur;
	va_list ap;
	int n;

	if (p->err != 0)
		return;
	if (f == NULL) {
		p->err = MN_EINVAL; /* a sample before any prom_family */
		return;
	}
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(f->buf != NULL ? f->buf + f->len : NULL, f->cap - f->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			p->err = MN_EINVAL;
			return;
		}
		if (p->total + (size_t)n > p->cap) {
			p->err = MN_ETOOBIG;
			return;
		}
		if ((size_t)n < f->cap - f->len)
			break;
		{
			size_t c = f->cap != 0 ? f->cap * 2 : 1024;
			char *b;
			while (c - f->len <= (size_t)n)
				c *= 2;
			b = realloc(f->buf, c);
			if (b == NULL) {
				p->err = MN_ENOMEM;
				return;
			}
			f->buf = b;
			f->cap = c;
		}
	}
	f->len += (size_t)n;
	p->total += (size_t)n;
}

/* The label block: "", "{a}", "{b}" or "{a,b}". */
#define LBL_FMT "%s%s%s%s%s"
#define LBL_ARGS(l, e)                                                           \
	((l && *l) || (e && *e)) ? "{" : "", (l && *l) ? l : "",                 \
		((l && *l) && (e && *e)) ? "," : "", (e && *e) ? e : "",         \
		((l && *l) || (e && *e)) ? "}" : ""

void prom_u64(struct prom *p, const char *labels, const char *extra, uint64_t v)
{
	if (p->cur != NULL)
		add(p, "%s" LBL_FMT " %" PRIu64 "\n", p->cur->name, LBL_ARGS(labels, extra), v);
	else if (p->err == 0)
		p->err = MN_EINVAL; /* a sample before any prom_family */
}

void prom_f64(struct prom *p, const char *labels, const char *extra, double v)
{
	if (p->cur != NULL)
		add(p, "%s" LBL_FMT " %.9g\n", p->cur->name, LBL_ARGS(labels, extra), v);
	else if (p->err == 0)
		p->err = MN_EINVAL; /* a sample before any prom_family */
}

void prom_histogram(struct prom *p, const char *labels, const char *extra,
		    const double *bounds, size_t num_bounds, const uint64_t *counts,
		    double sum)
{
	const char *name = p->cur != NULL ? p->cur->name : "";
	const char *sep = (labels && *labels) ? "," : "";
	const char *sep2 = (extra && *extra) ? "," : "";
	uint64_t cum = 0;

	if (p->cur == NULL) {
		if (p->err == 0)
			p->err = MN_EINVAL;
		return;
	}
	for (size_t i = 0; i <= num_bounds; i++) {
		cum += counts[i];
		if (i < num_bounds)
			add(p, "%s_bucket{%s%s%s%sle=\"%g\"} %" PRIu64 "\n", name,
			    labels ? labels : "", sep, extra ? extra : "", sep2, bounds[i], cum);
		else
			add(p, "%s_bucket{%s%s%s%sle=\"+Inf\"} %" PRIu64 "\n", name,
			    labels ? labels : "", sep, extra ? extra : "", sep2, cum);
	}
	add(p, "%s_sum" LBL_FMT " %.9g\n", name, LBL_ARGS(labels, extra), sum);
	add(p, "%s_count" LBL_FMT " %" PRIu64 "\n", name, LBL_ARGS(labels, extra), cum);
}

int prom_finish(const struct prom *p, char **out, size_t *out_len)
{
	static const char *const types[] = {"counter", "gauge", "histogram"};
	size_t need = 1, off = 0, i;
	char *b;

	*out = NULL;
	*out_len = 0;
	if (p->err != 0)
		return p->err;
	for (i = 0; i < p->num; i++)
		if (p->fams[i].len != 0)
			need += p->fams[i].len + 2 * strlen(p->fams[i].name) +
				strlen(p->fams[i].help) + 32;
	b = malloc(need);
	if (b == NULL)
		return MN_ENOMEM;
	for (i = 0; i < p->num; i++) {
		const struct family *f = &p->fams[i];
		int n;
		if (f->len == 0)
			continue;
		n = snprintf(b + off, need - off, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help,
			     f->name, types[f->type]);
		if (n < 0 || (size_t)n >= need - off) {
			free(b);
			return MN_EINTERNAL;
		}
		off += (size_t)n;
		memcpy(b + off, f->buf, f->len);
		off += f->len;
	}
	b[off] = '\0';
	*out = b;
	*out_len = off;
	return 0;
}

int prom_label_escape(char *out, size_t out_len, const char *s)
{
	size_t o = 0;

	for (; *s != '\0'; s++) {
		const char *r = NULL;
		char one[2] = {*s, '\0'};
		r = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : one;
		if (o + strlen(r) >= out_len)
			return 0;
		memcpy(out + o, r, strlen(r));
		o += strlen(r);
	}
	if (o >= out_len)
		return 0;
	out[o] = '\0';
	return 1;
}
