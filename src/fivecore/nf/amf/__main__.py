"""``python -m fivecore.nf.amf --config FILE``."""

import sys

from fivecore.nf.amf.app import main

sys.exit(main())
