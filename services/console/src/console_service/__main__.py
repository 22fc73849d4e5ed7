"""`python -m console_service` serves the console."""

from compressor_kit.serve import run
from console_service.app import SERVICE

run(SERVICE)
