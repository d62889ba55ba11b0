/* sequencer.h: continuous group commit (DESIGN.md section 3).
 *
 * Two formats, fixed in the store at its creation (storage/storage.h
 * store_format):
 *
 * RFC 6962 (format 0, logs created before leaf_index or with --no-leaf-index):
 * seq_submit encodes the leaf, signs its SCT and hashes it on the calling
 * thread (signing is the costly part and it parallelizes; at most max_signers
 * callers do it at once). One thread takes everything queued (up to
 * max_batch), answers duplicates from the dedup index (or from an earlier item
 * of the same batch), assigns consecutive indexes, signs the new STH, and
 * appends all of it in ONE durable store transaction. Only
 * after that commit returns are the submitters told (api_submission.done). While
 * a commit runs, new submissions queue; the next batch takes them all, so load
 * makes batches bigger, not latency longer.
 *
 * static-ct-api (STORE_FMT_LEAF_INDEX, the default for a new log): every leaf
 * carries its own index in the leaf_index extension (entry/ct.h), which is in
 * the leaf hash and in the SCT, and the index is known only once the batch is
 * sequenced. seq_submit encodes the leaf with a placeholder index and computes
 * its map keys; the sequencer thread writes each leader's index into its leaf
 * and hashes it (the cheap part), commits as above, and hands the batch to
 * max_signers signing threads, which sign the SCTs (from the leaves, their
 * timestamps unchanged) while the sequencer commits the next batch, and call
 * done. Nothing is promised before the commit. Such a log stores no SCTs: a
 * duplicate of a stored leaf gets one signed from that leaf (same timestamp
 * and index), in-batch duplicates share their leader's.
 *
 * Timestamps: ms from the real clock, never ahead of it, never below the last
 * STH's; the STH of a batch carries the batch's timestamp, so it is >= every
 * SCT it covers. When idle, the STH is re-signed every resign_ms. */
#ifndef MN_LOGD_SEQUENCER_H
#define MN_LOGD_SEQUENCER_H

#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "entry/ct.h"
#include "storage/storage.h"

struct seq_options {
	size_t max_queue;   /* waiting submissions; more get MN_EBUSY (default 65536) */
	size_t max_batch;   /* leaves per commit (default 4096) */
	uint64_t resign_ms; /* idle STH refresh period (default 30000) */
	unsigned max_signers; /* seq_submit calls signing at once, more wait; or,
			       * in a leaf_index log, the signing threads (default:
			       * the online CPUs) */
	int map;            /* maintain the lookup map (the store must be opened with
			     * .map): each submission's map keys are computed on
			     * its own thread, each batch ends with a map-root
			     * leaf, and seq_start first brings the map up to the
			     * tree (DESIGN.md section 10) */
	/* on_sth, when set, is told each newly committed STH (every batch and
	 * every idle re-signing), on the sequencer thread, after the commit:
	 * it must return at once (logd/witness.h only notes the size). */
	void (*on_sth)(void *ctx, uint64_t tree_size, uint64_t timestamp);
	void *on_sth_ctx;
};

struct seq;

/* seq_start loads the tree state from |st| (which must outlive the sequencer),
 * stores a signed STH for the empty tree if the log is new, with opt->map
 * files the keys of leaves the map does not cover yet (a log from before the
 * map, or one run with it off), and starts the thread. |signer| is borrowed. Returns 0 or MN_E*. */
int seq_start(struct seq **out, struct store *st, const struct ct_signer *signer,
	      const struct seq_options *opt);
/* seq_submit queues |sub|. Returns 0 (done will be called), MN_EBUSY (queue
 * full), MN_ESHUTDOWN (stopping); on error done is not called. Thread-safe. */
int seq_submit(struct seq *q, struct api_submission *sub);
/* seq_api returns the api_sequencer view of |q|. */
struct api_sequencer seq_api(struct seq *q);
/* seq_stop commits everything already queued, answers it, stops the thread and
 * frees |q|. Submissions after seq_stop began get MN_ESHUTDOWN. NULL is a no-op. */
void seq_stop(struct seq *q);
/* seq_metrics adds the sequencer's families (queue depth, batches, leaves,
 * duplicates, failures, tree size, STH timestamp and age, batch size and
 * commit latency histograms) to |w| (common/prom.h), each sample with the
 * label list |labels| (e.g. log="2027h1"; "" or NULL for none). Thread-safe. */
struct prom;
void seq_metrics(struct seq *q, struct prom *w, const char *labels);

#endif
