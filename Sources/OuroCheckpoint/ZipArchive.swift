/// Read-only access to an uncompressed (stored, method 0) zip archive such as `torch.save`
/// writes. The central directory is the source of truth (torch sets the data-descriptor flag
/// and zeroes sizes in local headers). Zip64 end records and extra fields are honoured. Every
/// offset is bounds-checked and every entry's CRC-32 is verified when it is read.
struct ZipArchive {
    struct Entry {
        let name: String
        let crc: UInt32
        let size: Int
        /// Offset of the entry's first data byte.
        let dataOffset: Int
    }

    let view: ByteView
    /// Entries in central-directory order.
    let entries: [Entry]
    private let byName: [String: Int]

    var file: String { view.file }

    init(view: ByteView) throws {
        self.view = view
        let file = view.file
        func fail(_ key: String, _ m: String) -> CheckpointError { CheckpointError(file: file, key: key, m) }

        // End of central directory: 22 bytes plus a comment of at most 65535 bytes.
        guard view.count >= 22 else { throw fail("zip", "file of \(view.count) bytes is too short for a zip archive") }
        var eocd = -1
        var p = view.count - 22
        let lowest = max(0, view.count - 22 - 0xFFFF)
        while p >= lowest {
            if try view.u32(p, "end of central directory") == 0x0605_4B50,
               Int(try view.u16(p + 20, "zip comment length")) == view.count - p - 22 {
                eocd = p
                break
            }
            p -= 1
        }
        guard eocd >= 0 else { throw fail("zip", "no end-of-central-directory record (not a zip, or truncated)") }
        var count = Int(try view.u16(eocd + 10, "entry count"))
        var cdSize = Int(try view.u32(eocd + 12, "central directory size"))
        var cdOffset = Int(try view.u32(eocd + 16, "central directory offset"))

        // Zip64: locator (20 bytes) right before the classic record points at the zip64 record.
        if eocd >= 20, try view.u32(eocd - 20, "zip64 locator") == 0x0706_4B50 {
            let rec64 = try view.u64(eocd - 12, "zip64 end record offset")
            guard rec64 <= UInt64(eocd - 20) else { throw fail("zip64 end record", "offset \(rec64) is outside the file") }
            let r = Int(rec64)
            guard try view.u32(r, "zip64 end record") == 0x0606_4B50 else {
                throw fail("zip64 end record", "bad signature at offset \(r)")
            }
            let c64 = try view.u64(r + 32, "zip64 entry count")
            let s64 = try view.u64(r + 40, "zip64 central directory size")
            let o64 = try view.u64(r + 48, "zip64 central directory offset")
            guard c64 <= UInt64(view.count), s64 <= UInt64(view.count), o64 <= UInt64(view.count) else {
                throw fail("zip64 end record", "counts or offsets exceed the file size \(view.count)")
            }
            count = Int(c64); cdSize = Int(s64); cdOffset = Int(o64)
        } else if count == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF {
            throw fail("zip", "zip64 sizes announced but no zip64 end record found")
        }
        guard cdOffset <= eocd, cdSize <= eocd - cdOffset else {
            throw fail("central directory", "offset \(cdOffset) + size \(cdSize) runs past the end record at \(eocd)")
        }
        // Each central header is at least 46 bytes; rules out absurd counts before allocating.
        guard count <= cdSize / 46 else {
            throw fail("central directory", "\(count) entries cannot fit in \(cdSize) bytes")
        }

        var entries: [Entry] = []
        entries.reserveCapacity(count)
        var byName: [String: Int] = [:]
        var q = cdOffset
        let cdEnd = cdOffset + cdSize
        for k in 0..<count {
            let what = "central directory entry \(k)"
            guard q + 46 <= cdEnd else { throw fail(what, "runs past the end of the central directory") }
            guard try view.u32(q, what) == 0x0201_4B50 else { throw fail(what, "bad signature at offset \(q)") }
            let flags = try view.u16(q + 8, what)
            let method = try view.u16(q + 10, what)
            let crc = try view.u32(q + 16, what)
            var csize = UInt64(try view.u32(q + 20, what))
            var usize = UInt64(try view.u32(q + 24, what))
            let nameLen = Int(try view.u16(q + 28, what))
            let extraLen = Int(try view.u16(q + 30, what))
            let commentLen = Int(try view.u16(q + 32, what))
            var local = UInt64(try view.u32(q + 42, what))
            guard q + 46 + nameLen + extraLen + commentLen <= cdEnd else {
                throw fail(what, "name/extra/comment run past the end of the central directory")
            }
            let nameBytes = try view.bytes(q + 46, nameLen, what)
            guard let name = String(validating: nameBytes, as: UTF8.self) else { throw fail(what, "entry name is not UTF-8") }
            // Zip64 extended information: only the fields saturated in the fixed header, in order.
            var e = q + 46 + nameLen
            let extraEnd = e + extraLen
            while e + 4 <= extraEnd {
                let id = try view.u16(e, name)
                let len = Int(try view.u16(e + 2, name))
                guard e + 4 + len <= extraEnd else { throw fail(name, "extra field runs past its area") }
                if id == 0x0001 {
                    var f = e + 4
                    func next() throws -> UInt64 {
                        guard f + 8 <= e + 4 + len else { throw fail(name, "zip64 extra field is too short") }
                        defer { f += 8 }
                        return try view.u64(f, name)
                    }
                    if usize == 0xFFFF_FFFF { usize = try next() }
                    if csize == 0xFFFF_FFFF { csize = try next() }
                    if local == 0xFFFF_FFFF { local = try next() }
                }
                e += 4 + len
            }
            q += 46 + nameLen + extraLen + commentLen

            guard flags & 1 == 0 else { throw fail(name, "entry is encrypted") }
            guard method == 0 else {
                throw fail(name, "entry is compressed (method \(method)); only stored (method 0) entries are supported")
            }
            guard csize == usize else { throw fail(name, "stored entry has compressed size \(csize) ≠ size \(usize)") }
            guard local <= UInt64(cdOffset), usize <= UInt64(cdOffset) else {
                throw fail(name, "local header offset \(local) or size \(usize) lies outside the data area")
            }
            let lo = Int(local)
            guard try view.u32(lo, name) == 0x0403_4B50 else { throw fail(name, "bad local header signature at offset \(lo)") }
            let lNameLen = Int(try view.u16(lo + 26, name))
            let lExtraLen = Int(try view.u16(lo + 28, name))
            guard try view.bytes(lo + 30, lNameLen, name) == nameBytes else {
                throw fail(name, "local header name differs from the central directory")
            }
            let dataOffset = lo + 30 + lNameLen + lExtraLen
            guard dataOffset <= cdOffset, Int(usize) <= cdOffset - dataOffset else {
                throw fail(name, "data (\(usize) bytes at \(dataOffset)) runs into the central directory")
            }
            guard byName[name] == nil else { throw fail(name, "duplicate entry name") }
            byName[name] = entries.count
            entries.append(Entry(name: name, crc: crc, size: Int(usize), dataOffset: dataOffset))
        }
        self.entries = entries
        self.byName = byName
    }

    func entry(_ name: String) -> Entry? { byName[name].map { entries[$0] } }

    /// Calls `body` with the entry's bytes after verifying their CRC-32 (no copy).
    func withVerifiedBytes<R>(_ e: Entry, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try view.withBytes(e.dataOffset, e.size, e.name) { p in
            let crc = CRC32.checksum(p)
            guard crc == e.crc else {
                throw CheckpointError(file: file, key: e.name,
                                      "CRC-32 mismatch: stored \(hex(e.crc)), computed \(hex(crc)) (corrupt file)")
            }
            return try body(p)
        }
    }

    /// The entry's bytes, CRC-verified.
    func read(_ e: Entry) throws -> [UInt8] {
        try withVerifiedBytes(e) { [UInt8]($0) }
    }

    private func hex(_ v: UInt32) -> String { "0x" + String(v, radix: 16) }
}
