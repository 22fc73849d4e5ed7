from compressor_kit.serve import run
from feedback_service.app import SERVICE

run(SERVICE)
