/* lookup.c: GET /mn/v1/lookup, "what is known about example.com /
 * alice@example.com / this key", every answer with its inclusion proof
 * against one signed tree head (DESIGN.md sections 1 and 7).
 *
 *   ?domain=example.com[&subdomains=1] | ?email=alice@example.com | ?pgp=FPR
 *   [&types=tls,smime,pgp,policy] [&limit=1..100, default 50] [&cursor=N]
 *
 * Answer: {"sth": {get-sth fields}, "entries": [{"leaf_index", "entry_type",
 * "classes", "leaf_input", "extra_data", "audit_path"[, "opening"]}],
 * "next_cursor": "N" | null}. Entries come in leaf-index order, each once
 * (a certificate naming www. and mail.example.com is one entry). The cursor is
 * the last leaf index returned: new leaves only ever get higher indexes, so
 * paging is stable while the log grows. The opening of a PGP endorsement's
 * address commitment is given only to an exact email lookup, i.e. to someone
 * who already knows the address. An exact domain lookup matches that name
 * only; subdomains=1 adds every name below it, wildcards included. */
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "common/err.h"
#include "entry/ct.h"
#include "entry/x509.h"
#include "merkle/merkle.h"

#define DEFAULT_LIMIT 50
#define MAX_LIMIT 100
/* A query matching more leaves than this is refused: page through a narrower
 * one (or follow the log with get-entries, as a monitor does). */
#define MAX_MATCHES 100000

struct match {
	uint64_t index;
	unsigned classes; /* bit per class, see class_bit */
};

struct scan {
	unsigned want;      /* class bits wanted */
	uint64_t after;     /* cursor: only indexes above it, if has_cursor */
	int has_cursor;
	struct match *m;
	size_t num, cap;
	int too_many;
	uint64_t window_end; /* with a map: the last index of the page */
	int leaf_classes;    /* a mirror: certificates classed by the leaf alone */
};

static unsigned class_bit(int cls)
{
	switch (cls) {
	case NAMES_CLASS_TLS:
		return 1;
	case NAMES_CLASS_SMIME:
		return 2;
	case NAMES_CLASS_PGP:
		return 4;
	case NAMES_CLASS_POLICY:
		return 8;
	default:
		return 0;
	}
}

static const char *const class_names[4] = {"tls", "smime", "pgp", "policy"};

static int on_hit(void *ctx, const uint8_t *key, size_t key_len, uint64_t index)
{
	struct scan *s = ctx;
	unsigned bit = class_bit(names_key_class(key, key_len));

	/* classes are filtered by the caller (types=), after merging */
	if (bit == 0 || (s->has_cursor && index <= s->after))
		return 0;
	if (s->num == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		struct match *m;
		if (cap > MAX_MATCHES) {
			s->too_many = 1;
			return 1;
		}
		m = realloc(s->m, cap * sizeof(*m));
		if (m == NULL) {
			s->too_many = 1;
			return 1;
		}
		s->m = m;
		s->cap = cap;
	}
	s->m[s->num].index = index;
	s->m[s->num].classes = bit;
	s->num++;
	return 0;
}

