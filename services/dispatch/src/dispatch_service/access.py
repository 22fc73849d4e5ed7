"""Who sees what in dispatch beyond the roles a route requires."""

from compressor_contracts import StaffRole

# The office roles that see every job and every engineer's record; an engineer (role only) sees the
# jobs assigned to them and their own record.
OFFICE = frozenset({StaffRole.DISPATCHER, StaffRole.MANAGER, StaffRole.ADMIN})
