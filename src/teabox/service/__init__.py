"""The HTTP service: parse, authenticate, call the platform, map its errors."""
