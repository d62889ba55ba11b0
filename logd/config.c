/* config.c: the --config file (config.h), read with libyaml's document API,
 * which keeps each node's line (yaml_node_t.start_mark). */
#include "logd/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "common/err.h"

#define MAX_CONFIG_BYTES (1u << 20)
#define MAX_LOGS 256
#define MAX_NAME 63

struct pctx {
	yaml_document_t *doc;
	const char *file;
	char *err;
	size_t err_len;
	int failed;
	int oom;
};

static unsigned line_of(const yaml_node_t *n)
{
	return n != NULL ? (unsigned)n->start_mark.line + 1 : 0;
}

__attribute__((format(printf, 3, 4))) static int fail(struct pctx *c, const yaml_node_t *n,
						      const char *fmt, ...)
{
	va_list ap;
	int off;

	if (c->failed)
		return 0;
	c->failed = 1;
	off = snprintf(c->err, c->err_len, "%s:%u: ", c->file, line_of(n));
	if (off < 0 || (size_t)off >= c->err_len)
		return 0;
	va_start(ap, fmt);
	vsnprintf(c->err + off, c->err_len - (size_t)off, fmt, ap);
	va_end(ap);
	return 0;
}

static int is_scalar(const yaml_node_t *n)
{
	return n != NULL && n->type == YAML_SCALAR_NODE;
}

/* scalar: the value of a scalar node as a NUL-terminated string (libyaml
 * terminates it), refusing embedded NULs. */
static const char *scalar(struct pctx *c, const yaml_node_t *n, const char *what)
{
	if (!is_scalar(n)) {
		fail(c, n, "%s: expected a single value", what);
		return NULL;
	}
	if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length) {
		fail(c, n, "%s: contains a NUL byte", what);
		return NULL;
	}
	return (const char *)n->data.scalar.value;
}

static int get_str(struct pctx *c, const yaml_node_t *n, const char *what, char **out,
		   unsigned *out_line)
{
	const char *s = scalar(c, n, what);

	if (s == NULL)
		return 0;
	if (*out != NULL)
		return fail(c, n, "%s: given twice", what);
	if (s[0] == '\0')
		return fail(c, n, "%s: empty", what);
	if (strlen(s) >= 4096)
		return fail(c, n, "%s: longer than 4095 bytes", what);
	*out = strdup(s);
	if (*out == NULL) {
		c->oom = 1;
		return fail(c, n, "out of memory");
	}
	if (out_line != NULL)
		*out_line = line_of(n);
	return 1;
}

static int get_u64(struct pctx *c, const yaml_node_t *n, const char *what,
		   unsigned long long min, unsigned long long max, unsigned long long *out)
{
	const char *s = scalar(c, n, what);
	unsigned long long v = 0;

	if (s == NULL)
		return 0;
	if (*s == '\0')
		return fail(c, n, "%s: expected an integer", what);
	for (const char *p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return fail(c, n, "%s: expected an integer", what);
		if (v > (~0ull - (unsigned)(*p - '0')) / 10)
			return fail(c, n, "%s: too large", what);
		v = v * 10 + (unsigned)(*p - '0');
	}
	if (v < min || v > max)
		return fail(c, n, "%s: must be in %llu..%llu", what, min, max);
	*out = v;
	return 1;
}

static int get_bool(struct pctx *c, const yaml_node_t *n, const char *what, int *out)
{
	const char *s = scalar(c, n, what);

	if (s == NULL)
		return 0;
	if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0 || strcmp(s, "on") == 0)
		*out = 1;
	else if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0 || strcmp(s, "off") == 0)
		*out = 0;
	else
		return fail(c, n, "%s: expected true or false", what);
	return 1;
}

/* days_from_civil: days since 1970-01-01 (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char *s, size_t n, unsigned *out)
{
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return 1;
}

/* parse_time: "YYYY-MM-DDTHH:MM:SSZ" (RFC 3339, UTC, no fraction) or
 * "YYYY-MM-DD" (midnight UTC), years 1970..9999. */
