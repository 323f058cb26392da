#include "server/chunkserver/spare_files.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>


namespace dfs::chunkserver {

namespace fs = std::filesystem;

SpareFiles::SpareFiles(std::string dir, size_t target, size_t max_recycled)
    : dir_(std::move(dir)),
      target_(target),
      max_(std::max(target, max_recycled)),
      // Only on CPU time nobody else wants: the pool is made while the machine idles, and under
      // load new replicas are created directly (what the pool saves them is what it would cost).
      worker_(BackgroundWorker::Options{.name = "spare-files",
                                        .at_stop = BackgroundWorker::AtStop::kDropQueued,
                                        .only_when_idle = true}) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    if (!entry.is_regular_file()) continue;
    if (entry.file_size(ec) != 0) {
      fs::remove(entry.path(), ec);  // never handed out: only empty files are spares
      continue;
    }
    ready_.push_back(entry.path().string());
    next_name_ = std::max<uint64_t>(next_name_, std::strtoull(entry.path().filename().c_str(),
                                                              nullptr, 10) + 1);
  }
  if (target_ > 0) {
    refilling_ = true;
    worker_.post([this] { refill(); });
  }
}

std::optional<std::string> SpareFiles::take() {
  std::lock_guard lock(mutex_);
  if (ready_.empty()) return std::nullopt;
  std::string path = std::move(ready_.back());
  ready_.pop_back();
  if (ready_.size() < target_ / 2 && !refilling_) {
    refilling_ = worker_.post([this] { refill(); });
  }
  return path;
}

size_t SpareFiles::available() {
  std::lock_guard lock(mutex_);
  return ready_.size();
}

bool SpareFiles::recycle(const std::string& path) {
  std::string spare;
  {
    std::lock_guard lock(mutex_);
    if (ready_.size() >= max_ || worker_.stopping()) return false;
    spare = dir_ + "/" + std::to_string(next_name_++);
  }
  if (::rename(path.c_str(), spare.c_str()) != 0) return false;
  // Emptied through a descriptor that is closed at once: ext4 marks a file truncated to size 0
  // for a forced write-back at its next close (auto_da_alloc), meant for programs that rewrite
  // a file in place. Closed here, with nothing dirty, that close costs nothing; left for the
  // replica that reuses the file, it would start a disk write for every small new replica.
  int fd = ::open(spare.c_str(), O_WRONLY | O_CLOEXEC);
  bool emptied = fd >= 0 && ::ftruncate(fd, 0) == 0;
  if (fd >= 0) ::close(fd);
  if (!emptied) {
    ::unlink(spare.c_str());
    return true;  // gone from path all the same
  }
  std::lock_guard lock(mutex_);
  ready_.push_back(std::move(spare));
  return true;
}

void SpareFiles::refill() {
  std::unique_lock lock(mutex_);
  while (ready_.size() < target_ && !worker_.stopping()) {
    std::string path = dir_ + "/" + std::to_string(next_name_++);
    lock.unlock();
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) ::close(fd);
    lock.lock();
    if (fd < 0) {
      spdlog::warn("spare file {}: {}", path, std::strerror(errno));
      // Full disk or similar: try again later rather than spin.
      refilling_ = worker_.post([this] { refill(); },
                                BackgroundWorker::Clock::now() + std::chrono::seconds(5));
      return;
    }
    ready_.push_back(std::move(path));
  }
  refilling_ = false;
}

}  // namespace dfs::chunkserver
