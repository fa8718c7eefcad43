#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// The `ev` names of versions 1 and 2, matched from raw bytes without building a `String`.
enum EventName: UInt8, CaseIterable {
  case traceStart
  case traceEnd
  case epollCreate
  case epollCtl
  case epollWait
  case park
  case wake
  case stale
  case deadline
  case socket
  case setsockopt
  case bind
  case listen
  case accept
  case connect
  case getsockopt
  case getsockname
  case read
  case write
  case poll
  case shutdown
  case close
  case eventfd
  case uringSetup
  case uringSqe
  case uringEnter
  case uringCqe
  case uringOverflow
  case snapshotFd
  case snapshotPark
  case snapshotOp

  /// The name as written in a trace.
  var name: String {
    switch self {
    case .traceStart: "trace_start"
    case .traceEnd: "trace_end"
    case .epollCreate: "epoll_create"
    case .epollCtl: "epoll_ctl"
    case .epollWait: "epoll_wait"
    case .park: "park"
    case .wake: "wake"
    case .stale: "stale"
    case .deadline: "deadline"
    case .socket: "socket"
    case .setsockopt: "setsockopt"
    case .bind: "bind"
    case .listen: "listen"
    case .accept: "accept"
    case .connect: "connect"
    case .getsockopt: "getsockopt"
    case .getsockname: "getsockname"
    case .read: "read"
    case .write: "write"
    case .poll: "poll"
    case .shutdown: "shutdown"
    case .close: "close"
    case .eventfd: "eventfd"
    case .uringSetup: "uring_setup"
    case .uringSqe: "uring_sqe"
    case .uringEnter: "uring_enter"
    case .uringCqe: "uring_cqe"
    case .uringOverflow: "uring_overflow"
    case .snapshotFd: "snapshot_fd"
    case .snapshotPark: "snapshot_park"
    case .snapshotOp: "snapshot_op"
    }
  }