static int parse_time(const char *s, uint64_t *out_ms)
{
	static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	unsigned y, mo, d, h = 0, mi = 0, se = 0;
	size_t len = strlen(s);

	if (len != 10 && len != 20)
		return 0;
	if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
	    !digits(s + 8, 2, &d))
		return 0;
	if (len == 20 && (s[10] != 'T' || !digits(s + 11, 2, &h) || s[13] != ':' ||
			  !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &se) ||
			  s[19] != 'Z'))
		return 0;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
	    se > 59)
		return 0;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 0;
	*out_ms = ((uint64_t)days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se) * 1000;
	return 1;
}

void logd_config_time(char out[21], uint64_t ms)
{
	int64_t z = (int64_t)(ms / 1000 / 86400) + 719468;
	unsigned secs = (unsigned)(ms / 1000 % 86400);
	int64_t era = z / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	unsigned d = doy - (153 * mp + 2) / 5 + 1;
	unsigned m = mp < 10 ? mp + 3 : mp - 9;

	char t[64];

	y += m <= 2;
	snprintf(t, sizeof(t), "%04d-%02u-%02uT%02u:%02u:%02uZ", (int)(y % 10000), m % 100,
		 d % 100, secs / 3600 % 100, secs / 60 % 60, secs % 60);
	memcpy(out, t, 20);
	out[20] = '\0';
}

/* Iterate a mapping: each pair's key must be a plain scalar, given once. */
#define FOR_PAIRS(c, map, k, v)                                                           \
	for (yaml_node_pair_t *pp_ = (map)->data.mapping.pairs.start;                     \
	     pp_ < (map)->data.mapping.pairs.top &&                                        \
	     ((k) = yaml_document_get_node((c)->doc, pp_->key),                            \
	     (v) = yaml_document_get_node((c)->doc, pp_->value), 1);                       \
	     pp_++)

/* check_keys: every key of |map| is a scalar, given once. */
static int check_keys(struct pctx *c, yaml_node_t *map, const char *what)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		if (!is_scalar(k))
			return fail(c, k, "%s: a key must be a plain name", what);
		for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
			yaml_node_t *k2 = yaml_document_get_node(c->doc, q->key);
			if (strcmp((const char *)k->data.scalar.value,
				   (const char *)k2->data.scalar.value) == 0)
				return fail(c, k, "%s: key '%.40s' given twice", what,
					    (const char *)k->data.scalar.value);
		}
	}
	return 1;
}

static int key_is(const yaml_node_t *k, const char *name)
{
	return strcmp((const char *)k->data.scalar.value, name) == 0;
}

static int parse_classes(struct pctx *c, yaml_node_t *n, unsigned *out)
{
	static const char *const names[4] = {"tls", "smime", "pgp", "policy"};
	unsigned classes = 0;

	if (n->type != YAML_SEQUENCE_NODE)
		return fail(c, n, "classes: expected a list, e.g. [tls, smime, pgp, policy]");
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++) {
		yaml_node_t *e = yaml_document_get_node(c->doc, *it);
		const char *s = scalar(c, e, "classes");
		unsigned bit = 0;
		if (s == NULL)
			return 0;
		for (unsigned i = 0; i < 4; i++)
			if (strcmp(s, names[i]) == 0)
				bit = 1u << i;
		if (bit == 0)
			return fail(c, e, "classes: unknown class '%.40s' (tls, smime, pgp, policy)", s);
		if (classes & bit)
			return fail(c, e, "classes: '%s' listed twice", s);
		classes |= bit;
	}
	if (classes == 0)
		return fail(c, n, "classes: empty list");
	*out = classes;
	return 1;
}

static int parse_roots(struct pctx *c, struct logd_log_config *l, yaml_node_t *n)
{
	yaml_node_t *k, *v;

	if (n->type != YAML_MAPPING_NODE)
		return fail(c, n, "roots: expected a mapping, e.g. {tls: FILE, smime: FILE}");
	if (!check_keys(c, n, "roots"))
		return 0;
	FOR_PAIRS(c, n, k, v) {
		if (key_is(k, "tls")) {
			if (!get_str(c, v, "roots.tls", &l->tls_roots, &l->tls_roots_line))
				return 0;
		} else if (key_is(k, "smime")) {
			if (!get_str(c, v, "roots.smime", &l->smime_roots, &l->smime_roots_line))
				return 0;
		} else {
			return fail(c, k, "roots: unknown class '%.40s' (tls, smime)",
				    (const char *)k->data.scalar.value);
		}
	}
	return 1;
}

