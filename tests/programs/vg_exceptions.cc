// vg_exceptions: exceptions thrown and caught: __cxa_allocate_exception's allocations, messages of
// std::runtime_error, a rethrow, std::exception_ptr kept and rethrown, nested exceptions.
#include <exception>
#include <stdexcept>
#include <string>

void* volatile g_sink;

namespace {
struct Big {
  char payload[1000];
};

[[noreturn]] __attribute__((noinline)) void Fail(int i) {
  if (i % 3 == 0) throw std::runtime_error("failure number " + std::to_string(i) + " with a message long enough");
  if (i % 3 == 1) throw Big{};
  throw i;
}
}  // namespace

int main() {
  int caught = 0;
  for (int i = 0; i < 30; ++i) {
    try {
      try {
        Fail(i);
      } catch (...) {
        throw;  // rethrown: the same exception object
      }
    } catch (const std::runtime_error& e) {
      g_sink = const_cast<char*>(e.what());
      ++caught;
    } catch (const Big&) {
      ++caught;
    } catch (int) {
      ++caught;
    }
  }
  std::exception_ptr kept;
  try {
    Fail(3);
  } catch (...) {
    kept = std::current_exception();
  }
  try {
    std::rethrow_exception(kept);
  } catch (const std::exception&) {
    ++caught;
  }
  kept = nullptr;
  try {
    try {
      Fail(0);
    } catch (...) {
      std::throw_with_nested(std::logic_error("outer"));
    }
  } catch (const std::exception& e) {
    ++caught;
  }
  return caught == 32 ? 0 : 1;
}
