/* fuzz_config.c: logd's --config parser (logd/config.c, logd_config_parse).
 *
 * Input: the YAML text. Checks, from the promises in logd/config.h:
 *   - a refusal is MN_EINVAL or MN_ENOMEM, and MN_EINVAL comes with one
 *     message that starts "fuzz.yaml:" followed by a line number;
 *   - an acceptance holds at least one log, each with a valid unique name,
 *     a data directory, classes in 1..15 that have what they need (tls and
 *     smime roots, certifiers for pgp), a window with start < limit when it
 *     has one, an MMD in 1..86400, a pool of at least 1;
 *   - parsing the same input again gives the same outcome (no hidden state);
 *   - logd_config_cleanup frees everything (ASan's leak check). */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "fuzz/fuzz.h"
#include "logd/config.h"

const char fuzz_target_name[] = "config";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct logd_config c, c2;
	char err[512], err2[512];
	int ret = logd_config_parse(&c, data, size, "fuzz.yaml", err, sizeof(err));
	int ret2 = logd_config_parse(&c2, data, size, "fuzz.yaml", err2, sizeof(err2));

	FUZZ_CHECK(ret == 0 || ret == MN_EINVAL || ret == MN_ENOMEM);
	if (ret != MN_ENOMEM && ret2 != MN_ENOMEM) {
		FUZZ_CHECK(ret == ret2);
		FUZZ_CHECK(strcmp(err, err2) == 0);
	}
	if (ret == MN_EINVAL) {
		FUZZ_CHECK(strncmp(err, "fuzz.yaml:", 10) == 0);
		FUZZ_CHECK(err[10] >= '0' && err[10] <= '9');
	}
	if (ret == 0) {
		FUZZ_CHECK(c.num_logs >= 1);
		for (size_t i = 0; i < c.num_logs; i++) {
			const struct logd_log_config *l = &c.logs[i];
			FUZZ_CHECK(l->name != NULL && l->name[0] != '\0' && l->data != NULL);
			for (size_t j = 0; j < i; j++)
				FUZZ_CHECK(strcmp(l->name, c.logs[j].name) != 0);
			FUZZ_CHECK(l->classes >= 1 && l->classes <= 15);
			FUZZ_CHECK(!(l->classes & LOGD_CLASS_TLS) || l->tls_roots != NULL);
			FUZZ_CHECK(!(l->classes & LOGD_CLASS_SMIME) || l->smime_roots != NULL);
			FUZZ_CHECK(!(l->classes & LOGD_CLASS_PGP) || l->certifiers != NULL);
			FUZZ_CHECK(!l->has_window || l->start_ms < l->limit_ms);
			FUZZ_CHECK(l->mmd_s >= 1 && l->mmd_s <= 86400);
			FUZZ_CHECK(l->max_queue >= 1);
			FUZZ_CHECK(strchr(l->name, '/') == NULL);
		}
	}
	logd_config_cleanup(&c);
	logd_config_cleanup(&c2);
	return 0;
}
