/// "Did you mean …?": the closest known name by edit distance, if it is close enough.
enum Suggestion {
    /// The candidate nearest to `word` (at most a third of its length away, and at most 3
    /// edits), or nil.
    static func closest(to word: String, among candidates: some Sequence<String>) -> String? {
        // Short names are too close to everything; only a change of case is worth a hint.
        if word.count < 3 { return candidates.first { $0 != word && $0.lowercased() == word.lowercased() } }
        let limit = min(3, max(1, word.count / 3))
        var best: (String, Int)?
        for candidate in candidates where candidate != word {
            let d = distance(Array(word.lowercased().utf8), Array(candidate.lowercased().utf8))
            if d <= limit && (best == nil || d < best!.1) { best = (candidate, d) }
        }
        return best?.0
    }

    /// Levenshtein distance, with a transposition counted as one edit.
    static func distance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous2 = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], previous2[j - 2] + 1)
                }
            }
            (previous2, previous, current) = (previous, current, previous2)
        }
        return previous[b.count]
    }
}
