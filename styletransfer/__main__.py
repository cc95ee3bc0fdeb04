"""``python -m styletransfer``: see :mod:`styletransfer.cli`."""

import sys

from .cli import main

sys.exit(main())
