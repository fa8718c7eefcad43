/// Bit masks and codes written as names, per the trace contract ("EPOLLIN", not 1).
///
/// Each table is a `switch` returning a `StaticString`: the compiler makes it a constant table, so
/// naming a value costs a lookup, with no `String`, `Dictionary` or lazy global on the writer's
/// path. A mask's names are listed in bit order (lowest first); bits without a name are written
/// after them as one hex string ("0x40000").
enum FlagTable {
  /// `epoll_ctl.events`, `epoll_wait.ready[].events` (EPOLL*).
  case epollEvents
  /// `poll.events` and `poll.revents` (POLL*).
  case pollEvents
  /// `epoll_create.flags`.
  case epollCreateFlags
  /// `uring_sqe.flags` (IOSQE_*).
  case uringSQEFlags
  /// `uring_cqe.flags` (IORING_CQE_F_*).
  case uringCQEFlags
  /// `uring_enter.flags` (IORING_ENTER_*).
  case uringEnterFlags
  /// `uring_setup.flags` (IORING_SETUP_*).
  case uringSetupFlags
  /// `uring_setup.features` (IORING_FEAT_*).
  case uringFeatures

  /// The bits that have a name.
  var namedBits: UInt64 {
    switch self {
    case .epollEvents: 0xc000_201f
    case .pollEvents: 0x203f
    case .epollCreateFlags: 0x80000
    case .uringSQEFlags: 0x7f
    case .uringCQEFlags: 0xf
    case .uringEnterFlags: 0x1f
    case .uringSetupFlags: 0x3fff
    case .uringFeatures: 0x3ffff
    }
  }

  /// The name of bit number `bit`, which must be one of ``namedBits``.
  @inline(__always)
  func name(bit: Int) -> StaticString {
    switch self {
    case .epollEvents:
      switch bit {
      case 0: "EPOLLIN"
      case 1: "EPOLLPRI"
      case 2: "EPOLLOUT"
      case 3: "EPOLLERR"
      case 4: "EPOLLHUP"
      case 13: "EPOLLRDHUP"
      case 30: "EPOLLONESHOT"
      case 31: "EPOLLET"
      default: "?"
      }
    case .pollEvents:
      switch bit {
      case 0: "POLLIN"
      case 1: "POLLPRI"
      case 2: "POLLOUT"
      case 3: "POLLERR"
      case 4: "POLLHUP"
      case 5: "POLLNVAL"
      case 13: "POLLRDHUP"
      default: "?"
      }
    case .epollCreateFlags:
      switch bit {
      case 19: "EPOLL_CLOEXEC"
      default: "?"
      }
    case .uringSQEFlags:
      switch bit {
      case 0: "FIXED_FILE"
      case 1: "IO_DRAIN"
      case 2: "IO_LINK"
      case 3: "IO_HARDLINK"
      case 4: "ASYNC"
      case 5: "BUFFER_SELECT"
      case 6: "CQE_SKIP_SUCCESS"
      default: "?"
      }
    case .uringCQEFlags:
      switch bit {
      case 0: "BUFFER"
      case 1: "MORE"
      case 2: "SOCK_NONEMPTY"
      case 3: "NOTIF"
      default: "?"
      }
    case .uringEnterFlags:
      switch bit {
      case 0: "GETEVENTS"
      case 1: "SQ_WAKEUP"
      case 2: "SQ_WAIT"
      case 3: "EXT_ARG"
      case 4: "REGISTERED_RING"
      default: "?"
      }
    case .uringSetupFlags:
      switch bit {
      case 0: "IOPOLL"
      case 1: "SQPOLL"
      case 2: "SQ_AFF"
      case 3: "CQSIZE"
      case 4: "CLAMP"
      case 5: "ATTACH_WQ"
      case 6: "R_DISABLED"
      case 7: "SUBMIT_ALL"
      case 8: "COOP_TASKRUN"
      case 9: "TASKRUN_FLAG"
      case 10: "SQE128"
      case 11: "CQE32"
      case 12: "SINGLE_ISSUER"
      case 13: "DEFER_TASKRUN"
      default: "?"
      }
    case .uringFeatures:
      switch bit {
      case 0: "SINGLE_MMAP"
      case 1: "NODROP"
      case 2: "SUBMIT_STABLE"
      case 3: "RW_CUR_POS"
      case 4: "CUR_PERSONALITY"
      case 5: "FAST_POLL"
      case 6: "POLL_32BITS"
      case 7: "SQPOLL_NONFIXED"
      case 8: "EXT_ARG"
      case 9: "NATIVE_WORKERS"
      case 10: "RSRC_TAGS"
      case 11: "CQE_SKIP"
      case 12: "LINKED_FILE"
      case 13: "REG_REG_RING"
      case 14: "RECVSEND_BUNDLE"
      case 15: "MIN_TIMEOUT"
      case 16: "RW_ATTR"
      case 17: "NO_IOWAIT"
      default: "?"
      }
    }
  }
}

