/// Memory for kernels: `count` elements from a 64-byte boundary (one cache line, one AVX-512
/// vector), initialised, and freed with the buffer. The one aligned allocation of the
/// runtime: the executor's state and scratch, the fused kernels' registers, the model's
/// activation arena and the matrix multiply's packing buffers are all made of it.
///
/// A class, so that a kernel can hold its pointer for the buffer's lifetime; share it only
/// where one writer at a time is guaranteed.
public final class AlignedBuffer<Element: BitwiseCopyable>: @unchecked Sendable {
    /// The first element (valid for `max(count, 1)` elements).
    public let pointer: UnsafeMutablePointer<Element>
    public let count: Int

    /// `count` elements (at least one is allocated), each set to `fill`.
    public init(count: Int, fill: Element) {
        self.count = count
        let capacity = Swift.max(count, 1)
        pointer = UnsafeMutableRawPointer.allocate(
            byteCount: capacity * MemoryLayout<Element>.stride, alignment: 64
        ).bindMemory(to: Element.self, capacity: capacity)
        pointer.initialize(repeating: fill, count: capacity)
    }

    deinit { pointer.deallocate() }
}
