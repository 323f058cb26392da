// Attribute changes that may wait for a file's next commit. A program that writes a file often
// sets its times, owner and mode before it closes it (tar does all three for every file); while
// this client holds uncommitted writes of the file, the master learns its size and mtime only at
// the commit anyway, so such changes can travel with that commit instead of costing a round
// trip each. Only changes that cannot let anyone in earlier than the master says may wait: a
// mode that adds permissions (never one that removes any), an owner or group that stays the
// same, and times. Anything else goes to the master at once.
#pragma once

#include <cstdint>
#include <optional>

#include "proto/master.pb.h"

namespace dfs::client {

// The attributes after request, if request may wait for the commit of a file whose current
// attributes are current; nullopt if it must go to the master now. *_NOW times become now_ns.
std::optional<proto::Attr> applyDeferrable(const proto::Attr& current,
                                           const proto::SetAttrRequest& request, int64_t now_ns);

}  // namespace dfs::client
