from compressor_kit.serve import run
from telemetry_service.app import SERVICE

run(SERVICE)
