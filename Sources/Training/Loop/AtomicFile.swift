import Foundation

#if canImport(Glibc)
    import Glibc
    private let posixWrite = Glibc.write
#elseif canImport(Darwin)
    import Darwin
    private let posixWrite = Darwin.write
#endif

/// Replaces a file so that a crash or a kill at any moment leaves either the old file or the
/// new one, never a mixture: write a temporary file in the same directory, `fsync` it, then
/// `rename` it over the old one (atomic within a file system) and `fsync` the directory.
enum AtomicFile {
    /// Appends bytes to the temporary file.
    struct Writer {
        fileprivate let descriptor: Int32
        fileprivate let path: String

        /// Writes all of `bytes`, retrying short writes.
        func write(_ bytes: UnsafeRawBufferPointer) throws {
            var done = 0
            while done < bytes.count {
                let n = posixWrite(descriptor, bytes.baseAddress! + done, bytes.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw TrainingError.io("cannot write \(path): \(String(cString: strerror(errno)))")
                }
                done += n
            }
        }

        func write(_ bytes: [UInt8]) throws {
            try bytes.withUnsafeBytes { raw in try write(raw) }
        }
    }

    /// Replaces `url` with what `body` writes. If `body` throws, `url` is left as it was.
    static func replace(_ url: URL, _ body: (Writer) throws -> Void) throws {
        let path = url.path
        let directory = url.deletingLastPathComponent().path
        // A fixed name, so a temporary left by a killed run is simply overwritten next time.
        let temporary = directory + "/." + url.lastPathComponent + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else {
            throw TrainingError.io("cannot create \(temporary): \(String(cString: strerror(errno)))")
        }
        do {
            try body(Writer(descriptor: fd, path: temporary))
            guard fsync(fd) == 0 else {
                throw TrainingError.io("cannot sync \(temporary): \(String(cString: strerror(errno)))")
            }
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw TrainingError.io("cannot replace \(path): \(reason)")
        }
        // The rename lives in the directory; sync it too so the new name survives a power cut.
        let dfd = open(directory, O_RDONLY)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
    }

    /// Replaces `url` with `text`.
    static func replace(_ url: URL, text: String) throws {
        try replace(url) { writer in try writer.write(Array(text.utf8)) }
    }
}
