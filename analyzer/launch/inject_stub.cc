// The code allocprof attach copies into the process (inject_stub.h says what each piece does). It is
// data here: assembled into .rodata, never executed by allocprof itself.
#include "launch/inject_stub.h"

#define ALLOCPROF_STR2(x) #x
#define ALLOCPROF_STR(x) ALLOCPROF_STR2(x)
// A field of InjectControl through %rbx.
#define CTL(field) ALLOCPROF_STR(ALLOCPROF_CTL_##field) "(%rbx)"
// A field of InjectControl addressed from rip (the stub's own position plus the fixed offset).
#define CTL_RIP(field)                                                                           \
  "allocprof_inject_stub_begin+" ALLOCPROF_STR(ALLOCPROF_STUB_CONTROL_OFFSET) "+" ALLOCPROF_STR( \
      ALLOCPROF_CTL_##field) "(%rip)"

// Linux x86-64 system call numbers used below.
#define ALLOCPROF_NR_RT_SIGPROCMASK "14"
#define ALLOCPROF_SIG_SETMASK "2"

asm(R"(
  .pushsection .rodata.allocprof_inject,"a",@progbits
  .balign 16
  .globl allocprof_inject_stub_begin
  .hidden allocprof_inject_stub_begin
allocprof_inject_stub_begin:
  leaq allocprof_inject_stub_begin+)" ALLOCPROF_STR(ALLOCPROF_STUB_CONTROL_OFFSET) R"((%rip), %rbx
  # DF and AC clear for the calls (the saved flags come back at the end).
  pushfq
  andq $~0x40400, (%rsp)
  popfq
  # Block every signal: nothing of the program runs on this thread meanwhile.
  movl $)" ALLOCPROF_NR_RT_SIGPROCMASK R"(, %eax
  movl $)" ALLOCPROF_SIG_SETMASK R"(, %edi
  leaq )" CTL(ALL_SIGNALS) R"(, %rsi
  leaq )" CTL(OLD_SIGNALS) R"(, %rdx
  movl $8, %r10d
  syscall
  movq $1, )" CTL(PROGRESS) R"(
  # errno (through __errno_location, which touches no vector register).
  call *)" CTL(ERRNO_LOCATION) R"(
  movq %rax, )" CTL(ERRNO_ADDRESS) R"(
  movl (%rax), %eax
  movq %rax, )" CTL(SAVED_ERRNO) R"(
  # The extended state. The XSAVE header must be zero before the first XSAVE.
  movq )" CTL(XSAVE_AREA) R"(, %r12
  xorl %eax, %eax
  movq %rax, 512(%r12)
  movq %rax, 520(%r12)
  movq %rax, 528(%r12)
  movq %rax, 536(%r12)
  movq %rax, 544(%r12)
  movq %rax, 552(%r12)
  movq %rax, 560(%r12)
  movq %rax, 568(%r12)
  cmpq $0, )" CTL(USE_XSAVE) R"(
  je 1f
  xorl %ecx, %ecx
  xgetbv
  andl $0xe7, %eax
  xorl %edx, %edx
  movq %rax, )" CTL(XSAVE_MASK) R"(
  xsave64 (%r12)
  jmp 2f
1:
  fxsave64 (%r12)
2:
  fninit
  ldmxcsr )" CTL(MXCSR_DEFAULT) R"(
  movq $2, )" CTL(PROGRESS) R"(
  movq )" CTL(LIBRARY) R"(, %rdi
  movq )" CTL(DLOPEN_FLAGS) R"(, %rsi
  call *)" CTL(DLOPEN) R"(
  movq %rax, )" CTL(HANDLE) R"(
  movq $3, )" CTL(PROGRESS) R"(
  testq %rax, %rax
  jz 3f
  movq %rax, %rdi
  movq )" CTL(START_NAME) R"(, %rsi
  call *)" CTL(DLSYM) R"(
  movq %rax, )" CTL(START_FUNCTION) R"(
  testq %rax, %rax
  jz 3f
  movq )" CTL(START_ARGUMENT) R"(, %rdi
  call *%rax
  movq %rax, )" CTL(START_RESULT) R"(
  movq $4, )" CTL(PROGRESS) R"(
  jmp 4f
3:
  call *)" CTL(DLERROR) R"(
  movq %rax, )" CTL(ERROR_MESSAGE) R"(
4:
  movq )" CTL(XSAVE_AREA) R"(, %r12
  cmpq $0, )" CTL(USE_XSAVE) R"(
  je 5f
  movq )" CTL(XSAVE_MASK) R"(, %rax
  xorl %edx, %edx
  xrstor64 (%r12)
  jmp 6f
5:
  fxrstor64 (%r12)
6:
  movq )" CTL(ERRNO_ADDRESS) R"(, %rax
  movq )" CTL(SAVED_ERRNO) R"(, %rcx
  movl %ecx, (%rax)
  movq $5, )" CTL(PROGRESS) R"(
  movl $)" ALLOCPROF_NR_RT_SIGPROCMASK R"(, %eax
  movl $)" ALLOCPROF_SIG_SETMASK R"(, %edi
  leaq )" CTL(OLD_SIGNALS) R"(, %rsi
  xorl %edx, %edx
  movl $8, %r10d
  syscall
  .globl allocprof_inject_stub_marker
  .hidden allocprof_inject_stub_marker
allocprof_inject_stub_marker:
  # Every register as it was, without touching the thread's stack: InjectControl serves popfq.
  leaq )" CTL(RFLAGS) R"(, %rsp
  movq )" CTL(R15) R"(, %r15
  movq )" CTL(R14) R"(, %r14
  movq )" CTL(R13) R"(, %r13
  movq )" CTL(R12) R"(, %r12
  movq )" CTL(RBP) R"(, %rbp
  movq )" CTL(R11) R"(, %r11
  movq )" CTL(R10) R"(, %r10
  movq )" CTL(R9) R"(, %r9
  movq )" CTL(R8) R"(, %r8
  movq )" CTL(RAX) R"(, %rax
  movq )" CTL(RCX) R"(, %rcx
  movq )" CTL(RDX) R"(, %rdx
  movq )" CTL(RSI) R"(, %rsi
  movq )" CTL(RDI) R"(, %rdi
  movq )" CTL(RBX) R"(, %rbx
  popfq
  movq )" CTL_RIP(RSP) R"(, %rsp
  jmp *)" CTL_RIP(RIP) R"(
  .globl allocprof_inject_stub_end
  .hidden allocprof_inject_stub_end
allocprof_inject_stub_end:

  .balign 16
  .globl allocprof_inject_gadget_begin
  .hidden allocprof_inject_gadget_begin
allocprof_inject_gadget_begin:
  leaq -128(%rsp), %rsp
  pushfq
  pushq %rax
  pushq %rcx
  pushq %rdx
  pushq %rsi
  pushq %rdi
  pushq %r8
  pushq %r9
  pushq %r10
  pushq %r11
  movq allocprof_inject_gadget_data+0(%rip), %rax
  movq allocprof_inject_gadget_data+8(%rip), %rdi
  movq allocprof_inject_gadget_data+16(%rip), %rsi
  movq allocprof_inject_gadget_data+24(%rip), %rdx
  movq allocprof_inject_gadget_data+32(%rip), %r10
  movq allocprof_inject_gadget_data+40(%rip), %r8
  movq allocprof_inject_gadget_data+48(%rip), %r9
  syscall
  .globl allocprof_inject_gadget_after_syscall
  .hidden allocprof_inject_gadget_after_syscall
allocprof_inject_gadget_after_syscall:
  popq %r11
  popq %r10
  popq %r9
  popq %r8
  popq %rdi
  popq %rsi
  popq %rdx
  popq %rcx
  popq %rax
  popfq
  leaq 128(%rsp), %rsp
  jmp *allocprof_inject_gadget_data+56(%rip)
  .balign 8
  .globl allocprof_inject_gadget_data
  .hidden allocprof_inject_gadget_data
allocprof_inject_gadget_data:
  .quad 0, 0, 0, 0, 0, 0, 0, 0
  .globl allocprof_inject_gadget_end
  .hidden allocprof_inject_gadget_end
allocprof_inject_gadget_end:
  .popsection
)");

extern "C" {
extern const unsigned char allocprof_inject_stub_begin[], allocprof_inject_stub_marker[], allocprof_inject_stub_end[];
extern const unsigned char allocprof_inject_gadget_begin[], allocprof_inject_gadget_after_syscall[],
    allocprof_inject_gadget_data[], allocprof_inject_gadget_end[];
}

namespace allocprof::inject {

static_assert(sizeof(GadgetData) == 64);

Code StubCode() {
  return {allocprof_inject_stub_begin, static_cast<size_t>(allocprof_inject_stub_end - allocprof_inject_stub_begin)};
}
size_t StubMarkerOffset() { return static_cast<size_t>(allocprof_inject_stub_marker - allocprof_inject_stub_begin); }
Code GadgetCode() {
  return {allocprof_inject_gadget_begin,
          static_cast<size_t>(allocprof_inject_gadget_end - allocprof_inject_gadget_begin)};
}
size_t GadgetAfterSyscallOffset() {
  return static_cast<size_t>(allocprof_inject_gadget_after_syscall - allocprof_inject_gadget_begin);
}
size_t GadgetDataOffset() { return static_cast<size_t>(allocprof_inject_gadget_data - allocprof_inject_gadget_begin); }

}  // namespace allocprof::inject
