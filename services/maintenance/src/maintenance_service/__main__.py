from compressor_kit.serve import run
from maintenance_service.app import SERVICE

run(SERVICE)
