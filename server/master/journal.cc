#include "server/master/journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace dfs::master {

namespace asio = boost::asio;
namespace fs = std::filesystem;

Journal::File::~File() {
  if (fd >= 0) ::close(fd);
}

std::string Journal::segmentPath(const std::string& dir, uint64_t first_seq) {
  return fmt::format("{}/journal.{:016x}", dir, first_seq);
}

std::vector<JournalSegment> Journal::listSegments(const std::string& dir) {
  std::vector<JournalSegment> segments;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (!name.starts_with("journal.") || name.size() != 24) continue;
    char* end = nullptr;
    uint64_t first = std::strtoull(name.c_str() + 8, &end, 16);
    if (*end != '\0') continue;
    segments.push_back({first, entry.path().string()});
  }
  std::sort(segments.begin(), segments.end(),
            [](const auto& a, const auto& b) { return a.first_seq < b.first_seq; });
  return segments;
}

Journal::Journal(std::string dir, uint64_t next_seq, asio::any_io_executor executor,
                 std::chrono::milliseconds sync_delay)
    : dir_(std::move(dir)),
      executor_(executor),
      sync_delay_(sync_delay),
      synced_event_(executor),
      last_seq_(next_seq - 1),
      written_seq_(next_seq - 1),
      synced_seq_(next_seq - 1) {}

Result<std::unique_ptr<Journal>> Journal::open(const std::string& dir, uint64_t next_seq,
                                               asio::any_io_executor executor,
                                               std::chrono::milliseconds sync_delay) {
  std::unique_ptr<Journal> journal(new Journal(dir, next_seq, std::move(executor), sync_delay));
  DFS_RETURN_IF_ERROR(journal->openSegment(next_seq));
  journal->sync_thread_ = std::thread([raw = journal.get()] { raw->syncLoop(); });
  return journal;
}

Journal::~Journal() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (sync_thread_.joinable()) sync_thread_.join();
  if (file_) ::fdatasync(file_->fd);
}

Result<void> Journal::openSegment(uint64_t first_seq) {
  std::string path = segmentPath(dir_, first_seq);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return makeError(Code::kIo, "create " + path + ": " + std::strerror(errno));
  // The new name must survive a crash too.
  int dir_fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  std::lock_guard lock(mutex_);
  file_ = std::make_shared<File>(fd);
  writer_ = std::make_unique<LogWriter>(0);
  segment_first_seq_ = first_seq;
  return {};
}

Result<uint64_t> Journal::append(proto::MetaRecord& record) {
  if (!failure_.isOk() || sync_failed_.load()) {
    if (failure_.isOk()) failure_ = Status(Code::kIo, "journal sync failed");
    return makeError(failure_);
  }
  record.set_seq(last_seq_ + 1);
  std::string bytes;
  writer_->add(record.SerializeAsString(), &bytes);
  int fd = file_->fd;
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      failure_ = Status(Code::kIo, std::string("journal write: ") + std::strerror(errno));
      spdlog::critical("{}; the master accepts no more changes", failure_.toString());
      return makeError(failure_);
    }
    done += static_cast<size_t>(n);
  }
  last_seq_++;
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    written_seq_ = last_seq_;
    wake = sync_idle_;
  }
  if (wake) cv_.notify_one();
  return last_seq_;
}

void Journal::syncLoop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    sync_idle_ = true;
    cv_.wait(lock, [&] { return stopping_ || written_seq_ > synced_seq_.load(); });
    sync_idle_ = false;
    if (sync_delay_.count() > 0) {
      cv_.wait_for(lock, sync_delay_,
                   [&] { return stopping_ || wanted_seq_ > synced_seq_.load(); });
    }
    if (stopping_) return;  // the destructor syncs what is left
    uint64_t target = written_seq_;
    auto file = file_;
    lock.unlock();
    // One fdatasync covers every record written so far: that is the group commit.
    int rc = ::fdatasync(file->fd);
    if (rc != 0) {
      spdlog::critical("journal fdatasync failed: {}", std::strerror(errno));
      sync_failed_ = true;
    } else {
      synced_seq_ = target;
      sync_count_++;
    }
    asio::post(executor_, [this] { synced_event_.notifyAll(); });
    lock.lock();
    if (sync_failed_) return;
  }
}

asio::awaitable<Result<void>> Journal::durable(uint64_t seq) {
  while (synced_seq_.load() < seq) {
    if (sync_failed_) co_return makeError(Code::kIo, "journal sync failed");
    bool wake = false;
    {
      std::lock_guard lock(mutex_);
      if (wanted_seq_ < seq) {
        wanted_seq_ = seq;
        wake = true;
      }
    }
    if (wake) cv_.notify_one();
    co_await synced_event_.wait();
  }
  co_return Result<void>{};
}

Result<void> Journal::rotate() {
  std::shared_ptr<File> old;
  {
    std::lock_guard lock(mutex_);
    old = file_;
  }
  if (::fdatasync(old->fd) != 0) {
    return makeError(Code::kIo, std::string("journal fdatasync: ") + std::strerror(errno));
  }
  uint64_t covered = last_seq_;
  DFS_RETURN_IF_ERROR(openSegment(last_seq_ + 1));
  if (synced_seq_.load() < covered) synced_seq_ = covered;
  return {};
}

void Journal::removeSegmentsBefore(uint64_t seq) {
  auto segments = listSegments(dir_);
  for (size_t i = 0; i + 1 < segments.size(); ++i) {
    // Segment i holds [first_i, first_{i+1}); it can go when all of that is below seq.
    if (segments[i + 1].first_seq <= seq && segments[i].first_seq != segment_first_seq_) {
      std::error_code ec;
      fs::remove(segments[i].path, ec);
    }
  }
}

}  // namespace dfs::master
