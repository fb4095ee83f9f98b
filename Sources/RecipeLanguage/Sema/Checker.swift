import Foundation

/// Checks a parsed recipe (and the recipes it imports) and produces a ``CheckedRecipe``.
///
/// It resolves names, matches call arguments, tracks every value's ``Level``, enforces the
/// shape rules (matrix-only operations in groups that may hold vectors), and inlines `use`.
/// Every problem it can see is reported; checking goes on after an error.
public struct Checker {
    /// Reads a file by path; nil when it cannot be read.
    public typealias Loader = @Sendable (String) -> SourceFile?

    /// The result: a checked recipe when there were no errors, and diagnostics per file.
    public struct Output: Sendable {
        public var recipe: CheckedRecipe?
        public var files: [FileDiagnostics]
        public var hasErrors: Bool { files.contains { $0.hasErrors } }
        /// Every file read, for rendering notes that point into imports.
        public var sources: [SourceFile] { files.map(\.file) }
    }

    /// How deeply imports may nest.
    public static let importLimit = 16

    /// Checks the recipe in `source`, reading imports through `load`.
    public static func check(_ source: SourceFile, load: @escaping Loader = Checker.readFile) -> Output {
        let session = Session(load: load)
        let recipe = session.check(source, stack: [])
        let files = session.order.map {
            FileDiagnostics(file: session.sources[$0]!, diagnostics: session.diagnostics[$0] ?? [])
        }
        let failed = files.contains { $0.hasErrors }
        return Output(recipe: failed ? nil : recipe, files: files)
    }

    /// Reads a file from disk.
    public static let readFile: Loader = { path in
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return SourceFile(path: path, bytes: Array(data))
    }
}

/// Shared state across one check and its imports.
final class Session {
    let load: Checker.Loader
    var sources: [String: SourceFile] = [:]
    var diagnostics: [String: [Diagnostic]] = [:]
    var order: [String] = []
    var checked: [String: CheckedRecipe?] = [:]

    init(load: @escaping Checker.Loader) { self.load = load }

    func report(_ d: Diagnostic, in path: String) {
        diagnostics[path, default: []].append(d)
    }

    func check(_ source: SourceFile, stack: [String]) -> CheckedRecipe? {
        if sources[source.path] == nil {
            sources[source.path] = source
            order.append(source.path)
        }
        if let done = checked[source.path] { return done }
        let parsed = Parser.parse(source)
        for d in parsed.diagnostics { report(d, in: source.path) }
        var checker = RecipeChecker(session: self, source: source, stack: stack + [source.path])
        let result = checker.check(parsed.recipe, parseFailed: !parsed.diagnostics.isEmpty)
        // Warnings about unused names are mostly echoes of the errors; show them on clean files only.
        if let list = diagnostics[source.path], list.contains(where: { $0.severity == .error }) {
            diagnostics[source.path] = list.filter { $0.severity == .error }
        }
        checked[source.path] = result
        return result
    }
}

/// What a name refers to.
private enum Symbol {
    case hyper(Int)
    case local(Int)
    case state(Int)
    case predefined(TypedExpr.Kind, ValueType)
    case module(Int)
}

/// Checks one file.
struct RecipeChecker {
    let session: Session
    let source: SourceFile
    let stack: [String]

    private var hypers: [CheckedHyper] = []
    private var hyperUsed: [Bool] = []
    private var modules: [(alias: Identifier, recipe: CheckedRecipe?)] = []
    /// Namespaced copies of imported hyperparameters: (module, imported index) → our index.
    private var importedHyper: [String: Int] = [:]
    private var errors = 0

    // Group context
    private var inGroup = false
    private var group = GroupBuilder()

    init(session: Session, source: SourceFile, stack: [String]) {
        self.session = session
        self.source = source
        self.stack = stack
    }

    private mutating func error(_ message: String, at range: SourceRange, notes: [Diagnostic.Note] = []) {
        errors += 1
        session.report(.error(message, at: range, notes: notes), in: source.path)
    }

    private func warning(_ message: String, at range: SourceRange, notes: [Diagnostic.Note] = []) {
        session.report(Diagnostic(.warning, message, at: range, notes: notes), in: source.path)
    }

    static let predefinedNames: [String: (TypedExpr.Kind, ValueType, String)] = [
        "t": (.step, .global, "the step counter"),
        "T": (.totalSteps, .global, "the total number of steps"),
        "X": (.parameter, .tensor, "the parameter"),
        "G": (.gradient, .tensor, "the gradient"),
        "rows": (.shape(.rows), .layer, "the parameter's row count"),
        "cols": (.shape(.cols), .layer, "the parameter's column count"),
        "numel": (.shape(.numel), .layer, "the parameter's element count"),
    ]
    static let groupOnly: Set<String> = ["X", "G", "rows", "cols", "numel"]
    static let roles = ParameterRole.allCases.map(\.rawValue)
    static let matrixRoles = Set(ParameterRole.allCases.filter(\.isMatrix).map(\.rawValue))

    // MARK: Recipe

