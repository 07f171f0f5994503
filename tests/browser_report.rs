//! The report as a browser shows it: headless Chromium opens report.html
//! of the bundled sample and takes a screenshot, which must have the size
//! asked for and be drawn (not a blank page); and lays out the reports of
//! a date-only log with revenue in the millions and of a retail log (with
//! the trends, cohorts and lifetime value drawn), at a desktop's width, a
//! tablet's and a phone's, where no key figure may overflow its card and
//! nothing may reach past its section (measured by a script added to a
//! copy of the page: the report itself has none).
//!
//! Needs a Chromium binary (`chromium`, `chromium-browser` or
//! `google-chrome` on PATH, or `SEGMINT_CHROMIUM`). Without one the test
//! says so and passes, unless `SEGMINT_REQUIRE_BROWSER=1` (set by CI, whose
//! script installs the Debian package), where it fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cli_report::{date_only_log, retail_log};

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

/// Chromium, or `None` (with a message) when there is none and none is
/// required.
fn chromium_or_skip() -> Option<PathBuf> {
    let found = find_chromium();
    if found.is_none() {
        if std::env::var("SEGMINT_REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!("SEGMINT_REQUIRE_BROWSER=1 but no chromium was found");
        }
        eprintln!("skipping the browser test: no chromium on PATH (set SEGMINT_CHROMIUM)");
    }
    found
}

