#include "lib/base/address.h"

#include <gtest/gtest.h>

namespace dfs {
namespace {

TEST(AddressTest, ParsesHostAndPort) {
  auto parsed = parseHostPort("127.0.0.1:9600");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->host, "127.0.0.1");
  EXPECT_EQ(parsed->port, 9600);
  EXPECT_EQ(parsed->toString(), "127.0.0.1:9600");
  EXPECT_EQ(parseHostPort("[::1]:80")->host, "::1");
}

TEST(AddressTest, RejectsMalformedAddresses) {
  EXPECT_FALSE(parseHostPort("127.0.0.1"));
  EXPECT_FALSE(parseHostPort(":80"));
  EXPECT_FALSE(parseHostPort("h:"));
  EXPECT_FALSE(parseHostPort("h:70000"));
  EXPECT_FALSE(parseHostPort("h:12x"));
  EXPECT_FALSE(parseHostPort("h:0"));
  EXPECT_TRUE(parseHostPort("h:0", /*allow_zero_port=*/true));
}

}  // namespace
}  // namespace dfs
