//! A browser's User-Agent shortened for the sessions page: "Chrome 156 on Linux".

/// Browsers, most specific first: Edge and Opera also say "Chrome", Chrome also says "Safari".
const BROWSERS: &[(&str, &str)] = &[
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("HeadlessChrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("CriOS/", "Chrome"),
    ("FxiOS/", "Firefox"),
    ("curl/", "curl"),
];

/// Systems, most specific first: Android also says "Linux", iOS also says "Mac OS X".
const SYSTEMS: &[(&str, &str)] = &[
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Macintosh", "macOS"),
    ("Linux", "Linux"),
];

/// The major version after `marker` (digits up to the first non-digit).
fn major_after(ua: &str, marker: &str) -> Option<String> {
    let rest = &ua[ua.find(marker)? + marker.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    (!digits.is_empty()).then_some(digits)
}

fn browser(ua: &str) -> Option<String> {
    let found = BROWSERS.iter().find(|(marker, _)| ua.contains(marker));
    if let Some((marker, name)) = found {
        return Some(match major_after(ua, marker) {
            Some(v) => format!("{name} {v}"),
            None => (*name).to_owned(),
        });
    }
    // Safari gives its own version as "Version/17.1 … Safari/605".
    ua.contains("Safari/")
        .then(|| match major_after(ua, "Version/") {
            Some(v) => format!("Safari {v}"),
            None => "Safari".to_owned(),
        })
}

/// "Chrome 156 on Linux"; "Unknown browser" when nothing is recognised.
pub fn describe(ua: Option<&str>) -> String {
    let ua = ua.unwrap_or_default();
    let system = SYSTEMS
        .iter()
        .find(|(marker, _)| ua.contains(marker))
        .map(|(_, name)| *name);
    match (browser(ua), system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b,
        (None, Some(s)) => format!("A browser on {s}"),
        (None, None) => "Unknown browser".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn common_browsers_are_named_with_their_major_version_and_system() {
        let cases = [
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.7000.1 Safari/537.36",
                "Chrome 156 on Linux",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.2849.68",
                "Edge 130 on Windows",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:132.0) Gecko/20100101 Firefox/132.0",
                "Firefox 132 on macOS",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
                "Safari 17 on iOS",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                "Chrome 131 on Android",
            ),
            ("curl/8.5.0", "curl 8"),
        ];
        for (ua, want) in cases {
            assert_eq!(describe(Some(ua)), want, "{ua}");
        }
    }

    #[test]
    fn an_unknown_or_missing_agent_says_so() {
        assert_eq!(describe(None), "Unknown browser");
        assert_eq!(describe(Some("x")), "Unknown browser");
    }
}
