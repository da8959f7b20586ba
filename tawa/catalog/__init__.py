"""Reading ``catalog-info.yaml``: preflight checks and the TawaService spec.

:func:`read_catalog` / :func:`parse_catalog` check a file and return its
Components with the warnings, or raise :class:`CatalogError` holding every
problem of the file (errors and warnings), each with file, line, column and
field. :func:`render_service` turns one Component into the ``TawaService`` for
an environment. Nothing here raises anything but ``CatalogError``.

Decisions where the reference is silent or split (reference sections 2 and 8):

* **Which documents.** Only ``kind: Component`` is a service. A file without
  one is refused, naming the kinds it has. ``name`` picks one entity by
  ``metadata.name`` (refused if it is not a Component); without it, every
  Component in the file is checked, and rendering asks for a name when there
  are several.
* **Plain Backstage Components** (no ``insureco.io/`` annotations, like every
  file of the shared corpus) are accepted with warnings. The framework matters
  only for building an image (reference 2.4), so a missing
  ``insureco.io/framework`` is a warning: Tawa assumes a web service with the
  express defaults (port 3000, ``/health``) and :func:`render_service` refuses
  to render it without an image. ``spec.type`` containing ``library`` is an
  error (nothing to run); a missing ``spec.type`` or ``spec.lifecycle`` is a
  warning (Backstage needs them, Tawa does not).
* **Owner.** Always required: the owner org pays. A Backstage entity
  reference (``group:default/team-a``) is reduced to its name with a warning;
  the result must be an org slug.
* **Catalog versions.** An unversioned catalog is checked by the oldest rules
  (no health endpoint required); 0.2.0 requires ``insureco.io/health-endpoint``
  (except for workers) and refuses owner ``unknown`` (which we refuse in every
  version, as no org is called that); ``dependencies`` before 0.4.0 and
  ``tests`` before 0.5.0 are reported and ignored, not silently dropped. A
  version newer than 0.5.0 is checked by 0.5.0 rules, with a warning.
* **Routes.** ``methods`` defaults to every method and ``auth`` to
  ``required``: a route is closed unless the catalog opens it. ``gas``
  defaults to 0.
* **Names** are DNS labels of at most 53 characters (Helm's release-name
  limit); uppercase is refused with a suggestion, never lowered silently,
  because the name becomes the hostname.
* **YAML** is read with 1.2 core-schema scalars (``no`` stays a string), keys
  are compared as written, duplicate keys are errors, merge keys are honoured.
* Unknown fields anywhere we define the shape are warnings naming the closest
  known field; Backstage's own fields are accepted and ignored.
"""

from __future__ import annotations

from pathlib import Path

from tawa.catalog._checker import Checker
from tawa.catalog._yaml import Document, DuplicateHook, Mark, YamlProblem, load_documents
from tawa.catalog.parser import Component, check_component
from tawa.catalog.problems import CatalogError, FieldPath, Problem, Severity, field_name
from tawa.catalog.render import render_service
from tawa.catalog.rules import did_you_mean

__all__ = [
    "Catalog",
    "CatalogError",
    "Component",
    "Problem",
    "Severity",
    "parse_catalog",
    "read_catalog",
    "render_service",
]

DEFAULT_FILENAMES = ("catalog-info.yaml", "catalog-info.yml")
MAX_CATALOG_BYTES = 4 * 2**20
"""Ten times the largest catalog of the corpus (1,000 Components)."""


class Catalog:
    """The Components of one file that passed preflight, and its warnings."""

    def __init__(self, source: str, components: list[Component], warnings: list[Problem]):
        self.source = source
        self.components = components
        self.warnings = warnings

    def component(self, name: str | None = None) -> Component:
        """The one Component to render; ``name`` is needed when there are several."""
        if name is not None:
            for component in self.components:
                if component.name == name:
                    return component
        if name is None and len(self.components) == 1:
            return self.components[0]
        names = ", ".join(c.name for c in self.components[:10])
        more = f" and {len(self.components) - 10} more" if len(self.components) > 10 else ""
        what = f"no Component named {name!r}" if name else "several Components"
        raise CatalogError(
            [
                _file_problem(
                    self.source, f"{what} in this file; choose one with --name: {names}{more}"
                )
            ]
        )


