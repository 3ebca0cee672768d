"""``python -m crawler.sandbox serve --accounts N --seed S --port P --faults 429=0.05``."""

import sys

from crawler.sandbox.cli import main

sys.exit(main())