    mutating func check(_ recipe: Recipe, parseFailed: Bool) -> CheckedRecipe? {
        for imp in recipe.imports { checkImport(imp) }
        var groups: [CheckedGroup] = []
        var hyperDecl: [String: SourceRange] = [:]
        var groupDecl: [String: SourceRange] = [:]
        var catchAll: String?
        for declaration in recipe.declarations {
            switch declaration {
            case .hyper(let h):
                if let first = hyperDecl[h.name.name] {
                    error(
                        "hyperparameter '\(h.name.name)' is declared twice", at: h.name.range,
                        notes: [.init("first declared here", at: first)])
                    continue
                }
                if let reason = reservedReason(h.name.name) {
                    error("'\(h.name.name)' cannot be a hyperparameter: it is \(reason)", at: h.name.range)
                    continue
                }
                hyperDecl[h.name.name] = h.name.range
                checkHyper(h)
            case .group(let g):
                if let first = groupDecl[g.name.name] {
                    error(
                        "group '\(g.name.name)' is declared twice", at: g.name.range,
                        notes: [.init("first declared here", at: first)])
                }
                groupDecl[g.name.name] = g.name.range
                if let all = catchAll {
                    error(
                        "group '\(g.name.name)' can never match a parameter", at: g.selector.range,
                        notes: [.init("group '\(all)' before it takes every parameter")])
                }
                if let checked = checkGroup(g) { groups.append(checked) }
                if selectsAll(g.selector) { catchAll = g.name.name }
            }
        }
        if recipe.header != nil && recipe.declarations.allSatisfy({ if case .group = $0 { false } else { true } })
            && !parseFailed
        {
            error(
                "recipe '\(recipe.header!.name.name)' has no groups", at: recipe.header!.range,
                notes: [.init("add one, e.g. 'group all: all { X -= lr * G }'")])
        }
        for (i, h) in hypers.enumerated() where !hyperUsed[i] && h.path == source.path {
            warning("hyperparameter '\(h.name)' is never used", at: h.range)
        }
        guard errors == 0, !parseFailed, let header = recipe.header else { return nil }
        return CheckedRecipe(
            name: header.name.name, title: header.title, hypers: hypers, groups: groups, path: source.path)
    }

    private func reservedReason(_ name: String) -> String? {
        if let p = RecipeChecker.predefinedNames[name] { return "predefined (\(p.2))" }
        if Builtin(rawValue: name) != nil { return "a built-in function" }
        return nil
    }

    private func selectsAll(_ s: Selector) -> Bool {
        switch s {
        case .all: return true
        case .parenthesized(let inner, _): return selectsAll(inner)
        case .or(let a, let b): return selectsAll(a) || selectsAll(b)
        case .and(let a, let b): return selectsAll(a) && selectsAll(b)
        default: return false
        }
    }

    // MARK: Imports

    private mutating func checkImport(_ imp: Import) {
        if let first = modules.first(where: { $0.alias.name == imp.alias.name }) {
            error(
                "'\(imp.alias.name)' is imported twice", at: imp.alias.range,
                notes: [.init("first imported here", at: first.alias.range)])
            return
        }
        let base = (source.path as NSString).deletingLastPathComponent
        let path = imp.path.hasPrefix("/") ? imp.path : (base.isEmpty ? imp.path : base + "/" + imp.path)
        let normalized = (path as NSString).standardizingPath
        if stack.contains(normalized) || stack.contains(path) {
            let cycle = (stack + [path]).map { ($0 as NSString).lastPathComponent }.joined(separator: " → ")
            error("import cycle: \(cycle)", at: imp.pathRange)
            modules.append((imp.alias, nil))
            return
        }
        if stack.count >= Checker.importLimit {
            error("imports nest too deeply (limit is \(Checker.importLimit))", at: imp.pathRange)
            modules.append((imp.alias, nil))
            return
        }
        guard let file = session.load(path) else {
            error("cannot read imported recipe '\(imp.path)' (looked for \(path))", at: imp.pathRange)
            modules.append((imp.alias, nil))
            return
        }
        let recipe = session.check(file, stack: stack)
        if recipe == nil {
            error("imported recipe '\(imp.path)' has errors", at: imp.pathRange)
        }
        modules.append((imp.alias, recipe))
    }

    /// Our index for hyperparameter `index` of imported module `m`, creating `alias.name`.
    private mutating func namespacedHyper(module m: Int, index: Int) -> Int {
        let key = "\(m):\(index)"
        if let existing = importedHyper[key] { return existing }
        let recipe = modules[m].recipe!
        let imported = recipe.hypers[index]
        // Its default may use the module's earlier hyperparameters: point those at ours too.
        var map: [Int: TypedExpr] = [:]
        var referenced: [Int] = []
        RecipeChecker.collectHypers(imported.value) { referenced.append($0) }
        for j in referenced {
            map[j] = TypedExpr(.hyper(namespacedHyper(module: m, index: j)), .global, imported.range)
        }
        let value = Remap(hypers: map, localBase: 0, stateBase: 0).expr(imported.value)
        let name = imported.name.contains(".") ? imported.name : "\(modules[m].alias.name).\(imported.name)"
        hypers.append(
            CheckedHyper(
                name: name, value: value, defaultValue: imported.defaultValue, doc: imported.doc,
                range: imported.range, path: imported.path))
        hyperUsed.append(true)
        importedHyper[key] = hypers.count - 1
        return hypers.count - 1
    }

    private static func collectHypers(_ e: TypedExpr, _ body: (Int) -> Void) {
        func walk(_ e: TypedExpr) {
            switch e.kind {
            case .hyper(let i): body(i)
            case .unary(_, let a): walk(a)
            case .binary(_, let a, let b):
                walk(a)
                walk(b)
            case .conditional(let a, let b, let c):
                walk(a)
                walk(b)
                walk(c)
            case .call(_, let args, _, _): args.forEach(walk)
            default: break
            }
        }
        walk(e)
    }

    // MARK: Hyperparameters

