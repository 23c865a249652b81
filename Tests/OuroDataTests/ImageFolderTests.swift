import Foundation
import OuroData
import Testing

/// Writes a small JPEG or PNG of `w`×`h` with `channels` channels.
func writeImage(_ path: String, w: Int = 12, h: Int = 10, channels: Int = 3, seed: Int = 0) throws {
    let px = (0..<(w * h * channels)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ seed &* 31) }
    if path.hasSuffix(".png") {
        try RasterImage(width: w, height: h, channels: channels, pixels: px).writePNG(to: path)
    } else {
        try writeFile(path, try ImageDecoder.encodeJPEG(pixels: px, width: w, height: h, channels: channels))
    }
}

func makeDirs(_ paths: String...) throws {
    for p in paths { try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true) }
}

@Suite struct ImageFolderTests {
    @Test func parsesTheNewSpecs() throws {
        #expect(try DatasetSpec(parsing: "imagefolder:/data/val") == .imageFolder(directory: "/data/val"))
        #expect(try DatasetSpec(parsing: "filelist:/data/val.txt") == .fileList(file: "/data/val.txt"))
        for text in ["imagefolder:/a", "filelist:b.txt"] { #expect(try DatasetSpec(parsing: text).description == text) }
        #expect(throws: DataError.self) { try DatasetSpec(parsing: "imagefolder:") }
        #expect(throws: DataError.self) { try DatasetSpec(parsing: "filelist") }
        #expect(try ImageTransform(parsing: "vim") == .vim(cropRatio: 0.875))
        #expect(throws: DataError.self) { try ImageTransform(parsing: "bicubic") }
    }

    /// Class index = sorted folder position; files sorted within a class, subfolders included.
    @Test func followsTorchvisionOrder() throws {
        try withTempDir { d in
            try makeDirs(d + "/b_cat/sub", d + "/a_dog", d + "/C_upper")
            try writeImage(d + "/b_cat/z.jpg"); try writeImage(d + "/b_cat/a.PNG".lowercased())
            try writeImage(d + "/b_cat/sub/m.jpeg"); try writeImage(d + "/a_dog/1.png"); try writeImage(d + "/C_upper/x.jpg")
            let s = try ImageFileSource.imageFolder(d, classCount: 5, channels: 3, size: 12, transform: .vim(cropRatio: 0.875), policy: .fail)
            // Code-point order: "C_upper" < "a_dog" < "b_cat".
            #expect(Array(s.classNames.prefix(3)) == ["C_upper", "a_dog", "b_cat"])
            #expect(s.entries.map { String($0.path.dropFirst(d.count + 1)) } == ["C_upper/x.jpg", "a_dog/1.png", "b_cat/a.png", "b_cat/z.jpg", "b_cat/sub/m.jpeg"])
            #expect(s.entries.map(\.label) == [0, 1, 2, 2, 2])
            let b = try s.read([4, 0], threads: 2)
            #expect(b.images.count == 2 && b.images.labels == [2, 0] && b.indices == [4, 0] && b.bad.isEmpty)
            #expect(b.images.height == 12 && b.images.channels == 3)
        }
    }

    @Test func fileListResolvesRelativePaths() throws {
        try withTempDir { d in
            try makeDirs(d + "/imgs")
            try writeImage(d + "/imgs/a b.jpg"); try writeImage(d + "/imgs/c.png", channels: 1)
            try writeFile(d + "/list.txt", Array("# comment\nimgs/a b.jpg 3\n\nimgs/c.png 0\n".utf8))
            let s = try ImageFileSource.fileList(d + "/list.txt", classCount: 4, channels: 1, size: 12, transform: .vim(cropRatio: 0.875), policy: .fail)
            #expect(s.entries.map(\.label) == [3, 0])
            #expect(s.entries[0].path == d + "/imgs/a b.jpg")
            let b = try s.read([0, 1], threads: 1)
            #expect(b.images.channels == 1 && b.images.count == 2)
            try writeFile(d + "/bad.txt", Array("imgs/c.png x\n".utf8))
            let e = #expect(throws: DataError.self) {
                try ImageFileSource.fileList(d + "/bad.txt", classCount: 4, channels: 1, size: 12, transform: .none, policy: .fail)
            }
            #expect(e?.context == d + "/bad.txt:1")
        }
    }

