/* monitor.c: follow a log from a saved state and report entries for watched
 * domains, email addresses and OpenPGP fingerprints.
 *
 * Watch file lines (read_watch): a domain matches a certificate's dNSName SANs
 * or CN, a PGP endorsement's domain and a policy's domain subject, as itself
 * or as a parent domain; an address (any line with '@') matches a certificate's
 * rfc822Name or SmtpUTF8Mailbox (RFC 9598) SAN and a policy's email subject,
 * ASCII case-insensitively; 40 or 64 hex digits (an OpenPGP v4/v5 fingerprint,
 * spaces allowed) match a PGP endorsement's endorsed or certifier key.
 *
 * The state (DIR/state.json) is the last verified STH and the compact range of
 * the leaves downloaded so far, which is a proven prefix of that STH's tree:
 * either the range covers the whole tree and its root is the STH's root, or a
 * consistency proof from the range's root to the STH's root verified
 * (RFC 9162 section 2.1.4.2 applies to any prefix whose root we know). Each
 * run verifies the new STH's signature and its consistency with the saved one,
 * downloads the missing leaves, appends their hashes to the range, and at each
 * checkpoint proves the range against the new STH before saving the state
 * (atomically, with rename), so an interrupted run resumes from the last
 * checkpoint and a log that alters an entry is caught at the next one.
 *
 * With --audit-map the leaves also go through the map audit (audit.c), which
 * fails at the first map-root leaf that disagrees with the map recomputed
 * from the leaves before it. Its state is saved at each checkpoint too: first
 * DIR/map-audit.<size>.bin (per key: count and compact range), then
 * state.json naming that file and its SHA-256, so state.json is the one
 * commit point and an interrupted run resumes both from the same leaf. A
 * state saved without an audit is audited from leaf 0 first (the leaves
 * [0, size) are downloaded again and must hash to the saved range's root). */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/mnctl.h"
#include "common/b64.h"
#include "common/bytes.h"
#include "entry/pgp.h"
#include "entry/policy.h"

#define MAX_WATCH 10000

enum watch_kind { W_DOMAIN, W_EMAIL, W_FPR };

struct watch {
	enum watch_kind kind;
	char *text;                  /* lowercase; for W_FPR the hex as written */
	uint8_t fpr[PGP_MAX_FPR_LEN];
	size_t fpr_len;
};

struct monitor {
	struct mnctl *m;
	const char *state; /* the state directory */
	struct merkle_range range;
	struct mnctl_sth target;
	struct watch *watch;
	size_t num_watch;
	uint64_t first, matches;
	int progress;
	struct mnctl_audit *audit; /* --audit-map */
	int format;                /* what this run's leaves showed: 0 nothing yet,
				    * 1 no extensions, 2 leaf_index (each its own) */
	char audit_file[64];       /* the audit file state.json names, or "" */
};

static void watch_free(struct monitor *mo)
{
	for (size_t i = 0; i < mo->num_watch; i++)
		free(mo->watch[i].text);
	free(mo->watch);
}

