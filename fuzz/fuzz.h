/* fuzz.h: the contract between a fuzz target (fuzz/fuzz_*.c) and its two
 * drivers: libFuzzer (make fuzz, clang -fsanitize=fuzzer) and replay_main.c
 * (make all / make test: replays fuzz/corpus/<fuzz_target_name> with the normal
 * compiler, with and without ASan+UBSan), after knot's tests-fuzz/main.c.
 *
 * A target returns 0 for every input; it calls abort() (through FUZZ_CHECK) when
 * an invariant fails, such as a parse that does not re-encode to its input.
 * Bad input is never a failure: only wrong answers, crashes and leaks are. */
#ifndef MN_FUZZ_FUZZ_H
#define MN_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The name of the target's corpus directory under fuzz/corpus/. */
extern const char fuzz_target_name[];

/* LLVMFuzzerInitialize runs once before any input (libFuzzer's optional hook;
 * every target here defines it, possibly empty). Returns 0. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
/* LLVMFuzzerTestOneInput runs one input; |data| is borrowed for the call. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* FUZZ_CHECK aborts with the failed condition and its line. */
#define FUZZ_CHECK(cond)                                                        \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, \
				__LINE__, #cond);                               \
			abort();                                                \
		}                                                               \
	} while (0)

#endif
