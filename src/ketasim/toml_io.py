"""Reading the project's TOML files with errors that name the file (one place for every loader)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from ketasim.errors import KetasimError


def read_toml(path: str | Path, argument: str, what: str = "file") -> dict[str, Any]:
    """Parse ``path``; a missing file or bad TOML is a :class:`KetasimError` naming it."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise KetasimError(f"no such {what}: {path}", argument=argument) from None
    except IsADirectoryError:
        raise KetasimError(f"{path} is a directory, not a {what}", argument=argument) from None
    except PermissionError:
        raise KetasimError(f"cannot read {path} (permission denied)", argument=argument) from None
    except UnicodeDecodeError as exc:
        raise KetasimError(
            f"not UTF-8 text (byte {exc.start})", argument=str(path), fix="save the file as UTF-8"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise KetasimError(f"not valid TOML ({exc})", argument=str(path)) from None
