import Dispatch

/// Process-independent default: the machine's active core count.
public enum Hardware {
    /// Active processor count.
    public static var cores: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// The CPU's name from /proc/cpuinfo ("unknown CPU" elsewhere), to label measured figures.
    public static var cpuName: String {
        guard let f = fopen("/proc/cpuinfo", "r") else { return "unknown CPU" }
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 512)
        while fgets(&line, Int32(line.count), f) != nil {
            let s = String(nulTerminated: line)
            if s.hasPrefix("model name"), let colon = s.firstIndex(of: ":") {
                var name = s[s.index(after: colon)...].drop(while: \.isWhitespace)
                while name.last?.isWhitespace == true { name = name.dropLast() }
                return String(name)
            }
        }
        return "unknown CPU"
    }
}

#if canImport(Glibc)
import Glibc
import OuroSupport
#endif
