# sqlite-elmo build.  `make` builds the library, the SQLite extension and the tools;
# `make test` runs the whole suite (release build, then AddressSanitizer/UBSan build).
#
#   make                 build/release/{libelmo.a,elmo.so,elmo-genmodel,...}
#   make SAN=1           the same under build/asan with -fsanitize=address,undefined
#   make test            unit tests + SQL tests, release and sanitizer builds
#   make bench           bench/ (generates synthetic models under build/models if missing)
#   make install         PREFIX=/usr/local DESTDIR=: lib/libelmo.{a,so}, include/elmo.h,
#                        lib/pkgconfig/elmo.pc, lib/sqlite-elmo/elmo.so, bin/elmo
#   make uninstall       removes what install installed (same PREFIX and DESTDIR)
#   make demo            builds the extension and runs the narrated tour of sql/quickstart.sql
#   make model MODEL=small|medium|original|original-5.5b   downloads official weights

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
all: $(B)/libelmo.a $(B)/libelmo.so $(EXT_SO) $(TOOL_BIN) $(BENCH_BIN) $(TEST_BIN) $(EXT_TEST_BIN)

# Header dependencies come from the compiler (-MMD -MP writes a .d file beside each output).
DEPFLAGS = -MMD -MP -MF $@.d -MT $@
$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(DEPFLAGS) -c $< -o $@
-include $(shell find $(B) -name '*.d' 2>/dev/null)

