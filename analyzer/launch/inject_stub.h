// The x86-64 code `allocprof attach` copies into the process it attaches to (inject_stub.cc holds
// it, assembled into the analyzer as data, never run here). Two pieces:
//
// The gadget makes one system call on the interrupted thread and resumes it: it steps over the red
// zone, pushes every register the call changes and the flags, loads the number and six arguments
// from its own data words, executes `syscall`, pops everything and jumps to the resume address
// (a data word too). The injector writes it into a few never-executed bytes at the end of a
// library's code mapping (the "cave", ptrace_inject.cc) and points the thread's rip at it. Resumed
// with no tracer (the injector killed), it still finishes the call and returns to the program.
//
// The stub calls dlopen and the library's start function on a thread whose registers it saves and
// restores by itself, so that it too completes correctly when the injector dies: it runs in a region
// the gadget mmap'ed, laid out as
//
//   [0, 4 KiB)            the stub's code (read+execute; the page below the stack's lowest address)
//   [4 KiB, 4 KiB+1 MiB)  its stack
//   [kControlOffset, ...)  InjectControl, then the strings and the XSAVE area
//
// and: blocks every signal (saving the old mask), saves errno (through __errno_location), saves the
// extended state with XSAVE64 for the components XCR0 & 0xE7 (x87, SSE, AVX, AVX-512 opmask and
// ZMM; never AMX tiles, PKRU or MPX, which neither glibc's loader nor the shim touches) or FXSAVE64
// without XSAVE, clears DF/AC and resets x87 and MXCSR to the ABI's state, calls
// dlopen(library, flags), then dlsym(handle, start_name) and start(start_argument) — or dlerror() —
// writes the answers, restores the extended state, errno and the signal mask (its last system call:
// the injector stops there, at kMarker) and finally reloads every general register and the flags
// from InjectControl and jumps to the saved rip, without touching the thread's own stack.
#ifndef ALLOCPROF_ANALYZER_LAUNCH_INJECT_STUB_H_
#define ALLOCPROF_ANALYZER_LAUNCH_INJECT_STUB_H_

#include <stddef.h>
#include <stdint.h>

// Offsets into InjectControl, shared with the assembly (which cannot use offsetof).
#define ALLOCPROF_CTL_DLOPEN 0
#define ALLOCPROF_CTL_DLSYM 8
#define ALLOCPROF_CTL_DLERROR 16
#define ALLOCPROF_CTL_ERRNO_LOCATION 24
#define ALLOCPROF_CTL_LIBRARY 32
#define ALLOCPROF_CTL_START_NAME 40
#define ALLOCPROF_CTL_START_ARGUMENT 48
#define ALLOCPROF_CTL_DLOPEN_FLAGS 56
#define ALLOCPROF_CTL_XSAVE_AREA 64
#define ALLOCPROF_CTL_USE_XSAVE 72
#define ALLOCPROF_CTL_ALL_SIGNALS 80
#define ALLOCPROF_CTL_MXCSR_DEFAULT 88
#define ALLOCPROF_CTL_R15 96
#define ALLOCPROF_CTL_R14 104
#define ALLOCPROF_CTL_R13 112
#define ALLOCPROF_CTL_R12 120
#define ALLOCPROF_CTL_RBP 128
#define ALLOCPROF_CTL_RBX 136
#define ALLOCPROF_CTL_R11 144
#define ALLOCPROF_CTL_R10 152
#define ALLOCPROF_CTL_R9 160
#define ALLOCPROF_CTL_R8 168
#define ALLOCPROF_CTL_RAX 176
#define ALLOCPROF_CTL_RCX 184
#define ALLOCPROF_CTL_RDX 192
#define ALLOCPROF_CTL_RSI 200
#define ALLOCPROF_CTL_RDI 208
#define ALLOCPROF_CTL_RFLAGS 216
#define ALLOCPROF_CTL_RIP 224
#define ALLOCPROF_CTL_RSP 232
#define ALLOCPROF_CTL_PROGRESS 240
#define ALLOCPROF_CTL_HANDLE 248
#define ALLOCPROF_CTL_START_FUNCTION 256
#define ALLOCPROF_CTL_START_RESULT 264
#define ALLOCPROF_CTL_ERROR_MESSAGE 272
#define ALLOCPROF_CTL_OLD_SIGNALS 280
#define ALLOCPROF_CTL_ERRNO_ADDRESS 288
#define ALLOCPROF_CTL_SAVED_ERRNO 296
#define ALLOCPROF_CTL_XSAVE_MASK 304
#define ALLOCPROF_CTL_SIZE 312

