"""Figures and the HTML report: plot functions return their artists; the page parses and every image resolves."""

from __future__ import annotations

import base64
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from calolab.report import render_report, write_report
from calolab.validate import ClassifierResult, ValidationResult, run_validation
from calolab.validate.plots import figure_name, plot_classifier, plot_histogram, plot_profile

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class _Page(HTMLParser):
    """Collects the <img> sources and alt texts, table headers and the text of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[tuple[str, str]] = []
        self.headers: list[str] = []
        self.text: list[str] = []
        self._in_th = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "img":
            self.images.append((values.get("src") or "", values.get("alt") or ""))
        self._in_th = tag == "th"

    def handle_endtag(self, tag: str) -> None:
        self._in_th = False if tag == "th" else self._in_th

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_th:
            self.headers.append(data)


def _classifier() -> ClassifierResult:
    edges = np.linspace(0, 1, 21)
    return ClassifierResult("high-level", 0.62, 0.02, 0.05, 0.66, 30, 300, 100, 100, 12, 9, 1.0, 0, edges,
                            np.arange(20.0), np.arange(20.0)[::-1])


@pytest.fixture(scope="module")
def result(tiny_files: dict[str, Path]) -> ValidationResult:
    result = run_validation(tiny_files["reference"], tiny_files["candidate"],
                            config={"classifier": False, "bins": 15})
    result.classifiers["high-level"] = _classifier()  # a classifier panel without training one
    return result


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, result: ValidationResult) -> Path:
    """index.html with embedded images; the figures drawn once, for every test here."""
    return write_report(result, tmp_path_factory.mktemp("report") / "report")


def test_plot_functions_return_their_artists(result: ValidationResult) -> None:
    comparison = result.histogram("all/block/energy_ratio")
    figure = Figure()
    top, bottom = figure.subplots(2, 1, sharex=True)
    drawn = plot_histogram(comparison, top, bottom)
    assert drawn.ax is top and drawn.ratio_ax is bottom and drawn.ratio is not None
    assert np.allclose(drawn.candidate.get_data().values.sum() * np.diff(comparison.edges)[0], 1.0)  # unit area
    assert "S = " in top.get_title()
    alone = plot_histogram(comparison)  # ax=None: a new figure, no ratio
    assert alone.ratio is None and alone.ax.get_xlabel() == comparison.observable.axis_label()
    profile = plot_profile(result.profile("all/block/profile_z"), log_y=True)
    assert profile.ax.get_yscale() == "log" and len(profile.reference.lines[0].get_xdata()) == 3
    assert "AUC = 0.620" in plot_classifier(result.classifiers["high-level"]).ax.get_title()


def test_report_is_self_contained_and_every_image_resolves(report: Path, result: ValidationResult) -> None:
    assert report.name == "index.html"
    parser = _Page()
    parser.feed(report.read_text(encoding="utf-8"))
    pngs = sorted(report.parent.glob("*.png"))
    assert len(parser.images) == len(pngs) > 20
    for source, alt in parser.images:
        assert source.startswith("data:image/png;base64,"), alt
        assert base64.b64decode(source.split(",", 1)[1])[:8] == PNG_MAGIC, alt
    alts = {alt for _, alt in parser.images}
    assert {"classifier/high-level", "all/block/energy_ratio", "all/block/layer_energy", "all/block/profile_z"} <= alts
    text = " ".join(parser.text)
    assert "separation power" in parser.headers and "AUC" in parser.headers
    assert str(result.reference["path"]) in text and str(result.candidate["path"]) in text
    assert "FPD" in text and "KPD" in text and "0.62" in text


def test_linked_images_resolve_relative_to_the_page(tmp_path: Path, result: ValidationResult, report: Path) -> None:
    embedded = _Page()
    embedded.feed(report.read_text(encoding="utf-8"))
    images = {alt: report.parent / figure_name(alt) for _, alt in embedded.images}
    page = write_report(result, tmp_path / "linked", images, embed=False)  # links ../report/*.png
    parser = _Page()
    parser.feed(page.read_text(encoding="utf-8"))
    assert parser.images
    for source, _ in parser.images:
        assert not source.startswith(("data:", "/")) and (page.parent / source).read_bytes()[:8] == PNG_MAGIC
    html = render_report(result, {"all/block/energy": b"\x89PNG\r\n\x1a\nfake"}, title="<b>x</b>")
    assert "<title>&lt;b&gt;x&lt;/b&gt;</title>" in html and html.count("<img ") == 1


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _screenshot(page: Path, shot: Path, profile: Path) -> np.ndarray:
    """RGB pixels of ``page`` rendered by headless Chromium (flags as for a machine with no network)."""
    from PIL import Image

    assert CHROMIUM is not None
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                    f"--screenshot={shot}", "--window-size=1200,12000", page.as_uri()],
                   check=True, timeout=120, capture_output=True)
    assert shot.read_bytes()[:8] == PNG_MAGIC
    with Image.open(shot) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0


def _coloured_fraction(pixels: np.ndarray) -> float:
    """Share of pixels with a saturated colour: plot lines and fills; the page's text and tables are grey."""
    return float(np.mean(pixels.max(axis=2) - pixels.min(axis=2) > 0.3))  # 0.005 measured with the figures


@pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium on this machine (Debian package chromium)")
def test_report_renders_in_headless_chromium_with_its_plots(tmp_path: Path, report: Path) -> None:
    """The browser draws the embedded figures: the rendered page holds coloured plot pixels, and the same
    page with its images taken out holds none."""
    html = report.read_text(encoding="utf-8")
    bare = tmp_path / "bare.html"
    bare.write_text(html.replace('src="data:image/png', 'data-removed="data:image/png'), encoding="utf-8")
    with_plots = _coloured_fraction(_screenshot(report, tmp_path / "shot.png", tmp_path / "profile"))
    without = _coloured_fraction(_screenshot(bare, tmp_path / "bare.png", tmp_path / "profile"))
    assert without < 2e-4  # measured: 0.00005 (the links' blue)
    assert with_plots > 0.001, f"{with_plots:.4f} of the page is coloured: the figures did not render"
