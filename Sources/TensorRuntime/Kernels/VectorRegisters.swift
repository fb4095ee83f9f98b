import Foundation

/// The vector registers of the CPU this process runs on, for kernels whose register tile
/// must fit them: AVX-512's 32 registers of 64 bytes, or AVX2's 16 of 32 bytes.
///
/// Read once from the `flags` line of Linux's `/proc/cpuinfo`; where that does not say,
/// AVX2 is assumed (its tiles also run, more slowly, on an AVX-512 core).
public enum VectorRegisters: Sendable, Equatable {
    /// 16 registers of 32 bytes (8 floats, 4 doubles).
    case avx2
    /// 32 registers of 64 bytes (16 floats, 8 doubles).
    case avx512

    /// This machine's registers.
    public static let current = VectorRegisters(
        cpuinfo: (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? "")

    /// The registers named by the first `flags` line of a `/proc/cpuinfo` text: AVX-512
    /// where it lists `avx512f`.
    init(cpuinfo: String) {
        let flags = cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") } ?? ""
        self = flags.split(separator: " ").contains("avx512f") ? .avx512 : .avx2
    }
}
