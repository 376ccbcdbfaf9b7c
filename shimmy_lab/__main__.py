"""``python -m shimmy_lab``: the same as the ``shimmy-lab`` command."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    main()
