# dlopen interposer. glibc's dlopen resolves relative names against the RUNPATH of its caller,
# which it finds from its return address; a C wrapper would make the shim the caller. This stub
# therefore only inspects the flags and then jumps (not calls) to the real dlopen, so the return
# address glibc sees is still the program's.
# RTLD_DEEPBIND would bind the library's malloc/free to libc's directly, past the shim: the stub
# clears the flag and reports it once (allocprof_note_deepbind).
        .text
        .globl  dlopen
        .type   dlopen, @function
dlopen:
        .cfi_startproc
        testl   $0x8, %esi                   # RTLD_DEEPBIND
        jnz     .Ldeepbind
.Lforward:
        movq    allocprof_real_dlopen(%rip), %rax
        testq   %rax, %rax
        jz      .Lresolve
        jmp     *%rax
.Ldeepbind:
        pushq   %rdi
        .cfi_adjust_cfa_offset 8
        pushq   %rsi
        .cfi_adjust_cfa_offset 8
        subq    $8, %rsp
        .cfi_adjust_cfa_offset 8
        call    allocprof_note_deepbind      # (const char* file)
        addq    $8, %rsp
        .cfi_adjust_cfa_offset -8
        popq    %rsi
        .cfi_adjust_cfa_offset -8
        popq    %rdi
        .cfi_adjust_cfa_offset -8
        andl    $~0x8, %esi
        jmp     .Lforward
.Lresolve:
        pushq   %rdi
        .cfi_adjust_cfa_offset 8
        pushq   %rsi
        .cfi_adjust_cfa_offset 8
        subq    $8, %rsp
        .cfi_adjust_cfa_offset 8
        call    allocprof_resolve_dlopen     # returns the real dlopen
        addq    $8, %rsp
        .cfi_adjust_cfa_offset -8
        popq    %rsi
        .cfi_adjust_cfa_offset -8
        popq    %rdi
        .cfi_adjust_cfa_offset -8
        jmp     *%rax
        .cfi_endproc
        .size   dlopen, .-dlopen
        .section .note.GNU-stack,"",@progbits
