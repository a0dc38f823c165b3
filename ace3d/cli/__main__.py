"""`python -m ace3d.cli`, as the `ace3d` console script."""

import sys

from ace3d.cli import main

sys.exit(main())
