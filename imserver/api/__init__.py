"""imserver's OpenIM-compatible HTTP API: one router module per OpenIM route group."""
