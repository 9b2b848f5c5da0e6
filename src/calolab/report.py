"""The HTML report of a validation: one self-contained page with the metrics and every figure.

>>> result = run_validation("reference.h5", "candidate.h5")  # doctest: +SKIP
>>> write_report(result, "report/")                            # doctest: +SKIP
PosixPath('report/index.html')

The page holds the metadata of both files, the classifier AUCs and JSDs, FPD and KPD, a table
of separation powers and chi2 per observable, and the figures. Images are embedded as base64
``data:`` URIs by default, so ``index.html`` can be mailed or archived alone; with
``embed=False`` it links the PNG files beside it. Plain HTML and CSS, no scripts.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from calolab import __version__
from calolab.data.atomic import atomic_path
from calolab.errors import DatasetError

if TYPE_CHECKING:
    from calolab.validate.suite import ValidationResult

__all__ = ["render_report", "write_report"]

#: rows whose chi2 p-value is below this are highlighted
P_VALUE_ALERT = 0.01

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.5em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; } h3 { margin-top: 1.5em; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; vertical-align: top; }
th { background: #f3f3f3; } td.text, th.text { text-align: left; }
tr.alert td { background: #fde8e8; }
.figures { display: flex; flex-wrap: wrap; gap: 0.8em; }
figure { margin: 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.8em; color: #555; }
.note { color: #555; font-size: 0.9em; } pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; }
"""

_FILE_FIELDS = ("path", "n_events", "detector", "sections", "engine", "engine_version", "seed", "gun", "created",
                "calolab_version", "digitized")


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _number(value: float | None, digits: int = 3) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.{digits}g}"


