# sqlite-elmo build.  `make` builds the library, the SQLite extension and the tools;
# `make test` runs the whole suite (release build, then AddressSanitizer/UBSan build).
#
#   make                 build/release/{libelmo.a,elmo.so,elmo-genmodel,...}
#   make SAN=1           the same under build/asan with -fsanitize=address,undefined
#   make test            unit tests + SQL tests, release and sanitizer builds
#   make bench           bench/ (generates synthetic models under build/models if missing)

CC      ?= cc
SAN     ?= 0
PYTHON  ?= /usr/bin/python3
SQLITE3 ?= sqlite3

ifeq ($(FUZZ),1)
  # libFuzzer targets (tests/fuzz/): clang, ASan + UBSan, coverage instrumentation
  CC       := clang
  B        := build/fuzz
  SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
              -fno-omit-frame-pointer
  OPT      := -O1
else ifeq ($(TSAN),1)
  B        := build/tsan
  SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer
  OPT      := -O1
else ifeq ($(SAN),1)
  B        := build/asan
  SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
  OPT      := -O1
else
  B        := build/release
  SANFLAGS :=
  OPT      := -O3
endif

PKG_CFLAGS := $(shell pkg-config --cflags hdf5 libcjson)
PKG_LIBS   := $(shell pkg-config --libs hdf5 libcjson)
LIBS       := $(PKG_LIBS) -lpthread -lm

CFLAGS_ALL := -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror $(OPT) -g -fPIC \
              -fno-trapping-math \
              -fvisibility=hidden \
              -Iinclude -Icore $(PKG_CFLAGS) $(SANFLAGS) $(CFLAGS)
LDFLAGS_ALL := $(SANFLAGS) $(LDFLAGS)

