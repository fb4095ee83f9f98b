import RecipeLanguage
import TensorRuntime

/// A group's optimizer state: its initial values and its checkpoint form
/// (`parameter/slot` → tensor).
extension BoundGroup {
    func initialValue(_ slot: StateSlot) -> Float {
        if case .fill(let e) = slot.initial { return Float(ConstantEvaluator(hypers: hypers).evaluate(e) ?? 0) }
        return 0
    }

    func initializeStates(_ parameterValues: [Tensor]) {
        for member in members {
            for (k, slot) in graph.states.enumerated() {
                if slot.type.level == .tensor, let buffer = member.tensorState[k] {
                    switch slot.initial {
                    case .parameter:
                        parameterValues[member.parameter].withUnsafeBufferPointer {
                            buffer.pointer.update(from: $0.baseAddress!, count: buffer.count)
                        }
                    case .fill:
                        buffer.pointer.update(repeating: initialValue(slot), count: buffer.count)
                    }
                } else {
                    member.layerState[k] = initialValue(slot)
                }
            }
        }
    }

    func exportState(into out: inout [String: Tensor]) {
        for member in members {
            for (k, slot) in graph.states.enumerated() {
                let key = "\(member.meta.name)/\(slot.name)"
                if let buffer = member.tensorState[k] {
                    let shape: [Int] = slot.type.extent == .full ? member.meta.shape : [buffer.count]
                    out[key] = Tensor(shape: Shape(shape)) {
                        $0.baseAddress!.update(from: buffer.pointer, count: buffer.count)
                    }
                } else {
                    out[key] = Tensor(member.layerState[k])
                }
            }
        }
    }

    func importState(_ tensors: [String: Tensor]) throws(CompileError) {
        for member in members {
            for (k, slot) in graph.states.enumerated() {
                let key = "\(member.meta.name)/\(slot.name)"
                guard let t = tensors[key] else {
                    throw CompileError("optimizer state '\(key)' is missing from the checkpoint")
                }
                if let buffer = member.tensorState[k] {
                    guard t.count == buffer.count else {
                        throw CompileError("optimizer state '\(key)' has \(t.count) values, expected \(buffer.count)")
                    }
                    t.withUnsafeBufferPointer { buffer.pointer.update(from: $0.baseAddress!, count: buffer.count) }
                } else {
                    guard t.count == 1 else { throw CompileError("optimizer state '\(key)' should be one number") }
                    member.layerState[k] = t.scalars[0]
                }
            }
        }
    }
}
