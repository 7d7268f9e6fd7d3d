// Parsing of integers ("-5"), byte sizes ("64KiB", "2M"), durations ("10ms", "2.5s") and control
// signals ("SIGUSR2"), shared by the shim's environment options and the CLI's flags so both accept
// the same spellings (allocprof/options.h says which option takes which). Header-only, constexpr
// (the option table's defaults are checked at compile time), no allocation (the shim calls it
// during process start).
#ifndef ALLOCPROF_UNITS_H_
#define ALLOCPROF_UNITS_H_

#include <signal.h>
#include <stdint.h>
#include <string.h>

namespace allocprof::units {

// Decimal, with a leading '-' for negative numbers; nothing else. False on anything else or overflow.
constexpr bool ParseInteger(const char* text, int64_t* value) {
  if (!text) return false;
  bool negative = *text == '-';
  const char* p = text + negative;
  if (*p < '0' || *p > '9') return false;
  uint64_t v = 0;
  // The magnitude may reach 2^63 for a negative number.
  const uint64_t limit = negative ? uint64_t{1} << 63 : uint64_t{INT64_MAX};
  for (; *p >= '0' && *p <= '9'; ++p) {
    uint64_t digit = static_cast<uint64_t>(*p - '0');
    if (v > (limit - digit) / 10) return false;
    v = v * 10 + digit;
  }
  if (*p != '\0') return false;
  *value = negative ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
  return true;
}

// "123", "64K", "64KiB", "64KB", "2M", "1G" (binary multiples). False on anything else or overflow.
constexpr bool ParseByteSize(const char* text, uint64_t* bytes) {
  if (!text || *text < '0' || *text > '9') return false;
  uint64_t v = 0;
  const char* p = text;
  for (; *p >= '0' && *p <= '9'; ++p) {
    if (v > (UINT64_MAX - 9) / 10) return false;
    v = v * 10 + static_cast<uint64_t>(*p - '0');
  }
  uint64_t mul = 1;
  if (*p == 'K' || *p == 'k')
    mul = 1ull << 10;
  else if (*p == 'M' || *p == 'm')
    mul = 1ull << 20;
  else if (*p == 'G' || *p == 'g')
    mul = 1ull << 30;
  if (mul != 1) {
    ++p;
    if (p[0] == 'i' && p[1] == 'B')
      p += 2;
    else if (p[0] == 'B')
      p += 1;
  } else if (*p == 'B') {
    ++p;
  }
  if (*p != '\0') return false;
  if (v > UINT64_MAX / mul) return false;
  *bytes = v * mul;
  return true;
}

// "250ns", "10us", "10ms", "2.5s", "1m" (minutes); a bare number is seconds.
constexpr bool ParseDuration(const char* text, uint64_t* ns) {
  if (!text || ((*text < '0' || *text > '9') && *text != '.')) return false;
  double whole = 0, scale = 1;
  bool fraction = false, digits = false;
  const char* p = text;
  for (; (*p >= '0' && *p <= '9') || *p == '.'; ++p) {
    if (*p == '.') {
      if (fraction) return false;
      fraction = true;
      continue;
    }
    digits = true;
    if (fraction) scale /= 10;
    whole = fraction ? whole + (*p - '0') * scale : whole * 10 + (*p - '0');
  }
  if (!digits) return false;
  double unit = 1e9;
  if (p[0] == 'n' && p[1] == 's')
    unit = 1, p += 2;
  else if (p[0] == 'u' && p[1] == 's')
    unit = 1e3, p += 2;
  else if (p[0] == 'm' && p[1] == 's')
    unit = 1e6, p += 2;
  else if (p[0] == 's')
    unit = 1e9, p += 1;
  else if (p[0] == 'm')
    unit = 60e9, p += 1;
  if (*p != '\0') return false;
  double v = whole * unit;
  if (v < 0 || v > 1.8e19) return false;
  *ns = static_cast<uint64_t>(v + 0.5);
  return true;
}

// SIGUSR1, USR1 or a number; 0 when it names no signal a program could spare for capture control.
constexpr int ControlSignalNumber(const char* text) {
  auto same = [](const char* a, const char* b) {
    while (*a && *a == *b) ++a, ++b;
    return *a == *b;
  };
  if (text[0] == 'S' && text[1] == 'I' && text[2] == 'G') text += 3;
  struct Named {
    const char* name;
    int number;
  };
  constexpr Named kSignals[] = {{"USR1", SIGUSR1}, {"USR2", SIGUSR2},   {"HUP", SIGHUP},
                                {"URG", SIGURG},   {"WINCH", SIGWINCH}, {"PWR", SIGPWR}};
  for (const auto& s : kSignals) {
    if (same(text, s.name)) return s.number;
  }
  uint64_t n = 0;
  for (const char* p = text; *p; ++p) {
    if (*p < '0' || *p > '9' || n > 64) return 0;
    n = n * 10 + static_cast<uint64_t>(*p - '0');
  }
  if (*text && n >= 1 && n <= 64 && n != SIGKILL && n != SIGSTOP && n != SIGSEGV && n != SIGBUS)
    return static_cast<int>(n);
  return 0;
}

}  // namespace allocprof::units

#endif  // ALLOCPROF_UNITS_H_