CORE_SRC  := $(wildcard core/*.c)
CORE_OBJ  := $(CORE_SRC:%.c=$(B)/%.o)
EXT_SRC   := $(wildcard ext/*.c)
EXT_OBJ   := $(EXT_SRC:%.c=$(B)/%.o)
TEST_SRC  := $(wildcard tests/test_*.c)
TEST_BIN  := $(TEST_SRC:tests/%.c=$(B)/tests/%)
TEST_LIB_SRC := $(filter-out tests/test_%.c,$(wildcard tests/*.c))
TEST_LIB_OBJ := $(TEST_LIB_SRC:%.c=$(B)/%.o)
# In-process extension tests: the extension's objects linked with the system SQLite.
EXT_TEST_SRC := $(wildcard tests/ext/test_*.c)
EXT_TEST_BIN := $(EXT_TEST_SRC:tests/%.c=$(B)/tests/%)
TOOL_SRC  := $(wildcard tools/*.c)
TOOL_BIN  := $(TOOL_SRC:tools/%.c=$(B)/%)
BENCH_LIB := $(filter-out bench/elmo-bench.c,$(wildcard bench/*.c))
BENCH_BIN := $(B)/elmo-bench

EXT_SO := $(if $(EXT_SRC),$(B)/elmo.so)

.SECONDARY:
.PHONY: all test test-unit test-sql test-release test-asan bench demo clean \
        fuzz fuzz-ci fuzz-build check-tsan tsan-build
all: $(B)/libelmo.a $(EXT_SO) $(TOOL_BIN) $(BENCH_BIN) $(TEST_BIN) $(EXT_TEST_BIN)

$(B)/%.o: %.c $(wildcard include/*.h core/*.h ext/*.h tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(B)/libelmo.a: $(CORE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

# The extension exports only sqlite3_elmo_init (version script + hidden visibility).
$(B)/elmo.so: $(EXT_OBJ) $(B)/libelmo.a ext/elmo.map
	$(CC) -shared -o $@ $(EXT_OBJ) $(B)/libelmo.a $(LDFLAGS_ALL) \
	    -Wl,--version-script=ext/elmo.map -Wl,-z,defs $(LIBS)

$(B)/tests/%: tests/%.c $(TEST_LIB_OBJ) $(B)/libelmo.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $< $(TEST_LIB_OBJ) $(B)/libelmo.a -o $@ $(LDFLAGS_ALL) $(LIBS)

# The allocation-failure test fails chosen allocations of the library and the extension.
$(B)/tests/ext/test_alloc_failure: WRAP := \
    -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=elmo_big_alloc
$(B)/tests/ext/%: tests/ext/%.c tests/ext/ext_db.h $(EXT_OBJ) $(TEST_LIB_OBJ) $(B)/libelmo.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $< $(EXT_OBJ) $(TEST_LIB_OBJ) $(B)/libelmo.a -o $@ $(LDFLAGS_ALL) \
	    $(WRAP) $(LIBS) -lsqlite3 -ldl

$(B)/%: tools/%.c $(B)/libelmo.a
	$(CC) $(CFLAGS_ALL) $< $(B)/libelmo.a -o $@ $(LDFLAGS_ALL) $(LIBS)

$(B)/elmo-bench: bench/elmo-bench.c $(BENCH_LIB) $(B)/libelmo.a
	$(CC) $(CFLAGS_ALL) $< $(BENCH_LIB) $(B)/libelmo.a -o $@ $(LDFLAGS_ALL) $(LIBS) -lopenblas -lsqlite3

# ---- tests ---------------------------------------------------------------------------
test: test-release test-asan

test-release:
	$(MAKE) SAN=0 test-unit test-sql

test-asan:
	$(MAKE) SAN=1 test-unit test-sql

test-unit: all
	@B=$(B) SAN=$(SAN) sh tests/run_unit.sh $(TEST_BIN) $(EXT_TEST_BIN)

test-sql: all
	@B=$(B) SAN=$(SAN) PYTHON=$(PYTHON) SQLITE3=$(SQLITE3) sh tests/run_sql.sh

bench: all
	@B=$(B) sh bench/run.sh

demo: all
	@$(SQLITE3) :memory: -cmd ".load $(B)/elmo" < sql/quickstart.sql

# ---- fuzzing (clang's libFuzzer), see tests/fuzz/README.md ---------------------------
# `make fuzz` runs each target for FUZZ_SECONDS; `make fuzz-ci` each briefly over its seed
# corpus (load_hdf5 too: with libhdf5's own leaks suppressed it runs clean).
FUZZ_SECONDS ?= 60
FUZZ_CI_SECONDS ?= 20
FUZZ_TARGETS := call_options sql_functions tokenize vectors load_hdf5 load_safetensors \
                load_tf_checkpoint
FUZZ_CI_TARGETS := $(FUZZ_TARGETS)

$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/ext/ext_db.h $(EXT_OBJ) $(B)/libelmo.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -fsanitize=fuzzer $< $(EXT_OBJ) $(B)/libelmo.a -o $@ $(LDFLAGS_ALL) \
	    -fsanitize=fuzzer $(LIBS) -lsqlite3 -ldl

fuzz-build:
	$(MAKE) FUZZ=1 $(FUZZ_TARGETS:%=build/fuzz/fuzz/fuzz_%)

fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run.sh $(FUZZ_TARGETS)

fuzz-ci: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_CI_SECONDS) sh tests/fuzz/run.sh $(FUZZ_CI_TARGETS)

# ---- ThreadSanitizer: threads x connections, load/unload churn, interrupts --------------
TSAN_SECONDS ?= 20

$(B)/tests/stress/%: tests/stress/%.c tests/ext/ext_db.h $(EXT_OBJ) $(B)/libelmo.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $< $(EXT_OBJ) $(B)/libelmo.a -o $@ $(LDFLAGS_ALL) $(LIBS) \
	    -lsqlite3 -ldl

# The gate kernels' target_clones resolvers run before the TSan runtime is up: leave that
# file (pure arithmetic on the caller's buffers) uninstrumented.
ifeq ($(TSAN),1)
$(B)/core/kernels.o: CFLAGS_ALL := $(filter-out -fsanitize=thread,$(CFLAGS_ALL))
endif

tsan-build:
	$(MAKE) TSAN=1 build/tsan/tests/stress/stress_threads

# setarch -R: without address randomization, so that TSan's fixed shadow layout also fits
# on kernels with many random mmap bits.
check-tsan: tsan-build
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" STRESS_SECONDS=$(TSAN_SECONDS) \
	    setarch $$(uname -m) -R build/tsan/tests/stress/stress_threads

clean:
	rm -rf build

# ---- the command-line program (cli/) and the Python package (python/) -----------------
# `elmo` links the extension's objects statically and registers them with
# sqlite3_auto_extension, so it needs no elmo.so at run time.
CLI_SRC := $(wildcard cli/*.c)
CLI_OBJ := $(CLI_SRC:%.c=$(B)/%.o)
# (In bin/, so that `.load build/release/elmo` always finds the extension elmo.so.)
all: $(B)/bin/elmo
$(CLI_OBJ): $(wildcard cli/*.h)
$(B)/bin/elmo: $(CLI_OBJ) $(EXT_OBJ) $(B)/libelmo.a
	@mkdir -p $(dir $@)
	$(CC) -o $@ $(CLI_OBJ) $(EXT_OBJ) $(B)/libelmo.a $(LDFLAGS_ALL) -lsqlite3 $(LIBS)

.PHONY: test-python
test-sql: test-python
test-python: all
	@B=$(B) SAN=$(SAN) PYTHON=$(PYTHON) sh tests/python/run.sh
