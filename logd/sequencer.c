/* sequencer.c: the single writer. See sequencer.h for the contract. */
#include "logd/sequencer.h"

#include <inttypes.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/bytes.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/prom.h"
#include "entry/mapkeys.h"
#include "logd/mapcatch.h"
#include "logd/seq_internal.h"
#include "logd/signpool.h"
#include "merkle/merkle.h"

static const double commit_bounds[NUM_BUCKETS - 1] = {
	0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0};

/* A job's dedup key for sorting the batch's store lookups: the first 8 bytes as
 * a big-endian number decide most comparisons without touching the key. */
struct key_order {
	uint64_t prefix;
	const uint8_t *key;
	struct job *job;
};

static int key_order_cmp(const void *a, const void *b)
{
	const struct key_order *x = a, *y = b;

	if (x->prefix != y->prefix)
		return x->prefix < y->prefix ? -1 : 1;
	return memcmp(x->key, y->key, 32);
}

void seq__job_free(struct job *j)
{
	free(j->leaf); /* and the SCT after it */
	free(j->map_keys);
	free(j);
}

static uint64_t next_timestamp(struct seq *q)
{
	uint64_t now = mn_now_ms();
	/* Never below the last STH: the tree head's time must not go backwards. A
	 * wall clock that stepped back is the only way this is ahead of "now". */
	return now > q->last_ts ? now : q->last_ts;
}

static struct merkle_hasher *hasher_get(struct seq *q)
{
	struct merkle_hasher *h = NULL;

	pthread_mutex_lock(&q->pool_mu);
	if (q->num_pool > 0)
		h = q->pool[--q->num_pool];
	pthread_mutex_unlock(&q->pool_mu);
	return h != NULL ? h : merkle_hasher_new();
}

