from compressor_kit.serve import run
from dispatch_service.app import SERVICE

run(SERVICE)
