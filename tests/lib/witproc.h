/* witproc.h: run `mnctl witness serve` as a child process (tests, benches). */
#ifndef MN_TESTS_WITPROC_H
#define MN_TESTS_WITPROC_H

#include <stdint.h>
#include <sys/types.h>

struct witness_proc {
	pid_t pid;
	uint16_t port;
	char vkey[640];     /* the cosigner vkey it printed */
};

/* witness_proc_start runs $MN_BUILD/mnctl (default build/mnctl) witness serve
 * --listen 127.0.0.1:0 --state |state| --key |key| --logs |logs| --name |name|
 * --timeout |timeout_s| (NULL: default), with stderr appended to |log| (NULL:
 * inherited) and |prefix| (NULL: none, e.g. "taskset -c 0") in front, reads
 * its two start lines (vkey, "witness listening on 127.0.0.1:PORT") and fills
 * |p|. 0, or -1 if it exited or printed something else. */
int witness_proc_start(struct witness_proc *p, const char *state, const char *key,
		       const char *logs, const char *name, const char *timeout_s,
		       const char *log, const char *const *prefix);
/* witness_proc_stop sends |sig| and waits: the exit status, 128 + signal, or
 * -1. */
int witness_proc_stop(struct witness_proc *p, int sig);

#endif
