from compressor_kit.service import run
from quality_service.app import SERVICE

run(SERVICE)
