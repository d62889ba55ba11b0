/* publish.h: publishing a log's static objects (docs/tiles.md) to an object
 * store or a directory (logd/objstore.h), and `sct_after: publish`.
 *
 * After each commit (the publisher is poked by every answered submission and
 * otherwise looks every 100 ms), one thread per log takes the log's current
 * checkpoint (api_static_get: the very bytes logd serves), and uploads, for the
 * sizes between what it published last and that checkpoint, every new hash
 * tile (every level, full or at its new partial width), every new data tile,
 * every issuer the new entries name (objstore_put_deferred), then one
 * durability barrier for all of them (objstore_sync), and only then the
 * checkpoint (objstore_put, durable), so a checkpoint is never durable before
 * the objects it commits to, while a round costs one barrier rather than an
 * fsync per object. Objects are
 * made by api_static_get, so each is byte-identical to what logd serves at the
 * same path. Uploads are idempotent (same path, same bytes), so a round that
 * fails is simply redone from the last published checkpoint, with backoff
 * (100 ms doubling to 5 s). At start the publisher reads the checkpoint
 * already in the store: if this log's tree at that size has the same root, it
 * goes on from there; otherwise it publishes everything from size 0. Objects
 * above that checkpoint are never trusted (a crash in a round may have left
 * them missing, empty or torn): every one a later checkpoint names is written
 * again, whatever is already there.
 *
 * A store that is down delays publishing, never the log: commits and SCTs go
 * on (sct_after: commit), the lag grows, and publish_status says so (/readyz,
 * and the mn_publish_* metrics).
 *
 * sct_after: publish: publish_wrap puts the publisher between the api and the
 * sequencer: an accepted submission's SCT is held until a checkpoint covering
 * its leaf, with every object below it, is stored, then handed out; losing the
 * writer then loses nothing answered. Failed submissions are answered at once;
 * at publish_stop the held ones get MN_ESHUTDOWN. */
#ifndef MN_LOGD_PUBLISH_H
#define MN_LOGD_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "logd/objstore.h"

struct store;
struct prom;
struct publisher;

struct publish_options {
	struct objstore_options store;
	const char *name;       /* the log, for messages; NULL = the only log */
	int sct_after_publish;  /* hold SCTs until published (publish_wrap) */
};

/* publish_new checks |o| and makes the publisher of the log in |st| (borrowed;
 * it must outlive the publisher); nothing runs yet. 0, or MN_E* after
 * printing the reason to stderr. */
int publish_new(struct publisher **out, struct store *st, const struct publish_options *o);
/* publish_wrap returns the sequencer the api should submit to: |inner| itself,
 * or with sct_after_publish, |inner| with the answers held until published.
 * |p| may be NULL (returns inner). Call before publish_start. */
struct api_sequencer publish_wrap(struct publisher *p, struct api_sequencer inner);
/* publish_start starts the thread publishing what |api| (borrowed, it must
 * outlive the publisher) serves. 0 or MN_ENOMEM. */
int publish_start(struct publisher *p, struct api *api);
/* publish_poke starts a round now (e.g. a new witnessed checkpoint is
 * served) rather than at the next 100 ms tick. Thread-safe. */
void publish_poke(struct publisher *p);
/* publish_stop tries one last round (no backoff), answers held submissions
 * with MN_ESHUTDOWN, stops the thread and frees |p|. Call after the sequencer
 * stopped. NULL is a no-op. */
void publish_stop(struct publisher *p);

struct publish_status {
	uint64_t published;     /* tree size of the last stored checkpoint */
	uint64_t tree_size;     /* the log's, as last seen */
	uint64_t lag_ms;        /* how long the log has been ahead of the store (0 if not) */
	int failing;            /* the last round failed */
	char error[256];        /* its reason */
	char where[160];        /* objstore_describe */
};
/* publish_status: a snapshot of the publisher's state. Thread-safe. */
void publish_status(struct publisher *p, struct publish_status *out);
/* publish_metrics adds the mn_publish_* families (published size, lag in
 * entries and seconds, objects, bytes, failed rounds, held SCTs) to |w| with
 * the labels |labels|. Thread-safe. */
void publish_metrics(struct publisher *p, struct prom *w, const char *labels);

#endif
