import Testing

@testable import NetPollRecord

#if canImport(Glibc)
  import Glibc
#endif

@Test
func `the loader built in the checkout above the executable is found, and nothing when it is not built`()
  throws
{
  var template = Array("/tmp/netpoll-loader-XXXXXX".utf8CString)
  let root = try #require(
    template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }.map { String(cString: $0) })
  defer { _ = system("rm -rf '\(root)'") }
  let executable = root + "/.build/x86_64-unknown-linux-gnu/release/netpoll"
  #expect(RecordLoader.built(near: executable) == nil)
  let dir = root + "/.build-peers/record-bpf"
  #expect(
    system(
      "mkdir -p '\(dir)' && touch '\(dir)/record.bpf.o' && install -m 755 /dev/null '\(dir)/netpoll-record-bpf'"
    ) == 0)
  let found = try #require(RecordLoader.built(near: executable))
  #expect(found.directory == dir)
  #expect(found.object == dir + "/record.bpf.o")
}
