# metanotary: one plain Makefile (STYLE.md section 10).
#
#   make            build logd, mnctl, the tests and the benchmarks
#   make run        build and start logd with working defaults
#   make test       every test, in a normal build and an ASan+UBSan build
#   make bench      measure against this machine's ceilings (bench/RESULTS.md)
#   make lint       grep for banned calls
#
# Every entry point first runs scripts/deps.sh, which installs missing Debian
# packages (quiet when all are there); then the real work runs in a sub-make
# so that pkg-config sees the freshly installed packages.

B ?= build
SANITIZE ?=

# O is the output directory: $(B), or $(B)-san for a sanitizer build.
O := $(B)$(if $(SANITIZE),-san)
ifneq ($(SANITIZE),)
SANFLAGS := -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
endif

ifndef MN_DEPS_OK
.PHONY: all test run bench fuzz lint clean deps
all test run bench fuzz check-mod test-one:
	@sh scripts/deps.sh
	@$(MAKE) --no-print-directory MN_DEPS_OK=1 $@
deps:
	@sh scripts/deps.sh
lint:
	@$(MAKE) --no-print-directory MN_DEPS_OK=1 lint
clean:
	rm -rf build build-san build-fuzz build-fuzz-san
else

CC ?= cc
PKGS := openssl lmdb libuv jansson librnp libcurl libpsl yaml-0.1 zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS := $(shell pkg-config --libs $(PKGS))
CMOCKA_LIBS := $(shell pkg-config --libs cmocka)
LLHTTP_INC := /usr/share/include/llhttp
LLHTTP_SRC := /usr/share/llhttp

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wformat=2 -Wvla
OPT ?= -O2 -g
CFLAGS := -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(SANFLAGS) -I. -I$(LLHTTP_INC) $(PKG_CFLAGS) \
	-MMD -MP
LDFLAGS := $(SANFLAGS)
LIBS := $(PKG_LIBS) -lpthread -lm

# One static library per layer; a program or test links its layer and the
# layers below it only (DESIGN.md section 2), so a lower layer never needs an
# upper one to build or to be tested.
MODULES := common merkle map entry witness storage api logd
DEPS_common := common
DEPS_merkle := merkle common
DEPS_map := map merkle common
DEPS_entry := entry map merkle common
DEPS_witness := witness entry map merkle common
DEPS_storage := storage map merkle common
DEPS_api := api storage entry map merkle common
DEPS_logd := logd api storage entry map merkle common
DEPS_client := witness entry map merkle common
DEPS_bench := logd api storage entry map merkle common

