extension String {
    /// The UTF-8 text of a C character buffer up to its first NUL (all of it when there is none),
    /// for the fixed-size buffers C APIs fill in (names, error and compile logs).
    public init(nulTerminated chars: some Collection<CChar>) {
        self.init(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
