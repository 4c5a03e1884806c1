import sys

from swarmctl.main import main

sys.exit(main())
