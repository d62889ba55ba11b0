/* sequenced.c: bench_map part 4, sequenced durable appends (the real sequencer,
 * seqload's submitting threads) with opt.map off and on, alternating. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/lib/load.h"
#include "bench/lib/seqload.h"
#include "bench/lib/seqstat.h"
#include "bench/map/bench_map.h"
#include "common/bytes.h"
#include "entry/ct.h"
#include "logd/sequencer.h"
#include "merkle/merkle.h"

/* --- 4. sequenced durable appends, with and without the map ----------------- */

/* bench_store's "sequenced durable appends" harness with bench_map's leaves:
 * NUM_SUBMITTERS threads keep SEQ_IN_FLIGHT submissions queued in the real
 * sequencer (seq_start/seq_submit: the leaf encoded, its SCT signed and hashed
 * and, with the map, its map keys computed by mapkeys_leaf on the submitting
 * thread; one sequencer thread commits each batch durably). Each submission
 * is a ~1 KB certificate (the templates of leaves.c, patched per submission) with
 * its lookup-index keys (computed by the submitter, as the API's threads do),
 * 64 bytes of extra data and a dedup key spread like SHA-256. The same
 * harness, store options and leaves with opt.map off and on, each from an
 * empty store, alternating, a warm-up second then a SEQ_SECONDS window. */
#define NUM_SUBMITTERS SEQLOAD_THREADS
#define SEQ_IN_FLIGHT SEQLOAD_IN_FLIGHT

/* a submission's own memory (seqload_options.slot_len) */
struct mapslot {
	struct store_index_key keys[MAX_NAMES + 1];
	uint8_t body[LEAF_MAX];
	uint8_t extra[EXTRA_LEN];
	uint8_t ikeys[MAX_NAMES][NAMES_MAX_KEY_LEN];
	uint8_t thumb[32];
};

static struct merkle_hasher *hashers[NUM_SUBMITTERS]; /* one per submitting thread */
static struct seq *the_seq;
static uint64_t seq_domains;

/* fill makes submission |id|: a certificate for domain mix(id) % seq_domains,
 * its index keys and its dedup key. */
static void fill(struct api_submission *sub, struct mapslot *b, struct merkle_hasher *h,
		 uint64_t id)
{
	static const char *const pre[MAX_NAMES] = {"", "www.", "mail."};
	const struct tmpl *t = &bmap_tmpls[bmap_mix(id ^ 0x55) & 1];
	uint64_t dom = bmap_mix(id) % seq_domains % 10000000u;
	char digits[24], name[64];
	uint64_t z = bmap_mix(id ^ 0xdedd0000ull);

	memcpy(b->body, t->der, t->len);
	snprintf(digits, sizeof(digits), "%0*" PRIu64, DIGITS, dom);
	for (size_t k = 0; k < t->num_names; k++)
		memcpy(b->body + t->name_off[k], digits, DIGITS);
	mn_put_be64(b->body + t->serial_off, (SERIAL & 0xff00000000000000ull) | id);
	sub->entry.entry_type = CT_X509_ENTRY;
	sub->entry.body = b->body;
	sub->entry.body_len = t->len;
	for (size_t k = 0; k < t->num_dns; k++) {
		int n = snprintf(name, sizeof(name), "%sd%s-bench-online-shop.com", pre[k],
				 digits);
		int kl = names_dns_key(b->ikeys[k], NAMES_MAX_KEY_LEN, name, (size_t)n,
				       NAMES_CLASS_TLS);
		if (kl <= 0)
			load_die("cannot make an index key");
		b->keys[k].index = STORE_IDX_DNS;
		b->keys[k].key_len = (uint8_t)kl;
		b->keys[k].key = b->ikeys[k];
	}
	merkle_sha256(h, b->thumb, b->body, t->len);
	b->keys[t->num_dns].index = STORE_IDX_CERT;
	b->keys[t->num_dns].key_len = 32;
	b->keys[t->num_dns].key = b->thumb;
	sub->keys = b->keys;
	sub->num_keys = t->num_dns + 1;
	memcpy(sub->dedup_key, &z, 8);
	memcpy(sub->dedup_key + 8, &id, 8);
	memcpy(sub->dedup_key + 16, b->thumb, 16);
	memset(b->extra, 0x33, sizeof(b->extra));
	sub->extra = b->extra;
	sub->extra_len = sizeof(b->extra);
}

/* fill_slot: seqload's fill hook, ids as before: submitter << 40 | counter. */
static void fill_slot(void *ctx, int thread, uint64_t seqno, struct api_submission *s,
		      uint8_t *slot)
{
	(void)ctx;
	fill(s, (struct mapslot *)slot, hashers[thread], (uint64_t)thread << 40 | seqno);
}


struct srun {
	double rate, batch, cpu_us, cpu_us_sub, wbytes, bytes_per_entry, map_per_entry;
	uint64_t tree_size, map_keys;
};

static struct srun seq_run(int mapped, unsigned seconds)
{
	char dir[700];
	struct store_options so = {0};
	struct seq_options qo = {0};
	struct store *st;
	struct store_stats ss;
	uint64_t total, failed;
	struct seq_window win;
	struct srun r;
	struct seqload *ld;
	struct seqload_options lo = {.fill = fill_slot, .slot_len = sizeof(struct mapslot)};

