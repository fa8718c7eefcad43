/// Names the trace contract uses for kernel bit masks and codes ("EPOLLIN", not 1), as the
/// runtime's recorder writes them (docs/trace-format.md).
enum KernelNames {
  static let epollEvents: [(Int64, String)] = [
    (0x001, "EPOLLIN"), (0x002, "EPOLLPRI"), (0x004, "EPOLLOUT"), (0x008, "EPOLLERR"),
    (0x010, "EPOLLHUP"), (0x040, "EPOLLRDNORM"), (0x080, "EPOLLRDBAND"), (0x100, "EPOLLWRNORM"),
    (0x200, "EPOLLWRBAND"), (0x2000, "EPOLLRDHUP"), (1 << 28, "EPOLLEXCLUSIVE"),
    (1 << 29, "EPOLLWAKEUP"), (1 << 30, "EPOLLONESHOT"), (1 << 31, "EPOLLET"),
  ]
  static let epollCreateFlags: [(Int64, String)] = [(0o2_000_000, "EPOLL_CLOEXEC")]
  static let epollOps: [Int64: String] = [1: "ADD", 2: "DEL", 3: "MOD"]
  static let domains: [Int64: String] = [1: "AF_UNIX", 2: "AF_INET", 10: "AF_INET6", 16: "AF_NETLINK"]

  static let uringOps: [Int64: String] = [
    0: "NOP", 1: "READV", 2: "WRITEV", 3: "FSYNC", 4: "READ_FIXED", 5: "WRITE_FIXED",
    6: "POLL_ADD", 7: "POLL_REMOVE", 8: "SYNC_FILE_RANGE", 9: "SENDMSG", 10: "RECVMSG",
    11: "TIMEOUT", 12: "TIMEOUT_REMOVE", 13: "ACCEPT", 14: "ASYNC_CANCEL", 15: "LINK_TIMEOUT",
    16: "CONNECT", 17: "FALLOCATE", 18: "OPENAT", 19: "CLOSE", 20: "FILES_UPDATE",
    21: "STATX", 22: "READ", 23: "WRITE", 24: "FADVISE", 25: "MADVISE", 26: "SEND", 27: "RECV",
    28: "OPENAT2", 29: "EPOLL_CTL", 30: "SPLICE", 31: "PROVIDE_BUFFERS", 32: "REMOVE_BUFFERS",
    33: "TEE", 34: "SHUTDOWN", 35: "RENAMEAT", 36: "UNLINKAT", 37: "MKDIRAT", 38: "SYMLINKAT",
    39: "LINKAT", 40: "MSG_RING", 41: "FSETXATTR", 42: "SETXATTR", 43: "FGETXATTR",
    44: "GETXATTR", 45: "SOCKET", 46: "URING_CMD", 47: "SEND_ZC", 48: "SENDMSG_ZC",
    49: "READ_MULTISHOT", 50: "WAITID", 51: "FUTEX_WAIT", 52: "FUTEX_WAKE", 53: "FUTEX_WAITV",
    54: "FIXED_FD_INSTALL", 55: "FTRUNCATE", 56: "BIND", 57: "LISTEN", 58: "RECV_ZC",
    59: "EPOLL_WAIT", 60: "READV_FIXED", 61: "WRITEV_FIXED", 62: "PIPE",
  ]
  static let uringSQEFlags: [(Int64, String)] = [
    (1, "FIXED_FILE"), (2, "IO_DRAIN"), (4, "IO_LINK"), (8, "IO_HARDLINK"), (16, "ASYNC"),
    (32, "BUFFER_SELECT"), (64, "CQE_SKIP_SUCCESS"),
  ]
  static let uringCQEFlags: [(Int64, String)] = [
    (1, "BUFFER"), (2, "MORE"), (4, "SOCK_NONEMPTY"), (8, "NOTIF"),
  ]
  static let uringEnterFlags: [(Int64, String)] = [
    (1, "GETEVENTS"), (2, "SQ_WAKEUP"), (4, "SQ_WAIT"), (8, "EXT_ARG"), (16, "REGISTERED_RING"),
  ]
  static let uringSetupFlags: [(Int64, String)] = [
    (1, "IOPOLL"), (2, "SQPOLL"), (4, "SQ_AFF"), (8, "CQSIZE"), (16, "CLAMP"),
    (32, "ATTACH_WQ"), (64, "R_DISABLED"), (128, "SUBMIT_ALL"), (256, "COOP_TASKRUN"),
    (512, "TASKRUN_FLAG"), (1024, "SQE128"), (2048, "CQE32"), (4096, "SINGLE_ISSUER"),
    (8192, "DEFER_TASKRUN"), (16384, "NO_MMAP"), (32768, "REGISTERED_FD_ONLY"), (65536, "NO_SQARRAY"),
  ]
  static let uringFeatures: [(Int64, String)] = [
    (1, "SINGLE_MMAP"), (2, "NODROP"), (4, "SUBMIT_STABLE"), (8, "RW_CUR_POS"),
    (16, "CUR_PERSONALITY"), (32, "FAST_POLL"), (64, "POLL_32BITS"), (128, "SQPOLL_NONFIXED"),
    (256, "EXT_ARG"), (512, "NATIVE_WORKERS"), (1024, "RSRC_TAGS"), (2048, "CQE_SKIP"),
    (4096, "LINKED_FILE"), (8192, "REG_REG_RING"), (16384, "RECVSEND_BUNDLE"),
    (32768, "MIN_TIMEOUT"), (65536, "RW_ATTR"), (131072, "NO_IOWAIT"),
  ]
}