  /// The event whose name is the `count` bytes at `p`, or `nil` for an unknown event.
  static func match(_ p: UnsafePointer<UInt8>, count: Int) -> EventName? {
    switch count {
    case 11 where memcmp(p, "snapshot_fd", 11) == 0: return .snapshotFd
    case 11 where memcmp(p, "snapshot_op", 11) == 0: return .snapshotOp
    case 13 where memcmp(p, "snapshot_park", 13) == 0: return .snapshotPark
    case 4:
      if p[0] == 0x70 && p[1] == 0x61 && p[2] == 0x72 && p[3] == 0x6b { return .park }
      if p[0] == 0x77 && p[1] == 0x61 && p[2] == 0x6b && p[3] == 0x65 { return .wake }
      if p[0] == 0x62 && p[1] == 0x69 && p[2] == 0x6e && p[3] == 0x64 { return .bind }
      if p[0] == 0x72 && p[1] == 0x65 && p[2] == 0x61 && p[3] == 0x64 { return .read }
      if p[0] == 0x70 && p[1] == 0x6f && p[2] == 0x6c && p[3] == 0x6c { return .poll }
    case 5:
      if p[0] == 0x73 && p[1] == 0x74 && p[2] == 0x61 && p[3] == 0x6c && p[4] == 0x65 { return .stale }
      if p[0] == 0x77 && p[1] == 0x72 && p[2] == 0x69 && p[3] == 0x74 && p[4] == 0x65 { return .write }
      if p[0] == 0x63 && p[1] == 0x6c && p[2] == 0x6f && p[3] == 0x73 && p[4] == 0x65 { return .close }
    case 6:
      if p[0] == 0x73 && p[1] == 0x6f && p[2] == 0x63 && p[3] == 0x6b && p[4] == 0x65 && p[5] == 0x74 {
        return .socket
      }
      if p[0] == 0x6c && p[1] == 0x69 && p[2] == 0x73 && p[3] == 0x74 && p[4] == 0x65 && p[5] == 0x6e {
        return .listen
      }
      if p[0] == 0x61 && p[1] == 0x63 && p[2] == 0x63 && p[3] == 0x65 && p[4] == 0x70 && p[5] == 0x74 {
        return .accept
      }
    case 7:
      if p[0] == 0x63 && p[1] == 0x6f && p[2] == 0x6e && p[3] == 0x6e && p[4] == 0x65 && p[5] == 0x63
        && p[6] == 0x74
      {
        return .connect
      }
      if p[0] == 0x65 && p[1] == 0x76 && p[2] == 0x65 && p[3] == 0x6e && p[4] == 0x74 && p[5] == 0x66
        && p[6] == 0x64
      {
        return .eventfd
      }
    case 8:
      if p[0] == 0x64 && p[1] == 0x65 && p[2] == 0x61 && p[3] == 0x64 && p[4] == 0x6c && p[5] == 0x69
        && p[6] == 0x6e && p[7] == 0x65
      {
        return .deadline
      }
      if p[0] == 0x73 && p[1] == 0x68 && p[2] == 0x75 && p[3] == 0x74 && p[4] == 0x64 && p[5] == 0x6f
        && p[6] == 0x77 && p[7] == 0x6e
      {
        return .shutdown
      }
    case 9:
      if p[0] == 0x74 && p[1] == 0x72 && p[2] == 0x61 && p[3] == 0x63 && p[4] == 0x65 && p[5] == 0x5f
        && p[6] == 0x65 && p[7] == 0x6e && p[8] == 0x64
      {
        return .traceEnd
      }
      if p[0] == 0x65 && p[1] == 0x70 && p[2] == 0x6f && p[3] == 0x6c && p[4] == 0x6c && p[5] == 0x5f
        && p[6] == 0x63 && p[7] == 0x74 && p[8] == 0x6c
      {
        return .epollCtl
      }
      if p[0] == 0x75 && p[1] == 0x72 && p[2] == 0x69 && p[3] == 0x6e && p[4] == 0x67 && p[5] == 0x5f
        && p[6] == 0x73 && p[7] == 0x71 && p[8] == 0x65
      {
        return .uringSqe
      }
      if p[0] == 0x75 && p[1] == 0x72 && p[2] == 0x69 && p[3] == 0x6e && p[4] == 0x67 && p[5] == 0x5f
        && p[6] == 0x63 && p[7] == 0x71 && p[8] == 0x65
      {
        return .uringCqe
      }
    case 10:
      if p[0] == 0x65 && p[1] == 0x70 && p[2] == 0x6f && p[3] == 0x6c && p[4] == 0x6c && p[5] == 0x5f
        && p[6] == 0x77 && p[7] == 0x61 && p[8] == 0x69 && p[9] == 0x74
      {
        return .epollWait
      }
      if p[0] == 0x73 && p[1] == 0x65 && p[2] == 0x74 && p[3] == 0x73 && p[4] == 0x6f && p[5] == 0x63
        && p[6] == 0x6b && p[7] == 0x6f && p[8] == 0x70 && p[9] == 0x74
      {
        return .setsockopt
      }
      if p[0] == 0x67 && p[1] == 0x65 && p[2] == 0x74 && p[3] == 0x73 && p[4] == 0x6f && p[5] == 0x63
        && p[6] == 0x6b && p[7] == 0x6f && p[8] == 0x70 && p[9] == 0x74
      {
        return .getsockopt
      }
    case 11:
      if p[0] == 0x74 && p[1] == 0x72 && p[2] == 0x61 && p[3] == 0x63 && p[4] == 0x65 && p[5] == 0x5f
        && p[6] == 0x73 && p[7] == 0x74 && p[8] == 0x61 && p[9] == 0x72 && p[10] == 0x74
      {
        return .traceStart
      }
      if p[0] == 0x75 && p[1] == 0x72 && p[2] == 0x69 && p[3] == 0x6e && p[4] == 0x67 && p[5] == 0x5f
        && p[6] == 0x73 && p[7] == 0x65 && p[8] == 0x74 && p[9] == 0x75 && p[10] == 0x70
      {
        return .uringSetup
      }
      if p[0] == 0x75 && p[1] == 0x72 && p[2] == 0x69 && p[3] == 0x6e && p[4] == 0x67 && p[5] == 0x5f
        && p[6] == 0x65 && p[7] == 0x6e && p[8] == 0x74 && p[9] == 0x65 && p[10] == 0x72
      {
        return .uringEnter
      }
      if p[0] == 0x67 && p[1] == 0x65 && p[2] == 0x74 && p[3] == 0x73 && p[4] == 0x6f && p[5] == 0x63
        && p[6] == 0x6b && p[7] == 0x6e && p[8] == 0x61 && p[9] == 0x6d && p[10] == 0x65
      {
        return .getsockname
      }
    case 12:
      if p[0] == 0x65 && p[1] == 0x70 && p[2] == 0x6f && p[3] == 0x6c && p[4] == 0x6c && p[5] == 0x5f
        && p[6] == 0x63 && p[7] == 0x72 && p[8] == 0x65 && p[9] == 0x61 && p[10] == 0x74 && p[11] == 0x65
      {
        return .epollCreate
      }
    case 14:
      if p[0] == 0x75 && p[1] == 0x72 && p[2] == 0x69 && p[3] == 0x6e && p[4] == 0x67 && p[5] == 0x5f
        && p[6] == 0x6f && p[7] == 0x76 && p[8] == 0x65 && p[9] == 0x72 && p[10] == 0x66 && p[11] == 0x6c
        && p[12] == 0x6f && p[13] == 0x77
      {
        return .uringOverflow
      }
    default: break
    }
    return nil
  }
}
