from compressor_kit.serve import run
from quality_service.app import SERVICE

run(SERVICE)
