/// The runtime's state as the events seen so far leave it: registered fds with their tags,
/// parked tasks, io_uring operations in flight. The flight recorder keeps the one all events so
/// far lead to (which also times park→wake for the latency trigger) and a copy at the start of
/// each eighth of its block (a dump's snapshot). It is bounded by live state, never by the
/// number of events, and it reads only what the runtime records (docs/trace-format.md).
struct WindowState {
  /// fd → tag of its registration (`epoll_ctl` ADD, or an armed readiness `POLL_ADD`).
  private(set) var registered = IntKeyedTable<Int64>()
  /// task → (fd, mode, park ts).
  private(set) var parked = IntKeyedTable<(fd: Int64, mode: Int64, ts: UInt64)>()
  /// Completion-mode operations in flight: user_data → (opcode, fd).
  private(set) var operations = IntKeyedTable<(op: Int64, fd: Int64)>()

  static let epollCtlAdd: Int64 = 1
  static let epollCtlDel: Int64 = 2
  static let pollAdd: Int64 = 6  // IORING_OP_POLL_ADD
  static let cqeMore: Int64 = 2  // IORING_CQE_F_MORE
  /// Bit 62 marks a completion-mode operation's user_data (docs/trace-format.md).
  static let operationBit: Int64 = 1 << 62

  /// Applies one event (a header record; ready items change nothing).
  mutating func apply(_ r: TraceRecord) {
    switch r.kind {
    case .epollCtl where r.ret == 0:
      if r.b == Self.epollCtlAdd { registered[r.c] = r.e }
      if r.b == Self.epollCtlDel { registered[r.c] = nil }
    case .close:
      registered[r.a] = nil
    case .uringSQE:
      if r.c & Self.operationBit != 0 {
        operations[r.c] = (r.a, r.b)
      } else if r.a == Self.pollAdd && r.c >> 32 != 0 {
        registered[r.c & 0xffff_ffff] = r.c >> 32
      }
    case .uringCQE where r.c & Self.cqeMore == 0:
      if r.a & Self.operationBit != 0 {
        operations[r.a] = nil
      } else if r.a >> 32 != 0, registered[r.a & 0xffff_ffff] == r.a >> 32 {
        // A readiness poll's final completion: it is no longer armed (the runtime re-arms it
        // with a new POLL_ADD, which registers it again).
        registered[r.a & 0xffff_ffff] = nil
      }
    case .park:
      parked[r.a] = (r.b, r.c, r.ts)
    case .wake:
      parked[r.a] = nil
    default:
      break
    }
  }

  /// The park→wake latency a `wake` record ends, from the matching park (nil if unknown).
  func wakeLatency(_ wake: TraceRecord) -> UInt64? {
    guard wake.kind == .wake, let p = parked[wake.a], wake.ts >= p.ts else { return nil }
    return wake.ts - p.ts
  }

  /// The snapshot records describing this state (`seq` 0, `ts` given), in a stable order.
  func snapshot(ts: UInt64, tid: Int32) -> [TraceRecord] {
    var out: [TraceRecord] = []
    for (fd, tag) in registered.sorted() {
      out.append(TraceRecord(.snapshotFD, a: fd, b: tag))
    }
    for (task, p) in parked.sorted() {
      out.append(TraceRecord(.snapshotPark, a: task, b: p.fd, c: p.mode))
    }
    for (data, op) in operations.sorted() {
      out.append(TraceRecord(.snapshotOp, a: data, b: op.op, c: op.fd))
    }
    for i in out.indices {
      out[i].ts = ts
      out[i].tid = tid
    }
    return out
  }
}