$(B)/libelmo.a: $(CORE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

# The extension exports only sqlite3_elmo_init (version script + hidden visibility).
$(B)/elmo.so: $(EXT_OBJ) $(B)/libelmo.a ext/elmo.map
	$(CC) -shared -o $@ $(EXT_OBJ) $(B)/libelmo.a $(LDFLAGS_ALL) \
	    -Wl,--version-script=ext/elmo.map -Wl,-z,defs $(LIBS)

# The shared library exports the functions of include/elmo.h and nothing else. They are
# declared with default visibility there (everything else is hidden), and the version
# script, generated from the header, lists them by name: GCC gives the ifunc symbols of
# the target_clones kernels default visibility, so visibility alone would export those too.
$(B)/libelmo.map: include/elmo.h
	@mkdir -p $(dir $@)
	{ echo '{'; echo '  global:'; \
	  grep -o '\belmo_[a-z0-9_]*(' include/elmo.h | tr -d '(' | sort -u | sed 's/.*/    &;/'; \
	  echo '  local: *;'; echo '};'; } > $@

$(B)/libelmo.so: $(CORE_OBJ) $(B)/libelmo.map
	$(CC) -shared -o $@ $(CORE_OBJ) $(LDFLAGS_ALL) -Wl,-soname,libelmo.so.0 \
	    -Wl,--version-script=$(B)/libelmo.map -Wl,-z,defs $(LIBS)

$(B)/tests/%: tests/%.c $(TEST_LIB_OBJ) $(B)/libelmo.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(DEPFLAGS) $< $(TEST_LIB_OBJ) $(B)/libelmo.a -o $@ $(LDFLAGS_ALL) $(LIBS)

# The allocation-failure test fails chosen allocations of the library and the extension.
$(B)/tests/ext/test_alloc_failure: WRAP := \
    -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=elmo_big_alloc
$(B)/tests/ext/%: tests/ext/%.c tests/ext/ext_db.h $(EXT_OBJ) $(TEST_LIB_OBJ) $(B)/libelmo.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $< $(EXT_OBJ) $(TEST_LIB_OBJ) $(B)/libelmo.a -o $@ $(LDFLAGS_ALL) \
	    $(WRAP) $(LIBS) -lsqlite3 -ldl

$(B)/%: tools/%.c $(B)/libelmo.a
	$(CC) $(CFLAGS_ALL) $(DEPFLAGS) $< $(B)/libelmo.a -o $@ $(LDFLAGS_ALL) $(LIBS)

$(B)/elmo-bench: bench/elmo-bench.c $(BENCH_LIB) $(B)/libelmo.a $(wildcard bench/*.h include/*.h)
	$(CC) $(CFLAGS_ALL) $< $(BENCH_LIB) $(B)/libelmo.a -o $@ $(LDFLAGS_ALL) $(LIBS) -lopenblas -ldnnl -lsqlite3

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

# Only the extension: the demo needs no tests, tools or benchmark.
demo: $(EXT_SO)
	@B=$(B) SQLITE3=$(SQLITE3) sh tools/demo.sh

# ---- fuzzing (clang's libFuzzer), see tests/fuzz/README.md ---------------------------
# `make fuzz` runs each target for FUZZ_SECONDS; `make fuzz-ci` each briefly over its seed
# corpus (load_hdf5 too: with libhdf5's own leaks suppressed it runs clean).
FUZZ_SECONDS ?= 60
FUZZ_CI_SECONDS ?= 20
FUZZ_TARGETS := call_options sql_functions tokenize vectors load_hdf5 load_safetensors \
                load_tf_checkpoint model_options vocab
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
# The sanitizer builds have no target_clones (core/multiversion.h: their resolvers run
# before the runtimes): on a machine with AVX2 and FMA, build the elementwise kernels (the
# files that use MULTIVERSION) for it, so that exp_fast's fmaf steps are instructions, not
# calls into libm (the same bits, twenty times faster).
HOST_FMA := $(shell grep -qw fma /proc/cpuinfo 2>/dev/null && grep -qw avx2 /proc/cpuinfo && echo 1)
MULTIVERSION_OBJ := $(B)/core/kernels.o $(B)/core/lm_kernels.o
ifneq ($(B),build/release)
ifeq ($(HOST_FMA),1)
$(MULTIVERSION_OBJ): CFLAGS_ALL += -mavx2 -mfma
endif
endif

tsan-build:
	$(MAKE) TSAN=1 build/tsan/tests/stress/stress_threads

# setarch -R: without address randomization, so that TSan's fixed shadow layout also fits
# on kernels with many random mmap bits.
check-tsan: tsan-build
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" STRESS_SECONDS=$(TSAN_SECONDS) \
	    setarch $$(uname -m) -R build/tsan/tests/stress/stress_threads

# `make check-locks`: the lock tests of `elmo embed` LOCK_RUNS times in a row (CI: 20); a
# test that waits for another connection must pass every time, also on a loaded machine.
LOCK_RUNS ?= 20
.PHONY: check-locks
check-locks: $(B)/bin/elmo $(EXT_SO)
	@i=0; while [ $$i -lt $(LOCK_RUNS) ]; do i=$$((i + 1)); \
	    B=$(B) $(PYTHON) tests/sql/test_cli_locks.py >$(B)/check-locks.log 2>&1 || \
	    { cat $(B)/check-locks.log; echo "check-locks: run $$i of $(LOCK_RUNS) failed"; exit 1; }; \
	done; echo "check-locks: $(LOCK_RUNS) runs of tests/sql/test_cli_locks.py passed"

clean:
	rm -rf build

# ---- formatting and static analysis -----------------------------------------------------
# `make format` applies .clang-format (clang-format 14) to every C file (include/ core/ ext/
# cli/ tools/ tests/ bench/); `make format-check` fails when any of them would change. `make lint` runs cppcheck over core/ ext/ cli/ and fails on any finding
# not listed, with its reason, in .cppcheck-suppressions.
CLANG_FORMAT ?= clang-format-14
CPPCHECK     ?= cppcheck
FORMAT_SRC   := $(wildcard include/*.h core/*.c core/*.h ext/*.c ext/*.h cli/*.c cli/*.h \
                  tools/*.c tests/*.c tests/*.h tests/ext/*.c tests/ext/*.h tests/fuzz/*.c \
                  tests/fuzz/*.h tests/stress/*.c bench/*.c bench/*.h)
.PHONY: format format-check lint
format:
	$(CLANG_FORMAT) -i $(FORMAT_SRC)

format-check:
	$(CLANG_FORMAT) --dry-run --Werror $(FORMAT_SRC)

lint:
	$(CPPCHECK) --quiet --std=c11 --language=c --enable=warning,performance,portability \
	    --inline-suppr --suppressions-list=.cppcheck-suppressions --error-exitcode=1 \
	    -D__GNUC__ -Iinclude -Icore -Iext core ext cli

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

# ---- install ----------------------------------------------------------------------------
# make install PREFIX=/usr/local DESTDIR=   (release build). Installs:
#   PREFIX/lib/libelmo.a, PREFIX/lib/libelmo.so.0 (+ libelmo.so link), PREFIX/include/elmo.h,
#   PREFIX/lib/pkgconfig/elmo.pc, PREFIX/lib/sqlite-elmo/elmo.so (the SQLite extension:
#   `.load PREFIX/lib/sqlite-elmo/elmo`), PREFIX/bin/elmo.
PREFIX  ?= /usr/local
DESTDIR ?=
VERSION := $(shell sed -n 's/^\#define ELMO_VERSION "\(.*\)"/\1/p' include/elmo.h)
INSTALL_FILES := lib/libelmo.a lib/libelmo.so.0 lib/libelmo.so include/elmo.h \
                 lib/pkgconfig/elmo.pc lib/sqlite-elmo/elmo.so bin/elmo
.PHONY: install uninstall test-install
install: $(B)/libelmo.a $(B)/libelmo.so $(EXT_SO) $(B)/bin/elmo tools/elmo.pc.in
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include \
	    $(DESTDIR)$(PREFIX)/lib/sqlite-elmo $(DESTDIR)$(PREFIX)/bin
	install -m 644 $(B)/libelmo.a $(DESTDIR)$(PREFIX)/lib/libelmo.a
	install -m 755 $(B)/libelmo.so $(DESTDIR)$(PREFIX)/lib/libelmo.so.0
	ln -sf libelmo.so.0 $(DESTDIR)$(PREFIX)/lib/libelmo.so
	install -m 644 include/elmo.h $(DESTDIR)$(PREFIX)/include/elmo.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' \
	    tools/elmo.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/elmo.pc
	install -m 755 $(EXT_SO) $(DESTDIR)$(PREFIX)/lib/sqlite-elmo/elmo.so
	install -m 755 $(B)/bin/elmo $(DESTDIR)$(PREFIX)/bin/elmo

uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/,$(INSTALL_FILES))
	-rmdir $(DESTDIR)$(PREFIX)/lib/sqlite-elmo 2>/dev/null

# ---- documentation tests (release build only) ------------------------------------------
# tests/docs/run_docs.py runs every example of README.md; tests/install_test.sh installs into
# a scratch DESTDIR and builds the README's C example with pkg-config; fetch_model_test.sh
# checks tools/fetch-model.sh offline; node_test.sh runs the Node.js example when
# `make node-deps` has installed better-sqlite3 into build/vendor/node; vec0_absent_test.sh
# checks that sql/vec0_search.sql stops with one clear error when vec0.so is missing.
.PHONY: test-docs node-deps model
test-sql: test-docs
test-docs: all
ifeq ($(SAN),1)
	@echo "  test-docs: release build only (make SAN=0 test-docs)"
else
	@B=$(B) SQLITE3=$(SQLITE3) $(PYTHON) tests/docs/run_docs.py
	@B=$(B) MAKE="$(MAKE)" SQLITE3=$(SQLITE3) sh tests/install_test.sh
	@B=$(B) SQLITE3=$(SQLITE3) sh tests/docs/fetch_model_test.sh
	@B=$(B) sh tests/docs/node_test.sh
	@B=$(B) SQLITE3=$(SQLITE3) sh tests/docs/vec0_absent_test.sh
endif
test-install: test-docs

node-deps:
	mkdir -p build/vendor/node
	cd build/vendor/node && npm install --no-audit --no-fund better-sqlite3@12

# make model MODEL=small|medium|original|original-5.5b: downloads official AllenNLP weights
# into models/ and converts them to models/MODEL.safetensors (tools/fetch-model.sh).
MODEL ?= small
model: $(B)/bin/elmo
	ELMO_BIN=$(B)/bin/elmo sh tools/fetch-model.sh $(MODEL)
