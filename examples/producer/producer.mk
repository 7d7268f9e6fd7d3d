# The demo producer (examples/producer/): `make producer` builds $(BUILD)/examples/producer and
# $(BUILD)/examples/hook_cost; `make producer-smoke` runs both acks modes and both pool shapes.
# Included by the top-level Makefile, which defines BUILD, CXX, WARN and DEPS_STAMP.
#
# The pool is header-only (array_pool.h, response_reader.h): tests/unit/producer_pool_test.cc
# includes it directly, so the unit tests need no rule from here.

PRODUCER_DIR      := examples/producer
PRODUCER_HEADERS  := $(wildcard $(PRODUCER_DIR)/*.h) include/allocprof/pool.h
# Frame pointers so `--unwind fp` sees whole stacks of the pool's fall-throughs.
PRODUCER_CXXFLAGS = -std=c++20 -O2 -g -fno-omit-frame-pointer -pthread $(WARN) -Iinclude

$(BUILD)/examples/producer: $(PRODUCER_DIR)/producer.cc $(PRODUCER_HEADERS) $(PRODUCER_DIR)/producer.mk | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) $(PRODUCER_CXXFLAGS) -o $@ $< -pthread

$(BUILD)/examples/hook_cost: $(PRODUCER_DIR)/hook_cost.cc include/allocprof/pool.h $(PRODUCER_DIR)/producer.mk | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) $(PRODUCER_CXXFLAGS) -o $@ $<

producer: $(BUILD)/examples/producer $(BUILD)/examples/hook_cost

producer-smoke: producer
	$(BUILD)/examples/producer --pool-max 1MiB --pool-slots 8
	$(BUILD)/examples/producer --pool-max 4MiB --pool-slots 32
	$(BUILD)/examples/producer --acks none
	$(BUILD)/examples/hook_cost --iterations 10000000 --rounds 1

# `make check` builds them too, for tests that run the producer under the shim.
check: producer

.PHONY: producer producer-smoke