mod_srcs = $(filter-out logd/main.c,$(wildcard $(1)/*.c))
mod_lib = $(O)/lib/lib$(1).a
# libs for a layer, highest first, as the linker wants them
libs_for = $(foreach m,$(DEPS_$(1)),$(if $(call mod_srcs,$(m)),$(call mod_lib,$(m))))

LLHTTP_OBJS := $(O)/obj/llhttp/api.o $(O)/obj/llhttp/http.o $(O)/obj/llhttp/llhttp.o

CLIENT_SRCS := $(wildcard client/*.c)
TEST_SRCS := $(wildcard tests/*/test_*.c)
TEST_BINS := $(TEST_SRCS:%.c=$(O)/%)
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(BENCH_SRCS:%.c=$(O)/%)

PROGS := $(if $(wildcard logd/main.c),$(O)/logd) $(if $(CLIENT_SRCS),$(O)/mnctl)

.PHONY: all test test-one check-mod run bench fuzz lint
# keep objects of tests and benchmarks (make would delete them as intermediates)
.SECONDARY:
all: $(PROGS) $(TEST_BINS) $(BENCH_BINS) $(O)/tests/tilecheck

# The independent tile checker (tests/logd/test_tiles.c): Go, over sumdb/tlog
# and sumdb/note from Debian's golang-golang-x-mod-dev, built offline.
$(O)/tests/tilecheck: tests/tilecheck/main.go
	@mkdir -p $(@D)
	GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS= GOCACHE=$(abspath $(O))/gocache \
		go build -o $@ ./tests/tilecheck
# test_tiles, test_tiles_big, test_witness_mirror and test_publish run it, so
# check-mod builds it too
$(O)/tests/logd/test_tiles $(O)/tests/logd/test_tiles_big \
		$(O)/tests/logd/test_witness_mirror $(O)/tests/logd/test_publish: | $(O)/tests/tilecheck

$(O)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

# llhttp ships as C sources (Debian node-llhttp); it is not ours, so it is
# built without our warning set, into the logd library.
$(O)/obj/llhttp/%.o: $(LLHTTP_SRC)/%.c
	@mkdir -p $(@D)
	$(CC) -std=c11 $(OPT) $(SANFLAGS) -I$(LLHTTP_INC) -w -c $< -o $@

# The Public Suffix List the map's keys are computed with is pinned: a copy
# in entry/psl/, compiled into the entry library (entry/mapkeys.h).
$(O)/gen/psl_data.c: entry/psl/public_suffix_list.dat scripts/embed.sh
	@mkdir -p $(@D)
	sh scripts/embed.sh mn_psl_dat $< > $@

$(O)/obj/gen/psl_data.o: $(O)/gen/psl_data.c
	@mkdir -p $(@D)
	$(CC) -std=c11 $(OPT) $(SANFLAGS) -w -c $< -o $@

define MODLIB
$(call mod_lib,$(1)): $(patsubst %.c,$(O)/obj/%.o,$(call mod_srcs,$(1))) $(if $(filter logd,$(1)),$(LLHTTP_OBJS)) $(if $(filter entry,$(1)),$(O)/obj/gen/psl_data.o)
	@mkdir -p $$(@D)
	@rm -f $$@
	ar rcs $$@ $$^
endef
$(foreach m,$(MODULES),$(if $(call mod_srcs,$(m)),$(eval $(call MODLIB,$(m)))))

# tests/lib/*.c: helpers shared by tests (reference Merkle tree, PKI, ...).
# An archive, so a test pulls in only the helpers it uses.
TESTLIB := $(if $(wildcard tests/lib/*.c),$(O)/lib/libtest.a)
$(O)/lib/libtest.a: $(patsubst %.c,$(O)/obj/%.o,$(wildcard tests/lib/*.c))
	@mkdir -p $(@D)
	@rm -f $@
	ar rcs $@ $^

$(O)/logd: $(O)/obj/logd/main.o $(call libs_for,logd)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# mnctl serves HTTP too (`mnctl witness serve`): the llhttp objects of logd.
$(O)/mnctl: $(CLIENT_SRCS:%.c=$(O)/obj/%.o) $(call libs_for,client) $(LLHTTP_OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

define TESTBIN
$(O)/tests/$(1)/%: $(O)/obj/tests/$(1)/%.o $(TESTLIB) $(call libs_for,$(1))
	@mkdir -p $$(@D)
	$(CC) $(LDFLAGS) -o $$@ $$^ $(LIBS) $(CMOCKA_LIBS)
endef
$(foreach m,$(MODULES) client,$(eval $(call TESTBIN,$(m))))

# test_map_replay checks the store's incremental map against mnctl's map
# audit (client/audit.c, pure computation) over leaves of every class, so it
# links that file and the entry layer too.
$(O)/tests/storage/test_map_replay: $(O)/obj/tests/storage/test_map_replay.o \
		$(O)/obj/client/audit.o $(TESTLIB) $(call libs_for,api)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(CMOCKA_LIBS)

# bench/lib/*.c: what the benchmarks share (children, wrk runs).
BENCHLIB := $(if $(wildcard bench/lib/*.c),$(O)/lib/libbench.a)
$(O)/lib/libbench.a: $(patsubst %.c,$(O)/obj/%.o,$(wildcard bench/lib/*.c))
	@mkdir -p $(@D)
	@rm -f $@
	ar rcs $@ $^

$(O)/bench/%: $(O)/obj/bench/%.o $(BENCHLIB) $(TESTLIB) $(call libs_for,bench)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# bench_map's parts (bench/map/*.c, one per part, and what they share; see
# bench/bench_map.c) are linked into bench_map alone.
BENCH_MAP_OBJS := $(patsubst %.c,$(O)/obj/%.o,$(wildcard bench/map/*.c))
$(O)/bench/bench_map: $(O)/obj/bench/bench_map.o $(BENCH_MAP_OBJS) $(BENCHLIB) $(TESTLIB) \
		$(call libs_for,bench)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# check-mod M=merkle: build and run one layer's tests (for development).
check-mod:
	@$(MAKE) --no-print-directory $(PROGS) $(patsubst %.c,$(O)/%,$(wildcard tests/$(M)/test_*.c))
	@TEST_MOD=$(M) sh tests/run.sh $(O)

# test: the normal build, then the sanitizer build; one summary line for both.
test:
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory SANITIZE=address,undefined all
	@sh tests/run.sh $(B) $(B)-san

test-one:
	@$(MAKE) --no-print-directory all
	@sh tests/run.sh $(O)

run: $(O)/logd
	./$(O)/logd $(ARGS)

bench: all
	@sh bench/run.sh $(O)

lint:
	@! grep -nE '\b(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|gets)\s*\(' \
		$(wildcard */*.c */*.h bench/lib/*.c bench/lib/*.h bench/map/*.c bench/map/*.h) || { echo "lint: banned call above"; exit 1; }
	@echo "lint: clean"

# --- fuzz (owned by fuzz) ---
# fuzz/fuzz_<name>.c: one libFuzzer target per parser (FUZZING.md). `make all`
# links each with fuzz/replay_main.c into $(O)/tests/fuzz/test_replay_<name>,
# which replays fuzz/corpus/<name>, so `make test` runs every corpus in both
# builds. `make fuzz SECONDS=N` builds the targets with clang
# -fsanitize=fuzzer,address,undefined (the layer libraries too) into $(B)-fuzz
# and runs each for N seconds on a scratch copy of its corpus; the committed
# corpus never grows by itself. `make fuzz-corpus` regenerates the seeds and
# fuzz/fixed_pki.h with fuzz/gen_corpus.c.
FUZZ_NAMES := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_REPLAY := $(FUZZ_NAMES:%=$(O)/tests/fuzz/test_replay_%)
FUZZ_LIBS = $(TESTLIB) $(call libs_for,logd)
FUZZ_SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
SECONDS ?= 60
.PHONY: fuzz-build fuzz-corpus

all: $(FUZZ_REPLAY)

$(O)/tests/fuzz/test_replay_%: $(O)/obj/fuzz/fuzz_%.o $(O)/obj/fuzz/replay_main.o $(FUZZ_LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(O)/fuzz/fuzz_%: $(O)/obj/fuzz/fuzz_%.o $(FUZZ_LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS)

$(O)/fuzz/gen_corpus: $(O)/obj/fuzz/gen_corpus.o $(FUZZ_LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

fuzz:
	@$(MAKE) --no-print-directory O=$(B)-fuzz CC=clang SANITIZE=fuzzer \
		SANFLAGS="$(FUZZ_SANFLAGS)" fuzz-build
	@sh fuzz/run.sh $(B)-fuzz $(SECONDS) $(FUZZ_NAMES)

fuzz-build: $(FUZZ_NAMES:%=$(O)/fuzz/fuzz_%)

fuzz-corpus: $(O)/fuzz/gen_corpus
	./$(O)/fuzz/gen_corpus fuzz
# --- end fuzz ---

# --- faults (owned by faults) ---
# tests/faults/test_*.c: allocation-failure tests (FUZZING.md, "Fault
# injection"). Linked like tests/logd, plus --wrap so that every malloc,
# calloc and realloc of our static libraries goes through the test's failing
# allocator.
FAULTS_WRAP := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc
$(O)/tests/faults/%: $(O)/obj/tests/faults/%.o $(TESTLIB) $(call libs_for,logd)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $(FAULTS_WRAP) -o $@ $^ $(LIBS) $(CMOCKA_LIBS)
# --- end faults ---

-include $(shell find $(O) -name '*.d' 2>/dev/null)
endif
