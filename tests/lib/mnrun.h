/* mnrun.h: run the mnctl binary from a test. */
#ifndef MN_TESTS_MNRUN_H
#define MN_TESTS_MNRUN_H

/* mnrun_mnctl runs $MN_BUILD/mnctl (default build/mnctl) with |args|
 * (NULL-terminated, at most 60), MN_LOG unset, its stdout and stderr going to
 * |dir|/mnctl.out and |dir|/mnctl.err; then reads them into *out and *err
 * (malloc'd, NUL-terminated; either pointer may be NULL). Returns mnctl's exit
 * status, or -1 if it did not exit normally or could not be run. */
int mnrun_mnctl(const char *dir, const char *const *args, char **out, char **err);

/* mnrun_mnctl_pre is mnrun_mnctl with |pre| (NULL-terminated: the test's
 * --config, --log, ...) in front of |args|; at most 60 in all. */
int mnrun_mnctl_pre(const char *dir, const char *const *pre, const char *const *args,
		    char **out, char **err);

/* MNRUN_ARGV(...): the arguments as a NULL-terminated array (a compound
 * literal: it lives as long as the enclosing block). */
#define MNRUN_ARGV(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Where mnrun_expect looks for its needle. */
enum mnrun_where {
	MNRUN_STDERR,     /* always on stderr */
	MNRUN_STDOUT_OK,  /* on stdout when the wanted status is 0, else stderr */
};

/* mnrun_expect checks mnctl's answer: exit status |got| (mnrun_mnctl's
 * result), stdout |out| and stderr |err| (either may be NULL) against the
 * wanted status |rc| and, when not NULL, |needle| (looked for where |where|
 * says). 1 if it matches; else 0 after printing "line |line|: mnctl exit ..."
 * with both outputs on stderr (the caller fails the test). */
int mnrun_expect(int line, int got, const char *out, const char *err, int rc,
		 const char *needle, enum mnrun_where where);

#endif
