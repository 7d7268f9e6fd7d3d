// Allocation budgets as test assertions, for GoogleTest and Catch2 (include this header after the
// framework's own). Header-only: no link dependency beyond the framework the test already uses.
//
//   EXPECT_ALLOCATIONS_LE(statement, n);                 // statement allocates at most n times
//   EXPECT_NO_ALLOCATIONS(statement);                    // ... not at all
//   EXPECT_POOL_FALLTHROUGHS_EQ(statement, "pool", n);   // exactly n rents of that pool fell through
//   ASSERT_ALLOCATIONS_LE, ASSERT_NO_ALLOCATIONS, ASSERT_POOL_FALLTHROUGHS_EQ: the same, fatal
//
// `statement` may be a block: EXPECT_NO_ALLOCATIONS({ auto a = pool.Rent(n); pool.Return(a); });
// Counted on the calling thread (allocprof/budget.h's AllocationScope): allocations the statement
// hands to other threads are not its own. A failure prints the statement, the figures and the
// stacks of the allocations it made (the last 16; for the pool assertion, the pool's
// fall-throughs), symbolized in-process, the test framework's own frames left out.
//
// The counters exist only under allocprof's shim in counting mode: run the test binary with
// `allocprof test -- ./my_tests` (or LD_PRELOAD=liballocprof.so ALLOCPROF_MODE=count). Without it
// the assertion skips the test (GoogleTest: GTEST_SKIP; Catch2 3.3 and later: SKIP; older Catch2:
// a warning, and the test returns) with a message saying so; the statement is not run then.
#ifndef ALLOCPROF_GTEST_H_
#define ALLOCPROF_GTEST_H_

#include <stdint.h>

#include <string>

#include "allocprof/budget.h"

namespace allocprof::testing {

// What a statement may do, and the check of one run of it against that.
class Budget {
 public:
  static Budget Allocations(uint64_t n) { return Budget(Kind::kAllocations, n, nullptr); }
  static Budget PoolFallthroughs(const char* pool, uint64_t n) { return Budget(Kind::kPoolFallthroughs, n, pool); }

  // The allocations of the scope with their stacks (AllocationScope::Describe), as a string.
  static std::string Describe(const AllocationScope& scope, const char* pool, const char* stop_at) {
    std::string text(64 << 10, '\0');
    text.resize(scope.Describe(&text[0], text.size(), pool, stop_at));
    return text;
  }

  // An empty string when `scope` (stopped) kept the budget, else the failure message.
  std::string Check(const AllocationScope& scope, const char* statement, const char* stop_at) const {
    Counters d = scope.delta();
    std::string out;
    if (kind_ == Kind::kAllocations) {
      if (d.allocations() <= n_) return out;
      out = "Expected: " + std::string(statement) +
            (n_ == 0 ? std::string(" makes no allocation") : " makes at most " + std::to_string(n_) + " allocations") +
            "\n  Actual: " + std::to_string(d.allocations()) +
            (d.allocations() == 1 ? " allocation of " : " allocations of ") + std::to_string(d.bytes()) +
            " bytes on this thread (" + std::to_string(d.frees()) + (d.frees() == 1 ? " free)\n" : " frees)\n");
      out += Describe(scope, nullptr, stop_at);
    } else {
      if (d.fallthroughs(pool_) == n_) return out;
      out = "Expected: " + std::string(statement) + " makes " + std::to_string(n_) + " fall-through" +
            (n_ == 1 ? "" : "s") + " of pool \"" + pool_ + "\"\n  Actual: " + std::to_string(d.fallthroughs(pool_)) +
            " in " + std::to_string(d.rents(pool_)) + " rents (oversize " +
            std::to_string(d.fallthroughs(pool_, ALLOCPROF_RENT_OVERSIZE)) + ", exhausted " +
            std::to_string(d.fallthroughs(pool_, ALLOCPROF_RENT_EXHAUSTED)) + ", fill " +
            std::to_string(d.fallthroughs(pool_, ALLOCPROF_RENT_FILL)) + "; " +
            std::to_string(d.fallthrough_bytes(pool_)) + " bytes)" +
            (d.pool(pool_) ? "" : "; no pool of that name registered") + "\n";
      out += Describe(scope, pool_, stop_at);
    }
    return out;
  }

 private:
  enum class Kind { kAllocations, kPoolFallthroughs };
  Budget(Kind kind, uint64_t n, const char* pool) : kind_(kind), n_(n), pool_(pool) {}
  Kind kind_;
  uint64_t n_;
  const char* pool_;
};

// One assertion: the scope opened before the statement, its verdict after.
class BudgetCheck {
 public:
  explicit BudgetCheck(Budget budget) : budget_(budget) {}
  explicit operator bool() const { return true; }  // for the macros' `if (BudgetCheck c{...})`
  bool available() const { return scope_.available(); }
  const char* unavailable_reason() const { return scope_.unavailable_reason(); }
  // Stops the scope; true when the budget held, else message() says how it did not.
  bool Finish(const char* statement, const char* stop_at) {
    scope_.Stop();
    message_ = budget_.Check(scope_, statement, stop_at);
    return message_.empty();
  }
  const char* message() const { return message_.c_str(); }

 private:
  Budget budget_;
  AllocationScope scope_;
  std::string message_;
};

}  // namespace allocprof::testing