    private mutating func checkHyper(_ h: Hyper) {
        // A bad default still declares the name, so its uses do not cascade into errors.
        func placeholder(_ checker: inout RecipeChecker) {
            checker.hypers.append(
                CheckedHyper(
                    name: h.name.name, value: TypedExpr(.constant(0), .global, h.value.range), defaultValue: 0,
                    doc: h.doc, range: h.name.range, path: checker.source.path))
            checker.hyperUsed.append(true)
        }
        guard let value = expr(h.value) else { return placeholder(&self) }
        if value.type.isBoolean {
            error("hyperparameter '\(h.name.name)' must be a number", at: h.value.range)
            return placeholder(&self)
        }
        if let dynamic = dynamicPart(value) {
            error(
                "a hyperparameter's default must be a constant", at: dynamic,
                notes: [.init("schedules and 't' belong in group statements")])
            return placeholder(&self)
        }
        let number = ConstantEvaluator(hypers: hypers.map(\.defaultValue)).evaluate(value) ?? .nan
        if !number.isFinite {
            error("hyperparameter '\(h.name.name)' has a default that is not a finite number", at: h.value.range)
        }
        hypers.append(
            CheckedHyper(
                name: h.name.name, value: value, defaultValue: number, doc: h.doc, range: h.name.range,
                path: source.path))
        hyperUsed.append(false)
    }

    /// The range of a part that depends on the step, if any.
    private func dynamicPart(_ e: TypedExpr) -> SourceRange? {
        switch e.kind {
        case .step, .totalSteps: return e.range
        case .call(let b, let args, _, _):
            if [.constant, .linearWarmup, .cosineDecay, .wsd].contains(b) { return e.range }
            return args.lazy.compactMap { dynamicPart($0) }.first
        case .unary(_, let a): return dynamicPart(a)
        case .binary(_, let a, let b): return dynamicPart(a) ?? dynamicPart(b)
        case .conditional(let a, let b, let c): return dynamicPart(a) ?? dynamicPart(b) ?? dynamicPart(c)
        default: return nil
        }
    }

    // MARK: Groups

    private mutating func checkGroup(_ g: Group) -> CheckedGroup? {
        let errorsBefore = errors
        checkSelector(g.selector)
        inGroup = true
        group = GroupBuilder()
        group.matricesOnly = guaranteesMatrix(g.selector)
        group.selectorRange = g.selector.range
        group.name = g.name.name
        var updates = 0
        var loggedNames: [String: SourceRange] = [:]
        for statement in g.statements {
            switch statement {
            case .state(let name, let value, _):
                declareState(name, value)
            case .binding(let name, let value, _):
                bind(name, value)
            case .update(let op, let value, _):
                updates += 1
                guard let v = expr(value) else { continue }
                if v.type.isBoolean {
                    error("the update must be a number, not a comparison", at: value.range)
                    continue
                }
                group.statements.append(.update(op, v))
            case .log(let name, let value, _):
                if let first = loggedNames[name.name] {
                    error(
                        "'\(name.name)' is logged twice in group '\(g.name.name)'", at: name.range,
                        notes: [.init("first logged here", at: first)])
                    continue
                }
                loggedNames[name.name] = name.range
                guard let v = expr(value) else { continue }
                if v.type.isBoolean {
                    error("'log' records numbers, but this is a comparison", at: value.range)
                    continue
                }
                if v.type.level == .tensor {
                    error(
                        "'log' records one number per parameter, but this is \(v.type)", at: value.range,
                        notes: [.init("reduce it first, e.g. norm(…) or mean(…)")])
                    continue
                }
                group.statements.append(.log(name.name, v))
            case .use(let module, let name, let arguments, let range):
                updates += inline(module, name, arguments, range)
            }
        }
        for (i, used) in group.localUsed.enumerated() where !used {
            warning("'\(group.locals[i])' is bound but never used", at: group.localRanges[i])
        }
        if updates == 0 {
            warning(
                "group '\(g.name.name)' never changes its parameters", at: g.name.range,
                notes: [.init("add an update such as 'X -= lr * G'")])
        }
        inGroup = false
        guard errors == errorsBefore else { return nil }
        return CheckedGroup(
            name: g.name.name, selector: g.selector, matricesOnly: group.matricesOnly, states: group.states,
            locals: group.locals, statements: group.statements, range: g.range, matrixCalls: group.matrixCalls)
    }

    private mutating func checkSelector(_ s: Selector) {
        switch s {
        case .role(let roles, _):
            for role in roles where !RecipeChecker.roles.contains(role.name) {
                var notes: [Diagnostic.Note] = []
                if let close = Suggestion.closest(to: role.name, among: RecipeChecker.roles) {
                    notes.append(.init("did you mean '\(close)'?"))
                }
                notes.append(.init("roles are \(RecipeChecker.roles.joined(separator: ", "))"))
                error("unknown role '\(role.name)'", at: role.range, notes: notes)
            }
        case .and(let a, let b), .or(let a, let b):
            checkSelector(a)
            checkSelector(b)
        case .not(let a, _), .parenthesized(let a, _): checkSelector(a)
        default: break
        }
    }

    /// True when every parameter the selector accepts is a matrix.
    private func guaranteesMatrix(_ s: Selector) -> Bool { shapeFacts(s).matrix }

    /// What a selector guarantees about shapes: only matrices, only vectors, or neither.
    private func shapeFacts(_ s: Selector) -> (matrix: Bool, vector: Bool) {
        switch s {
        case .matrix: return (true, false)
        case .vector: return (false, true)
        case .dims(let lo, let hi, _): return (lo >= 2, hi <= 1)
        case .role(let roles, _):
            return (
                roles.allSatisfy { RecipeChecker.matrixRoles.contains($0.name) },
                roles.allSatisfy { !RecipeChecker.matrixRoles.contains($0.name) }
            )
        case .and(let a, let b):
            let (x, y) = (shapeFacts(a), shapeFacts(b))
            return (x.matrix || y.matrix, x.vector || y.vector)
        case .or(let a, let b):
            let (x, y) = (shapeFacts(a), shapeFacts(b))
            return (x.matrix && y.matrix, x.vector && y.vector)
        case .not(let inner, _):
            let f = shapeFacts(inner)
            return (f.vector, f.matrix)
        case .parenthesized(let inner, _): return shapeFacts(inner)
        default: return (false, false)
        }
    }