	memset(&r, 0, sizeof(r));
	snprintf(dir, sizeof(dir), "%s/seq-%s", bmap_base, mapped ? "map" : "plain");
	load_rm_tree(dir);
	so.dir = dir;
	so.map = mapped;
	qo.map = mapped;
	if (store_open(&st, &so) != 0 || seq_start(&the_seq, st, bmap_signer, &qo) != 0)
		load_die("sequencer setup failed");
	for (int i = 0; i < NUM_SUBMITTERS; i++)
		if ((hashers[i] = merkle_hasher_new()) == NULL)
			load_die("out of memory");
	lo.seq = seq_api(the_seq);
	ld = seqload_start(&lo);
	bench_seq_window(the_seq, ld, seconds, &win);
	seqload_stop(ld);
	seq_stop(the_seq); /* commits and answers what is still queued */
	store_get_stats(st, &ss);
	if (mapped) {
		struct store_reader *rd;
		uint64_t cov;
		uint8_t mr[32];
		if (store_read_begin(st, &rd) != 0 ||
		    store_r_map(rd, &cov, &r.map_keys, mr) != 0 || cov + 1 < ss.tree_size) {
			fprintf(stderr, "bench_map: map covers %" PRIu64 " of %" PRIu64 "\n", cov,
				ss.tree_size);
			load_die("the map does not cover the tree");
		}
		store_read_end(rd);
	}
	store_close(st);
	total = seqload_completed(ld, &failed);
	seqload_free(ld);
	for (int i = 0; i < NUM_SUBMITTERS; i++) {
		merkle_hasher_free(hashers[i]);
		hashers[i] = NULL;
	}
	/* every counted completion is a leaf of the tree; with the map the tree
	 * also holds a map-root leaf per batch (and leaf 0) */
	if (failed != 0 || win.appends == 0 || (!mapped && total != ss.tree_size) ||
	    (mapped && (total >= ss.tree_size || ss.tree_size - total < win.batches + 1)))
		load_die("sequenced run: failures, or completions do not match the tree");
	r.rate = (double)win.appends / ((double)win.ns / 1e9);
	r.batch = win.batches > 0 ? (double)win.appends / (double)win.batches : 0;
	r.cpu_us = (double)win.proc_cpu_ns / 1e3 / (double)win.appends;
	r.cpu_us_sub = (double)win.submit_cpu_ns / 1e3 / (double)win.appends;
	r.wbytes = (double)win.wbytes / (double)win.appends;
	r.bytes_per_entry = (double)ss.used_bytes / (double)ss.tree_size;
	r.map_per_entry = (double)(ss.map_tiles_bytes + ss.map_data_bytes + ss.map_items_bytes) /
			  (double)ss.tree_size;
	r.tree_size = ss.tree_size;
	fprintf(stderr, "bench_map: sequenced, map %s: %.0f /s, batch %.0f, CPU %.1f us (%.1f "
		"submitters), %.0f B written per append, tree %" PRIu64 ", %" PRIu64 " map keys\n",
		mapped ? "on" : "off", r.rate, r.batch, r.cpu_us, r.cpu_us_sub, r.wbytes,
		r.tree_size, r.map_keys);
	load_rm_tree(dir);
	return r;
}

void bmap_sequenced(unsigned rounds, unsigned seconds, uint64_t domains)
{
	struct srun pl[8], mp[8];
	double rr = 0, rc = 0;
	char a[1024] = "", b[1024] = "", c[256] = "";
	size_t la = 0, lb = 0, lc = 0;

	if (rounds > 8)
		rounds = 8;
	seq_domains = domains;
	for (unsigned k = 0; k < rounds; k++) {
		pl[k] = seq_run(0, seconds);
		mp[k] = seq_run(1, seconds);
	}
	for (unsigned k = 0; k < rounds; k++) {
		la += (size_t)snprintf(a + la, sizeof(a) - la,
				       "%s%.0f /s (batch %.0f; CPU %.1f us, submitters %.1f; %.0f B "
				       "written; tree %" PRIu64 ", %" PRIu64 " keys, map %.0f B per "
				       "entry)", k ? "; " : "", mp[k].rate, mp[k].batch,
				       mp[k].cpu_us, mp[k].cpu_us_sub, mp[k].wbytes,
				       mp[k].tree_size, mp[k].map_keys, mp[k].map_per_entry);
		lb += (size_t)snprintf(b + lb, sizeof(b) - lb,
				       "%s%.0f /s (batch %.0f; CPU %.1f us, submitters %.1f; %.0f B "
				       "written; tree %" PRIu64 ")", k ? "; " : "", pl[k].rate,
				       pl[k].batch, pl[k].cpu_us, pl[k].cpu_us_sub, pl[k].wbytes,
				       pl[k].tree_size);
		lc += (size_t)snprintf(c + lc, sizeof(c) - lc, "%s%.2f (CPU %.2f)", k ? ", " : "",
				       mp[k].rate / pl[k].rate, pl[k].cpu_us / mp[k].cpu_us);
		rr += mp[k].rate / pl[k].rate / rounds;
		rc += pl[k].cpu_us / mp[k].cpu_us / rounds;
	}
	printf("| map: SEQUENCED durable appends with the map (seq_start/seq_submit, opt.map "
	       "on; %d submitting threads, %d in flight; %zu/%zu-byte %s certificates with "
	       "their index keys, 2-5 map keys each, %" PRIu64 " domains; %u s window after 1 s, "
	       "from empty, %u alternating rounds) | %s | the same without the map (opt.map "
	       "off): %s | %s; mean %.2f (CPU %.2f) |\n",
	       NUM_SUBMITTERS, SEQ_IN_FLIGHT, bmap_tmpls[0].len, bmap_tmpls[1].len,
	       bmap_p256 ? "P-256" : "RSA", domains, seconds, rounds, a, b, c, rr, rc);
	fflush(stdout);
}
