// The output-file policy (util/output_file.h): what is replaced, written into or refused.
#include "util/output_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "allocprof/trace_format.h"
#include "util/exit_codes.h"

namespace allocprof {
namespace {

class Dir {
 public:
  Dir() {
    const char* base = getenv("TMPDIR");
    path_ = std::string(base && *base ? base : "/tmp") + "/allocprof-out-XXXXXX";
    if (!mkdtemp(path_.data())) abort();
  }
  ~Dir() {
    for (const auto& f : Files()) {
      std::string p = path_ + "/" + f;
      if (rmdir(p.c_str()) != 0) unlink(p.c_str());
    }
    rmdir(path_.c_str());
  }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  std::vector<std::string> Files() const {
    std::vector<std::string> names;
    if (DIR* d = opendir(path_.c_str())) {
      while (struct dirent* e = readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") names.push_back(n);
      }
      closedir(d);
    }
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  std::string path_;
};

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Write(const std::string& path, const std::string& data) { std::ofstream(path, std::ios::binary) << data; }

struct stat Lstat(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st;
}

TEST(OutputFile, CreatesANewFileWithTheUmasksMode) {
  Dir dir;
  mode_t old = umask(027);
  ASSERT_TRUE(WriteOutputFile(dir / "out.json", "{}").ok());
  umask(old);
  EXPECT_EQ(Read(dir / "out.json"), "{}");
  EXPECT_EQ(Lstat(dir / "out.json").st_mode & 0777, 0640u);
  EXPECT_EQ(dir.Files(), std::vector<std::string>{"out.json"}) << "no temporary file left behind";
}

TEST(OutputFile, ReplacesARegularFileAtomicallyKeepingItsMode) {
  Dir dir;
  Write(dir / "out.json", "old");
  chmod((dir / "out.json").c_str(), 0604);
  ino_t before = Lstat(dir / "out.json").st_ino;
  // A reader holding the old file keeps reading the old content: the new one is renamed in.
  int reader = open((dir / "out.json").c_str(), O_RDONLY);
  ASSERT_TRUE(WriteOutputFile(dir / "out.json", "new").ok());
  char buf[8] = {0};
  EXPECT_EQ(read(reader, buf, sizeof(buf)), 3);
  close(reader);
  EXPECT_STREQ(buf, "old");
  EXPECT_EQ(Read(dir / "out.json"), "new");
  EXPECT_NE(Lstat(dir / "out.json").st_ino, before);
  EXPECT_EQ(Lstat(dir / "out.json").st_mode & 0777, 0604u);
  EXPECT_EQ(dir.Files(), std::vector<std::string>{"out.json"});
}

TEST(OutputFile, NeverReplacesAnInputOrATrace) {
  Dir dir;
  Write(dir / "in.trace", "input");
  absl::Status st = WriteOutputFile(dir / "in.trace", "x", {dir / "in.trace"});
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("is an input of this command"), std::string::npos) << st.message();
  EXPECT_EQ(Read(dir / "in.trace"), "input");
  // Another trace (not an input) is protected by its magic.
  Write(dir / "other.trace", std::string(format::kFileMagic, sizeof(format::kFileMagic)) + "rest");
  st = WriteOutputFile(dir / "other.trace", "x", {dir / "in.trace"});
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("is an allocprof trace"), std::string::npos) << st.message();
  EXPECT_FALSE(CheckOutputFile(dir / "other.trace").ok());
  EXPECT_EQ(Read(dir / "other.trace").substr(0, 8), "ALLOCPRF");
}

TEST(OutputFile, WritesIntoACharacterDeviceWithoutReplacingIt) {
  Dir dir;
  ASSERT_TRUE(WriteOutputFile("/dev/null", "discarded").ok());
  EXPECT_TRUE(S_ISCHR(Lstat("/dev/null").st_mode));
  // A copy of /dev/null where the test may make one (mknod needs CAP_MKNOD).
  if (mknod((dir / "mynull").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0) {
    ASSERT_TRUE(WriteOutputFile(dir / "mynull", "discarded").ok());
    EXPECT_TRUE(S_ISCHR(Lstat(dir / "mynull").st_mode));
    EXPECT_EQ(dir.Files(), std::vector<std::string>{"mynull"});
  }
}

TEST(OutputFile, WritesIntoAFifo) {
  Dir dir;
  ASSERT_EQ(mkfifo((dir / "fifo").c_str(), 0600), 0);
  std::string got;
  std::thread reader([&] { got = Read(dir / "fifo"); });
  ASSERT_TRUE(WriteOutputFile(dir / "fifo", "through the fifo").ok());
  reader.join();
  EXPECT_EQ(got, "through the fifo");
  EXPECT_TRUE(S_ISFIFO(Lstat(dir / "fifo").st_mode));
}

TEST(OutputFile, SymlinksAreNeitherFollowedToAFileNorReplaced) {
  Dir dir;
  Write(dir / "target", "kept");
  ASSERT_EQ(symlink((dir / "target").c_str(), (dir / "link").c_str()), 0);
  absl::Status st = WriteOutputFile(dir / "link", "x");
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("is a symlink"), std::string::npos) << st.message();
  EXPECT_FALSE(CheckOutputFile(dir / "link").ok());
  EXPECT_EQ(Read(dir / "target"), "kept");
  EXPECT_TRUE(S_ISLNK(Lstat(dir / "link").st_mode));
  // Dangling: refused too (creating the target would be following it).
  ASSERT_EQ(symlink((dir / "nowhere").c_str(), (dir / "dangling").c_str()), 0);
  EXPECT_FALSE(WriteOutputFile(dir / "dangling", "x").ok());
  EXPECT_NE(access((dir / "nowhere").c_str(), F_OK), 0);
  // A link to a stream is written into: /dev/stdout on a pipe, >(cmd), a link to /dev/null.
  ASSERT_EQ(symlink("/dev/null", (dir / "to-null").c_str()), 0);
  EXPECT_TRUE(WriteOutputFile(dir / "to-null", "x").ok());
  EXPECT_TRUE(S_ISLNK(Lstat(dir / "to-null").st_mode));
}

TEST(OutputFile, DirectoriesSocketsAndMissingDirectoriesAreRefused) {
  Dir dir;
  ASSERT_EQ(mkdir((dir / "sub").c_str(), 0700), 0);
  absl::Status st = WriteOutputFile(dir / "sub", "x");
  EXPECT_NE(st.message().find("is a directory"), std::string::npos) << st.message();
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string sock = dir / "sock";
  ASSERT_LT(sock.size(), sizeof(addr.sun_path));
  memcpy(addr.sun_path, sock.c_str(), sock.size() + 1);
  ASSERT_EQ(bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  st = WriteOutputFile(sock, "x");
  close(s);
  EXPECT_NE(st.message().find("is a socket"), std::string::npos) << st.message();
  EXPECT_TRUE(S_ISSOCK(Lstat(sock).st_mode));
  st = CheckOutputFile(dir / "missing/out.json");
  EXPECT_NE(st.message().find("directory " + (dir / "missing") + " does not exist"), std::string::npos) << st.message();
  // Creating files in /sys fails for root and everyone else alike (EACCES, or EROFS where /sys is
  // mounted read-only).
  st = WriteOutputFile("/sys/allocprof-test.json", "x");
  EXPECT_NE(st.message().find("cannot create /sys/allocprof-test.json"), std::string::npos) << st.message();
}

TEST(TraceOutput, RefusesAnExistingTraceOrChildTracesWithoutForce) {
  Dir dir;
  std::string msg;
  Write(dir / "t.trace", "old");
  EXPECT_EQ(PrepareTraceOutput(dir / "t.trace", false, &msg), kExitUsage);
  EXPECT_NE(msg.find("already exists; pass --force"), std::string::npos) << msg;
  unlink((dir / "t.trace").c_str());
  Write(dir / "t.trace.123", "child");
  Write(dir / "t.trace.123.2", "exec'd image");
  Write(dir / "t.trace.notachild", "unrelated");
  EXPECT_EQ(ChildTraces(dir / "t.trace"), (std::vector<std::string>{dir / "t.trace.123", dir / "t.trace.123.2"}));
  EXPECT_EQ(PrepareTraceOutput(dir / "t.trace", false, &msg), kExitUsage);
  EXPECT_NE(msg.find("child-process traces of an earlier run"), std::string::npos) << msg;
  Write(dir / "t.trace", "old");
  EXPECT_EQ(PrepareTraceOutput(dir / "t.trace", true, &msg), kExitOk) << msg;
  EXPECT_EQ(dir.Files(), std::vector<std::string>{"t.trace.notachild"}) << "--force removes the old run's files only";
}

TEST(TraceOutput, NonRegularFilesAreNeverReplaced) {
  Dir dir;
  std::string msg;
  ASSERT_EQ(mkfifo((dir / "fifo").c_str(), 0600), 0);
  EXPECT_EQ(PrepareTraceOutput(dir / "fifo", true, &msg), kExitCantCreate);
  EXPECT_NE(msg.find("a trace must be a regular file"), std::string::npos) << msg;
  EXPECT_TRUE(S_ISFIFO(Lstat(dir / "fifo").st_mode));
  ASSERT_EQ(mkdir((dir / "sub").c_str(), 0700), 0);
  EXPECT_EQ(PrepareTraceOutput(dir / "sub", true, &msg), kExitCantCreate);
  EXPECT_NE(msg.find("is a directory; give a file name, e.g. -o " + (dir / "sub/app.trace")), std::string::npos) << msg;
  Write(dir / "target", "kept");
  ASSERT_EQ(symlink((dir / "target").c_str(), (dir / "link").c_str()), 0);
  EXPECT_EQ(PrepareTraceOutput(dir / "link", true, &msg), kExitCantCreate);
  EXPECT_TRUE(S_ISLNK(Lstat(dir / "link").st_mode));
  EXPECT_EQ(Read(dir / "target"), "kept");
  EXPECT_EQ(PrepareTraceOutput(dir / "missing/t.trace", true, &msg), kExitCantCreate);
  EXPECT_NE(msg.find("does not exist"), std::string::npos) << msg;
  EXPECT_EQ(PrepareTraceOutput("/sys/allocprof-test.trace", true, &msg), kExitCantCreate);
  EXPECT_NE(msg.find("cannot create /sys/allocprof-test.trace: "), std::string::npos) << msg;
}

}  // namespace
}  // namespace allocprof
