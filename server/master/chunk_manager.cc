#include "server/master/chunk_manager.h"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace dfs::master {

uint32_t ChunkManager::registerChunkserver(const proto::RegisterChunkserverRequest& request,
                                           const Namespace& ns, int64_t now_ms) {
  ChunkserverInfo* info = nullptr;
  for (auto& [id, server] : servers_) {
    if ((!request.data_dir_id().empty() && server.data_dir_id == request.data_dir_id()) ||
        server.address == request.address()) {
      info = &server;
      break;
    }
  }
  if (!info) {
    uint32_t id = next_id_++;
    info = &servers_[id];
    info->id = id;
  }
  info->address = request.address();
  info->data_dir_id = request.data_dir_id();
  info->capacity_bytes = request.capacity_bytes();
  info->used_bytes = request.used_bytes();
  info->chunks = request.chunks_size();
  info->last_heartbeat_ms = now_ms;
  info->alive = true;
  info->pending_deletes.clear();
  // The block report is the truth about what it holds now: forget what was known before.
  for (auto& [chunk_id, servers] : replicas_) {
    if (std::find(servers.begin(), servers.end(), info->id) != servers.end()) {
      unlinkReplica(servers, info->id);
    }
  }
  info->replica_count = 0;

  size_t stale = 0;
  for (const auto& report : request.chunks()) {
    const ChunkMeta* meta = ns.chunk(report.chunk_id());
    if (!meta && isReserved(report.chunk_id())) {
      auto& placed = reserved_[report.chunk_id()];  // a file's commit names it soon
      if (std::find(placed.begin(), placed.end(), info->id) == placed.end()) {
        placed.push_back(info->id);
      }
      continue;
    }
    if (!meta) {
      // Not referenced: deleted while this chunkserver was away, or a leftover. It goes once
      // the grace period has passed without a file claiming it.
      auto& leftover = unreferenced_[report.chunk_id()];
      if (leftover.first_seen_ms == 0) leftover.first_seen_ms = now_ms;
      if (std::find(leftover.servers.begin(), leftover.servers.end(), info->id) ==
          leftover.servers.end()) {
        leftover.servers.push_back(info->id);
      }
      continue;
    }
    if (report.version() < meta->version) {
      info->pending_deletes.push_back(report.chunk_id());
      stale++;
      continue;
    }
    auto damaged = damaged_.find(report.chunk_id());
    if (damaged != damaged_.end() && std::find(damaged->second.begin(), damaged->second.end(),
                                               info->id) != damaged->second.end()) {
      continue;  // still damaged: rebuilt before it counts again
    }
    linkReplica(replicas_[report.chunk_id()], info->id);
  }
  spdlog::info("chunkserver {} registered at {} with {} chunks ({} stale)", info->id,
               info->address, request.chunks_size(), stale);
  return info->id;
}

Result<std::vector<uint64_t>> ChunkManager::heartbeat(
    const proto::ChunkserverHeartbeatRequest& request, int64_t now_ms) {
  auto it = servers_.find(request.chunkserver_id());
  if (it == servers_.end()) return makeError(Code::kNotFound, "unknown chunkserver");
  ChunkserverInfo& info = it->second;
  if (!info.alive) {
    // It was declared dead and its replicas may have been dropped: it must report them again.
    return makeError(Code::kNotFound, "chunkserver was declared dead");
  }
  info.capacity_bytes = request.capacity_bytes();
  info.used_bytes = request.used_bytes();
  info.chunks = request.chunks();
  info.scrubbed_bytes = request.scrubbed_bytes();
  info.last_heartbeat_ms = now_ms;
  return std::exchange(info.pending_deletes, {});
}

int ChunkManager::expireDead(int64_t now_ms) {
  int changed = 0;
  for (auto& [id, info] : servers_) {
    if (info.alive && now_ms - info.last_heartbeat_ms > dead_after_ms_) {
      info.alive = false;
      changed++;
      spdlog::warn("chunkserver {} at {} is dead: no heartbeat for {} ms", id, info.address,
                   now_ms - info.last_heartbeat_ms);
    }
  }
  return changed;
}

