#include "live_process.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace allocprof::testing {

LiveProcess::LiveProcess(const std::vector<std::string>& argv) {
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) return;
  pid_ = fork();
  if (pid_ == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  stdin_ = in[1];
  signal(SIGPIPE, SIG_IGN);  // a program that exits early must not take the test with it
  out_.reader = std::thread(&LiveProcess::Read, this, out[0], &out_);
  err_.reader = std::thread(&LiveProcess::Read, this, err[0], &err_);
}

LiveProcess::~LiveProcess() {
  if (exit_code_ < 0 && pid_ > 0) Kill();
  CloseStdin();
}

void LiveProcess::Kill() {
  kill(pid_, SIGKILL);
  Wait();
}

void LiveProcess::Read(int fd, Stream* s) {
  char buf[8192];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    std::lock_guard<std::mutex> lock(mutex_);
    if (n <= 0) {
      s->ended = true;
      changed_.notify_all();
      break;
    }
    s->text.append(buf, static_cast<size_t>(n));
    changed_.notify_all();
  }
  close(fd);
}

bool LiveProcess::Write(const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(stdin_, text.data() + done, text.size() - done);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

void LiveProcess::CloseStdin() {
  if (stdin_ >= 0) close(stdin_);
  stdin_ = -1;
}

bool LiveProcess::WaitFor(Stream& s, const std::string& text) {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return s.text.find(text) != std::string::npos || s.ended; });
  return s.text.find(text) != std::string::npos;
}

int LiveProcess::Wait() {
  if (exit_code_ >= 0) return exit_code_;
  CloseStdin();
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  for (Stream* s : {&out_, &err_}) {
    if (s->reader.joinable()) s->reader.join();
  }
  status_ = status;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return exit_code_;
}

std::string LiveProcess::out() {
  std::lock_guard<std::mutex> lock(mutex_);
  return out_.text;
}

std::string LiveProcess::err() {
  std::lock_guard<std::mutex> lock(mutex_);
  return err_.text;
}

}  // namespace allocprof::testing
