# Tests: GoogleTest unit tests (analyzer library and shim pieces compiled directly), integration
# tests that run real programs under the shim, and the test programs they preload into.
TEST_OUT := $(BUILD)/tests
GTEST_LIBS := -lgtest -lgtest_main -lpthread
TEST_CXXFLAGS = $(ANALYZER_CXXFLAGS) -Ianalyzer -Ishim -DALLOCPROF_BUILD_DIR='"$(abspath $(BUILD))"' \
                 -DALLOCPROF_SOURCE_DIR='"$(abspath .)"'

# vg_*: one case each of the comparison with valgrind's counts (tests/integration/valgrind_test.cc).
VG_PROGRAM_NAMES := $(basename $(notdir $(wildcard tests/programs/vg_*.cc)))
TEST_PROGRAM_NAMES := entry_points xthread_free processes many_threads dlopen_main exits pool_user pmr_user inlined \
                      phases attach_threads alloc_loop attach_registers attach_blocked deny_ptrace signal_target \
                      signal_alloc reload_main lsan_embedded signal_stack fork_handler_ticker offload \
                      $(VG_PROGRAM_NAMES)
TEST_PROGRAMS := $(TEST_PROGRAM_NAMES:%=$(TEST_OUT)/programs/%) $(TEST_OUT)/programs/libplugin.so \
                 $(TEST_OUT)/programs/alloc_loop_nopie \
                 $(TEST_OUT)/programs/libreload_a.so $(TEST_OUT)/programs/libreload_b.so \
                 $(TEST_OUT)/programs/minidebug_main $(TEST_OUT)/programs/libminidebug_plain.so \
                 $(TEST_OUT)/programs/static_hello $(TEST_OUT)/programs/attach_target $(TEST_OUT)/programs/budget_tests \
                 $(TEST_OUT)/programs/budget_catch2 $(TEST_OUT)/programs/budget_c \
                 $(TEST_OUT)/programs/dlopen_deps $(TEST_OUT)/programs/zstd_user

# -fno-builtin keeps the compiler from removing the allocations the tests count.
$(TEST_OUT)/programs/%: tests/programs/%.cc | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) -std=c++20 -O1 -g -fno-builtin -fno-omit-frame-pointer -pthread -Iinclude -o $@ $< -ldl

# A GoogleTest program of allocprof/gtest.h's budgets, which the integration tests run under
# `allocprof test`, under `allocprof run` and alone.
$(TEST_OUT)/programs/budget_tests: tests/programs/budget_tests.cc include/allocprof/budget.h include/allocprof/gtest.h \
  | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) -std=c++20 -O1 -g -fno-builtin -fno-omit-frame-pointer -pthread -Iinclude -o $@ $< -lgtest -lgtest_main -ldl

$(TEST_OUT)/programs/budget_catch2: tests/programs/budget_catch2.cc include/allocprof/budget.h include/allocprof/gtest.h \
  | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) -std=c++20 -O1 -g -fno-builtin -fno-omit-frame-pointer -Iinclude -o $@ $<

# budget.h is a C header too: compiled as C99 with every warning.
$(TEST_OUT)/programs/budget_c: tests/programs/budget_c.c include/allocprof/budget.h include/allocprof/pool.h \
  | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -std=c99 -O1 -g -fno-builtin -Wall -Wextra -Werror -Iinclude -o $@ $<

# alloc_loop again as a non-PIE executable (attach must not take its canonical PLT entries for libc's).
$(TEST_OUT)/programs/alloc_loop_nopie: tests/programs/alloc_loop.cc | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) -std=c++20 -O1 -g -fno-builtin -fno-omit-frame-pointer -pthread -fno-pie -no-pie -Iinclude -o $@ $< -ldl

$(TEST_OUT)/programs/libplugin.so: tests/programs/plugin.cc | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) -std=c++20 -O1 -g -fPIC -shared -o $@ $<

# The same source twice, one exported name apart: the dlclose/reload case (reload_main.cc).
$(TEST_OUT)/programs/libreload_%.so: tests/programs/reload_lib.cc | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) -std=c++20 -O1 -g -fPIC -shared -DRELOAD_KEEP=reload_$*_keep -o $@ $<

