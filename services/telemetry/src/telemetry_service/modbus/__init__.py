"""Modbus TCP polling of compressor controllers, with a register map per controller family."""
