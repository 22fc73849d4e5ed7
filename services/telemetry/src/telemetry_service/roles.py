"""Who may call telemetry's routes."""

from compressor_contracts import StaffRole

STAFF = (StaffRole.RECEPTION, StaffRole.DISPATCHER, StaffRole.ENGINEER, StaffRole.MANAGER, StaffRole.ADMIN)
MANAGEMENT = (StaffRole.MANAGER, StaffRole.ADMIN)
