#include "lib/client/dfs_client.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "lib/base/clock.h"
#include "lib/client/internal.h"
#include "lib/client/local_replicas.h"
#include "lib/rpc/run_loop.h"

namespace dfs::client {

namespace asio = boost::asio;
using asio::awaitable;

bool isRetriable(Code code) {
  return code == Code::kUnavailable || code == Code::kTimeout || code == Code::kBusy;
}

DfsClient::DfsClient(ClientOptions options)
    : options_(std::move(options)),
      io_(1),
      work_(io_.get_executor()),
      master_(rpc::Client::create(io_.get_executor(), options_.master)),
      keep_alive_timer_(io_),
      chunkservers_(io_.get_executor()),
      close_landed_(io_.get_executor()),
      commit_linger_(io_),
      changes_landed_event_(io_.get_executor()),
      changes_linger_(io_),
      owners_unlocked_(io_.get_executor()),
      listed_ahead_(io_.get_executor()) {
  if (options_.local_reads) local_replicas_ = std::make_unique<LocalReplicas>();
}

Result<std::unique_ptr<DfsClient>> DfsClient::connect(ClientOptions options) {
  std::unique_ptr<DfsClient> client(new DfsClient(std::move(options)));
  std::promise<void> stopped;
  client->stopped_ = stopped.get_future();
  client->thread_ = std::thread([io = &client->io_, spin = client->options_.idle_spin,
                                  stopped = std::move(stopped)]() mutable {
    rpc::runWithSpin(*io, spin);
    stopped.set_value();
  });
  auto opened = client->run(client->openSession());
  if (!opened) return std::unexpected(opened.error());
  asio::co_spawn(client->io_, client->keepAliveLoop(), asio::detached);
  if (client->options_.changes_behind && client->options_.close_behind) {
    // The first creates and small files' closes find inode numbers and chunks reserved already.
    asio::post(client->io_, [raw = client.get()] {
      raw->reserving_inodes_ = raw->reserving_chunks_ = true;
      asio::co_spawn(raw->io_, raw->reserveAhead(), asio::detached);
    });
  }
  return client;
}

DfsClient::~DfsClient() {
  // Closes that returned before their data was written are finished, not dropped.
  run(awaitAllClosesBehind());
  run(settleChangesBehind());
  if (session_id_ != 0) {
    // Ending the session now frees its leases and opens without waiting for it to expire.
    proto::CloseSessionRequest request;
    request.set_session_id(session_id_);
    rpc::CallOptions call_options;
    call_options.timeout = std::chrono::milliseconds(1000);
    (void)run(master_->call<proto::CloseSessionReply>(proto::CLOSE_SESSION, request, call_options));
  }
  asio::post(io_, [this] {
    stopping_ = true;
    keep_alive_timer_.cancel();
    master_->close();
    chunkservers_.closeAll();
  });
  work_.reset();
  // With connections closed every operation ends soon; one that does not is abandoned.
  if (stopped_.wait_for(std::chrono::seconds(2)) != std::future_status::ready) io_.stop();
  if (thread_.joinable()) thread_.join();
}

Task<void> DfsClient::openSession() {
  proto::CreateSessionRequest request;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  request.set_host(host);
  request.set_pid(static_cast<uint32_t>(::getpid()));
  request.set_mount_point(options_.mount_point);
  DFS_CO_TRY(auto reply, co_await masterCall<proto::CreateSessionReply>(proto::CREATE_SESSION,
                                                                       request));
  if (!cluster_id_.empty() && reply.cluster_id() != cluster_id_) {
    wrong_cluster_ = true;
    // Another cluster's master on the address this mount was given (a moved or reinstalled
    // master): its inode numbers name other files. Nothing is asked of it.
    spdlog::error("master {} serves cluster {}, this mount belongs to cluster {}: refused",
                  options_.master.toString(), reply.cluster_id(), cluster_id_);
    co_return makeError(Code::kWrongCluster,
                        fmt::format("master of cluster {}, mounted cluster {}", reply.cluster_id(),
                                    cluster_id_));
  }
  cluster_id_ = reply.cluster_id();
  wrong_cluster_ = false;
  if (session_id_ != 0) {
    spdlog::warn("session {} was lost; now session {}", session_id_, reply.session_id());
    // The master released the locks of the lost session: they are not ours any more.
    auto held = held_locks_.heldBy(0);
    if (!held.empty()) spdlog::error("{} locks were lost with the session", held.size());
    held_locks_ = locks::LockTable();
    // Nor does the master know of the files it held back: closes wait until they are reopened.
    for (auto& [ino, state] : files_) state->held = false;
    held_dirs_.clear();  // the master dropped the lost session's directory holds too
    reserved_inodes_.clear();  // and its reserved inode numbers and chunks
    reserved_chunks_.clear();
  }
  session_id_ = reply.session_id();
  master_instance_ = reply.master_instance();
  keep_alive_interval_ = std::clamp(std::chrono::milliseconds(reply.lease_ms() / 3),
                                    std::chrono::milliseconds(100), std::chrono::milliseconds(10000));
  co_return Result<void>{};
}

awaitable<void> DfsClient::keepAliveLoop() {
  while (!stopping_) {
    keep_alive_timer_.expires_after(keep_alive_interval_);
    co_await keep_alive_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (stopping_) break;
    proto::KeepAliveRequest request;
    request.set_session_id(session_id_);
    request.set_cluster_id(cluster_id_);
    auto reply = co_await masterCall<proto::KeepAliveReply>(proto::KEEP_ALIVE, request);
    if (!reply && reply.error().code() == Code::kWrongCluster && !wrong_cluster_) {
      // Nothing more is asked of it (masterCall): its inode numbers name other files.
      spdlog::error("master {}: {}; this mount asks it nothing more",
                    options_.master.toString(), reply.error().toString());
      wrong_cluster_ = true;
    }
    if (reply) wrong_cluster_ = false;  // this cluster's master is back at the address
    if (!reply && reply.error().code() == Code::kSessionExpired) (void)co_await openSession();
    if (reply) co_await noticeMasterInstance(reply->master_instance());
  }
}

awaitable<void> DfsClient::noticeMasterInstance(uint64_t instance) {
  if (instance == 0 || instance == master_instance_) co_return;
  // Set before the first wait: the keep-alive and the recall watch both report the instance,
  // and only the first to see a new one registers the files again.
  master_instance_ = instance;
  held_dirs_.clear();  // a restarted master knows of no directory held
  spdlog::info("master restarted; registering {} open files again", files_.size());
  co_await reopenFiles();
  co_await reclaimLocks();
  spdlog::info("open files and locks registered with the restarted master");
}

awaitable<void> DfsClient::reopenFiles() {
  std::vector<std::pair<uint64_t, uint32_t>> open_files;
  for (const auto& [ino, state] : files_) {
    if (state->opens > 0) open_files.emplace_back(ino, state->opens);
  }
  for (const auto& [ino, opens] : open_files) {
    auto it = files_.find(ino);
    bool held = it != files_.end() && it->second->held;
    for (uint32_t i = 0; i < opens; ++i) {
      proto::OpenRequest request;
      request.set_ino(ino);
      // The new master knows of no file held back: this tells it again, closes under way or not.
      request.set_close_behind(held && i == 0);
      auto reopened = co_await masterCall<proto::AttrReply>(proto::OPEN, request);
      if (!reopened) {
        spdlog::warn("inode {} is gone after the master restart: {}", ino,
                     reopened.error().toString());
        break;
      }
    }
  }
}

DfsClient::FileState& DfsClient::file(uint64_t ino) {
  auto& slot = files_[ino];
  if (!slot) slot = std::make_shared<FileState>(ino, io_.get_executor(), options_.write_piece_bytes);
  return *slot;
}

void DfsClient::overlayLocalState(proto::Attr* attr) {
  auto it = files_.find(attr->ino());
  if (it == files_.end()) return;
  const FileState& state = *it->second;
  if (state.dirty || state.hasUnsentData()) {
    attr->set_size(state.size);
    attr->set_ctime_ns(std::max(attr->ctime_ns(), state.ctime_ns));
    // What will be stored once written out, as far as this client can tell.
    attr->set_blocks(std::max<uint64_t>(attr->blocks(), (state.size + 511) / 512));
    attr->set_mtime_ns(state.mtime_ns);
    if (state.held_mode) attr->set_mode((attr->mode() & S_IFMT) | *state.held_mode);
    if (state.held_atime_ns) attr->set_atime_ns(*state.held_atime_ns);
  }
}

// ---------------------------------------------------------------- namespace

Task<proto::Attr> DfsClient::lookup(uint64_t parent, std::string name) {
  if (auto held = held_dirs_.find(parent); held != held_dirs_.end()) {
    auto entry = held->second.find(name);
    if (entry == held->second.end() && name.size() <= kMaxHeldName) {
      co_return makeError(Code::kNotFound, "no such name in a directory this client holds");
    }
    // A directory held in a held directory: neither its name nor its attributes change but
    // through this client.
    if (entry != held->second.end() && held_dirs_.contains(entry->second.ino)) {
      if (auto fresh = fresh_dirs_.find(entry->second.ino); fresh != fresh_dirs_.end()) {
        co_return fresh->second.first;
      }
    }
    if (auto listed = heldListingEntry(parent, name)) co_return std::move(*listed);
  }
  proto::LookupRequest request;
  request.set_parent(parent);
  request.set_name(std::move(name));
  uint64_t epoch = local_changes_;
  DFS_CO_TRY(auto reply, co_await masterCall<proto::AttrReply>(proto::LOOKUP, request));
  // The kernel takes the size in the answer: this client's reads must reach as far.
  refreshFileAttr(reply.attr(), epoch, /*by_file=*/false);
  overlayLocalState(reply.mutable_attr());
  notePermissions(reply.attr());
  co_return reply.attr();
}

void DfsClient::noteNewName(uint64_t parent, const std::string& name) {
  if (auto held = held_dirs_.find(parent); held != held_dirs_.end()) {
    held->second.insert_or_assign(name, HeldName{});
  }
}

void DfsClient::noteNameIs(uint64_t parent, const std::string& name, const proto::Attr& attr) {
  auto held = held_dirs_.find(parent);
  if (held == held_dirs_.end()) return;
  if (auto entry = held->second.find(name); entry != held->second.end()) {
    entry->second = HeldName{attr.ino(), attr.mode() & S_IFMT};
  }
}

void DfsClient::noteGoneName(uint64_t parent, const std::string& name) {
  if (auto held = held_dirs_.find(parent); held != held_dirs_.end()) held->second.erase(name);
}

bool DfsClient::followsChangesBehind(proto::Method method) {
  // Everything that names a directory or a file (a file created here may not exist at the
  // master yet), but not the calls that send the changes, nor those that have nothing to do
  // with them.
  switch (method) {
    case proto::CREATE_SESSION:
    case proto::KEEP_ALIVE:
    case proto::CLOSE_SESSION:
    case proto::WATCH_RECALLS:
    case proto::RECALL_ANSWERED:
    case proto::CHANGES_BEHIND:
    case proto::RESERVE_INODES:
    case proto::READ_DIR:  // readDir waits for what touches the listing
    case proto::CLUSTER_STATUS:
    case proto::STAT_FS:
    case proto::REPORT_BAD_REPLICA:
      return false;
    default:
      return true;
  }
}

bool DfsClient::changesNothingListed(proto::Method method) {
  switch (method) {
    case proto::KEEP_ALIVE:
    case proto::WATCH_RECALLS:
    case proto::CHANGES_BEHIND:  // each change drops the listings it touches when queued
    case proto::RESERVE_INODES:
    case proto::LOOKUP:
    case proto::GET_ATTR:
    case proto::READ_DIR:
    case proto::READLINK:
    case proto::STAT_FS:
    case proto::GET_CHUNKS:
    case proto::CLUSTER_STATUS:
      return true;
    default:
      return false;
  }
}

awaitable<void> DfsClient::settleChangesBehind() {
  // Only the changes made so far: a stream of new ones must not hold a caller back for ever.
  co_await settleChangesBehind(changes_queued_);
}

awaitable<void> DfsClient::settleChangesBehind(uint64_t until) {
  if (changes_landed_ < until) {
    hurry_changes_ = true;
    changes_linger_.cancel();
  }
  while (changes_landed_ < until) co_await changes_landed_event_.wait();
}

void DfsClient::queueChangeBehind(proto::ChangeBehind change, uint64_t parent, uint64_t touched) {
  // A removal keeps the listing of its directory true without the name (rm -rf removes names
  // long after it listed them, and the kernel looks them up again meanwhile).
  if (change.has_unlink()) {
    unlistName(parent, change.unlink().name());
  } else if (change.has_rmdir()) {
    unlistName(parent, change.rmdir().name());
  } else {
    dropListingsTouching(parent);
  }
  dropListingsTouching(touched);
  changes_behind_.push_back(std::move(change));
  changes_queued_++;
  change_touching_[parent] = changes_queued_;
  if (touched != 0) {
    change_touching_[touched] = changes_queued_;
  } else {
    changes_touching_any_ = changes_queued_;
  }
  if (changes_behind_.size() >= kMaxChangesBatch) changes_linger_.cancel();
  if (!sending_changes_) {
    sending_changes_ = true;
    asio::co_spawn(io_, sendChangesBehind(), asio::detached);
  }
}

namespace {
std::string describe(const proto::ChangeBehind& change) {
  switch (change.change_case()) {
    case proto::ChangeBehind::kCreate:
      return fmt::format("create of {} in {}", change.create().name(), change.create().parent());
    case proto::ChangeBehind::kMkdir:
      return fmt::format("mkdir of {} in {}", change.mkdir().name(), change.mkdir().parent());
    case proto::ChangeBehind::kUnlink:
      return fmt::format("removal of {} from {}", change.unlink().name(), change.unlink().parent());
    case proto::ChangeBehind::kRmdir:
      return fmt::format("rmdir of {} in {}", change.rmdir().name(), change.rmdir().parent());
    case proto::ChangeBehind::kSetAttr:
      return fmt::format("setattr of directory {}", change.set_attr().ino());
    default:
      return "an empty change";
  }
}
}  // namespace

awaitable<void> DfsClient::sendChangesBehind() {
  // Like closes' commits (commitBehindLoop): a batch waits a little for more, and
  // changes made while one is under way go with the next.
  if (!hurry_changes_ && !stopping_ && options_.changes_behind_linger.count() > 0 &&
      changes_behind_.size() < kMaxChangesBatch) {
    changes_linger_.expires_after(options_.changes_behind_linger);
    co_await changes_linger_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  while (!changes_behind_.empty()) {
    proto::ChangesBehindRequest request;
    while (!changes_behind_.empty() && request.changes_size() < int{kMaxChangesBatch}) {
      auto* one = request.add_changes();
      *one = std::move(changes_behind_.front());
      one->set_request_id(next_request_id_++);
      changes_behind_.pop_front();
    }
    auto sent = co_await masterCall<proto::ChangesBehindReply>(proto::CHANGES_BEHIND, request);
    changes_landed_ += request.changes_size();
    changes_landed_event_.notifyAll();
    if (changes_landed_ == changes_queued_) {
      change_touching_.clear();
    } else if (change_touching_.size() > 2 * kMaxChangesBatch) {
      std::erase_if(change_touching_,
                    [&](const auto& entry) { return entry.second <= changes_landed_; });
    }
    for (int i = 0; i < request.changes_size(); ++i) {
      const auto& change = request.changes(i);
      Status failed =
          !sent                       ? sent.error()
          : i >= sent->results_size() ? Status(Code::kProtocol, "no answer")
          : sent->results(i).status() != 0
              ? Status(codeFromWire(sent->results(i).status()), sent->results(i).message())
              : Status::ok();
      if (failed.isOk()) {
        // A held directory with more changes of this client still to come is as this client
        // has it, not as the master had it then.
        // (A setattr's answer is the directory itself.)
        const auto& reply = sent->results(i).reply();
        const auto& dir = change.has_set_attr() ? reply.attr() : reply.parent();
        if (changes_behind_.empty() || !held_dirs_.contains(dir.ino())) rememberDir(dir);
        continue;
      }
      spdlog::error("{}, answered here, failed at the master: {}", describe(change),
                    failed.toString());
      if (change.has_create()) {
        // Its data cannot be written either: the next write, flush or fsync reports it.
        if (auto it = files_.find(change.create().ino()); it != files_.end()) {
          it->second->error =
              Status(Code::kIo, "its create failed at the master: " + failed.toString());
        }
      }
    }
  }
  sending_changes_ = false;
  hurry_changes_ = false;
}

uint64_t DfsClient::lastChangeTouching(uint64_t ino) const {
  uint64_t last = changes_touching_any_;
  if (auto it = change_touching_.find(ino); it != change_touching_.end()) {
    last = std::max(last, it->second);
  }
  return last > changes_landed_ ? last : 0;
}

uint64_t DfsClient::takeReservedIno() {
  uint64_t left = 0;
  for (const auto& range : reserved_inodes_) left += range.end - range.next;
  if (left < kReservedInodes / 4 && !reserving_inodes_) {
    reserving_inodes_ = true;
    asio::co_spawn(io_, reserveInodes(), asio::detached);
  }
  while (!reserved_inodes_.empty() &&
         reserved_inodes_.front().next >= reserved_inodes_.front().end) {
    reserved_inodes_.pop_front();
  }
  if (reserved_inodes_.empty()) return 0;
  return reserved_inodes_.front().next++;
}

awaitable<void> DfsClient::reserveAhead() {
  co_await reserveInodes();
  co_await reserveChunks();
}

awaitable<void> DfsClient::reserveInodes() {
  proto::ReserveInodesRequest request;
  request.set_count(kReservedInodes);
  auto reply = co_await masterCall<proto::ReserveInodesReply>(proto::RESERVE_INODES, request);
  reserving_inodes_ = false;
  if (!reply) {
    spdlog::warn("reserving inode numbers: {}", reply.error().toString());
    co_return;
  }
  reserved_inodes_.push_back({reply->first(), reply->first() + reply->count()});
}

int64_t DfsClient::stampFor(uint64_t ino) {
  int64_t t = std::max(wallNowNs(), last_stamp_ns_);
  if (auto fresh = fresh_dirs_.find(ino); fresh != fresh_dirs_.end()) {
    t = std::max(t, fresh->second.first.ctime_ns());
  }
  return last_stamp_ns_ = t;
}

void DfsClient::touchFreshDir(uint64_t dir, int64_t time_ns, int links) {
  auto fresh = fresh_dirs_.find(dir);
  if (fresh == fresh_dirs_.end()) return;
  proto::Attr& attr = fresh->second.first;
  attr.set_nlink(attr.nlink() + links);
  // As the master applies the change at the same time (Namespace: a ctime never goes back).
  attr.set_mtime_ns(time_ns);
  attr.set_ctime_ns(std::max(attr.ctime_ns(), time_ns));
}

void DfsClient::rememberDir(const proto::Attr& dir) {
  if (dir.ino() == 0) return;  // a master that does not send it
  if (fresh_dirs_.size() >= kMaxFreshDirs) {
    // Held directories' attributes are answered from here; they are bounded by kMaxHeldDirs.
    std::erase_if(fresh_dirs_,
                  [&](const auto& entry) { return !held_dirs_.contains(entry.first); });
  }
  auto& slot = fresh_dirs_[dir.ino()];
  // An answer older than what this client already answered (a reply that was on its way while
  // a later change behind was made) does not take a directory's times back; the rest of it is
  // the master's word.
  bool newer_here = slot.first.ino() == dir.ino() && slot.first.ctime_ns() > dir.ctime_ns();
  proto::Attr kept = slot.first;
  slot = {dir, std::chrono::steady_clock::now()};
  if (newer_here) {
    slot.first.set_ctime_ns(kept.ctime_ns());
    slot.first.set_mtime_ns(kept.mtime_ns());
    slot.first.set_atime_ns(kept.atime_ns());
  }
}

void DfsClient::noteLocalChange(FileState& state) {
  state.local_epoch++;
  local_changes_++;
}

uint64_t DfsClient::epochOf(uint64_t ino) const {
  auto it = files_.find(ino);
  return it == files_.end() ? 0 : it->second->local_epoch;
}

void DfsClient::refreshFileAttr(const proto::Attr& attr, uint64_t epoch, bool by_file) {
  auto it = files_.find(attr.ino());
  if (it == files_.end()) return;
  FileState& state = *it->second;
  if ((by_file ? state.local_epoch : local_changes_) != epoch) return;  // older than a change here
  std::optional<int64_t> old_mtime;
  if (state.attr) {
    old_mtime = state.attr->mtime_ns();
    state.learnAttr(attr);
  } else {
    state.attr_at = std::chrono::steady_clock::now();  // the size below is as fresh
  }
  if (!state.size_known || state.changingLocally()) return;
  state.master_size = attr.size();
  if (attr.size() == state.size && (!old_mtime || *old_mtime == attr.mtime_ns())) return;
  uint64_t old_size = std::exchange(state.size, attr.size());
  // Holes cached past the old end may be chunks now (an append), chunks past the new end gone
  // or made anew (a truncate). Earlier locations stay: a version that moved answers kStale, and
  // the read asks again.
  uint64_t from = std::min(old_size, state.size) / kChunkSize;
  state.read_chunks.erase(state.read_chunks.lower_bound(from), state.read_chunks.end());
  state.readahead = {};  // data, and the piece at the old end was cut short there
  if (on_remote_change_) on_remote_change_(state.ino);
}

void DfsClient::forgetFreshFileAttrs() {
  for (auto& [ino, state] : files_) state->attr_at = {};
}

Task<proto::Attr> DfsClient::getAttr(uint64_t ino) {
  if (auto fresh = fresh_dirs_.find(ino); fresh != fresh_dirs_.end()) {
    // A directory this client holds changes only through it (another session's look recalls
    // it first): what the master last said, with this client's changes since, stays true.
    if (held_dirs_.contains(ino) ||
        std::chrono::steady_clock::now() - fresh->second.second < options_.fresh_attr_ttl) {
      co_return fresh->second.first;
    }
    fresh_dirs_.erase(fresh);
  }
  if (auto it = files_.find(ino); it != files_.end()) {
    const FileState& state = *it->second;
    if (state.dirty && state.attr &&
        std::chrono::steady_clock::now() - state.attr_at < options_.fresh_attr_ttl) {
      proto::Attr attr = *state.attr;
      overlayLocalState(&attr);
      co_return attr;
    }
  }
  proto::GetAttrRequest request;
  request.set_ino(ino);
  uint64_t epoch = epochOf(ino);
  DFS_CO_TRY(auto reply, co_await masterCall<proto::AttrReply>(proto::GET_ATTR, request));
  if (held_dirs_.contains(ino)) rememberDir(reply.attr());
  refreshFileAttr(reply.attr(), epoch, /*by_file=*/true);
  overlayLocalState(reply.mutable_attr());
  notePermissions(reply.attr());
  co_return reply.attr();
}

Task<proto::Attr> DfsClient::mknod(uint64_t parent, std::string name, uint32_t mode,
                                   uint64_t rdev, uint32_t uid, uint32_t gid, uint32_t umask) {
  maskHereWithoutDefaultAcl(parent, &mode, &umask);
  proto::MknodRequest request;
  request.set_umask(umask);
  request.set_parent(parent);
  request.set_name(std::move(name));
  request.set_mode(mode);
  request.set_rdev(rdev);
  request.set_uid(uid);
  request.set_gid(gid);
  noteNewName(parent, request.name());
  DFS_CO_TRY(auto reply, co_await masterCall<proto::AttrReply>(proto::MKNOD, request));
  rememberDir(reply.parent());
  noteNameIs(parent, request.name(), reply.attr());
  notePermissions(reply.attr());
  co_return reply.attr();
}

namespace {
// The attributes the master gives a new inode.
proto::Attr newInodeAttr(uint64_t ino, uint32_t mode, uint32_t uid, uint32_t gid,
                         int64_t now_ns) {
  proto::Attr attr;
  attr.set_ino(ino);
  attr.set_mode(mode);
  attr.set_nlink(S_ISDIR(mode) ? 2 : 1);
  attr.set_uid(uid);
  attr.set_gid(gid);
  attr.set_size(S_ISDIR(mode) ? 4096 : 0);
  attr.set_blocks(S_ISDIR(mode) ? 8 : 0);  // as the master counts them
  attr.set_atime_ns(now_ns);
  attr.set_mtime_ns(now_ns);
  attr.set_ctime_ns(now_ns);
  return attr;
}
}  // namespace

bool DfsClient::inheritFromDir(uint64_t dir, uint32_t* mode, uint32_t* gid) const {
  auto fresh = fresh_dirs_.find(dir);
  if (fresh == fresh_dirs_.end()) return false;
  const proto::Attr& parent = fresh->second.first;
  if (parent.mode() & S_ISGID) {
    // As the master makes it (Namespace::create): the directory's group, and setgid for a
    // directory.
    *gid = parent.gid();
    if (S_ISDIR(*mode)) *mode |= S_ISGID;
  }
  return true;
}

uint32_t DfsClient::knownGoal(uint64_t dir) const {
  // What is made in a directory inherits its goal (0: not known here).
  auto fresh = fresh_dirs_.find(dir);
  return fresh == fresh_dirs_.end() ? 0 : fresh->second.first.goal();
}

uint64_t DfsClient::claimNameBehind(uint64_t parent, const std::string& name, uint32_t type) {
  auto held = held_dirs_.find(parent);
  if (!options_.changes_behind || held == held_dirs_.end() || name.size() > kMaxHeldName ||
      held->second.contains(name) || (type == S_IFDIR && held_dirs_.size() >= kMaxHeldDirs) ||
      !mayCloseBehind(O_WRONLY)) {
    return 0;
  }
  uint64_t ino = takeReservedIno();
  // No other session has looked into the directory since this client made it, and the name is
  // not in it: the change cannot fail for a reason the master sees and this client does not
  // (the kernel checked the permissions).
  if (ino != 0) held->second.insert_or_assign(name, HeldName{ino, type});
  return ino;
}

std::optional<proto::Attr> DfsClient::createBehind(uint64_t parent, const std::string& name,
                                                   uint32_t mode, uint32_t uid, uint32_t gid) {
  mode = S_IFREG | (mode & 07777);
  if (!inheritFromDir(parent, &mode, &gid)) return std::nullopt;
  uint64_t ino = claimNameBehind(parent, name, S_IFREG);
  if (ino == 0) return std::nullopt;
  int64_t t = stampFor(parent);
  proto::Attr attr = newInodeAttr(ino, mode, uid, gid, t);
  attr.set_goal(knownGoal(parent));
  proto::ChangeBehind change;
  change.set_time_ns(t);
  auto* create = change.mutable_create();
  create->set_parent(parent);
  create->set_name(name);
  create->set_mode(attr.mode());
  create->set_uid(uid);
  create->set_gid(gid);
  create->set_open(true);
  create->set_close_behind(true);
  create->set_ino(ino);
  queueChangeBehind(std::move(change), parent, ino);
  touchFreshDir(parent, t);
  FileState& state = file(ino);
  state.held = true;
  state.fresh = true;
  state.opens++;
  state.size = state.master_size = 0;
  state.size_known = true;
  state.learnAttr(attr);
  notePermissions(attr);
  return attr;
}

std::optional<proto::Attr> DfsClient::mkdirBehind(uint64_t parent, const std::string& name,
                                                  uint32_t mode, uint32_t uid, uint32_t gid) {
  mode = S_IFDIR | (mode & 07777);
  if (!inheritFromDir(parent, &mode, &gid)) return std::nullopt;
  uint64_t ino = claimNameBehind(parent, name, S_IFDIR);
  if (ino == 0) return std::nullopt;
  int64_t t = stampFor(parent);
  proto::Attr attr = newInodeAttr(ino, mode, uid, gid, t);
  attr.set_goal(knownGoal(parent));
  proto::ChangeBehind change;
  change.set_time_ns(t);
  auto* made = change.mutable_mkdir();
  made->set_parent(parent);
  made->set_name(name);
  made->set_mode(mode);
  made->set_uid(uid);
  made->set_gid(gid);
  made->set_hold(true);  // held from the start, like a directory made at the master
  made->set_ino(ino);
  queueChangeBehind(std::move(change), parent, ino);
  touchFreshDir(parent, t, 1);
  held_dirs_.try_emplace(ino);
  rememberDir(attr);
  return attr;
}

bool DfsClient::rmdirBehind(uint64_t parent, const std::string& name) {
  auto held = held_dirs_.find(parent);
  if (!options_.changes_behind || held == held_dirs_.end()) return false;
  auto entry = held->second.find(name);
  if (entry == held->second.end() || entry->second.type != S_IFDIR || entry->second.ino == 0) {
    return false;
  }
  uint64_t ino = entry->second.ino;
  auto removed = held_dirs_.find(ino);
  // Held too, and empty: every name in it went through this client, which removed them all.
  if (removed == held_dirs_.end() || !removed->second.empty()) return false;
  held->second.erase(entry);
  held_dirs_.erase(removed);
  fresh_dirs_.erase(ino);
  proto::ChangeBehind change;
  int64_t t = stampFor(parent);
  change.set_time_ns(t);
  change.mutable_rmdir()->set_parent(parent);
  change.mutable_rmdir()->set_name(name);
  queueChangeBehind(std::move(change), parent, ino);
  touchFreshDir(parent, t, -1);
  return true;
}

std::optional<proto::Attr> DfsClient::setAttrBehind(proto::SetAttrRequest request) {
  uint64_t ino = request.ino();
  uint32_t valid = request.valid();
  auto fresh = fresh_dirs_.find(ino);
  // No other session sees a held directory's attributes before a recall has brought every
  // change behind to the master, so any change of them may wait (a size is not one of them).
  if (!options_.changes_behind || !held_dirs_.contains(ino) || fresh == fresh_dirs_.end() ||
      valid == 0 || (valid & proto::SET_SIZE) != 0) {
    return std::nullopt;
  }
  int64_t now_ns = stampFor(ino);
  // The master keeps the times answered here, not its own later "now".
  if (valid & proto::SET_ATIME_NOW) {
    valid = (valid & ~proto::SET_ATIME_NOW) | proto::SET_ATIME;
    request.set_atime_ns(now_ns);
  }
  if (valid & proto::SET_MTIME_NOW) {
    valid = (valid & ~proto::SET_MTIME_NOW) | proto::SET_MTIME;
    request.set_mtime_ns(now_ns);
  }
  request.set_valid(valid);
  proto::Attr& attr = fresh->second.first;
  if (valid & proto::SET_MODE) attr.set_mode((attr.mode() & S_IFMT) | (request.mode() & 07777));
  if (valid & proto::SET_UID) attr.set_uid(request.uid());
  if (valid & proto::SET_GID) attr.set_gid(request.gid());
  if (valid & proto::SET_ATIME) attr.set_atime_ns(request.atime_ns());
  if (valid & proto::SET_MTIME) attr.set_mtime_ns(request.mtime_ns());
  attr.set_ctime_ns(std::max(attr.ctime_ns(), now_ns));
  proto::ChangeBehind change;
  change.set_time_ns(now_ns);
  *change.mutable_set_attr() = std::move(request);
  queueChangeBehind(std::move(change), ino, ino);
  return attr;
}

Task<proto::Attr> DfsClient::create(uint64_t parent, std::string name, uint32_t mode,
                                    uint32_t uid, uint32_t gid, uint32_t umask) {
  if (maskHereWithoutDefaultAcl(parent, &mode, &umask)) {
    if (auto attr = createBehind(parent, name, mode, uid, gid)) co_return std::move(*attr);
  }
  proto::MknodRequest request;
  request.set_umask(umask);
  request.set_parent(parent);
  request.set_name(std::move(name));
  request.set_mode(S_IFREG | (mode & 07777));
  request.set_uid(uid);
  request.set_gid(gid);
  request.set_open(true);
  request.set_close_behind(mayCloseBehind(O_WRONLY));
  noteNewName(parent, request.name());
  DFS_CO_TRY(auto reply, co_await masterCall<proto::AttrReply>(proto::MKNOD, request));
  rememberDir(reply.parent());
  noteNameIs(parent, request.name(), reply.attr());
  notePermissions(reply.attr());
  FileState& state = file(reply.attr().ino());
  state.held = state.held || request.close_behind();
  state.fresh = state.opens == 0 && state.write_chunks.empty() && !state.hasUnsentData();
  state.opens++;
  state.size = state.master_size = 0;
  state.size_known = true;
  state.learnAttr(reply.attr());
  forgetCachedData(state);
  co_return reply.attr();
}

Task<proto::Attr> DfsClient::mkdir(uint64_t parent, std::string name, uint32_t mode, uint32_t uid,
                                   uint32_t gid, uint32_t umask) {
  if (maskHereWithoutDefaultAcl(parent, &mode, &umask)) {
    if (auto attr = mkdirBehind(parent, name, mode, uid, gid)) co_return std::move(*attr);
  }
  proto::MkdirRequest request;
  request.set_umask(umask);
  request.set_parent(parent);
  request.set_name(std::move(name));
  request.set_mode(mode);
  request.set_uid(uid);
  request.set_gid(gid);
  // Held by a mount (which answers recalls), while it holds few enough.
  request.set_hold(held_dirs_.size() < kMaxHeldDirs && mayCloseBehind(O_WRONLY));
  noteNewName(parent, request.name());
  DFS_CO_TRY(auto reply, co_await masterCall<proto::AttrReply>(proto::MKDIR, request));
  rememberDir(reply.parent());
  noteNameIs(parent, request.name(), reply.attr());
  notePermissions(reply.attr());
  if (request.hold()) {
    held_dirs_.try_emplace(reply.attr().ino());
    rememberDir(reply.attr());
  }
  co_return reply.attr();
}

Task<void> DfsClient::unlink(uint64_t parent, std::string name) {
  auto held = held_dirs_.find(parent);
  HeldNames::iterator entry;
  if (held != held_dirs_.end()) entry = held->second.find(name);
  if (held != held_dirs_.end() && options_.changes_behind && entry != held->second.end()) {
    // No other session has looked into the directory since this client made it: the removal
    // is answered here and reaches the master behind, before anything else this client asks
    // of it, and before another session's look into the directory (a recall).
    uint64_t removed = entry->second.ino;
    held->second.erase(entry);
    proto::ChangeBehind change;
    int64_t t = stampFor(parent);
    change.set_time_ns(t);
    change.mutable_unlink()->set_parent(parent);
    change.mutable_unlink()->set_name(std::move(name));
    queueChangeBehind(std::move(change), parent, removed);
    touchFreshDir(parent, t);
    forgetFreshFileAttrs();
    co_return Result<void>{};
  }
  proto::UnlinkRequest request;
  request.set_parent(parent);
  request.set_name(std::move(name));
  auto unlinked = co_await masterCall<proto::UnlinkReply>(proto::UNLINK, request);
  forgetFreshFileAttrs();  // the removed name's inode may be one this client is writing
  DFS_CO_TRY(auto reply, std::move(unlinked));
  rememberDir(reply.parent());
  noteGoneName(parent, request.name());
  co_return Result<void>{};
}

Task<void> DfsClient::rmdir(uint64_t parent, std::string name) {
  if (rmdirBehind(parent, name)) co_return Result<void>{};
  proto::UnlinkRequest request;
  request.set_parent(parent);
  request.set_name(std::move(name));
  DFS_CO_TRY(auto reply, co_await masterCall<proto::UnlinkReply>(proto::RMDIR, request));
  rememberDir(reply.parent());
  noteGoneName(parent, request.name());
  held_dirs_.erase(reply.ino());
  co_return Result<void>{};
}

Task<void> DfsClient::rename(uint64_t parent, std::string name, uint64_t new_parent,
                             std::string new_name, uint32_t flags) {
  proto::RenameRequest request;
  request.set_parent(parent);
  request.set_name(std::move(name));
  request.set_new_parent(new_parent);
  request.set_new_name(std::move(new_name));
  request.set_flags(flags);
  noteNewName(new_parent, request.new_name());
  auto renamed = co_await masterCall<proto::RenameReply>(proto::RENAME, request);
  // (No directory attributes come back: the next look at either directory asks the master.)
  fresh_dirs_.erase(parent);
  fresh_dirs_.erase(new_parent);
  forgetFreshFileAttrs();  // a file renamed over loses a link
  DFS_CO_RETURN_IF_ERROR(renamed);
  // The moved inode's ctime moved: a directory this client answers for takes the master's.
  if (uint64_t moved = renamed->attr().ino(); moved != 0 && fresh_dirs_.contains(moved)) {
    if (held_dirs_.contains(moved)) {
      rememberDir(renamed->attr());
    } else {
      fresh_dirs_.erase(moved);
    }
  }
  constexpr uint32_t kRenameExchange = 2;  // RENAME_EXCHANGE: both names stay
  if ((flags & kRenameExchange) == 0) {
    // The new name is what the old one was, when this client knows.
    if (auto from = held_dirs_.find(parent); from != held_dirs_.end()) {
      if (auto entry = from->second.find(request.name()); entry != from->second.end()) {
        HeldName moved = entry->second;
        from->second.erase(entry);
        if (auto to = held_dirs_.find(new_parent); to != held_dirs_.end()) {
          to->second.insert_or_assign(request.new_name(), moved);
        }
      }
    }
  } else {
    noteNewName(parent, request.name());  // what each name now is, the master knows
  }
  co_return Result<void>{};
}

Task<proto::Attr> DfsClient::link(uint64_t ino, uint64_t new_parent, std::string new_name) {
  proto::LinkRequest request;
  request.set_ino(ino);
  request.set_new_parent(new_parent);
  request.set_new_name(std::move(new_name));
  noteNewName(new_parent, request.new_name());
  uint64_t epoch = epochOf(request.ino());
  DFS_CO_TRY(auto reply, co_await masterCall<proto::AttrReply>(proto::LINK, request));
  rememberDir(reply.parent());
  noteNameIs(new_parent, request.new_name(), reply.attr());
  notePermissions(reply.attr());
  refreshFileAttr(reply.attr(), epoch, /*by_file=*/true);
  overlayLocalState(reply.mutable_attr());
  co_return reply.attr();
}

Task<proto::Attr> DfsClient::symlink(uint64_t parent, std::string name, std::string target,
                                     uint32_t uid, uint32_t gid) {
  proto::SymlinkRequest request;
  request.set_parent(parent);
  request.set_name(std::move(name));
  request.set_target(std::move(target));
  request.set_uid(uid);
  request.set_gid(gid);
  noteNewName(parent, request.name());
  DFS_CO_TRY(auto reply, co_await masterCall<proto::AttrReply>(proto::SYMLINK, request));
  rememberDir(reply.parent());
  noteNameIs(parent, request.name(), reply.attr());
  notePermissions(reply.attr());
  co_return reply.attr();
}

Task<std::string> DfsClient::readlink(uint64_t ino) {
  proto::ReadlinkRequest request;
  request.set_ino(ino);
  DFS_CO_TRY(auto reply, co_await masterCall<proto::ReadlinkReply>(proto::READLINK, request));
  co_return reply.target();
}

// ---------------------------------------------------------------- extended attributes

Task<std::string> DfsClient::getXattr(uint64_t ino, std::string name) {
  if (knownWithoutXattrs(ino)) co_return makeError(Code::kNoData, name);
  proto::GetXattrRequest request;
  request.set_ino(ino);
  request.set_name(std::move(name));
  DFS_CO_TRY(auto reply, co_await masterCall<proto::GetXattrReply>(proto::GET_XATTR, request));
  co_return std::move(*reply.mutable_value());
}

Task<std::vector<std::string>> DfsClient::listXattrs(uint64_t ino) {
  if (knownWithoutXattrs(ino)) co_return std::vector<std::string>{};
  proto::ListXattrsRequest request;
  request.set_ino(ino);
  DFS_CO_TRY(auto reply, co_await masterCall<proto::ListXattrsReply>(proto::LIST_XATTRS, request));
  co_return std::vector<std::string>(reply.names().begin(), reply.names().end());
}

void DfsClient::noteXattrChange(const proto::Attr& attr) {
  if (fresh_dirs_.contains(attr.ino())) rememberDir(attr);
  notePermissions(attr);
  if (auto it = files_.find(attr.ino()); it != files_.end() && it->second->attr) {
    it->second->learnAttr(attr);
  }
}

Task<void> DfsClient::setXattr(uint64_t ino, std::string name, std::string value,
                               uint32_t flags) {
  proto::SetXattrRequest request;
  request.set_ino(ino);
  request.set_name(std::move(name));
  request.set_value(std::move(value));
  request.set_flags(flags);
  DFS_CO_TRY(auto reply, co_await masterCall<proto::AttrReply>(proto::SET_XATTR, request));
  noteXattrChange(reply.attr());
  co_return Result<void>{};
}

Task<void> DfsClient::removeXattr(uint64_t ino, std::string name) {
  proto::RemoveXattrRequest request;
  request.set_ino(ino);
  request.set_name(std::move(name));
  DFS_CO_TRY(auto reply, co_await masterCall<proto::AttrReply>(proto::REMOVE_XATTR, request));
  noteXattrChange(reply.attr());
  co_return Result<void>{};
}

Task<std::vector<proto::DirEntry>> DfsClient::readDir(uint64_t ino) {
  while (listing_ahead_.contains(ino)) co_await listed_ahead_.wait();
  std::vector<proto::DirEntry> entries;
  if (auto kept = heldListing(ino)) {
    entries = std::move(*kept);
  } else {
    // Only the changes behind that touch the directory or an inode it lists must reach the
    // master first, not all of them: rm -rf opens each directory while the removals in the one
    // before are still on their way.
    co_await settleChangesBehind(lastChangeTouching(ino));
    uint64_t asked_at = changes_queued_;
    uint64_t master_changes = master_changes_;
    DFS_CO_TRY(entries, co_await listDir(ino));
    // A listed inode with a change made before the listing still on its way (a link count
    // this client changed in another directory): listed again once that has landed. Changes
    // made since are the caller's concurrent ones, as for any other call.
    uint64_t until = 0;
    for (const auto& entry : entries) {
      until = std::max(until, lastChangeTouching(entry.attr().ino()));
    }
    until = std::min(until, asked_at);
    if (until > changes_landed_) {
      co_await settleChangesBehind(until);
      master_changes = master_changes_;
      DFS_CO_TRY(entries, co_await listDir(ino));
    }
    keepHeldListing(ino, master_changes, entries);
  }
  listHeldSubdirsAhead(entries);
  for (auto& entry : entries) overlayLocalState(entry.mutable_attr());
  co_return entries;
}

Task<std::vector<proto::DirEntry>> DfsClient::listDir(uint64_t ino) {
  std::vector<proto::DirEntry> entries;
  proto::ReadDirRequest request;
  request.set_ino(ino);
  request.set_max_entries(2048);
  for (;;) {
    DFS_CO_TRY(auto reply, co_await masterCall<proto::ReadDirReply>(proto::READ_DIR, request));
    for (auto& entry : *reply.mutable_entries()) {
      notePermissions(entry.attr());
      entries.push_back(std::move(entry));
    }
    if (reply.end() || reply.entries_size() == 0) break;
    request.set_after(entries.back().name());
  }
  co_return entries;
}

Task<proto::StatFsReply> DfsClient::statFs() {
  co_return co_await masterCall<proto::StatFsReply>(proto::STAT_FS, proto::StatFsRequest{});
}

Task<proto::Attr> DfsClient::resolve(std::string path) {
  proto::Attr attr;
  attr.set_ino(kRootIno);
  std::string_view rest = path;
  bool first = true;
  while (!rest.empty()) {
    auto slash = rest.find('/');
    std::string_view name = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (name.empty() || name == ".") continue;
    first = false;
    DFS_CO_TRY(attr, co_await lookup(attr.ino(), std::string(name)));
  }
  if (first) {
    DFS_CO_TRY(attr, co_await getAttr(kRootIno));
  }
  co_return attr;
}

Task<proto::GetChunksReply> DfsClient::chunks(uint64_t ino) {
  proto::GetChunksReply all;
  proto::GetChunksRequest request;
  request.set_ino(ino);
  request.set_count(1024);
  for (uint64_t first = 0;; first += 1024) {
    request.set_first_index(first);
    DFS_CO_TRY(auto reply, co_await masterCall<proto::GetChunksReply>(proto::GET_CHUNKS, request));
    all.set_size(reply.size());
    for (auto& chunk : *reply.mutable_chunks()) *all.add_chunks() = std::move(chunk);
    if ((first + 1024) * kChunkSize >= reply.size()) break;
  }
  co_return all;
}

Task<proto::Attr> DfsClient::setGoal(uint64_t ino, uint32_t goal, bool recursive) {
  proto::SetGoalRequest request;
  request.set_ino(ino);
  request.set_goal(goal);
  request.set_recursive(recursive);
  DFS_CO_TRY(auto reply, co_await masterCall<proto::AttrReply>(proto::SET_GOAL, request));
  co_return reply.attr();
}

Task<proto::ClusterStatusReply> DfsClient::clusterStatus() {
  co_return co_await masterCall<proto::ClusterStatusReply>(proto::CLUSTER_STATUS,
                                                           proto::ClusterStatusRequest{});
}

}  // namespace dfs::client
