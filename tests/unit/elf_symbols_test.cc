// launch/elf_symbols (the maps and ELF reading allocprof attach relies on) and the layout of the
// code it injects (launch/inject_stub).
#include "launch/elf_symbols.h"

#include <dlfcn.h>
#include <elf.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "launch/inject_stub.h"

namespace allocprof {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(ParseMaps, ReadsEveryKindOfLine) {
  std::vector<Mapping> maps = ParseMaps(
      "55bbc2e12000-55bbc2e14000 r--p 00000000 fe:00 247498                     /usr/bin/head\n"
      "7f0000001000-7f0000003000 r-xp 00002000 08:11 99    /opt/my app/lib x.so (deleted)\n"
      "564e9e1fb000-564e9e20b000 rw-p 00000000 00:00 0 \n"
      "564ec06c5000-564ec0707000 rw-p 00000000 00:00 0                          [heap]\n"
      "not a line of maps\n");
  ASSERT_EQ(maps.size(), 4u);
  EXPECT_EQ(maps[0].start, 0x55bbc2e12000u);
  EXPECT_EQ(maps[0].end, 0x55bbc2e14000u);
  EXPECT_EQ(maps[0].perms, "r--p");
  EXPECT_EQ(maps[0].dev_major, 0xfeu);
  EXPECT_EQ(maps[0].inode, 247498u);
  EXPECT_EQ(maps[0].path, "/usr/bin/head");
  EXPECT_TRUE(maps[0].file_backed());
  EXPECT_FALSE(maps[0].executable());
  EXPECT_EQ(maps[1].offset, 0x2000u);
  EXPECT_EQ(maps[1].dev_major, 8u);
  EXPECT_EQ(maps[1].dev_minor, 0x11u);
  EXPECT_EQ(maps[1].path, "/opt/my app/lib x.so (deleted)");
  EXPECT_EQ(maps[1].basename(), "lib x.so (deleted)");
  EXPECT_TRUE(maps[1].executable());
  EXPECT_EQ(maps[2].path, "");
  EXPECT_FALSE(maps[2].file_backed());
  EXPECT_EQ(maps[3].path, "[heap]");
  EXPECT_FALSE(maps[3].file_backed());
}

// This process's own libc, read as the injector reads another process's.
TEST(ElfImage, FindsLibcSymbolsWhereTheLoaderPutThem) {
  std::vector<Mapping> maps = ParseMaps(ReadAll("/proc/self/maps"));
  const Mapping* libc = nullptr;
  for (const Mapping& m : maps) {
    if (m.basename() == "libc.so.6" && !libc) libc = &m;
  }
  ASSERT_NE(libc, nullptr);
  std::vector<Mapping> same;
  uint64_t header = 0;
  for (const Mapping& m : maps) {
    if (m.inode == libc->inode && m.dev_major == libc->dev_major && m.dev_minor == libc->dev_minor) {
      same.push_back(m);
      if (m.offset == 0) header = m.start;
    }
  }
  ElfImage image;
  std::string error;
  ASSERT_TRUE(image.Open(getpid(), *libc, header, &error)) << error;
  EXPECT_EQ(image.elf_class(), ELFCLASS64);
  EXPECT_EQ(image.machine(), EM_X86_64);
  std::optional<uint64_t> bias = image.LoadBias(same);
  ASSERT_TRUE(bias.has_value());
  // pthread_cond_wait has two versions at different addresses: the default one is what dlsym finds.
  for (const char* name : {"dlopen", "dlsym", "dlerror", "__errno_location", "pthread_cond_wait"}) {
    std::optional<uint64_t> value = image.DynamicSymbol(name, &error);
    ASSERT_TRUE(value.has_value()) << name << ": " << error;
    EXPECT_EQ(*bias + *value, reinterpret_cast<uint64_t>(dlsym(RTLD_DEFAULT, name))) << name;
  }
  error.clear();
  EXPECT_FALSE(image.DynamicSymbol("no_such_symbol_anywhere", &error).has_value());
  EXPECT_EQ(error, "");
}

TEST(ElfImage, IdentifiesOtherArchitecturesAndNonElf) {
  char dir[] = "/tmp/elf-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string i386 = std::string(dir) + "/i386", text = std::string(dir) + "/text";
  {
    std::string header = std::string(
                             "\x7f"
                             "ELF\x01\x01\x01",
                             7) +
                         std::string(9, '\0');
    header += std::string("\x02\x00\x03\x00", 4);  // ET_EXEC, EM_386
    std::ofstream(i386, std::ios::binary) << header;
    std::ofstream(text) << "#!/bin/sh\necho hello\n";
  }
  ElfImage image;
  std::string error;
  ASSERT_TRUE(image.OpenPath(i386, &error)) << error;
  EXPECT_EQ(image.elf_class(), ELFCLASS32);
  EXPECT_EQ(image.machine(), EM_386);
  EXPECT_EQ(image.Describe(), "32-bit i386");
  ElfImage script;
  EXPECT_FALSE(script.OpenPath(text, &error));
  EXPECT_EQ(error, text + " is not an ELF file");
  ElfImage self;
  ASSERT_TRUE(self.OpenPath("/proc/self/exe", &error)) << error;
  EXPECT_EQ(self.Describe(), "64-bit x86-64");
  EXPECT_TRUE(self.has_interpreter());
  unlink(i386.c_str());
  unlink(text.c_str());
  rmdir(dir);
}

TEST(InjectStub, FitsItsRegionAndMarksItsSystemCalls) {
  inject::Code stub = inject::StubCode();
  EXPECT_GT(stub.size, 100u);
  EXPECT_LE(stub.size, inject::kCodeSize);
  // The marker and the gadget's resume point sit right after a `syscall` (0f 05).
  ASSERT_GT(inject::StubMarkerOffset(), 2u);
  EXPECT_EQ(stub.bytes[inject::StubMarkerOffset() - 2], 0x0f);
  EXPECT_EQ(stub.bytes[inject::StubMarkerOffset() - 1], 0x05);
  inject::Code gadget = inject::GadgetCode();
  EXPECT_EQ(gadget.bytes[inject::GadgetAfterSyscallOffset() - 2], 0x0f);
  EXPECT_EQ(gadget.bytes[inject::GadgetAfterSyscallOffset() - 1], 0x05);
  EXPECT_EQ(inject::GadgetDataOffset() % 8, 0u);
  EXPECT_EQ(inject::GadgetDataOffset() + sizeof(inject::GadgetData), gadget.size);
  EXPECT_LE(gadget.size, 256u) << "it must fit in the few bytes after a library's code";
}

}  // namespace
}  // namespace allocprof
