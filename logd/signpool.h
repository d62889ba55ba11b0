/* signpool.h: a few threads that finish, in parallel, work the sequencer
 * thread has committed: in a log of the static-ct-api format they sign the
 * SCTs (which carry the leaf index, known only after sequencing) and answer
 * the submitters, while the sequencer commits the next batch
 * (logd/sequencer.h).
 *
 * Items are intrusive: the caller embeds a struct signpool_item in its own
 * record. A thread takes up to |chunk| items in the order pushed and hands
 * them to fn as one list; fn owns them from then on. Thread-safe. */
#ifndef MN_LOGD_SIGNPOOL_H
#define MN_LOGD_SIGNPOOL_H

#include <stddef.h>

struct signpool_item {
	struct signpool_item *next;
};

/* signpool_fn processes the list |items| (linked through next, ending in
 * NULL), on one of the pool's threads. */
typedef void (*signpool_fn)(void *ctx, struct signpool_item *items);

struct signpool;

/* signpool_start starts |threads| threads (at least 1) named |name| (at most
 * 15 characters, for top -H and perf). Returns 0, MN_ENOMEM or MN_EINTERNAL
 * (then nothing runs). */
int signpool_start(struct signpool **out, unsigned threads, size_t chunk, signpool_fn fn,
		   void *ctx, const char *name);
/* signpool_push queues the list head .. tail (linked through next). */
void signpool_push(struct signpool *p, struct signpool_item *head, struct signpool_item *tail);
/* signpool_stop lets the threads process everything queued, joins them and
 * frees |p|. Nothing may be pushed once it began. NULL is a no-op. */
void signpool_stop(struct signpool *p);

#endif
