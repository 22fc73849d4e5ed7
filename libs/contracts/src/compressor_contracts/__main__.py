import sys

from compressor_contracts.cli import main

sys.exit(main())
