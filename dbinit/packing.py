"""`dbinit archive FILE`: the migrations folder as one `.tar.gz`, the same bytes for the same files
(sorted, no time, owner or mode of the machine that made it), or as Helm values that ship it: the
files as text while they fit a ConfigMap, else the archive as `binaryData` (the chart mounts it and
points DBINIT_MIGRATIONS at it)."""
from __future__ import annotations

import base64
import gzip
import io
import json
import tarfile
from pathlib import Path
from typing import Iterable

from . import archive, files
from .errors import UsageError

# A ConfigMap holds at most 1 MiB, its keys and metadata included, and Helm keeps the values in its
# release Secret (1 MiB too) beside the manifest it rendered from them: past this, the archive.
PLAIN_TEXT_LIMIT = 768 * 1024


def _files(directory: Path) -> list[Path]:
    """What the folder holds for dbinit, dot files left out, by path."""
    return sorted(p for p in archive.files_under(directory)
                  if not any(part.startswith(".") for part in p.relative_to(directory).parts))


def packed(directory: Path, paths: list[Path]) -> bytes:
    """`paths` of the folder as a .tar.gz: sorted, every time 0, owner root, mode 0644 (folders 0755)."""
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as zipped, \
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar:
        folders: set[str] = set()
        for path in paths:
            name = path.relative_to(directory).as_posix()
            for parent in reversed(Path(name).parents[:-1]):
                if parent.as_posix() not in folders:
                    folders.add(parent.as_posix())
                    tar.addfile(_info(parent.as_posix() + "/", tarfile.DIRTYPE, 0o755, 0))
            data = archive.read_bytes(path)
            tar.addfile(_info(name, tarfile.REGTYPE, 0o644, len(data)), io.BytesIO(data))
    return out.getvalue()


def _info(name: str, kind: bytes, mode: int, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.mtime, info.uname, info.gname = kind, mode, size, 0, "", ""
    return info


def write(directory: Path, init: Path | None, target: Path) -> str:
    """The archive, or Helm values (a .yaml or .json name), written to `target` once the files are
    read as a run reads them; what was written, for the log."""
    files.discover(directory, init)
    paths = _files(directory)
    if target.name.endswith(archive.SUFFIXES):
        data = packed(directory, paths)
        target.write_bytes(data)
        return f"{len(paths)} files, {len(data)} bytes"
    if not target.name.endswith((".yaml", ".yml", ".json")):
        raise UsageError(f"archive: {target.name} is neither a .tar.gz (the archive) nor a .yaml (Helm values)")
    plain = {p.relative_to(directory).as_posix(): archive.read_bytes(p) for p in paths}
    flat = all("/" not in name for name in plain)  # a ConfigMap's keys are file names: no folders
    if flat and _text(plain.values()) and sum(len(k) + len(v) for k, v in plain.items()) <= PLAIN_TEXT_LIMIT:
        values: dict[str, object] = {"files": {name: data.decode("utf-8") for name, data in plain.items()}}
        said = f"{len(plain)} files as text"
    else:
        data = packed(directory, paths)
        values = {"archive": base64.b64encode(data).decode("ascii")}
        said = f"{len(plain)} files as a {len(data)}-byte archive (binaryData)"
    # JSON is YAML: helm install -f reads it.
    target.write_text(json.dumps({"migrations": values}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return said


def _text(contents: Iterable[bytes]) -> bool:
    """Whether every file is UTF-8 text, as a ConfigMap's data must be."""
    try:
        for data in contents:
            data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