static void hasher_put(struct seq *q, struct merkle_hasher *h)
{
	pthread_mutex_lock(&q->pool_mu);
	if (q->num_pool < SEQ_POOL) {
		q->pool[q->num_pool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&q->pool_mu);
	merkle_hasher_free(h);
}

/* make_sth signs the tree head (RFC 6962 section 3.5) into |sth|. */
static int make_sth(struct seq *q, struct store_sth *sth, uint64_t ts, const uint8_t root[32],
		    uint64_t tree_size)
{
	struct ct_sig sig;
	struct cbb cbb;
	uint8_t *der;
	size_t der_len;
	int ret;

	memset(sth, 0, sizeof(*sth));
	sth->tree_size = tree_size;
	sth->timestamp = ts;
	memcpy(sth->root, root, 32);
	ret = ct_sign_sth(q->signer, &sig, ts, tree_size, root);
	if (ret != 0)
		return ret;
	if (!cbb_init(&cbb, 96, STORE_MAX_SIG_LEN) || !ct_write_sig(&cbb, &sig) ||
	    !cbb_finish(&cbb, &der, &der_len)) {
		cbb_cleanup(&cbb);
		return MN_ENOMEM;
	}
	memcpy(sth->sig, der, der_len);
	sth->sig_len = (uint16_t)der_len;
	free(der);
	return 0;
}

static void sth_committed(struct seq *q, const struct store_sth *sth)
{
	q->last_ts = sth->timestamp;
	pthread_mutex_lock(&q->mu);
	q->sth_timestamp = sth->timestamp;
	q->tree_size = sth->tree_size;
	pthread_mutex_unlock(&q->mu);
	if (q->opt.on_sth != NULL)
		q->opt.on_sth(q->opt.on_sth_ctx, sth->tree_size, sth->timestamp);
}

static int sign_and_store_sth(struct seq *q, const struct store_leaf *leaves, size_t num,
			      uint64_t ts, const uint8_t root[32], uint64_t tree_size)
{
	struct store_sth sth;
	int ret = make_sth(q, &sth, ts, root, tree_size);

	if (ret != 0)
		return ret;
	ret = store_append_batch(q->st, leaves, num, &sth);
	if (ret == 0)
		sth_committed(q, &sth);
	return ret;
}

static int resign(struct seq *q)
{
	struct merkle_range r;
	uint8_t root[32];
	int ret;

	store_get_range(q->st, &r);
	merkle_range_root(&r, q->hasher, root);
	ret = sign_and_store_sth(q, NULL, 0, next_timestamp(q), root, r.size);
	if (ret != 0)
		mn_error("sth_resign", "err=%s", mn_err_name(ret));
	else {
		pthread_mutex_lock(&q->mu);
		q->resigns++;
		pthread_mutex_unlock(&q->mu);
	}
	return ret;
}

/* prepare encodes the leaf, signs its SCT (RFC 6962 section 3.2) and hashes
 * the leaf, on the calling thread. The timestamp comes from the real clock
 * now; the batch's STH will carry a timestamp >= it. */
static int prepare(struct seq *q, struct job *j)
{
	struct api_submission *sub = j->sub;
	struct merkle_hasher *h;
	struct ct_sct sct;
	struct cbb cbb;
	size_t leaf_len, len;
	int ret = 0;

	j->ts = mn_now_ms();
	sub->entry.timestamp = j->ts;
	if (!ct_entry_type_known(sub->entry.entry_type) || sub->entry.body_len == 0 ||
	    sub->entry.body_len > CT_MAX_BODY_LEN)
		return MN_EINVAL;
	if (q->leaf_index) {
		/* The leaf with leaf_index 0 for now: the sequencer overwrites its
		 * last 5 bytes. The submitter's own extensions (none come from
		 * the API) are not the log's to keep. */
		struct ct_entry e = sub->entry;
		uint8_t ext[CT_LEAF_INDEX_EXT_LEN];
		if (!ct_leaf_index_ext(ext, 0))
			return MN_EINTERNAL;
		e.extensions = ext;
		e.extensions_len = sizeof(ext);
		if (!cbb_init(&cbb, e.body_len + 64 + sizeof(ext), SIZE_MAX) ||
		    !ct_write_leaf(&cbb, &e) || !cbb_finish(&cbb, &j->leaf, &j->leaf_len)) {
			cbb_cleanup(&cbb);
			return MN_ENOMEM;
		}
		if (!q->opt.map)
			return 0;
		h = hasher_get(q);
		if (h == NULL)
			return MN_ENOMEM;
		goto map_keys;
	}
	/* One buffer holds the leaf and, after it, the SCT: one allocation (and
	 * one free, on the sequencer thread) per job instead of two. The entry
	 * is well formed: failing to encode it can only be memory. */
	if (!cbb_init(&cbb, sub->entry.body_len + sub->entry.extensions_len + 64 + 160,
		      SIZE_MAX) ||
	    !ct_write_leaf(&cbb, &sub->entry) || (leaf_len = cbb_len(&cbb)) == 0) {
		cbb_cleanup(&cbb);
		return MN_ENOMEM;
	}
	ret = ct_sign_sct(q->signer, &sct, &sub->entry);
	if (ret != 0) {
		cbb_cleanup(&cbb);
		return ret;
	}
	if (!ct_write_sct(&cbb, &sct) || !cbb_finish(&cbb, &j->leaf, &len)) {
		cbb_cleanup(&cbb);
		return MN_ENOMEM;
	}
	j->leaf_len = leaf_len;
	j->sct = j->leaf + leaf_len;
	j->sct_len = len - leaf_len;
	if (j->sct_len > SCT_MAX_LEN)
		return MN_ENOMEM; /* as the SCT's own capped builder said before */
	h = hasher_get(q);
	if (h == NULL)
		return MN_ENOMEM;
	merkle_leaf_hash(h, j->leaf_hash, j->leaf, j->leaf_len);
map_keys:
	if (q->opt.map) {
		/* the map keys come from the leaf as a replayer sees it */
		uint8_t (*keys)[MAP_KEY_LEN] = malloc(MAPKEYS_MAX * MAP_KEY_LEN);
		size_t n = 0;
		int cut = 0;
		ret = keys == NULL ? MN_ENOMEM :
				     mapkeys_leaf(h, j->leaf, j->leaf_len, keys, &n, &cut);
		if (ret == 0 && cut)
			ret = MN_ETOOBIG; /* more names than the map files per leaf */
		if (ret == 0 && n > 0) {
			j->map_keys = realloc(keys, n * MAP_KEY_LEN);
			if (j->map_keys == NULL)
				j->map_keys = keys;
			keys = NULL;
		}
		j->num_map_keys = n;
		free(keys);
	}
	hasher_put(q, h);
	return ret;
}

/* Small open-addressing set over dedup keys for one batch. */
static size_t find_slot(const int32_t *slots, size_t mask, struct job *const *jobs,
			const uint8_t key[32])
{
	uint64_t h;
	size_t i;

	/* Dedup keys are hashes in the API, but do not count on their low bits:
	 * a Fibonacci multiply spreads any 8 bytes over the table. */
	memcpy(&h, key, sizeof(h));
	h *= 0x9e3779b97f4a7c15ull;
	for (i = (size_t)(h >> 32) & mask;; i = (i + 1) & mask) {
		if (slots[i] < 0 || memcmp(jobs[slots[i]]->sub->dedup_key, key, 32) == 0)
			return i;
	}
}

static unsigned batch_bucket(size_t n)
{
	unsigned b = 0;
	while (b < NUM_BUCKETS - 1 && ((size_t)1 << b) < n)
		b++;
	return b;
}

/* policy_serial_ok: jobs[i]'s serial is above the head stored in |rd| (may be
 * NULL) and above every earlier leader of this batch with the same key. */
static int policy_serial_ok(struct job *const *jobs, size_t i, struct store_reader *rd)
{
	const struct api_submission *sub = jobs[i]->sub;
	uint64_t serial, idx;

	if (rd != NULL && store_r_policy_head(rd, sub->policy_key, sub->policy_key_len,
					      &serial, &idx) == 0 &&
	    serial >= sub->policy_serial)
		return 0;
	for (size_t k = 0; k < i; k++) {
		const struct api_submission *o = jobs[k]->sub;
		if (jobs[k]->leader == -1 && o->policy_key_len == sub->policy_key_len &&
		    memcmp(o->policy_key, sub->policy_key, sub->policy_key_len) == 0 &&
		    o->policy_serial >= sub->policy_serial)
			return 0;
	}
	return 1;
}

/* The map-root leaf and the STH of a mapped batch, made inside the store's
 * write transaction (store_map_commit). */
struct map_commit_ctx {
	struct seq *q;
	uint64_t ts;
	uint8_t leaf[MAPKEYS_ROOT_LEAF_IDX_LEN];
};

static int map_leaf_hook(void *ctx, uint64_t covered, uint64_t num_keys,
			 const uint8_t map_root[MERKLE_HASH_LEN], struct store_leaf *out)
{
	struct map_commit_ctx *c = ctx;
	struct mapkeys_root mr;

	mr.covered = covered;
	mr.num_keys = num_keys;
	memcpy(mr.root, map_root, MERKLE_HASH_LEN);
	/* In a leaf_index log the map-root leaf carries its index (|covered|)
	 * too: every leaf i of such a log carries i, whoever wrote it. */
	if (c->q->leaf_index) {
		if (!mapkeys_root_leaf_indexed(c->leaf, c->ts, &mr))
			return MN_ENOSPACE; /* 2^40 leaves */
		out->leaf_input_len = MAPKEYS_ROOT_LEAF_IDX_LEN;
	} else {
		mapkeys_root_leaf(c->leaf, c->ts, &mr);
		out->leaf_input_len = MAPKEYS_ROOT_LEAF_LEN;
	}
	out->leaf_input = c->leaf;
	merkle_leaf_hash(c->q->hasher, out->leaf_hash, c->leaf, out->leaf_input_len);
	mapkeys_root_dedup(c->q->hasher, out->dedup_key, out->leaf_hash);
	return 0;
}

static int map_sign_hook(void *ctx, uint64_t tree_size, const uint8_t root[MERKLE_HASH_LEN],
			 struct store_sth *out)
{
	struct map_commit_ctx *c = ctx;

	return make_sth(c->q, out, c->ts, root, tree_size);
}

static int commit_mapped(struct seq *q, const struct store_leaf *leaves, size_t num,
			 uint64_t ts)
{
	struct map_commit_ctx c = {q, ts, {0}};
	struct store_map_commit mc = {map_leaf_hook, map_sign_hook, &c};
	struct store_sth sth;
	int ret = store_append_mapped(q->st, leaves, num, &mc, &sth);

	if (ret == 0)
		sth_committed(q, &sth);
	return ret;
}

static void process_batch(struct seq *q, struct job *list, size_t n)
{
	struct job **jobs = calloc(n, sizeof(*jobs));
	struct store_leaf *leaves = calloc(n, sizeof(*leaves));
	struct key_order *order = calloc(n, sizeof(*order));
	size_t cap = 16, num_leaves = 0, i, num_dups = 0;
	int32_t *slots;
	struct store_reader *rd = NULL;
	struct merkle_range range;
	uint8_t root[32];
	uint64_t ts, t0;
	int ret = 0;

	while (cap < 2 * n)
		cap <<= 1;
	slots = malloc(cap * sizeof(*slots));
	if (jobs == NULL || leaves == NULL || order == NULL || slots == NULL) {
		while (list != NULL) {
			struct job *next = list->next;
			if (q->leaf_index)
				__atomic_sub_fetch(&q->signing, 1, __ATOMIC_RELAXED);
			list->sub->done(list->sub, MN_ENOMEM, NULL, 0, 0);
			seq__job_free(list);
			list = next;
		}
		goto out;
	}
	memset(slots, 0xff, cap * sizeof(*slots));
	for (i = 0; i < n; i++, list = list->next)
		jobs[i] = list;

	/* Duplicates: already in the log (answer with the stored SCT), or earlier
	 * in this batch (answer with that job's SCT after the commit). A policy
	 * whose serial is not above the current head (stored, or earlier in this
	 * batch) is refused here, alone, so it cannot fail the whole batch. */
	ret = store_read_begin(q->st, &rd);
	if (ret == 0) {
		/* The store lookups in key order: each walks the B-tree pages the
		 * one before it walked (in cache), not a random path. */
		for (i = 0; i < n; i++) {
			order[i].key = jobs[i]->sub->dedup_key;
			order[i].prefix = mn_get_be64(order[i].key);
			order[i].job = jobs[i];
		}
		qsort(order, n, sizeof(*order), key_order_cmp);
		for (i = 0; i < n; i++) {
			struct job *j = order[i].job;
			j->stored = store_r_dedup(rd, order[i].key, &j->stored_index) == 0;
		}
	}
	for (i = 0; i < n; i++) {
		struct job *j = jobs[i];
		size_t s;

		j->leader = -1;
		if (ret == 0 && j->stored) {
			struct store_entry e;
			if (store_r_entry(rd, j->stored_index, &e) == 0) {
				num_dups++;
				if (!q->leaf_index || e.sct_len > 0) {
					j->leader = -2;
					j->sub->done(j->sub, 0, e.sct, e.sct_len, j->stored_index);
				} else if (seq__stored_leaf(j, &e)) {
					/* signed after the commit, by a signing
					 * thread, like the batch's own SCTs */
					j->leader = -3;
					j->index = j->stored_index;
				} else {
					j->leader = -2;
					j->sub->done(j->sub, MN_ENOMEM, NULL, 0, 0);
				}
				continue;
			}
		}
		s = find_slot(slots, cap - 1, jobs, j->sub->dedup_key);
		if (slots[s] >= 0) {
			j->leader = slots[s];
			num_dups++;
		} else if (j->sub->policy_key_len > 0 &&
			   !policy_serial_ok(jobs, i, ret == 0 ? rd : NULL)) {
			j->leader = -2;
			j->sub->done(j->sub, MN_ERANGE, NULL, 0, 0);
		} else {
			slots[s] = (int32_t)i;
		}
	}
	if (rd != NULL)
		store_read_end(rd);
	ret = 0;

	/* The STH must not be older than any SCT it covers (they were signed
	 * with the clock of their submitters) nor than the previous STH. */
	ts = next_timestamp(q);
	store_get_range(q->st, &range);
	for (i = 0; i < n && ret == 0; i++) {
		struct job *j = jobs[i];
		struct store_leaf *l;

		if (j->leader != -1)
			continue;
		if (j->ts > ts)
			ts = j->ts;
		j->index = range.size;
		if (q->leaf_index) {
			/* the index goes into the leaf, then the leaf is hashed */
			if (!ct_leaf_index_ext(j->leaf + j->leaf_len - CT_LEAF_INDEX_EXT_LEN,
					       j->index)) {
				ret = MN_ENOSPACE; /* 2^40 leaves */
				break;
			}
			merkle_leaf_hash(q->hasher, j->leaf_hash, j->leaf, j->leaf_len);
		}
		l = &leaves[num_leaves++];
		l->leaf_input = j->leaf;
		l->leaf_input_len = j->leaf_len;
		l->extra = j->sub->extra;
		l->extra_len = j->sub->extra_len;
		l->sct = j->sct;
		l->sct_len = j->sct_len;
		memcpy(l->leaf_hash, j->leaf_hash, 32);
		memcpy(l->dedup_key, j->sub->dedup_key, 32);
		l->opening = j->sub->opening;
		l->opening_len = j->sub->opening_len;
		l->keys = j->sub->keys;
		l->num_keys = j->sub->num_keys;
		l->policy_key = j->sub->policy_key;
		l->policy_key_len = j->sub->policy_key_len;
		l->policy_serial = j->sub->policy_serial;
		l->map_keys = (const uint8_t(*)[32])j->map_keys;
		l->num_map_keys = j->num_map_keys;
		ret = merkle_range_append(&range, q->hasher, l->leaf_hash, NULL, NULL);
	}
	if (ret == 0 && num_leaves > 0) {
		t0 = mn_mono_ns();
		if (q->opt.map) {
			ret = commit_mapped(q, leaves, num_leaves, ts);
		} else {
			merkle_range_root(&range, q->hasher, root);
			ret = sign_and_store_sth(q, leaves, num_leaves, ts, root, range.size);
		}
		t0 = mn_mono_ns() - t0;
		pthread_mutex_lock(&q->mu);
		q->commit_ns_sum += t0;
		{
			unsigned b = 0;
			while (b < NUM_BUCKETS - 1 && (double)t0 / 1e9 > commit_bounds[b])
				b++;
			q->commit_hist[b]++;
		}
		pthread_mutex_unlock(&q->mu);
	}
	if (ret != 0)
		mn_error("commit", "leaves=%zu err=%s msg=\"%s\"", num_leaves,
			 mn_err_name(ret), mn_strerror(ret));

	/* Only now, after the durable commit, does anyone hear back. */
	if (q->leaf_index) {
		seq__hand_to_signers(q, jobs, n, ret);
		goto counted;
	}
	for (i = 0; i < n; i++) {
		struct job *j = jobs[i];
		struct job *src;

		if (j->leader == -2)
			continue;
		src = j->leader >= 0 ? jobs[j->leader] : j;
		if (ret == 0)
			j->sub->done(j->sub, 0, src->sct, src->sct_len, src->index);
		else
			j->sub->done(j->sub, ret, NULL, 0, 0);
	}
	for (i = 0; i < n; i++)
		seq__job_free(jobs[i]);
counted:
	pthread_mutex_lock(&q->mu);
	q->batches++;
	q->batch_hist[batch_bucket(n)]++;
	if (ret == 0) {
		q->leaves += num_leaves;
		q->dups += num_dups;
	} else {
		q->errors += n;
	}
	pthread_mutex_unlock(&q->mu);
out:
	free(jobs);
	free(leaves);
	free(order);
	free(slots);
}

static void *seq_main(void *arg)
{
	struct seq *q = arg;
	uint64_t last_sign = mn_mono_ns();

	for (;;) {
		struct job *list, *tail;
		size_t n = 0;
		int stop;

		pthread_mutex_lock(&q->mu);
		while (q->head == NULL && !q->stopping) {
			uint64_t due = last_sign + q->opt.resign_ms * 1000000ull;
			uint64_t now = mn_mono_ns();
			struct timespec ts;
			if (now >= due)
				break;
			clock_gettime(CLOCK_REALTIME, &ts);
			{
				uint64_t wait = due - now;
				ts.tv_sec += (time_t)(wait / 1000000000ull);
				ts.tv_nsec += (long)(wait % 1000000000ull);
				if (ts.tv_nsec >= 1000000000L) {
					ts.tv_sec++;
					ts.tv_nsec -= 1000000000L;
				}
			}
			pthread_cond_timedwait(&q->cond, &q->mu, &ts);
		}
		list = q->head;
		tail = NULL;
		for (struct job *p = list; p != NULL && n < q->opt.max_batch;
		     p = p->next) {
			tail = p;
			n++;
		}
		if (tail != NULL) {
			q->head = tail->next;
			if (q->head == NULL)
				q->tail = NULL;
			tail->next = NULL;
			q->queued -= n;
			if (q->leaf_index) /* still unanswered: see seq.signing */
				__atomic_add_fetch(&q->signing, n, __ATOMIC_RELAXED);
		}
		stop = q->stopping && q->head == NULL;
		pthread_mutex_unlock(&q->mu);

		if (n > 0) {
			process_batch(q, list, n);
			last_sign = mn_mono_ns();
		} else if (!stop && mn_mono_ns() >= last_sign + q->opt.resign_ms * 1000000ull) {
			resign(q);
			last_sign = mn_mono_ns();
		}
		if (stop && n == 0)
			break;
	}
	return NULL;
}


/* map_commit_if_needed appends a map-root leaf alone when the tree does not
 * end with one (the map was just caught up, or the log ran without it, or the
 * log is new: its leaf 0 is then the root of the empty map), so that lookups
 * can prove completeness, absence included, before the next submission. */
static int map_commit_if_needed(struct seq *q)
{
	struct merkle_range r;
	struct store_reader *rd;
	struct store_entry e;
	struct ct_entry ce;
	int ret, ends_with_root = 0;

	store_get_range(q->st, &r);
	if (r.size == 0)
		goto commit;
	ret = store_read_begin(q->st, &rd);
	if (ret != 0)
		return ret;
	if (store_r_entry(rd, r.size - 1, &e) == 0 &&
	    ct_parse_leaf(&ce, e.leaf_input, e.leaf_input_len))
		ends_with_root = ce.entry_type == MN_MAP_ROOT_ENTRY;
	store_read_end(rd);
	if (ends_with_root)
		return 0;
commit:
	ret = commit_mapped(q, NULL, 0, next_timestamp(q));
	if (ret == 0)
		mn_info("map_commit", "tree_size=%" PRIu64, r.size + 1);
	return ret;
}

int seq_start(struct seq **out, struct store *st, const struct ct_signer *signer,
	      const struct seq_options *opt)
{
	struct seq *q = calloc(1, sizeof(*q));
	int ret;

	*out = NULL;
	if (q == NULL)
		return MN_ENOMEM;
	q->st = st;
	q->signer = signer;
	q->leaf_index = (store_format(st) & STORE_FMT_LEAF_INDEX) != 0;
	if (opt != NULL)
		q->opt = *opt;
	if (q->opt.max_queue == 0)
		q->opt.max_queue = 65536;
	if (q->opt.max_batch == 0)
		q->opt.max_batch = 4096;
	if (q->opt.resign_ms == 0)
		q->opt.resign_ms = 30000;
	q->hasher = merkle_hasher_new();
	if (q->hasher == NULL) {
		free(q);
		return MN_ENOMEM;
	}
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cond, NULL);
	pthread_mutex_init(&q->pool_mu, NULL);
	if (q->opt.max_signers == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		q->opt.max_signers = n > 0 ? (unsigned)n : 1;
	}
	sem_init(&q->signers, 0, q->opt.max_signers);

	{
		struct store_reader *rd;
		struct store_sth sth;
		if (store_read_begin(st, &rd) == 0) {
			if (store_r_sth(rd, &sth) == 0) {
				q->last_ts = sth.timestamp;
				q->sth_timestamp = sth.timestamp;
				q->tree_size = sth.tree_size;
			}
			store_read_end(rd);
		}
	}
	if (!store_has_sth(st)) {
		ret = resign(q);
		if (ret != 0)
			goto err;
	}
	if (q->opt.map && (ret = mapcatch_run(q->st, q->hasher)) != 0)
		goto err;
	if (q->opt.map && (ret = map_commit_if_needed(q)) != 0)
		goto err;
	if (q->leaf_index &&
	    (ret = signpool_start(&q->signers_pool, q->opt.max_signers, SIGN_CHUNK, seq__sign_chunk,
				  q, "mn-sct-signer")) != 0)
		goto err;
	if (pthread_create(&q->thread, NULL, seq_main, q) != 0) {
		ret = MN_EINTERNAL;
		goto err;
	}
	/* so that top -H and perf tell the one writer from the signing threads */
	(void)pthread_setname_np(q->thread, "mn-sequencer");
	*out = q;
	return 0;
err:
	signpool_stop(q->signers_pool);
	merkle_hasher_free(q->hasher);
	pthread_mutex_destroy(&q->pool_mu);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cond);
	sem_destroy(&q->signers);
	free(q);
	return ret;
}