    private mutating func requireMatrix(_ what: String, at range: SourceRange) {
        group.matrixCalls.append((source.path, range, what))
        guard !group.matricesOnly else { return }
        error(
            "\(what) needs a matrix, but group '\(group.name)' may contain vectors", at: range,
            notes: [
                .init("its selector does not require matrices; add 'matrix' to it", at: group.selectorRange)
            ])
    }

    private func lookup(_ name: String) -> (Symbol, SourceRange?)? {
        if inGroup {
            if let i = group.localIndex[name] { return (.local(i), group.localRanges[i]) }
            if let i = group.stateIndex[name] { return (.state(i), group.states[i].range) }
        }
        if let p = RecipeChecker.predefinedNames[name] { return (.predefined(p.0, p.1), nil) }
        if let i = hypers.lastIndex(where: { $0.name == name }) { return (.hyper(i), hypers[i].range) }
        if let m = modules.firstIndex(where: { $0.alias.name == name }) { return (.module(m), modules[m].alias.range) }
        return nil
    }

    /// Names visible here, for suggestions.
    private func visibleNames() -> [String] {
        guard inGroup else { return hypers.map(\.name) }
        return hypers.map(\.name) + Array(RecipeChecker.predefinedNames.keys) + group.locals + group.states.map(\.name)
    }

    private mutating func checkNewName(_ name: Identifier, _ what: String) -> Bool {
        if let reason = reservedReason(name.name) {
            error("'\(name.name)' cannot be \(what): it is \(reason)", at: name.range)
            return false
        }
        if let (symbol, range) = lookup(name.name) {
            let kind: String
            switch symbol {
            case .hyper: kind = "a hyperparameter"
            case .local: kind = "a binding"
            case .state: kind = "a state"
            case .module: kind = "an imported recipe"
            case .predefined: kind = "predefined"
            }
            error(
                "'\(name.name)' is already defined as \(kind)", at: name.range,
                notes: range.map { [.init("defined here", at: $0)] } ?? [])
            return false
        }
        if Keyword(rawValue: name.name) != nil { return false }
        return true
    }

    private mutating func declareState(_ name: Identifier, _ value: Expr) {
        guard checkNewName(name, "a state") else { return }
        // A bad initial value still declares the state, so its uses do not cascade.
        let initial = stateInitial(value) ?? (.fill(TypedExpr(.constant(0), .global, value.range)), .tensor)
        group.stateIndex[name.name] = group.states.count
        group.states.append(StateSlot(name: name.name, type: initial.1, initial: initial.0, range: name.range))
    }

    /// The initial value of a state: a constant (per-layer scalar state), `zeros`/`ones`
    /// (a tensor like X, or per row/column), or `X`.
    private mutating func stateInitial(_ value: Expr) -> (StateInitial, ValueType)? {
        guard let v = expr(value) else { return nil }
        switch v.kind {
        case .parameter: return (.parameter, .tensor)
        case .call(.zeros, _, let options, _), .call(.ones, _, let options, _):
            let fill: Double
            if case .call(.zeros, _, _, _) = v.kind { fill = 0 } else { fill = 1 }
            let extent: Extent = options.kind == .row ? .row : options.kind == .col ? .column : .full
            return (.fill(TypedExpr(.constant(fill), .global, v.range)), ValueType(.tensor, extent))
        default:
            if v.type.level == .global && !v.type.isBoolean && dynamicPart(v) == nil {
                return (.fill(v), .layer)
            }
            error(
                "a state's initial value must be a constant, 'zeros', 'ones', 'zeros(row)' or 'X'", at: value.range,
                notes: [.init("this is \(v.type)\(dynamicPart(v) != nil ? " that changes with the step" : "")")])
            return nil
        }
    }

    private mutating func bind(_ name: Identifier, _ value: Expr) {
        if let i = group.stateIndex[name.name] {
            guard let v = expr(value, preferredStateName: name.name + "_") else { return }
            let slot = group.states[i]
            if v.type.isBoolean {
                error("state '\(name.name)' holds numbers, but this is a comparison", at: value.range)
                return
            }
            if v.type.level > slot.type.level
                || (slot.type.level == .tensor && v.type.level == .tensor && v.type.extent != slot.type.extent
                    && ValueType.join(v.type, slot.type) != slot.type)
            {
                error(
                    "state '\(name.name)' holds \(slot.type), but this is \(v.type)", at: value.range,
                    notes: [.init("declared here", at: slot.range)])
                return
            }
            group.statements.append(.setState(i, v))
            return
        }
        guard checkNewName(name, "bound") else { return }
        guard let v = expr(value, preferredStateName: name.name) else {
            // Define it anyway so later uses do not cascade into "unknown name".
            group.localIndex[name.name] = group.locals.count
            group.locals.append(name.name)
            group.localRanges.append(name.range)
            group.localUsed.append(true)
            group.localTypes.append(.tensor)
            return
        }
        group.localIndex[name.name] = group.locals.count
        group.locals.append(name.name)
        group.localRanges.append(name.range)
        group.localUsed.append(false)
        group.localTypes.append(v.type)
        group.statements.append(.bind(group.locals.count - 1, v))
    }

    // MARK: use

