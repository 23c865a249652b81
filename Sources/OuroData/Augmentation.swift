import OuroEngine

/// Training augmentation: a random integer shift and a random horizontal flip.
///
/// Per image, exactly three numbers are drawn from the generator, in this order:
/// dx = nextInt(below: 2·maxShift+1) − maxShift, dy likewise, flip = nextUniform() < flipProbability.
/// The same generator state therefore always gives the same images.
public struct Augmentation: Sendable, Equatable {
    /// Largest shift in pixels along x and along y (≥ 0).
    public var maxShift: Int
    /// Probability of a horizontal flip (0 never, 1 always).
    public var flipProbability: Double

    /// Defaults: shifts of −2…2 px, flip half of the time.
    public init(maxShift: Int = 2, flipProbability: Double = 0.5) {
        self.maxShift = maxShift
        self.flipProbability = flipProbability
    }

    /// One drawn augmentation.
    public struct Transform: Sendable, Equatable {
        /// Shift to the right (negative: left), in pixels.
        public var dx: Int
        /// Shift down (negative: up), in pixels.
        public var dy: Int
        /// Mirror left–right (applied before the shift).
        public var flip: Bool

        /// A transform; `identity` leaves images unchanged.
        public init(dx: Int = 0, dy: Int = 0, flip: Bool = false) {
            self.dx = dx
            self.dy = dy
            self.flip = flip
        }

        /// No shift, no flip.
        public static let identity = Transform()
    }

    /// Throws unless `maxShift` ≥ 0 and `flipProbability` is a number.
    public func validate(context: String = "Augmentation") throws {
        guard maxShift >= 0 else { throw DataError(context, "maxShift \(maxShift), expected ≥ 0") }
        guard !flipProbability.isNaN else { throw DataError(context, "flipProbability is NaN, expected 0…1") }
    }

    /// Draws the next transform (three draws, see the type's documentation).
    public func draw(using rng: inout Xoshiro256StarStar) -> Transform {
        let m = Swift.max(0, maxShift)
        let dx = rng.nextInt(below: 2 * m + 1) - m
        let dy = rng.nextInt(below: 2 * m + 1) - m
        let flip = rng.nextUniform() < flipProbability
        return Transform(dx: dx, dy: dy, flip: flip)
    }

    /// Applies `t` to one planar (C, H, W) image: output(y, x) = source(y − dy, x' − dx) where
    /// x' mirrors x when flipping; pixels shifted in from outside are 0.
    public static func apply<C: Collection>(_ t: Transform, to image: C, channels: Int, height: Int,
                                            width: Int) throws -> [UInt8] where C.Element == UInt8 {
        guard channels > 0, height > 0, width > 0, image.count == channels * height * width else {
            throw DataError("Augmentation.apply", "\(image.count) bytes, expected \(channels)×\(height)×\(width)")
        }
        let src = Array(image)
        var out = [UInt8](repeating: 0, count: src.count)
        // Only the rows and columns whose source lies inside the image are written.
        let y0 = max(0, t.dy), y1 = min(height, height + t.dy)
        let x0 = max(0, t.dx), x1 = min(width, width + t.dx)
        guard y0 < y1, x0 < x1 else { return out }
        for c in 0..<channels {
            let plane = c * height * width
            for y in y0..<y1 {
                let srow = plane + (y - t.dy) * width, drow = plane + y * width
                for x in x0..<x1 {
                    let sx = x - t.dx
                    out[drow + x] = src[srow + (t.flip ? width - 1 - sx : sx)]
                }
            }
        }
        return out
    }
}
