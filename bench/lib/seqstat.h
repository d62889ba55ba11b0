/* seqstat.h: what the benchmarks read off a running sequencer. */
#ifndef MN_BENCH_SEQSTAT_H
#define MN_BENCH_SEQSTAT_H

#include <stdint.h>

struct seq;

/* bench_seq_batches returns mn_sequencer_batches_total from |q|'s metrics
 * (logd/sequencer.h seq_metrics), 0 if it cannot be read. */
uint64_t bench_seq_batches(struct seq *q);

#endif