static int parse_publish(struct pctx *c, struct logd_log_config *l, yaml_node_t *n)
{
	yaml_node_t *k, *v;

	if (n->type != YAML_MAPPING_NODE)
		return fail(c, n, "publish: expected {dir: PATH} or {s3: s3://BUCKET/PREFIX, "
			    "endpoint: URL, region: R, credentials: FILE}");
	if (!check_keys(c, n, "publish"))
		return 0;
	FOR_PAIRS(c, n, k, v) {
		char **dst;
		if (key_is(k, "dir"))
			dst = &l->publish_dir;
		else if (key_is(k, "s3"))
			dst = &l->publish_s3;
		else if (key_is(k, "endpoint"))
			dst = &l->publish_endpoint;
		else if (key_is(k, "region"))
			dst = &l->publish_region;
		else if (key_is(k, "credentials"))
			dst = &l->publish_credentials;
		else
			return fail(c, k, "publish: unknown key '%.40s' (dir, s3, endpoint, region, "
				    "credentials)", (const char *)k->data.scalar.value);
		if (!get_str(c, v, "publish", dst, NULL))
			return 0;
	}
	if ((l->publish_dir != NULL) == (l->publish_s3 != NULL))
		return fail(c, n, "publish: give exactly one of dir and s3");
	if (l->publish_dir != NULL && (l->publish_endpoint != NULL || l->publish_region != NULL ||
				       l->publish_credentials != NULL))
		return fail(c, n, "publish: endpoint, region and credentials go with s3, not dir");
	if (l->publish_s3 != NULL &&
	    (strncmp(l->publish_s3, "s3://", 5) != 0 || l->publish_s3[5] == '\0' ||
	     l->publish_s3[5] == '/'))
		return fail(c, n, "publish.s3: '%.60s' is not s3://BUCKET[/PREFIX]", l->publish_s3);
	if (l->publish_s3 != NULL &&
	    (l->publish_endpoint == NULL || (strncmp(l->publish_endpoint, "http://", 7) != 0 &&
					     strncmp(l->publish_endpoint, "https://", 8) != 0)))
		return fail(c, n, "publish: s3 needs endpoint: http(s)://HOST[:PORT]");
	return 1;
}

static int parse_window(struct pctx *c, struct logd_log_config *l, yaml_node_t *n)
{
	yaml_node_t *k, *v, *sn = NULL, *ln = NULL;

	if (n->type != YAML_MAPPING_NODE)
		return fail(c, n, "not_after: expected {start: TIME, limit: TIME}");
	if (!check_keys(c, n, "not_after"))
		return 0;
	FOR_PAIRS(c, n, k, v) {
		const char *s;
		uint64_t *dst;
		if (key_is(k, "start")) {
			sn = v;
			dst = &l->start_ms;
		} else if (key_is(k, "limit")) {
			ln = v;
			dst = &l->limit_ms;
		} else {
			return fail(c, k, "not_after: unknown key '%.40s' (start, limit)",
				    (const char *)k->data.scalar.value);
		}
		s = scalar(c, v, "not_after");
		if (s == NULL)
			return 0;
		if (!parse_time(s, dst))
			return fail(c, v, "not_after.%s: bad date '%.40s' (want "
				    "YYYY-MM-DDTHH:MM:SSZ)", key_is(k, "start") ? "start" : "limit", s);
	}
	if (sn == NULL || ln == NULL)
		return fail(c, n, "not_after: needs both start and limit");
	if (l->start_ms >= l->limit_ms)
		return fail(c, ln, "not_after: limit must be after start");
	l->has_window = 1;
	return 1;
}

static int valid_name(const char *s)
{
	size_t n = strlen(s);
	static const char *const reserved[] = {"healthz", "readyz", "metrics", "ct", "mn"};

	if (n == 0 || n > MAX_NAME)
		return 0;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return 0;
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strcmp(s, reserved[i]) == 0)
			return 0;
	return 1;
}

