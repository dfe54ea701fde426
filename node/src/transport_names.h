// The transport vocabulary the node's pipeline speaks, under the names
// transport gives it: the node reads and writes through transport's
// connections, frames and messages, and calls them what transport does.
#pragma once

#include "weft/transport/address.h"
#include "weft/transport/chunking.h"
#include "weft/transport/connection.h"
#include "weft/transport/frame.h"
#include "weft/transport/http_request.h"
#include "weft/transport/messages.h"
#include "weft/transport/websocket_stream.h"
#include "weft/transport/wire_codec.h"

namespace weft::node {

using transport::Ack;
using transport::Connection;
using transport::ConnectionCredit;
using transport::ConnectionHost;
using transport::ConnectionOptions;
using transport::DecodeFrame;
using transport::EncodeChunks;
using transport::EncodeFrame;
using transport::ErrorCode;
using transport::FrameRef;
using transport::Hello;
using transport::HostPort;
using transport::HttpRequest;
using transport::HttpRequestReader;
using transport::IgnoreSigpipe;
using transport::Message;
using transport::MessageName;
using transport::OpBatch;
using transport::Presence;
using transport::Resolve;
using transport::Subscribe;
using transport::SyncDone;
using transport::WebSocketAccept;

}  // namespace weft::node