int seq_submit(struct seq *q, struct api_submission *sub)
{
	struct job *j;
	int ret = 0;

	/* Refuse early, before spending a signature on it. What waits for its
	 * SCT counts too: the signing threads must not fall behind unbounded. */
	pthread_mutex_lock(&q->mu);
	if (q->stopping)
		ret = MN_ESHUTDOWN;
	else if (q->queued + __atomic_load_n(&q->signing, __ATOMIC_RELAXED) >= q->opt.max_queue)
		ret = MN_EBUSY;
	pthread_mutex_unlock(&q->mu);
	if (ret != 0)
		return ret;
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return MN_ENOMEM;
	j->sub = sub;
	if (q->leaf_index) {
		ret = prepare(q, j); /* no signature here: nothing to ration */
	} else {
		while (sem_wait(&q->signers) != 0)
			; /* EINTR */
		ret = prepare(q, j);
		sem_post(&q->signers);
	}
	if (ret != 0) {
		seq__job_free(j);
		return ret;
	}
	pthread_mutex_lock(&q->mu);
	if (q->stopping) {
		ret = MN_ESHUTDOWN;
	} else if (q->queued >= q->opt.max_queue) {
		ret = MN_EBUSY;
	} else {
		if (q->tail != NULL)
			q->tail->next = j;
		else
			q->head = j;
		q->tail = j;
		q->queued++;
		pthread_cond_signal(&q->cond);
	}
	pthread_mutex_unlock(&q->mu);
	if (ret != 0)
		seq__job_free(j);
	return ret;
}

