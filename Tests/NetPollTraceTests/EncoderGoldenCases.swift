import Glibc
import NetPollTrace

/// The records the encoder's golden test encodes: every ``TraceEventKind`` with ordinary, zero,
/// all-ones and extreme values in every slot, then every name table entry by entry (errnos, ops,
/// flag bits one at a time, modes, reasons, options) and the awkward cases (addresses, an
/// `epoll_wait` with 0 and with 128 ready items, `uring_cqe` with a negative `res` and no errno).
enum EncoderGoldenCases {
  /// One line of the golden file: a record and the ready items an `epoll_wait` carries.
  struct Case {
    var record: TraceRecord
    var ready: [TraceRecord] = []
  }

  static func record(
    _ kind: TraceEventKind, seq: UInt64, ts: UInt64 = 95_210, tid: Int32 = 4712, ret: Int64 = 0,
    errno: Int32 = 0, a: Int64 = 0, b: Int64 = 0, c: Int64 = 0, d: Int64 = 0, e: Int64 = 0
  ) -> TraceRecord {
    var r = TraceRecord(kind, ret: ret, errno: errno, a: a, b: b, c: c, d: d, e: e)
    r.seq = seq
    r.ts = ts
    r.tid = tid
    return r
  }

  static func address(_ family: Int32, _ port: UInt16, _ hi: UInt64, _ lo: UInt64) -> (Int64, Int64, Int64) {
    TraceAddress.pack(family: family, port: port, bytes: (hi, lo))
  }

