#if canImport(Glibc)
  import Glibc
#endif

/// What `/proc/PID` says about the process to record.
public enum TracedProcess {
  /// Throws unless `pid` names a live process we may signal (a zombie counts as gone).
  public static func check(_ pid: Int32) throws(RecordError) {
    guard pid > 0 else { throw .noSuchProcess(pid) }
    if kill(pid, 0) != 0 {
      if errno == EPERM { throw .noPermission(pid) }
      throw .noSuchProcess(pid)
    }
    if hasExited(pid) { throw .noSuchProcess(pid) }
  }

  /// True when the process is gone or a zombie.
  public static func hasExited(_ pid: Int32) -> Bool {
    guard let stat = readFile("/proc/\(pid)/stat") else { return true }
    guard let close = stat.lastIndex(of: UInt8(ascii: ")")), close + 2 < stat.count else { return true }
    let state = stat[close + 2]
    return state == UInt8(ascii: "Z") || state == UInt8(ascii: "X")
  }

  /// `/proc/PID/cmdline` with its NULs as spaces.
  public static func commandLine(_ pid: Int32) -> String {
    guard var bytes = readFile("/proc/\(pid)/cmdline") else { return "" }
    while bytes.last == 0 { bytes.removeLast() }
    return String(decoding: bytes.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
  }

  /// The process's fds that are sockets, and those that are epoll instances.
  public static func openFDs(_ pid: Int32) -> (sockets: [Int32], epolls: [Int32]) {
    var sockets: [Int32] = []
    var epolls: [Int32] = []
    guard let dir = opendir("/proc/\(pid)/fd") else { return ([], []) }
    defer { closedir(dir) }
    while let entry = readdir(dir) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) {
        String(cString: $0.bindMemory(to: CChar.self).baseAddress!)
      }
      guard let fd = Int32(name) else { continue }
      var target = [CChar](repeating: 0, count: 256)
      let n = readlink("/proc/\(pid)/fd/\(fd)", &target, target.count - 1)
      guard n > 0 else { continue }
      let link = String(decoding: target[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
      if link.hasPrefix("socket:") { sockets.append(fd) }
      if link == "anon_inode:[eventpoll]" { epolls.append(fd) }
    }
    return (sockets.sorted(), epolls.sorted())
  }

  /// The registrations of an epoll fd: `tfd` and `data` of each `tfd:` line of its fdinfo.
  public static func epollRegistrations(_ pid: Int32, epfd: Int32) -> [(fd: Int32, data: UInt64)] {
    guard let bytes = readFile("/proc/\(pid)/fdinfo/\(epfd)") else { return [] }
    var out: [(Int32, UInt64)] = []
    for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("tfd:") {
      let words = line.split(separator: " ", omittingEmptySubsequences: true)
      guard let t = words.firstIndex(of: "tfd:"), t + 1 < words.count, let fd = Int32(words[t + 1]),
        let d = words.firstIndex(of: "data:"), d + 1 < words.count,
        let data = UInt64(words[d + 1], radix: 16)
      else { continue }
      out.append((fd, data))
    }
    return out
  }

  static func readFile(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
      let n = read(fd, &buf, buf.count)
      if n < 0 && errno == EINTR { continue }
      if n <= 0 { break }
      out.append(contentsOf: buf[0..<n])
      if out.count > 1 << 22 { break }
    }
    return out
  }
}
