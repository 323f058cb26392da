// Precompiled for every target that uses the RPC layer: Asio headers dominate compile time.
#pragma once
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <google/protobuf/message.h>