    /// Inlines an imported group's statements; returns how many updates it brought.
    private mutating func inline(
        _ module: Identifier, _ name: Identifier, _ arguments: [Argument], _ range: SourceRange
    )
        -> Int
    {
        guard let m = modules.firstIndex(where: { $0.alias.name == module.name }) else {
            var notes: [Diagnostic.Note] = []
            if let close = Suggestion.closest(to: module.name, among: modules.map(\.alias.name)) {
                notes.append(.init("did you mean '\(close)'?"))
            } else {
                notes.append(.init("import it first: import \"\(module.name).opt\" as \(module.name)"))
            }
            error("'\(module.name)' is not an imported recipe", at: module.range, notes: notes)
            return 1
        }
        guard let recipe = modules[m].recipe else { return 1 }
        guard let imported = recipe.groups.first(where: { $0.name == name.name }) else {
            var notes: [Diagnostic.Note] = []
            if let close = Suggestion.closest(to: name.name, among: recipe.groups.map(\.name)) {
                notes.append(.init("did you mean '\(close)'?"))
            }
            notes.append(.init("its groups are \(recipe.groups.map { "'\($0.name)'" }.joined(separator: ", "))"))
            error("recipe '\(module.name)' has no group '\(name.name)'", at: name.range, notes: notes)
            return 1
        }
        var overrides: [Int: TypedExpr] = [:]
        for argument in arguments {
            guard let label = argument.label else {
                error(
                    "arguments of 'use' must be named after hyperparameters of '\(module.name)'",
                    at: argument.value.range,
                    notes: [.init("for example: use \(module.name).\(name.name)(lr: 0.01)")])
                continue
            }
            guard let index = recipe.hypers.firstIndex(where: { $0.name == label.name }) else {
                var notes: [Diagnostic.Note] = []
                if let close = Suggestion.closest(to: label.name, among: recipe.hypers.map(\.name)) {
                    notes.append(.init("did you mean '\(close)'?"))
                }
                error("recipe '\(module.name)' has no hyperparameter '\(label.name)'", at: label.range, notes: notes)
                continue
            }
            if overrides[index] != nil {
                error("'\(label.name)' is given twice", at: label.range)
                continue
            }
            guard let value = expr(argument.value) else { continue }
            if value.type.level != .global || value.type.isBoolean {
                error(
                    "'\(label.name)' is a hyperparameter and needs a global scalar, but this is \(value.type)",
                    at: argument.value.range)
                continue
            }
            overrides[index] = value
        }
        if !group.matricesOnly, let call = imported.matrixCalls.first {
            error(
                "'\(module.name).\(name.name)' uses \(call.2), which needs matrices, but group '\(group.name)' may contain vectors",
                at: range,
                notes: [
                    .init("its selector does not require matrices; add 'matrix' to it", at: group.selectorRange),
                    .init("the call is here", at: call.1, in: call.0),
                ])
        }
        group.matrixCalls += imported.matrixCalls
        var hyperMap: [Int: TypedExpr] = overrides
        for i in recipe.hypers.indices where overrides[i] == nil {
            // A default computed from an overridden hyperparameter follows the override.
            var referenced: [Int] = []
            RecipeChecker.collectHypers(recipe.hypers[i].value) { referenced.append($0) }
            if referenced.contains(where: {
                overrides[$0] != nil || (hyperMap[$0].map { if case .hyper = $0.kind { false } else { true } } ?? false)
            }) {
                hyperMap[i] = Remap(hypers: hyperMap, localBase: 0, stateBase: 0).expr(recipe.hypers[i].value)
            } else {
                hyperMap[i] = TypedExpr(.hyper(namespacedHyper(module: m, index: i)), .global, range)
            }
        }
        let remap = Remap(
            hypers: hyperMap, localBase: group.locals.count, stateBase: group.states.count, site: range)
        for slot in imported.states {
            var copy = slot
            if group.stateIndex[slot.name] != nil || group.states.contains(where: { $0.name == slot.name }) {
                copy.name = "\(module.name).\(slot.name)"
            }
            if case .fill(let e) = slot.initial { copy.initial = .fill(remap.expr(e)) }
            group.states.append(copy)
        }
        for local in imported.locals {
            group.locals.append("\(module.name).\(local)")
            group.localRanges.append(range)
            group.localUsed.append(true)
            group.localTypes.append(.tensor)
        }
        var updates = 0
        for statement in imported.statements {
            if case .update = statement { updates += 1 }
            group.statements.append(remap.statement(statement))
        }
        return max(updates, 1)
    }

    // MARK: Expressions