/// Codes written as names; `nil` for a code without one (the trace then shows the number as a
/// string, `"op":"99"`).
enum CodeNames {
  /// `epoll_ctl.op` (EPOLL_CTL_*).
  static func epollOp(_ code: Int64) -> StaticString? {
    switch code {
    case 1: "ADD"
    case 2: "DEL"
    case 3: "MOD"
    default: nil
    }
  }

  /// `socket.domain` (AF_*).
  static func domain(_ code: Int64) -> StaticString? {
    switch code {
    case 1: "AF_UNIX"
    case 2: "AF_INET"
    case 10: "AF_INET6"
    default: nil
    }
  }

  /// `shutdown.how` (SHUT_*).
  static func shutdownHow(_ code: Int64) -> StaticString? {
    switch code {
    case 0: "SHUT_RD"
    case 1: "SHUT_WR"
    case 2: "SHUT_RDWR"
    default: nil
    }
  }

  /// `uring_sqe.op` and `snapshot_op.op` (IORING_OP_*, without the prefix).
  static func uringOp(_ code: Int64) -> StaticString? {
    switch code {
    case 0: "NOP"
    case 1: "READV"
    case 2: "WRITEV"
    case 3: "FSYNC"
    case 4: "READ_FIXED"
    case 5: "WRITE_FIXED"
    case 6: "POLL_ADD"
    case 7: "POLL_REMOVE"
    case 8: "SYNC_FILE_RANGE"
    case 9: "SENDMSG"
    case 10: "RECVMSG"
    case 11: "TIMEOUT"
    case 12: "TIMEOUT_REMOVE"
    case 13: "ACCEPT"
    case 14: "ASYNC_CANCEL"
    case 15: "LINK_TIMEOUT"
    case 16: "CONNECT"
    case 17: "FALLOCATE"
    case 18: "OPENAT"
    case 19: "CLOSE"
    case 20: "FILES_UPDATE"
    case 21: "STATX"
    case 22: "READ"
    case 23: "WRITE"
    case 24: "FADVISE"
    case 25: "MADVISE"
    case 26: "SEND"
    case 27: "RECV"
    case 28: "OPENAT2"
    case 29: "EPOLL_CTL"
    case 30: "SPLICE"
    case 31: "PROVIDE_BUFFERS"
    case 32: "REMOVE_BUFFERS"
    case 33: "TEE"
    case 34: "SHUTDOWN"
    case 35: "RENAMEAT"
    case 36: "UNLINKAT"
    case 37: "MKDIRAT"
    case 38: "SYMLINKAT"
    case 39: "LINKAT"
    case 40: "MSG_RING"
    case 41: "FSETXATTR"
    case 42: "SETXATTR"
    case 43: "FGETXATTR"
    case 44: "GETXATTR"
    case 45: "SOCKET"
    case 46: "URING_CMD"
    case 47: "SEND_ZC"
    case 48: "SENDMSG_ZC"
    default: nil
    }
  }
}