static int cmp_match(const void *a, const void *b)
{
	const struct match *x = a, *y = b;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* parse types=tls,smime,... into class bits; 0 on a bad name */
static unsigned parse_types(const char *v, size_t len)
{
	unsigned bits = 0;
	size_t pos = 0;

	if (len == 0 || v[len - 1] == ',') /* no empty name at the end either */
		return 0;
	while (pos < len) {
		const char *comma = memchr(v + pos, ',', len - pos);
		size_t n = comma ? (size_t)(comma - (v + pos)) : len - pos;
		unsigned i;
		for (i = 0; i < 4; i++)
			if (strlen(class_names[i]) == n && memcmp(class_names[i], v + pos, n) == 0)
				break;
		if (i == 4)
			return 0;
		bits |= 1u << i;
		pos += n + 1;
	}
	return bits;
}

int api__sth_json(struct cbb *b, const struct store_sth *sth)
{
	return api__jraw(b, "{\"tree_size\":") && api__ju64(b, sth->tree_size) &&
	       api__jraw(b, ",\"timestamp\":") && api__ju64(b, sth->timestamp) &&
	       api__jraw(b, ",\"sha256_root_hash\":") && api__jb64(b, sth->root, 32) &&
	       api__jraw(b, ",\"tree_head_signature\":") &&
	       api__jb64(b, sth->sig, sth->sig_len) && api__jraw(b, "}");
}

/* write_entry writes the JSON of entry |index| (|e|, parsed as |ent|) with
 * its audit path proof[0..num). */
static int write_entry(struct cbb *b, struct store_reader *rd, uint64_t index,
		       const struct store_entry *e, const struct ct_entry *ent,
		       const uint8_t (*proof)[MERKLE_HASH_LEN], size_t num, unsigned classes,
		       int with_opening)
{
	int ok;

	ok = API__JLIT(b, "{\"leaf_index\":") && api__ju64(b, index) &&
	     API__JLIT(b, ",\"entry_type\":") && api__ju64(b, ent->entry_type) &&
	     API__JLIT(b, ",\"classes\":[");
	for (unsigned i = 0, n = 0; ok && i < 4; i++)
		if (classes & (1u << i))
			ok = (n++ == 0 || API__JLIT(b, ",")) && API__JLIT(b, "\"") &&
			     api__jraw(b, class_names[i]) && API__JLIT(b, "\"");
	ok = ok && API__JLIT(b, "],\"leaf_input\":") &&
	     api__jb64(b, e->leaf_input, e->leaf_input_len) &&
	     API__JLIT(b, ",\"extra_data\":") && api__jb64(b, e->extra, e->extra_len) &&
	     API__JLIT(b, ",\"audit_path\":[");
	for (size_t i = 0; ok && i < num; i++)
		ok = (i == 0 || API__JLIT(b, ",")) && api__jb64(b, proof[i], MERKLE_HASH_LEN);
	ok = ok && API__JLIT(b, "]");
	if (ok && with_opening && ent->entry_type == MN_PGP_ENDORSEMENT_ENTRY) {
		const uint8_t *op;
		size_t op_len;
		if (store_r_opening(rd, index, &op, &op_len) == 0)
			ok = API__JLIT(b, ",\"opening\":") && api__jb64(b, op, op_len);
	}
	return ok && API__JLIT(b, "}");
}

int api__entry_json(struct cbb *b, struct store_reader *rd, uint64_t index,
		    uint64_t tree_size, unsigned classes, int with_opening)
{
	struct store_entry e;
	struct ct_entry ent;
	uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	size_t num;

	return store_r_entry(rd, index, &e) == 0 &&
	       store_r_inclusion_proof(rd, index, tree_size, proof, &num) == 0 &&
	       ct_parse_leaf(&ent, e.leaf_input, e.leaf_input_len) &&
	       write_entry(b, rd, index, &e, &ent, (const uint8_t(*)[MERKLE_HASH_LEN])proof,
			   num, classes, with_opening);
}

/* A batch of entries of one answer: read together, so that the cache misses
 * of entries scattered over a big log overlap (store_r_inclusion_proofs,
 * store_r_entries_at). */
struct batch {
	uint64_t index[STORE_PROOF_BATCH];
	struct store_entry e[STORE_PROOF_BATCH];
	size_t num_proof[STORE_PROOF_BATCH];
	uint8_t proof[STORE_PROOF_BATCH][MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
};

/* write_entries writes the JSON of m[0..num) (comma-separated), each with its
 * audit path at |tree_size|, |bt| being scratch. Every path is a full RFC 6962
 * path, as api__entry_json writes it. Returns 1 or 0. */
static int write_entries(struct cbb *b, struct store_reader *rd, struct batch *bt,
			 const struct match *m, size_t num, uint64_t tree_size,
			 int with_opening)
{
	for (size_t base = 0; base < num; base += STORE_PROOF_BATCH) {
		size_t k = num - base < STORE_PROOF_BATCH ? num - base : STORE_PROOF_BATCH;

		for (size_t i = 0; i < k; i++)
			bt->index[i] = m[base + i].index;
		/* the proofs first: their tile slots are prefetched while the
		 * entries are searched */
		if (store_r_inclusion_proofs(rd, tree_size, bt->index, k, bt->proof,
					     bt->num_proof) != 0 ||
		    store_r_entries_at(rd, bt->index, k, bt->e) != 0)
			return 0;
		for (size_t i = 0; i < k; i++) {
			struct ct_entry ent;
			if (!ct_parse_leaf(&ent, bt->e[i].leaf_input, bt->e[i].leaf_input_len) ||
			    (base + i > 0 && !API__JLIT(b, ",")) ||
			    !write_entry(b, rd, bt->index[i], &bt->e[i], &ent,
					 (const uint8_t(*)[MERKLE_HASH_LEN])bt->proof[i],
					 bt->num_proof[i], m[base + i].classes, with_opening))
				return 0;
		}
	}
	return 1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static unsigned default_classes(struct store_reader *rd, uint64_t index, int by_leaf)
{
	struct store_entry e;
	struct ct_entry ent;

	if (store_r_entry(rd, index, &e) != 0 ||
	    !ct_parse_leaf(&ent, e.leaf_input, e.leaf_input_len))
		return 0;
	switch (ent.entry_type) {
	case MN_PGP_ENDORSEMENT_ENTRY: return 4;
	case MN_SIGNED_POLICY_ENTRY: return 8;
	case CT_X509_ENTRY:
		if (by_leaf) { /* X509_CLASS_TLS, _SMIME are the bits here */
			unsigned c = x509_leaf_classes(ent.body, ent.body_len);
			return c != 0 ? c : 1;
		}
		return 1;
	default: return 1; /* a certificate the index did not class: TLS */
	}
}

/* map_window picks the page: the first |limit| leaves above the cursor among
 * all the map's lists, in index order. It replaces s->m with them (their
 * classes from the index scan already in s->m, or from the entry type), sets
 * start[k], end[k] to the positions each list must show (the page's items
 * plus one item on each side, which proves nothing between is missing) and
 * *more if leaves remain after the page. */
static unsigned classes_of(struct store_reader *rd, const struct scan *s, uint64_t index)
{
	struct match key = {index, 0}, *f = NULL;

	if (s->num > 0)
		f = bsearch(&key, s->m, s->num, sizeof(*s->m), cmp_match);
	return f != NULL && f->classes != 0 ? f->classes
					      : default_classes(rd, index, s->leaf_classes);
}

static int map_window(struct api__map *map, struct store_reader *rd, struct scan *s,
		      int has_cursor, uint64_t after, size_t limit, size_t *start, size_t *end,
		      int *more)
{
	size_t total = 0, n = 0, k, i;
	uint64_t *all, hi;
	struct match *w;

	for (k = 0; k < map->num_lists; k++)
		total += map->lists[k].num;
	all = malloc((total ? total : 1) * sizeof(*all));
	if (all == NULL)
		return MN_ENOMEM;
	for (k = 0; k < map->num_lists; k++)
		for (i = api__map_lower(&map->lists[k], after, has_cursor); i < map->lists[k].num; i++)
			all[n++] = map->lists[k].items[i].index;
	qsort(all, n, sizeof(*all), cmp_u64);
	/* the page is |limit| leaves of the asked types (types= pages as it
	 * always did); the lists show everything between, of any type */
	for (i = 0, total = 0; i < n; i++)
		if ((total == 0 || all[total - 1] != all[i]) &&
		    (s->want == 15 || (classes_of(rd, s, all[i]) & s->want) != 0))
			all[total++] = all[i];
	*more = total > limit;
	n = total > limit ? limit : total;
	hi = *more ? all[n - 1] : UINT64_MAX;
	s->window_end = hi;
	w = malloc((n ? n : 1) * sizeof(*w));
	if (w == NULL) {
		free(all);
		return MN_ENOMEM;
	}
	for (i = 0; i < n; i++) {
		w[i].index = all[i];
		w[i].classes = classes_of(rd, s, all[i]);
	}
	free(all);
	free(s->m);
	s->m = w;
	s->num = n;
	for (k = 0; k < map->num_lists; k++) {
		const struct api__map_list *l = &map->lists[k];
		size_t a = api__map_lower(l, after, has_cursor);
		size_t b = *more ? api__map_lower(l, hi, 1) : l->num;
		start[k] = a > 0 ? a - 1 : 0;
		end[k] = b < l->num ? b + 1 : b;
	}
	return 0;
}

int api__lookup(struct api *api, const struct api_params *q, struct api__vrf_ask *vq,
		struct api_response *resp)
{
	size_t dl, el, pl, tl, sl, ll, cl;
	const char *domain = api__param(q, "domain", &dl);
	const char *email = api__param(q, "email", &el);
	const char *pgp = api__param(q, "pgp", &pl);
	const char *types = api__param(q, "types", &tl);
	const char *sub = api__param(q, "subdomains", &sl);
	const char *lim = api__param(q, "limit", &ll);
	const char *cur = api__param(q, "cursor", &cl);
	uint8_t prefix[NAMES_MAX_KEY_LEN + 1];
	char norm[NAMES_MAX_EMAIL_LEN + 1];
	enum store_index idx;
	struct scan s;
	struct store_reader *rd;
	struct store_sth sth;
	uint64_t limit = DEFAULT_LIMIT;
	int plen, subdomains = 0, ret;
	size_t i, out, n;
	struct batch *bt = NULL;
	struct cbb b;
	int ok;
	char keys[API_MAP_MAX_KEYS][MAPKEYS_MAX_STR];
	size_t nk = 0, start[API_MAP_MAX_KEYS], end[API_MAP_MAX_KEYS];
	struct api__map map;
	int has_map = 0, more = 0, vrf_key_at = -1;
	uint8_t vrf_proof[VRF_PROOF_LEN];

	memset(&s, 0, sizeof(s));
	s.want = 15;
	s.leaf_classes = api__config(api)->mirror_of != NULL;
	if ((domain != NULL) + (email != NULL) + (pgp != NULL) != 1) {
		api_response_error(resp, 400, "malformed",
				   "give exactly one of domain, email or pgp");
		return API_DONE;
	}
	if (sub != NULL) {
		if (domain == NULL || sl != 1 || (sub[0] != '0' && sub[0] != '1')) {
			api_response_error(resp, 400, "malformed",
					   "subdomains is 0 or 1, and only with domain");
			return API_DONE;
		}
		subdomains = sub[0] == '1';
	}
	if (types != NULL && (s.want = parse_types(types, tl)) == 0) {
		api_response_error(resp, 400, "malformed",
				   "types is a comma list of tls, smime, pgp, policy");
		return API_DONE;
	}
	if (lim != NULL && (!api__param_u64(lim, ll, &limit) || limit == 0 || limit > MAX_LIMIT)) {
		api_response_error(resp, 400, "malformed", "limit is 1 to 100");
		return API_DONE;
	}
	s.has_cursor = cur != NULL;
	if (cur != NULL && !api__param_u64(cur, cl, &s.after)) {
		api_response_error(resp, 400, "malformed", "cursor is not a leaf index");
		return API_DONE;
	}
	if (domain != NULL) {
		ret = names_dns_normalize(norm, sizeof(norm), domain, dl, NAMES_QUERY);
		if (ret < 0) {
			api_response_error(resp, 400, "malformed", "domain is not a valid DNS name");
			return API_DONE;
		}
		plen = names_dns_query_prefix(prefix, sizeof(prefix), norm, (size_t)ret, subdomains);
		idx = STORE_IDX_DNS;
	} else if (email != NULL) {
		ret = names_email_normalize(norm, sizeof(norm), email, el, 0);
		if (ret < 0) {
			api_response_error(resp, 400, "malformed", "email is not a valid address");
			return API_DONE;
		}
		plen = names_email_query_prefix(prefix, sizeof(prefix), norm, (size_t)ret);
		idx = STORE_IDX_EMAIL;
	} else {
		uint8_t fpr[NAMES_MAX_FPR_LEN];
		ret = names_fpr_normalize(fpr, sizeof(fpr), pgp, pl);
		if (ret < 0) {
			api_response_error(resp, 400, "malformed",
					   "pgp is not a 40 or 64 hex digit fingerprint");
			return API_DONE;
		}
		plen = names_fpr_query_prefix(prefix, sizeof(prefix), fpr, (size_t)ret);
		idx = STORE_IDX_PGP;
	}
	if (plen <= 0) {
		api_response_error(resp, 400, "malformed", "name too long to look up");
		return API_DONE;
	}
	/* the map keys the answer proves (entry/mapkeys.h) */
	if (domain != NULL) {
		/* an exact lookup is the name itself (a wildcard certificate is
		 * found by asking for "*.parent", or with subdomains=1 on the
		 * parent) */
		mapkeys_str(keys[nk++], "dns", norm, strlen(norm));
		if (subdomains) {
			if (mapkeys_registrable(norm, strlen(norm)) == 0) {
				api_response_error(resp, 400, "malformed",
						   "subdomains=1 is not served for a public suffix");
				return API_DONE;
			}
			mapkeys_str(keys[nk++], "under", norm, strlen(norm));
		}
	} else if (email != NULL) {
		if (api__config(api)->mirror_of != NULL && !api__has_vrf(api__config(api))) {
			/* its PGP endorsements are filed under a VRF of the
			 * origin's private key: without a way to the origin's
			 * proofs, a mirror cannot prove them */
			api__not_mirrored_vrf(api__config(api), resp);
			return API_DONE;
		}
		if (api__config(api)->mirror_of != NULL &&
		    !api__ends_with_map_root(api__config(api))) {
			/* an origin without the map: nothing would prove the
			 * answer (501 below), so its VRF proof is not asked */
			api__not_mirrored(api__config(api), resp);
			return API_DONE;
		}
		mapkeys_str(keys[nk++], "email", norm, strlen(norm));
		if (api__has_vrf(api__config(api))) {
			/* the address's PGP endorsements, under its VRF output
			 * (on a mirror, the origin's proof, which api.c may have
			 * to fetch first: API__VRF_FETCH, before any read) */
			ret = api__pgpaddr_key(api, keys[nk], vrf_proof, norm, strlen(norm), vq);
			if (ret == API__VRF_FETCH)
				return ret;
			if (ret != 0) {
				api__vrf_error(api__config(api), resp, ret);
				return API_DONE;
			}
			vrf_key_at = (int)nk++;
		}
	} else {
		/* the fingerprint in the index prefix is lowercase hex, NUL */
		mapkeys_str(keys[nk++], "pgp", (const char *)prefix, (size_t)plen - 1);
	}
	if (store_read_begin(api__config(api)->store, &rd) != 0) {
		api__err_response(resp, MN_EBUSY, "storage is not readable now");
		return API_DONE;
	}
	if (store_r_sth(rd, &sth) != 0) {
		store_read_end(rd);
		api_response_error(resp, 503, "unavailable", "no signed tree head yet");
		return API_DONE;
	}
	ret = store_r_index_scan(rd, idx, prefix, (size_t)plen, 1, NULL, 0, 0, on_hit, &s);
	if (ret != 0 || s.too_many) {
		store_read_end(rd);
		free(s.m);
		if (ret != 0)
			api__err_response(resp, ret, "cannot read the index");
		else
			api_response_error(resp, 400, "tooManyResults",
					   "the query matches too many entries; narrow it");
		return API_DONE;
	}
	/* one entry per leaf, in leaf order, with the union of its classes */
	if (s.num > 0)
		qsort(s.m, s.num, sizeof(*s.m), cmp_match);
	for (i = 0, n = 0; i < s.num; i++) {
		if (n > 0 && s.m[n - 1].index == s.m[i].index)
			s.m[n - 1].classes |= s.m[i].classes;
		else
			s.m[n++] = s.m[i];
	}
	s.num = n;
	/* With a map, the answer is what the map's lists hold, and proves it. */
	ret = api__map_load(&map, rd, &sth, keys, nk, MAX_MATCHES);
	if (ret == 0) {
		has_map = 1;
		if (vrf_key_at >= 0) {
			memcpy(map.lists[vrf_key_at].vrf_proof, vrf_proof, VRF_PROOF_LEN);
			map.lists[vrf_key_at].has_vrf = 1;
		}
		ret = map_window(&map, rd, &s, s.has_cursor, s.after, (size_t)limit, start, end,
				 &more);
		if (ret != 0) {
			store_read_end(rd);
			api__map_cleanup(&map);
			free(s.m);
			api__err_response(resp, ret, "cannot build the answer");
			return API_DONE;
		}
		n = s.num;
	} else if (ret == MN_ETOOBIG) {
		store_read_end(rd);
		free(s.m);
		api_response_error(resp, 400, "tooManyResults",
				   "the query matches too many entries; narrow it");
		return API_DONE;
	} else if (ret != MN_ENOTFOUND) {
		store_read_end(rd);
		free(s.m);
		api__err_response(resp, ret, "cannot read the lookup map");
		return API_DONE;
	} else if (api__config(api)->mirror_of != NULL) {
		/* a mirror has no lookup indexes: only the map's lists, proven */
		store_read_end(rd);
		free(s.m);
		api__not_mirrored(api__config(api), resp);
		return API_DONE;
	}
	/* types= filters the entries shown; a map answer still proves the whole
	 * lists (a verifying client asks without types and filters itself) */
	for (i = 0, out = 0; i < n; i++)
		if (s.m[i].classes & s.want)
			s.m[out++] = s.m[i];
	if (!has_map) {
		/* the old page: |limit| matching entries; the cursor follows them */
		n = out;
		out = n < limit ? n : (size_t)limit;
	}
	if (out > 0 && (bt = malloc(sizeof(*bt))) == NULL) {
		store_read_end(rd);
		free(s.m);
		api__err_response(resp, MN_ENOMEM, "cannot build the answer");
		return API_DONE;
	}
	ok = cbb_init(&b, 1024 + out * 2048, API_MAX_RESPONSE) && api__jraw(&b, "{\"sth\":") &&
	     api__sth_json(&b, &sth) && api__jraw(&b, ",\"entries\":[") &&
	     write_entries(&b, rd, bt, s.m, out, sth.tree_size, email != NULL);
	if (has_map)
		ok = ok && api__jraw(&b, "],\"next_cursor\":") &&
		     (more ? api__jraw(&b, "\"") && api__ju64(&b, s.window_end) &&
				     api__jraw(&b, "\"")
			   : api__jraw(&b, "null")) &&
		     api__map_json(&b, rd, &sth, &map, start, end) && api__jraw(&b, "}");
	else
		ok = ok && api__jraw(&b, "],\"next_cursor\":") &&
		     (out < n ? api__jraw(&b, "\"") && api__ju64(&b, s.m[out - 1].index) &&
				       api__jraw(&b, "\"")
			      : api__jraw(&b, "null")) &&
		     api__jraw(&b, "}");
	store_read_end(rd);
	if (has_map)
		api__map_cleanup(&map);
	free(s.m);
	free(bt);
	if (!ok) {
		cbb_cleanup(&b);
		api_response_error(resp, 500, "internal", "cannot build the answer");
		return API_DONE;
	}
	api__finish_json(resp, 200, &b);
	return API_DONE;
}
