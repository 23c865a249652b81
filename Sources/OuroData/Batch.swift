import OuroEngine

extension ImageDataset {
    /// Builds a float batch in normalised space from the images at `indices`.
    ///
    /// value = (pixel/255 − mean[c]) / std[c]; `mean`/`std` hold one value per channel or a
    /// single value for all. With `augment`, each image (in `indices` order) draws its
    /// transform from `rng`; without it `rng` is not touched.
    ///
    /// - Returns: images `[B, C, H, W]` and their labels.
    /// - Throws: `DataError` for an index out of range or invalid mean/std/augmentation.
    public func batch(indices: [Int], mean: [Float], std: [Float], augment: Augmentation?,
                      rng: inout Xoshiro256StarStar) throws -> (images: Tensor, labels: [Int32]) {
        let ctx = "ImageDataset.batch"
        let norm = try Normalization(mean: mean, std: std, channels: channels, context: ctx)
        try augment?.validate(context: ctx)
        if let bad = indices.first(where: { !(0..<count).contains($0) }) {
            throw DataError(ctx, "index \(bad), expected 0..<\(count)")
        }
        let tables = (0..<channels).map { norm.table(channel: $0) }
        let plane = height * width
        var data = [Float](repeating: 0, count: indices.count * imageSize)
        var labelsOut: [Int32] = []
        labelsOut.reserveCapacity(indices.count)
        for (b, i) in indices.enumerated() {
            var img = pixels[(i * imageSize)..<((i + 1) * imageSize)]
            if let aug = augment {
                let t = aug.draw(using: &rng)
                if t != .identity {
                    img = try Augmentation.apply(t, to: img, channels: channels, height: height, width: width)[...]
                }
            }
            let base = img.startIndex, dst = b * imageSize
            for c in 0..<channels {
                let table = tables[c], off = c * plane
                for k in 0..<plane { data[dst + off + k] = table[Int(img[base + off + k])] }
            }
            labelsOut.append(labels[i])
        }
        return (Tensor(shape: [indices.count, channels, height, width], data: data), labelsOut)
    }

    /// An unaugmented batch (evaluation and calibration transform).
    public func batch(indices: [Int], mean: [Float], std: [Float]) throws -> (images: Tensor, labels: [Int32]) {
        var unused = Xoshiro256StarStar(seed: 0)
        return try batch(indices: indices, mean: mean, std: std, augment: nil, rng: &unused)
    }
}
