from compressor_kit.service import run
from maintenance_service.app import SERVICE

run(SERVICE)
