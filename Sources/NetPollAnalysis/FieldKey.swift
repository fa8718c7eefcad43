#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// The contract's field names, so a scanned line can index its members by name in O(1).
enum FieldKey: UInt8, CaseIterable {
  case addr
  case backend
  case backendNote
  case backlog
  case command
  case count
  case cqEntries
  case currentTag
  case domain
  case dropped
  case durNs
  case entries
  case epfd
  case errno
  case ev
  case events
  case fd
  case features
  case flags
  case format
  case how
  case len
  case lines
  case maxevents
  case minComplete
  case mode
  case op
  case opt
  case pid
  case ready
  case reason
  case res
  case ret
  case revents
  case ringFd
  case seq
  case source
  case tag
  case task
  case tid
  case timeoutMs
  case timeoutNs
  case toSubmit
  case trigger
  case ts
  case userData
  case value
  case version
  case wall
  case window
  case windowSeq
  case windowTs

  /// The name as written in a trace.
  var name: String {
    switch self {
    case .addr: "addr"
    case .backend: "backend"
    case .backendNote: "backend_note"
    case .backlog: "backlog"
    case .command: "command"
    case .count: "count"
    case .cqEntries: "cq_entries"
    case .currentTag: "current_tag"
    case .domain: "domain"
    case .dropped: "dropped"
    case .durNs: "dur_ns"
    case .entries: "entries"
    case .epfd: "epfd"
    case .errno: "errno"
    case .ev: "ev"
    case .events: "events"
    case .fd: "fd"
    case .features: "features"
    case .flags: "flags"
    case .format: "format"
    case .how: "how"
    case .len: "len"
    case .lines: "lines"
    case .maxevents: "maxevents"
    case .minComplete: "min_complete"
    case .mode: "mode"
    case .op: "op"
    case .opt: "opt"
    case .pid: "pid"
    case .ready: "ready"
    case .reason: "reason"
    case .res: "res"
    case .ret: "ret"
    case .revents: "revents"
    case .ringFd: "ring_fd"
    case .seq: "seq"
    case .source: "source"
    case .tag: "tag"
    case .task: "task"
    case .tid: "tid"
    case .timeoutMs: "timeout_ms"
    case .timeoutNs: "timeout_ns"
    case .toSubmit: "to_submit"
    case .trigger: "trigger"
    case .ts: "ts"
    case .userData: "user_data"
    case .value: "value"
    case .version: "version"
    case .wall: "wall"
    case .window: "window"
    case .windowSeq: "window_seq"
    case .windowTs: "window_ts"
    }
  }

