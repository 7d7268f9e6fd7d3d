# The demo producer (examples/producer/): `make producer` builds $(BUILD)/examples/producer,
# $(BUILD)/examples/hook_cost and $(BUILD)/examples/pool_tests (the pool's allocation budgets, which
# plain `make` builds too); `make producer-smoke` runs both acks modes and both pool shapes.
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

# GoogleTest with allocprof/gtest.h's budgets: `build/allocprof test -- build/examples/pool_tests`.
# Built as tests usually are, without optimisation, so a failure's stack shows every call.
POOL_TESTS_CXXFLAGS = -std=c++20 -O0 -g -fno-omit-frame-pointer -pthread $(WARN) -Iinclude
$(BUILD)/examples/pool_tests: $(PRODUCER_DIR)/pool_tests.cc $(PRODUCER_HEADERS) include/allocprof/budget.h \
  include/allocprof/gtest.h include/allocprof/units.h $(PRODUCER_DIR)/producer.mk | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) $(POOL_TESTS_CXXFLAGS) -o $@ $< -lgtest -pthread

all: $(BUILD)/examples/pool_tests

producer: $(BUILD)/examples/producer $(BUILD)/examples/hook_cost $(BUILD)/examples/pool_tests

producer-smoke: producer
	$(BUILD)/examples/producer --pool-max 1MiB --pool-slots 8
	$(BUILD)/examples/producer --pool-max 4MiB --pool-slots 32
	$(BUILD)/examples/producer --acks none
	$(BUILD)/examples/hook_cost --iterations 10000000 --rounds 1

# `make check` builds them too, for tests that run the producer under the shim.
check: producer

.PHONY: producer producer-smoke
