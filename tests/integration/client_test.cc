// The client library (lib/client) driven directly against a real cluster: orderings a mount
// cannot produce on demand.
#include <gtest/gtest.h>

#include <future>
#include <set>

#include "lib/client/dfs_client.h"
#include "tests/integration/cluster.h"

namespace dfs::testing {
namespace {

using namespace std::chrono_literals;
using client::DfsClient;

std::unique_ptr<DfsClient> connect(const Cluster& cluster,
                                   std::chrono::microseconds changes_behind_linger = 5ms,
                                   std::chrono::microseconds commit_behind_linger = 5ms) {
  auto master = parseHostPort(cluster.masterAddress());
  EXPECT_TRUE(master.has_value());
  client::ClientOptions options;
  options.master = *master;
  options.close_behind = true;  // as the mount
  options.changes_behind = true;
  options.changes_behind_linger = changes_behind_linger;
  options.commit_behind_linger = commit_behind_linger;
  auto connected = DfsClient::connect(options);
  EXPECT_TRUE(connected.has_value()) << connected.error().toString();
  return connected ? std::move(*connected) : nullptr;
}

DfsClient::LockSpec flock(uint64_t ino, uint64_t owner) {
  DfsClient::LockSpec spec;
  spec.ino = ino;
  spec.kind = proto::LOCK_FLOCK;
  spec.type = proto::LOCK_EXCLUSIVE;
  spec.owner = owner;
  return spec;
}

// The kernel names a flock owner by the address of the open file, and reuses it: a process that
// opens and locks right after another one's last close can lock under the id whose release is
// still writing the file out. That release must not drop the new lock (two mounts' appends
// under flock once lost a line to it).
TEST(ClientTest, ALockTakenUnderTheIdOfAnOwnerStillReleasingIsNotDroppedByThatRelease) {
  Cluster cluster;
  auto client = connect(cluster, 5ms, 3s);  // a close's commit waits 3 s for company
  auto other = connect(cluster);
  ASSERT_TRUE(client && other);
  auto created = client->run(client->create(client::kRootIno, "f", 0644, 0, 0));
  ASSERT_TRUE(created.has_value()) << created.error().toString();
  uint64_t ino = created->ino();
  constexpr uint64_t kOwner = 42;
  ASSERT_TRUE(client->run(client->setLock(flock(ino, kOwner), false, 0)).has_value());
  ASSERT_TRUE(client->run(client->write(ino, 0, "under the lock")).has_value());

  // The close returns once the data is stored; its release waits for the commit, which waits
  // for company. Meanwhile the same owner id locks again.
  ASSERT_TRUE(client->run(client->flushOnClose(ino)).has_value());
  std::promise<Result<void>> released, relocked;
  client->spawn<void>(client->releaseAndUnlock(ino, {{proto::LOCK_FLOCK, kOwner}}),
                      [&](Result<void> done) { released.set_value(std::move(done)); });
  client->spawn<void>(client->setLock(flock(ino, kOwner), true, client->newWaitId()),
                      [&](Result<void> done) { relocked.set_value(std::move(done)); });
  auto relock = relocked.get_future();
  // Later only makes the check weaker.
  bool waited = relock.wait_for(1s) == std::future_status::timeout;
  EXPECT_TRUE(waited) << "the lock was taken before the release of the same owner ended";
  EXPECT_TRUE(released.get_future().get().has_value());
  ASSERT_EQ(relock.wait_for(30s), std::future_status::ready);
  EXPECT_TRUE(relock.get().has_value());

  // The new lock is held: another owner, on another client, is refused.
  auto refused = other->run(other->setLock(flock(ino, 7), false, 0));
  ASSERT_FALSE(refused.has_value()) << "the release dropped the lock taken after it";
  EXPECT_EQ(refused.error().code(), Code::kLocked);
}

// rm -rf opens each directory while the removals in the one before are still on their way: a
// listing waits for the changes behind that touch the directory or what it lists, not for all.
TEST(ClientTest, AListingWaitsOnlyForTheChangesBehindThatTouchWhatItLists) {
  Cluster cluster;
  // Changes behind go to the master only when something waits for them.
  auto client = connect(cluster, std::chrono::hours(1));
  auto observer = connect(cluster);
  ASSERT_TRUE(client && observer);
  auto mkdir = [&](const char* name) {
    auto made = client->run(client->mkdir(client::kRootIno, name, 0755, 0, 0));
    EXPECT_TRUE(made.has_value()) << made.error().toString();
    return made ? made->ino() : 0;
  };
  uint64_t a = mkdir("a");  // held by the client from the start
  uint64_t b = mkdir("b");
  ASSERT_TRUE(a && b);
  auto filesAtTheMaster = [&] {
    auto status = observer->run(observer->clusterStatus());
    EXPECT_TRUE(status.has_value());
    return status ? status->files() : 0;
  };
  // The first creates go to the master, which reserves inode numbers to the client; creates
  // answered by the client itself start once they have come.
  uint64_t files_before = 0;
  int probes = 0;
  ASSERT_TRUE(waitFor(
      [&] {
        files_before = filesAtTheMaster();
        auto probe = client->run(client->create(a, "p" + std::to_string(probes++), 0644, 0, 0));
        EXPECT_TRUE(probe.has_value());
        return filesAtTheMaster() == files_before;
      },
      10s));

  auto x = client->run(client->create(a, "x", 0644, 0, 0));  // answered by the client
  ASSERT_TRUE(x.has_value()) << x.error().toString();
  auto listed_b = client->run(client->readDir(b));
  ASSERT_TRUE(listed_b.has_value()) << listed_b.error().toString();
  EXPECT_TRUE(listed_b->empty());
  EXPECT_EQ(filesAtTheMaster(), files_before) << "the listing of b waited for a create in a";
  auto listed_a = client->run(client->readDir(a));
  ASSERT_TRUE(listed_a.has_value()) << listed_a.error().toString();
  auto names = [](const std::vector<proto::DirEntry>& entries) {
    std::set<std::string> all;
    for (const auto& entry : entries) all.insert(entry.name());
    return all;
  };
  EXPECT_EQ(listed_a->size(), probes + 1u);
  EXPECT_TRUE(names(*listed_a).contains("x"));
  EXPECT_EQ(filesAtTheMaster(), files_before + 2);  // the last probe and x

  // b lists a second link of x; the removal of the first (behind, in a) changes its link
  // count, so b's listing waits for it.
  ASSERT_TRUE(client->run(client->link(x->ino(), b, "y")).has_value());
  ASSERT_TRUE(client->run(client->unlink(a, "x")).has_value());
  listed_b = client->run(client->readDir(b));
  ASSERT_TRUE(listed_b.has_value()) << listed_b.error().toString();
  ASSERT_EQ(listed_b->size(), 1u);
  EXPECT_EQ(listed_b->front().name(), "y");
  EXPECT_EQ(listed_b->front().attr().nlink(), 1u);
  listed_a = client->run(client->readDir(a));
  ASSERT_TRUE(listed_a.has_value()) << listed_a.error().toString();
  EXPECT_EQ(listed_a->size(), static_cast<size_t>(probes));
  EXPECT_FALSE(names(*listed_a).contains("x"));
}

// rm -rf opens each directory twice in a row: a second listing of a held directory in which
// nothing changed since is the first one again, without asking the master.
TEST(ClientTest, ARepeatedListingOfAnUnchangedHeldDirectoryIsAnsweredWithoutTheMaster) {
  Cluster cluster;
  auto client = connect(cluster);
  ASSERT_TRUE(client);
  auto dir = client->run(client->mkdir(client::kRootIno, "a", 0755, 0, 0));
  ASSERT_TRUE(dir.has_value()) << dir.error().toString();
  ASSERT_TRUE(client->run(client->create(dir->ino(), "x", 0644, 0, 0)).has_value());
  auto first = client->run(client->readDir(dir->ino()));
  ASSERT_TRUE(first.has_value()) << first.error().toString();
  ASSERT_EQ(first->size(), 1u);

  cluster.pauseMaster();
  auto again =
      std::async(std::launch::async, [&] { return client->run(client->readDir(dir->ino())); });
  bool answered = again.wait_for(5s) == std::future_status::ready;
  cluster.resumeMaster();
  EXPECT_TRUE(answered) << "the repeated listing waited for the master";
  auto second = again.get();
  ASSERT_TRUE(second.has_value()) << second.error().toString();
  ASSERT_EQ(second->size(), 1u);
  EXPECT_EQ(second->front().name(), "x");

  // After a change the master lists it again.
  ASSERT_TRUE(client->run(client->unlink(dir->ino(), "x")).has_value());
  auto third = client->run(client->readDir(dir->ino()));
  ASSERT_TRUE(third.has_value()) << third.error().toString();
  EXPECT_TRUE(third->empty());
}

std::set<std::string> namesOf(const std::vector<proto::DirEntry>& entries) {
  std::set<std::string> names;
  for (const auto& entry : entries) names.insert(entry.name());
  return names;
}

// Listings of directories the client holds are kept: answered without the master, also after
// the client's own removals in them (rm -rf), until another change or another session's look.
TEST(ClientTest, ListingsOfHeldDirectoriesAreKeptThroughTheClientsOwnRemovals) {
  Cluster cluster;
  auto client = connect(cluster);
  ASSERT_TRUE(client);
  auto a = client->run(client->mkdir(client::kRootIno, "a", 0755, 0, 0));
  ASSERT_TRUE(a.has_value()) << a.error().toString();
  auto b = client->run(client->mkdir(a->ino(), "b", 0755, 0, 0));
  ASSERT_TRUE(b.has_value()) << b.error().toString();
  ASSERT_TRUE(client->run(client->mkdir(a->ino(), "c", 0755, 0, 0)).has_value());
  ASSERT_TRUE(client->run(client->create(b->ino(), "x", 0644, 0, 0)).has_value());
  ASSERT_TRUE(client->run(client->create(b->ino(), "y", 0644, 0, 0)).has_value());
  ASSERT_TRUE(client->run(client->syncMetadata()).has_value());
  auto listed_a = client->run(client->readDir(a->ino()));
  ASSERT_TRUE(listed_a.has_value()) << listed_a.error().toString();
  EXPECT_EQ(namesOf(*listed_a), (std::set<std::string>{"b", "c"}));
  auto listed_b = client->run(client->readDir(b->ino()));
  ASSERT_TRUE(listed_b.has_value()) << listed_b.error().toString();
  EXPECT_EQ(namesOf(*listed_b), (std::set<std::string>{"x", "y"}));

  struct Local {
    Result<std::vector<proto::DirEntry>> b_before, b_after, a_after;
    Result<proto::Attr> x_before, x_after;
    Result<void> removed;
  };
  cluster.pauseMaster();
  auto local = std::async(std::launch::async, [&] {
    Local seen;
    seen.b_before = client->run(client->readDir(b->ino()));
    seen.x_before = client->run(client->lookup(b->ino(), "x"));
    seen.removed = client->run(client->unlink(b->ino(), "x"));
    seen.b_after = client->run(client->readDir(b->ino()));
    seen.x_after = client->run(client->lookup(b->ino(), "x"));
    seen.a_after = client->run(client->readDir(a->ino()));
    return seen;
  });
  bool answered = local.wait_for(5s) == std::future_status::ready;
  cluster.resumeMaster();
  ASSERT_TRUE(answered) << "a listing or lookup in a held directory waited for the master";
  Local seen = local.get();
  ASSERT_TRUE(seen.b_before.has_value()) << seen.b_before.error().toString();
  EXPECT_EQ(namesOf(*seen.b_before), (std::set<std::string>{"x", "y"}));
  ASSERT_TRUE(seen.x_before.has_value()) << seen.x_before.error().toString();
  ASSERT_TRUE(seen.removed.has_value()) << seen.removed.error().toString();
  ASSERT_TRUE(seen.b_after.has_value()) << seen.b_after.error().toString();
  EXPECT_EQ(namesOf(*seen.b_after), (std::set<std::string>{"y"}));
  ASSERT_FALSE(seen.x_after.has_value());
  EXPECT_EQ(seen.x_after.error().code(), Code::kNotFound);
  // b's entry in a's listing carries b's attributes as they are now.
  ASSERT_TRUE(seen.a_after.has_value()) << seen.a_after.error().toString();
  for (const auto& entry : *seen.a_after) {
    if (entry.name() == "b") {
      EXPECT_GE(entry.attr().mtime_ns(), b->mtime_ns());
    }
  }

  // Any change made through the master (a file's mode here) is listed by the master again.
  proto::SetAttrRequest chmod;
  chmod.set_valid(proto::SET_MODE);
  chmod.set_mode(0600);
  for (const auto& entry : *seen.b_after) chmod.set_ino(entry.attr().ino());
  ASSERT_TRUE(client->run(client->setAttr(chmod)).has_value());
  auto relisted = client->run(client->readDir(b->ino()));
  ASSERT_TRUE(relisted.has_value()) << relisted.error().toString();
  ASSERT_EQ(relisted->size(), 1u);
  EXPECT_EQ(relisted->front().attr().mode() & 07777, 0600u);

  // Another session's create in b ends the hold: the listing is the master's again.
  auto other = connect(cluster);
  ASSERT_TRUE(other);
  ASSERT_TRUE(other->run(other->create(b->ino(), "z", 0644, 0, 0)).has_value());
  auto after_other = client->run(client->readDir(b->ino()));
  ASSERT_TRUE(after_other.has_value()) << after_other.error().toString();
  EXPECT_EQ(namesOf(*after_other), (std::set<std::string>{"y", "z"}));
}

}  // namespace
}  // namespace dfs::testing
