// Hexadecimal text, written one way everywhere: build-ids as lowercase digit pairs, code addresses
// as "module+0x1a2b" (the module's file name only) or "0x1a2b" when the module is unknown.
// Thread-safety: pure functions.
#ifndef ALLOCPROF_ANALYZER_HEX_H_
#define ALLOCPROF_ANALYZER_HEX_H_

#include <stdint.h>

#include <string>
#include <string_view>

namespace allocprof {

// "a1b2..." for the bytes "\xa1\xb2..."; empty for none.
std::string HexBytes(std::string_view bytes);
// "libfoo.so+0x1a2b" for a module path and an offset in it; "0x1a2b" when `module` is empty.
std::string ModuleOffset(std::string_view module, uint64_t offset);

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_HEX_H_
