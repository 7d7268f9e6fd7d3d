# Benchmarks: `make bench` measures the overhead of allocprof against the uninstrumented program and
# heaptrack (see bench/README.md); `make bench-quick` is a one-round smoke run at ~1/10 the sizes.
# Included by the top-level Makefile, which defines BUILD and CXX.

# Frame pointers so `--unwind fp` sees whole stacks; -fno-builtin and the pointer escapes in churn.cc
# keep the compiler from eliding or merging allocation calls.
BENCH_CXXFLAGS := -std=c++20 -O2 -g -fno-omit-frame-pointer -fno-builtin -pthread $(WARN)

$(BUILD)/bench/churn: bench/churn.cc bench/bench.mk | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) $(BENCH_CXXFLAGS) -o $@ $< -pthread

# The floor of any preloaded tracer: forwards the allocation entry points and records nothing.
$(BUILD)/bench/libnoop_interposer.so: bench/noop_interposer.cc bench/bench.mk | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) -std=c++20 -O2 -g -fPIC -shared $(WARN) -o $@ $<

# The trace synthesizer: the shim's record encoder (one definition of the format), no shim runtime.
$(BUILD)/bench/synth_trace: bench/synth_trace.cc shim/record/record_encoder.h include/allocprof/trace_format.h bench/bench.mk | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) -std=c++20 -O2 -g $(WARN) -Iinclude -Ishim -o $@ $< -lzstd

bench: all $(BUILD)/bench/churn $(BUILD)/bench/libnoop_interposer.so
	bash bench/run.sh $(BUILD)
	bash bench/analyze.sh $(BUILD)

bench-quick: all $(BUILD)/bench/churn $(BUILD)/bench/libnoop_interposer.so
	bash bench/run.sh $(BUILD) --quick
	bash bench/analyze.sh $(BUILD) --quick

# The analyzer on 100 M- and 1 G-event synthesized traces (needs ~4 GB of free disk under /tmp).
bench-big: all $(BUILD)/bench/synth_trace
	bash bench/big.sh $(BUILD)

.PHONY: bench bench-quick bench-big
