import NetPoll

/// Serves one HTTP/1.1 connection: answers each request with a fixed 200 response, keeps the
/// connection alive unless asked not to, and refuses request heads over 16 KiB with 431.
///
/// The idle timeout bounds the time from the end of one request (or the connection's start) to
/// the end of the next request's head, so a client that trickles a head in a byte at a time is
/// cut as surely as one that sends nothing (slowloris).
struct HTTPHandler {
  let connection: TCPConnection
  let idleTimeout: Duration?
  let writeTimeout: Duration?
  static let maxHead = 16 * 1024
  static let body = "Hello from netpoll\n"
  static let ok = Array(
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)
  static let tooLarge = Array(
    "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
  static let badRequest = Array(
    "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)

  func run() async {
    let capacity = Self.maxHead + 4096
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
    defer { buffer.deallocate() }
    var filled = 0
    var bodyToSkip = 0
    var newRequest = true  // the next read starts a request: arm the deadline afresh
    do {
      while true {
        if let idleTimeout, newRequest || bodyToSkip > 0 {
          connection.setReadDeadline(after: idleTimeout)
          newRequest = false
        }
        let n = try await connection.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
        if n == 0 { return }
        filled += n
        // Answer every complete request in the buffer (pipelining works too).
        while true {
          if bodyToSkip > 0 {
            let skip = min(bodyToSkip, filled)
            shift(buffer, by: skip, filled: &filled)
            bodyToSkip -= skip
            if bodyToSkip > 0 { break }
          }
          guard let end = headEnd(buffer, filled) else {
            if filled >= Self.maxHead {
              try await reply(Self.tooLarge)
              return
            }
            break
          }
          if end > Self.maxHead {
            try await reply(Self.tooLarge)
            return
          }
          guard let head = RequestHead(UnsafeRawBufferPointer(rebasing: buffer[0..<end])) else {
            try await reply(Self.badRequest)
            return
          }
          try await reply(Self.ok)
          newRequest = true
          shift(buffer, by: end, filled: &filled)
          bodyToSkip = head.contentLength
          if head.close { return }
        }
      }
    } catch {
      return
    }
  }

  private func reply(_ bytes: [UInt8]) async throws(NetPollError) {
    if let writeTimeout { connection.setWriteDeadline(after: writeTimeout) }
    try await connection.write(bytes)
  }

  /// The length of the head including its blank line, if the buffer holds a whole one.
  private func headEnd(_ b: UnsafeMutableRawBufferPointer, _ filled: Int) -> Int? {
    guard filled >= 4 else { return nil }
    for i in 3..<filled where b[i] == 10 && b[i - 1] == 13 && b[i - 2] == 10 && b[i - 3] == 13 {
      return i + 1
    }
    return nil
  }

  private func shift(_ b: UnsafeMutableRawBufferPointer, by count: Int, filled: inout Int) {
    if count < filled {
      b.baseAddress!.copyMemory(from: b.baseAddress! + count, byteCount: filled - count)
    }
    filled -= count
  }
}

/// What the server needs from a request head: whether to close, and how much body to skip.
struct RequestHead {
  var close = false
  var contentLength = 0

  init?(_ bytes: UnsafeRawBufferPointer) {
    let text = String(decoding: bytes, as: UTF8.self)
    var lines = text.split(separator: "\r\n", omittingEmptySubsequences: true)
    guard let requestLine = lines.first, requestLine.split(separator: " ").count == 3 else { return nil }
    if requestLine.hasSuffix("HTTP/1.0") { close = true }
    lines.removeFirst()
    for line in lines {
      guard let colon = line.firstIndex(of: ":") else { return nil }
      let name = line[..<colon].lowercased()
      let value = line[line.index(after: colon)...].trimmingPrefix(" ")
      if name == "connection" {
        let v = value.lowercased()
        if v == "close" { close = true } else if v == "keep-alive" { close = false }
      } else if name == "content-length" {
        guard let length = Int(value), length >= 0 else { return nil }
        contentLength = length
      }
    }
  }
}
