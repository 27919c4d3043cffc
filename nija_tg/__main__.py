import sys

from nija_tg.cli import main

sys.exit(main())
