"""``python -m fivecore.nf.upf --config FILE``."""

import sys

from fivecore.nf.upf.app import main

sys.exit(main())
