/* witness_check.c: --witness-policy, a client's defence against a split view
 * (issue 16, design decision 3).
 *
 * A log's signature on a tree head proves only that the log said it; a log
 * can sign one tree for its monitors and another for a victim. Witnesses
 * cosign a checkpoint only if it is consistent with every earlier checkpoint
 * of that log they cosigned (c2sp.org/tlog-witness), so a checkpoint with a
 * quorum of cosignatures is one the whole world can be shown. mnctl therefore
 * accepts an answer made against the tree (N, R) only when such a checkpoint
 * covers it:
 *
 *   fetch <log URL>/checkpoint, parse it (c2sp.org/tlog-checkpoint), check it
 *   against the policy (tpolicy_check: its origin is a `log` of the policy
 *   whose Ed25519 note key signed it, and the witnesses whose cosignature/v1
 *   lines verify meet the quorum); with its size M:
 *     M == N   the roots are equal;
 *     M >  N   a consistency proof N -> M (get-sth-consistency) verifies;
 *     M <  N   witnessing lags the log by a batch or so: fetch it again every
 *              WC_POLL_MS until M >= N, for at most --witness-wait seconds.
 *
 * MNCTL_EWITNESS: the checkpoint lacks the quorum, or none covers the answer
 * in time. MNCTL_EVERIFY: the checkpoint meets the quorum but contradicts the
 * answer (a cosigned fork: evidence against the log), or its log signature or
 * a policy witness's cosignature line is bad. Cosignatures by keys that are
 * not in the policy are ignored.
 *
 * The last answer covered is remembered (per log URL), so a policy server
 * whose answers mostly carry the same tree head fetches the checkpoint once
 * per new tree. Thread-safe: the policy is read-only, the memo is locked. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/mnctl.h"
#include "common/clock.h"
#include "common/err.h"
#include "entry/note.h"
#include "entry/tpolicy.h"

#define WC_POLL_MS 200
#define WC_MAX_CHECKPOINT (64 * 1024) /* 64 signature lines fit many times over */

struct mnctl_witness {
	struct tpolicy *policy;
	uint64_t wait_ms;
	pthread_mutex_t mu;
	/* the last answer a checkpoint covered, under mu */
	int have_memo;
	char *memo_url;
	struct mnctl_witnessed memo;
	uint64_t memo_size;
	uint8_t memo_root[MERKLE_HASH_LEN];
};

int mnctl_witness_load(struct mnctl_witness **out, const char *path, uint64_t wait_s)
{
	struct mnctl_witness *w;
	char err[512];
	int ret;

	*out = NULL;
	if (wait_s > MNCTL_MAX_WITNESS_WAIT_S)
		return mnctl_fail(MNCTL_EUSAGE, "--witness-wait wants 0..%d seconds",
				  MNCTL_MAX_WITNESS_WAIT_S);
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return mnctl_fail(MNCTL_ELOCAL, "out of memory");
	ret = tpolicy_load(&w->policy, path, 0, err, sizeof(err));
	if (ret != 0) {
		free(w);
		return mnctl_fail(MNCTL_ELOCAL, "--witness-policy: %s", err);
	}
	/* tpolicy_check trusts any origin of a policy without log lines; a
	 * client must know whose note key signs the checkpoint */
	if (w->policy->num_logs == 0) {
		tpolicy_free(w->policy);
		free(w);
		return mnctl_fail(MNCTL_ELOCAL, "--witness-policy %s: no `log` line (the log's "
				  "note vkey, as /mn/v1/info shows it in note_vkey)", path);
	}
	w->wait_ms = wait_s * 1000;
	pthread_mutex_init(&w->mu, NULL);
	*out = w;
	return MNCTL_OK;
}

void mnctl_witness_free(struct mnctl_witness *w)
{
	if (w == NULL)
		return;
	tpolicy_free(w->policy);
	pthread_mutex_destroy(&w->mu);
	free(w->memo_url);
	free(w);
}

static int memo_get(struct mnctl_witness *w, const char *url, const struct mnctl_sth *sth,
		    struct mnctl_witnessed *out)
{
	int hit;

	pthread_mutex_lock(&w->mu);
	hit = w->have_memo && strcmp(w->memo_url, url) == 0 && w->memo_size == sth->tree_size &&
	      memcmp(w->memo_root, sth->root, MERKLE_HASH_LEN) == 0;
	if (hit)
		*out = w->memo;
	pthread_mutex_unlock(&w->mu);
	return hit;
}

