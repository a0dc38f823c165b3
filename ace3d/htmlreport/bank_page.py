"""The bank report: what `build-bank` found, per class, as a gallery a person can look through. Each concept
shows its example supervoxels (animated when videos are given to find them again, else the bank's stills),
its TCAV score, its raw and corrected p-values and whether it is significant."""

from __future__ import annotations

import numpy as np

from ace3d.htmlreport import media
from ace3d.htmlreport.page import document, esc, fmt_p, table
from ace3d.method.bank import ConceptBank


def _card(bank: ConceptBank, k: int, examples: list[np.ndarray] | None) -> str:
    sig = bool(bank.significant()[k])
    if examples:
        pics = "".join(f'<img src="{media.gif_uri(a)}" alt="example {i + 1} of {esc(bank.names[k])}, animated">'
                       for i, a in enumerate(examples))
        kind = "animated"
    else:
        stills = [t for t in bank.thumbnails[k] if t.any()]  # all-black: padding for a concept with few members
        pics = "".join(f'<img src="{media.png_uri(t)}" alt="example {i + 1} of {esc(bank.names[k])}">'
                       for i, t in enumerate(stills))
        kind = "still"
    badge = '<span class="badge sig">significant</span>' if sig else '<span class="badge ns">not significant</span>'
    return (f'<div class="concept{"" if sig else " ns"}" data-name="{esc(bank.names[k])}" data-examples="{kind}">'
            f'<div class="name"><span>{esc(bank.names[k].split("/", 1)[-1])}</span>{badge}</div>'
            f'<div class="examples">{pics}</div><dl>'
            f'<dt>TCAV score</dt><dd>{bank.tcav[k]:.2f} ± {bank.tcav_std[k]:.2f}</dd>'
            f'<dt>p (raw)</dt><dd>{fmt_p(float(bank.p_raw[k]))}</dd>'
            f'<dt>p ({esc(bank.meta.get("correction", "corrected"))})</dt><dd>{fmt_p(float(bank.p_corrected[k]))}</dd>'
            f'<dt>supervoxels / videos</dt><dd>{int(bank.members[k])} / {int(bank.videos[k])}</dd></dl></div>')


def render(bank: ConceptBank, examples: dict[int, list[np.ndarray]] | None = None, source: str = "") -> str:
    """The whole bank report as one HTML document. `examples`: bank row -> animations (examples.find_examples);
    rows without any show the bank's stills."""
    examples = examples or {}
    m, sig = bank.meta, bank.significant()
    model = m.get("model", {})
    classes = [c for c in bank.class_names if len(bank.concepts_of(bank.class_names.index(c)))]
    body = [f"<h1>Concept bank <code>{esc(bank.bank_id)}</code></h1>",
            f'<p class="meta">{esc(source)} · model <code>{esc(model.get("name", "?"))}</code> '
            f'(fingerprint <code>{esc(model.get("fingerprint", "?"))}</code>), layer <code>{esc(model.get("layer"))}'
            f'</code>, clip {esc(" x ".join(str(d) for d in model.get("clip_shape", [])))} · features '
            f'<code>{esc(bank.feature_mode)}</code> · {len(bank.names)} concepts, {int(sig.sum())} significant at '
            f'alpha {bank.alpha:g} ({esc(m.get("test", "t-test"))}, {esc(m.get("correction", ""))} correction over '
            f'all concepts) · {esc(m.get("n_random_sets", "?"))} random sets · built in '
            f'{esc(m.get("build_seconds", "?"))} s</p>',
            '<p class="note">Each concept is a cluster of supervoxels (space-time segments) that recurs across the '
            "class's videos. TCAV score: the share of the class's videos whose class logit rises along the "
            "concept's direction (mean ± std over random sets). A concept is significant when its TCAV scores "
            "differ from those of random directions (two-sided test, corrected p-value at most alpha): above 0.5 "
            "the concept raises the class logit, below 0.5 it lowers it. "
            + ("Examples are animated: supervoxels nearest each concept, found again in the given videos."
               if examples else "Examples are the bank's stills (each supervoxel's middle frame); give "
               "<code>--data DIR</code> to see them move.") + "</p>"]
    rows = []
    for c in classes:
        ks = bank.concepts_of(bank.class_names.index(c))
        rows.append([f'<a href="#class-{esc(c)}">{esc(c)}</a>', str(len(ks)), str(int(sig[ks].sum())),
                     f"{float(bank.tcav[ks].max()):.2f}"])
    body.append(table(["class", "concepts", "significant", "best TCAV"], rows))
    for c in classes:
        ks = bank.concepts_of(bank.class_names.index(c))
        ks = sorted(ks, key=lambda k: (not sig[k], -float(bank.tcav[k])))  # significant first, by TCAV
        body.append(f'<h2 id="class-{esc(c)}">{esc(c)} <span class="meta">· {len(ks)} concepts, '
                    f'{int(sig[ks].sum())} significant</span></h2>')
        body.append('<div class="gallery">' + "".join(_card(bank, int(k), examples.get(int(k))) for k in ks)
                    + "</div>")
    return document(f"ace3d bank {bank.bank_id}", body)
