// Where the store lives, parsed from --store: `sqlite:PATH` or
// `postgresql://...` (also `postgres://`), with the password masked for every
// message that names it. Not a full URL parser: libpq reads the URL itself.

public enum StoreURL: Sendable, Equatable, CustomStringConvertible {
    case sqlite(path: String)
    case postgresql(String)

    public static let defaultValue = "sqlite:/var/lib/qmail-remote-httpd/state.db"

    /// Throws, saying what is expected, when the text is neither form.
    public init(parsing text: String) throws(StoreOpenError) {
        if text.hasPrefix("sqlite:") {
            var path = String(text.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path = String(path.dropFirst(2)) }
            guard !path.isEmpty, !path.utf8.contains(0) else {
                throw StoreOpenError(url: .sqlite(path: path), reason: .cannotOpen("sqlite: needs a file path"))
            }
            self = .sqlite(path: path)
        } else if text.hasPrefix("postgresql://") || text.hasPrefix("postgres://") {
            guard !text.utf8.contains(0) else {
                throw StoreOpenError(url: .postgresql(text), reason: .cannotOpen("NUL in the URL"))
            }
            self = .postgresql(text)
        } else {
            throw StoreOpenError(
                url: .sqlite(path: text), reason: .cannotOpen("expected sqlite:PATH or postgresql://..."))
        }
    }

    /// The URL with any password replaced by `***`.
    public var masked: String {
        switch self {
        case .sqlite(let path): return "sqlite:" + path
        case .postgresql(let url): return Self.maskPassword(url)
        }
    }

    public var description: String { masked }

    static func maskPassword(_ url: String) -> String {
        var text = url
        // scheme://user:password@host...: the userinfo ends at the last '@' before the path.
        var characters = Array(text)
        if let schemeEnd = (0..<characters.count).first(where: { characters[$0...].starts(with: "://") }) {
            let authorityStart = schemeEnd + 3
            let authorityEnd =
                characters[authorityStart...].firstIndex(where: { $0 == "/" || $0 == "?" }) ?? characters.endIndex
            if let at = characters[authorityStart..<authorityEnd].lastIndex(of: "@"),
                let colon = characters[authorityStart..<at].firstIndex(of: ":")
            {
                characters.replaceSubrange(colon + 1..<at, with: "***")
                text = String(characters)
            }
        }
        // ...?password=secret&...: a query parameter, as libpq also accepts.
        var parts = text.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        if parts.count == 2 {
            let masked = parts[1].split(separator: "&", omittingEmptySubsequences: false).map { pair in
                pair.lowercased().hasPrefix("password=") ? "password=***" : String(pair)
            }
            parts[1] = masked.joined(separator: "&")
            text = parts.joined(separator: "?")
        }
        return text
    }
}
