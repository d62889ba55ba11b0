/* tpolicy.h: transparency log trust policies (c2sp.org/tlog-policy): which
 * logs, which witnesses, and the quorum of cosignatures a checkpoint needs.
 *
 *   log <vkey> [<url>]                 a log's Ed25519 note key (type 0x01)
 *   witness <name> <vkey> [<url>]      a witness's cosignature/v1 key (type 0x04)
 *   group <name> all|any|<k> <name>... at least k of its members witnessed
 *   quorum <name>                      the witness or group that must witness;
 *                                      "none" requires no cosignature
 *
 * Whitespace is spaces and tabs; '#' starts a comment line; names used in a
 * group or the quorum must be defined on a line before; a name is a member of
 * one group at most once; duplicate keys are refused. The same file format,
 * with only log lines and no quorum (TPOLICY_LOGS_ONLY), lists the logs a
 * witness cosigns (`mnctl witness serve --logs`).
 *
 * Parsing reads the text only; tpolicy_load also reads the file. Checking a
 * checkpoint is pure computation. */
#ifndef MN_ENTRY_TPOLICY_H
#define MN_ENTRY_TPOLICY_H

#include <stddef.h>
#include <stdint.h>

#include "entry/note.h"

#define TPOLICY_MAX_LOGS 64
#define TPOLICY_MAX_WITNESSES 64
#define TPOLICY_MAX_GROUPS 64
#define TPOLICY_MAX_NAME 255
#define TPOLICY_MAX_URL 1024
#define TPOLICY_MAX_FILE (1024 * 1024)

struct tpolicy_log {
	struct note_vkey key;            /* key.name is the log's origin */
	char url[TPOLICY_MAX_URL + 1];   /* "" when none */
};

struct tpolicy_witness {
	char name[TPOLICY_MAX_NAME + 1]; /* the policy's name for it */
	struct note_vkey key;            /* key.name is the cosigner's key name */
	char url[TPOLICY_MAX_URL + 1];   /* submission prefix, "" when none */
};

/* A member is a witness (index >= 0) or a group (-1 - group index). */
struct tpolicy_group {
	char name[TPOLICY_MAX_NAME + 1];
	size_t k, n;
	int members[TPOLICY_MAX_WITNESSES + TPOLICY_MAX_GROUPS];
};

struct tpolicy {
	size_t num_logs, num_witnesses, num_groups;
	struct tpolicy_log logs[TPOLICY_MAX_LOGS];
	struct tpolicy_witness witnesses[TPOLICY_MAX_WITNESSES];
	struct tpolicy_group groups[TPOLICY_MAX_GROUPS];
	int has_quorum;
	int quorum_none;                 /* "quorum none" */
	int quorum;                      /* a member reference, as in a group */
};

#define TPOLICY_LOGS_ONLY 1              /* log lines only; no quorum line */

/* tpolicy_parse parses |text| into a new policy (*out, tpolicy_free). 0, or
 * MN_EMALFORMED / MN_ETOOBIG with "line N: reason" in |err| (NUL-terminated,
 * truncated to |err_len|), or MN_ENOMEM. */
int tpolicy_parse(struct tpolicy **out, const uint8_t *text, size_t len, int flags, char *err,
		  size_t err_len);
/* tpolicy_load reads and parses the file |path| (at most TPOLICY_MAX_FILE
 * bytes); errors as tpolicy_parse, "PATH:N: reason", and MN_EIO. */
int tpolicy_load(struct tpolicy **out, const char *path, int flags, char *err, size_t err_len);
void tpolicy_free(struct tpolicy *p);

/* tpolicy_find_log: the log whose key name is |origin|, or NULL. */
const struct tpolicy_log *tpolicy_find_log(const struct tpolicy *p, const char *origin,
					   size_t origin_len);

/* tpolicy_quorum_met: 1 iff witnesses with witnessed[i] != 0 satisfy the
 * quorum (always 1 for "quorum none"; 0 for a policy without a quorum). */
int tpolicy_quorum_met(const struct tpolicy *p, const unsigned char *witnessed);

/* tpolicy_check verifies |cp| against the policy: its origin must be a listed
 * log (when the policy lists logs) whose key signed it (note_verify_vkey), and
 * the witnesses whose cosignatures verify must meet the quorum. Returns 0 when
 * all hold, else a negative MN_E* code with a static reason in *why: MN_EBADSIG
 * (unknown log, no or bad log signature, or a witness's line present that does
 * not verify) or MN_ENOTFOUND (the quorum is not met). *n_cosigned (may be
 * NULL) gets the number of witnesses whose cosignature verified. */
int tpolicy_check(const struct tpolicy *p, const struct note_checkpoint *cp,
		  size_t *n_cosigned, const char **why);

#endif