    /// Checks an expression; nil when it has errors (already reported).
    private mutating func expr(_ e: Expr, preferredStateName: String? = nil) -> TypedExpr? {
        switch e {
        case .error: return nil
        case .number(let value, _, let range):
            return TypedExpr(.constant(value), .global, range)
        case .boolean(let value, let range):
            return TypedExpr(.constant(value ? 1 : 0), ValueType(.global, boolean: true), range)
        case .parenthesized(let inner, _):
            return expr(inner, preferredStateName: preferredStateName)
        case .name(let id):
            return name(id)
        case .member(let module, let member):
            return memberHyper(module, member)
        case .unary(let op, let operand, let range):
            guard let a = expr(operand) else { return nil }
            switch op {
            case .negate:
                if a.type.isBoolean {
                    error("'-' needs a number, but this is a comparison", at: operand.range)
                    return nil
                }
                return TypedExpr(.unary(.negate, a), a.type, range)
            case .not:
                if !a.type.isBoolean {
                    error(
                        "'not' needs a comparison, but this is a number", at: operand.range,
                        notes: [.init("compare it first, e.g. '\(source.text(operand.range)) > 0'")])
                    return nil
                }
                return TypedExpr(.unary(.not, a), a.type, range)
            }
        case .binary(let op, let lhs, let rhs):
            let a = expr(lhs)
            let b = expr(rhs)
            guard let a, let b else { return nil }
            let range = lhs.range.union(rhs.range)
            guard let joined = ValueType.join(a.type, b.type) else {
                error("cannot combine \(a.type) with \(b.type)", at: range)
                return nil
            }
            switch op {
            case .and, .or:
                for (side, t) in [(lhs, a), (rhs, b)] where !t.type.isBoolean {
                    error("'\(op.rawValue)' needs comparisons on both sides, but this is a number", at: side.range)
                    return nil
                }
                return TypedExpr(.binary(op, a, b), ValueType(joined.level, joined.extent, boolean: true), range)
            case .equal, .notEqual, .less, .lessEqual, .greater, .greaterEqual:
                for (side, t) in [(lhs, a), (rhs, b)] where t.type.isBoolean {
                    error("'\(op.rawValue)' compares numbers, but this is a comparison", at: side.range)
                    return nil
                }
                return TypedExpr(.binary(op, a, b), ValueType(joined.level, joined.extent, boolean: true), range)
            default:
                for (side, t) in [(lhs, a), (rhs, b)] where t.type.isBoolean {
                    error(
                        "'\(op.rawValue)' needs numbers, but this is a comparison", at: side.range,
                        notes: [.init("use 'if … then … else …' to choose between values")])
                    return nil
                }
                return TypedExpr(.binary(op, a, b), joined, range)
            }
        case .conditional(let c, let yes, let no, let range):
            let cc = expr(c)
            let a = expr(yes)
            let b = expr(no)
            guard let cc, let a, let b else { return nil }
            if !cc.type.isBoolean {
                error(
                    "the condition must be a comparison, but this is a number", at: c.range,
                    notes: [.init("for example: if \(source.text(c.range)) > 0 then …")])
                return nil
            }
            if a.type.isBoolean != b.type.isBoolean {
                error("both branches must be numbers or both comparisons", at: range)
                return nil
            }
            guard let branches = ValueType.join(a.type, b.type), let all = ValueType.join(branches, cc.type) else {
                error("cannot combine \(a.type) with \(b.type)", at: range)
                return nil
            }
            return TypedExpr(.conditional(cc, a, b), ValueType(all.level, all.extent, boolean: a.type.isBoolean), range)
        case .call(let callee, let arguments, let range):
            return call(callee, arguments, range, preferredStateName: preferredStateName)
        }
    }

    private mutating func name(_ id: Identifier) -> TypedExpr? {
        if !inGroup && RecipeChecker.groupOnly.contains(id.name) {
            error("'\(id.name)' is only available inside a group", at: id.range)
            return nil
        }
        if let (symbol, _) = lookup(id.name) {
            switch symbol {
            case .hyper(let i):
                hyperUsed[i] = true
                return TypedExpr(.hyper(i), .global, id.range)
            case .local(let i):
                group.localUsed[i] = true
                return TypedExpr(.local(i), group.localTypes[i], id.range)
            case .state(let i):
                return TypedExpr(.state(i), group.states[i].type, id.range)
            case .predefined(let kind, let type):
                return TypedExpr(kind, type, id.range)
            case .module:
                error(
                    "'\(id.name)' is an imported recipe; name one of its hyperparameters, e.g. '\(id.name).lr'",
                    at: id.range)
                return nil
            }
        }
        if let b = Builtin(rawValue: id.name) {
            if b == .zeros || b == .ones {
                return TypedExpr(.call(b, [], BuiltinOptions(), state: nil), .tensor, id.range)
            }
            error("'\(id.name)' is a function; call it with arguments: \(id.name)(…)", at: id.range)
            return nil
        }
        var notes: [Diagnostic.Note] = []
        if let close = Suggestion.closest(to: id.name, among: visibleNames()) {
            notes.append(.init("did you mean '\(close)'?"))
        }
        error("unknown name '\(id.name)'", at: id.range, notes: notes)
        return nil
    }

    private mutating func memberHyper(_ module: Identifier, _ member: Identifier) -> TypedExpr? {
        guard let m = modules.firstIndex(where: { $0.alias.name == module.name }) else {
            error("'\(module.name)' is not an imported recipe", at: module.range)
            return nil
        }
        guard let recipe = modules[m].recipe else { return nil }
        guard let index = recipe.hypers.firstIndex(where: { $0.name == member.name }) else {
            var notes: [Diagnostic.Note] = []
            if let close = Suggestion.closest(to: member.name, among: recipe.hypers.map(\.name)) {
                notes.append(.init("did you mean '\(close)'?"))
            }
            error("recipe '\(module.name)' has no hyperparameter '\(member.name)'", at: member.range, notes: notes)
            return nil
        }
        let ours = namespacedHyper(module: m, index: index)
        return TypedExpr(.hyper(ours), .global, module.range.union(member.range))
    }

    // MARK: Calls