static void memo_put(struct mnctl_witness *w, const char *url, const struct mnctl_sth *sth,
		     const struct mnctl_witnessed *wd)
{
	char *u = strdup(url);

	if (u == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	free(w->memo_url);
	w->memo_url = u;
	w->memo = *wd;
	w->memo_size = sth->tree_size;
	memcpy(w->memo_root, sth->root, MERKLE_HASH_LEN);
	w->have_memo = 1;
	pthread_mutex_unlock(&w->mu);
}

/* fetch_cosigned GETs the checkpoint and checks it against the policy: fills
 * |out| (size, root, witnesses that cosigned; or out->none on a 404: a
 * witnessed log serves none before one met its quorum). MNCTL_OK, MNCTL_ENET
 * (no answer, another status, malformed), MNCTL_EVERIFY (a bad log or policy-witness
 * signature, or a log the policy does not name), MNCTL_EWITNESS (quorum). */
static int fetch_cosigned(struct mnctl *m, struct mnctl_witnessed *out)
{
	struct mnctl_resp r;
	struct note_checkpoint cp;
	const char *why = "";
	size_t n = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = mnctl_http_do(m, "/checkpoint", NULL, 0, &r);
	if (ret != MNCTL_OK)
		return ret;
	if (r.status == 404) {
		/* a witnessed log serves no checkpoint before one met its quorum
		 * (a fork never does): nothing covers the answer yet */
		mnctl_resp_cleanup(&r);
		out->none = 1;
		return MNCTL_OK;
	}
	if (r.status != 200) {
		mnctl_resp_cleanup(&r);
		return mnctl_fail(MNCTL_ENET, "checkpoint: HTTP %ld", r.status);
	}
	if (r.body_len > WC_MAX_CHECKPOINT) {
		mnctl_resp_cleanup(&r);
		return mnctl_fail(MNCTL_ENET, "checkpoint: larger than %d bytes", WC_MAX_CHECKPOINT);
	}
	if (note_parse_checkpoint(&cp, r.body, r.body_len) != 0) {
		mnctl_resp_cleanup(&r);
		return mnctl_fail(MNCTL_ENET, "checkpoint: malformed signed note");
	}
	ret = tpolicy_check(m->witness->policy, &cp, &n, &why);
	out->size = cp.tree_size;
	memcpy(out->root, cp.root, MERKLE_HASH_LEN);
	out->num_cosigned = n;
	mnctl_resp_cleanup(&r);
	if (ret == MN_ENOTFOUND)
		return mnctl_fail(MNCTL_EWITNESS, "the checkpoint of tree size %" PRIu64
				  " has valid cosignatures of %zu witness%s of the policy, "
				  "short of its quorum", out->size, n, n == 1 ? "" : "es");
	if (ret != 0)
		return mnctl_fail(MNCTL_EVERIFY, "checkpoint of tree size %" PRIu64 ": %s",
				  out->size, why);
	return MNCTL_OK;
}

static void pause_ms(uint64_t ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
			      .tv_nsec = (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

int mnctl_witness_cover(struct mnctl *m, const struct mnctl_sth *sth,
			struct mnctl_witnessed *out)
{
	struct mnctl_witnessed wd, dummy;
	uint64_t deadline;
	int ret;

	if (out == NULL)
		out = &dummy;
	memset(out, 0, sizeof(*out));
	if (m->witness == NULL)
		return MNCTL_OK;
	if (memo_get(m->witness, m->url, sth, out))
		return MNCTL_OK;
	deadline = mn_mono_ns() / 1000000 + m->witness->wait_ms;
	for (;;) {
		uint64_t now;

		ret = fetch_cosigned(m, &wd);
		if (ret != MNCTL_OK)
			return ret;
		if (!wd.none && wd.size >= sth->tree_size)
			break;
		now = mn_mono_ns() / 1000000;
		if (now >= deadline && wd.none)
			return mnctl_fail(MNCTL_EWITNESS, "the log serves no checkpoint (HTTP 404 "
					  "after %" PRIu64 " s): none met its witness quorum",
					  m->witness->wait_ms / 1000);
		if (now >= deadline)
			return mnctl_fail(MNCTL_EWITNESS, "no checkpoint meeting the witness quorum "
					  "covers tree size %" PRIu64 " after %" PRIu64 " s (the "
					  "newest has size %" PRIu64 ")", sth->tree_size,
					  m->witness->wait_ms / 1000, wd.size);
		pause_ms(deadline - now < WC_POLL_MS ? deadline - now : WC_POLL_MS);
	}
	/* the cosigned tree must extend the answer's: equal roots at one size,
	 * else a consistency proof (mnctl_verify_consistency names both trees) */
	if (wd.size == sth->tree_size && memcmp(wd.root, sth->root, MERKLE_HASH_LEN) != 0)
		return mnctl_fail(MNCTL_EVERIFY, "the cosigned checkpoint of tree size %" PRIu64
				  " has another root than the log's answer: the log forked",
				  wd.size);
	ret = mnctl_verify_consistency(m, sth->tree_size, sth->root, wd.size, wd.root);
	if (ret != MNCTL_OK)
		return ret;
	memo_put(m->witness, m->url, sth, &wd);
	*out = wd;
	return MNCTL_OK;
}
