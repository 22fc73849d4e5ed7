"""The console's own settings, on top of the kit's (same environment, extra variables).

Declared in the service definition (`settings_type`): the runtime holds them typed, as
`ConsoleRuntime.settings`.
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from compressor_kit.runtime import Runtime
from compressor_kit.settings import DEV_CLIENT_SECRET, Settings


class ConsoleSettings(Settings):
    console_public_url: str = Field(
        "http://127.0.0.1:8000",
        description="Where people reach the console; the redirect URI is this + /auth/callback, and the "
        "session cookie is Secure when it is https.",
    )
    console_client_id: str = Field("console", description="The console's client at the identity provider.")
    console_client_secret: SecretStr = Field(
        SecretStr(DEV_CLIENT_SECRET),
        description="The console client's secret; the local provider's development secret is refused in production.",
    )
    console_session_seconds: int = Field(
        12 * 3600, ge=60, le=7 * 24 * 3600, description="A session ends this long after sign-in at the latest."
    )
    console_live_keepalive_seconds: float = Field(
        15.0,
        gt=0,
        le=300,
        description="A live page hears from the console at least this often (a comment when nothing changed); "
        "its session is checked then, and the stream ends once the session has.",
    )
    scan_fault_reports_per_address_per_hour: int = Field(
        5, ge=1, le=1000, description="Fault reports one address may send from machines' label pages per hour."
    )
    scan_pages_per_address_per_minute: int = Field(
        30, ge=1, le=10_000, description="Requests one address may make to machines' label pages (/m/...) per minute."
    )
    intake_url: str = Field("http://127.0.0.1:8001", description="Intake's base URL.")
    dispatch_url: str = Field("http://127.0.0.1:8002", description="Dispatch's base URL.")
    maintenance_url: str = Field("http://127.0.0.1:8003", description="Maintenance's base URL.")
    quality_url: str = Field("http://127.0.0.1:8004", description="Quality's base URL.")
    reporting_url: str = Field("http://127.0.0.1:8005", description="Reporting's base URL (job timelines).")
    feedback_url: str = Field("http://127.0.0.1:8006", description="Feedback's base URL.")
    telemetry_url: str = Field(
        "http://127.0.0.1:8007", description="Telemetry's base URL (machines' controller readings)."
    )

    @property
    def redirect_uri(self) -> str:
        return self.console_public_url.rstrip("/") + "/auth/callback"

    @property
    def secure_cookies(self) -> bool:
        return self.console_public_url.startswith("https://")

    def check_production(self) -> None:
        if self.environment == "production":
            problems = []
            if self.console_client_secret.get_secret_value() == DEV_CLIENT_SECRET:
                problems.append("CONSOLE_CLIENT_SECRET is the local provider's development secret")
            if not self.secure_cookies:
                problems.append("CONSOLE_PUBLIC_URL must be https (the session cookie is Secure only then)")
            if problems:
                raise RuntimeError("refusing to start in production: " + "; ".join(problems))
        super().check_production()


ConsoleRuntime = Runtime[ConsoleSettings]
"""The running console: its handlers and jobs read `runtime.settings.<field>` typed."""