    private mutating func call(
        _ callee: [Identifier], _ arguments: [Argument], _ range: SourceRange, preferredStateName: String?
    ) -> TypedExpr? {
        let calleeRange = callee.first!.range.union(callee.last!.range)
        guard callee.count == 1 else {
            error(
                "'\(callee.map(\.name).joined(separator: "."))' is not a function; imported groups are used with 'use'",
                at: calleeRange)
            return nil
        }
        let fname = callee[0].name
        guard let builtin = Builtin(rawValue: fname) else {
            var notes: [Diagnostic.Note] = []
            if let close = Suggestion.closest(to: fname, among: Builtin.allCases.map(\.rawValue)) {
                notes.append(.init("did you mean '\(close)'?"))
            }
            if lookup(fname) != nil {
                error("'\(fname)' is not a function", at: calleeRange, notes: notes)
            } else {
                error("unknown function '\(fname)'", at: calleeRange, notes: notes)
            }
            return nil
        }
        let signature = Signature.of(builtin)
        // Match arguments to parameters: positional first, then by name.
        var slots = [Argument?](repeating: nil, count: signature.parameters.count)
        var sawLabel = false
        var ok = true
        for (i, argument) in arguments.enumerated() {
            if let label = argument.label {
                sawLabel = true
                guard let p = signature.names.firstIndex(of: label.name) else {
                    var notes: [Diagnostic.Note] = []
                    if let close = Suggestion.closest(to: label.name, among: signature.names) {
                        notes.append(.init("did you mean '\(close)'?"))
                    }
                    notes.append(.init(usage(builtin)))
                    error("'\(fname)' has no argument named '\(label.name)'", at: label.range, notes: notes)
                    ok = false
                    continue
                }
                if slots[p] != nil {
                    error("argument '\(label.name)' is given twice", at: label.range)
                    ok = false
                    continue
                }
                slots[p] = argument
            } else {
                if sawLabel {
                    error("positional arguments must come before named ones", at: argument.range)
                    ok = false
                    continue
                }
                guard i < slots.count else {
                    error(
                        "'\(fname)' takes \(signature.parameters.count) argument\(signature.parameters.count == 1 ? "" : "s"), got \(arguments.count)",
                        at: argument.range, notes: [.init(usage(builtin))])
                    ok = false
                    break
                }
                slots[i] = argument
            }
        }
        guard ok else { return nil }
        var values: [TypedExpr] = []
        var options = BuiltinOptions()
        for (p, parameter) in signature.parameters.enumerated() {
            let argument = slots[p]
            switch parameter {
            case .value(let pname):
                guard let argument else {
                    error("'\(fname)' is missing argument '\(pname)'", at: range, notes: [.init(usage(builtin))])
                    return nil
                }
                guard let v = expr(argument.value) else { return nil }
                if v.type.isBoolean {
                    error(
                        "argument '\(pname)' of '\(fname)' must be a number, not a comparison", at: argument.value.range
                    )
                    return nil
                }
                values.append(v)
            case .optionalValue(_, let fallback):
                if let argument {
                    guard let v = expr(argument.value) else { return nil }
                    values.append(v)
                } else {
                    values.append(TypedExpr(.constant(fallback), .global, range))
                }
            case .flag(let pname, let fallback):
                guard let argument else {
                    if pname == "nesterov" { options.nesterov = fallback } else { options.ema = fallback }
                    continue
                }
                guard case .boolean(let b, _) = argument.value else {
                    error("'\(pname)' must be 'true' or 'false'", at: argument.value.range)
                    return nil
                }
                if pname == "nesterov" { options.nesterov = b } else { options.ema = b }
            case .count(let pname, let fallback):
                guard let argument else {
                    options.steps = fallback
                    continue
                }
                guard case .number(let n, _, _) = argument.value, n == n.rounded(), n >= 0, n <= 100 else {
                    error("'\(pname)' must be a whole number from 0 to 100", at: argument.value.range)
                    return nil
                }
                options.steps = Int(n)
            case .kind(let pname, let allowed, let fallback):
                guard let argument else {
                    guard let fallback else {
                        error(
                            "'\(fname)' is missing argument '\(pname)' (one of \(allowed.map(\.rawValue).joined(separator: ", ")))",
                            at: range)
                        return nil
                    }
                    options.kind = fallback
                    continue
                }
                guard let kind = normKind(argument.value, allowed, fname) else { return nil }
                options.kind = kind
            case .optionalKind(_, let allowed):
                if let argument {
                    guard let kind = normKind(argument.value, allowed, fname) else { return nil }
                    options.kind = kind
                }
            case .normaliser(let pname):
                guard let argument else { continue }
                guard case .name(let id) = argument.value, id.name == "max" || id.name == "mean" else {
                    error("'\(pname)' must be 'max' or 'mean'", at: argument.value.range)
                    return nil
                }
                options.byMean = id.name == "mean"
            }
        }
        return typeCall(builtin, values, options, range, arguments, preferredStateName: preferredStateName)
    }

    private func usage(_ b: Builtin) -> String {
        let parts = Signature.of(b).parameters.map { p -> String in
            switch p {
            case .value(let n): return n
            case .optionalValue(let n, let d): return "\(n): \(ConstantEvaluator.format(d))"
            case .flag(let n, let d): return "\(n): \(d)"
            case .count(let n, let d): return "\(n): \(d)"
            case .kind(let n, let allowed, let d):
                return d.map { "\(n): \($0.rawValue)" } ?? allowed.map(\.rawValue).joined(separator: "|")
            case .optionalKind(_, let allowed): return "[" + allowed.map(\.rawValue).joined(separator: "|") + "]"
            case .normaliser(let n): return "\(n): max|mean"
            }
        }
        return "usage: \(b.rawValue)(\(parts.joined(separator: ", ")))"
    }

    private mutating func normKind(_ e: Expr, _ allowed: [NormKind], _ fname: String) -> NormKind? {
        guard case .name(let id) = e else {
            error("expected one of \(allowed.map(\.rawValue).joined(separator: ", ")) here", at: e.range)
            return nil
        }
        guard let kind = NormKind(rawValue: id.name), allowed.contains(kind) else {
            var notes: [Diagnostic.Note] = []
            if let close = Suggestion.closest(to: id.name, among: allowed.map(\.rawValue)) {
                notes.append(.init("did you mean '\(close)'?"))
            }
            error(
                "'\(fname)' does not know the kind '\(id.name)' (expected \(allowed.map(\.rawValue).joined(separator: ", ")))",
                at: id.range, notes: notes)
            return nil
        }
        return kind
    }