static int submit_thunk(void *impl, struct api_submission *sub)
{
	return seq_submit(impl, sub);
}

struct api_sequencer seq_api(struct seq *q)
{
	struct api_sequencer a = {submit_thunk, q};
	return a;
}

void seq_stop(struct seq *q)
{
	if (q == NULL)
		return;
	pthread_mutex_lock(&q->mu);
	q->stopping = 1;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->mu);
	pthread_join(q->thread, NULL);
	signpool_stop(q->signers_pool); /* after the sequencer: it hands them its
					   * last batch */
	merkle_hasher_free(q->hasher);
	while (q->num_pool > 0)
		merkle_hasher_free(q->pool[--q->num_pool]);
	pthread_mutex_destroy(&q->pool_mu);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cond);
	sem_destroy(&q->signers);
	free(q);
}

void seq_metrics(struct seq *q, struct prom *w, const char *labels)
{
	double batch_bounds[NUM_BUCKETS - 1];
	uint64_t batch_hist[NUM_BUCKETS], commit_hist[NUM_BUCKETS];
	uint64_t queued, batches, leaves, dups, errors, resigns, tree_size, sth_ts, commit_ns;
	unsigned b;

	for (b = 0; b < NUM_BUCKETS - 1; b++)
		batch_bounds[b] = (double)(1u << b);
	/* copy under the lock, format outside it */
	pthread_mutex_lock(&q->mu);
	queued = q->queued;
	batches = q->batches;
	leaves = q->leaves;
	dups = q->dups;
	errors = q->errors;
	resigns = q->resigns;
	tree_size = q->tree_size;
	sth_ts = q->sth_timestamp;
	commit_ns = q->commit_ns_sum;
	memcpy(batch_hist, q->batch_hist, sizeof(batch_hist));
	memcpy(commit_hist, q->commit_hist, sizeof(commit_hist));
	pthread_mutex_unlock(&q->mu);

	prom_family(w, "mn_sequencer_queue_depth", PROM_GAUGE,
		    "Submissions queued for the next commit.");
	prom_u64(w, labels, NULL, queued);
	prom_family(w, "mn_sequencer_batches_total", PROM_COUNTER, "Batches committed.");
	prom_u64(w, labels, NULL, batches);
	prom_family(w, "mn_sequencer_leaves_total", PROM_COUNTER, "Leaves appended to the tree.");
	prom_u64(w, labels, NULL, leaves);
	prom_family(w, "mn_sequencer_duplicates_total", PROM_COUNTER,
		    "Submissions answered with the SCT of an entry already logged.");
	prom_u64(w, labels, NULL, dups);
	prom_family(w, "mn_sequencer_failed_total", PROM_COUNTER,
		    "Submissions answered with an error by the sequencer.");
	prom_u64(w, labels, NULL, errors);
	prom_family(w, "mn_sth_resigns_total", PROM_COUNTER,
		    "Tree heads re-signed without new leaves (idle for MMD/2).");
	prom_u64(w, labels, NULL, resigns);
	prom_family(w, "mn_tree_size", PROM_GAUGE, "Leaves in the latest signed tree head.");
	prom_u64(w, labels, NULL, tree_size);
	prom_family(w, "mn_sth_timestamp_seconds", PROM_GAUGE,
		    "Timestamp of the latest signed tree head (Unix time).");
	prom_f64(w, labels, NULL, (double)sth_ts / 1000.0);
	prom_family(w, "mn_sth_age_seconds", PROM_GAUGE, "Age of the latest signed tree head.");
	prom_f64(w, labels, NULL, sth_ts ? (double)(mn_now_ms() - sth_ts) / 1000.0 : 0.0);
	prom_family(w, "mn_sequencer_batch_size", PROM_HISTOGRAM,
		    "Submissions per committed batch.");
	prom_histogram(w, labels, NULL, batch_bounds, NUM_BUCKETS - 1, batch_hist,
		       (double)(leaves + dups + errors));
	prom_family(w, "mn_sequencer_commit_seconds", PROM_HISTOGRAM,
		    "Time of one batch's durable commit (sign, write, fsync).");
	prom_histogram(w, labels, NULL, commit_bounds, NUM_BUCKETS - 1, commit_hist,
		       (double)commit_ns / 1e9);
}
