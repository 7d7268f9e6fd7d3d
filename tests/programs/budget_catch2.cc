// budget_catch2: allocprof/gtest.h's assertions under Catch2 (2.x, Debian's catch2). The test
// cases tagged [fails] fail on purpose; tests/integration/budget_test.cc runs them by tag and
// checks the failure message.
#define CATCH_CONFIG_MAIN
#include <stdlib.h>
#include <string.h>

#include <catch2/catch.hpp>

#include "allocprof/gtest.h"

namespace {

void* volatile g_sink;

__attribute__((noinline)) void AllocateOnce() {
  g_sink = malloc(321);
  free(g_sink);
}
__attribute__((noinline)) void Nothing() {}

}  // namespace

TEST_CASE("budgets that hold", "[holds]") {
  EXPECT_NO_ALLOCATIONS(Nothing());
  EXPECT_ALLOCATIONS_LE(AllocateOnce(), 1);
  EXPECT_POOL_FALLTHROUGHS_EQ(Nothing(), "catch-pool", 0);
  CHECK(true);
}

TEST_CASE("a budget that fails", "[fails]") { EXPECT_NO_ALLOCATIONS(AllocateOnce()); }
