/// Why a file cannot be read as a netpoll trace (version 1 or 2).
///
/// Each case reaches the user as one line, `FILE:LINE: message` (or `FILE: message` when no line
/// applies); the CLI maps every `TraceError` to exit status 2, "not a trace".
public struct TraceError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The path as the user gave it (`-` for standard input).
  public var file: String
  /// The 1-based line the problem is on, or `nil` for a problem with the file as a whole.
  public var line: Int?
  /// What is wrong, in words, without the location.
  public var message: String

  /// Creates an error at `file:line`.
  public init(file: String, line: Int?, message: String) {
    self.file = file
    self.line = line
    self.message = message
  }

  /// `FILE:LINE: message`, the one line a user sees (a control character in FILE is escaped).
  public var description: String {
    if let line { return "\(shownPath(file)):\(line): \(message)" }
    return "\(shownPath(file)): \(message)"
  }
}

/// A problem that does not stop reading: an unknown event, a torn last line, a truncated trace.
public struct TraceWarning: Sendable, Equatable, CustomStringConvertible {
  /// The path as the user gave it.
  public var file: String
  /// The 1-based line, or `nil` for the file as a whole.
  public var line: Int?
  /// What is odd, in words.
  public var message: String

  /// `FILE:LINE: warning: message` (a control character in FILE is escaped).
  public var description: String {
    if let line { return "\(shownPath(file)):\(line): warning: \(message)" }
    return "\(shownPath(file)): warning: \(message)"
  }
}

/// `path` with its control characters escaped as Swift writes them (`\n`, `\u{1B}`): a file name
/// may hold a newline or a terminal escape, and an error about it must still be one plain line.
func shownPath(_ path: String) -> String {
  let isControl = { (scalar: Unicode.Scalar) in scalar.properties.generalCategory == .control }
  guard path.unicodeScalars.contains(where: isControl) else { return path }
  return path.unicodeScalars.map { isControl($0) ? $0.escaped(asASCII: true) : String($0) }.joined()
}
