from compressor_kit.service import run
from dispatch_service.app import SERVICE

run(SERVICE)