  static var all: [Case] {
    var cases: [Case] = []
    var seq: UInt64 = 1
    func add(_ r: TraceRecord, ready: [TraceRecord] = []) {
      cases.append(Case(record: r, ready: ready))
    }
    func next() -> UInt64 {
      defer { seq += 1 }
      return seq
    }

    // Every version-1 kind (the version-2 ones are in `snapshots`, after the golden's older
    // lines), with the same value in every slot: the encoder must not trap on any of them
    // (a uring_cqe's res of Int64.min with no errno is left out: negating it overflowed).
    let fills: [(Int64, Int32, UInt64, Int32)] = [
      (0, 0, 0, 0), (1, 11, 1, 1), (-1, 0, 7, -1), (-1, 4242, 8, 2),
      (Int64.max, Int32.max, UInt64.max, Int32.max), (Int64.min, Int32.min, UInt64.max - 1, Int32.min),
      (Int64.max, -5, 1 << 63, 0), (4096, 104, 123_456_789_012, 99_999),
    ]
    for kind in TraceEventKind.allCases where kind.rawValue <= TraceEventKind.uringOverflow.rawValue {
      for (v, errno, t, tid) in fills {
        if kind == .uringCQE && v == Int64.min && errno == 0 { continue }
        add(record(kind, seq: next(), ts: t, tid: tid, ret: v, errno: errno, a: v, b: v, c: v, d: v, e: v))
      }
    }

    // Ordinary values, as the runtime records them.
    let v4 = address(AF_INET, 8080, 0x7f00_0001, 0)
    let v6 = address(AF_INET6, 443, 0, 1)
    add(record(.epollCreate, seq: next(), ret: 3, a: 3, b: 0o2_000_000))
    add(record(.epollCtl, seq: next(), ret: 0, a: 3, b: 1, c: 9, d: 0x8000_2005, e: 3))
    add(record(.epollCtl, seq: next(), ret: -1, errno: ENOENT, a: 3, b: 2, c: 9, d: 0, e: 3))
    add(record(.read, seq: next(), ret: -1, errno: EAGAIN, a: 9, b: 4096))
    add(record(.read, seq: next(), ret: 512, a: 9, b: 4096))
    add(record(.write, seq: next(), ret: 512, a: 9, b: 512))
    add(record(.park, seq: next(), a: 2, b: 9, c: 1))
    add(record(.wake, seq: next(), a: 2, b: 9, c: 1, d: 0))
    add(record(.stale, seq: next(), a: 9, b: 3, c: -1, d: 3))
    add(record(.deadline, seq: next(), a: 9, b: 2, c: 1_000_000))
    add(record(.socket, seq: next(), ret: 7, a: 7, b: 2))
    add(record(.setsockopt, seq: next(), ret: 0, a: 7, b: 1))
    add(record(.bind, seq: next(), ret: 0, a: 7, b: v4.0, c: v4.1, d: v4.2))
    add(record(.listen, seq: next(), ret: 0, a: 7, b: 128))
    add(record(.accept, seq: next(), ret: 8, a: 7))
    add(record(.connect, seq: next(), ret: -1, errno: EINPROGRESS, a: 9, b: v6.0, c: v6.1, d: v6.2))
    add(record(.getsockopt, seq: next(), ret: 0, a: 9, b: 4, c: 111))
    add(record(.getsockname, seq: next(), ret: 0, a: 7, b: v4.0, c: v4.1, d: v4.2))
    add(record(.poll, seq: next(), ret: 1, a: 9, b: 1, c: 0x2005))
    add(record(.shutdown, seq: next(), ret: 0, a: 9, b: 1))
    add(record(.close, seq: next(), ret: 0, a: 9))
    add(record(.eventfd, seq: next(), ret: 4, a: 4))
    add(record(.uringSetup, seq: next(), a: 5, b: 256, c: 4096, d: 8 | 128 | 256, e: 0x3fff))
    add(record(.uringSetup, seq: next(), ret: -1, errno: EPERM, a: -1, b: 256, c: 4096, d: 8 | 8192, e: 0))
    add(record(.uringSQE, seq: next(), a: 6, b: 9, c: 9 | 3 << 32, d: 0))
    add(record(.uringSQE, seq: next(), a: 27, b: 9, c: 1 << 62 | 5 << 32 | 17, d: 16))
    add(record(.uringEnter, seq: next(), ret: 2, a: 5, b: 2, c: 1, d: 1 | 8, e: 15_023))
    add(record(.uringEnter, seq: next(), ret: -1, errno: 62, a: 5, b: 0, c: 1, d: 9, e: 1_000_000))
    add(record(.uringCQE, seq: next(), ret: 1, a: 9 | 3 << 32, b: 9, c: 2))
    add(record(.uringCQE, seq: next(), ret: -125, a: 9 | 3 << 32, b: 9, c: 0))
    add(record(.uringCQE, seq: next(), ret: -104, a: 1 << 62 | 17, b: 9, c: 0))
    add(record(.uringCQE, seq: next(), ret: -4242, a: 1, b: -1, c: 0))
    add(record(.uringCQE, seq: next(), ret: Int64(Int32.min) - 1, a: 1, b: -1, c: 0))
    add(record(.uringCQE, seq: next(), ret: -1, errno: EINTR, a: 1, b: -1, c: 0))
    add(record(.uringOverflow, seq: next(), a: 3, b: 1))
    add(record(.uringOverflow, seq: next(), a: 0, b: 0))

    // epoll_wait: a timeout (no items), a failure, then 128 items covering every event bit twice.
    add(record(.epollWait, seq: next(), ret: 0, a: 3, b: 128, c: 10, d: 10_000_123, e: 0))
    add(record(.epollWait, seq: next(), ret: -1, errno: EINTR, a: 3, b: 128, c: -1, d: 55, e: 0))
    let items = (0..<128).map { i in
      record(.readyItem, seq: 0, a: Int64(i) * 7 - 3, b: Int64(i) << 32 | Int64(i), c: 1 << Int64(i % 64))
    }
    add(record(.epollWait, seq: next(), ret: 128, a: 3, b: 128, c: -1, d: 14_590, e: 128), ready: items)
    let oddItems = [
      record(.readyItem, seq: 0, a: Int64.max, b: Int64.min, c: -1),
      record(.readyItem, seq: 0, a: Int64.min, b: Int64.max, c: Int64.min),
      record(.readyItem, seq: 0, a: 0, b: 0, c: 0),
      record(.readyItem, seq: 0, a: 7, b: 1, c: 0x2005 | 0x8000_0000),
    ]
    add(record(.epollWait, seq: next(), ret: 4, a: 3, b: 128, c: 0, d: 1, e: 4), ready: oddItems)

    // Addresses: IPv4 corners, IPv6 in its shortened forms, a family with no address form.
    let addresses: [(Int64, Int64, Int64)] = [
      address(AF_INET, 0, 0, 0), address(AF_INET, 65535, 0xffff_ffff, 0),
      address(AF_INET, 1, 0xffff_ffff_0a00_0001, 0xffff), address(AF_INET6, 0, 0, 0),
      address(AF_INET6, 65535, UInt64.max, UInt64.max),
      address(AF_INET6, 8080, 0x2001_0db8_0000_0000, 0x0000_0000_0000_0001),
      address(AF_INET6, 1, 0, 0x0000_ffff_0a00_0001), address(AF_INET6, 2, 0, 0x0a00_0001),
      address(AF_INET6, 3, 0xfe80_0000_0000_0000, 0x0211_22ff_fe33_4455),
      address(AF_INET6, 4, 0x0001_0000_0000_0002, 0x0000_0000_0003_0000),
      address(AF_INET6, 5, 0x0001_0002_0003_0004, 0x0005_0006_0007_0008),
      address(AF_INET6, 6, 0x0000_0001_0000_0000, 0x0001_0000_0000_0001),
      address(AF_UNIX, 80, 1, 2), address(0, 0, 0, 0), address(11, 80, 1, 2),
      (-1, -1, -1), (Int64.max, Int64.max, Int64.max),
    ]
    for (i, addr) in addresses.enumerated() {
      let kind: TraceEventKind = [.bind, .connect, .getsockname][i % 3]
      add(record(kind, seq: next(), ret: 0, a: 7, b: addr.0, c: addr.1, d: addr.2))
    }

    // Every errno the table names, its holes and a few past its end.
    for errno in Int32(0)...140 {
      add(record(.read, seq: next(), ret: errno == 0 ? 5 : -1, errno: errno, a: 9, b: 16))
    }
    // uring_cqe: res is -errno when negative.
    for res in Int64(-140)...(-1) {
      add(record(.uringCQE, seq: next(), ret: res, a: 42, b: 9, c: 0))
    }
    // Every code of the code tables, and one past.
    for op in Int64(-1)...50 {
      add(record(.uringSQE, seq: next(), a: op, b: 9, c: 9, d: 0))
    }
    for op in Int64(-1)...4 {
      add(record(.epollCtl, seq: next(), ret: 0, a: 3, b: op, c: 9, d: 1, e: 1))
    }
    for domain in [Int64(-1), 0, 1, 2, 3, 10, 11] {
      add(record(.socket, seq: next(), ret: 7, a: 7, b: domain))
    }
    for how in Int64(-1)...3 {
      add(record(.shutdown, seq: next(), ret: 0, a: 9, b: how))
    }
    for option in Int64(-1)...6 {
      add(record(.setsockopt, seq: next(), ret: 0, a: 7, b: option))
      add(record(.getsockopt, seq: next(), ret: 0, a: 7, b: option, c: option * 3))
    }
    for value in Int64(-1)...4 {
      add(record(.park, seq: next(), a: 1, b: 9, c: value))
      add(record(.wake, seq: next(), a: 1, b: 9, c: value, d: value))
      add(record(.wake, seq: next(), a: 1, b: 9, c: 1, d: value))
      add(record(.stale, seq: next(), a: 9, b: 1, c: 2, d: value))
      add(record(.deadline, seq: next(), a: 9, b: value, c: -1))
    }
    for held in [Int64(-1), 0, 1, 2] {
      add(record(.uringOverflow, seq: next(), a: 1, b: held))
    }
    // Every bit of every flag field, alone.
    for bit in Int64(0)..<64 {
      let m: Int64 = 1 << bit
      add(record(.epollCreate, seq: next(), ret: 3, a: 3, b: m))
      add(record(.epollCtl, seq: next(), ret: 0, a: 3, b: 3, c: 9, d: m, e: 2))
      add(record(.poll, seq: next(), ret: 1, a: 9, b: m, c: m | 1))
      add(record(.uringSetup, seq: next(), a: 5, b: 8, c: 16, d: m, e: m))
      add(record(.uringSQE, seq: next(), a: 6, b: 9, c: 9, d: m))
      add(record(.uringEnter, seq: next(), ret: 0, a: 5, b: 0, c: 1, d: m, e: 10))
      add(record(.uringCQE, seq: next(), ret: 4, a: 9, b: 9, c: m))
    }
    // Integers at every digit count, both signs (the formatting's edges).
    var p: UInt64 = 1
    for _ in 0..<20 {
      for v in [p - 1, p, p &+ 1] {
        let s = Int64(bitPattern: v)
        add(record(.read, seq: v, ts: v, tid: Int32(truncatingIfNeeded: v), ret: s, a: 0 &- s, b: s &- 1))
      }
      p = p &* 10
    }
    return cases
  }

