/* mnrun.h: run the mnctl binary from a test. */
#ifndef MN_TESTS_MNRUN_H
#define MN_TESTS_MNRUN_H

/* mnrun_mnctl runs $MN_BUILD/mnctl (default build/mnctl) with |args|
 * (NULL-terminated, at most 60), MN_LOG unset, its stdout and stderr going to
 * |dir|/mnctl.out and |dir|/mnctl.err; then reads them into *out and *err
 * (malloc'd, NUL-terminated; either pointer may be NULL). Returns mnctl's exit
 * status, or -1 if it did not exit normally or could not be run. */
int mnrun_mnctl(const char *dir, const char *const *args, char **out, char **err);

#endif
