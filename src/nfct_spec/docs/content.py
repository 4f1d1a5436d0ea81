"""The document's content as Markdown: chapters with property markers expanded, the property
catalogue with expected and observed verdicts, the matrix, the claims table, and one page per
kernel version with the functions modelled and the abstractions taken.

Markers: `{{prop:ID}}` in a chapter becomes a link to the property; an unknown id is an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from nfct_spec.models.observers import Ghost, Record, Seen
from nfct_spec.models.registry import ACTIONS, Action, actions_for
from nfct_spec.models.sourcedoc import docstring
from nfct_spec.models.state import Call, Conntrack, Kernel, Message, Socket
from nfct_spec.models.variants import MODELLED
from nfct_spec.proofs.aux_plans import carriers
from nfct_spec.spec.auxiliary import AUXILIARY
from nfct_spec.spec.catalogue import BY_ID, CATALOGUE, Property
from nfct_spec.spec.claims import CLAIMS
from nfct_spec.spec.fairness import FAIRNESS, READS_BEFORE_RETRIES
from nfct_spec.spec.premises import PREMISES, SHOWN_IN, UNCONDITIONAL, docstring_summary

MARKER = re.compile(r"\{\{prop:([a-z0-9-]+)\}\}")
VARIANTS = tuple(MODELLED)


class DocError(ValueError):
    """The document cannot be generated; the message says why, in one line."""


@dataclass(frozen=True)
class Page:
    """One page of the document: a file stem, a title and its Markdown."""

    stem: str
    title: str
    markdown: str


Results = dict[tuple[str, str, str], dict[str, Any]]


def index_results(doc: dict[str, Any]) -> Results:
    """Results keyed by (property, variant, engine)."""
    out: Results = {}
    for r in doc.get("results", []):
        out[(str(r["property"]), str(r["variant"]), str(r["engine"]))] = r
    return out


def _prop_link(prop_id: str) -> str:
    return f"[`{prop_id}`](properties.md#{prop_id})"


def expand_markers(text: str, where: str) -> str:
    """Replace `{{prop:ID}}` by a link; DocError naming `where` for an unknown id."""

    def link(match: re.Match[str]) -> str:
        prop_id = match.group(1)
        if prop_id not in BY_ID:
            raise DocError(f"{where}: unknown property id {prop_id!r} in a {{{{prop:...}}}} marker")
        return _prop_link(prop_id)

    return MARKER.sub(link, text)


def chapters() -> list[Page]:
    """The prose chapters of spec/chapters, in file-name order, markers expanded."""
    folder = resources.files("nfct_spec.spec").joinpath("chapters")
    pages = []
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if not item.name.endswith(".md"):
            continue
        text = expand_markers(item.read_text(encoding="utf-8"), f"chapter {item.name}")
        title = text.splitlines()[0].lstrip("# ").strip()
        pages.append(Page(item.name.removesuffix(".md"), title, text))
    return pages


def _observed(results: Results, prop: Property, variant: str) -> list[dict[str, Any]]:
    return [r for (p, v, _), r in sorted(results.items()) if p == prop.id and v == variant]


def _cell(results: Results, prop: Property, variant: str) -> str:
    observed = _observed(results, prop, variant)
    if not observed:
        return prop.expected.get(variant, "n/a")
    parts = []
    for r in observed:
        mark = (
            "ok"
            if r["as_expected"]
            else ("unknown" if r["verdict"] == "unknown" else "NOT AS EXPECTED")
        )
        parts.append(f"{r['expected']} / {r['engine']}: {r['verdict']} ({mark})")
    return "<br>".join(parts)


def matrix(results: Results) -> str:
    """The property x variant matrix: expected verdict and each engine's verdict."""
    lines = [
        "| property | kind | " + " | ".join(VARIANTS) + " |",
        "|---|---|" + "---|" * len(VARIANTS),
    ]
    for prop in CATALOGUE:
        cells = [_cell(results, prop, v) for v in VARIANTS]
        lines.append(f"| {_prop_link(prop.id)} | {prop.kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def readme_table() -> str:
    """The expected-verdict table of the README (from the catalogue alone)."""
    lines = [
        "| property | kind | " + " | ".join(VARIANTS) + " | statement |",
        "|---|---|" + "---|" * len(VARIANTS) + "---|",
    ]
    for prop in CATALOGUE:
        if prop in AUXILIARY:
            continue
        cells = " | ".join(prop.expected.get(v, "n/a") for v in VARIANTS)
        lines.append(f"| `{prop.id}` | {prop.kind} | {cells} | {prop.statement} |")
    lines += [
        "",
        "Auxiliary invariants of the proofs (catalogue entries too, checked by every engine):",
        "",
        "| invariant | " + " | ".join(VARIANTS) + " | statement |",
        "|---|" + "---|" * len(VARIANTS) + "---|",
    ]
    for prop in AUXILIARY:
        cells = " | ".join(prop.expected.get(v, "n/a") for v in VARIANTS)
        lines.append(f"| `{prop.id}` | {cells} | {prop.statement} |")
    return "\n".join(lines)


def _trace_links(results: Results, prop: Property) -> list[str]:
    links = []
    for (p, variant, engine), r in sorted(results.items()):
        if p == prop.id and r.get("trace"):
            stem = f"{variant}-{engine}-{prop.id}"
            links.append(
                f"- {variant}, {engine}: {r['verdict']} — [trace page](traces/{stem}.html), "
                f"[diagram](diagrams/{stem}.svg)\n\n"
                f"  ![{prop.id} on {variant}](diagrams/{stem}.svg)"
            )
    return links


def properties_page(results: Results) -> Page:
    """Every property with its source, fairness, expectations, verdicts, scope and traces."""
    out = ["# Properties", "", "Verdicts: expected (from the kernel code) / engine: observed.", ""]
    fair = {f.id: f for f in FAIRNESS}
    for prop in CATALOGUE:
        out += [
            f'<a id="{prop.id}"></a>',
            "",
            f"## {prop.id}",
            "",
            prop.statement,
            "",
            f"- kind: {prop.kind}",
            f"- source: {prop.source}",
        ]
        if prop.fairness:
            out.append(
                "- assumed fairness: "
                + "; ".join(f"`{f}` ({fair[f].statement})" for f in prop.fairness)
            )
        out += _premise_lines(prop)
        if prop.kind == "liveness":
            out.append(
                f"- the Z3 ranking proof assumes more: `{READS_BEFORE_RETRIES.id}` "
                f"({READS_BEFORE_RETRIES.statement})"
            )
        for variant in VARIANTS:
            out.append(
                f"- {variant}: expected **{prop.expected.get(variant, 'n/a')}** — "
                f"{prop.reasons.get(variant, '')}"
            )
            for r in _observed(results, prop, variant):
                out.append(f"  - {r['engine']}: {r['verdict']} ({r['scope']})")
        for override in prop.overrides:
            out.append(
                f"- with `{override.feature}` on {override.variant}: expected "
                f"**{override.verdict}** — {override.reason}"
            )
        links = _trace_links(results, prop)
        if links:
            out += ["", "Traces:", "", *links]
        out.append("")
    return Page("properties", "Properties", "\n".join(out))


def _premise_lines(prop: Property) -> list[str]:
    """What a `holds` or `no-witness` verdict of the entry is about (`spec/premises.py`)."""
    premise = PREMISES.get(prop.id)
    if premise is not None:
        return [
            f"- premise (reached by the `ci` suite's `{SHOWN_IN[prop.id]}`): "
            f"{docstring_summary(premise)}"
        ]
    if prop.id in UNCONDITIONAL:
        return [f"- premise: none; it {UNCONDITIONAL[prop.id]}"]
    return []


def auxiliary_page() -> Page:
    """The auxiliary invariants the Z3 induction needs, with the proofs that use them. They are
    catalogue entries (`spec/auxiliary.py`), so the properties page has their verdicts too."""
    out = [
        "# Auxiliary invariants",
        "",
        "Strengthenings that make the expected invariants inductive (terms in "
        "`proofs/invariants.py`, catalogue entries in `spec/auxiliary.py`). Each is proved "
        "inductive as a conjunct of the invariant of a proof that needs it, and every engine "
        "checks it like any other catalogue invariant.",
        "",
        "| id | statement | used by (variant: proof) |",
        "|---|---|---|",
    ]
    for prop in AUXILIARY:
        users = sorted(
            {
                f"{v}: {name}"
                for v in VARIANTS
                for name, conjuncts, _assumed in carriers(v)
                if prop.id in conjuncts
            }
        )
        out.append(f"| {_prop_link(prop.id)} | {prop.statement} | {', '.join(users) or '—'} |")
    return Page("auxiliary", "Auxiliary invariants", "\n".join(out))


def _claim_status(results: Results, props: Iterable[str], status: str) -> str:
    evidence = []
    for prop_id in props:
        for (p, v, engine), r in sorted(results.items()):
            if p == prop_id and v == "2.6.31":
                evidence.append(f"`{p}`: {r['verdict']} ({engine})")
    return status + (" — " + ", ".join(evidence) if evidence else "")


def claims_page(results: Results) -> Page:
    """Each sentence of the seed, the properties that formalise it, and its status."""
    out = [
        "# The seed's claims",
        "",
        "Each sentence of the message of commit dd7669a92c; the status is for 2.6.31, backed by "
        "the verdicts of the listed properties.",
        "",
        "| # | sentence | properties | status (evidence) | note |",
        "|---|---|---|---|---|",
    ]
    for i, claim in enumerate(CLAIMS, start=1):
        props = ", ".join(_prop_link(p) for p in claim.properties) or "—"
        status = _claim_status(results, claim.properties, claim.status)
        sentence = claim.sentence.replace("|", "\\|")
        out.append(f"| {i} | {sentence} | {props} | {status} | {claim.note} |")
    return Page("claims", "The seed's claims", "\n".join(out))


def _fields(cls: type) -> list[str]:
    """One line for a state record class (a NamedTuple): its docstring and its fields."""
    doc = " ".join(docstring(cls).split())
    fields: tuple[str, ...] = getattr(cls, "_fields", ())
    names = ", ".join(f"`{name}`" for name in fields)
    return [f"- **{cls.__name__}**: {doc} Fields: {names}."]


def _action_sections(actions: Sequence[Action]) -> list[str]:
    out: list[str] = []
    for action in actions:
        doc = "\n".join(line.strip() for line in action.doc.splitlines())
        out += [
            f"### `{action.name}` ({action.kind})",
            "",
            doc,
            "",
            "Modifies: " + ", ".join(f"`{m}`" for m in sorted(action.modifies)),
            "",
        ]
    return out


def kernel_page(variant: str) -> Page:
    """The functions modelled for one kernel version and the abstractions taken."""
    out = [f"# Linux {variant}: what is modelled", "", "## State", ""]
    for cls in (Kernel, Conntrack, Socket, Message, Ghost, Record, Seen):
        out += _fields(cls)
    out += ["", "## Actions", ""]
    out += _action_sections(actions_for(variant))
    steps = [a for a in ACTIONS if variant in a.variants and "atomic" not in a.granularities]
    if steps:
        out += ["## CPU-level steps (granularity smp)", ""]
        out += _fields(Call)
        out += ["", *_action_sections(steps)]
    return Page(f"kernel-{variant}", f"Linux {variant}", "\n".join(out))


def index_page(results: Results, run: dict[str, Any]) -> Page:
    """The overview: what the document is, the matrix, and where to read on."""
    chapter_links = "\n".join(f"- [{p.title}]({p.stem}.md)" for p in chapters())
    kernels = "\n".join(f"- [Linux {v}: functions modelled](kernel-{v}.md)" for v in VARIANTS)
    text = f"""# nfct-spec: reliable conntrack event delivery

An executable, checked specification of Linux's reliable conntrack event delivery (commit
dd7669a92c, Linux 2.6.31), compared with the kernel before it (2.6.30).

Results: `{run.get("command", "check")}` with profile `{run.get("profile", "?")}`, seed
`{run.get("seed", "?")}`, started {run.get("started", "?")}.

## Chapters

{chapter_links}
- [Properties](properties.md)
- [Auxiliary invariants of the proofs](auxiliary.md)
- [The seed's claims](claims.md)
- [History: the races that broke reliable delivery](history.md)
{kernels}

## Property x variant

{matrix(results)}
"""
    return Page("index", "nfct-spec", text)


def all_pages(results: Results, run: dict[str, Any]) -> list[Page]:
    """Every page of the document."""
    return [
        index_page(results, run),
        *chapters(),
        properties_page(results),
        auxiliary_page(),
        claims_page(results),
        *(kernel_page(v) for v in VARIANTS),
    ]


def readme_markers() -> tuple[str, str]:
    """The markers around the generated table in README.md."""
    return "<!-- BEGIN GENERATED: properties -->", "<!-- END GENERATED: properties -->"