  /// Version 2's flight-recorder snapshot lines. They have no `errno`, even when the record has one.
  static var snapshots: [Case] {
    var cases: [Case] = []
    var seq: UInt64 = 5000
    func add(_ r: TraceRecord) { cases.append(Case(record: r)) }
    func next() -> UInt64 {
      defer { seq += 1 }
      return seq
    }
    let fills: [(Int64, Int32)] = [(0, 0), (1, 11), (-1, 0), (Int64.max, Int32.max), (Int64.min, Int32.min)]
    for kind in [TraceEventKind.snapshotFD, .snapshotPark, .snapshotOp] {
      for (v, errno) in fills {
        add(record(kind, seq: next(), ret: v, errno: errno, a: v, b: v, c: v, d: v, e: v))
      }
    }
    add(record(.snapshotFD, seq: 0, ts: 80_112, a: 9, b: 3))
    add(record(.snapshotPark, seq: 0, ts: 80_112, a: 2, b: 9, c: 1))
    add(record(.snapshotOp, seq: 0, ts: 80_112, a: 1 << 62 | 5 << 32 | 17, b: 27, c: 9))
    for mode in Int64(-1)...4 {
      add(record(.snapshotPark, seq: next(), a: 7, b: 12, c: mode))
    }
    for op in Int64(-1)...50 {
      add(record(.snapshotOp, seq: next(), a: 1 << 62 | op, b: op, c: 12))
    }
    return cases
  }
}
