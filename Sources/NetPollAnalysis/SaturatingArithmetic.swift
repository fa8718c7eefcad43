/// Arithmetic on values read from a trace, which are hostile (STYLE.md habit 14): any Int64 the
/// reader accepts may reach these, so a sum or difference clamps to Int's range instead of
/// trapping, and a Double becomes an Int without trapping.
extension Int {
  /// `self + other`, clamped to `Int.min...Int.max`.
  @inline(__always)
  func saturatingAdding(_ other: Int) -> Int {
    let (sum, overflow) = addingReportingOverflow(other)
    return overflow ? (other > 0 ? .max : .min) : sum
  }

  /// `self - other`, clamped to `Int.min...Int.max`.
  @inline(__always)
  func saturatingSubtracting(_ other: Int) -> Int {
    let (difference, overflow) = subtractingReportingOverflow(other)
    return overflow ? (other < 0 ? .max : .min) : difference
  }

  /// `value` rounded toward zero and clamped to Int's range (NaN is 0).
  init(saturating value: Double) {
    if value.isNaN {
      self = 0
    } else if value >= 9_223_372_036_854_775_808.0 {  // 2^63, the first Double past Int.max
      self = .max
    } else if value <= -9_223_372_036_854_775_808 {
      self = .min
    } else {
      self = Int(value)
    }
  }
}
