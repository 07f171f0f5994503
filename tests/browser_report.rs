//! The report as a browser shows it: headless Chromium opens report.html
//! of the bundled sample and takes a screenshot, which must have the size
//! asked for and be drawn (not a blank page).
//!
//! Needs a Chromium binary (`chromium`, `chromium-browser` or
//! `google-chrome` on PATH, or `SEGMINT_CHROMIUM`). Without one the test
//! says so and passes, unless `SEGMINT_REQUIRE_BROWSER=1` (set by CI, whose
//! script installs the Debian package), where it fails.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const WIDTH: u32 = 1280;
const HEIGHT: u32 = 2000;

fn find_chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("SEGMINT_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Runs `command`, killing it after `limit`.
fn run_with_limit(command: &mut Command, limit: Duration) -> std::process::ExitStatus {
    let mut child = command.spawn().expect("start chromium");
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("chromium took more than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn screenshot(chromium: &Path, page: &Path, png: &Path, profile: &Path) {
    let status = run_with_limit(
        Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--hide-scrollbars",
                "--force-device-scale-factor=1",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("--window-size={WIDTH},{HEIGHT}"))
            .arg(format!("--screenshot={}", png.display()))
            .arg(format!("file://{}", page.display()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
        Duration::from_secs(120),
    );
    assert!(status.success(), "chromium exited with {status}");
}

#[test]
fn the_report_renders_in_a_browser() {
    let Some(chromium) = find_chromium() else {
        if std::env::var("SEGMINT_REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!("SEGMINT_REQUIRE_BROWSER=1 but no chromium was found");
        }
        eprintln!("skipping the browser test: no chromium on PATH (set SEGMINT_CHROMIUM)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let out = Command::new(env!("CARGO_BIN_EXE_segmint"))
        .args(["--quiet", "report"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/messaging_sample.csv"))
        .arg("-o")
        .arg(&page)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let png = dir.path().join("report.png");
    screenshot(&chromium, &page, &png, &dir.path().join("profile"));
    if let Some(keep) = std::env::var_os("SEGMINT_SCREENSHOT") {
        std::fs::copy(&png, keep).unwrap();
    }

    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((frame.width, frame.height), (WIDTH, HEIGHT));
    let channels = frame.color_type.samples();
    let pixels = &pixels[..frame.buffer_size()];
    // The page background is a light grey and the sections white: a
    // rendered report has plenty of darker ink (text, bars, heatmap
    // cells) and many colours; a blank or failed page has neither.
    let mut dark = 0usize;
    let mut colours = std::collections::HashSet::new();
    for px in pixels.chunks_exact(channels) {
        let (r, g, b) = (px[0], px[1], px[2]);
        if u32::from(r) + u32::from(g) + u32::from(b) < 3 * 160 {
            dark += 1;
        }
        colours.insert((r >> 3, g >> 3, b >> 3));
    }
    let total = (WIDTH * HEIGHT) as usize;
    assert!(
        dark * 100 > total,
        "only {dark} of {total} pixels are dark: the page looks blank"
    );
    assert!(colours.len() > 50, "only {} colours", colours.len());
}