#define ALLOCPROF_BUDGET_CONCAT_INNER_(a, b) a##b
#define ALLOCPROF_BUDGET_CONCAT_(a, b) ALLOCPROF_BUDGET_CONCAT_INNER_(a, b)

#if defined(CATCH_VERSION_MAJOR)

// Catch2: the stack is cut at Catch's own frames.
#if CATCH_VERSION_MAJOR > 3 || (CATCH_VERSION_MAJOR == 3 && CATCH_VERSION_MINOR >= 3)
#define ALLOCPROF_BUDGET_SKIP_(reason) SKIP(reason)
#else
#define ALLOCPROF_BUDGET_SKIP_(reason) \
  do {                                 \
    WARN(reason);                      \
    return;                            \
  } while (0)
#endif

#define ALLOCPROF_BUDGET_CHECK_(statement, budget, fail)                                              \
  do {                                                                                                \
    ::allocprof::testing::BudgetCheck allocprof_check_{budget};                                       \
    if (!allocprof_check_.available()) ALLOCPROF_BUDGET_SKIP_(allocprof_check_.unavailable_reason()); \
    statement;                                                                                        \
    if (!allocprof_check_.Finish(#statement, "Catch::")) fail(allocprof_check_.message());            \
  } while (0)

#define EXPECT_ALLOCATIONS_LE(statement, n) \
  ALLOCPROF_BUDGET_CHECK_(statement, ::allocprof::testing::Budget::Allocations(n), FAIL_CHECK)
#define EXPECT_NO_ALLOCATIONS(statement) \
  ALLOCPROF_BUDGET_CHECK_(statement, ::allocprof::testing::Budget::Allocations(0), FAIL_CHECK)
#define EXPECT_POOL_FALLTHROUGHS_EQ(statement, pool, n) \
  ALLOCPROF_BUDGET_CHECK_(statement, ::allocprof::testing::Budget::PoolFallthroughs(pool, n), FAIL_CHECK)
#define ASSERT_ALLOCATIONS_LE(statement, n) \
  ALLOCPROF_BUDGET_CHECK_(statement, ::allocprof::testing::Budget::Allocations(n), FAIL)
#define ASSERT_NO_ALLOCATIONS(statement) \
  ALLOCPROF_BUDGET_CHECK_(statement, ::allocprof::testing::Budget::Allocations(0), FAIL)
#define ASSERT_POOL_FALLTHROUGHS_EQ(statement, pool, n) \
  ALLOCPROF_BUDGET_CHECK_(statement, ::allocprof::testing::Budget::PoolFallthroughs(pool, n), FAIL)

#elif defined(GTEST_AMBIGUOUS_ELSE_BLOCKER_)

// GoogleTest, in the shape of its own EXPECT_NO_THROW: one statement that takes a trailing `<< x`,
// the failure reported at the assertion's line. The stack is cut at GoogleTest's own frames.
#define ALLOCPROF_BUDGET_CHECK_(statement, budget, fail)                                      \
  GTEST_AMBIGUOUS_ELSE_BLOCKER_                                                               \
  if (::allocprof::testing::BudgetCheck allocprof_check_{budget}) {                           \
    if (!allocprof_check_.available()) GTEST_SKIP() << allocprof_check_.unavailable_reason(); \
    GTEST_SUPPRESS_UNREACHABLE_CODE_WARNING_BELOW_(statement);                                \
    if (!allocprof_check_.Finish(#statement, "testing::"))                                    \
      goto ALLOCPROF_BUDGET_CONCAT_(allocprof_budget_failed_, __LINE__);                      \
  } else                                                                                      \
    ALLOCPROF_BUDGET_CONCAT_(allocprof_budget_failed_, __LINE__) : fail(allocprof_check_.message())

#define EXPECT_ALLOCATIONS_LE(statement, n) \
  ALLOCPROF_BUDGET_CHECK_(statement, ::allocprof::testing::Budget::Allocations(n), GTEST_NONFATAL_FAILURE_)
#define EXPECT_NO_ALLOCATIONS(statement) \
  ALLOCPROF_BUDGET_CHECK_(statement, ::allocprof::testing::Budget::Allocations(0), GTEST_NONFATAL_FAILURE_)
#define EXPECT_POOL_FALLTHROUGHS_EQ(statement, pool, n) \
  ALLOCPROF_BUDGET_CHECK_(statement, ::allocprof::testing::Budget::PoolFallthroughs(pool, n), GTEST_NONFATAL_FAILURE_)
#define ASSERT_ALLOCATIONS_LE(statement, n) \
  ALLOCPROF_BUDGET_CHECK_(statement, ::allocprof::testing::Budget::Allocations(n), GTEST_FATAL_FAILURE_)
#define ASSERT_NO_ALLOCATIONS(statement) \
  ALLOCPROF_BUDGET_CHECK_(statement, ::allocprof::testing::Budget::Allocations(0), GTEST_FATAL_FAILURE_)
#define ASSERT_POOL_FALLTHROUGHS_EQ(statement, pool, n) \
  ALLOCPROF_BUDGET_CHECK_(statement, ::allocprof::testing::Budget::PoolFallthroughs(pool, n), GTEST_FATAL_FAILURE_)

#else
#error "allocprof/gtest.h: include <gtest/gtest.h> or Catch2 (catch2/catch.hpp, catch2/catch_test_macros.hpp) first"
#endif

#endif  // ALLOCPROF_GTEST_H_
