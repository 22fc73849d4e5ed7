"""`python -m reporting_service` serves the service;
`python -m reporting_service restore <backup-id> --into <database>` restores a backup;
`python -m reporting_service release-held <database>` releases the outbox events a restore held."""

import sys

from compressor_kit.serve import run
from reporting_service.app import SERVICE

if len(sys.argv) > 1 and sys.argv[1] == "restore":
    from reporting_service.backups.restore import main

    sys.exit(main(sys.argv[2:], SERVICE.settings_from(None)))

if len(sys.argv) > 1 and sys.argv[1] == "release-held":
    from reporting_service.backups.restore import release_main

    sys.exit(release_main(sys.argv[2:], SERVICE.settings_from(None)))

run(SERVICE)
