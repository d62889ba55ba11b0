/* seqstat.c: see seqstat.h. */
#include "bench/lib/seqstat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/prom.h"
#include "logd/sequencer.h"

uint64_t bench_seq_batches(struct seq *q)
{
	static const char pat[] = "\nmn_sequencer_batches_total ";
	struct prom *w = prom_new(0);
	char *text = NULL;
	const char *p;
	size_t len;
	uint64_t v = 0;

	if (w == NULL)
		return 0;
	seq_metrics(q, w, NULL);
	if (prom_finish(w, &text, &len) == 0 && (p = strstr(text, pat)) != NULL)
		v = strtoull(p + strlen(pat), NULL, 10);
	free(text);
	prom_free(w);
	return v;
}