  /// The key whose name is the `count` bytes at `p`, or `nil` for a field the tools do not read.
  static func match(_ p: UnsafePointer<UInt8>, count: Int) -> FieldKey? {
    switch count {
    case 5 where memcmp(p, "lines", 5) == 0: return .lines
    case 6 where memcmp(p, "source", 6) == 0: return .source
    case 6 where memcmp(p, "window", 6) == 0: return .window
    case 7 where memcmp(p, "trigger", 7) == 0: return .trigger
    case 9 where memcmp(p, "window_ts", 9) == 0: return .windowTs
    case 10 where memcmp(p, "window_seq", 10) == 0: return .windowSeq
    case 2:
      if p[0] == 0x65 && p[1] == 0x76 { return .ev }
      if p[0] == 0x66 && p[1] == 0x64 { return .fd }
      if p[0] == 0x6f && p[1] == 0x70 { return .op }
      if p[0] == 0x74 && p[1] == 0x73 { return .ts }
    case 3:
      if p[0] == 0x68 && p[1] == 0x6f && p[2] == 0x77 { return .how }
      if p[0] == 0x6c && p[1] == 0x65 && p[2] == 0x6e { return .len }
      if p[0] == 0x6f && p[1] == 0x70 && p[2] == 0x74 { return .opt }
      if p[0] == 0x70 && p[1] == 0x69 && p[2] == 0x64 { return .pid }
      if p[0] == 0x72 && p[1] == 0x65 && p[2] == 0x73 { return .res }
      if p[0] == 0x72 && p[1] == 0x65 && p[2] == 0x74 { return .ret }
      if p[0] == 0x73 && p[1] == 0x65 && p[2] == 0x71 { return .seq }
      if p[0] == 0x74 && p[1] == 0x61 && p[2] == 0x67 { return .tag }
      if p[0] == 0x74 && p[1] == 0x69 && p[2] == 0x64 { return .tid }
    case 4:
      if p[0] == 0x61 && p[1] == 0x64 && p[2] == 0x64 && p[3] == 0x72 { return .addr }
      if p[0] == 0x65 && p[1] == 0x70 && p[2] == 0x66 && p[3] == 0x64 { return .epfd }
      if p[0] == 0x6d && p[1] == 0x6f && p[2] == 0x64 && p[3] == 0x65 { return .mode }
      if p[0] == 0x74 && p[1] == 0x61 && p[2] == 0x73 && p[3] == 0x6b { return .task }
      if p[0] == 0x77 && p[1] == 0x61 && p[2] == 0x6c && p[3] == 0x6c { return .wall }
    case 5:
      if p[0] == 0x63 && p[1] == 0x6f && p[2] == 0x75 && p[3] == 0x6e && p[4] == 0x74 { return .count }
      if p[0] == 0x65 && p[1] == 0x72 && p[2] == 0x72 && p[3] == 0x6e && p[4] == 0x6f { return .errno }
      if p[0] == 0x66 && p[1] == 0x6c && p[2] == 0x61 && p[3] == 0x67 && p[4] == 0x73 { return .flags }
      if p[0] == 0x72 && p[1] == 0x65 && p[2] == 0x61 && p[3] == 0x64 && p[4] == 0x79 { return .ready }
      if p[0] == 0x76 && p[1] == 0x61 && p[2] == 0x6c && p[3] == 0x75 && p[4] == 0x65 { return .value }
    case 6:
      if p[0] == 0x64 && p[1] == 0x6f && p[2] == 0x6d && p[3] == 0x61 && p[4] == 0x69 && p[5] == 0x6e {
        return .domain
      }
      if p[0] == 0x64 && p[1] == 0x75 && p[2] == 0x72 && p[3] == 0x5f && p[4] == 0x6e && p[5] == 0x73 {
        return .durNs
      }
      if p[0] == 0x65 && p[1] == 0x76 && p[2] == 0x65 && p[3] == 0x6e && p[4] == 0x74 && p[5] == 0x73 {
        return .events
      }
      if p[0] == 0x66 && p[1] == 0x6f && p[2] == 0x72 && p[3] == 0x6d && p[4] == 0x61 && p[5] == 0x74 {
        return .format
      }
      if p[0] == 0x72 && p[1] == 0x65 && p[2] == 0x61 && p[3] == 0x73 && p[4] == 0x6f && p[5] == 0x6e {
        return .reason
      }
    case 7:
      if p[0] == 0x72 && p[1] == 0x65 && p[2] == 0x76 && p[3] == 0x65 && p[4] == 0x6e && p[5] == 0x74
        && p[6] == 0x73
      {
        return .revents
      }
      if p[0] == 0x62 && p[1] == 0x61 && p[2] == 0x63 && p[3] == 0x6b && p[4] == 0x65 && p[5] == 0x6e
        && p[6] == 0x64
      {
        return .backend
      }
      if p[0] == 0x62 && p[1] == 0x61 && p[2] == 0x63 && p[3] == 0x6b && p[4] == 0x6c && p[5] == 0x6f
        && p[6] == 0x67
      {
        return .backlog
      }
      if p[0] == 0x63 && p[1] == 0x6f && p[2] == 0x6d && p[3] == 0x6d && p[4] == 0x61 && p[5] == 0x6e
        && p[6] == 0x64
      {
        return .command
      }
      if p[0] == 0x64 && p[1] == 0x72 && p[2] == 0x6f && p[3] == 0x70 && p[4] == 0x70 && p[5] == 0x65
        && p[6] == 0x64
      {
        return .dropped
      }
      if p[0] == 0x65 && p[1] == 0x6e && p[2] == 0x74 && p[3] == 0x72 && p[4] == 0x69 && p[5] == 0x65
        && p[6] == 0x73
      {
        return .entries
      }
      if p[0] == 0x72 && p[1] == 0x69 && p[2] == 0x6e && p[3] == 0x67 && p[4] == 0x5f && p[5] == 0x66
        && p[6] == 0x64
      {
        return .ringFd
      }
      if p[0] == 0x76 && p[1] == 0x65 && p[2] == 0x72 && p[3] == 0x73 && p[4] == 0x69 && p[5] == 0x6f
        && p[6] == 0x6e
      {
        return .version
      }
    case 8:
      if p[0] == 0x66 && p[1] == 0x65 && p[2] == 0x61 && p[3] == 0x74 && p[4] == 0x75 && p[5] == 0x72
        && p[6] == 0x65 && p[7] == 0x73
      {
        return .features
      }
    case 9:
      if p[0] == 0x6d && p[1] == 0x61 && p[2] == 0x78 && p[3] == 0x65 && p[4] == 0x76 && p[5] == 0x65
        && p[6] == 0x6e && p[7] == 0x74 && p[8] == 0x73
      {
        return .maxevents
      }
      if p[0] == 0x74 && p[1] == 0x6f && p[2] == 0x5f && p[3] == 0x73 && p[4] == 0x75 && p[5] == 0x62
        && p[6] == 0x6d && p[7] == 0x69 && p[8] == 0x74
      {
        return .toSubmit
      }
      if p[0] == 0x75 && p[1] == 0x73 && p[2] == 0x65 && p[3] == 0x72 && p[4] == 0x5f && p[5] == 0x64
        && p[6] == 0x61 && p[7] == 0x74 && p[8] == 0x61
      {
        return .userData
      }
    case 10:
      if p[0] == 0x63 && p[1] == 0x71 && p[2] == 0x5f && p[3] == 0x65 && p[4] == 0x6e && p[5] == 0x74
        && p[6] == 0x72 && p[7] == 0x69 && p[8] == 0x65 && p[9] == 0x73
      {
        return .cqEntries
      }
      if p[0] == 0x74 && p[1] == 0x69 && p[2] == 0x6d && p[3] == 0x65 && p[4] == 0x6f && p[5] == 0x75
        && p[6] == 0x74 && p[7] == 0x5f && p[8] == 0x6d && p[9] == 0x73
      {
        return .timeoutMs
      }
      if p[0] == 0x74 && p[1] == 0x69 && p[2] == 0x6d && p[3] == 0x65 && p[4] == 0x6f && p[5] == 0x75
        && p[6] == 0x74 && p[7] == 0x5f && p[8] == 0x6e && p[9] == 0x73
      {
        return .timeoutNs
      }
    case 11:
      if p[0] == 0x63 && p[1] == 0x75 && p[2] == 0x72 && p[3] == 0x72 && p[4] == 0x65 && p[5] == 0x6e
        && p[6] == 0x74 && p[7] == 0x5f && p[8] == 0x74 && p[9] == 0x61 && p[10] == 0x67
      {
        return .currentTag
      }
    case 12:
      if p[0] == 0x62 && p[1] == 0x61 && p[2] == 0x63 && p[3] == 0x6b && p[4] == 0x65 && p[5] == 0x6e
        && p[6] == 0x64 && p[7] == 0x5f && p[8] == 0x6e && p[9] == 0x6f && p[10] == 0x74 && p[11] == 0x65
      {
        return .backendNote
      }
      if p[0] == 0x6d && p[1] == 0x69 && p[2] == 0x6e && p[3] == 0x5f && p[4] == 0x63 && p[5] == 0x6f
        && p[6] == 0x6d && p[7] == 0x70 && p[8] == 0x6c && p[9] == 0x65 && p[10] == 0x74 && p[11] == 0x65
      {
        return .minComplete
      }
    default: break
    }
    return nil
  }
}
