// attach_registers: keeps known values live in every register the attach could disturb, across
// the moment allocprof attaches to it: xmm0-15 (SSE), their ymm upper halves (AVX), zmm0-31 and
// k0-7 (AVX-512, where the CPU has F and BW), MXCSR (round toward zero, FTZ, DAZ), the x87 control
// word (53-bit precision) and st(0) (pi), rbx, rbp, r12-r15, and the direction flag (set). One
// loop of assembly without calls stores them all, compares them with what it loaded and polls
// stdin with a raw non-blocking read(2), so the registers stay live both in its code and in the
// system call where allocprof may stop it. Writes "level: sse|avx|avx512\n", then "ready\n" from
// inside the loop; when a byte arrives, "registers intact after N checks\n" (exit 0) or
// "registers changed at byte B (what) after N checks\n" (exit 1).
#include <cpuid.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <string>

// The layout of g_expected and g_seen.
#define VECTORS 0   // 32 registers x 64 bytes
#define MASKS 2048  // k0-k7
#define MXCSR 2112  // 4 bytes
#define FCW 2116    // 2 bytes
#define ST0 2120    // st(0) stored as a double
#define DF 2128     // rflags & DF
#define GPRS 2136   // rbx, rbp, r12, r13, r14, r15
#define SIZE 2184

#define STR2(x) #x
#define STR(x) STR2(x)

extern "C" {
alignas(64) unsigned char g_expected[SIZE];
alignas(64) unsigned char g_seen[SIZE];
int g_level;  // 0 SSE, 1 AVX, 2 AVX-512
unsigned long g_checks;
char g_byte;
char g_ready[] = "ready\n";
long SpinCheck(int level);
}

asm(R"(
  .text
  .globl SpinCheck
  .type SpinCheck, @function
SpinCheck:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  movl %edi, g_level(%rip)
  cmpl $2, %edi
  je 2f
  cmpl $1, %edi
  je 1f
  .irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
  movdqu g_expected+)" STR(VECTORS) R"(+64*\i(%rip), %xmm\i
  .endr
  jmp 3f
1:
  .irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
  vmovdqu g_expected+)" STR(VECTORS) R"(+64*\i(%rip), %ymm\i
  .endr
  jmp 3f
2:
  .irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
  vmovdqu64 g_expected+)" STR(VECTORS) R"(+64*\i(%rip), %zmm\i
  .endr
  .irp i, 0,1,2,3,4,5,6,7
  kmovq g_expected+)" STR(MASKS) R"(+8*\i(%rip), %k\i
  .endr
3:
  ldmxcsr g_expected+)" STR(MXCSR) R"((%rip)
  fldcw g_expected+)" STR(FCW) R"((%rip)
  fldpi
  fstl g_expected+)" STR(ST0) R"((%rip)
  movq g_expected+)" STR(GPRS) R"(+0(%rip), %rbx
  movq g_expected+)" STR(GPRS) R"(+8(%rip), %rbp
  movq g_expected+)" STR(GPRS) R"(+16(%rip), %r12
  movq g_expected+)" STR(GPRS) R"(+24(%rip), %r13
  movq g_expected+)" STR(GPRS) R"(+32(%rip), %r14
  movq g_expected+)" STR(GPRS) R"(+40(%rip), %r15
  std
  pushfq
  popq %rax
  andq $0x400, %rax
  movq %rax, g_expected+)" STR(DF) R"((%rip)
  movl $1, %eax
  movl $1, %edi
  leaq g_ready(%rip), %rsi
  movl $6, %edx
  syscall
4:
  cmpl $2, g_level(%rip)
  je 6f
  cmpl $1, g_level(%rip)
  je 5f
  .irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
  movdqu %xmm\i, g_seen+)" STR(VECTORS) R"(+64*\i(%rip)
  .endr
  jmp 7f
5:
  .irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
  vmovdqu %ymm\i, g_seen+)" STR(VECTORS) R"(+64*\i(%rip)
  .endr
  jmp 7f
6:
  .irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
  vmovdqu64 %zmm\i, g_seen+)" STR(VECTORS) R"(+64*\i(%rip)
  .endr
  .irp i, 0,1,2,3,4,5,6,7
  kmovq %k\i, g_seen+)" STR(MASKS) R"(+8*\i(%rip)
  .endr
7:
  stmxcsr g_seen+)" STR(MXCSR) R"((%rip)
  fnstcw g_seen+)" STR(FCW) R"((%rip)
  fstl g_seen+)" STR(ST0) R"((%rip)
  pushfq
  popq %rax
  andq $0x400, %rax
  movq %rax, g_seen+)" STR(DF) R"((%rip)
  movq %rbx, g_seen+)" STR(GPRS) R"(+0(%rip)
  movq %rbp, g_seen+)" STR(GPRS) R"(+8(%rip)
  movq %r12, g_seen+)" STR(GPRS) R"(+16(%rip)
  movq %r13, g_seen+)" STR(GPRS) R"(+24(%rip)
  movq %r14, g_seen+)" STR(GPRS) R"(+32(%rip)
  movq %r15, g_seen+)" STR(GPRS) R"(+40(%rip)
  leaq g_expected(%rip), %rsi
  leaq g_seen(%rip), %rdi
  xorl %ecx, %ecx
8:
  movq (%rsi,%rcx), %rax
  cmpq (%rdi,%rcx), %rax
  jne 9f
  addq $8, %rcx
  cmpq $)" STR(SIZE) R"(, %rcx
  jb 8b
  incq g_checks(%rip)
  xorl %eax, %eax
  xorl %edi, %edi
  leaq g_byte(%rip), %rsi
  movl $1, %edx
  syscall
  cmpq $1, %rax
  jne 4b
  xorl %eax, %eax
  jmp 10f
9:
  leaq 1(%rcx), %rax
10:
  cld
  fstp %st(0)
  movl $0x1f80, (%rsp)
  ldmxcsr (%rsp)
  movw $0x37f, (%rsp)
  fldcw (%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size SpinCheck, .-SpinCheck
)");

namespace {

void Say(const std::string& text) {
  ssize_t n = write(1, text.data(), text.size());
  (void)n;
}

int Level() {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE) || !(c & bit_AVX)) return 0;
  unsigned lo, hi;
  asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if ((lo & 6) != 6) return 0;
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_AVX512F) && (b & bit_AVX512BW) && (lo & 0xe0) == 0xe0) {
    return 2;
  }
  return 1;
}