    /// Level and shape rules per built-in.
    private mutating func typeCall(
        _ b: Builtin, _ args: [TypedExpr], _ options: BuiltinOptions, _ range: SourceRange, _ written: [Argument],
        preferredStateName: String?
    ) -> TypedExpr? {
        func make(_ type: ValueType, state: Int? = nil) -> TypedExpr {
            TypedExpr(.call(b, args, options, state: state), type, range)
        }
        func needTensor(_ i: Int, _ what: String) -> Bool {
            let a = args[i]
            if a.type.level != .tensor || a.type.extent != .full {
                error("'\(b.rawValue)' needs a tensor like the parameter, but \(what) is \(a.type)", at: a.range)
                return false
            }
            return true
        }
        func needScalar(_ i: Int, _ what: String) -> Bool {
            if args[i].type.level == .tensor {
                error("'\(what)' of '\(b.rawValue)' must be a scalar, but this is \(args[i].type)", at: args[i].range)
                return false
            }
            return true
        }
        func groupOnly() -> Bool {
            if !inGroup {
                error("'\(b.rawValue)' is only available inside a group", at: range)
                return false
            }
            return true
        }
        switch b {
        case .momentum, .emaVariance:
            guard groupOnly(), needScalar(1, "beta") else { return nil }
            var type = args[0].type
            if type.level == .global { type = .layer }
            var base = preferredStateName ?? b.rawValue
            if group.states.contains(where: { $0.name == base }) || group.stateIndex[base] != nil {
                var n = 2
                while group.states.contains(where: { $0.name == "\(base)\(n)" }) { n += 1 }
                base = "\(base)\(n)"
            }
            group.states.append(
                StateSlot(name: base, type: type, initial: .fill(TypedExpr(.constant(0), .global, range)), range: range)
            )
            return make(type, state: group.states.count - 1)
        case .orthogonalize:
            guard groupOnly(), needTensor(0, "its argument") else { return nil }
            requireMatrix("'orthogonalize'", at: range)
            return make(.tensor)
        case .dualnorm, .norm:
            guard groupOnly(), needTensor(0, "its argument") else { return nil }
            let kind = options.kind!
            if kind.needsMatrix { requireMatrix("the \(kind.rawValue) norm", at: range) }
            if kind == .row { return make(ValueType(.tensor, .row)) }
            if kind == .col { return make(ValueType(.tensor, .column)) }
            return make(.layer)
        case .layerLR, .groupMax, .groupMean, .groupSum:
            guard groupOnly() else { return nil }
            let a = args[0]
            if a.type.level != .layer {
                let hint =
                    a.type.level == .tensor
                    ? "reduce it to one number per layer first, e.g. norm(…)" : "it is the same for every layer already"
                error(
                    "'\(b.rawValue)' needs a per-layer scalar, but this is \(a.type)", at: a.range, notes: [.init(hint)]
                )
                return nil
            }
            return make(b == .layerLR ? .layer : .global)
        case .sqrt, .rsqrt, .abs, .sign, .exp, .log, .square:
            return make(args[0].type)
        case .min, .max, .clamp, .lerp:
            var type = args[0].type
            for a in args.dropFirst() {
                guard let j = ValueType.join(type, a.type) else {
                    error("cannot combine \(type) with \(a.type)", at: range)
                    return nil
                }
                type = j
            }
            return make(type)
        case .sum, .mean, .rms:
            guard groupOnly(), needTensor(0, "its argument") else { return nil }
            if options.kind == .row { return make(ValueType(.tensor, .row)) }
            if options.kind == .col { return make(ValueType(.tensor, .column)) }
            return make(.layer)
        case .constant, .linearWarmup, .cosineDecay, .wsd:
            for (i, a) in args.enumerated() where a.type.level != .global {
                error(
                    "schedule arguments must be global scalars, but '\(Signature.of(b).names[i])' is \(a.type)",
                    at: a.range)
                return nil
            }
            return make(.global)
        case .zeros, .ones:
            if options.kind == .row { return make(ValueType(.tensor, .row)) }
            if options.kind == .col { return make(ValueType(.tensor, .column)) }
            return make(.tensor)
        }
    }
}

/// The per-group state of the checker while it walks a group's statements.
private struct GroupBuilder {
    var name = ""
    var matricesOnly = false
    var selectorRange = SourceRange.none
    var states: [StateSlot] = []
    var stateIndex: [String: Int] = [:]
    var locals: [String] = []
    var localIndex: [String: Int] = [:]
    var localRanges: [SourceRange] = []
    var localUsed: [Bool] = []
    var localTypes: [ValueType] = []
    var statements: [CheckedStatement] = []
    var matrixCalls: [(String, SourceRange, String)] = []
}

/// Renumbers an inlined group's slots and substitutes its hyperparameters.
struct Remap {
    var hypers: [Int: TypedExpr]
    var localBase: Int
    var stateBase: Int
    /// The `use` statement that inlines the group: its expressions take this range, since
    /// their own ranges are offsets into another file.
    var site: SourceRange? = nil

    func expr(_ e: TypedExpr) -> TypedExpr {
        var out = e
        if let site { out.range = site }
        switch e.kind {
        case .hyper(let i):
            if let replacement = hypers[i] { return replacement }
        case .local(let i): out.kind = .local(i + localBase)
        case .state(let i): out.kind = .state(i + stateBase)
        case .unary(let op, let a): out.kind = .unary(op, expr(a))
        case .binary(let op, let a, let b): out.kind = .binary(op, expr(a), expr(b))
        case .conditional(let a, let b, let c): out.kind = .conditional(expr(a), expr(b), expr(c))
        case .call(let builtin, let args, let options, let state):
            out.kind = .call(builtin, args.map(expr), options, state: state.map { $0 + stateBase })
        default: break
        }
        return out
    }

    func statement(_ s: CheckedStatement) -> CheckedStatement {
        switch s {
        case .bind(let i, let e): return .bind(i + localBase, expr(e))
        case .setState(let i, let e): return .setState(i + stateBase, expr(e))
        case .update(let op, let e): return .update(op, expr(e))
        case .log(let name, let e): return .log(name, expr(e))
        }
    }
}
