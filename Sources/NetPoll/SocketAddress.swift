import NetPollTrace

#if canImport(Glibc)
  import Glibc
#endif

/// An IPv4 or IPv6 socket address, parsed from `HOST:PORT` (`127.0.0.1:8080`, `[::1]:8080`,
/// `localhost:0`). Host names other than `localhost` are not resolved: the runtime makes no DNS
/// queries behind the user's back.
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
  var storage: sockaddr_storage
  var length: socklen_t

  init(storage: sockaddr_storage, length: socklen_t) {
    self.storage = storage
    self.length = length
  }

  /// Parses `HOST:PORT`; the host is an IPv4 literal, a bracketed IPv6 literal or `localhost`.
  public init(_ text: String) throws(NetPollError) {
    var host: Substring
    let portText: Substring
    if text.hasPrefix("[") {
      guard let close = text.firstIndex(of: "]"),
        text[text.index(after: close)...].hasPrefix(":")
      else { throw .invalidAddress(text) }
      host = text[text.index(after: text.startIndex)..<close]
      portText = text[text.index(close, offsetBy: 2)...]
    } else {
      guard let colon = text.lastIndex(of: ":") else { throw .invalidAddress(text) }
      host = text[..<colon]
      portText = text[text.index(after: colon)...]
      if host.contains(":") { throw .invalidAddress(text) }  // IPv6 needs brackets
    }
    guard let port = UInt16(portText) else { throw .invalidAddress(text) }
    if host == "localhost" { host = "127.0.0.1" }
    if host.isEmpty { host = "0.0.0.0" }
    var storage = sockaddr_storage()
    var ok = false
    var length = socklen_t(0)
    withUnsafeMutableBytes(of: &storage) { raw in
      if host.contains(":") {
        let sin6 = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self)
        sin6.pointee.sin6_family = sa_family_t(AF_INET6)
        sin6.pointee.sin6_port = port.bigEndian
        ok = inet_pton(AF_INET6, String(host), &sin6.pointee.sin6_addr) == 1
        length = socklen_t(MemoryLayout<sockaddr_in6>.size)
      } else {
        let sin = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self)
        sin.pointee.sin_family = sa_family_t(AF_INET)
        sin.pointee.sin_port = port.bigEndian
        ok = inet_pton(AF_INET, String(host), &sin.pointee.sin_addr) == 1
        length = socklen_t(MemoryLayout<sockaddr_in>.size)
      }
    }
    guard ok else { throw .invalidAddress(text) }
    self.storage = storage
    self.length = length
  }

  /// AF_INET or AF_INET6.
  public var family: Int32 { Int32(storage.ss_family) }

  /// The port, in host byte order.
  public var port: UInt16 {
    withUnsafeBytes(of: storage) { raw in
      family == AF_INET6
        ? UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port)
        : UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port)
    }
  }

  /// `127.0.0.1:8080` or `[::1]:8080`.
  public var description: String {
    var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
    return withUnsafeBytes(of: storage) { raw in
      if family == AF_INET6 {
        var a = raw.load(as: sockaddr_in6.self).sin6_addr
        inet_ntop(AF_INET6, &a, &buf, socklen_t(buf.count))
        return "[\(buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })]:\(port)"
      }
      var a = raw.load(as: sockaddr_in.self).sin_addr
      inet_ntop(AF_INET, &a, &buf, socklen_t(buf.count))
      return "\(buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }):\(port)"
    }
  }

  func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
    withUnsafeBytes(of: storage) { raw in
      body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), length)
    }
  }

  /// The address packed into three trace slots (see ``TraceAddress``).
  var tracePacked: (Int64, Int64, Int64) {
    withUnsafeBytes(of: storage) { raw in
      if family == AF_INET6 {
        let a = raw.load(as: sockaddr_in6.self).sin6_addr
        let bytes = withUnsafeBytes(of: a) { b in
          (
            UInt64(bigEndian: b.loadUnaligned(as: UInt64.self)),
            UInt64(bigEndian: b.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
          )
        }
        return TraceAddress.pack(family: AF_INET6, port: port, bytes: bytes)
      }
      let a = UInt64(UInt32(bigEndian: raw.load(as: sockaddr_in.self).sin_addr.s_addr))
      return TraceAddress.pack(family: AF_INET, port: port, bytes: (a, 0))
    }
  }

  public static func == (l: SocketAddress, r: SocketAddress) -> Bool { l.description == r.description }
  public func hash(into h: inout Hasher) { h.combine(description) }
}
