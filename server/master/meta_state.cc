#include "server/master/meta_state.h"

#include <algorithm>

#include "lib/base/clock.h"

namespace dfs::master {

Result<ApplyOutcome> MetaState::apply(const proto::MetaRecord& record) {
  Result<ApplyOutcome> outcome;
  switch (record.op_case()) {
    case proto::MetaRecord::kOpenSession: {
      const auto& op = record.open_session();
      sessions_.add(op.session_id(), op.host(), op.pid(), op.mount_point(), monoNowMs());
      outcome = ApplyOutcome{};
      break;
    }
    case proto::MetaRecord::kCloseSession:
      sessions_.close(record.close_session().session_id());
      answered_.erase(record.close_session().session_id());
      outcome = ApplyOutcome{};
      break;
    default:
      outcome = ns_.apply(record);
      if (!outcome) break;
      if (record.has_reserve_inodes()) {
        const auto& op = record.reserve_inodes();
        sessions_.reserveInodes(op.session_id(), op.first(), op.first() + op.count());
      } else if (record.has_reserve_chunks()) {
        const auto& op = record.reserve_chunks();
        for (uint64_t id : sessions_.reserveChunks(op.session_id(), op.first(),
                                                   op.first() + op.count())) {
          outcome->freed_chunks.push_back(id);
        }
      } else if (record.has_commit_write() && record.commit_write().reserved_chunk_id() != 0) {
        for (uint64_t id : sessions_.useReservedChunk(record.session_id(),
                                                      record.commit_write().reserved_chunk_id())) {
          outcome->freed_chunks.push_back(id);
        }
      } else if (record.has_create_inode() && record.create_inode().reserved()) {
        sessions_.useReserved(record.session_id(), record.create_inode().ino());
      }
  }
  if (!outcome) return outcome;
  last_time_ns_ = std::max(last_time_ns_, record.time_ns());
  if (record.session_id() != 0 && record.request_id() != 0) {
    auto& answers = answered_[record.session_id()];
    answers[record.request_id()] = outcome->ino;
    if (answers.size() > kAnswersPerSession) answers.erase(answers.begin());
  }
  return outcome;
}

void MetaState::restore(CheckpointState checkpoint, int64_t now_ms) {
  ns_ = std::move(*checkpoint.ns);
  sessions_.restoreNextId(checkpoint.next_session_id);
  for (const auto& session : checkpoint.sessions) {
    sessions_.add(session.id(), session.host(), session.pid(), session.mount_point(), now_ms);
    for (const auto& range : session.reserved_inodes()) {
      sessions_.reserveInodes(session.id(), range.next(), range.end());
    }
    for (const auto& range : session.reserved_chunks()) {
      (void)sessions_.reserveChunks(session.id(), range.next(), range.end());
    }
    for (const auto& call : session.applied_calls()) {
      answered_[session.id()][call.request_id()] = call.ino();
    }
  }
}

std::string MetaState::encodeCheckpoint(uint64_t seq) const {
  return master::encodeCheckpoint(ns_, sessions_, seq, &answered_);
}

std::optional<uint64_t> MetaState::answerTo(uint64_t session_id, uint64_t request_id) const {
  if (session_id == 0 || request_id == 0) return std::nullopt;
  auto session = answered_.find(session_id);
  if (session == answered_.end()) return std::nullopt;
  auto answer = session->second.find(request_id);
  if (answer == session->second.end()) return std::nullopt;
  return answer->second;
}

}  // namespace dfs::master
