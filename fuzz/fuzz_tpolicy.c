/* fuzz_tpolicy.c: tpolicy_parse (entry/tpolicy.h), the tlog-policy text of a
 * client's --witness-policy, logd's witness_policy and a witness's --logs.
 *
 * Every input parses or fails with MN_EMALFORMED / MN_ETOOBIG and a reason;
 * a parsed policy stays within its limits, every group member and the quorum
 * name a defined witness or an earlier group, and the quorum is monotonic:
 * met with no witness implies met with all of them. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "entry/tpolicy.h"
#include "fuzz/fuzz.h"

const char fuzz_target_name[] = "tpolicy";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static int member_ok(const struct tpolicy *p, int m, size_t group)
{
	if (m >= 0)
		return (size_t)m < p->num_witnesses;
	return (size_t)(-1 - m) < group; /* a group defined before */
}

static void check(const struct tpolicy *p, int flags)
{
	unsigned char none[TPOLICY_MAX_WITNESSES], all[TPOLICY_MAX_WITNESSES];

	FUZZ_CHECK(p->num_logs <= TPOLICY_MAX_LOGS);
	FUZZ_CHECK(p->num_witnesses <= TPOLICY_MAX_WITNESSES);
	FUZZ_CHECK(p->num_groups <= TPOLICY_MAX_GROUPS);
	for (size_t i = 0; i < p->num_logs; i++) {
		FUZZ_CHECK(p->logs[i].key.name_len > 0 &&
			   p->logs[i].key.name_len == strlen(p->logs[i].key.name));
		FUZZ_CHECK(strlen(p->logs[i].url) <= TPOLICY_MAX_URL);
	}
	for (size_t g = 0; g < p->num_groups; g++) {
		FUZZ_CHECK(p->groups[g].n <= TPOLICY_MAX_WITNESSES + TPOLICY_MAX_GROUPS);
		for (size_t j = 0; j < p->groups[g].n; j++)
			FUZZ_CHECK(member_ok(p, p->groups[g].members[j], g));
	}
	if (flags & TPOLICY_LOGS_ONLY)
		FUZZ_CHECK(p->num_witnesses == 0 && !p->has_quorum);
	if (p->has_quorum && !p->quorum_none)
		FUZZ_CHECK(member_ok(p, p->quorum, p->num_groups));
	memset(none, 0, sizeof(none));
	memset(all, 1, sizeof(all));
	if (tpolicy_quorum_met(p, none))
		FUZZ_CHECK(tpolicy_quorum_met(p, all));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int flags[] = {0, TPOLICY_LOGS_ONLY};

	for (size_t f = 0; f < 2; f++) {
		struct tpolicy *p = NULL;
		char err[256] = "";
		int ret = tpolicy_parse(&p, data, size, flags[f], err, sizeof(err));
		FUZZ_CHECK(ret == 0 || ret == MN_EMALFORMED || ret == MN_ETOOBIG ||
			   ret == MN_ENOMEM);
		if (ret == 0) {
			FUZZ_CHECK(p != NULL);
			check(p, flags[f]);
		} else {
			FUZZ_CHECK(err[0] != '\0');
		}
		tpolicy_free(p);
	}
	return 0;
}
