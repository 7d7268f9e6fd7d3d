# allocprof build. `make` builds the shim, the CLI and examples/producer's pool_tests; `make check`
# runs every test; `make demo` traces the built-in workload; `make bench` measures overhead.
SHELL := /bin/bash
.DEFAULT_GOAL := all
# Both cores by default: a clean build is most of `make check`'s time.
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)

BUILD   ?= build
PREFIX  ?= /usr/local
CXX     ?= g++
CC      ?= gcc
PYTHON  ?= /usr/bin/python3
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)

DEPS_STAMP := $(BUILD)/.deps-ok
# Holds the version the objects were built with, rewritten only when it changes: the objects that
# embed the version depend on it, so they are rebuilt then (and only then).
VERSION_STAMP := $(BUILD)/.version
$(shell mkdir -p $(BUILD) && [ "$$(cat $(VERSION_STAMP) 2>/dev/null)" = "$(VERSION)" ] || echo "$(VERSION)" > $(VERSION_STAMP))
# Warnings are errors: the compiler is Debian 12's g++, the same on every machine that builds this.
WARN     := -Wall -Wextra -Wno-unused-parameter -Wshadow -Werror
CXXSTD   := -std=c++20
OPT      ?= -O2 -g
# SANITIZE is set by the asan/tsan/ubsan targets below.
SANITIZE ?=
COMMON   := $(CXXSTD) $(OPT) $(SANITIZE) $(WARN) -Iinclude -DALLOCPROF_VERSION='"$(VERSION)"' -MMD -MP

# The shim is loaded into other programs: no exceptions or RTTI of its own, no libstdc++,
# hidden symbols except the entry points, initial-exec TLS, frame pointers for --unwind fp.
SHIM_CXXFLAGS := $(COMMON) -fPIC -fno-exceptions -fno-rtti -fno-threadsafe-statics -fvisibility=hidden \
                 -fno-omit-frame-pointer -ftls-model=initial-exec -fno-plt
# zstd is linked in, its symbols hidden (--exclude-libs): a program that dlopens libzstd, or links
# its own, must get its own copy loaded as it would without the shim (README, "Dependencies").
SHIM_LDLIBS   := -Wl,--exclude-libs,ALL -Wl,-Bstatic -lzstd -Wl,-Bdynamic -lunwind -ldl -lpthread

ABSL_LIBS := absl_flat_hash_map absl_str_format absl_strings absl_status absl_statusor
ANALYZER_CXXFLAGS = $(COMMON) $(shell pkg-config --cflags $(ABSL_LIBS) libdw libzstd zlib 2>/dev/null)
ANALYZER_LDLIBS   = $(shell pkg-config --libs $(ABSL_LIBS) libdw libzstd zlib 2>/dev/null) -lpthread

