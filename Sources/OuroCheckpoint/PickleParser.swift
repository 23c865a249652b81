/// A pickle reader that builds data and never executes anything. It understands the opcodes
/// of protocols 0–5 that plain data and torch checkpoints use; globals go through
/// `TorchGlobals` (an allowlist, everything else opaque). Any malformed input, unknown opcode or
/// out-of-range read throws a `CheckpointError` giving the opcode's byte offset.
struct PickleParser {
    /// The parsed object and the heap its containers live in.
    struct Result {
        let root: PickleValue
        let heap: PickleHeap
    }

    private let b: [UInt8]
    private let file: String
    private let entry: String
    private var i = 0
    private var opStart = 0
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    private var heap = PickleHeap()

    /// Parses `bytes` (the pickle stored as `entry` in `file`).
    static func parse(_ bytes: [UInt8], file: String, entry: String) throws -> Result {
        var p = PickleParser(b: bytes, file: file, entry: entry)
        let root = try p.run()
        return Result(root: root, heap: p.heap)
    }

    private init(b: [UInt8], file: String, entry: String) {
        self.b = b
        self.file = file
        self.entry = entry
    }

    private func fail(_ m: String) -> CheckpointError {
        let op = opStart < b.count ? "0x" + String(b[opStart], radix: 16) : "end"
        return CheckpointError(file: file, key: entry, "pickle opcode \(op) at offset \(opStart): \(m)")
    }

    // MARK: reading the byte stream

