/* prom.h: a Prometheus text exposition (format 0.0.4) built from pieces.
 *
 * The text format wants each metric family exactly once: one "# HELP", one
 * "# TYPE", then all of its samples together. Several writers (the transport,
 * and per log the sequencer, the store and the api) each add their families;
 * when logd serves several logs, each log's writers add the same families
 * again with another label set (log="2027h1"). struct prom therefore keeps one
 * buffer per family, in order of first appearance: prom_family selects (or
 * starts) a family and the samples that follow go to it, and prom_finish
 * writes every family once with all of its samples. Any number of writers may
 * add to one prom in any order and the result stays valid.
 *
 * Conventions (https://prometheus.io/docs/practices/naming/): counters end
 * in _total, durations are _seconds, sizes _bytes; a histogram is written by
 * prom_histogram as _bucket{le=...} (cumulative, ending with +Inf), _sum and
 * _count.
 *
 * Labels: every sample function takes |labels|, the writer's fixed label
 * list without braces (e.g. log="2027h1"; "" or NULL for none), and |extra|,
 * this sample's own labels (e.g. endpoint="get-sth"; "" or NULL for none).
 * Label values must already be escaped (prom_label_escape).
 *
 * Not thread-safe: one prom is filled by one thread. Memory errors are sticky:
 * prom_finish then fails. */
#ifndef MN_PROM_H
#define MN_PROM_H

#include <stddef.h>
#include <stdint.h>

enum prom_type { PROM_COUNTER, PROM_GAUGE, PROM_HISTOGRAM };

struct prom;

/* prom_new returns an empty exposition whose text is capped at |cap| bytes
 * (0 = 4 MiB), or NULL on OOM. */
struct prom *prom_new(size_t cap);
/* prom_free frees |p|; NULL is a no-op. */
void prom_free(struct prom *p);

/* prom_family makes |name| the current family, starting it with |type| and
 * |help| (static strings, borrowed until prom_free) the first time. A later
 * call with the same name resumes it (its type and help are kept). */
void prom_family(struct prom *p, const char *name, enum prom_type type, const char *help);
/* prom_u64 / prom_f64 add one sample "NAME{labels,extra} v" to the current
 * family (NAME is the family's name). */
void prom_u64(struct prom *p, const char *labels, const char *extra, uint64_t v);
void prom_f64(struct prom *p, const char *labels, const char *extra, double v);
/* prom_histogram adds one histogram to the current family (a PROM_HISTOGRAM):
 * |counts| has num_bounds + 1 non-cumulative bucket counts, the last one for
 * values above every bound; |bounds| ascending; |sum| the sum of observations. */
void prom_histogram(struct prom *p, const char *labels, const char *extra,
		    const double *bounds, size_t num_bounds, const uint64_t *counts,
		    double sum);

/* prom_finish writes the exposition: for each family in order of first
 * appearance "# HELP", "# TYPE" and its samples (a family without samples is
 * left out). Sets *out (malloc'd, NUL-terminated; the caller frees it) and
 * *out_len. Returns 0, MN_ENOMEM or MN_ETOOBIG (past the cap); on error *out
 * is NULL. |p| is unchanged. */
int prom_finish(const struct prom *p, char **out, size_t *out_len);

/* prom_label_escape writes |s| as a label value (backslash, quote and newline
 * escaped) into |out| of |out_len| bytes, NUL-terminated. Returns 1, or 0 if
 * it does not fit. */
int prom_label_escape(char *out, size_t out_len, const char *s);

#endif