std::string What(long offset) {
  if (offset < MASKS) return "vector register " + std::to_string(offset / 64);
  if (offset < MXCSR) return "k" + std::to_string((offset - MASKS) / 8);
  if (offset < ST0) return "MXCSR or the x87 control word";
  if (offset < DF) return "st(0)";
  if (offset < GPRS) return "the direction flag";
  const char* names[] = {"rbx", "rbp", "r12", "r13", "r14", "r15"};
  return names[(offset - GPRS) / 8];
}

}  // namespace

int main() {
  uint64_t x = 0x2545f4914f6cdd1dull;
  for (size_t i = 0; i < SIZE; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    g_expected[i] = static_cast<unsigned char>(x >> 24);
  }
  uint32_t mxcsr = 0x1f80 | (3u << 13) | (1u << 15) | (1u << 6);  // round toward zero, FTZ, DAZ
  uint16_t fcw = 0x027f;                                          // double precision, round to nearest
  memcpy(g_expected + MXCSR, &mxcsr, 4);
  memcpy(g_expected + FCW, &fcw, 2);
  memset(g_expected + FCW + 2, 0, 2);
  memcpy(g_seen, g_expected, SIZE);  // bytes a level does not store stay equal
  int level = Level();
  Say(std::string("level: ") + (level == 2 ? "avx512" : level == 1 ? "avx" : "sse") + "\n");
  if (fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK) != 0) return 2;
  long changed = SpinCheck(level);
  if (changed == 0) {
    Say("registers intact after " + std::to_string(g_checks) + " checks\n");
    return 0;
  }
  Say("registers changed at byte " + std::to_string(changed - 1) + " (" + What(changed - 1) + ") after " +
      std::to_string(g_checks) + " checks\n");
  return 1;
}
