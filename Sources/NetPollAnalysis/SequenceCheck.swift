/// `a + b`, clamped to `Int`'s range (both come from a hostile file).
func saturatingAdd(_ a: Int, _ b: Int) -> Int {
  let (sum, overflow) = a.addingReportingOverflow(b)
  return overflow ? (b > 0 ? .max : .min) : sum
}

/// Checks that `seq` counts up by one, reporting each wrong line once.
///
/// A line whose `seq` is not the expected one is held until the next line tells what happened: the
/// next line continues from the expected value (this line's `seq` is wrong: one `seq-wrong`, or
/// `seq-backwards` when it is lower than expected), it is
/// the expected value and this one its successor (two lines swapped: one `seq-backwards`, nothing
/// lost), or it follows this line (a real jump: one `seq-gap` with the events lost, or one
/// `seq-backwards`). Then the count resynchronises. All arithmetic saturates.
struct SequenceCheck {
  /// The `seq` the next line should have; `nil` before `start`.
  private var expected: Int?
  /// A line whose `seq` was not the expected one, waiting for the next line.
  private var held: (line: Int, seq: Int)?
  /// Events lost, from the gaps seen (saturating).
  private(set) var lost = 0

  mutating func start(firstSeq: Int) { expected = firstSeq }

  mutating func check(line: Int, seq: Int, report: (Int, ReplayViolation.Kind, String) -> Void) {
    guard let want = expected else {
      expected = successor(seq)
      return
    }
    guard let suspect = held else {
      if seq == want {
        expected = successor(seq)
      } else {
        held = (line, seq)
      }
      return
    }
    held = nil
    if seq == successor(want) {
      report(
        suspect.line, suspect.seq < want ? .seqBackwards : .seqWrong,
        "seq \(suspect.seq) where \(want) was expected (line \(line) goes on from \(want): this line's seq is wrong)"
      )
      expected = successor(seq)
    } else if seq == want && suspect.seq == successor(want) {
      report(
        line, .seqBackwards,
        "seq \(seq) follows seq \(suspect.seq) (line \(suspect.line)): the two lines are swapped, nothing was lost"
      )
      expected = successor(suspect.seq)
    } else if seq == want {
      report(
        suspect.line, suspect.seq < want ? .seqBackwards : .seqWrong,
        "seq \(suspect.seq) where \(want) was expected (line \(line) has \(want): this line's seq is wrong)")
      expected = successor(seq)
    } else {
      jump(line: suspect.line, from: want, to: suspect.seq, report: report)
      expected = successor(suspect.seq)
      if seq != successor(suspect.seq) {
        check(line: line, seq: seq, report: report)
      } else {
        expected = successor(seq)
      }
    }
  }

  /// Reports a line still held at the end of the trace.
  mutating func finish(report: (Int, ReplayViolation.Kind, String) -> Void) {
    guard let suspect = held, let want = expected else { return }
    held = nil
    jump(line: suspect.line, from: want, to: suspect.seq, report: report)
  }

  private mutating func jump(
    line: Int, from want: Int, to seq: Int, report: (Int, ReplayViolation.Kind, String) -> Void
  ) {
    if seq > want {
      // Both are non-negative, so the difference fits.
      let missing = seq - want
      lost = saturatingAdd(lost, missing)
      report(line, .seqGap, "seq jumps from \(want - 1) to \(seq): \(missing) events lost")
    } else {
      report(line, .seqBackwards, "seq \(seq) where \(want) was expected: seq went backwards")
    }
  }

  private func successor(_ seq: Int) -> Int { seq == .max ? .max : seq + 1 }
}
