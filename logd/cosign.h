/* cosign.h: a log's witnessed checkpoints (issue 16, c2sp.org/tlog-witness
 * v1.0.0, tlog-cosignature cosignature/v1, tlog-policy).
 *
 * The sequencer commits and signs an STH per batch as ever, and tells the
 * collector (cosign_sth, its seq_options.on_sth hook; it only notes that
 * there is something new, so only the latest STH matters). One thread per
 * log runs rounds: a round takes the log's own checkpoint of the store's
 * latest STH (api_log_checkpoint) and POSTs add-checkpoint to every witness
 * of the policy at once (libcurl multi, one kept-alive connection per
 * witness), each with the consistency proof from the size that witness last
 * cosigned (unknown at start: old 0; a 409 tells the size, and the request
 * is redone once with a proof from it). A 200's cosignature lines are
 * verified (cosig_verify) before they count. 400, 403, 404, 422, a 409 that
 * cannot be resolved, a timeout, a refused connection, a bad cosignature:
 * counted and logged with the witness's name and the reason, and the witness
 * is retried with backoff (100 ms doubling to 5 s).
 *
 * As soon as the witnesses that cosigned a round's checkpoint meet the
 * policy's quorum (tpolicy_quorum_met), that checkpoint with their
 * cosignature lines becomes what the api serves at /checkpoint
 * (api_set_checkpoint) and what the publisher uploads (on_served pokes it);
 * later cosignatures of the same checkpoint are added to it. The round is
 * then over, and the next one takes whatever the log committed meanwhile,
 * no sooner than interval_ms after the last one started (witness_interval:
 * a public witness need not take a request per commit).
 * A round that cannot meet the quorum is over once every witness answered or
 * failed (or waits in backoff) and the log has something newer; else the
 * failed witnesses are retried on the same checkpoint. The served checkpoint
 * never goes back to a smaller tree.
 *
 * Modes: wait (default): without the quorum the previous witnessed
 * checkpoint stays served, however old. fail-open: once the log's latest
 * STH has been ahead of the served checkpoint for timeout_ms without the
 * quorum, the newest checkpoint is served with the cosignatures it has (a
 * warning each time, and mn_witness_unwitnessed_total).
 *
 * A reload (SIGHUP, logd/reload.c) replaces the policy: cosign_prepare
 * checks the new one and makes its witnesses, cosign_commit hands it to the
 * thread, which swaps it in between two rounds (the round in flight is
 * abandoned, so no round mixes the two sets). A witness whose key (name and
 * vkey) is in both keeps what the collector learned about it (the size it
 * last cosigned, its backoff, its counters); a witness removed is not asked
 * again; one added is asked from the next round. The served checkpoint stays
 * until the new set witnesses a newer one (or in fail-open, times out).
 *
 * Witness latency never reaches the sequencer: the hook takes a mutex and
 * wakes the thread; batches go on committing while a round is out. */
#ifndef MN_LOGD_COSIGN_H
#define MN_LOGD_COSIGN_H

#include <stddef.h>
#include <stdint.h>

struct api;
struct prom;
struct store;
struct tpolicy;
struct cosign;
struct cosign_next;
struct cbb;

struct cosign_options {
	const struct tpolicy *policy; /* borrowed (outlives the collector); a
				       * reloaded one is the collector's own */
	uint64_t timeout_ms;          /* per request, and fail-open's wait; 0 = 5000 */
	int fail_open;
	uint64_t interval_ms;         /* the least time between two rounds' starts
				       * (0: none; rounds are coalesced anyway) */
	const char *name;             /* the log, for messages; NULL = "/" */
	struct store *st;             /* borrowed: consistency proofs */
	void (*on_served)(void *ctx); /* a new checkpoint is served (any thread) */
	void *on_served_ctx;
};

/* cosign_check_policy: |p| can drive a collector (a quorum line, a witness
 * unless "quorum none", every witness with an http(s) URL). 0, or MN_EINVAL
 * with the reason in |err| (NUL-terminated). Pure. */
int cosign_check_policy(const struct tpolicy *p, char *err, size_t err_len);
/* cosign_new checks the policy (a quorum, every witness with a URL, at most
 * TPOLICY_MAX_WITNESSES) and makes the collector; nothing runs yet. 0, or
 * MN_EINVAL with the reason in |err| (NUL-terminated), or MN_ENOMEM. */
int cosign_new(struct cosign **out, const struct cosign_options *o, char *err,
		size_t err_len);
/* cosign_info appends the /mn/v1/info "witness" object of the policy in use,
 * {"mode": "wait" | "fail-open", "timeout_ms": N, "quorum": NAME,
 * "witnesses": [{"name", "vkey", "url"}...]}, to |b|; |ctx| is the collector
 * (the api's witness_info hook). 1, or 0 (|b| is full). Thread-safe. */
int cosign_info(void *ctx, struct cbb *b);
/* cosign_prepare checks |p| (as cosign_check_policy) and makes what the
 * collector needs to use it: 0 and *out (|p| is then owned by it), MN_EINVAL
 * with the reason in |err|, or MN_ENOMEM (|p| stays the caller's). Any
 * thread; nothing changes until cosign_commit. */
int cosign_prepare(struct cosign *w, struct tpolicy *p, struct cosign_next **out, char *err,
		   size_t err_len);
/* cosign_commit hands |n| (from cosign_prepare on |w|; owned by |w| now) to
 * the collector's thread, which swaps it in before its next round (and
 * /mn/v1/info shows it from then). A commit not yet taken is replaced. */
void cosign_commit(struct cosign *w, struct cosign_next *n);
/* cosign_next_free frees an uncommitted |n|; NULL is a no-op. */
void cosign_next_free(struct cosign *w, struct cosign_next *n);
/* cosign_on_served sets on_served (before cosign_start). */
void cosign_on_served(struct cosign *w, void (*fn)(void *ctx), void *ctx);
/* cosign_sth is the sequencer's on_sth hook (|ctx| the collector): a new STH
 * of |tree_size| is committed. Thread-safe, never blocks on the network. */
void cosign_sth(void *ctx, uint64_t tree_size, uint64_t timestamp);
/* cosign_start starts the thread that witnesses what |api| (borrowed; it must
 * outlive the collector, and be made with api_config.witnessed) signs, and
 * serves the results through it. 0 or MN_ENOMEM. */
int cosign_start(struct cosign *w, struct api *api);
/* cosign_stop stops the thread (requests in flight are abandoned) and frees
 * |w|. NULL is a no-op. */
void cosign_stop(struct cosign *w);

struct cosign_status {
	int fail_open;
	int served;            /* a checkpoint is served */
	uint64_t served_size;  /* its tree size */
	uint64_t latest_size;  /* the log's latest STH, as last told */
	uint64_t age_ms;       /* now - the served checkpoint's STH timestamp (none
				* served: since the collector started) */
};
/* cosign_status: a snapshot. Thread-safe. */
void cosign_status(struct cosign *w, struct cosign_status *out);
/* cosign_metrics adds the mn_witness_* families to |w|: cosignatures and
 * failures per witness (witness=NAME, reason=R), served size, lag in entries,
 * the served checkpoint's age, checkpoints served without the quorum. */
void cosign_metrics(struct cosign *w, struct prom *p, const char *labels);

#endif
