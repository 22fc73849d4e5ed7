from compressor_kit.service import run
from reporting_service.app import SERVICE

run(SERVICE)