/* parse_fpr: |line| is 40 or 64 hex digits, spaces allowed between them. */
static int parse_fpr(struct watch *w, const char *line)
{
	size_t n = 0;
	int hi = -1;

	for (const char *p = line; *p; p++) {
		int v;
		if (*p == ' ')
			continue;
		if ((v = mn_hex_digit(*p)) < 0 || n == PGP_MAX_FPR_LEN)
			return 0;
		if (hi < 0) {
			hi = v;
		} else {
			w->fpr[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	if (hi >= 0 || (n != 20 && n != 32))
		return 0;
	w->fpr_len = n;
	return 1;
}

/* read_watch: one domain, address or fingerprint a line; blank lines and '#'
 * comments skipped; a domain's leading "*." or "." is dropped; domains and
 * addresses are compared ASCII case-insensitively. */
static int read_watch(struct monitor *mo, const char *path)
{
	uint8_t *buf;
	size_t len;
	char *line, *save = NULL;
	int ret = mnctl_read_file(path, 1u << 22, &buf, &len);

	if (ret != MNCTL_OK)
		return ret;
	if (memchr(buf, '\0', len) != NULL) {
		free(buf);
		return mnctl_fail(MNCTL_ELOCAL, "%s: not a text file", path);
	}
	for (line = strtok_r((char *)buf, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char *end;
		struct watch *w, nw = {.kind = W_DOMAIN};
		while (isspace((unsigned char)*line))
			line++;
		end = line + strlen(line);
		while (end > line && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (*line == '\0' || *line == '#')
			continue;
		if (strchr(line, '@') != NULL)
			nw.kind = W_EMAIL;
		else if (parse_fpr(&nw, line))
			nw.kind = W_FPR;
		else if (line[0] == '*' && line[1] == '.')
			line += 2;
		else if (line[0] == '.')
			line++;
		if (*line == '\0' || mo->num_watch == MAX_WATCH)
			continue;
		w = realloc(mo->watch, (mo->num_watch + 1) * sizeof(*w));
		if (w == NULL)
			break;
		mo->watch = w;
		if ((nw.text = strdup(line)) == NULL)
			break;
		if (nw.kind != W_FPR)
			for (char *p = nw.text; *p; p++)
				*p = (char)tolower((unsigned char)*p);
		w[mo->num_watch++] = nw;
	}
	free(buf);
	return MNCTL_OK;
}

/* name_matches: |name| is |domain| or a subdomain of it ("*.d" counts). */
static int name_matches(const char *name, const char *domain)
{
	size_t n = strlen(name), d = strlen(domain);

	if (n == d)
		return strcasecmp(name, domain) == 0;
	return n > d && name[n - d - 1] == '.' && strcasecmp(name + n - d, domain) == 0;
}

static int bytes_name_matches(const uint8_t *s, size_t n, const char *domain)
{
	char name[256];

	if (n == 0 || n >= sizeof(name) || memchr(s, '\0', n) != NULL)
		return 0;
	memcpy(name, s, n);
	name[n] = '\0';
	return name_matches(name, domain);
}

static const struct watch *match_cert(const struct monitor *mo,
				      const struct mnctl_entry *e)
{
	for (size_t w = 0; w < mo->num_watch; w++) {
		const struct watch *wa = &mo->watch[w];
		if (wa->kind == W_DOMAIN) {
			for (size_t i = 0; i < e->num_dns_names; i++)
				if (name_matches(e->dns_names[i], wa->text))
					return wa;
			if (e->cn[0] != '\0' && name_matches(e->cn, wa->text))
				return wa;
		} else if (wa->kind == W_EMAIL) {
			for (size_t i = 0; i < e->num_emails; i++)
				if (strcasecmp(e->emails[i], wa->text) == 0)
					return wa;
			for (size_t i = 0; i < e->num_mailboxes; i++)
				if (strcasecmp(e->mailboxes[i], wa->text) == 0)
					return wa;
		}
	}
	return NULL;
}

static const struct watch *match_pgp(const struct monitor *mo, const uint8_t *body,
				     size_t body_len)
{
	struct pgp_body b;

	if (pgp_body_parse(&b, body, body_len) != 0)
		return NULL;
	for (size_t w = 0; w < mo->num_watch; w++) {
		const struct watch *wa = &mo->watch[w];
		if (wa->kind == W_FPR &&
		    (cbs_mem_equal(&b.endorsed_fpr, wa->fpr, wa->fpr_len) ||
		     cbs_mem_equal(&b.certifier_fpr, wa->fpr, wa->fpr_len)))
			return wa;
		if (wa->kind == W_DOMAIN &&
		    bytes_name_matches(cbs_data(&b.domain), cbs_len(&b.domain), wa->text))
			return wa;
	}
	return NULL;
}

/* policy_subject: the payload's subject ({"domain": D} or {"email": A}) into
 * |out|; 1 on success. The JWS is not verified (the log did that). */
static int policy_subject(const uint8_t *body, size_t body_len, char *out, size_t cap,
			  int *is_email)
{
	struct policy_body pb;
	const char *jws, *d1, *d2, *s;
	uint8_t *payload = NULL;
	size_t payload_len, slen;
	json_t *p, *subj, *v;
	json_error_t jerr;
	int ok = 0;

	if (!policy_parse_body(&pb, body, body_len))
		return 0;
	jws = (const char *)pb.jws;
	d1 = memchr(jws, '.', pb.jws_len);
	d2 = d1 ? memchr(d1 + 1, '.', pb.jws_len - (size_t)(d1 + 1 - jws)) : NULL;
	if (d2 == NULL ||
	    mn_b64url_decode(&payload, &payload_len, d1 + 1, (size_t)(d2 - d1 - 1),
			     POLICY_MAX_PAYLOAD_LEN) != 0)
		return 0;
	p = json_loadb((const char *)payload, payload_len, JSON_REJECT_DUPLICATES, &jerr);
	free(payload);
	subj = json_object_get(p, "subject");
	*is_email = 0;
	if ((v = json_object_get(subj, "email")) != NULL)
		*is_email = 1;
	else
		v = json_object_get(subj, "domain");
	if (json_is_string(v)) {
		s = json_string_value(v);
		slen = json_string_length(v);
		if (slen > 0 && slen < cap && strlen(s) == slen) {
			memcpy(out, s, slen + 1);
			ok = 1;
		}
	}
	json_decref(p);
	return ok;
}

static const struct watch *match_policy(const struct monitor *mo, const uint8_t *body,
					size_t body_len)
{
	char subject[POLICY_MAX_SUBJECT_LEN + 1];
	int is_email;

	if (!policy_subject(body, body_len, subject, sizeof(subject), &is_email))
		return NULL;
	for (size_t w = 0; w < mo->num_watch; w++) {
		const struct watch *wa = &mo->watch[w];
		if (is_email && wa->kind == W_EMAIL && strcasecmp(subject, wa->text) == 0)
			return wa;
		if (!is_email && wa->kind == W_DOMAIN && name_matches(subject, wa->text))
			return wa;
	}
	return NULL;
}

static const struct watch *match(const struct monitor *mo, const struct mnctl_entry *e,
				 const uint8_t *leaf, size_t leaf_len)
{
	struct ct_entry ce;

	if (e->entry_type == CT_X509_ENTRY || e->entry_type == CT_PRECERT_ENTRY)
		return match_cert(mo, e);
	if (e->entry_type != MN_PGP_ENDORSEMENT_ENTRY &&
	    e->entry_type != MN_SIGNED_POLICY_ENTRY)
		return NULL;
	if (!ct_parse_leaf(&ce, leaf, leaf_len))
		return NULL;
	if (ce.entry_type == MN_PGP_ENDORSEMENT_ENTRY)
		return match_pgp(mo, ce.body, ce.body_len);
	return match_policy(mo, ce.body, ce.body_len);
}

static const char *const kKindName[] = {"domain", "email", "fingerprint"};

/* log_prefix prints "URL " before a text line when several logs are
 * followed in one run. */
static void log_prefix(const struct monitor *mo)
{
	if (mo->m->name_log)
		printf("%s ", mo->m->url);
}

static void progress(const struct monitor *mo, int done)
{
	uint64_t total = mo->target.tree_size - mo->first;
	uint64_t k = mo->range.size - mo->first;
	unsigned pct = total ? (unsigned)(k * 100 / total) : 100, bar = pct * 30 / 100;
	char line[40];

	memset(line, '#', bar);
	memset(line + bar, '.', 30 - bar);
	line[30] = '\0';
	fprintf(stderr, "\r[%s] %" PRIu64 "/%" PRIu64 " %3u%%%s", line, mo->range.size,
		mo->target.tree_size, pct, done ? "\n" : "");
}

/* check_extensions: a leaf of a known type carries no extensions (a log of
 * the RFC 6962 format) or exactly the static-ct-api leaf_index of its own
 * index, and every leaf of one log the same kind: a log emits leaf_index
 * from its first leaf or never (it is in the leaf hash, so it cannot be
 * added later without a second tree). */
static int check_extensions(struct monitor *mo, uint64_t index, const uint8_t *leaf,
			    size_t leaf_len)
{
	struct ct_entry ce;
	int has, fmt;

	if (!ct_parse_leaf(&ce, leaf, leaf_len))
		return MNCTL_OK; /* a type we do not know (RFC 6962 section 4.6) */
	if (!ct_extensions_match_index(ce.extensions, ce.extensions_len, index))
		return mnctl_fail(MNCTL_EVERIFY, "leaf %" PRIu64 ": its extensions are not the "
				  "static-ct-api leaf_index %" PRIu64, index, index);
	has = ce.extensions_len > 0;
	fmt = has ? 2 : 1;
	if (mo->format != 0 && mo->format != fmt)
		return mnctl_fail(MNCTL_EVERIFY, "leaf %" PRIu64 " %s a leaf_index extension, "
				  "the leaves before it %s", index, has ? "has" : "lacks",
				  has ? "did not" : "did");
	mo->format = fmt;
	return MNCTL_OK;
}

static int on_leaf(void *ctx, uint64_t index, const uint8_t *leaf, size_t leaf_len)
{
	struct monitor *mo = ctx;
	struct mnctl_entry e;
	uint8_t hash[MERKLE_HASH_LEN];
	const struct watch *w;
	int ret;

	if (index != mo->range.size)
		return mnctl_fail(MNCTL_ENET, "entries out of order");
	ret = check_extensions(mo, index, leaf, leaf_len);
	if (ret != MNCTL_OK)
		return ret;
	if (mo->audit != NULL) {
		ret = mnctl_audit_leaf(mo->audit, index, leaf, leaf_len);
		if (ret != MNCTL_OK)
			return mnctl_fail(ret, "%s", mnctl_audit_error(mo->audit));
	}
	merkle_leaf_hash(mo->m->h, hash, leaf, leaf_len);
	if (merkle_range_append(&mo->range, mo->m->h, hash, NULL, NULL) != 0)
		return mnctl_fail(MNCTL_ENET, "tree too large");
	if (mnctl_entry_decode(&e, index, leaf, leaf_len) &&
	    (w = match(mo, &e, leaf, leaf_len)) != NULL) {
		char buf[512];
		mnctl_sanitize(buf, sizeof(buf), (const uint8_t *)w->text, strlen(w->text));
		mo->matches++;
		if (mo->m->json) {
			json_t *j = mnctl_entry_json(&e);
			json_object_set_new(j, "watched", json_string(buf));
			json_object_set_new(j, "watched_kind", json_string(kKindName[w->kind]));
			json_object_set_new(j, "log", json_string(mo->m->url));
			mnctl_print_json(j);
		} else {
			log_prefix(mo);
			printf("MATCH %s %s: ", kKindName[w->kind], buf);
			mnctl_entry_print(&e);
		}
	}
	mnctl_entry_cleanup(&e);
	if (mo->progress && (mo->range.size & 255) == 0)
		progress(mo, 0);
	return MNCTL_OK;
}

/* --- state --------------------------------------------------------------- */

/* audit_save writes the audit's state to DIR/map-audit.<size>.bin and sets
 * |name| and |digest| for state.json. */
static int audit_save(struct monitor *mo, char name[64], uint8_t digest[32])
{
	char path[4200];
	uint8_t *enc;
	size_t len;
	int ret;

	if (mnctl_audit_encode(mo->audit, &enc, &len) != 0)
		return mnctl_fail(MNCTL_ELOCAL, "out of memory");
	snprintf(name, 64, "map-audit.%" PRIu64 ".bin", mnctl_audit_size(mo->audit));
	snprintf(path, sizeof(path), "%s/%s", mo->state, name);
	merkle_sha256(mo->m->h, digest, enc, len);
	ret = mnctl_write_file_atomic(path, enc, len);
	free(enc);
	return ret;
}

static int state_save(struct monitor *mo, const char *path)
{
	struct cbb b;
	uint8_t *enc = NULL, digest[32];
	size_t enc_len;
	json_t *j = json_object();
	char *text, name[64] = "";
	int ret;

	if (mo->audit != NULL && (ret = audit_save(mo, name, digest)) != MNCTL_OK) {
		json_decref(j);
		return ret;
	}
	if (!cbb_init(&b, 64 * 33 + 8, 64 * 33 + 8) || !merkle_range_encode(&mo->range, &b) ||
	    !cbb_finish(&b, &enc, &enc_len)) {
		cbb_cleanup(&b);
		json_decref(j);
		return mnctl_fail(MNCTL_ELOCAL, "cannot encode the state");
	}
	json_object_set_new(j, "url", json_string(mo->m->url));
	json_object_set_new(j, "log_id", mnctl_json_b64_new(mo->m->log_id, CT_LOG_ID_LEN));
	json_object_set_new(j, "sth", mnctl_sth_to_json(mo->m, &mo->target));
	json_object_set_new(j, "range", mnctl_json_b64_new(enc, enc_len));
	if (mo->audit != NULL)
		json_object_set_new(j, "map_audit",
				    json_pack("{s:s,s:o}", "file", name, "sha256",
					      mnctl_json_b64_new(digest, 32)));
	free(enc);
	text = json_dumps(j, JSON_INDENT(1));
	json_decref(j);
	if (text == NULL)
		return mnctl_fail(MNCTL_ELOCAL, "out of memory");
	ret = mnctl_write_file_atomic(path, (const uint8_t *)text, strlen(text));
	free(text);
	if (ret == MNCTL_OK && mo->audit_file[0] != '\0' && strcmp(mo->audit_file, name) != 0) {
		/* state.json no longer names it */
		char old[4200];
		snprintf(old, sizeof(old), "%s/%s", mo->state, mo->audit_file);
		unlink(old);
	}
	if (ret == MNCTL_OK)
		memcpy(mo->audit_file, name, sizeof(name));
	return ret;
}

/* audit_load resumes the audit state.json names (|ma|, may be NULL: none). */
static int audit_load(struct monitor *mo, const json_t *ma)
{
	const char *name = json_string_value(json_object_get(ma, "file"));
	char path[4200];
	uint8_t want[32], got[32], *data;
	size_t len;
	int ret;

	if (ma == NULL)
		return MNCTL_OK;
	if (name == NULL || strlen(name) >= sizeof(mo->audit_file) || strchr(name, '/') != NULL ||
	    !mnctl_json_b64_fixed(ma, "sha256", want, sizeof(want)))
		return mnctl_fail(MNCTL_ELOCAL, "state.json: bad map_audit");
	if (mo->audit == NULL) {
		/* not auditing: the next save drops the file */
		snprintf(mo->audit_file, sizeof(mo->audit_file), "%s", name);
		return MNCTL_OK;
	}
	snprintf(path, sizeof(path), "%s/%s", mo->state, name);
	ret = mnctl_read_file(path, (size_t)1 << 34, &data, &len);
	if (ret != MNCTL_OK)
		return ret;
	merkle_sha256(mo->m->h, got, data, len);
	snprintf(mo->audit_file, sizeof(mo->audit_file), "%s", name);
	if (memcmp(got, want, 32) != 0) {
		free(data);
		return mnctl_fail(MNCTL_ELOCAL, "%s: not the map audit state.json names", path);
	}
	mnctl_audit_free(mo->audit);
	mo->audit = NULL;
	ret = mnctl_audit_decode(&mo->audit, data, len);
	free(data);
	if (ret != 0 || mnctl_audit_size(mo->audit) != mo->range.size)
		return mnctl_fail(MNCTL_ELOCAL, "%s: bad map audit state", path);
	return MNCTL_OK;
}

/* state_load: *found = 0 if there is no state yet. */
static int state_load(struct monitor *mo, const char *path, struct mnctl_sth *sth,
		      int *found)
{
	uint8_t *text, *enc = NULL, id[CT_LOG_ID_LEN], root[MERKLE_HASH_LEN];
	size_t len, enc_len;
	json_t *j;
	json_error_t jerr;
	struct cbs cbs;
	int ret;

	*found = 0;
	if (access(path, F_OK) != 0)
		return MNCTL_OK;
	ret = mnctl_read_file(path, 1 << 20, &text, &len);
	if (ret != MNCTL_OK)
		return ret;
	j = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (!json_is_object(j) || !mnctl_json_b64_fixed(j, "log_id", id, sizeof(id)) ||
	    !mnctl_json_b64(j, "range", &enc, &enc_len, 64 * 33 + 8)) {
		ret = mnctl_fail(MNCTL_ELOCAL, "%s: not a monitor state", path);
		goto out;
	}
	if (memcmp(id, mo->m->log_id, sizeof(id)) != 0) {
		ret = mnctl_fail(MNCTL_ELOCAL, "%s: the state of another log", path);
		goto out;
	}
	cbs_init(&cbs, enc, enc_len);
	if (!merkle_range_decode(&mo->range, &cbs)) {
		ret = mnctl_fail(MNCTL_ELOCAL, "%s: bad compact range", path);
		goto out;
	}
	ret = mnctl_sth_from_json(mo->m, json_object_get(j, "sth"), sth);
	if (ret != MNCTL_OK) {
		ret = mnctl_fail(MNCTL_ELOCAL, "%s: bad STH in the state", path);
		goto out;
	}
	ret = audit_load(mo, json_object_get(j, "map_audit"));
	if (ret != MNCTL_OK)
		goto out;
	merkle_range_root(&mo->range, mo->m->h, root);
	if (mo->range.size > sth->tree_size ||
	    (mo->range.size == sth->tree_size && memcmp(root, sth->root, 32) != 0)) {
		ret = mnctl_fail(MNCTL_ELOCAL, "%s: range and STH disagree", path);
		goto out;
	}
	*found = 1;
	ret = MNCTL_OK;
out:
	free(enc);
	json_decref(j);
	return ret;
}

/* audit_from_zero: the state predates --audit-map: audit the leaves
 * [0, size) it covers, which must hash to the saved range's root (so the
 * audit saw the leaves the monitor verified). */
struct replay {
	struct monitor *mo;
	struct merkle_range range;
};

static int audit_leaf_only(void *ctx, uint64_t index, const uint8_t *leaf, size_t leaf_len)
{
	struct replay *r = ctx;
	uint8_t hash[MERKLE_HASH_LEN];
	int ret;

	if (index != r->range.size)
		return mnctl_fail(MNCTL_ENET, "entries out of order");
	ret = mnctl_audit_leaf(r->mo->audit, index, leaf, leaf_len);
	if (ret != MNCTL_OK)
		return mnctl_fail(ret, "%s", mnctl_audit_error(r->mo->audit));
	merkle_leaf_hash(r->mo->m->h, hash, leaf, leaf_len);
	if (merkle_range_append(&r->range, r->mo->m->h, hash, NULL, NULL) != 0)
		return mnctl_fail(MNCTL_ENET, "tree too large");
	return MNCTL_OK;
}

static int audit_from_zero(struct monitor *mo)
{
	struct replay r = {.mo = mo};
	uint8_t a[MERKLE_HASH_LEN], b[MERKLE_HASH_LEN];
	int ret;

	if (mnctl_audit_size(mo->audit) == mo->range.size)
		return MNCTL_OK;
	merkle_range_init(&r.range);
	ret = mnctl_fetch_entries(mo->m, 0, mo->range.size, mnctl_opts.batch, audit_leaf_only,
				  &r);
	if (ret != MNCTL_OK)
		return ret;
	merkle_range_root(&r.range, mo->m->h, a);
	merkle_range_root(&mo->range, mo->m->h, b);
	if (r.range.size != mo->range.size || memcmp(a, b, sizeof(a)) != 0)
		return mnctl_fail(MNCTL_EVERIFY,
				  "the entries 0..%" PRIu64 " served for the map audit are not "
				  "those verified before: the log served altered entries",
				  mo->range.size - 1);
	return MNCTL_OK;
}

/* check_range proves that the leaves downloaded so far are a prefix of the
 * target tree. */
static int check_range(struct monitor *mo)
{
	uint8_t root[MERKLE_HASH_LEN];
	int ret;

	merkle_range_root(&mo->range, mo->m->h, root);
	if (mo->range.size == mo->target.tree_size) {
		if (memcmp(root, mo->target.root, 32) != 0)
			return mnctl_fail(MNCTL_EVERIFY,
					  "the root recomputed from entries 0..%" PRIu64
					  " does not match the STH root: the log served "
					  "altered entries", mo->range.size - 1);
		return MNCTL_OK;
	}
	ret = mnctl_verify_consistency(mo->m, mo->range.size, root, mo->target.tree_size,
				       mo->target.root);
	if (ret == MNCTL_EVERIFY)
		mnctl_fail(MNCTL_EVERIFY,
			   "the entries up to %" PRIu64 " do not hash to a prefix of the "
			   "signed tree: the log served altered entries", mo->range.size);
	return ret;
}

int mnctl_cmd_monitor(struct mnctl *m, int argc, char **argv)
{
	(void)argv;
	if (argc != 0 || (mnctl_opts.watch == NULL && !mnctl_opts.audit_map) ||
	    mnctl_opts.state == NULL)
		return mnctl_fail(MNCTL_EUSAGE,
				  "monitor --watch FILE | --audit-map --state DIR");
	return mnctl_monitor(m, mnctl_opts.state);
}

int mnctl_monitor(struct mnctl *m, const char *state_dir)
{
	struct monitor mo = {.m = m, .state = state_dir};
	struct mnctl_sth old;
	char path[4200], hex[65];
	int ret, have_state;

	ret = mnctl_load_key(m);
	if (ret != MNCTL_OK)
		return ret;
	if (mnctl_opts.audit_map && (mo.audit = mnctl_audit_new()) == NULL)
		return mnctl_fail(MNCTL_ELOCAL, "out of memory");
	ret = mnctl_opts.watch == NULL ? MNCTL_OK : read_watch(&mo, mnctl_opts.watch);
	if (ret != MNCTL_OK)
		goto out;
	ret = mnctl_mkdirs(mo.state);
	if (ret != MNCTL_OK)
		goto out;
	snprintf(path, sizeof(path), "%s/state.json", mo.state);
	merkle_range_init(&mo.range);
	ret = state_load(&mo, path, &old, &have_state);
	if (ret != MNCTL_OK)
		goto out;
	ret = mnctl_opts.tiles ? mnctl_fetch_checkpoint(m, &mo.target)
			       : mnctl_fetch_sth(m, &mo.target);
	/* nothing is downloaded or saved for a tree no witness quorum covers */
	if (ret == MNCTL_OK)
		ret = mnctl_witness_cover(m, &mo.target, NULL);
	if (ret != MNCTL_OK)
		goto out;
	if (have_state && mnctl_opts.tiles) {
		/* No proofs on the static path: the saved range is a prefix of
		 * the saved tree, and the leaves appended to it must give the new
		 * checkpoint's root (check_range at the end), which proves the new
		 * tree consistent with the saved one. */
		if (mo.target.tree_size < old.tree_size) {
			fprintf(stderr, "mnctl: the log served an older checkpoint (%" PRIu64
				" < %" PRIu64 "); nothing to do\n", mo.target.tree_size,
				old.tree_size);
			goto out;
		}
	} else if (have_state) {
		if (mo.target.tree_size < old.tree_size) {
			/* An older head (a lagging replica): it must be a prefix. */
			ret = mnctl_verify_consistency(m, mo.target.tree_size, mo.target.root,
						       old.tree_size, old.root);
			if (ret == MNCTL_OK)
				fprintf(stderr, "mnctl: the log served an older STH (%" PRIu64
					" < %" PRIu64 "); nothing to do\n",
					mo.target.tree_size, old.tree_size);
			goto out;
		}
		ret = mnctl_verify_consistency(m, old.tree_size, old.root, mo.target.tree_size,
					       mo.target.root);
		if (ret != MNCTL_OK)
			goto out;
	}
	if (mo.audit != NULL && (ret = audit_from_zero(&mo)) != MNCTL_OK)
		goto out;
	mo.first = mo.range.size;
	mo.progress = isatty(2) && mo.target.tree_size - mo.first > mnctl_opts.batch;
	while (mo.range.size < mo.target.tree_size) {
		uint64_t left = mo.target.tree_size - mo.range.size;
		uint64_t chunk = left > mnctl_opts.checkpoint ? mnctl_opts.checkpoint : left;
		if (mnctl_opts.tiles)
			chunk = left; /* proved once, at the end */
		ret = mnctl_opts.tiles
			      ? mnctl_fetch_tile_entries(m, mo.range.size, mo.range.size + chunk,
							 mo.target.tree_size, on_leaf, &mo)
			      : mnctl_fetch_entries(m, mo.range.size, mo.range.size + chunk,
						    mnctl_opts.batch, on_leaf, &mo);
		if (ret != MNCTL_OK)
			goto out;
		fflush(stdout);
		ret = check_range(&mo);
		if (ret != MNCTL_OK)
			goto out;
		ret = state_save(&mo, path);
		if (ret != MNCTL_OK)
			goto out;
	}
	if (mo.progress)
		progress(&mo, 1);
	ret = check_range(&mo);
	if (ret == MNCTL_OK)
		ret = state_save(&mo, path);
	if (ret != MNCTL_OK)
		goto out;
	if (m->json) {
		json_t *o = json_object();
		json_object_set_new(o, "log", json_string(m->url));
		json_object_set_new(o, "tree_size", json_integer((json_int_t)mo.target.tree_size));
		json_object_set_new(o, "root", mnctl_json_b64_new(mo.target.root, 32));
		json_object_set_new(o, "first_index", json_integer((json_int_t)mo.first));
		json_object_set_new(o, "new_entries",
				    json_integer((json_int_t)(mo.target.tree_size - mo.first)));
		json_object_set_new(o, "matches", json_integer((json_int_t)mo.matches));
		if (mo.audit != NULL)
			json_object_set_new(o, "map_roots_verified",
					    json_integer((json_int_t)mnctl_audit_num_roots(mo.audit)));
		mnctl_print_json(o);
	} else {
		mnctl_hex(hex, mo.target.root, 32);
		log_prefix(&mo);
		printf("verified tree_size %" PRIu64 " root %s: %" PRIu64
		       " new entries, %" PRIu64 " matches\n", mo.target.tree_size, hex,
		       mo.target.tree_size - mo.first, mo.matches);
		if (mo.audit != NULL) {
			log_prefix(&mo);
			printf("map audit: %" PRIu64 " map roots verified, %zu keys\n",
			       mnctl_audit_num_roots(mo.audit), mnctl_audit_num_keys(mo.audit));
		}
	}
out:
	mnctl_audit_free(mo.audit);
	watch_free(&mo);
	return ret;
}
