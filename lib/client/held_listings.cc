// Listings of the directories this client holds, kept and fetched ahead (HeldListing in
// dfs_client.h).
#include <sys/stat.h>

#include <algorithm>

#include "lib/client/internal.h"

namespace dfs::client {

namespace asio = boost::asio;

namespace {

// The entry named name, or end: the master lists names in byte order.
template <class Entries>
auto findListed(Entries& entries, const std::string& name) {
  auto it = std::lower_bound(entries.begin(), entries.end(), name,
                             [](const proto::DirEntry& entry, const std::string& wanted) {
                               return entry.name() < wanted;
                             });
  return it != entries.end() && it->name() == name ? it : entries.end();
}

}  // namespace

bool DfsClient::knowsHeldDirAttr(uint64_t dir) const {
  return held_dirs_.contains(dir) && fresh_dirs_.contains(dir);
}

void DfsClient::overlayHeldDir(proto::Attr* attr) const {
  if (!held_dirs_.contains(attr->ino())) return;
  if (auto fresh = fresh_dirs_.find(attr->ino()); fresh != fresh_dirs_.end()) {
    *attr = fresh->second.first;
  }
}

const DfsClient::HeldListing* DfsClient::validHeldListing(uint64_t dir) {
  auto it = held_listings_.find(dir);
  if (it == held_listings_.end()) return nullptr;
  const HeldListing& kept = it->second;
  if (!held_dirs_.contains(dir) || kept.master_changes != master_changes_ ||
      (kept.shared_inodes &&
       std::chrono::steady_clock::now() - kept.at >= options_.fresh_attr_ttl)) {
    dropHeldListing(dir);
    return nullptr;
  }
  return &kept;
}

std::optional<std::vector<proto::DirEntry>> DfsClient::heldListing(uint64_t dir) {
  const HeldListing* kept = validHeldListing(dir);
  if (!kept) return std::nullopt;
  std::vector<proto::DirEntry> entries;
  entries.reserve(kept->entries.size() - kept->removed);
  for (const auto& entry : kept->entries) {
    if (entry.attr().ino() == 0) continue;
    entries.push_back(entry);
    overlayHeldDir(entries.back().mutable_attr());
  }
  return entries;
}

std::optional<proto::Attr> DfsClient::heldListingEntry(uint64_t dir, const std::string& name) {
  const HeldListing* kept = validHeldListing(dir);
  if (!kept) return std::nullopt;
  auto it = findListed(kept->entries, name);
  if (it == kept->entries.end() || it->attr().ino() == 0) return std::nullopt;
  proto::Attr attr = it->attr();
  overlayHeldDir(&attr);
  overlayLocalState(&attr);
  return attr;
}

void DfsClient::keepHeldListing(uint64_t dir, uint64_t master_changes,
                                const std::vector<proto::DirEntry>& entries) {
  // A change of this client still on its way may be missing from it.
  if (!held_dirs_.contains(dir) || master_changes != master_changes_ ||
      lastChangeTouching(dir) != 0) {
    return;
  }
  bool shared_inodes = false;
  for (const auto& entry : entries) {
    if (lastChangeTouching(entry.attr().ino()) != 0) return;
    if (!S_ISDIR(entry.attr().mode()) && entry.attr().nlink() > 1) shared_inodes = true;
  }
  dropHeldListing(dir);
  if (listed_entries_ + entries.size() > kMaxListedEntries) {
    held_listings_.clear();
    listed_in_.clear();
    listed_entries_ = 0;
  }
  for (const auto& entry : entries) {
    uint64_t ino = entry.attr().ino();
    // An inode in two kept listings (another link): only the last listing stays, so that a
    // change of the inode finds it.
    if (auto other = listed_in_.find(ino); other != listed_in_.end() && other->second != dir) {
      dropHeldListing(other->second);
    }
    listed_in_[ino] = dir;
  }
  held_listings_[dir] = {master_changes, std::chrono::steady_clock::now(), shared_inodes, entries};
  listed_entries_ += entries.size();
}

void DfsClient::dropHeldListing(uint64_t dir) {
  auto it = held_listings_.find(dir);
  if (it == held_listings_.end()) return;
  for (const auto& entry : it->second.entries) {
    if (entry.attr().ino() == 0) continue;
    auto listed = listed_in_.find(entry.attr().ino());
    if (listed != listed_in_.end() && listed->second == dir) listed_in_.erase(listed);
  }
  listed_entries_ -= it->second.entries.size();
  held_listings_.erase(it);
}

void DfsClient::dropListingsTouching(uint64_t ino) {
  if (held_listings_.empty()) return;
  if (ino == 0) {  // an inode this client does not know
    held_listings_.clear();
    listed_in_.clear();
    listed_entries_ = 0;
    return;
  }
  dropHeldListing(ino);
  // A held directory's entry is answered with the attributes this client keeps of it.
  if (knowsHeldDirAttr(ino)) return;
  if (auto listed = listed_in_.find(ino); listed != listed_in_.end()) {
    dropHeldListing(listed->second);
  }
}

void DfsClient::unlistName(uint64_t dir, const std::string& name) {
  if (held_listings_.empty()) return;
  if (auto listed = listed_in_.find(dir); listed != listed_in_.end() && !knowsHeldDirAttr(dir)) {
    dropHeldListing(listed->second);
  }
  auto kept = held_listings_.find(dir);
  if (kept == held_listings_.end()) return;
  auto& entries = kept->second.entries;
  auto it = findListed(entries, name);
  if (it == entries.end() || it->attr().ino() == 0) {
    dropHeldListing(dir);  // not as this client knows the directory
    return;
  }
  if (auto listed = listed_in_.find(it->attr().ino());
      listed != listed_in_.end() && listed->second == dir) {
    listed_in_.erase(listed);
  }
  // Marked, not erased: rm removes a large directory's names front to back.
  it->mutable_attr()->set_ino(0);
  if (++kept->second.removed > entries.size() / 2) {
    std::erase_if(entries, [](const proto::DirEntry& entry) { return entry.attr().ino() == 0; });
    listed_entries_ -= kept->second.removed;
    kept->second.removed = 0;
  }
}

void DfsClient::listHeldSubdirsAhead(const std::vector<proto::DirEntry>& entries) {
  for (const auto& entry : entries) {
    uint64_t ino = entry.attr().ino();
    if (!S_ISDIR(entry.attr().mode()) || !held_dirs_.contains(ino) ||
        held_listings_.contains(ino) || listing_ahead_.contains(ino) ||
        queued_ahead_.contains(ino) || to_list_ahead_.size() >= kMaxToListAhead) {
      continue;
    }
    to_list_ahead_.push_back(ino);
    queued_ahead_.insert(ino);
  }
  while (listers_ahead_ < kListingsAhead && listers_ahead_ < to_list_ahead_.size()) {
    listers_ahead_++;
    asio::co_spawn(io_, listAhead(), asio::detached);
  }
}

asio::awaitable<void> DfsClient::listAhead() {
  while (!to_list_ahead_.empty() && !stopping_) {
    uint64_t dir = to_list_ahead_.front();
    to_list_ahead_.pop_front();
    queued_ahead_.erase(dir);
    // Listed meanwhile, or changed: a listing now would have to wait for the change.
    if (!held_dirs_.contains(dir) || held_listings_.contains(dir) || listing_ahead_.contains(dir) ||
        lastChangeTouching(dir) != 0) {
      continue;
    }
    listing_ahead_.insert(dir);
    uint64_t master_changes = master_changes_;
    auto entries = co_await listDir(dir);
    listing_ahead_.erase(dir);
    if (entries) keepHeldListing(dir, master_changes, *entries);
    listed_ahead_.notifyAll();
  }
  listers_ahead_--;
}

}  // namespace dfs::client
