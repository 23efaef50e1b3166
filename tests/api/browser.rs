//! A small WebDriver harness: headless Chromium through chromedriver. Prints a visible SKIP
//! where no browser is installed, and fails instead when `KEYWARD_REQUIRE_BROWSER=1`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

/// Browser tests run one at a time: each starts its own Chromium, and the machine has 2 cores.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub struct Browser {
    pub client: Client,
    driver: Child,
    profile: PathBuf,
    /// Held by a test's first browser; a second one in the same test (`beside`) shares it.
    _turn: Option<tokio::sync::MutexGuard<'static, ()>>,
}

fn find(candidates: &[&str], env: &str) -> Option<PathBuf> {
    if let Ok(p) = std::env::var(env) {
        return Some(PathBuf::from(p));
    }
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

/// Chromium and chromedriver, where installed.
fn binaries() -> (Option<PathBuf>, Option<PathBuf>) {
    let chromium = find(
        &[
            "/usr/bin/chromium",
            "/usr/bin/chromium-browser",
            "/usr/bin/google-chrome",
        ],
        "KEYWARD_CHROMIUM",
    );
    let driver = find(
        &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"],
        "KEYWARD_CHROMEDRIVER",
    );
    (chromium, driver)
}

pub struct Options {
    pub javascript: bool,
    pub width: u32,
    pub height: u32,
    /// Refuse every host name but loopback (proves a page needs no outside network).
    pub loopback_only: bool,
    /// Ask pages for the dark colour scheme (`prefers-color-scheme: dark`).
    pub dark: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            javascript: true,
            width: 1280,
            height: 900,
            loopback_only: false,
            dark: false,
        }
    }
}

impl Browser {
    /// A fresh headless Chromium, or `None` (after printing SKIP) when none is installed.
    pub async fn start(test: &str) -> Option<Self> {
        Self::start_with(test, Options::default()).await
    }

    pub async fn start_with(test: &str, opts: Options) -> Option<Self> {
        let (chromium, driver) = binaries();
        let (Some(chromium), Some(driver_bin)) = (chromium, driver) else {
            if std::env::var("KEYWARD_REQUIRE_BROWSER").as_deref() == Ok("1") {
                panic!("KEYWARD_REQUIRE_BROWSER=1 but chromium/chromedriver are not installed");
            }
            eprintln!(
                "SKIP {test}: browser test skipped (chromium and chromedriver not installed)"
            );
            return None;
        };
        let turn = ONE_AT_A_TIME.lock().await;
        Some(Self::launch(&chromium, driver_bin, opts, Some(turn)).await)
    }

    /// A second browser with a cookie jar of its own (another profile and WebDriver session),
    /// as a second person at another computer; shares the test's turn.
    pub async fn beside(&self, opts: Options) -> Self {
        let (chromium, driver) = binaries();
        Self::launch(&chromium.unwrap(), driver.unwrap(), opts, None).await
    }

    async fn launch(
        chromium: &std::path::Path,
        driver_bin: PathBuf,
        opts: Options,
        turn: Option<tokio::sync::MutexGuard<'static, ()>>,
    ) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = crate::helpers::temp_dir();
        let mut args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            format!("--window-size={},{}", opts.width, opts.height),
            format!("--user-data-dir={}", profile.display()),
        ];
        if opts.loopback_only {
            args.push("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1".to_owned());
            args.push("--proxy-server=127.0.0.1:9".to_owned());
            args.push("--proxy-bypass-list=127.0.0.1".to_owned());
        }
        let mut blink = Vec::new();
        if !opts.javascript {
            blink.push("scriptEnabled=false");
        }
        if opts.dark {
            args.push("--force-dark-mode".to_owned());
            blink.push("preferredColorScheme=0");
        }
        if !blink.is_empty() {
            args.push(format!("--blink-settings={}", blink.join(",")));
        }
        let caps = json!({
            "goog:chromeOptions": {
                "binary": chromium.display().to_string(),
                "args": args,
                "prefs": { "profile.managed_default_content_settings.javascript": if opts.javascript { 1 } else { 2 } }
            }
        });
        let url = format!("http://127.0.0.1:{port}");
        let mut last_err = None;
        for _ in 0..100 {
            let mut builder = ClientBuilder::new(HttpConnector::new());
            builder.capabilities(caps.as_object().unwrap().clone());
            match builder.connect(&url).await {
                Ok(client) => {
                    return Self {
                        client,
                        driver,
                        profile,
                        _turn: turn,
                    };
                }
                Err(e) => last_err = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("could not start a WebDriver session: {last_err:?}");
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    pub async fn find(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        el.clear().await.unwrap();
        el.send_keys(text).await.unwrap();
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap();
    }

    pub async fn source(&self) -> String {
        self.client.source().await.unwrap()
    }

    pub async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_owned()
    }

    /// Waits until the page source satisfies `pred` (htmx swaps, navigation).
    pub async fn wait_until(&self, what: &str, pred: impl Fn(&str) -> bool) {
        for _ in 0..100 {
            if pred(&self.source().await) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "timed out waiting for {what}; page:\n{}",
            self.source().await
        );
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    /// Runs JavaScript and returns its result.
    pub async fn js(&self, script: &str) -> serde_json::Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// Serious and critical axe-core violations on the current page, as readable lines.
    pub async fn axe(&self) -> Vec<String> {
        const AXE: &str = include_str!("../fixtures/axe.min.js");
        self.client.execute(AXE, vec![]).await.unwrap();
        let script = r#"
            const done = arguments[arguments.length - 1];
            axe.run(document, { resultTypes: ["violations"] }).then(r => done(
                r.violations
                    .filter(v => v.impact === "serious" || v.impact === "critical")
                    .map(v => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.map(n => n.target.join(" ")).slice(0, 3).join(", ")}`)
            ));
        "#;
        let out = self.client.execute_async(script, vec![]).await.unwrap();
        serde_json::from_value(out).unwrap()
    }

    /// Ends the session (Chromium quits) and stops chromedriver.
    pub async fn finish(mut self) {
        let client = self.client.clone();
        let _ = client.close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}
