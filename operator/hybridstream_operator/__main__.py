"""``python -m hybridstream_operator``."""

import sys

from hybridstream_operator.cli import main

sys.exit(main())