size_t ChunkManager::collectUnreferenced(const Namespace& ns, int64_t now_ms, int64_t grace_ms) {
  size_t queued = 0;
  for (auto it = unreferenced_.begin(); it != unreferenced_.end();) {
    if (ns.chunk(it->first) || isReserved(it->first)) {
      it = unreferenced_.erase(it);
      continue;
    }
    if (now_ms - it->second.first_seen_ms < grace_ms) {
      ++it;
      continue;
    }
    for (uint32_t id : it->second.servers) {
      auto server = servers_.find(id);
      if (server != servers_.end()) server->second.pending_deletes.push_back(it->first);
      queued++;
    }
    it = unreferenced_.erase(it);
  }
  if (queued) spdlog::info("deleting {} unreferenced replicas", queued);
  return queued;
}

double ChunkserverInfo::load() const {
  double capacity_chunks = std::max<double>(1.0, double(capacity_bytes) / double(kChunkSize));
  return double(replica_count) / capacity_chunks;
}

void ChunkManager::linkReplica(std::vector<uint32_t>& servers, uint32_t server) {
  if (std::find(servers.begin(), servers.end(), server) != servers.end()) return;
  servers.push_back(server);
  auto it = servers_.find(server);
  if (it != servers_.end()) it->second.replica_count++;
}

void ChunkManager::unlinkReplica(std::vector<uint32_t>& servers, uint32_t server) {
  if (std::erase(servers, server) == 0) return;
  auto it = servers_.find(server);
  if (it != servers_.end() && it->second.replica_count > 0) it->second.replica_count--;
}

std::vector<uint32_t> ChunkManager::place(uint32_t count,
                                          const std::vector<uint32_t>& exclude) const {
  std::vector<const ChunkserverInfo*> candidates;
  for (const auto& [id, info] : servers_) {
    if (!info.alive || info.freeBytes() < kChunkSize) continue;
    if (std::find(exclude.begin(), exclude.end(), id) != exclude.end()) continue;
    candidates.push_back(&info);
  }
  std::sort(candidates.begin(), candidates.end(), [](auto* a, auto* b) {
    if (a->load() != b->load()) return a->load() < b->load();
    return a->freeBytes() != b->freeBytes() ? a->freeBytes() > b->freeBytes() : a->id < b->id;
  });
  std::vector<uint32_t> chosen;
  for (size_t i = 0; i < candidates.size() && chosen.size() < count; ++i) {
    chosen.push_back(candidates[i]->id);
  }
  return chosen;
}

std::vector<std::vector<uint32_t>> ChunkManager::placeReserved(
    uint32_t goal, const std::vector<uint64_t>& ids) {
  // Least loaded first, each chunk starting one further along: spread evenly, as a stream of
  // single placements would be once each weighed on the load.
  auto candidates = place(static_cast<uint32_t>(servers_.size()), {});
  std::vector<std::vector<uint32_t>> placed;
  if (candidates.empty()) return placed;
  size_t width = std::min<size_t>(goal, candidates.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    std::vector<uint32_t> servers;
    for (size_t k = 0; k < width; ++k) servers.push_back(candidates[(i + k) % candidates.size()]);
    reserved_[ids[i]] = servers;
    placed.push_back(std::move(servers));
  }
  return placed;
}

const std::vector<uint32_t>& ChunkManager::reservedPlacement(uint64_t chunk_id) const {
  static const std::vector<uint32_t> kNone;
  auto it = reserved_.find(chunk_id);
  return it == reserved_.end() ? kNone : it->second;
}

void ChunkManager::bindReserved(uint64_t chunk_id, const std::vector<uint32_t>& written_to) {
  auto& replicas = replicas_[chunk_id];
  if (auto it = reserved_.find(chunk_id); it != reserved_.end()) {
    for (uint32_t server : it->second) linkReplica(replicas, server);
    reserved_.erase(it);
  }
  for (uint32_t server : written_to) linkReplica(replicas, server);
}

