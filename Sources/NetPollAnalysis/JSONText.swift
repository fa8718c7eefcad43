/// A JSON value for the tools' machine-readable output; objects keep their key order, so the same
/// figures always print the same bytes.
public indirect enum JSONValue: Sendable, Equatable {
  case null
  case bool(Bool)
  case int(Int)
  case double(Double)
  case string(String)
  case array([JSONValue])
  case object([(String, JSONValue)])

  public static func == (a: JSONValue, b: JSONValue) -> Bool { a.text() == b.text() }

  /// Compact or indented JSON text.
  public func text(indent: Bool = false) -> String {
    var out = ""
    write(into: &out, indent: indent ? 0 : nil)
    return out
  }

  private func write(into out: inout String, indent: Int?) {
    let newline = indent.map { "\n" + String(repeating: "  ", count: $0 + 1) } ?? ""
    let closing = indent.map { "\n" + String(repeating: "  ", count: $0) } ?? ""
    let inner = indent.map { $0 + 1 }
    switch self {
    case .null: out += "null"
    case .bool(let b): out += b ? "true" : "false"
    case .int(let i): out += String(i)
    case .double(let d): out += jsonNumber(d)
    case .string(let s): out += jsonQuoted(s)
    case .array(let items):
      if items.isEmpty {
        out += "[]"
        return
      }
      out += "["
      for (i, item) in items.enumerated() {
        if i > 0 { out += "," }
        out += newline
        item.write(into: &out, indent: inner)
      }
      out += closing + "]"
    case .object(let members):
      if members.isEmpty {
        out += "{}"
        return
      }
      out += "{"
      for (i, (key, value)) in members.enumerated() {
        if i > 0 { out += "," }
        out += newline + jsonQuoted(key) + (indent == nil ? ":" : ": ")
        value.write(into: &out, indent: inner)
      }
      out += closing + "}"
    }
  }
}

/// `s` as a JSON string literal, with quotes, backslashes and control characters escaped.
public func jsonQuoted(_ s: String) -> String {
  var out = "\""
  for scalar in s.unicodeScalars {
    switch scalar {
    case "\"": out += "\\\""
    case "\\": out += "\\\\"
    case "\n": out += "\\n"
    case "\r": out += "\\r"
    case "\t": out += "\\t"
    case _ where scalar.value < 0x20 || scalar.value == 0x2028 || scalar.value == 0x2029:
      let hex = String(scalar.value, radix: 16)
      out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
    default: out.unicodeScalars.append(scalar)
    }
  }
  return out + "\""
}

/// A finite double as a JSON number with at most 4 decimals (`null` for NaN/infinity).
public func jsonNumber(_ d: Double) -> String {
  guard d.isFinite else { return "null" }
  if d == d.rounded() && abs(d) < 1e15 { return String(Int(d)) }
  var text = formatDecimal(d, digits: 4)
  while text.hasSuffix("0") { text.removeLast() }
  if text.hasSuffix(".") { text.removeLast() }
  return text
}
