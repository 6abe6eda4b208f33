"""dbinit's own licence, and the licence of every package the image installs held to the list the
documentation explains (docs/licences.md): a dependency under a new licence fails here first."""
from __future__ import annotations

import importlib.metadata
import re

from conftest import ROOT

PAGE = ROOT / "docs" / "licences.md"
# Free-text License fields seen in the lock's packages, as SPDX identifiers.
SPDX_OF_TEXT = {"3-Clause BSD License": "BSD-3-Clause"}
SPDX = re.compile(r"[A-Za-z0-9.+-]+")


def allowed() -> set[str]:
    """The first column of the page's table of licences."""
    text = PAGE.read_text()
    table = text[text.index("| licence |"):].split("\n\n")[0].splitlines()[2:]
    return {row.split("|")[1].strip() for row in table}


def locked() -> list[str]:
    return [line.split("==")[0] for line in (ROOT / "requirements.lock").read_text().splitlines()
            if re.match(r"[a-z0-9]", line)]


def declared(package: str) -> list[str]:
    """The SPDX identifiers of a package's licence, from its installed metadata; [] when it says
    none a reader can trust."""
    try:
        metadata = importlib.metadata.metadata(package)
    except importlib.metadata.PackageNotFoundError:
        return []
    expression = metadata.get("License-Expression") or SPDX_OF_TEXT.get(metadata.get("License") or "") or (
        metadata.get("License") or "")
    ids = [part for part in re.split(r"\s+(?:AND|OR|WITH)\s+|[()]", expression) if part.strip()]
    return ids if ids and all(SPDX.fullmatch(i) for i in ids) else []


def test_dbinit_is_under_apache_2_with_its_licence_text_and_notice():
    metadata = importlib.metadata.metadata("dbinit")
    assert metadata["License-Expression"] == "Apache-2.0"
    assert {"LICENSE", "NOTICE"} <= set(metadata.get_all("License-File") or [])
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License\n                           Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text


def test_every_package_the_image_installs_has_a_licence_the_documentation_explains():
    permitted = allowed()
    assert {"Apache-2.0", "GPL-3.0-or-later", "LGPL-3.0-only"} <= permitted
    unknown = [p for p in locked() if not declared(p)]
    assert not unknown, f"no licence a reader can trust in these packages' metadata: {unknown}"
    outside = {p: ids for p in locked() if (ids := [i for i in declared(p) if i not in permitted])}
    assert not outside, f"licences docs/licences.md does not list (add them there, and why): {outside}"


def test_the_page_lists_no_licence_nothing_has():
    used = {i for p in [*locked(), "dbinit"] for i in declared(p)}
    assert allowed() <= used, "a licence in docs/licences.md that no package has: remove it"