def _cell(value: Any) -> str:
    if isinstance(value, dict | list):
        return f'<td class="text"><code>{_e(json.dumps(value))}</code></td>'
    return f'<td class="text">{_e("-" if value is None else value)}</td>'


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], text_columns: int = 1,
           classes: Sequence[str] | None = None) -> str:
    head = "".join(f'<th class="text">{_e(h)}</th>' if i < text_columns else f"<th>{_e(h)}</th>"
                   for i, h in enumerate(header))
    body = []
    for index, row in enumerate(rows):
        css = f' class="{classes[index]}"' if classes and classes[index] else ""
        body.append(f"<tr{css}>" + "".join(row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _td(value: str, text: bool = False) -> str:
    return f'<td class="text">{_e(value)}</td>' if text else f"<td>{_e(value)}</td>"


def _files(result: ValidationResult, labels: Sequence[str]) -> str:
    rows = [[_td(field, True), _cell(result.reference.get(field)), _cell(result.candidate.get(field))]
            for field in _FILE_FIELDS]
    return _table(["", labels[0], labels[1]], rows, text_columns=3)


def _metrics(result: ValidationResult) -> str:
    parts = []
    if result.classifiers:
        rows = [[_td(name, True), _td(f"{_number(c.auc, 4)} ± {_number(c.auc_error, 2)}"), _td(_number(c.jsd)),
                 _td(f"{c.n_train} / {c.n_val} / {c.n_test}"), _td(str(c.n_features)),
                 _td(f"{c.best_epoch} of {c.epochs}"), _td(f"{c.seconds:.1f}")]
                for name, c in result.classifiers.items()]
        parts.append(_table(["classifier", "AUC", "JSD (bits)", "events train / val / test", "inputs",
                             "best epoch", "seconds"], rows))
        parts.append('<p class="note">AUC 0.5 and JSD 0: the classifier cannot tell the samples apart. '
                     f"Seed {result.config.seed}.</p>")
    if result.fpd is not None or result.kpd is not None:
        rows = []
        for name, distance in (("FPD", result.fpd), ("KPD", result.kpd)):
            if distance is not None:
                rows.append([_td(name, True), _td(_number(distance.value, 4)), _td(_number(distance.error, 2))])
        parts.append(_table(["distance (high-level features)", "value", "error"], rows))
        parts.append(f'<p class="note">On {len(result.feature_names)} high-level features standardised with the '
                     "reference; FPD extrapolated to infinite sample size, KPD the median over batches "
                     "(Kansal et al., arXiv:2211.10295). 0 for identical distributions.</p>")
    if result.notes:
        parts.append("<ul>" + "".join(f'<li class="note">{_e(note)}</li>' for note in result.notes) + "</ul>")
    return "\n".join(parts) or "<p>No classifier test and no distances were computed.</p>"


def _metric_rows(rows: Sequence[Mapping[str, Any]], with_layer: bool) -> str:
    cells, classes = [], []
    for row in rows:
        p_value = row.get("p_value")
        alert = p_value is not None and math.isfinite(p_value) and p_value < P_VALUE_ALERT
        classes.append("alert" if alert else "")
        line = [_td(row["group"], True), _td(row["section"], True), _td(row["observable"], True)]
        if with_layer:
            line.append(_td("-" if row["layer"] is None else str(row["layer"])))
        line += [_td(_number(row["separation_power"])), _td(_number(row["separation_power_expected"], 2)),
                 _td(f"{_number(row['chi2'])} / {row['ndf']}"), _td(_number(p_value, 2))]
        cells.append(line)
    header = ["group", "section", "observable", *(["layer"] if with_layer else []), "separation power",
              "expected from statistics", "chi2 / ndf", "p-value"]
    return _table(header, cells, text_columns=3, classes=classes)


def _histogram_tables(result: ValidationResult) -> str:
    summary = result.summary()
    intro = ('<p class="note">Separation power S = 1/2 sum (h1 - h2)^2 / (h1 + h2) of the normalised histograms '
             "(0: identical, 1: disjoint), next to what two samples of one distribution show from statistics "
             "alone; chi2 of the two histograms with both statistical errors. Per-layer observables show their "
             f"worst layer. Rows with p-value below {P_VALUE_ALERT} are marked.</p>")
    every = [c.figures() for c in result.histograms
             if c.layer is not None]
    details = ""
    if every:
        details = ("<details><summary>every layer</summary>" + _metric_rows(every, with_layer=True) + "</details>")
    return intro + _metric_rows(summary, with_layer=True) + details


def _image_source(image: Path | bytes, embed: bool, folder: Path | None) -> str:
    if isinstance(image, bytes):
        return "data:image/png;base64," + base64.b64encode(image).decode("ascii")
    if embed:
        return "data:image/png;base64," + base64.b64encode(Path(image).read_bytes()).decode("ascii")
    if folder is not None:
        return Path(os.path.relpath(image, folder)).as_posix()
    return Path(image).as_posix()


def _figures(images: Mapping[str, Path | bytes], embed: bool, folder: Path | None) -> str:
    blocks: dict[str, list[str]] = {}
    for key, image in images.items():
        parts = key.split("/")
        heading = "classifier tests" if parts[0] == "classifier" else f"{parts[1]} section, {parts[0]}" \
            if len(parts) >= 3 else parts[0]
        source = _image_source(image, embed, folder)
        blocks.setdefault(heading, []).append(
            f'<figure><img src="{_e(source)}" alt="{_e(key)}"><figcaption>{_e(key)}</figcaption></figure>')
    return "\n".join(f"<h3>{_e(heading)}</h3><div class=\"figures\">{''.join(items)}</div>"
                     for heading, items in blocks.items())


def render_report(result: ValidationResult, images: Mapping[str, Path | bytes] | None = None, *,
                  embed: bool = True, folder: str | os.PathLike[str] | None = None, title: str | None = None,
                  labels: Sequence[str] = ("reference", "candidate")) -> str:
    """The report as HTML text.

    Args:
        result: the validation result.
        images: figure key -> PNG file or PNG bytes (as :func:`~calolab.validate.plots.write_validation_plots`
            returns), in display order.
        embed: embed PNG files as base64 (``True``) or link them relative to ``folder``.
        folder: where the page will live (for relative links).
        title: the page title (default: candidate vs reference file names).
        labels: names of the two samples.
    """
    ref_name = Path(str(result.reference.get("path", labels[0]))).name
    cand_name = Path(str(result.candidate.get("path", labels[1]))).name
    title = title or f"Validation: {cand_name} vs {ref_name}"
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    config = json.dumps(result.config.model_dump(mode="json"), indent=1)
    target = None if folder is None else Path(folder)
    sections = [
        f"<h1>{_e(title)}</h1>",
        f'<p class="note">calolab {_e(__version__)}, {_e(made)}; {result.n_reference} {_e(labels[0])} and '
        f"{result.n_candidate} {_e(labels[1])} events compared in {result.seconds:.1f} s. "
        "Numbers are also in figures.json.</p>",
        "<h2>Files</h2>", _files(result, labels),
        "<h2>Summary</h2>", _metrics(result),
        "<h2>Observables</h2>", _histogram_tables(result),
        "<h2>Figures</h2>", _figures(images or {}, embed, target) if images else "<p>No figures.</p>",
        "<h2>Configuration</h2>", f"<pre>{_e(config)}</pre>",
    ]
    body = "\n".join(sections)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{_e(title)}</title>\n'
            f"<style>{_STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


def write_report(result: ValidationResult, folder: str | os.PathLike[str],
                 images: Mapping[str, Path | bytes] | None = None, *, embed: bool = True,
                 title: str | None = None, labels: Sequence[str] = ("reference", "candidate"),
                 style: str | None = None) -> Path:
    """Write ``folder/index.html`` (atomically); draw the figures there first when ``images`` is ``None``.

    Args:
        result: the validation result.
        folder: the report folder (created if missing, parents included).
        images: figures already drawn (key -> PNG path or bytes); ``None`` draws them into ``folder``.
        embed: embed the images in the page (self-contained) or link the PNG files.
        title: the page title.
        labels: names of the two samples.
        style: mplhep style of figures drawn here.

    Returns:
        the path of ``index.html``.

    Raises:
        DatasetError: ``folder`` is an existing file.
    """
    target = Path(folder)
    if target.exists() and not target.is_dir():
        msg = f"report folder {target} is a file: give a folder for index.html and the figures"
        raise DatasetError(msg)
    target.mkdir(parents=True, exist_ok=True)
    if images is None:
        from calolab.validate.plots import write_validation_plots

        images = write_validation_plots(result, target, style=style, labels=labels)
    page = render_report(result, images, embed=embed, folder=target, title=title, labels=labels)
    path = target / "index.html"
    with atomic_path(path) as temporary:
        temporary.write_text(page, encoding="utf-8")
    return path
