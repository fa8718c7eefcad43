import Testing

@testable import NetPollTrace

/// The flight recorder's hash table against `Dictionary`, under the churn it sees: keys that
/// come and go in the millions (short connections' tasks), clustered keys, extreme integers.
@Suite struct IntKeyedTableTests {
  @Test(
    "the same answers as Dictionary over random inserts, updates and removals",
    arguments: ["sequential task ids", "a few dozen fds", "extreme integers"])
  func matchesDictionary(_ keys: String) {
    let extremes: [Int64] = [.max, .min + 1, -1, 0, 1 << 62, (1 << 62) | 5, Int64(Int32.max)]
    func key(_ i: Int, _ rng: inout SystemRandomNumberGenerator) -> Int64 {
      switch keys {
      case "sequential task ids": Int64(i / 3)
      case "a few dozen fds": Int64.random(in: 0..<40, using: &rng)
      default: extremes.randomElement(using: &rng)!
      }
    }
    var rng = SystemRandomNumberGenerator()
    var table = IntKeyedTable<Int>()
    var model: [Int64: Int] = [:]
    for i in 0..<200_000 {
      let k = key(i, &rng)
      if Bool.random(using: &rng) {
        table[k] = i
        model[k] = i
      } else {
        table[k] = nil
        model[k] = nil
      }
      if i % 997 == 0 {
        #expect(table.count == model.count, "\(keys) after \(i) operations")
      }
      #expect(table[k] == model[k])
    }
    #expect(table.sorted().map(\.key) == model.keys.sorted())
    #expect(table.sorted().map(\.value) == model.keys.sorted().map { model[$0]! })
  }

  @Test("Int64.min, the empty marker, is never stored and reads as absent")
  func emptyMarker() {
    var table = IntKeyedTable<Int>()
    table[.min] = 1
    #expect(table[.min] == nil)
    #expect(table.count == 0)
  }

  @Test("memory follows the most keys live at once, not how many came and went")
  func boundedByLiveKeys() {
    var table = IntKeyedTable<Int>()
    for i in 0..<1_000_000 {
      table[Int64(i)] = i
      if i >= 64 { table[Int64(i - 64)] = nil }
    }
    #expect(table.count == 64)
    #expect(table.capacity <= 256)
  }
}
