from compressor_kit.serve import run
from intake_service.app import SERVICE

run(SERVICE)
