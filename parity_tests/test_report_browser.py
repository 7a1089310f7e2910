"""The report in a real browser: headless Chromium renders index.html and a case's page at wide, laptop and phone widths.

Checked inside the browser (a copy of the page with a small probe script, run by
``--dump-dom``): every table outside a closed <details> is laid out with a size,
every plot and diagram (inline SVG) drawn at full size on a laptop and at 0.6 or more on a phone, the page itself never scrolls sideways (wide tables scroll in
their own box), and the Content-Security-Policy reported no blocked load — the page
asked for nothing outside itself. The phone width is an <iframe> 390 CSS pixels
wide, because headless Chromium's window is never narrower than 500.

Screenshots are kept in reports/artifacts/ (git-ignored) for a human to look at:
report-wide.png, report-laptop.png, report-phone.png (the top of the full report's index.html) and
case-laptop.png, case-phone.png (one whole case's page, cases/courtial-l2.html).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
from pathlib import Path

import pytest

from backprop_parity.reference import registry
from backprop_parity.reports.render import CSP
from backprop_parity.reports.report import write_report

from .report_support import full_report, keep, results

pytestmark = pytest.mark.cost(16)     # its tests' seconds, summed (conftest: the costliest files start first)

PHONE, LAPTOP, WIDE = 390, 1280, 1920        # the widths issue 11 names: a phone, a laptop, a wide screen
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         "--disable-extensions", "--mute-audio"]

PROBE = """<script>
var violations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  violations.push(e.violatedDirective + ' ' + e.blockedURI);
});
window.addEventListener('load', function () {
  setTimeout(function () {
    var input = document.querySelector('#find input'), first = document.querySelector('a.qa');
    var search = {box: !!input && input.offsetWidth > 0};
    if (input && first) {
      input.value = 'zzqqxx-nothing'; input.dispatchEvent(new Event('input'));
      search.nonsense = document.querySelectorAll('#find li').length;
      input.value = first.id.split('/').slice(1).join('/') + ' ' + first.id.split('/')[0];
      input.dispatchEvent(new Event('input'));
      var hrefs = Array.from(document.querySelectorAll('#find li a')).map(function (a) { return a.getAttribute('href'); });
      search.found = hrefs.length;
      search.finds_first = hrefs.indexOf(first.getAttribute('href')) >= 0;
      search.lost = hrefs.filter(function (h) { return !document.getElementById(h.split('#')[1]); });
    }
    var tabs = {count: document.querySelectorAll('.tabs').length};
    var box = document.querySelector('.tabs');
    if (box && box.querySelectorAll('label').length > 1) {     // CSS alone switches: click the second tab
      var panels = box.querySelectorAll('.panel'), shown = function (p) { return p.offsetHeight > 0; };
      tabs.first_then = [shown(panels[0]), shown(panels[1])];
      box.querySelectorAll('label')[1].click();
      tabs.second_then = [shown(panels[0]), shown(panels[1])];
    }
    var tables = Array.from(document.querySelectorAll('table'));
    var shown = tables.filter(function (t) { return !t.closest('details:not([open])'); });
    var imgs = Array.from(document.images);
    var svgs = Array.from(document.querySelectorAll('svg.plot, svg.diagram'));
    var scale = function (s) { return s.getBoundingClientRect().width / s.viewBox.baseVal.width; };
    var r = {tables: tables.length, shown_tables: shown.length,
             laid_out_tables: shown.filter(function (t) { return t.offsetWidth > 0 && t.offsetHeight > 0; }).length,
             images: imgs.length,
             decoded_images: imgs.filter(function (i) {
               return i.complete && i.naturalWidth > 0 && i.offsetWidth > 0 && i.offsetHeight > 0; }).length,
             plots: document.querySelectorAll('svg.plot').length, pictures: svgs.length,
             drawn_pictures: svgs.filter(function (s) { var b = s.getBoundingClientRect();
                                                        return b.width > 0 && b.height > 0; }).length,
             smallest_scale: Math.min.apply(null, svgs.map(scale)),
             inner_width: window.innerWidth, scroll_width: document.documentElement.scrollWidth,
             sections: document.querySelectorAll('section').length, violations: violations, search: search,
             tabs: tabs};
    var text = JSON.stringify(r);
    var pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = text;
    document.body.appendChild(pre);
    if (window.parent !== window) { window.parent.postMessage(text, '*'); }
  }, 50);
});
</script>"""

FRAME = """<!DOCTYPE html><html><head><meta charset="utf-8"><style>body{{margin:0}} iframe{{border:0;display:block}}</style>
<script>window.addEventListener('message', function (e) {{
  var pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = e.data; document.body.appendChild(pre);
}});</script></head><body><iframe src="{src}" width="{width}" height="{height}"></iframe></body></html>"""


def run_chromium(chromium, tmp: Path, url: str, width: int, height: int, *extra) -> subprocess.CompletedProcess:
    profile = tmp / f"profile-{width}-{height}"
    cmd = [chromium, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}", *extra, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


def probe_page(chromium, tmp: Path, index: Path, width: int) -> dict:
    """Load a probed copy of the page (directly, or in a frame `width` px wide) and read the probe's result."""
    page = index.read_text(encoding="utf-8")
    assert CSP in page
    # the probe is an inline script: the test copy's policy allows it by its hash, beside the page's own script
    probe = PROBE.split("<script>", 1)[1].rsplit("</script>", 1)[0]
    digest = base64.b64encode(hashlib.sha256(probe.encode("utf-8")).digest()).decode("ascii")
    assert "script-src '" in CSP
    page = page.replace(CSP, CSP.replace("script-src ", f"script-src 'sha256-{digest}' ", 1))
    page = page.replace("</head>", PROBE + "</head>", 1)
    copy = tmp / "probed.html"
    copy.write_text(page, encoding="utf-8")
    if width >= 500:
        target, window = copy, width
    else:
        target, window = tmp / f"frame-{width}.html", 500
        target.write_text(FRAME.format(src=copy.name, width=width, height=900), encoding="utf-8")
    done = run_chromium(chromium, tmp, target.as_uri(), window, 900, "--virtual-time-budget=20000", "--dump-dom")
    found = re.findall(r'<pre id="probe">([^<]*)</pre>', done.stdout)
    assert found, f"the probe did not report (chromium exit {done.returncode}): {done.stderr[-2000:]}"
    return json.loads(found[-1].replace("&quot;", '"'))


