from compressor_kit.service import run
from intake_service.app import SERVICE

run(SERVICE)
