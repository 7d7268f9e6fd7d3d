# Fuzzing with clang's libFuzzer and AddressSanitizer. `make fuzz` runs each target for
# FUZZ_SECONDS (default 120) over its checked-in corpus; `make check` runs a short pass. A crash
# leaves its input in $(BUILD)/fuzz/; add it to the corpus and a regression test.
FUZZ_CXX ?= clang++
FUZZ_SECONDS ?= 120
FUZZ_SMOKE_RUNS ?= 3000
FUZZ_OUT := $(BUILD)/fuzz
FUZZ_FLAGS = -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
             -Iinclude -Ianalyzer -DALLOCPROF_VERSION='"fuzz"' $(shell pkg-config --cflags $(ABSL_LIBS) zlib 2>/dev/null)
FUZZ_ANALYZER_SRCS = $(filter-out analyzer/cli/main.cc %_command.cc,$(ANALYZER_SRCS))
# The analyzer, instrumented once for both targets.
FUZZ_ANALYZER_OBJS = $(FUZZ_ANALYZER_SRCS:analyzer/%.cc=$(FUZZ_OUT)/obj/%.o)

$(FUZZ_OUT)/obj/%.o: analyzer/%.cc $(wildcard analyzer/*/*.h include/allocprof/*.h) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -c $< -o $@

$(FUZZ_OUT)/trace_reader_fuzz: tests/fuzz/trace_reader_fuzz.cc $(FUZZ_ANALYZER_OBJS)
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -o $@ $^ $(ANALYZER_LDLIBS)

$(FUZZ_OUT)/diff_json_fuzz: tests/fuzz/diff_json_fuzz.cc $(FUZZ_ANALYZER_OBJS)
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -o $@ $^ $(ANALYZER_LDLIBS)

fuzz: $(FUZZ_OUT)/trace_reader_fuzz $(FUZZ_OUT)/diff_json_fuzz
	@mkdir -p $(FUZZ_OUT)/work
	@mkdir -p $(FUZZ_OUT)/work-json
	cd $(FUZZ_OUT) && ./trace_reader_fuzz -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=1024 -timeout=10 \
	  -artifact_prefix=$(abspath $(FUZZ_OUT))/ work $(abspath tests/fuzz/corpus/trace_reader)
	cd $(FUZZ_OUT) && ./diff_json_fuzz -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=1024 -timeout=10 \
	  -artifact_prefix=$(abspath $(FUZZ_OUT))/ work-json $(abspath tests/fuzz/corpus/diff_json)

# Short deterministic pass for `make check`: fixed seed and run count.
# pipefail: a crash must fail the pass, not vanish behind `tail`.
fuzz-smoke: $(FUZZ_OUT)/trace_reader_fuzz $(FUZZ_OUT)/diff_json_fuzz
	@mkdir -p $(FUZZ_OUT)/smoke $(FUZZ_OUT)/smoke-json
	@set -o pipefail; $(FUZZ_OUT)/trace_reader_fuzz -seed=1 -runs=$(FUZZ_SMOKE_RUNS) -rss_limit_mb=1024 -timeout=10 \
	  -artifact_prefix=$(abspath $(FUZZ_OUT))/ $(FUZZ_OUT)/smoke $(abspath tests/fuzz/corpus/trace_reader) 2>&1 | tail -1
	@set -o pipefail; $(FUZZ_OUT)/diff_json_fuzz -seed=1 -runs=$(FUZZ_SMOKE_RUNS) -rss_limit_mb=1024 -timeout=10 \
	  -artifact_prefix=$(abspath $(FUZZ_OUT))/ $(FUZZ_OUT)/smoke-json $(abspath tests/fuzz/corpus/diff_json) 2>&1 | tail -1

.PHONY: fuzz fuzz-smoke