#[test]
fn the_report_renders_in_a_browser() {
    let Some(chromium) = chromium_or_skip() else {
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

/// Measures, once the page is laid out, every key figure's card: the
/// card, its label, value and note must each hold their content
/// (`scrollWidth <= clientWidth`; the value is cut with an ellipsis, not
/// wrapped, so a figure too wide would show here) and the card must lie
/// within the grid. Writes `{"cards": N, "bad": [...]}` into
/// `pre#overflow`.
const MEASURE: &str = r#"<script>
(function () {
  var bad = [];
  var grid = document.querySelector('.kpis');
  var right = grid.getBoundingClientRect().right;
  var cards = document.querySelectorAll('.kpi');
  cards.forEach(function (card) {
    var key = card.getAttribute('data-key');
    var parts = [card].concat(Array.prototype.slice.call(card.querySelectorAll('.label, .value, .why')));
    parts.forEach(function (e) {
      if (e.scrollWidth > e.clientWidth || e.scrollHeight > e.clientHeight + 1) {
        bad.push(key + ' ' + (e.className || 'card') + ': ' + e.scrollWidth + 'x' + e.scrollHeight
          + ' in ' + e.clientWidth + 'x' + e.clientHeight + ' (' + e.textContent + ')');
      }
    });
    if (card.getBoundingClientRect().right > right + 0.5) {
      bad.push(key + ': past the grid');
    }
  });
  if (grid.scrollWidth > grid.clientWidth) {
    bad.push('the grid overflows');
  }
  // Nothing in a section reaches past it: wide tables scroll inside
  // their own box (.scroll), charts shrink to fit.
  document.querySelectorAll('main > section').forEach(function (section) {
    var edge = section.getBoundingClientRect().right;
    if (section.scrollWidth > section.clientWidth) {
      bad.push('section ' + section.id + ' overflows: ' + section.scrollWidth + ' in ' + section.clientWidth);
    }
    section.querySelectorAll('*').forEach(function (e) {
      if (e.closest('.scroll') && !e.classList.contains('scroll')) {
        return;
      }
      var r = e.getBoundingClientRect();
      if (r.width > 0 && r.right > edge + 0.5) {
        bad.push('section ' + section.id + ': ' + e.tagName.toLowerCase()
          + (e.id ? '#' + e.id : '') + (e.className && e.className.baseVal === undefined ? '.' + e.className : '')
          + ' ends at ' + Math.round(r.right) + ', past ' + Math.round(edge));
      }
    });
  });
  var out = document.createElement('pre');
  out.id = 'overflow';
  out.textContent = JSON.stringify({ cards: cards.length, bad: bad });
  document.body.appendChild(out);
})();
</script>"#;

/// `html` with the text of every `<span class="{class}">` replaced by
/// `text`.
fn replace_spans(html: &str, class: &str, text: &str) -> String {
    let open = format!("<span class=\"{class}\">");
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find(&open) {
        let inner = at + open.len();
        let end = inner + rest[inner..].find("</span>").expect("a closed span");
        out.push_str(&rest[..inner]);
        out.push_str(text);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// The DOM of `page` once Chromium has laid it out in a window `width`
/// pixels wide.
fn dump_dom(chromium: &Path, page: &Path, width: u32, dir: &Path) -> String {
    let dom = dir.join(format!("dom-{width}.html"));
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
                "--dump-dom",
            ])
            .arg(format!(
                "--user-data-dir={}",
                dir.join(format!("profile-{width}")).display()
            ))
            .arg(format!("--window-size={width},{HEIGHT}"))
            .arg(format!("file://{}", page.display()))
            // To a file: a pipe could fill up while we wait.
            .stdout(std::fs::File::create(&dom).unwrap())
            .stderr(Stdio::null()),
        Duration::from_secs(120),
    );
    assert!(status.success(), "chromium exited with {status}");
    std::fs::read_to_string(dom).unwrap()
}

/// The report of `log` (written to `page`), and its HTML.
fn report(log: &Path, page: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_segmint"))
        .args(["--quiet", "--device", "cpu", "report"])
        .arg(log)
        .args(["--k-range", "2..4", "-o"])
        .arg(page)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(page).unwrap();
    assert!(!html.contains("<script"), "the report has no script");
    html
}

/// The key figures' cards on a page (those of the lifetime section
/// included).
fn cards(html: &str) -> usize {
    scraper::Html::parse_document(html)
        .select(&scraper::Selector::parse(".kpi").unwrap())
        .count()
}

/// Lays `page` out at each width and checks the measurement: `cards`
/// cards, none overflowing, nothing past its section.
fn fits_at_widths(chromium: &Path, page: &Path, cards: usize, dir: &Path) {
    for width in [1280, 800, 380] {
        let dom = dump_dom(chromium, page, width, dir);
        let doc = scraper::Html::parse_document(&dom);
        let result: String = doc
            .select(&scraper::Selector::parse("pre#overflow").unwrap())
            .next()
            .unwrap_or_else(|| panic!("no measurement at {width} px: {dom:.500}"))
            .text()
            .collect();
        let result: serde_json::Value = serde_json::from_str(&result).unwrap();
        assert_eq!(result["cards"], cards, "{result}");
        assert_eq!(
            result["bad"],
            serde_json::json!([]),
            "{} at {width} px wide",
            page.display()
        );
    }
}

/// A retail log's report, where the trends, cohorts and lifetime value
/// sections are drawn: nothing overflows at a desktop's, a tablet's or a
/// phone's width.
#[test]
fn the_retail_report_fits_at_any_width() {
    let Some(chromium) = chromium_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let html = report(&retail_log(dir.path()), &page);
    for id in ["chart-trends", "cohort-table", "lifetime-models"] {
        assert!(html.contains(&format!("id=\"{id}\"")), "{id}");
    }
    let measured = dir.path().join("measured.html");
    std::fs::write(
        &measured,
        html.replace("</body>", &format!("{MEASURE}\n</body>")),
    )
    .unwrap();
    fits_at_widths(&chromium, &measured, cards(&html), dir.path());
    if let Some(keep) = std::env::var_os("SEGMINT_SCREENSHOT_RETAIL") {
        screenshot(
            &chromium,
            &page,
            Path::new(&keep),
            &dir.path().join("profile"),
        );
    }
}

#[test]
fn key_figures_fit_their_cards_at_any_width() {
    let Some(chromium) = chromium_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = date_only_log(dir.path());
    let page = dir.path().join("report.html");
    let html = report(&log, &page);
    let measured = dir.path().join("measured.html");
    std::fs::write(
        &measured,
        html.replace("</body>", &format!("{MEASURE}\n</body>")),
    )
    .unwrap();
    // The widest figure the formatters write (money below 10,000, in
    // full) on every card, under a long label with a long word in it.
    let widest = dir.path().join("widest.html");
    std::fs::write(
        &widest,
        replace_spans(
            &replace_spans(&html, "value", "-9,999.99"),
            "label",
            "Revenue of users at risk over the observation window, \
             net_of_refunds_and_chargebacks_in_every_currency_unit",
        )
        .replace("</body>", &format!("{MEASURE}\n</body>")),
    )
    .unwrap();
    // A desktop, a tablet, a phone.
    let cards = cards(&html);
    for page in [&measured, &widest] {
        fits_at_widths(&chromium, page, cards, dir.path());
    }
    if let Some(keep) = std::env::var_os("SEGMINT_SCREENSHOT_DATE_ONLY") {
        screenshot(
            &chromium,
            &page,
            Path::new(&keep),
            &dir.path().join("profile"),
        );
    }
}
