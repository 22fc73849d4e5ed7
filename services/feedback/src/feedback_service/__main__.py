from compressor_kit.service import run
from feedback_service.app import SERVICE

run(SERVICE)