def screenshot(chromium, tmp: Path, index: Path, width: int, height: int, name: str) -> Path:
    target = tmp / name
    if width >= 500:
        url, window = index.as_uri(), width
    else:
        frame = tmp / f"shot-{name}.html"
        frame.write_text(FRAME.format(src=index.as_uri(), width=width, height=height), encoding="utf-8")
        url, window = frame.as_uri(), 500
    done = run_chromium(chromium, tmp, url, window, height, f"--screenshot={target}")
    assert target.is_file() and target.stat().st_size > 10_000, done.stderr[-2000:]
    if width < 500:                              # keep the phone's 390 pixels, not the window's 500
        from PIL import Image
        with Image.open(target) as im:
            im.crop((0, 0, width, im.height)).save(target)
    return keep(target, name)


def check(result: dict, width: int, plots: bool = True) -> None:
    """``plots``: a case's page draws its plots; index.html has none (its cases' pages do)."""
    assert result["inner_width"] == width, result
    assert result["violations"] == [], f"the page tried to load something: {result['violations']}"
    assert result["shown_tables"] > 0 and result["laid_out_tables"] == result["shown_tables"], result
    assert result["decoded_images"] == result["images"], result
    assert (result["plots"] > 0) == plots and result["drawn_pictures"] == result["pictures"], result
    # plots and diagrams scale down with the page, never cropped; at 0.6 their 11 px text is still 6.6 px
    assert not plots or result["smallest_scale"] >= (1.0 if width >= 1000 else 0.6), result
    assert result["scroll_width"] <= result["inner_width"], f"the page scrolls sideways at {width} px: {result}"
    # the search box: the page's own script ran under its policy (by hash), found the first printed quantity by its
    # name and case, linked only places on the page (or, from the index, places on a case's page whose id is on
    # the index's contents line too), and said so when nothing matched
    search = result["search"]
    assert search["box"] and search["found"] >= 1 and search["finds_first"] and search["lost"] == [], search
    assert search["nonsense"] == 0, search
    if plots:                # a case's page: each card's code tabs, the first shown, a click on another shows it
        tabs = result["tabs"]
        assert tabs["count"] > 0 and tabs["first_then"] == [True, False] and tabs["second_then"] == [False, True], tabs


@pytest.fixture(scope="module")
def full(chromium):
    out, res = full_report()
    return out / "index.html", res


@pytest.mark.parametrize("width", [WIDE, LAPTOP, PHONE])
def test_full_report_renders(chromium, full, tmp_path, width):
    index, res = full
    result = probe_page(chromium, tmp_path, index, width)
    check(result, width, plots=False)
    assert result["sections"] == len(res)
    name = {WIDE: "report-wide.png", LAPTOP: "report-laptop.png", PHONE: "report-phone.png"}[width]
    screenshot(chromium, tmp_path, index, width, 2400, name)
    biggest = max((index.parent / "cases").glob("*.html"), key=lambda p: p.stat().st_size)
    check(probe_page(chromium, tmp_path, biggest, width), width)


@pytest.mark.parametrize("width", [LAPTOP, PHONE])
def test_one_case_renders(chromium, tmp_path, width):
    """One whole case's page (with errata, a training curve and every table), screenshot top to bottom."""
    out = tmp_path / "case-report"
    backends = list(registry.names())
    write_report(results(["courtial-l2"], backends), out, backends)
    keep(out, "case-report")
    page = out / "cases" / "courtial-l2.html"
    result = probe_page(chromium, tmp_path, page, width)
    check(result, width)
    name = "case-laptop.png" if width == LAPTOP else "case-phone.png"
    screenshot(chromium, tmp_path, page, width, 9000 if width == LAPTOP else 16000, name)
