/* witproc.h: run `mnctl witness serve` (the tlog-witness server of
 * client/witness_serve.c) as child processes of a test, and write the
 * tlog-policy files that name them. Each witness has its own directory
 * (state, key), and can be stopped and started again on the same port with
 * the same key and state ("a witness comes back"). */
#ifndef MN_TESTS_WITPROC_H
#define MN_TESTS_WITPROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct witproc {
	pid_t pid;                 /* 0 = not running */
	uint16_t port;
	char vkey[512];            /* its cosigner vkey, as it printed it */
	char dir[256];             /* DIR/state, DIR/key.pem */
	char name[64];             /* its key name */
	char logs[256];            /* the --logs file */
};

/* witproc_start runs $MN_BUILD/mnctl (default build/mnctl) witness serve
 * --listen 127.0.0.1:|port| (0 = any) --state DIR/state --key DIR/key.pem
 * --logs |logs| --name |name|, its stderr appended to DIR/stderr, and reads
 * the vkey and the "witness listening on" lines. |dir| is created if missing.
 * Returns 0 or -1 (it exited or printed something else; *w is then stopped). */
int witproc_start(struct witproc *w, const char *dir, const char *name, const char *logs,
		  uint16_t port);
/* witproc_restart starts |w| again as it was (same port, key, state). 0 / -1. */
int witproc_restart(struct witproc *w);
/* witproc_stop sends |sig|, waits, and returns the exit status (or 128 +
 * signal); -1 when it was not running. */
int witproc_stop(struct witproc *w, int sig);

/* witproc_policy writes a tlog-policy file at |path|: "log |log_vkey|" (if not
 * NULL), one "witness wN VKEY http://127.0.0.1:PORT" line per witness
 * (N = 1..n, in order), "group all K w1..wn" and "quorum all". 0 / -1. */
int witproc_policy(const char *path, const char *log_vkey, const struct witproc *ws, size_t n,
		   unsigned k);
/* witproc_logs writes a --logs file "log |log_vkey|" at |path|. 0 / -1. */
int witproc_logs(const char *path, const char *log_vkey);

#endif
