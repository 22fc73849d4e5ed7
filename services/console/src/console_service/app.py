"""Composition root of the console: the staff's browser console, wired once."""

from pathlib import Path

from litestar.static_files import create_static_files_router

from compressor_kit import rate_limits
from compressor_kit.runtime import ServiceDefinition
from console_service.admin import api as admin_api
from console_service.board import api as board_api
from console_service.board import consumers as board_consumers
from console_service.board.store import INDEXES as BOARD_INDEXES
from console_service.dispatching import api as dispatching_api
from console_service.field import api as field_api
from console_service.forms.store import INDEXES as FORM_INDEXES
from console_service.inspection import api as inspection_api
from console_service.languages import in_readers_language
from console_service.machines import api as machines_api
from console_service.management import api as management_api
from console_service.management.store import INDEXES as MANAGEMENT_INDEXES
from console_service.portal import api as portal_api
from console_service.portal.store import INDEXES as PORTAL_INDEXES
from console_service.reception import api as reception_api
from console_service.reception import fault_reports as fault_reports_api
from console_service.repair import api as repair_api
from console_service.scan import api as scan_api
from console_service.security import with_security_headers
from console_service.sessions import api as sessions_api
from console_service.sessions.store import INDEXES as SESSION_INDEXES
from console_service.settings import ConsoleSettings
from console_service.signing import api as signing_api

STATIC = create_static_files_router(
    "/static", directories=[Path(__file__).parent / "static"], opt={"public": True}, include_in_schema=False
)

SERVICE = ServiceDefinition(
    name="console",
    default_port=8000,
    description="The staff's browser console and the customer portal: sign-in at the identity provider, the live job "
    "board and job pages, and each customer's own jobs, plans, reports and machines.",
    settings_type=ConsoleSettings,
    # Every page in the reader's language (console_service.languages); static files need none.
    # Every answer carries the security headers (console_service.security).
    route_handlers=with_security_headers(
        [
            *in_readers_language(
                [
                    sessions_api.login,
                    sessions_api.callback,
                    sessions_api.logout,
                    board_api.board,
                    board_api.job_page,
                    board_api.job_report,
                    board_api.live,
                    *reception_api.ROUTES,
                    *dispatching_api.ROUTES,
                    *field_api.ROUTES,
                    *repair_api.ROUTES,
                    *signing_api.ROUTES,
                    *inspection_api.ROUTES,
                    *management_api.ROUTES,
                    *admin_api.ROUTES,
                    *portal_api.ROUTES,
                    *scan_api.ROUTES,
                    *machines_api.ROUTES,
                    *fault_reports_api.ROUTES,
                ]
            ),
            STATIC,
        ]
    ),
    consumers=[board_consumers.consumers],
    indexes={
        **SESSION_INDEXES,
        **BOARD_INDEXES,
        **FORM_INDEXES,
        **MANAGEMENT_INDEXES,
        **PORTAL_INDEXES,
        **rate_limits.INDEXES,  # the scan page's limit per reporter address
    },
)
