"""``python -m sandbox --host 127.0.0.1 --port 8081 [--no-flood-limits]``"""

import sys

from .server import main

if __name__ == "__main__":
    sys.exit(main())
