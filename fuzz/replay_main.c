/* replay_main.c: a plain main for a fuzz target, so that `make test` replays
 * the committed corpus with gcc, in the normal and the ASan+UBSan builds (knot
 * tests-fuzz/main.c, SQLite test/fuzzcheck.c).
 *
 *   test_replay_<name> [FILE|DIR ...]
 *
 * Without arguments it replays every file of fuzz/corpus/<name> (relative to
 * the current directory, the repository root under tests/run.sh), in name
 * order, plus the empty input. It prints cmocka's summary line, which
 * tests/run.sh adds up: "[  PASSED  ] N test(s)." with N the number of files,
 * or "[  FAILED  ] 1 test(s)" naming the file when a target aborts or a
 * sanitizer reports, and then exits non-zero. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz/fuzz.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define REPLAY_SANITIZER 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define REPLAY_SANITIZER 1
#endif
#ifdef REPLAY_SANITIZER
#include <sanitizer/common_interface_defs.h>
#endif

#define REPLAY_MAX_INPUT (16u << 20)

static char current[4096] = "(initialization)";

/* report_failure is async-signal-safe: it runs from SIGABRT and from the
 * sanitizers' death callback. */
static void report_failure(void)
{
	static const char a[] = "[  FAILED  ] 1 test(s), input: ";
	size_t n = strlen(current);

	if (write(2, a, sizeof(a) - 1) < 0 || write(2, current, n) < 0 ||
	    write(2, "\n", 1) < 0)
		return;
	if (write(1, a, sizeof(a) - 1) < 0 || write(1, current, n) < 0 ||
	    write(1, "\n", 1) < 0)
		return;
}

static void on_abort(int sig)
{
	(void)sig;
	report_failure();
	_exit(1);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* run_file replays one file; returns 1 if it ran, 0 if unreadable. */
static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	size_t n;

	if (f == NULL) {
		fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
		return 0;
	}
	buf = malloc(REPLAY_MAX_INPUT);
	if (buf == NULL) {
		fclose(f);
		return 0;
	}
	n = fread(buf, 1, REPLAY_MAX_INPUT, f);
	fclose(f);
	/* An exact-size copy, so that ASan sees any read past the input. */
	{
		uint8_t *exact = malloc(n > 0 ? n : 1);
		if (exact == NULL) {
			free(buf);
			return 0;
		}
		memcpy(exact, buf, n);
		free(buf);
		snprintf(current, sizeof(current), "%s", path);
		LLVMFuzzerTestOneInput(exact, n);
		free(exact);
	}
	return 1;
}

/* run_path replays a file or every regular file of a directory; adds to
 * *num_ok and *num_bad. */
static void run_path(const char *path, size_t *num_ok, size_t *num_bad)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t num = 0, cap = 0, i;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		(*num_bad)++;
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (run_file(path))
			(*num_ok)++;
		else
			(*num_bad)++;
		return;
	}
	d = opendir(path);
	if (d == NULL) {
		(*num_bad)++;
		return;
	}
	while ((de = readdir(d)) != NULL) {
		char full[4096];
		if (de->d_name[0] == '.')
			continue;
		snprintf(full, sizeof(full), "%s/%s", path, de->d_name);
		if (stat(full, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (num == cap) {
			char **nn = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*names));
			if (nn == NULL)
				break;
			names = nn;
		}
		names[num] = strdup(full);
		if (names[num] != NULL)
			num++;
	}
	closedir(d);
	if (num > 0)
		qsort(names, num, sizeof(*names), cmp_str);
	for (i = 0; i < num; i++) {
		if (run_file(names[i]))
			(*num_ok)++;
		else
			(*num_bad)++;
		free(names[i]);
	}
	free(names);
}

int main(int argc, char **argv)
{
	char dir[512];
	size_t num_ok = 0, num_bad = 0;
	int i;

	signal(SIGABRT, on_abort);
#ifdef REPLAY_SANITIZER
	__sanitizer_set_death_callback(report_failure);
#endif
	LLVMFuzzerInitialize(&argc, &argv);
	snprintf(current, sizeof(current), "(empty input)");
	LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
	if (argc > 1) {
		for (i = 1; i < argc; i++)
			run_path(argv[i], &num_ok, &num_bad);
	} else {
		snprintf(dir, sizeof(dir), "fuzz/corpus/%s", fuzz_target_name);
		run_path(dir, &num_ok, &num_bad);
	}
	printf("[==========] %zu test(s) run (corpus of %s).\n", num_ok + num_bad,
	       fuzz_target_name);
	if (num_bad > 0 || num_ok == 0) {
		printf("[  FAILED  ] %zu test(s), unreadable input or empty corpus.\n",
		       num_bad > 0 ? num_bad : 1);
		return 1;
	}
	printf("[  PASSED  ] %zu test(s).\n", num_ok);
	return 0;
}