    private mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, n <= b.count - i else { throw fail("needs \(n) bytes but only \(b.count - i) remain (truncated pickle)") }
        defer { i += n }
        return b[i ..< i + n]
    }

    private mutating func uint(_ n: Int) throws -> UInt64 {
        var v: UInt64 = 0
        for (k, byte) in try take(n).enumerated() { v |= UInt64(byte) << (8 * UInt64(k)) }
        return v
    }

    private mutating func length(_ n: Int) throws -> Int {
        let v = try uint(n)
        guard v <= UInt64(b.count - i) else { throw fail("length \(v) exceeds the \(b.count - i) bytes left (truncated pickle)") }
        return Int(v)
    }

    private mutating func line() throws -> [UInt8] {
        guard let nl = b[i...].firstIndex(of: 0x0A) else { throw fail("unterminated text line") }
        defer { i = nl + 1 }
        return Array(b[i ..< nl])
    }

    private mutating func textLine() throws -> String {
        let l = try line()
        guard let s = String(validating: l, as: UTF8.self) else { throw fail("text argument is not UTF-8") }
        return s
    }

    private func utf8(_ bytes: ArraySlice<UInt8>) throws -> String {
        guard let s = String(validating: bytes, as: UTF8.self) else { throw fail("string is not valid UTF-8") }
        return s
    }

    private func latin1(_ bytes: some Sequence<UInt8>) -> String {
        String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
    }

    // MARK: the stack

    private mutating func push(_ v: PickleValue) { stack.append(v) }

    private mutating func pop() throws -> PickleValue {
        guard stack.count > (marks.last ?? 0) else { throw fail("stack underflow") }
        return stack.removeLast()
    }

    private func top() throws -> PickleValue {
        guard stack.count > (marks.last ?? 0) else { throw fail("stack underflow") }
        return stack[stack.count - 1]
    }

    /// Items pushed since the last MARK (removed from the stack, mark dropped).
    private mutating func popMark() throws -> [PickleValue] {
        guard let m = marks.popLast() else { throw fail("no MARK on the stack") }
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items
    }

    private mutating func memoGet(_ k: Int) throws -> PickleValue {
        guard let v = memo[k] else { throw fail("memo key \(k) was never stored") }
        return v
    }

    private func decimal(_ s: String) throws -> Int {
        guard let v = Int(s), v >= 0 else { throw fail("bad memo index '\(s)'") }
        return v
    }

    /// Two's-complement little-endian integer of LONG1/LONG4.
    private func long(_ bytes: ArraySlice<UInt8>) -> PickleValue {
        if bytes.isEmpty { return .int(0) }
        if bytes.count > 8 { return .bigInt(bytes: bytes.count) }
        var v: UInt64 = 0
        for (k, byte) in bytes.enumerated() { v |= UInt64(byte) << (8 * UInt64(k)) }
        let bits = UInt64(bytes.count * 8)
        if bits < 64, bytes.last! & 0x80 != 0 { v |= ~0 << bits }
        return .int(Int64(bitPattern: v))
    }

    // MARK: containers

    private mutating func setItems(_ pairs: [PickleValue]) throws {
        guard pairs.count % 2 == 0 else { throw fail("SETITEMS with an odd number of items") }
        let target = try top()
        switch target {
        case .dict(let d):
            var k = 0
            while k < pairs.count { heap.dicts[d].set(pairs[k], pairs[k + 1]); k += 2 }
        case .opaque, .invalid: break // Would call an unknown __setitem__: ignore.
        default: throw fail("SETITEM on \(target.kind)")
        }
    }

    private mutating func appendItems(_ items: [PickleValue]) throws {
        let target = try top()
        switch target {
        case .list(let l): heap.lists[l].append(contentsOf: items)
        case .opaque, .invalid: break // Would call an unknown append/extend: ignore.
        default: throw fail("APPEND on \(target.kind)")
        }
    }

    // MARK: text forms (protocol 0)

    /// Python `repr` of a byte string, as STRING writes it: quotes and backslash escapes.
    private func unquote(_ l: [UInt8]) throws -> String {
        guard l.count >= 2, let q = l.first, q == l.last, q == 0x27 || q == 0x22 else { throw fail("STRING argument is not quoted") }
        var out: [UInt8] = []
        var k = 1
        while k < l.count - 1 {
            let c = l[k]; k += 1
            guard c == 0x5C, k < l.count - 1 else { out.append(c); continue }
            let e = l[k]; k += 1
            switch e {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "x"):
                guard k + 2 <= l.count - 1, let h = UInt8(String(decoding: l[k ..< k + 2], as: UTF8.self), radix: 16) else {
                    throw fail("bad \\x escape in STRING")
                }
                out.append(h); k += 2
            default: out.append(e)
            }
        }
        return latin1(out)
    }

    /// raw-unicode-escape text of UNICODE: latin-1 bytes with \uXXXX and \UXXXXXXXX escapes.
    private func rawUnicode(_ l: [UInt8]) throws -> String {
        var out = String.UnicodeScalarView()
        var k = 0
        while k < l.count {
            if l[k] == 0x5C, k + 1 < l.count, l[k + 1] == UInt8(ascii: "u") || l[k + 1] == UInt8(ascii: "U") {
                let n = l[k + 1] == UInt8(ascii: "u") ? 4 : 8
                guard k + 2 + n <= l.count, let v = UInt32(String(decoding: l[k + 2 ..< k + 2 + n], as: UTF8.self), radix: 16),
                      let s = Unicode.Scalar(v) else { throw fail("bad escape in UNICODE") }
                out.append(s); k += 2 + n
            } else {
                out.append(Unicode.Scalar(l[k])); k += 1
            }
        }
        return String(out)
    }

    // MARK: the machine

    private mutating func run() throws -> PickleValue {
        while true {
            opStart = i
            guard i < b.count else { throw fail("pickle ends without STOP (truncated)") }
            let op = b[i]
            i += 1
            switch op {
            case 0x80: // PROTO
                let v = try uint(1)
                guard v <= 5 else { throw fail("unsupported pickle protocol \(v)") }
            case 0x95: _ = try uint(8) // FRAME: framing only, the opcodes follow inline.
            case 0x2E: return try pop() // STOP
            case 0x28: marks.append(stack.count) // MARK
            case 0x30: // POP
                if stack.count > (marks.last ?? 0) { stack.removeLast() } else { _ = try popMark() }
            case 0x31: _ = try popMark() // POP_MARK
            case 0x32: push(try top()) // DUP

            // Scalars.
            case 0x4E: push(.none)
            case 0x88: push(.bool(true))
            case 0x89: push(.bool(false))
            case 0x4A: push(.int(Int64(Int32(bitPattern: UInt32(try uint(4)))))) // BININT
            case 0x4B: push(.int(Int64(try uint(1)))) // BININT1
            case 0x4D: push(.int(Int64(try uint(2)))) // BININT2
            case 0x8A: push(long(try take(try length(1)))) // LONG1
            case 0x8B: // LONG4
                let n = try uint(4)
                guard n <= UInt64(b.count - i) else { throw fail("LONG4 length \(n) exceeds the input") }
                push(long(try take(Int(n))))
            case 0x49: // INT
                let s = try textLine()
                if s == "01" { push(.bool(true)) } else if s == "00" { push(.bool(false)) }
                else if let v = Int64(s) { push(.int(v)) } else { push(.bigInt(bytes: s.count)) }
            case 0x4C: // LONG
                var s = try textLine()
                if s.hasSuffix("L") { s.removeLast() }
                push(Int64(s).map { .int($0) } ?? .bigInt(bytes: s.count))
            case 0x47: push(.float(Double(bitPattern: try uint(8).byteSwapped))) // BINFLOAT: big-endian
            case 0x46: // FLOAT
                guard let d = Double(try textLine()) else { throw fail("bad FLOAT text") }
                push(.float(d))

            // Strings and bytes.
            case 0x58: push(.string(try utf8(try take(try length(4))))) // BINUNICODE
            case 0x8C: push(.string(try utf8(try take(try length(1))))) // SHORT_BINUNICODE
            case 0x8D: push(.string(try utf8(try take(try length(8))))) // BINUNICODE8
            case 0x56: push(.string(try rawUnicode(try line()))) // UNICODE
            case 0x53: push(.string(try unquote(try line()))) // STRING
            case 0x54: push(.string(latin1(try take(try length(4))))) // BINSTRING
            case 0x55: push(.string(latin1(try take(try length(1))))) // SHORT_BINSTRING
            case 0x42: push(.bytes(Array(try take(try length(4))))) // BINBYTES
            case 0x43: push(.bytes(Array(try take(try length(1))))) // SHORT_BINBYTES
            case 0x8E, 0x96: push(.bytes(Array(try take(try length(8))))) // BINBYTES8, BYTEARRAY8
            case 0x97: throw fail("NEXT_BUFFER: out-of-band buffers are not supported")
            case 0x98: _ = try top() // READONLY_BUFFER: no effect on data.

            // Containers.
            case 0x7D: push(heap.dict()) // EMPTY_DICT
            case 0x64: // DICT
                let items = try popMark()
                guard items.count % 2 == 0 else { throw fail("DICT with an odd number of items") }
                var d = PickleDict()
                var k = 0
                while k < items.count { d.set(items[k], items[k + 1]); k += 2 }
                push(heap.dict(d))
            case 0x73: // SETITEM
                let v = try pop(), k = try pop()
                try setItems([k, v])
            case 0x75: try setItems(try popMark()) // SETITEMS
            case 0x5D: push(heap.list([])) // EMPTY_LIST
            case 0x6C: push(heap.list(try popMark())) // LIST
            case 0x61: try appendItems([try pop()]) // APPEND
            case 0x65: try appendItems(try popMark()) // APPENDS
            case 0x29: push(heap.tuple([])) // EMPTY_TUPLE
            case 0x74: push(heap.tuple(try popMark())) // TUPLE
            case 0x85: push(heap.tuple([try pop()])) // TUPLE1
            case 0x86: // TUPLE2
                let y = try pop(), x = try pop()
                push(heap.tuple([x, y]))
            case 0x87: // TUPLE3
                let z = try pop(), y = try pop(), x = try pop()
                push(heap.tuple([x, y, z]))
            case 0x8F: push(heap.set([])) // EMPTY_SET
            case 0x90: // ADDITEMS
                let items = try popMark()
                let target = try top()
                switch target {
                case .set(let s): heap.sets[s].append(contentsOf: items)
                case .opaque, .invalid: break
                default: throw fail("ADDITEMS on \(target.kind)")
                }
            case 0x91: push(heap.set(try popMark())) // FROZENSET

            // Memo.
            case 0x71: memo[Int(try uint(1))] = try top() // BINPUT
            case 0x72: memo[Int(try uint(4))] = try top() // LONG_BINPUT
            case 0x70: memo[try decimal(try textLine())] = try top() // PUT
            case 0x94: memo[memo.count] = try top() // MEMOIZE
            case 0x68: push(try memoGet(Int(try uint(1)))) // BINGET
            case 0x6A: push(try memoGet(Int(try uint(4)))) // LONG_BINGET
            case 0x67: push(try memoGet(try decimal(try textLine()))) // GET

            // Globals and objects: interpreted as data, never executed.
            case 0x63: // GLOBAL
                let module = try textLine(), name = try textLine()
                push(.global(module: module, name: name))
            case 0x93: // STACK_GLOBAL
                let n = try pop(), m = try pop()
                guard case .string(let module) = m, case .string(let name) = n else {
                    throw fail("STACK_GLOBAL needs two strings, found \(m.kind) and \(n.kind)")
                }
                push(.global(module: module, name: name))
            case 0x52: // REDUCE
                let args = try pop(), callee = try pop()
                push(TorchGlobals.call(callee, args, &heap))
            case 0x81: // NEWOBJ
                _ = try pop()
                let cls = try pop()
                push(TorchGlobals.newObject(cls, &heap))
            case 0x92: // NEWOBJ_EX
                _ = try pop(); _ = try pop()
                let cls = try pop()
                push(TorchGlobals.newObject(cls, &heap))
            case 0x69: // INST
                let module = try textLine(), name = try textLine()
                _ = try popMark()
                push(TorchGlobals.newObject(.global(module: module, name: name), &heap))
            case 0x6F: // OBJ
                let items = try popMark()
                guard let cls = items.first else { throw fail("OBJ without a class") }
                push(TorchGlobals.newObject(cls, &heap))
            case 0x62: // BUILD: would set object state; the state is data we do not need.
                _ = try pop()
                _ = try top()
            case 0x51: push(TorchGlobals.persistentLoad(try pop(), heap)) // BINPERSID
            case 0x50: push(TorchGlobals.persistentLoad(.string(try textLine()), heap)) // PERSID
            case 0x82, 0x83, 0x84: throw fail("EXT opcodes (copyreg extension registry) are not supported")
            default:
                throw fail("unknown opcode")
            }
        }
    }
}
