"""Who sees what in dispatch beyond the roles a route requires."""

from compressor_kit.auth import Role

# The office roles that see every job and every engineer's record; an engineer (role only) sees the
# jobs assigned to them and their own record.
OFFICE = frozenset({Role.DISPATCHER, Role.MANAGER, Role.ADMIN})