// The region's layout (the stub finds InjectControl at its own address + this offset).
#define ALLOCPROF_STUB_CODE_SIZE 4096
#define ALLOCPROF_STUB_STACK_SIZE 0x100000
#define ALLOCPROF_STUB_CONTROL_OFFSET 0x101000

namespace allocprof::inject {

inline constexpr uint64_t kCodeSize = ALLOCPROF_STUB_CODE_SIZE;
inline constexpr uint64_t kStackSize = ALLOCPROF_STUB_STACK_SIZE;
inline constexpr uint64_t kControlOffset = ALLOCPROF_STUB_CONTROL_OFFSET;
static_assert(kControlOffset == kCodeSize + kStackSize);

// InjectControl::progress, written by the stub as it goes.
enum Progress : uint64_t {
  kNotStarted = 0,
  kSignalsBlocked = 1,
  kStateSaved = 2,      // errno and the extended state saved; dlopen is being called
  kDlopenReturned = 3,  // handle is set (0: error_message holds dlerror())
  kStartReturned = 4,   // start_result is set
  kStateRestored = 5,   // extended state and errno restored; the signal mask is being restored
};

struct InjectControl {
  // Written by the injector.
  uint64_t dlopen, dlsym, dlerror, errno_location;  // addresses in the process
  uint64_t library, start_name, start_argument;     // C strings in the region
  uint64_t dlopen_flags;
  uint64_t xsave_area;  // 64-byte aligned, zeroed
  uint64_t use_xsave;   // 0: FXSAVE64 (a CPU without XSAVE)
  uint64_t all_signals;
  uint64_t mxcsr_default;
  // The registers the thread resumes with (rip already moved back for a restarted system call).
  uint64_t r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8, rax, rcx, rdx, rsi, rdi, rflags, rip, rsp;
  // Written by the stub.
  uint64_t progress, handle, start_function, start_result, error_message;
  uint64_t old_signals, errno_address, saved_errno, xsave_mask;
};

#define ALLOCPROF_CHECK_OFFSET(field, value) static_assert(offsetof(InjectControl, field) == (value), #field)
ALLOCPROF_CHECK_OFFSET(dlopen, ALLOCPROF_CTL_DLOPEN);
ALLOCPROF_CHECK_OFFSET(dlsym, ALLOCPROF_CTL_DLSYM);
ALLOCPROF_CHECK_OFFSET(dlerror, ALLOCPROF_CTL_DLERROR);
ALLOCPROF_CHECK_OFFSET(errno_location, ALLOCPROF_CTL_ERRNO_LOCATION);
ALLOCPROF_CHECK_OFFSET(library, ALLOCPROF_CTL_LIBRARY);
ALLOCPROF_CHECK_OFFSET(start_name, ALLOCPROF_CTL_START_NAME);
ALLOCPROF_CHECK_OFFSET(start_argument, ALLOCPROF_CTL_START_ARGUMENT);
ALLOCPROF_CHECK_OFFSET(dlopen_flags, ALLOCPROF_CTL_DLOPEN_FLAGS);
ALLOCPROF_CHECK_OFFSET(xsave_area, ALLOCPROF_CTL_XSAVE_AREA);
ALLOCPROF_CHECK_OFFSET(use_xsave, ALLOCPROF_CTL_USE_XSAVE);
ALLOCPROF_CHECK_OFFSET(all_signals, ALLOCPROF_CTL_ALL_SIGNALS);
ALLOCPROF_CHECK_OFFSET(mxcsr_default, ALLOCPROF_CTL_MXCSR_DEFAULT);
ALLOCPROF_CHECK_OFFSET(r15, ALLOCPROF_CTL_R15);
ALLOCPROF_CHECK_OFFSET(r14, ALLOCPROF_CTL_R14);
ALLOCPROF_CHECK_OFFSET(r13, ALLOCPROF_CTL_R13);
ALLOCPROF_CHECK_OFFSET(r12, ALLOCPROF_CTL_R12);
ALLOCPROF_CHECK_OFFSET(rbp, ALLOCPROF_CTL_RBP);
ALLOCPROF_CHECK_OFFSET(rbx, ALLOCPROF_CTL_RBX);
ALLOCPROF_CHECK_OFFSET(r11, ALLOCPROF_CTL_R11);
ALLOCPROF_CHECK_OFFSET(r10, ALLOCPROF_CTL_R10);
ALLOCPROF_CHECK_OFFSET(r9, ALLOCPROF_CTL_R9);
ALLOCPROF_CHECK_OFFSET(r8, ALLOCPROF_CTL_R8);
ALLOCPROF_CHECK_OFFSET(rax, ALLOCPROF_CTL_RAX);
ALLOCPROF_CHECK_OFFSET(rcx, ALLOCPROF_CTL_RCX);
ALLOCPROF_CHECK_OFFSET(rdx, ALLOCPROF_CTL_RDX);
ALLOCPROF_CHECK_OFFSET(rsi, ALLOCPROF_CTL_RSI);
ALLOCPROF_CHECK_OFFSET(rdi, ALLOCPROF_CTL_RDI);
ALLOCPROF_CHECK_OFFSET(rflags, ALLOCPROF_CTL_RFLAGS);
ALLOCPROF_CHECK_OFFSET(rip, ALLOCPROF_CTL_RIP);
ALLOCPROF_CHECK_OFFSET(rsp, ALLOCPROF_CTL_RSP);
ALLOCPROF_CHECK_OFFSET(progress, ALLOCPROF_CTL_PROGRESS);
ALLOCPROF_CHECK_OFFSET(handle, ALLOCPROF_CTL_HANDLE);
ALLOCPROF_CHECK_OFFSET(start_function, ALLOCPROF_CTL_START_FUNCTION);
ALLOCPROF_CHECK_OFFSET(start_result, ALLOCPROF_CTL_START_RESULT);
ALLOCPROF_CHECK_OFFSET(error_message, ALLOCPROF_CTL_ERROR_MESSAGE);
ALLOCPROF_CHECK_OFFSET(old_signals, ALLOCPROF_CTL_OLD_SIGNALS);
ALLOCPROF_CHECK_OFFSET(errno_address, ALLOCPROF_CTL_ERRNO_ADDRESS);
ALLOCPROF_CHECK_OFFSET(saved_errno, ALLOCPROF_CTL_SAVED_ERRNO);
ALLOCPROF_CHECK_OFFSET(xsave_mask, ALLOCPROF_CTL_XSAVE_MASK);
static_assert(sizeof(InjectControl) == ALLOCPROF_CTL_SIZE);
#undef ALLOCPROF_CHECK_OFFSET

// The gadget's data words, after its code.
struct GadgetData {
  uint64_t number, args[6], resume_rip;
};

// The stub's and the gadget's bytes as they are to be copied, and the offsets the injector needs.
struct Code {
  const unsigned char* bytes;
  size_t size;
};
Code StubCode();
size_t StubMarkerOffset();  // the address right after the stub's last `syscall` (rt_sigprocmask)
Code GadgetCode();
size_t GadgetAfterSyscallOffset();  // right after the gadget's `syscall`
size_t GadgetDataOffset();          // GadgetData, 8-byte aligned

}  // namespace allocprof::inject

#endif  // ALLOCPROF_ANALYZER_LAUNCH_INJECT_STUB_H_