def read_catalog(path: str | Path, *, name: str | None = None) -> Catalog:
    """Check the catalog at ``path`` (a file, or a folder holding catalog-info.yaml)."""
    target = Path(path)
    if target.is_dir():
        target = next(
            (target / f for f in DEFAULT_FILENAMES if (target / f).is_file()),
            target / DEFAULT_FILENAMES[0],
        )
    source = str(target)
    try:
        # Read at most one byte past the limit: /dev/zero or a 2 GB file must
        # not be loaded whole to find out it is no catalog.
        with target.open("rb") as stream:
            raw = stream.read(MAX_CATALOG_BYTES + 1)
    except OSError as exc:
        raise CatalogError(
            [_file_problem(source, f"cannot read the file: {exc.strerror}")]
        ) from None
    if len(raw) > MAX_CATALOG_BYTES:
        limit = f"{MAX_CATALOG_BYTES // 2**20} MiB"
        raise CatalogError(
            [_file_problem(source, f"is larger than {limit}, too large for a catalog")]
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        message = f"is not UTF-8 text (byte {exc.start} cannot be decoded)"
        raise CatalogError([_file_problem(source, message)]) from None
    return parse_catalog(text, source=source, name=name)


def parse_catalog(
    text: str, *, source: str = "catalog-info.yaml", name: str | None = None
) -> Catalog:
    """Check ``text``; raises :class:`CatalogError` with every problem if any is an error."""
    problems: list[Problem] = []
    try:
        documents = load_documents(text, on_duplicate=_duplicate_reporter(source, problems))
    except YamlProblem as exc:
        problems.append(
            Problem(
                Severity.ERROR,
                source,
                exc.mark.line,
                exc.mark.column,
                field_name(exc.path),
                exc.message,
                "yaml-syntax",
            )
        )
        raise CatalogError(_sorted(problems)) from None
    except (UnicodeError, ValueError) as exc:
        problems.append(_file_problem(source, f"cannot be read as YAML text: {exc}"))
        raise CatalogError(problems) from None

    components: list[Component] = []
    for document in _selected(documents, source=source, name=name, problems=problems):
        checker = Checker(document, source=source, problems=problems)
        component = check_component(checker)
        if component is not None:
            components.append(component)
    _check_names_are_unique(components, source=source, problems=problems)
    ordered = _sorted(problems)
    if any(p.severity is Severity.ERROR for p in ordered):
        raise CatalogError(ordered)
    return Catalog(source, components, ordered)


def _check_names_are_unique(
    components: list[Component], *, source: str, problems: list[Problem]
) -> None:
    """Two Components with one name would be one release: ``--name`` could not choose."""
    first: dict[str, Component] = {}
    for component in components:
        earlier = first.setdefault(component.name, component)
        if earlier is not component:
            problems.append(
                Problem(
                    Severity.ERROR,
                    source,
                    component.line,
                    component.column,
                    "metadata.name",
                    f"{component.name!r} is already the name of the Component on line"
                    f" {earlier.line}; give each Component its own name",
                    "catalog-duplicate-name",
                )
            )


def _selected(
    documents: list[Document], *, source: str, name: str | None, problems: list[Problem]
) -> list[Document]:
    """The documents to check as Components; records why when there are none."""
    entities = [d for d in documents if isinstance(d.data, dict)]
    if name is not None:
        named = [d for d in entities if _metadata(d).get("name") == name]
        if not named:
            found = ", ".join(sorted({str(_metadata(d).get("name")) for d in entities})[:10])
            problems.append(
                _file_problem(source, f"no entity named {name!r} here (found: {found})")
            )
            return []
        picked = [d for d in named if d.data.get("kind") == "Component"]
        if not picked:
            kind = named[0].data.get("kind")
            mark = named[0].mark(("kind",))
            message = f"{name!r} is a {kind}, not a Component: Tawa deploys Components only"
            problems.append(
                Problem(
                    Severity.ERROR,
                    source,
                    mark.line,
                    mark.column,
                    "kind",
                    message,
                    "catalog-no-component",
                )
            )
        return picked
    picked = [d for d in entities if d.data.get("kind") == "Component"]
    if not picked:
        kinds = sorted({str(d.data.get("kind")) for d in entities})
        hints = "".join(did_you_mean(k, ["Component"]) for k in kinds if k != "Component")
        found = f"it has {', '.join(kinds)}" if kinds else "it has no entities"
        problems.append(
            _file_problem(
                source,
                f"no Component in this file ({found}); Tawa deploys Backstage Components{hints}",
            )
        )
    return picked


def _metadata(document: Document) -> dict[str, object]:
    metadata = document.data.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _duplicate_reporter(source: str, problems: list[Problem]) -> DuplicateHook:
    def report(document: Document, path: FieldPath, first: Mark, second: Mark) -> None:
        message = (
            f"duplicate key {path[-1]!r} (first on line {first.line});"
            " YAML would keep only the last"
        )
        if len(path) == 1:
            message += ": is a '---' missing between two documents?"
        problems.append(
            Problem(
                Severity.ERROR,
                source,
                second.line,
                second.column,
                field_name(path),
                message,
                "yaml-duplicate-key",
            )
        )

    return report


def _file_problem(source: str, message: str) -> Problem:
    return Problem(Severity.ERROR, source, 1, 1, "", message, "catalog-file")


def _sorted(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.line, p.column))
