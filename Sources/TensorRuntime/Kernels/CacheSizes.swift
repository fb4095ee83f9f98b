import Foundation

/// The data-cache sizes of the CPU this process runs on, read once from Linux's sysfs
/// (`/sys/devices/system/cpu/cpu0/cache`), for kernels that size their blocks to the caches.
/// Where sysfs does not say, the sizes of a common desktop core are assumed.
public struct CacheSizes: Sendable, Equatable {
    /// Bytes of the level-1 data cache of one core.
    public var level1: Int
    /// Bytes of the level-2 cache of one core.
    public var level2: Int

    /// This machine's caches.
    public static let current = CacheSizes(sysfs: "/sys/devices/system/cpu/cpu0/cache")

    public init(level1: Int, level2: Int) {
        self.level1 = level1
        self.level2 = level2
    }

    /// Reads `index*/level`, `type` and `size` under `folder`; a missing value keeps the
    /// default (32 KiB and 1 MiB).
    init(sysfs folder: String) {
        self.init(level1: 32 << 10, level2: 1 << 20)
        for index in 0..<8 {
            func read(_ name: String) -> String? {
                (try? String(contentsOfFile: "\(folder)/index\(index)/\(name)", encoding: .utf8))?
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            }
            guard let level = read("level").flatMap(Int.init), let type = read("type"),
                let size = read("size").flatMap(Self.bytes)
            else { continue }
            if level == 1 && type == "Data" { level1 = size }
            if level == 2 && type != "Instruction" { level2 = size }
        }
    }

    /// `"32K"`, `"1024K"`, `"2M"` or a plain number of bytes.
    static func bytes(_ text: String) -> Int? {
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        guard let last = text.last else { return nil }
        if let unit = units[last] { return Int(text.dropLast()).map { $0 * unit } }
        return Int(text)
    }
}
