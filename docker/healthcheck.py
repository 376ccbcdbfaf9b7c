"""The image's HEALTHCHECK: exit 0 when ``GET /health`` answers 200 on this container.

No curl in a slim image, so the image's own Python asks. The port is ``$SHIMMY_PORT``
(default 11435); tests/test_deploy.py runs this script against a served process.
"""

import os
import sys
import urllib.request


def main() -> int:
    port = os.environ.get("SHIMMY_PORT", "11435")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=3) as response:
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"health check failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
