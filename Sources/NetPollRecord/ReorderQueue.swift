/// Hands back elements in order of a 64-bit key, ties in insertion order: what
/// ``KernelTraceConverter`` holds while it waits for records from other CPUs.
///
/// Most records arrive in order (the libbpf loader's ring is one ring for all CPUs; bpftrace's
/// per-CPU buffers come in runs), so an element not older than the newest one so far is appended
/// to a sorted run, O(1); only an older one goes to a binary min-heap of stragglers, and the
/// earliest element is the smaller of the run's head and the heap's top. With a heap alone, each
/// record cost a sift through the 250 ms window (some 75,000 records at 300,000 a second): `pop`
/// was 26% of the recorder's CPU (perf record on the recorder under tools/bench-record's load,
/// libbpf loader).
struct ReorderQueue<Element> {
  struct Entry {
    var key: UInt64
    var arrival: UInt64
    var element: Element

    func precedes(_ other: Entry) -> Bool {
      key != other.key ? key < other.key : arrival < other.arrival
    }
  }

  /// In key order from `head`; the elements before `head` were handed back already.
  private var run: [Entry] = []
  private var head = 0
  private var heap: [Entry] = []
  private var arrivals: UInt64 = 0

  var isEmpty: Bool { head == run.count && heap.isEmpty }
  var count: Int { run.count - head + heap.count }

  /// The key ``removeEarliest()`` would hand back next, nil when empty.
  var earliestKey: UInt64? {
    if head == run.count { return heap.first?.key }
    guard let top = heap.first else { return run[head].key }
    return min(top.key, run[head].key)
  }

  mutating func insert(key: UInt64, _ element: Element) {
    arrivals += 1
    let entry = Entry(key: key, arrival: arrivals, element: element)
    if head == run.count {
      if head > 0 {
        run.removeAll(keepingCapacity: true)
        head = 0
      }
      run.append(entry)
    } else if key >= run[run.count - 1].key {
      run.append(entry)
    } else {
      push(entry)
    }
  }

  /// The element with the smallest key (the first inserted among equals). Not on an empty queue.
  mutating func removeEarliest() -> Element {
    if head < run.count, heap.isEmpty || run[head].precedes(heap[0]) {
      let e = run[head].element
      head += 1
      if head >= 4096 && head * 2 >= run.count {  // amortised O(1): moves at most what was taken
        run.removeFirst(head)
        head = 0
      }
      return e
    }
    return pop()
  }

  // The sifts work on the heap's buffer: indexing a stored property is bounds-checked per access.

  private mutating func push(_ p: Entry) {
    heap.append(p)
    heap.withUnsafeMutableBufferPointer { h in
      var i = h.count - 1
      while i > 0 {
        let parent = (i - 1) / 2
        guard p.precedes(h[parent]) else { break }
        h[i] = h[parent]
        i = parent
      }
      h[i] = p
    }
  }

  private mutating func pop() -> Element {
    let top = heap[0].element
    let last = heap.removeLast()
    heap.withUnsafeMutableBufferPointer { h in
      guard h.count > 0 else { return }
      var i = 0
      while true {
        let l = 2 * i + 1
        if l >= h.count { break }
        let r = l + 1
        let m = r < h.count && h[r].precedes(h[l]) ? r : l
        guard h[m].precedes(last) else { break }
        h[i] = h[m]
        i = m
      }
      h[i] = last
    }
    return top
  }
}
