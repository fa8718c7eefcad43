// An echo or HTTP/1.1 server on SwiftNIO, for tools/bench to compare `netpoll serve` against.
//
// Usage: NIOPeer --listen HOST:PORT --protocol echo|http [--threads N]
// Prints "listening on HOST:PORT" once bound, like `netpoll serve`, and runs until SIGINT/SIGTERM.
// The suite runs it with one event loop (`--threads 1`) pinned to one core, the counterpart of
// `netpoll serve --workers 1`, and with two (`--threads 2`, unpinned) in its two-core row. Child
// channels get TCP_NODELAY, as NIO's own examples set it.
import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
  import Glibc
#endif

/// Writes back every buffer it reads; flushes once per read burst.
final class EchoHandler: ChannelInboundHandler, Sendable {
  typealias InboundIn = ByteBuffer
  typealias OutboundOut = ByteBuffer

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    context.write(data, promise: nil)
  }

  func channelReadComplete(context: ChannelHandlerContext) {
    context.flush()
  }

  func errorCaught(context: ChannelHandlerContext, error: Error) {
    context.close(promise: nil)
  }
}

/// Answers every request with the same 200 response `netpoll serve --protocol http` sends.
final class HTTPHandler: ChannelInboundHandler, Sendable {
  typealias InboundIn = HTTPServerRequestPart
  typealias OutboundOut = HTTPServerResponsePart
  static let body = "Hello from netpoll\n"

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    guard case .end = Self.unwrapInboundIn(data) else { return }
    var headers = HTTPHeaders()
    headers.add(name: "Content-Type", value: "text/plain")
    headers.add(name: "Content-Length", value: String(Self.body.utf8.count))
    let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: headers)
    context.write(Self.wrapOutboundOut(.head(head)), promise: nil)
    let buffer = context.channel.allocator.buffer(string: Self.body)
    context.write(Self.wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
    context.write(Self.wrapOutboundOut(.end(nil)), promise: nil)
  }

  func channelReadComplete(context: ChannelHandlerContext) {
    context.flush()
  }

  func errorCaught(context: ChannelHandlerContext, error: Error) {
    context.close(promise: nil)
  }
}

func fail(_ message: String) -> Never {
  FileHandleStderr.write("NIOPeer: \(message)\n")
  exit(2)
}

enum FileHandleStderr {
  static func write(_ s: String) {
    var s = s
    s.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
  }
}

var listen = "127.0.0.1:0"
var proto = "echo"
var threads = 1
var args = CommandLine.arguments.dropFirst()
while let flag = args.popFirst() {
  guard let value = args.popFirst() else { fail("\(flag) needs a value") }
  switch flag {
  case "--listen": listen = value
  case "--protocol": proto = value
  case "--threads": threads = Int(value) ?? 0
  default: fail("unknown option \(flag)")
  }
}
guard threads >= 1 else { fail("--threads must be at least 1") }
guard proto == "echo" || proto == "http" else { fail("--protocol must be echo or http") }
guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]) else {
  fail("--listen must be HOST:PORT")
}
let host = String(listen[..<colon])

let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
let isHTTP = proto == "http"
let bootstrap = ServerBootstrap(group: group)
  .serverChannelOption(.backlog, value: 511)
  .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
  .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
  .childChannelInitializer { channel in
    channel.eventLoop.makeCompletedFuture {
      if isHTTP {
        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
        try channel.pipeline.syncOperations.addHandler(HTTPHandler())
      } else {
        try channel.pipeline.syncOperations.addHandler(EchoHandler())
      }
    }
  }

let channel: Channel
do {
  channel = try bootstrap.bind(host: host, port: port).wait()
} catch {
  fail("bind \(listen): \(error)")
}
let bound = channel.localAddress
print("listening on \(bound?.ipAddress ?? host):\(bound?.port ?? port)")
fflush(nil)  // nil flushes every stdio stream, stdout included

// SIGINT and SIGTERM end the process (nothing needs flushing). Set explicitly: a shell without job
// control starts background commands with SIGINT ignored, and an ignored signal stays ignored
// across exec.
signal(SIGINT) { _ in _exit(0) }
signal(SIGTERM) { _ in _exit(0) }
try channel.closeFuture.wait()