    /// Every bad input names its file; `.skip` leaves it out and lists it instead.
    @Test func badInputsNameTheFile() throws {
        try withTempDir { d in
            try makeDirs(d + "/0", d + "/1", d + "/2")
            try writeImage(d + "/0/good.jpg")
            let jpg = try ImageDecoder.encodeJPEG(pixels: [UInt8](repeating: 90, count: 64 * 64 * 3), width: 64, height: 64, channels: 3)
            try writeFile(d + "/0/truncated.jpg", Array(jpg.prefix(jpg.count / 2)))
            var corrupt = jpg
            for i in 200..<min(400, corrupt.count) { corrupt[i] = 0xFF }
            try writeFile(d + "/1/corrupt.jpg", corrupt)
            try writeFile(d + "/1/text.png", Array("hello, not an image".utf8))
            var png = try RasterImage(width: 8, height: 8, channels: 3, pixels: [UInt8](repeating: 5, count: 192)).pngData()
            png[png.count / 2] ^= 0x55
            try writeFile(d + "/1/damaged.png", png)
            // Class folder 2 is empty.
            let s = try ImageFileSource.imageFolder(d, classCount: 3, channels: 3, size: 12, transform: .vim(cropRatio: 0.875), policy: .skip)
            #expect(s.listingProblems.map(\.path) == [d + "/2"])
            #expect(s.listingProblems[0].reason.contains("empty class folder"))
            let b = try s.read(Array(0..<s.count), threads: 2)
            #expect(b.images.count == 1 && b.indices == [0])
            #expect(Set(b.bad.map { String($0.path.dropFirst(d.count + 1)) }) == ["0/truncated.jpg", "1/corrupt.jpg", "1/text.png", "1/damaged.png"])
            #expect(b.bad.first { $0.path.hasSuffix("text.png") }?.reason.contains("not a JPEG or PNG") == true)

            let empty = #expect(throws: DataError.self) {
                try ImageFileSource.imageFolder(d, classCount: 3, channels: 3, size: 12, transform: .none, policy: .fail)
            }
            #expect(empty?.context == d + "/2")
            try writeImage(d + "/2/ok.png")
            let strict = try ImageFileSource.imageFolder(d, classCount: 3, channels: 3, size: 12, transform: .vim(cropRatio: 0.875), policy: .fail)
            for (i, e) in strict.entries.enumerated() where !e.path.hasSuffix("good.jpg") && !e.path.hasSuffix("ok.png") {
                let err = #expect(throws: DataError.self) { try strict.read([i], threads: 1) }
                #expect(err?.context == e.path)
            }
            // A non-image file name, and more classes than the model has.
            try writeFile(d + "/2/notes.txt", Array("x".utf8))
            let txt = #expect(throws: DataError.self) {
                try ImageFileSource.imageFolder(d, classCount: 3, channels: 3, size: 12, transform: .none, policy: .fail)
            }
            #expect(txt?.context == d + "/2/notes.txt")
            try? FileManager.default.removeItem(atPath: d + "/2/notes.txt")
            let range = #expect(throws: DataError.self) {
                try ImageFileSource.imageFolder(d, classCount: 2, channels: 3, size: 12, transform: .none, policy: .fail)
            }
            #expect(range?.message.contains("3 class folders, but the model has 2 classes") == true)
            let skipped = try ImageFileSource.imageFolder(d, classCount: 2, channels: 3, size: 12, transform: .none, policy: .skip)
            #expect(skipped.listingProblems.map(\.path) == [d + "/2/ok.png"])
            #expect(skipped.listingProblems[0].reason.contains("label 2 is out of range"))
        }
    }

    @Test func fileListLabelOutOfRange() throws {
        try withTempDir { d in
            try writeImage(d + "/a.jpg")
            try writeFile(d + "/l.txt", Array("a.jpg 10\n".utf8))
            let e = #expect(throws: DataError.self) {
                try ImageFileSource.fileList(d + "/l.txt", classCount: 10, channels: 3, size: 12, transform: .none, policy: .fail)
            }
            #expect(e?.context == d + "/a.jpg")
            #expect(e?.message.contains("label 10 is out of range, expected 0…9") == true)
        }
    }

    /// Decoding is the same for any thread count.
    @Test func threadCountDoesNotMatter() throws {
        try withTempDir { d in
            try makeDirs(d + "/a")
            for i in 0..<9 { try writeImage(d + "/a/\(i).jpg", w: 20 + i, h: 17 + 2 * i, seed: i) }
            let s = try ImageFileSource.imageFolder(d, classCount: 1, channels: 3, size: 14, transform: .vim(cropRatio: 0.875), policy: .fail)
            let one = try s.read(Array(0..<9), threads: 1), four = try s.read(Array(0..<9), threads: 4)
            #expect(one.images == four.images)
        }
    }
}

@Suite(.enabled(if: fashionAvailable, "Fashion-MNIST not installed (dataset-fashion-mnist)"))
struct FashionFolderTests {
    /// 1,000 Fashion-MNIST test images written as PNG into an imagefolder layout read back,
    /// with `--transform none`, as exactly the IDX bytes and labels.
    @Test func pngFolderEqualsIDX() throws {
        let test = try FashionMNIST.load(split: .test)
        try withTempDir { d in
            for (k, name) in FashionMNIST.classNames.enumerated() {
                try makeDirs(d + "/\(k)-\(name.replacingOccurrences(of: "/", with: "-"))")
            }
            let dirs = try FileManager.default.contentsOfDirectory(atPath: d).sorted()
            for i in 0..<1000 {
                let img = try test.image(at: i)
                try RasterImage(width: 28, height: 28, channels: 1, pixels: Array(img))
                    .writePNG(to: d + "/" + dirs[Int(test.labels[i])] + "/" + String(format: "%05d.png", i))
            }
            let s = try DatasetSpec(parsing: "imagefolder:" + d).open(split: .test, geometry: .init(classCount: 10, channels: 1, size: 28),
                                                                      transform: ImageTransform.none, policy: .fail)
            #expect(s.count == 1000)
            let b = try s.read(Array(0..<1000), threads: 2)
            // Folder order is by class, then name; map back through the file names.
            let files = (b.images.labels.indices).map { k in
                Int(URL(fileURLWithPath: (s as! ImageFileSource).entries[b.indices[k]].path).deletingPathExtension().lastPathComponent)!
            }
            for (k, i) in files.enumerated() {
                #expect(b.images.labels[k] == test.labels[i])
                #expect(Array(try b.images.image(at: k)) == Array(try test.image(at: i)))
            }
        }
    }
}