void ChunkManager::setReplicas(uint64_t chunk_id, std::vector<uint32_t> servers) {
  auto& current = replicas_[chunk_id];
  for (uint32_t server : std::vector<uint32_t>(current)) unlinkReplica(current, server);
  for (uint32_t server : servers) linkReplica(current, server);
}

const std::vector<uint32_t>& ChunkManager::replicas(uint64_t chunk_id) const {
  static const std::vector<uint32_t> kNone;
  auto it = replicas_.find(chunk_id);
  return it == replicas_.end() ? kNone : it->second;
}

std::vector<uint32_t> ChunkManager::liveReplicas(uint64_t chunk_id) const {
  std::vector<uint32_t> live;
  for (uint32_t id : replicas(chunk_id)) {
    auto it = servers_.find(id);
    if (it != servers_.end() && it->second.alive) live.push_back(id);
  }
  return live;
}

void ChunkManager::addReplica(uint64_t chunk_id, uint32_t server) {
  linkReplica(replicas_[chunk_id], server);
}

void ChunkManager::dropReplica(uint64_t chunk_id, uint32_t server) {
  auto it = replicas_.find(chunk_id);
  if (it != replicas_.end()) unlinkReplica(it->second, server);
  queueDelete(server, chunk_id);
}

void ChunkManager::forgetReplica(uint64_t chunk_id, uint32_t server) {
  auto it = replicas_.find(chunk_id);
  if (it != replicas_.end()) unlinkReplica(it->second, server);
}

bool ChunkManager::markDamaged(uint64_t chunk_id, uint32_t server) {
  auto it = replicas_.find(chunk_id);
  if (it == replicas_.end() ||
      std::find(it->second.begin(), it->second.end(), server) == it->second.end()) {
    return false;
  }
  unlinkReplica(it->second, server);
  auto& damaged = damaged_[chunk_id];
  if (std::find(damaged.begin(), damaged.end(), server) == damaged.end()) {
    damaged.push_back(server);
  }
  return true;
}

void ChunkManager::forgetDamaged(uint64_t chunk_id, uint32_t server) {
  auto it = damaged_.find(chunk_id);
  if (it == damaged_.end()) return;
  std::erase(it->second, server);
  if (it->second.empty()) damaged_.erase(it);
}

void ChunkManager::repaired(uint64_t chunk_id, uint32_t server) {
  forgetDamaged(chunk_id, server);
  addReplica(chunk_id, server);
}

void ChunkManager::dropDamaged(uint64_t chunk_id, uint32_t server) {
  forgetDamaged(chunk_id, server);
  queueDelete(server, chunk_id);
}

size_t ChunkManager::damagedCount() const {
  size_t count = 0;
  for (const auto& [chunk_id, servers] : damaged_) count += servers.size();
  return count;
}

void ChunkManager::queueDelete(uint32_t server, uint64_t chunk_id) {
  auto it = servers_.find(server);
  if (it != servers_.end()) it->second.pending_deletes.push_back(chunk_id);
}

bool ChunkManager::leaseHeld(uint64_t chunk_id, int64_t now_ms) const {
  auto it = leases_.find(chunk_id);
  return it != leases_.end() && it->second.expiry_ms > now_ms;
}

