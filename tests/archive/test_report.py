"""``streamfuse report OUT`` in a real headless browser (Debian's chromium and chromedriver through
Selenium): pages load with no console errors, a known clip's events sit at their times, a click on
an event shows its time and evidence, the search box filters, and nothing outside OUT is linked."""

from __future__ import annotations

import re
import shutil

import pytest

from .conftest import cli

pytestmark = pytest.mark.slow

#: subtitles (the truth: "bin blue at f two now" at 0.95-2.12 s), speech activity, loudness, motion
REPORT_SET = tuple(a for key in ("asr", "people", "objects", "sounds", "faces")
                   for a in ("--set", f"encoders.{key}.enabled=false"))


@pytest.fixture(scope="module")
def report(media, tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    clips = root / "clips"
    clips.mkdir()
    shutil.copy(media / "grid" / "bbaf2n.mpg", clips / "speaker <b>&amp;.mpg")  # markup in a name stays text
    shutil.copy(media / "grid" / "bbaf2n.vtt", clips / "speaker <b>&amp;.vtt")
    out = root / "out"
    proc = cli("analyze", str(clips), "-o", str(out), *REPORT_SET)
    assert proc.returncode == 0, proc.stderr
    made = cli("report", str(out))
    assert made.returncode == 0, made.stderr
    return out / "report"


@pytest.fixture(scope="module")
def browser():
    if not shutil.which("chromium") or not shutil.which("chromedriver"):
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    yield driver
    driver.quit()


def console_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


def test_page_shows_the_known_events_at_their_times_and_a_click_shows_the_evidence(report, browser):
    from selenium.webdriver.common.by import By

    pages = [p for p in report.glob("*.html") if p.name != "index.html"]
    assert len(pages) == 1
    browser.get(pages[0].as_uri())
    assert console_errors(browser) == []
    assert browser.find_element(By.CSS_SELECTOR, "header h1").text == "speaker <b>&amp;.mpg"
    duration = 3.0

    def place(lane: str):
        ev = browser.find_element(By.CSS_SELECTOR, f'.lane[data-type="{lane}"] .ev')
        track = browser.find_element(By.CSS_SELECTOR, f'.lane[data-type="{lane}"] .track')
        box, width = ev.rect, track.rect["width"]
        return ev, (box["x"] - track.rect["x"]) / width * duration, (box["x"] + box["width"] - track.rect["x"]) / width * duration

    ev, start, end = place("transcript")  # the subtitle cue: 0.95-2.12 s
    assert start == pytest.approx(0.95, abs=0.05) and end == pytest.approx(2.12, abs=0.05)
    _, start, end = place("speech")  # heard speech, by the voice activity detector
    assert start == pytest.approx(0.95, abs=0.25) and end == pytest.approx(2.12, abs=0.3)

    ev.click()
    assert browser.find_element(By.ID, "detail-type").text == "transcript"
    assert browser.find_element(By.ID, "detail-time").text == "0.95 s – 2.12 s"
    assert browser.find_element(By.ID, "detail-evidence").text.startswith("{")

    box = browser.find_element(By.ID, "search")
    box.send_keys("blue")
    marks = browser.find_elements(By.CSS_SELECTOR, "#transcript mark")
    assert [m.text for m in marks] == ["blue"]
    assert browser.find_elements(By.CSS_SELECTOR, '.lane[data-type="motion"] .ev.dim')  # no "blue" in motion
    assert not browser.find_elements(By.CSS_SELECTOR, '.lane[data-type="transcript"] .ev.dim')
    assert browser.find_elements(By.CSS_SELECTOR, ".thumbs img")  # key frames of the clip
    assert console_errors(browser) == []


def test_summary_page_links_every_input_and_nothing_outside_out(report, browser):
    from selenium.webdriver.common.by import By

    browser.get((report / "index.html").as_uri())
    assert console_errors(browser) == []
    links = browser.find_elements(By.CSS_SELECTOR, "td a")
    assert [a.text for a in links] == ["speaker <b>&amp;.mpg"]
    links[0].click()
    assert browser.find_element(By.CSS_SELECTOR, "header h1").text == "speaker <b>&amp;.mpg"
    for page in report.glob("*.html"):
        text = page.read_text()
        refs = re.findall(r'(?:src|href)="([^"]*)"', text)
        assert all(r.startswith("data:") or re.fullmatch(r"[\w.-]+\.html", r) for r in refs), refs
        assert "<b>&amp;" not in text.split('id="data">')[0]  # the name is data, never markup
