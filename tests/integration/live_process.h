// A program kept running while a test talks to it through pipes: the test writes its stdin, waits
// for text on its stdout or stderr (collected by background threads, so the program never blocks
// on a full pipe), and finally waits for it to exit.
#ifndef ALLOCPROF_TESTS_INTEGRATION_LIVE_PROCESS_H_
#define ALLOCPROF_TESTS_INTEGRATION_LIVE_PROCESS_H_

#include <sys/types.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace allocprof::testing {

class LiveProcess {
 public:
  explicit LiveProcess(const std::vector<std::string>& argv);  // argv[0] resolved through PATH
  ~LiveProcess();                                              // kills the process if it still runs

  pid_t pid() const { return pid_; }
  bool Write(const std::string& text);  // to stdin
  void CloseStdin();
  // Blocks until `text` has appeared on stdout (or stderr), or the stream ended. True if it appeared.
  bool WaitForStdout(const std::string& text) { return WaitFor(out_, text); }
  bool WaitForStderr(const std::string& text) { return WaitFor(err_, text); }
  void Kill();  // SIGKILL, then Wait()
  // Waits for the exit; returns the exit code (128 + signal when killed). Streams are complete after.
  int Wait();
  // The raw wait status (WIFSIGNALED, WTERMSIG, ...), once Wait() returned.
  int status() const { return status_; }
  std::string out();
  std::string err();

 private:
  struct Stream {
    std::string text;
    bool ended = false;
    std::thread reader;
  };
  bool WaitFor(Stream& s, const std::string& text);
  void Read(int fd, Stream* s);

  pid_t pid_ = -1;
  int stdin_ = -1;
  int exit_code_ = -1;
  int status_ = 0;
  std::mutex mutex_;
  std::condition_variable changed_;
  Stream out_, err_;
};

}  // namespace allocprof::testing

#endif  // ALLOCPROF_TESTS_INTEGRATION_LIVE_PROCESS_H_