ChunkManager::RepairPlan ChunkManager::planRepairs(const Namespace& ns, uint32_t default_goal,
                                                   size_t max_copies,
                                                   const std::unordered_set<uint64_t>& busy,
                                                   int64_t now_ms) const {
  RepairPlan plan;
  std::unordered_set<uint64_t> planned;
  // Damaged replicas are rebuilt in place from a good one.
  for (const auto& [chunk_id, servers] : damaged_) {
    if (plan.copies.size() >= max_copies) break;
    if (busy.contains(chunk_id) || leaseHeld(chunk_id, now_ms)) continue;
    auto live = liveReplicas(chunk_id);
    if (live.empty()) continue;
    for (uint32_t target : servers) {
      const ChunkserverInfo* info = server(target);
      if (!info || !info->alive) continue;
      plan.copies.push_back({chunk_id, live.front(), target, /*replace_damaged=*/true});
      planned.insert(chunk_id);
      break;
    }
  }
  std::vector<std::pair<size_t, uint64_t>> below;  // (live replicas, chunk)
  for (const auto& [chunk_id, meta] : ns.chunks()) {
    if (busy.contains(chunk_id) || planned.contains(chunk_id) || leaseHeld(chunk_id, now_ms) ||
        !ns.holdsCommittedData(chunk_id)) {
      continue;
    }
    uint32_t goal = ns.chunkGoal(chunk_id, default_goal);
    auto live = liveReplicas(chunk_id);
    if (live.empty()) continue;  // nothing left to copy from: fsck reports it
    if (live.size() < goal) below.emplace_back(live.size(), chunk_id);
    if (live.size() > goal) {
      // Drop from the most loaded chunkservers.
      std::sort(live.begin(), live.end(), [&](uint32_t a, uint32_t b) {
        const auto& x = servers_.at(a);
        const auto& y = servers_.at(b);
        if (x.load() != y.load()) return x.load() > y.load();
        return x.freeBytes() != y.freeBytes() ? x.freeBytes() < y.freeBytes() : a < b;
      });
      for (size_t i = 0; i < live.size() - goal; ++i) plan.extra.emplace_back(chunk_id, live[i]);
    }
  }
  // The most endangered first: one replica left before two.
  std::sort(below.begin(), below.end());
  std::unordered_map<uint32_t, int> copies_to;  // one copy per target at a time
  for (const auto& [count, chunk_id] : below) {
    if (plan.copies.size() >= max_copies) break;
    std::vector<uint32_t> exclude = replicas(chunk_id);  // dead ones too: they may come back
    if (auto damaged = damaged_.find(chunk_id); damaged != damaged_.end()) {
      exclude.insert(exclude.end(), damaged->second.begin(), damaged->second.end());
    }
    for (const auto& [target, n] : copies_to) exclude.push_back(target);
    auto targets = place(1, exclude);
    if (targets.empty()) continue;
    copies_to[targets[0]]++;
    plan.copies.push_back({chunk_id, liveReplicas(chunk_id).front(), targets[0]});
  }
  if (plan.copies.size() < max_copies && below.empty() && damaged_.empty()) {
    planRebalance(ns, default_goal, busy, now_ms, plan);
  }
  return plan;
}

void ChunkManager::planRebalance(const Namespace& ns, uint32_t default_goal,
                                 const std::unordered_set<uint64_t>& busy, int64_t now_ms,
                                 RepairPlan& plan) const {
  const ChunkserverInfo* most = nullptr;
  const ChunkserverInfo* least = nullptr;
  for (const auto& [id, info] : servers_) {
    if (!info.alive) continue;
    if (!most || info.load() > most->load()) most = &info;
    if (info.freeBytes() >= kChunkSize && (!least || info.load() < least->load())) least = &info;
  }
  if (!most || !least || most == least || most->replica_count == 0) return;
  // Only a move that narrows the gap: afterwards the source is still at least as loaded as the
  // target, so chunks never swing back and forth.
  ChunkserverInfo source_after = *most, target_after = *least;
  source_after.replica_count--;
  target_after.replica_count++;
  if (source_after.load() < target_after.load()) return;
  for (const auto& [chunk_id, meta] : ns.chunks()) {
    if (busy.contains(chunk_id) || leaseHeld(chunk_id, now_ms) || !ns.holdsCommittedData(chunk_id)) {
      continue;
    }
    const auto& holders = replicas(chunk_id);
    if (std::find(holders.begin(), holders.end(), most->id) == holders.end() ||
        std::find(holders.begin(), holders.end(), least->id) != holders.end()) {
      continue;
    }
    if (liveReplicas(chunk_id).size() != ns.chunkGoal(chunk_id, default_goal)) continue;
    plan.copies.push_back({chunk_id, most->id, least->id, false, /*rebalance=*/true});
    return;
  }
}