/* get_duration: "N" followed by ms, s or m, within [min_ms, max_ms]. */
static int get_duration(struct pctx *c, const yaml_node_t *n, const char *what,
			uint64_t min_ms, uint64_t max_ms, uint64_t *out_ms)
{
	const char *s = scalar(c, n, what), *p;
	uint64_t v = 0, mul;

	if (s == NULL)
		return 0;
	for (p = s; *p >= '0' && *p <= '9'; p++) {
		if (v > 100000000)
			return fail(c, n, "%s: too large", what);
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (p == s)
		return fail(c, n, "%s: expected a duration such as 5s, 500ms or 1m", what);
	if (strcmp(p, "ms") == 0)
		mul = 1;
	else if (strcmp(p, "s") == 0)
		mul = 1000;
	else if (strcmp(p, "m") == 0)
		mul = 60000;
	else
		return fail(c, n, "%s: '%.20s' is not a duration (N ms, s or m)", what, s);
	v *= mul;
	if (v < min_ms || v > max_ms)
		return fail(c, n, "%s: must be between %llu ms and %llu ms", what,
			    (unsigned long long)min_ms, (unsigned long long)max_ms);
	*out_ms = v;
	return 1;
}

static int parse_log(struct pctx *c, struct logd_log_config *l, yaml_node_t *n)
{
	int has_wtimeout = 0, has_wmode = 0, has_winterval = 0;
	yaml_node_t *k, *v;
	unsigned long long u;
	int has_classes = 0;

	l->line = line_of(n);
	l->mmd_s = 60;
	l->witness_timeout_ms = 5000;
	l->max_queue = 65536;
	l->map = 1;
	if (n->type != YAML_MAPPING_NODE)
		return fail(c, n, "logs: each log is a mapping (name:, data:, ...)");
	if (!check_keys(c, n, "log"))
		return 0;
	FOR_PAIRS(c, n, k, v) {
		const char *key = (const char *)k->data.scalar.value;
		int ok = 1;
		if (strcmp(key, "name") == 0) {
			ok = get_str(c, v, "name", &l->name, NULL);
			if (ok && !valid_name(l->name))
				ok = fail(c, v, "name: '%.63s' is not a valid prefix ([a-z0-9][a-z0-9._-]*, "
					  "at most 63 bytes, not healthz/readyz/metrics/ct/mn)", l->name);
		} else if (strcmp(key, "data") == 0) {
			ok = get_str(c, v, "data", &l->data, NULL);
		} else if (strcmp(key, "key") == 0) {
			ok = get_str(c, v, "key", &l->key, &l->key_line);
		} else if (strcmp(key, "vrf_key") == 0) {
			ok = get_str(c, v, "vrf_key", &l->vrf_key, &l->vrf_key_line);
		} else if (strcmp(key, "url") == 0) {
			ok = get_str(c, v, "url", &l->url, NULL);
			if (ok && strpbrk(l->url, "\"\\") != NULL)
				ok = fail(c, v, "url: must not contain quotes or backslashes");
		} else if (strcmp(key, "published_sth") == 0) {
			ok = get_str(c, v, "published_sth", &l->published_sth, NULL);
		} else if (strcmp(key, "origin") == 0) {
			ok = get_str(c, v, "origin", &l->origin, NULL);
		} else if (strcmp(key, "note_key") == 0) {
			ok = get_str(c, v, "note_key", &l->note_key, NULL);
		} else if (strcmp(key, "mirror") == 0) {
			ok = get_str(c, v, "mirror", &l->mirror, NULL);
			if (ok && strncmp(l->mirror, "http://", 7) != 0 &&
			    strncmp(l->mirror, "https://", 8) != 0)
				ok = fail(c, v, "mirror: '%.60s' is not an http:// or https:// URL",
					  l->mirror);
			else if (ok && strpbrk(l->mirror, "\"\\ ") != NULL)
				ok = fail(c, v, "mirror: must not contain quotes, backslashes or spaces");
		} else if (strcmp(key, "mirror_key") == 0) {
			ok = get_str(c, v, "mirror_key", &l->mirror_key, &l->mirror_key_line);
		} else if (strcmp(key, "classes") == 0) {
			ok = parse_classes(c, v, &l->classes);
			has_classes = 1;
		} else if (strcmp(key, "roots") == 0) {
			ok = parse_roots(c, l, v);
		} else if (strcmp(key, "certifiers") == 0) {
			ok = get_str(c, v, "certifiers", &l->certifiers, &l->certifiers_line);
		} else if (strcmp(key, "not_after") == 0) {
			ok = parse_window(c, l, v);
		} else if (strcmp(key, "mmd") == 0) {
			ok = get_u64(c, v, "mmd", 1, 86400, &u);
			l->mmd_s = u;
		} else if (strcmp(key, "state") == 0) {
			const char *s = scalar(c, v, "state");
			ok = s != NULL;
			if (ok && strcmp(s, "open") == 0)
				l->state = LOGD_STATE_OPEN;
			else if (ok && strcmp(s, "read-only") == 0)
				l->state = LOGD_STATE_READ_ONLY;
			else if (ok)
				ok = fail(c, v, "state: '%.40s' is not open or read-only", s);
		} else if (strcmp(key, "grace") == 0) {
			ok = get_u64(c, v, "grace", 0, 10ull * 365 * 86400, &u);
			l->grace_s = u;
		} else if (strcmp(key, "max_queue") == 0) {
			ok = get_u64(c, v, "max_queue", 1, 10000000, &u);
			l->max_queue = (size_t)u;
		} else if (strcmp(key, "map") == 0) {
			ok = get_bool(c, v, "map", &l->map);
		} else if (strcmp(key, "leaf_index") == 0) {
			int li = 1;
			ok = get_bool(c, v, "leaf_index", &li);
			l->no_leaf_index = !li;
		} else if (strcmp(key, "publish") == 0) {
			ok = parse_publish(c, l, v);
		} else if (strcmp(key, "sct_after") == 0) {
			const char *sv = scalar(c, v, "sct_after");
			ok = sv != NULL;
			if (ok && strcmp(sv, "commit") == 0)
				l->sct_after_publish = 0;
			else if (ok && strcmp(sv, "publish") == 0)
				l->sct_after_publish = 1;
			else if (ok)
				ok = fail(c, v, "sct_after: '%.40s' is not commit or publish", sv);
		} else if (strcmp(key, "witness_policy") == 0) {
			ok = get_str(c, v, "witness_policy", &l->witness_policy,
				     &l->witness_policy_line);
		} else if (strcmp(key, "witness_timeout") == 0) {
			ok = !has_wtimeout ||
			     fail(c, v, "witness_timeout: given twice");
			ok = ok && get_duration(c, v, "witness_timeout", 100, 600000,
						&l->witness_timeout_ms);
			has_wtimeout = 1;
		} else if (strcmp(key, "witness_interval") == 0) {
			ok = !has_winterval || fail(c, v, "witness_interval: given twice");
			ok = ok && get_duration(c, v, "witness_interval", 0, 600000,
						&l->witness_interval_ms);
			has_winterval = 1;
		} else if (strcmp(key, "witness_mode") == 0) {
			const char *sv = scalar(c, v, "witness_mode");
			ok = sv != NULL && (!has_wmode || fail(c, v, "witness_mode: given twice"));
			has_wmode = 1;
			if (ok && strcmp(sv, "wait") == 0)
				l->witness_fail_open = 0;
			else if (ok && strcmp(sv, "fail-open") == 0)
				l->witness_fail_open = 1;
			else if (ok)
				ok = fail(c, v, "witness_mode: '%.40s' is not wait or fail-open", sv);
		} else if (strcmp(key, "map_size") == 0) {
			ok = get_u64(c, v, "map_size", 0, ~0ull, &l->map_size);
		} else if (strcmp(key, "max_map_size") == 0) {
			ok = get_u64(c, v, "max_map_size", 0, ~0ull, &l->max_map_size);
		} else {
			ok = fail(c, k, "unknown key '%.40s' in log", key);
		}
		if (!ok)
			return 0;
	}
	if (l->name == NULL)
		return fail(c, n, "log: missing name");
	if (l->data == NULL)
		return fail(c, n, "log %s: missing data (its LMDB directory)", l->name);
	if (l->mirror_key != NULL && l->mirror == NULL)
		return fail(c, n, "log %s: mirror_key given without mirror: URL", l->name);
	if ((has_wtimeout || has_wmode || has_winterval) && l->witness_policy == NULL)
		return fail(c, n, "log %s: witness_timeout, witness_interval and witness_mode need witness_policy: "
			    "FILE", l->name);
	if (l->witness_policy != NULL && (l->mirror != NULL || l->state != LOGD_STATE_OPEN))
		return fail(c, n, "log %s: witness_policy is for an open log (a mirror or a "
			    "read-only log makes no new checkpoints)", l->name);
	if (l->mirror != NULL) {
		/* a mirror serves the origin's log: its key, its trees */
		if (l->mirror_key == NULL)
			return fail(c, n, "log %s: a mirror needs mirror_key: the origin's log "
				    "public key (PEM or DER file, or base64 SPKI)", l->name);
		if (has_classes || l->tls_roots != NULL || l->smime_roots != NULL ||
		    l->certifiers != NULL || l->key != NULL || l->vrf_key != NULL ||
		    l->note_key != NULL || l->published_sth != NULL || l->has_window ||
		    l->state != LOGD_STATE_OPEN)
			return fail(c, n, "log %s: a mirror takes no classes, roots, certifiers, "
				    "key, vrf_key, note_key, published_sth, not_after or state "
				    "(it copies the origin's log)", l->name);
		l->map = 0;
		l->classes = LOGD_CLASS_ALL;
		return 1;
	}
	if (!has_classes)
		return fail(c, n, "log %s: missing classes (any of tls, smime, pgp, policy)", l->name);
	if (l->sct_after_publish && l->publish_dir == NULL && l->publish_s3 == NULL)
		return fail(c, n, "log %s: sct_after: publish needs publish: {dir or s3}", l->name);
	if ((l->classes & LOGD_CLASS_TLS) && l->tls_roots == NULL)
		return fail(c, n, "log %s: class tls needs roots: {tls: FILE}", l->name);
	if ((l->classes & LOGD_CLASS_SMIME) && l->smime_roots == NULL)
		return fail(c, n, "log %s: class smime needs roots: {smime: FILE}", l->name);
	if (!(l->classes & LOGD_CLASS_TLS) && l->tls_roots != NULL)
		return fail(c, n, "log %s: roots.tls given but class tls is not accepted", l->name);
	if (!(l->classes & LOGD_CLASS_SMIME) && l->smime_roots != NULL)
		return fail(c, n, "log %s: roots.smime given but class smime is not accepted",
			    l->name);
	if ((l->classes & LOGD_CLASS_PGP) && l->certifiers == NULL)
		return fail(c, n, "log %s: class pgp needs certifiers: FILE", l->name);
	if (!(l->classes & LOGD_CLASS_PGP) && l->certifiers != NULL)
		return fail(c, n, "log %s: certifiers given but class pgp is not accepted", l->name);
	if ((l->classes & LOGD_CLASS_POLICY) && l->tls_roots == NULL && l->smime_roots == NULL)
		return fail(c, n, "log %s: class policy needs tls or smime roots to check signers",
			    l->name);
	return 1;
}

/* normalize: |in| with repeated and trailing slashes and "." components
 * removed, into |out| (same size or larger). */
static void normalize(char *out, const char *in)
{
	size_t o = 0;
	const char *p = in;

	if (*p == '/')
		out[o++] = '/';
	while (*p != '\0') {
		const char *e;
		while (*p == '/')
			p++;
		e = p;
		while (*e != '\0' && *e != '/')
			e++;
		if (e - p == 1 && p[0] == '.') {
			p = e;
			continue;
		}
		if (e > p) {
			if (o > 0 && out[o - 1] != '/')
				out[o++] = '/';
			memcpy(out + o, p, (size_t)(e - p));
			o += (size_t)(e - p);
		}
		p = e;
	}
	if (o == 0)
		out[o++] = '.';
	out[o] = '\0';
}

/* inside: |a| equals |b| or is a directory below it (both normalized). */
static int inside(const char *a, const char *b)
{
	size_t n = strlen(b);

	if (strcmp(a, b) == 0)
		return 1;
	if (strcmp(b, "/") == 0)
		return a[0] == '/';
	return strncmp(a, b, n) == 0 && a[n] == '/';
}

static int check_logs(struct pctx *c, struct logd_config *cfg, yaml_node_t *seq)
{
	char a[4096], b[4096];

	for (size_t i = 0; i < cfg->num_logs; i++) {
		struct logd_log_config *l = &cfg->logs[i];
		yaml_node_t *n = yaml_document_get_node(c->doc, seq->data.sequence.items.start[i]);
		for (size_t j = 0; j < i; j++) {
			struct logd_log_config *m = &cfg->logs[j];
			if (strcmp(l->name, m->name) == 0)
				return fail(c, n, "log %s: name (URL prefix) already used by the log "
					    "at line %u", l->name, m->line);
			normalize(a, l->data);
			normalize(b, m->data);
			if (inside(a, b) || inside(b, a))
				return fail(c, n, "log %s: data directory %.200s overlaps log %s's "
					    "(%.200s, line %u)", l->name, l->data, m->name, m->data,
					    m->line);
		}
	}
	return 1;
}

static int parse_listen(struct logd_config *cfg, const char *s)
{
	const char *colon = strrchr(s, ':');
	unsigned long port = 0;
	size_t hl;

	if (colon == NULL || colon[1] == '\0' || strlen(colon + 1) > 5)
		return 0;
	for (const char *p = colon + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		port = port * 10 + (unsigned long)(*p - '0');
	}
	hl = (size_t)(colon - s);
	if (port > 65535 || hl == 0 || hl >= sizeof(cfg->host))
		return 0;
	memcpy(cfg->host, s, hl);
	cfg->host[hl] = '\0';
	cfg->port = (unsigned)port;
	return 1;
}

static int parse_top(struct pctx *c, struct logd_config *cfg, yaml_node_t *root)
{
	yaml_node_t *k, *v, *logs = NULL;
	unsigned long long u;

	if (root->type != YAML_MAPPING_NODE)
		return fail(c, root, "expected a mapping (listen:, threads:, logs:)");
	if (!check_keys(c, root, "config"))
		return 0;
	FOR_PAIRS(c, root, k, v) {
		const char *key = (const char *)k->data.scalar.value;
		int ok = 1;
		if (strcmp(key, "listen") == 0) {
			const char *s = scalar(c, v, "listen");
			ok = s != NULL;
			if (ok && !parse_listen(cfg, s))
				ok = fail(c, v, "listen: expected HOST:PORT");
		} else if (strcmp(key, "threads") == 0) {
			ok = get_u64(c, v, "threads", 0, 256, &u);
			cfg->threads = (unsigned)u;
		} else if (strcmp(key, "max_body") == 0) {
			ok = get_u64(c, v, "max_body", 1024, 1u << 30, &u);
			cfg->max_body = (size_t)u;
		} else if (strcmp(key, "max_entries") == 0) {
			ok = get_u64(c, v, "max_entries", 1, 100000, &u);
			cfg->max_entries = (size_t)u;
		} else if (strcmp(key, "max_conns") == 0) {
			ok = get_u64(c, v, "max_conns", 1, 1000000, &u);
			cfg->max_conns = (size_t)u;
		} else if (strcmp(key, "idle_timeout_ms") == 0) {
			ok = get_u64(c, v, "idle_timeout_ms", 1, 3600000, &u);
			cfg->idle_ms = (unsigned)u;
		} else if (strcmp(key, "request_timeout_ms") == 0) {
			ok = get_u64(c, v, "request_timeout_ms", 1, 3600000, &u);
			cfg->request_ms = (unsigned)u;
		} else if (strcmp(key, "logs") == 0) {
			logs = v;
		} else {
			ok = fail(c, k, "unknown key '%.40s'", key);
		}
		if (!ok)
			return 0;
	}
	if (logs == NULL)
		return fail(c, root, "missing logs: (a list of logs)");
	if (logs->type != YAML_SEQUENCE_NODE)
		return fail(c, logs, "logs: expected a list of logs");
	size_t n = (size_t)(logs->data.sequence.items.top - logs->data.sequence.items.start);
	if (n == 0)
		return fail(c, logs, "logs: empty list");
	if (n > MAX_LOGS)
		return fail(c, logs, "logs: more than %d logs", MAX_LOGS);
	cfg->logs = calloc(n, sizeof(*cfg->logs));
	if (cfg->logs == NULL) {
		c->oom = 1;
		return fail(c, logs, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		cfg->num_logs = i + 1;
		if (!parse_log(c, &cfg->logs[i],
			       yaml_document_get_node(c->doc, logs->data.sequence.items.start[i])))
			return 0;
	}
	return check_logs(c, cfg, logs);
}

int logd_config_parse(struct logd_config *out, const uint8_t *buf, size_t len,
		      const char *file, char *err, size_t err_len)
{
	yaml_parser_t parser;
	yaml_document_t doc, doc2;
	struct pctx c = {.doc = &doc, .file = file, .err = err, .err_len = err_len};
	yaml_node_t *root;
	int ret = MN_EINVAL;

	memset(out, 0, sizeof(*out));
	if (err_len > 0)
		err[0] = '\0';
	snprintf(out->host, sizeof(out->host), "127.0.0.1");
	out->port = 6962;
	out->file = strdup(file);
	if (out->file == NULL)
		return MN_ENOMEM;
	if (!yaml_parser_initialize(&parser))
		return MN_ENOMEM;
	yaml_parser_set_input_string(&parser, buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		if (parser.error == YAML_MEMORY_ERROR) {
			ret = MN_ENOMEM;
		}
		snprintf(err, err_len, "%s:%u: %s%s%s", file,
			 (unsigned)parser.problem_mark.line + 1,
			 parser.problem != NULL ? parser.problem : "malformed YAML",
			 parser.context != NULL ? " " : "",
			 parser.context != NULL ? parser.context : "");
		yaml_parser_delete(&parser);
		return ret;
	}
	root = yaml_document_get_root_node(&doc);
	if (root == NULL) {
		fail(&c, NULL, "empty file");
		goto out;
	}
	if (!yaml_parser_load(&parser, &doc2)) {
		fail(&c, root, "malformed YAML after the document");
		goto out;
	}
	if (yaml_document_get_root_node(&doc2) != NULL) {
		c.doc = &doc2;
		fail(&c, yaml_document_get_root_node(&doc2), "a second YAML document");
		c.doc = &doc;
		yaml_document_delete(&doc2);
		goto out;
	}
	yaml_document_delete(&doc2);
	if (parse_top(&c, out, root))
		ret = 0;
	else if (c.oom)
		ret = MN_ENOMEM;
out:
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return ret;
}

int logd_config_load(struct logd_config *out, const char *path, char *err, size_t err_len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	size_t n;
	int ret;

	memset(out, 0, sizeof(*out));
	if (f == NULL) {
		snprintf(err, err_len, "%s: cannot read: %s", path, strerror(errno));
		return MN_EIO;
	}
	buf = malloc(MAX_CONFIG_BYTES + 1);
	if (buf == NULL) {
		fclose(f);
		return MN_ENOMEM;
	}
	n = fread(buf, 1, MAX_CONFIG_BYTES + 1, f);
	if (ferror(f) || n > MAX_CONFIG_BYTES) {
		snprintf(err, err_len, "%s: cannot read: %s", path,
			 n > MAX_CONFIG_BYTES ? "larger than 1 MiB" : strerror(errno));
		fclose(f);
		free(buf);
		return MN_EIO;
	}
	fclose(f);
	ret = logd_config_parse(out, buf, n, path, err, err_len);
	free(buf);
	return ret;
}

void logd_config_cleanup(struct logd_config *c)
{
	for (size_t i = 0; i < c->num_logs; i++) {
		struct logd_log_config *l = &c->logs[i];
		free(l->name);
		free(l->data);
		free(l->key);
		free(l->vrf_key);
		free(l->published_sth);
		free(l->origin);
		free(l->note_key);
		free(l->mirror);
		free(l->mirror_key);
		free(l->url);
		free(l->tls_roots);
		free(l->smime_roots);
		free(l->certifiers);
		free(l->publish_dir);
		free(l->publish_s3);
		free(l->publish_endpoint);
		free(l->publish_region);
		free(l->publish_credentials);
		free(l->witness_policy);
	}
	free(c->logs);
	free(c->file);
	memset(c, 0, sizeof(*c));
}