# Each folder is one stage of the data flow (README, "Architecture"); sources are listed per folder.
SHIM_DIRS := hooks record unwind runtime attach count
SHIM_SRCS := $(foreach d,$(SHIM_DIRS),$(wildcard shim/$(d)/*.cc))
SHIM_OBJS := $(SHIM_SRCS:%.cc=$(BUILD)/%.o) $(BUILD)/shim/hooks/dlopen_hook.o

# The analyzer library: every folder but the CLI's main, shared with the unit tests.
ANALYZER_DIRS := util read passes symbolize report report/sections export launch cli
ANALYZER_SRCS := $(foreach d,$(ANALYZER_DIRS),$(wildcard analyzer/$(d)/*.cc))
ANALYZER_LIB_SRCS := $(filter-out analyzer/cli/main.cc,$(ANALYZER_SRCS))
ANALYZER_LIB_OBJS := $(ANALYZER_LIB_SRCS:%.cc=$(BUILD)/%.o)
ANALYZER_MAIN_OBJ := $(BUILD)/analyzer/cli/main.o

all: $(BUILD)/liballocprof.so $(BUILD)/allocprof

# Dependencies are installed on first build (and by .ci/run); the stamp records the check.
$(DEPS_STAMP): scripts/install-deps.sh
	@mkdir -p $(BUILD)
	@bash scripts/install-deps.sh
	@touch $@

$(BUILD)/shim/%.o: shim/%.cc | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) $(SHIM_CXXFLAGS) -Ishim -c $< -o $@

$(BUILD)/shim/hooks/dlopen_hook.o: shim/hooks/dlopen_hook.S | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -c $< -o $@

$(BUILD)/liballocprof.so: $(SHIM_OBJS)
	$(CC) -shared -Wl,-z,defs -Wl,-z,now -Wl,--no-undefined -o $@ $^ $(SHIM_LDLIBS)

$(BUILD)/analyzer/%.o: analyzer/%.cc | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) $(ANALYZER_CXXFLAGS) -Ianalyzer -c $< -o $@

$(BUILD)/analyzer/cli/main.o $(BUILD)/analyzer/report/report_json.o $(BUILD)/analyzer/cli/export_command.o \
  $(BUILD)/shim/runtime/process_record.o: $(VERSION_STAMP)

$(BUILD)/libanalyzer.a: $(ANALYZER_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/allocprof: $(ANALYZER_MAIN_OBJ) $(BUILD)/libanalyzer.a
	$(CXX) $(SANITIZE) -o $@ $^ $(ANALYZER_LDLIBS)

include tests/fuzz/fuzz.mk
include tests/tests.mk
-include bench/bench.mk
include examples/producer/producer.mk

$(BUILD)/examples/demo_workload: examples/demo_workload.cc | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) -std=c++20 -O2 -g -pthread -o $@ $<

demo: all $(BUILD)/examples/demo_workload producer web
	@bash examples/demo.sh $(BUILD)

# report.html's libraries (d3, d3-flame-graph) and the browser test's driver (puppeteer-core),
# from npm at the versions package-lock.json pins; reinstalled only when the lock file changes.
WEB_DIR   := reports/web
WEB_STAMP := $(WEB_DIR)/node_modules/.allocprof-installed
web: $(WEB_STAMP)
$(WEB_STAMP): $(WEB_DIR)/package.json $(WEB_DIR)/package-lock.json | $(DEPS_STAMP)
	cd $(WEB_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: all web
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/allocprof
	install -m 0755 $(BUILD)/allocprof $(DESTDIR)$(PREFIX)/bin/allocprof
	install -m 0644 $(BUILD)/liballocprof.so $(DESTDIR)$(PREFIX)/lib/allocprof/liballocprof.so
	install -d $(DESTDIR)$(PREFIX)/include/allocprof
	install -m 0644 include/allocprof/*.h $(DESTDIR)$(PREFIX)/include/allocprof/
	install -d $(DESTDIR)$(PREFIX)/share/allocprof/reports/allocprof_reports
	install -m 0644 reports/allocprof_report.py $(DESTDIR)$(PREFIX)/share/allocprof/reports/
	install -m 0644 reports/allocprof_reports/*.py $(DESTDIR)$(PREFIX)/share/allocprof/reports/allocprof_reports/
	install -d $(DESTDIR)$(PREFIX)/share/allocprof/reports/web/vendor
	install -m 0644 $(WEB_DIR)/report.html.in $(WEB_DIR)/report.css $(WEB_DIR)/report.js \
	  $(DESTDIR)$(PREFIX)/share/allocprof/reports/web/
	install -m 0644 $(WEB_DIR)/node_modules/d3/dist/d3.min.js \
	  $(WEB_DIR)/node_modules/d3-flame-graph/dist/d3-flamegraph.umd.min.js \
	  $(DESTDIR)$(PREFIX)/share/allocprof/reports/web/vendor/
	install -m 0644 $(WEB_DIR)/node_modules/d3/LICENSE $(DESTDIR)$(PREFIX)/share/allocprof/reports/web/vendor/d3.LICENSE
	install -m 0644 $(WEB_DIR)/node_modules/d3-flame-graph/LICENSE \
	  $(DESTDIR)$(PREFIX)/share/allocprof/reports/web/vendor/d3-flame-graph.LICENSE

# Sanitizer builds of the analyzer and everything the unit tests exercise, in their own build
# directories, running the unit tests (the shim itself is not built with sanitizers: it is
# preloaded into programs that are not).
SAN_COMMON := OPT="-O1 -g -fno-omit-frame-pointer"
asan:
	$(MAKE) BUILD=build/asan $(SAN_COMMON) SANITIZE="-fsanitize=address -fno-sanitize-recover=all" build/asan/tests/unit_tests
	ASAN_OPTIONS=detect_leaks=1 build/asan/tests/unit_tests --gtest_brief=1
ubsan:
	$(MAKE) BUILD=build/ubsan $(SAN_COMMON) SANITIZE="-fsanitize=undefined -fno-sanitize-recover=all" build/ubsan/tests/unit_tests
	UBSAN_OPTIONS=print_stacktrace=1 build/ubsan/tests/unit_tests --gtest_brief=1
tsan:
	$(MAKE) BUILD=build/tsan $(SAN_COMMON) SANITIZE="-fsanitize=thread" build/tsan/tests/unit_tests
	# CfiBacktrace's tests call libunwind on other threads, whose thread-exit destructor locks a
	# mutex after TSan has torn the thread down (a crash inside TSan's runtime, not a race of ours).
	TSAN_OPTIONS=halt_on_error=1 build/tsan/tests/unit_tests --gtest_brief=1 --gtest_filter=-CfiBacktrace.*

clean:
	rm -rf $(BUILD) out

# Every C++ file as .clang-format has it (the check is part of `make check`).
FORMATTED := $(shell git ls-files '*.cc' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMATTED)
format-check:
	@clang-format --dry-run --Werror $(FORMATTED)

.PHONY: all demo web install clean asan ubsan tsan format format-check

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
include tests/stress/stress.mk