void ChunkManager::release(uint64_t chunk_id, int64_t now_ms) {
  if (auto reserved = reserved_.find(chunk_id); reserved != reserved_.end()) {
    for (uint32_t id : reserved->second) {
      delayed_deletes_.push_back({now_ms + deleted_grace_ms_, id, chunk_id});
    }
    reserved_.erase(reserved);
  }
  auto it = replicas_.find(chunk_id);
  if (it != replicas_.end()) {
    for (uint32_t id : std::vector<uint32_t>(it->second)) {
      delayed_deletes_.push_back({now_ms + deleted_grace_ms_, id, chunk_id});
      unlinkReplica(it->second, id);
    }
    replicas_.erase(it);
  }
  auto damaged = damaged_.find(chunk_id);
  if (damaged != damaged_.end()) {
    for (uint32_t id : damaged->second) {
      delayed_deletes_.push_back({now_ms + deleted_grace_ms_, id, chunk_id});
    }
    damaged_.erase(damaged);
  }
  leases_.erase(chunk_id);
  releaseDue(now_ms);
}

void ChunkManager::releaseDue(int64_t now_ms) {
  while (!delayed_deletes_.empty() && delayed_deletes_.front().due_ms <= now_ms) {
    queueDelete(delayed_deletes_.front().server, delayed_deletes_.front().chunk_id);
    delayed_deletes_.pop_front();
  }
}

void ChunkManager::fillLocation(uint64_t chunk_id, uint64_t index, uint64_t version,
                                proto::ChunkLocation* location) const {
  location->set_chunk_index(index);
  location->set_chunk_id(chunk_id);
  location->set_version(version);
  for (uint32_t id : liveReplicas(chunk_id)) location->add_replicas(servers_.at(id).address);
}

const ChunkserverInfo* ChunkManager::server(uint32_t id) const {
  auto it = servers_.find(id);
  return it == servers_.end() ? nullptr : &it->second;
}

const ChunkserverInfo* ChunkManager::serverByAddress(const std::string& address) const {
  for (const auto& [id, info] : servers_) {
    if (info.address == address) return &info;
  }
  return nullptr;
}

bool ChunkManager::acquireLease(uint64_t chunk_id, uint64_t session_id, int64_t now_ms,
                                int64_t lease_ms) {
  auto& lease = leases_[chunk_id];
  if (lease.session_id != 0 && lease.session_id != session_id && lease.expiry_ms > now_ms) {
    return false;
  }
  lease.session_id = session_id;
  lease.expiry_ms = now_ms + lease_ms;
  return true;
}

bool ChunkManager::holdsLease(uint64_t chunk_id, uint64_t session_id, int64_t now_ms) const {
  auto it = leases_.find(chunk_id);
  return it != leases_.end() && it->second.session_id == session_id &&
         it->second.expiry_ms > now_ms;
}

void ChunkManager::releaseLeases(uint64_t session_id, const std::vector<uint64_t>& chunk_ids) {
  for (uint64_t id : chunk_ids) {
    auto it = leases_.find(id);
    if (it != leases_.end() && it->second.session_id == session_id) leases_.erase(it);
  }
}

void ChunkManager::releaseAllLeases(uint64_t session_id) {
  std::erase_if(leases_, [&](const auto& entry) { return entry.second.session_id == session_id; });
}

uint64_t ChunkManager::totalCapacity() const {
  uint64_t total = 0;
  for (const auto& [id, info] : servers_) {
    if (info.alive) total += info.capacity_bytes;
  }
  return total;
}

uint64_t ChunkManager::totalFree() const {
  uint64_t total = 0;
  for (const auto& [id, info] : servers_) {
    if (info.alive) total += info.freeBytes();
  }
  return total;
}

uint64_t ChunkManager::underReplicated(const Namespace& ns, uint32_t default_goal) const {
  uint64_t count = 0;
  for (const auto& [chunk_id, meta] : ns.chunks()) {
    if (liveReplicas(chunk_id).size() < ns.chunkGoal(chunk_id, default_goal) &&
        ns.holdsCommittedData(chunk_id)) {
      count++;
    }
  }
  return count;
}

}  // namespace dfs::master
