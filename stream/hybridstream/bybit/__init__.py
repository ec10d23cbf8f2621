"""Bybit v5 protocol: signing, message shapes and parsing shared by client and simulator."""