# MiniDebugInfo the way Fedora makes it: the function symbols that .dynsym lacks, kept from the
# full .symtab in an otherwise empty ELF, xz-compressed into the stripped library's .gnu_debugdata.
# libminidebug_plain.so is the same library stripped without it (the test's control).
$(TEST_OUT)/programs/libminidebug.so: tests/programs/minidebug_lib.cc | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) -std=c++20 -O1 -g -fPIC -shared -o $@.full $<
	nm -D $@.full --format=posix --defined-only | awk '{ print $$1 }' | sort > $@.dynsyms
	nm $@.full --format=posix --defined-only | awk '$$2 ~ /^[Tt]$$/ { print $$1 }' | sort > $@.funcsyms
	comm -13 $@.dynsyms $@.funcsyms > $@.keep
	objcopy --only-keep-debug $@.full $@.debug
	objcopy -S --remove-section .gdb_index --remove-section .comment --keep-symbols=$@.keep $@.debug $@.mini
	rm -f $@.mini.xz && xz -k $@.mini
	strip --strip-all -R .comment -o $@.tmp $@.full
	objcopy --add-section .gnu_debugdata=$@.mini.xz $@.tmp
	mv $@.tmp $@ && rm -f $@.full $@.dynsyms $@.funcsyms $@.keep $@.debug $@.mini $@.mini.xz

$(TEST_OUT)/programs/libminidebug_plain.so: tests/programs/minidebug_lib.cc | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) -std=c++20 -O1 -g -fPIC -shared -o $@.full $<
	strip --strip-all -R .comment -o $@ $@.full && rm -f $@.full

$(TEST_OUT)/programs/minidebug_main: tests/programs/minidebug_main.cc $(TEST_OUT)/programs/libminidebug.so | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) -std=c++20 -O1 -g -fno-builtin -fno-omit-frame-pointer -Wl,-rpath,'$$ORIGIN' -o $@ $< \
	  -L$(TEST_OUT)/programs -lminidebug

$(TEST_OUT)/programs/static_hello: tests/programs/static_hello.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -O1 -static -o $@ $<

# The shim's dependencies dlopened by a program that links neither (C: libstdc++ would bring libm),
# and a program linked with its own libzstd (tests/integration/valgrind_test.cc).
$(TEST_OUT)/programs/dlopen_deps: tests/programs/dlopen_deps.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -std=c99 -O1 -g -fno-builtin -Wall -Wextra -Werror -o $@ $<

$(TEST_OUT)/programs/zstd_user: tests/programs/zstd_user.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -std=c99 -O1 -g -fno-builtin -Wall -Wextra -Werror -o $@ $< -lzstd

UNIT_SRCS := $(wildcard tests/unit/*.cc)
UNIT_OBJS := $(UNIT_SRCS:%.cc=$(BUILD)/%.o)
INTEGRATION_SRCS := $(wildcard tests/integration/*.cc)
INTEGRATION_OBJS := $(INTEGRATION_SRCS:%.cc=$(BUILD)/%.o)

$(BUILD)/tests/unit/%.o $(BUILD)/tests/integration/%.o: | $(DEPS_STAMP)
$(BUILD)/tests/%.o: tests/%.cc
	@mkdir -p $(dir $@)
	$(CXX) $(TEST_CXXFLAGS) -c $< -o $@

# Shim pieces tested directly: the stack walker (against libunwind), the sampled-address set and
# counting mode's size map.
UNIT_SHIM_OBJS := $(BUILD)/shim/unwind/cfi_rules.o $(BUILD)/shim/unwind/cfi_backtrace.o $(BUILD)/tests/shim/record/sampled_set.o \
                  $(BUILD)/tests/shim/count/size_map.o
$(BUILD)/tests/shim/%.o: shim/%.cc | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) $(TEST_CXXFLAGS) -c $< -o $@

$(TEST_OUT)/unit_tests: $(UNIT_OBJS) $(BUILD)/libanalyzer.a $(UNIT_SHIM_OBJS)
	$(CXX) $(SANITIZE) -o $@ $^ $(ANALYZER_LDLIBS) $(GTEST_LIBS) -lunwind

$(TEST_OUT)/integration_tests: $(INTEGRATION_OBJS) $(BUILD)/libanalyzer.a
	$(CXX) $(SANITIZE) -o $@ $^ $(ANALYZER_LDLIBS) $(GTEST_LIBS)

test-programs: $(TEST_PROGRAMS)

check: all web $(BUILD)/bench/churn $(BUILD)/bench/synth_trace $(TEST_OUT)/unit_tests $(TEST_OUT)/integration_tests $(TEST_PROGRAMS) $(FUZZ_OUT)/trace_reader_fuzz $(FUZZ_OUT)/diff_json_fuzz
	@bash tests/run_all.sh $(BUILD)

.PHONY: check test-programs

# attach_target dlopens its plugin by bare name, found through its own RUNPATH ($ORIGIN): under
# attach that search must still be the program's, not the shim's.
$(TEST_OUT)/programs/attach_target: tests/programs/attach_target.cc | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) -std=c++20 -O1 -g -fno-builtin -fno-omit-frame-pointer -pthread -Iinclude -Wl,-rpath,'$$ORIGIN' -o $@ $< -ldl
