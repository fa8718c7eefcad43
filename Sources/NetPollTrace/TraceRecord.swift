/// One recorded event: a fixed-size value copied into the recorder's ring, never allocated.
///
/// The meaning of `ret` and `a` … `e` depends on ``kind``; see ``TraceEventKind``.
public struct TraceRecord: Sendable {
  /// Position in the trace (`seq`); ``TraceEventKind/readyItem`` records share their header's.
  public var seq: UInt64 = 0
  /// Nanoseconds of CLOCK_MONOTONIC since the recorder started (`ts`).
  public var ts: UInt64 = 0
  public var ret: Int64 = 0
  public var a: Int64 = 0
  public var b: Int64 = 0
  public var c: Int64 = 0
  public var d: Int64 = 0
  public var e: Int64 = 0
  /// OS thread id of the recording thread (`tid`).
  public var tid: Int32 = 0
  /// The errno of a failed call, 0 when it succeeded.
  public var errno: Int32 = 0
  public var kind: TraceEventKind

  @inlinable
  public init(
    _ kind: TraceEventKind, ret: Int64 = 0, errno: Int32 = 0,
    a: Int64 = 0, b: Int64 = 0, c: Int64 = 0, d: Int64 = 0, e: Int64 = 0
  ) {
    self.kind = kind
    self.ret = ret
    self.errno = errno
    self.a = a
    self.b = b
    self.c = c
    self.d = d
    self.e = e
  }
}

/// A socket address packed into three integer slots of a ``TraceRecord``, so that `bind` and
/// `connect` can be recorded without allocating a string.
public enum TraceAddress {
  /// Packs an IPv4 (`family` AF_INET, 4 bytes) or IPv6 (AF_INET6, 16 bytes) address.
  @inlinable
  public static func pack(family: Int32, port: UInt16, bytes: (UInt64, UInt64)) -> (
    Int64, Int64, Int64
  ) {
    (Int64(family) << 16 | Int64(port), Int64(bitPattern: bytes.0), Int64(bitPattern: bytes.1))
  }
}

extension TraceRecord {
  /// The ready items recorded right after this header (an `epoll_wait`'s `e`), which travel with
  /// it through the rings, the merger and the flight recorder's block. For records the recorder
  /// wrote; the encoder clamps a count read from a batch it was handed.
  @inline(__always)
  var readyItemCount: Int { kind == .epollWait ? Int(e) : 0 }
}
