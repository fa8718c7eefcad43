/// Turns ``TraceRecord``s into JSON lines (docs/trace-format.md). Runs on the writer thread only;
/// the recording threads never see it. It still matters: on a one-core server the writer competes
/// with the runtime.
///
/// One line is written straight into ``out`` through a ``ByteCursor``: room for the longest
/// possible line is reserved once, then each kind writes its keys as one literal per run of
/// constant bytes (`,"ev":"read","fd":`), integers two digits at a time and names from
/// `StaticString` tables. Nothing is allocated and no `String` is built per event.
/// `netpoll-bench encoder` measures it; see ``encode(batch:)`` for the figures.
package struct JSONLineEncoder {
  /// The encoded lines, appended to; the writer empties it after each write.
  package let out = OutputBytes()

  /// Room reserved for one line other than its ready items. The longest line the golden test
  /// encodes (a `uring_setup` with every flag and feature bit set, extreme integers) is under
  /// half of it; the test checks that margin.
  package static let maxLineBytes = 2048
  /// Room reserved for each `epoll_wait` ready item (the longest is under half of it).
  package static let maxReadyItemBytes = 512

  package init() {}

  /// Encodes a batch as the writer drains it from the ring: one line per record, each
  /// `epoll_wait` taking the ``TraceEventKind/readyItem`` records that follow it. Returns the
  /// number of lines. An item count running past the batch is cut at its end.
  ///
  /// `netpoll-bench encoder --seconds 2` (release build), 5 runs alternating with the encoder this
  /// one replaced, on a 2-core machine shared with other builds (load 8), medians: echo mix
  /// 52 ns per line, 2,015 MB/s (before: 1,152 ns, 93 MB/s); uring-completion mix 44 ns per line,
  /// 2,705 MB/s (before: 1,294 ns, 92 MB/s).
  package mutating func encode(batch: UnsafeBufferPointer<TraceRecord>) -> Int {
    var i = 0
    var lines = 0
    while i < batch.count {
      let r = batch[i]
      let items = r.kind == .epollWait ? Int(clamping: max(0, min(r.e, Int64(batch.count - i - 1)))) : 0
      encode(r, ready: UnsafeBufferPointer(rebasing: batch[(i + 1)..<(i + 1 + items)]))
      i += 1 + items
      lines += 1
    }
    return lines
  }

  /// Encodes one record; `ready` holds the ready items that followed an `epoll_wait`.
  package mutating func encode<Items: Collection<TraceRecord>>(_ r: TraceRecord, ready: Items) {
    let start = out.reserve(Self.maxLineBytes + ready.count * Self.maxReadyItemBytes)
    var w = ByteCursor(start)
    w.header(seq: r.seq, ts: r.ts, tid: r.tid)
    switch r.kind {
    case .read:
      w.put(",\"ev\":\"read\",\"fd\":")
      w.int(r.a)
      w.put(",\"len\":")
      w.int(r.b)
      w.put(",\"ret\":")
      w.int(r.ret)
    case .write:
      w.put(",\"ev\":\"write\",\"fd\":")
      w.int(r.a)
      w.put(",\"len\":")
      w.int(r.b)
      w.put(",\"ret\":")
      w.int(r.ret)
    case .park:
      w.put(",\"ev\":\"park\",\"task\":")
      w.int(r.a)
      w.put(",\"fd\":")
      w.int(r.b)
      w.put(",\"mode\":")
      w.mode(r.c)
    case .wake:
      w.put(",\"ev\":\"wake\",\"task\":")
      w.int(r.a)
      w.put(",\"fd\":")
      w.int(r.b)
      w.put(",\"mode\":")
      w.mode(r.c)
      w.put(",\"reason\":")
      w.quoted(TraceWakeReason(rawValue: r.d)?.name ?? "?")
    case .epollWait:
      w.put(",\"ev\":\"epoll_wait\",\"epfd\":")
      w.int(r.a)
      w.put(",\"maxevents\":")
      w.int(r.b)
      w.put(",\"timeout_ms\":")
      w.int(r.c)
      w.put(",\"ret\":")
      w.int(r.ret)
      w.put(",\"dur_ns\":")
      w.int(r.d)
      w.put(",\"ready\":[")
      var first = true
      for item in ready {
        if first { first = false } else { w.byte(UInt8(ascii: ",")) }
        w.put("{\"fd\":")
        w.int(item.a)
        w.put(",\"tag\":")
        w.int(item.b)
        w.put(",\"events\":")
        w.names(item.c, .epollEvents)
        w.byte(UInt8(ascii: "}"))
      }
      w.byte(UInt8(ascii: "]"))
    case .epollCtl:
      w.put(",\"ev\":\"epoll_ctl\",\"epfd\":")
      w.int(r.a)
      w.put(",\"op\":")
      w.code(r.b, CodeNames.epollOp(r.b))
      w.put(",\"fd\":")
      w.int(r.c)
      w.put(",\"events\":")
      w.names(r.d, .epollEvents)
      w.put(",\"tag\":")
      w.int(r.e)
      w.put(",\"ret\":")
      w.int(r.ret)
    case .uringSQE:
      w.put(",\"ev\":\"uring_sqe\",\"op\":")
      w.code(r.a, CodeNames.uringOp(r.a))
      w.put(",\"fd\":")
      w.int(r.b)
      w.put(",\"user_data\":")
      w.int(r.c)
      w.put(",\"flags\":")
      w.names(r.d, .uringSQEFlags)
    case .uringEnter:
      w.put(",\"ev\":\"uring_enter\",\"ring_fd\":")
      w.int(r.a)
      w.put(",\"to_submit\":")
      w.int(r.b)
      w.put(",\"min_complete\":")
      w.int(r.c)
      w.put(",\"flags\":")
      w.names(r.d, .uringEnterFlags)
      w.put(",\"ret\":")
      w.int(r.ret)
      w.put(",\"dur_ns\":")
      w.int(r.e)
    case .uringCQE:
      w.put(",\"ev\":\"uring_cqe\",\"user_data\":")
      w.int(r.a)
      w.put(",\"res\":")
      w.int(r.ret)
      w.put(",\"flags\":")
      w.names(r.c, .uringCQEFlags)
      w.put(",\"fd\":")
      w.int(r.b)
      if r.errno == 0 && r.ret < 0 {  // a failed operation's res is -errno: name it
        w.errno(Int32(truncatingIfNeeded: 0 &- r.ret))
      }
    case .readyItem:
      w.put(",\"ev\":\"ready\",\"fd\":")
      w.int(r.a)
    case .stale:
      w.put(",\"ev\":\"stale\",\"fd\":")
      w.int(r.a)
      w.put(",\"tag\":")
      w.int(r.b)
      w.put(",\"current_tag\":")
      w.int(r.c)
      w.put(",\"mode\":")
      w.mode(r.d)
    case .deadline:
      w.put(",\"ev\":\"deadline\",\"fd\":")
      w.int(r.a)
      w.put(",\"mode\":")
      w.mode(r.b)
      w.put(",\"timeout_ns\":")
      w.int(r.c)
    case .socket:
      w.put(",\"ev\":\"socket\",\"fd\":")
      w.int(r.ret)
      w.put(",\"domain\":")
      w.code(r.b, CodeNames.domain(r.b))
      w.put(",\"ret\":")
      w.int(r.ret)
    case .setsockopt:
      w.put(",\"ev\":\"setsockopt\",\"fd\":")
      w.int(r.a)
      w.put(",\"opt\":")
      w.code(r.b, TraceSocketOption(rawValue: r.b)?.name)
      w.put(",\"ret\":")
      w.int(r.ret)
    case .bind:
      w.put(",\"ev\":\"bind\",\"fd\":")
      w.int(r.a)
      w.put(",\"addr\":")
      w.address(r.b, r.c, r.d)
      w.put(",\"ret\":")
      w.int(r.ret)
    case .connect:
      w.put(",\"ev\":\"connect\",\"fd\":")
      w.int(r.a)
      w.put(",\"addr\":")
      w.address(r.b, r.c, r.d)
      w.put(",\"ret\":")
      w.int(r.ret)
    case .getsockname:
      w.put(",\"ev\":\"getsockname\",\"fd\":")
      w.int(r.a)
      w.put(",\"addr\":")
      w.address(r.b, r.c, r.d)
      w.put(",\"ret\":")
      w.int(r.ret)
    case .listen:
      w.put(",\"ev\":\"listen\",\"fd\":")
      w.int(r.a)
      w.put(",\"backlog\":")
      w.int(r.b)
      w.put(",\"ret\":")
      w.int(r.ret)
    case .accept:
      w.put(",\"ev\":\"accept\",\"fd\":")
      w.int(r.a)
      w.put(",\"ret\":")
      w.int(r.ret)
    case .close:
      w.put(",\"ev\":\"close\",\"fd\":")
      w.int(r.a)
      w.put(",\"ret\":")
      w.int(r.ret)
    case .getsockopt:
      w.put(",\"ev\":\"getsockopt\",\"fd\":")
      w.int(r.a)
      w.put(",\"opt\":")
      w.code(r.b, TraceSocketOption(rawValue: r.b)?.name)
      w.put(",\"value\":")
      w.int(r.c)
      w.put(",\"ret\":")
      w.int(r.ret)
    case .poll:
      w.put(",\"ev\":\"poll\",\"fd\":")
      w.int(r.a)
      w.put(",\"events\":")
      w.names(r.b, .pollEvents)
      w.put(",\"revents\":")
      w.names(r.c, .pollEvents)
      w.put(",\"ret\":")
      w.int(r.ret)
    case .shutdown:
      w.put(",\"ev\":\"shutdown\",\"fd\":")
      w.int(r.a)
      w.put(",\"how\":")
      w.code(r.b, CodeNames.shutdownHow(r.b))
      w.put(",\"ret\":")
      w.int(r.ret)
    case .eventfd:
      w.put(",\"ev\":\"eventfd\",\"fd\":")
      w.int(r.ret)
      w.put(",\"ret\":")
      w.int(r.ret)
    case .epollCreate:
      w.put(",\"ev\":\"epoll_create\",\"epfd\":")
      w.int(r.ret)
      w.put(",\"flags\":")
      w.names(r.b, .epollCreateFlags)
      w.put(",\"ret\":")
      w.int(r.ret)
    case .uringSetup:
      w.put(",\"ev\":\"uring_setup\",\"ring_fd\":")
      w.int(r.a)
      w.put(",\"entries\":")
      w.int(r.b)
      w.put(",\"cq_entries\":")
      w.int(r.c)
      w.put(",\"flags\":")
      w.names(r.d, .uringSetupFlags)
      w.put(",\"features\":")
      w.names(r.e, .uringFeatures)
    case .uringOverflow:
      w.put(",\"ev\":\"uring_overflow\",\"count\":")
      w.int(r.a)
      if r.b != 0 { w.put(",\"held_back\":true") } else { w.put(",\"held_back\":false") }
    case .snapshotFD:
      w.put(",\"ev\":\"snapshot_fd\",\"fd\":")
      w.int(r.a)
      w.put(",\"tag\":")
      w.int(r.b)
      w.put("}\n")
      out.commit(w.p - start)
      return  // a snapshot states what was, it has no errno
    case .snapshotPark:
      w.put(",\"ev\":\"snapshot_park\",\"task\":")
      w.int(r.a)
      w.put(",\"fd\":")
      w.int(r.b)
      w.put(",\"mode\":")
      w.mode(r.c)
      w.put("}\n")
      out.commit(w.p - start)
      return
    case .snapshotOp:
      w.put(",\"ev\":\"snapshot_op\",\"user_data\":")
      w.int(r.a)
      w.put(",\"op\":")
      w.code(r.b, CodeNames.uringOp(r.b))
      w.put(",\"fd\":")
      w.int(r.c)
      w.put("}\n")
      out.commit(w.p - start)
      return
    }
    if r.errno != 0 { w.errno(r.errno) }
    w.put("}\n")
    out.commit(w.p - start)
  }
}
